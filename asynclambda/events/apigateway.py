"""Amazon API Gateway REST API proxy integration events (payload format 1.0) and responses.

Shape: https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
(input format of a Lambda function for proxy integration, and its output format).
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, UnsetType, field

from ._base import EventStruct
from ._http import body_bytes

__all__ = [
    "APIGatewayClientCert",
    "APIGatewayClientCertValidity",
    "APIGatewayProxyEvent",
    "APIGatewayProxyResponse",
    "APIGatewayRequestContext",
    "APIGatewayRequestIdentity",
]


class APIGatewayClientCertValidity(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The validity period of an API Gateway mutual-TLS client certificate."""

    not_before: str
    not_after: str


class APIGatewayClientCert(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The mutual-TLS client certificate of an API Gateway request (REST and HTTP APIs)."""

    client_cert_pem: str
    subject_dn: str = field(name="subjectDN")
    issuer_dn: str = field(name="issuerDN")
    serial_number: str
    validity: APIGatewayClientCertValidity


class APIGatewayRequestIdentity(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``requestContext.identity`` of an API Gateway REST proxy event: who called, from where."""

    access_key: str | UnsetType | None = UNSET
    account_id: str | UnsetType | None = UNSET
    api_key: str | UnsetType | None = UNSET
    api_key_id: str | UnsetType | None = UNSET
    caller: str | UnsetType | None = UNSET
    cognito_authentication_provider: str | UnsetType | None = UNSET
    cognito_authentication_type: str | UnsetType | None = UNSET
    cognito_identity_id: str | UnsetType | None = UNSET
    cognito_identity_pool_id: str | UnsetType | None = UNSET
    principal_org_id: str | UnsetType | None = UNSET
    source_ip: str | UnsetType = UNSET
    user: str | UnsetType | None = UNSET
    user_agent: str | UnsetType | None = UNSET
    user_arn: str | UnsetType | None = UNSET
    vpc_id: str | UnsetType | None = UNSET
    vpce_id: str | UnsetType | None = UNSET
    client_cert: APIGatewayClientCert | UnsetType | None = UNSET


class APIGatewayRequestContext(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``requestContext`` of an API Gateway REST proxy event; ``authorizer`` is authorizer-defined JSON."""

    account_id: str
    api_id: str
    authorizer: dict[str, Any] | UnsetType | None = UNSET
    domain_name: str | UnsetType = UNSET
    domain_prefix: str | UnsetType = UNSET
    extended_request_id: str | UnsetType = UNSET
    http_method: str
    identity: APIGatewayRequestIdentity
    operation_name: str | UnsetType = UNSET
    path: str
    protocol: str | UnsetType = UNSET
    request_id: str
    request_time: str | UnsetType = UNSET
    request_time_epoch: int | UnsetType = UNSET
    resource_id: str | UnsetType | None = UNSET
    resource_path: str
    stage: str


class APIGatewayProxyEvent(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """An API Gateway REST API (v1) Lambda proxy integration request."""

    version: str | UnsetType = UNSET
    resource: str
    path: str
    http_method: str
    headers: dict[str, str] | UnsetType | None = UNSET
    multi_value_headers: dict[str, list[str]] | UnsetType | None = UNSET
    query_string_parameters: dict[str, str] | UnsetType | None = UNSET
    multi_value_query_string_parameters: dict[str, list[str]] | UnsetType | None = UNSET
    path_parameters: dict[str, str] | UnsetType | None = UNSET
    stage_variables: dict[str, str] | UnsetType | None = UNSET
    request_context: APIGatewayRequestContext
    body: str | UnsetType | None = UNSET
    is_base64_encoded: bool | UnsetType = UNSET

    def body_bytes(self) -> bytes:
        """The request body as bytes (base64-decoded when ``isBase64Encoded``; empty when absent)."""
        return body_bytes(self.body, self.is_base64_encoded)


class APIGatewayProxyResponse(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The response of a REST API (v1) Lambda proxy integration handler."""

    status_code: int
    headers: dict[str, str] | UnsetType | None = UNSET
    multi_value_headers: dict[str, list[str]] | UnsetType | None = UNSET
    body: str | UnsetType | None = UNSET
    is_base64_encoded: bool | UnsetType = UNSET

    def body_bytes(self) -> bytes:
        """The response body as bytes (base64-decoded when ``isBase64Encoded``; empty when absent)."""
        return body_bytes(self.body, self.is_base64_encoded)
