"""Application Load Balancer requests to a Lambda target, and the target's responses.

Shape: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html and
https://docs.aws.amazon.com/lambda/latest/dg/services-alb.html
"""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from ._base import EventStruct
from ._http import body_bytes

__all__ = ["ALBRequestContext", "ALBTargetGroup", "ALBTargetGroupRequest", "ALBTargetGroupResponse"]


class ALBTargetGroup(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``requestContext.elb`` of an ALB request: the target group that routed it."""

    target_group_arn: str


class ALBRequestContext(EventStruct, frozen=True, kw_only=True):
    """``requestContext`` of an ALB request to a Lambda target."""

    elb: ALBTargetGroup


class ALBTargetGroupRequest(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """An Application Load Balancer request to a Lambda target (single- or multi-value headers)."""

    request_context: ALBRequestContext
    http_method: str
    path: str
    query_string_parameters: dict[str, str] | UnsetType = UNSET
    multi_value_query_string_parameters: dict[str, list[str]] | UnsetType = UNSET
    headers: dict[str, str] | UnsetType = UNSET
    multi_value_headers: dict[str, list[str]] | UnsetType = UNSET
    body: str
    is_base64_encoded: bool

    def body_bytes(self) -> bytes:
        """The request body as bytes (base64-decoded when ``isBase64Encoded``)."""
        return body_bytes(self.body, self.is_base64_encoded)


class ALBTargetGroupResponse(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The response of a Lambda target to an Application Load Balancer."""

    status_code: int
    status_description: str | UnsetType = UNSET
    headers: dict[str, str] | UnsetType = UNSET
    multi_value_headers: dict[str, list[str]] | UnsetType = UNSET
    body: str | UnsetType = UNSET
    is_base64_encoded: bool | UnsetType = UNSET

    def body_bytes(self) -> bytes:
        """The response body as bytes (base64-decoded when ``isBase64Encoded``; empty when absent)."""
        return body_bytes(self.body, self.is_base64_encoded)
