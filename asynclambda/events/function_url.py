"""Lambda function URL requests and responses: API Gateway's payload format 2.0.

Shape: https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html (request and response
payloads).
"""

from __future__ import annotations

from .apigatewayv2 import APIGatewayProxyEventV2, APIGatewayProxyResponseV2

__all__ = ["LambdaFunctionUrlRequest", "LambdaFunctionUrlResponse"]


class LambdaFunctionUrlRequest(APIGatewayProxyEventV2, frozen=True, kw_only=True):
    """A Lambda function URL request (the HTTP API payload 2.0 shape)."""


class LambdaFunctionUrlResponse(APIGatewayProxyResponseV2, frozen=True, kw_only=True):
    """The structured response of a Lambda function URL handler (the payload 2.0 response shape)."""
