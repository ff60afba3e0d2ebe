"""Helpers shared by the HTTP-shaped events (API Gateway, function URLs, ALB)."""

from __future__ import annotations

from msgspec import UnsetType

from ._base import b64decode

__all__ = ["body_bytes"]


def body_bytes(body: str | UnsetType | None, is_base64_encoded: bool | UnsetType) -> bytes:
    """The raw request/response body: base64-decoded when flagged so, UTF-8 encoded otherwise."""
    if not isinstance(body, str):
        return b""
    if is_base64_encoded is True:
        return b64decode(body, what="body")
    return body.encode()
