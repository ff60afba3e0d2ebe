"""Amazon API Gateway HTTP API events and responses in payload format 2.0.

Shape: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
(payload format version 2.0 request and response). Lambda function URLs use the same format, see
:mod:`asynclambda.events.function_url`.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, UnsetType, field

from ._base import EventStruct
from ._http import body_bytes
from .apigateway import APIGatewayClientCert

__all__ = [
    "APIGatewayProxyEventV2",
    "APIGatewayProxyResponseV2",
    "APIGatewayV2Authentication",
    "APIGatewayV2Authorizer",
    "APIGatewayV2CognitoIdentity",
    "APIGatewayV2HTTP",
    "APIGatewayV2IAMAuthorizer",
    "APIGatewayV2JWTAuthorizer",
    "APIGatewayV2RequestContext",
]


class APIGatewayV2HTTP(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``requestContext.http`` of a payload 2.0 request: method, path, protocol, caller."""

    method: str
    path: str
    protocol: str
    source_ip: str
    user_agent: str


class APIGatewayV2Authentication(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``requestContext.authentication`` of a payload 2.0 request (mutual TLS)."""

    client_cert: APIGatewayClientCert | UnsetType = UNSET


class APIGatewayV2JWTAuthorizer(EventStruct, frozen=True, kw_only=True):
    """``requestContext.authorizer.jwt`` of a payload 2.0 request: the JWT's claims and scopes."""

    claims: dict[str, Any]
    scopes: list[str] | UnsetType | None = UNSET


class APIGatewayV2CognitoIdentity(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The Cognito identity of an IAM-authorized payload 2.0 request."""

    amr: list[str]
    identity_id: str
    identity_pool_id: str


class APIGatewayV2IAMAuthorizer(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``requestContext.authorizer.iam`` of a payload 2.0 request: the signing IAM principal."""

    access_key: str
    account_id: str
    caller_id: str
    cognito_identity: APIGatewayV2CognitoIdentity | UnsetType | None = UNSET
    principal_org_id: str | UnsetType | None = UNSET
    user_arn: str
    user_id: str


class APIGatewayV2Authorizer(EventStruct, frozen=True, kw_only=True):
    """``requestContext.authorizer`` of a payload 2.0 request; ``lambda`` is the authorizer's context."""

    jwt: APIGatewayV2JWTAuthorizer | UnsetType = UNSET
    iam: APIGatewayV2IAMAuthorizer | UnsetType = UNSET
    lambda_: dict[str, Any] | UnsetType = field(default=UNSET, name="lambda")


class APIGatewayV2RequestContext(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``requestContext`` of a payload 2.0 request (HTTP API or function URL)."""

    account_id: str
    api_id: str
    authentication: APIGatewayV2Authentication | UnsetType | None = UNSET
    authorizer: APIGatewayV2Authorizer | UnsetType | None = UNSET
    domain_name: str
    domain_prefix: str
    http: APIGatewayV2HTTP
    request_id: str
    route_key: str | UnsetType = UNSET
    stage: str | UnsetType = UNSET
    time: str
    time_epoch: int


class APIGatewayProxyEventV2(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """An API Gateway HTTP API Lambda integration request, payload format version 2.0."""

    version: str
    route_key: str | UnsetType = UNSET
    raw_path: str
    raw_query_string: str
    cookies: list[str] | UnsetType = UNSET
    headers: dict[str, str] | UnsetType = UNSET
    query_string_parameters: dict[str, str] | UnsetType | None = UNSET
    path_parameters: dict[str, str] | UnsetType | None = UNSET
    stage_variables: dict[str, str] | UnsetType | None = UNSET
    request_context: APIGatewayV2RequestContext
    body: str | UnsetType | None = UNSET
    is_base64_encoded: bool

    def body_bytes(self) -> bytes:
        """The request body as bytes (base64-decoded when ``isBase64Encoded``; empty when absent)."""
        return body_bytes(self.body, self.is_base64_encoded)


class APIGatewayProxyResponseV2(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The structured response of an HTTP API (payload 2.0) Lambda integration handler."""

    status_code: int
    headers: dict[str, str] | UnsetType = UNSET
    cookies: list[str] | UnsetType = UNSET
    body: str | UnsetType | None = UNSET
    is_base64_encoded: bool | UnsetType = UNSET

    def body_bytes(self) -> bytes:
        """The response body as bytes (base64-decoded when ``isBase64Encoded``; empty when absent)."""
        return body_bytes(self.body, self.is_base64_encoded)
