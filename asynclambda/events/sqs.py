"""Amazon SQS events, as Lambda's SQS event source mapping delivers them.

Shape: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (standard and FIFO examples).
The partial batch response is :class:`~asynclambda.events.batch.PartialBatchResponse`.
"""

from __future__ import annotations

from msgspec import UNSET, UnsetType, field

from ._base import EventStruct

__all__ = ["SQSEvent", "SQSMessageAttribute", "SQSRecord", "SQSRecordAttributes"]


class SQSMessageAttribute(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """One user-defined SQS message attribute (a ``messageAttributes`` value); binaries are base64."""

    data_type: str
    string_value: str | UnsetType | None = UNSET
    binary_value: str | UnsetType | None = UNSET
    string_list_values: list[str] | UnsetType = UNSET
    binary_list_values: list[str] | UnsetType = UNSET


class SQSRecordAttributes(EventStruct, frozen=True, kw_only=True, rename="pascal"):
    """The system ``attributes`` of an SQS record, including the FIFO and dead-letter ones."""

    approximate_receive_count: str
    sent_timestamp: str
    sender_id: str
    approximate_first_receive_timestamp: str
    aws_trace_header: str | UnsetType = field(default=UNSET, name="AWSTraceHeader")
    sequence_number: str | UnsetType = UNSET
    message_group_id: str | UnsetType = UNSET
    message_deduplication_id: str | UnsetType = UNSET
    dead_letter_queue_source_arn: str | UnsetType = UNSET


class SQSRecord(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """One message of an SQS event (``Records[]``)."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: SQSRecordAttributes
    message_attributes: dict[str, SQSMessageAttribute]
    md5_of_body: str
    md5_of_message_attributes: str | UnsetType | None = UNSET
    event_source: str
    event_source_arn: str = field(name="eventSourceARN")
    aws_region: str


class SQSEvent(EventStruct, frozen=True, kw_only=True):
    """The event of an Amazon SQS trigger: a batch of messages from one queue."""

    records: list[SQSRecord] = field(name="Records")
