"""Batch-level shapes shared by the queue and stream event sources.

* Partial batch response (``ReportBatchItemFailures``) for SQS, Kinesis and DynamoDB streams:
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html and
  https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
* Tumbling windows for Kinesis and DynamoDB streams (the members Lambda adds to the event, and the
  ``{"state": ..., "batchItemFailures": ...}`` response):
  https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, UnsetType, field

from ._base import EventStruct

__all__ = [
    "BatchItemFailure",
    "PartialBatchResponse",
    "TumblingWindow",
    "TumblingWindowFields",
    "TumblingWindowResponse",
]


class BatchItemFailure(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """One failed item of an SQS/Kinesis/DynamoDB partial batch response (``batchItemFailures[]``).

    ``item_identifier`` is the SQS ``messageId`` or the stream record's ``sequenceNumber``.
    """

    item_identifier: str


class PartialBatchResponse(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The handler response ``{"batchItemFailures": [{"itemIdentifier": ...}]}`` (ReportBatchItemFailures).

    An absent, ``null`` or empty list means the whole batch succeeded.
    """

    batch_item_failures: list[BatchItemFailure] | UnsetType | None = UNSET

    def failed_identifiers(self) -> list[str]:
        """The identifiers of the failed items, in order (empty when the whole batch succeeded)."""
        if isinstance(self.batch_item_failures, list):
            return [failure.item_identifier for failure in self.batch_item_failures]
        return []


class TumblingWindowResponse(PartialBatchResponse, frozen=True, kw_only=True):
    """A Kinesis/DynamoDB tumbling-window handler response: ``state`` plus optional failures."""

    state: dict[str, Any] | UnsetType = UNSET


class TumblingWindow(EventStruct, frozen=True, kw_only=True):
    """The ``window`` of a Kinesis/DynamoDB tumbling-window invocation (ISO-8601 ``start``/``end``)."""

    start: str
    end: str


class TumblingWindowFields(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """Members Lambda adds to a Kinesis/DynamoDB stream event when a tumbling window is configured."""

    window: TumblingWindow | UnsetType = UNSET
    state: dict[str, Any] | UnsetType = UNSET
    shard_id: str | UnsetType = UNSET
    event_source_arn: str | UnsetType = field(default=UNSET, name="eventSourceARN")
    is_final_invoke_for_window: bool | UnsetType = UNSET
    is_window_terminated_early: bool | UnsetType = UNSET
