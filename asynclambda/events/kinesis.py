"""Amazon Kinesis Data Streams events, as Lambda's Kinesis event source mapping delivers them.

Shape: https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html (including the tumbling
window members, see :class:`~asynclambda.events.batch.TumblingWindowFields`).
"""

from __future__ import annotations

from msgspec import UNSET, UnsetType, field

from ._base import EventStruct, b64decode
from .batch import TumblingWindowFields

__all__ = ["KinesisEvent", "KinesisEventRecord", "KinesisRecord"]


class KinesisRecord(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The ``kinesis`` member of a Kinesis event record; ``data`` is the base64 text as sent."""

    kinesis_schema_version: str
    partition_key: str
    sequence_number: str
    data: str
    approximate_arrival_timestamp: float
    encryption_type: str | UnsetType = UNSET

    def decode_data(self) -> bytes:
        """The record's payload: ``data`` base64-decoded."""
        return b64decode(self.data, what="kinesis.data")


class KinesisEventRecord(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """One record of a Kinesis event (``Records[]``)."""

    kinesis: KinesisRecord
    event_source: str
    event_version: str
    event_id: str = field(name="eventID")
    event_name: str
    invoke_identity_arn: str
    aws_region: str
    event_source_arn: str = field(name="eventSourceARN")


class KinesisEvent(TumblingWindowFields, frozen=True, kw_only=True):
    """The event of a Kinesis Data Streams trigger: a batch of records from one shard."""

    records: list[KinesisEventRecord] = field(name="Records")
