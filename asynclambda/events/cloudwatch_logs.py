"""Amazon CloudWatch Logs subscription filter events.

Shape: https://docs.aws.amazon.com/lambda/latest/dg/services-cloudwatchlogs.html and
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html (the ``awslogs.data``
member is base64 of the gzip-compressed JSON :class:`CloudWatchLogsDecodedData`).
"""

from __future__ import annotations

import base64
import gzip
import zlib

import msgspec
from msgspec import UNSET, UnsetType

from ._base import EventStruct, b64decode

__all__ = [
    "CloudWatchLogsData",
    "CloudWatchLogsDecodedData",
    "CloudWatchLogsEvent",
    "CloudWatchLogsLogEvent",
]


class CloudWatchLogsLogEvent(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """One log event of a CloudWatch Logs subscription payload (``logEvents[]``)."""

    id: str
    timestamp: int
    message: str
    extracted_fields: dict[str, str] | UnsetType = UNSET


class CloudWatchLogsDecodedData(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The decoded ``awslogs.data`` of a CloudWatch Logs subscription event."""

    message_type: str
    owner: str
    log_group: str
    log_stream: str
    subscription_filters: list[str]
    log_events: list[CloudWatchLogsLogEvent]
    policy_level: str | UnsetType = UNSET


class CloudWatchLogsData(EventStruct, frozen=True, kw_only=True):
    """The ``awslogs`` member of a CloudWatch Logs event: ``data`` is base64 of compressed JSON."""

    data: str

    def decode(self) -> CloudWatchLogsDecodedData:
        """Base64-decode, decompress (gzip, or zlib as some senders use) and parse ``data``."""
        compressed = b64decode(self.data, what="awslogs.data")
        try:
            # wbits 32 + MAX_WBITS: accept either a gzip or a zlib header.
            raw = zlib.decompress(compressed, zlib.MAX_WBITS | 32)
        except zlib.error as exc:
            raise ValueError(f"awslogs.data is not gzip or zlib compressed ({exc})") from None
        return msgspec.json.decode(raw, type=CloudWatchLogsDecodedData)


class CloudWatchLogsEvent(EventStruct, frozen=True, kw_only=True):
    """The event of a CloudWatch Logs subscription filter to Lambda."""

    awslogs: CloudWatchLogsData

    def decode(self) -> CloudWatchLogsDecodedData:
        """The decoded log data (see :meth:`CloudWatchLogsData.decode`)."""
        return self.awslogs.decode()

    @classmethod
    def from_decoded(cls, decoded: CloudWatchLogsDecodedData) -> CloudWatchLogsEvent:
        """The event CloudWatch Logs would send for ``decoded``: gzip, then base64."""
        compressed = gzip.compress(msgspec.json.encode(decoded), mtime=0)
        return cls(awslogs=CloudWatchLogsData(data=base64.b64encode(compressed).decode("ascii")))
