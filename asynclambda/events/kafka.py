"""Apache Kafka events: Amazon MSK and self-managed Kafka event source mappings.

Shape: https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html and
https://docs.aws.amazon.com/lambda/latest/dg/with-kafka.html. ``records`` is keyed by
``"<topic>-<partition>"``; keys and values are base64, header values are arrays of byte values
(some producers send Java's signed bytes, -128..127).
"""

from __future__ import annotations

from collections.abc import Iterator

from msgspec import UNSET, UnsetType

from ._base import EventStruct, b64decode

__all__ = ["KafkaEvent", "KafkaRecord"]


class KafkaRecord(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """One Kafka record of an MSK or self-managed Kafka event."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: str
    key: str | UnsetType | None = UNSET
    value: str | None
    headers: list[dict[str, list[int]]]

    def decode_key(self) -> bytes | None:
        """The record key, base64-decoded; ``None`` for a record without a key."""
        return b64decode(self.key, what="Kafka record key") if isinstance(self.key, str) else None

    def decode_value(self) -> bytes | None:
        """The record value, base64-decoded; ``None`` for a tombstone (null value)."""
        return None if self.value is None else b64decode(self.value, what="Kafka record value")

    def decode_headers(self) -> list[tuple[str, bytes]]:
        """The headers as ``(name, value)`` pairs in order; signed byte values are read as unsigned."""
        return [
            (name, _header_bytes(name, value))
            for header in self.headers
            for name, value in header.items()
        ]


def _header_bytes(name: str, values: list[int]) -> bytes:
    bad = [byte for byte in values if not -128 <= byte <= 255]
    if bad:
        raise ValueError(f"Kafka header {name!r} holds values that are not bytes: {bad}")
    return bytes(byte & 0xFF for byte in values)


class KafkaEvent(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The event of an Amazon MSK or self-managed Apache Kafka trigger."""

    event_source: str
    event_source_arn: str | UnsetType = UNSET
    bootstrap_servers: str | UnsetType = UNSET
    records: dict[str, list[KafkaRecord]]

    def iter_records(self) -> Iterator[KafkaRecord]:
        """Every record of the batch, partition by partition (in the order of ``records``)."""
        for partition_records in self.records.values():
            yield from partition_records
