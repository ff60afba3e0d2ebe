"""Streams with Amazon Kinesis Data Streams semantics: configuration, values, errors, interface.

A stream is split into shards; each shard owns an even slice of the 128-bit hash key space and a
record goes to the shard whose slice holds ``int(md5(partition_key))`` (or an explicit hash key).
Within a shard records keep their order and get strictly increasing sequence numbers. Readers take
a *shard iterator* (``TRIM_HORIZON``, ``LATEST``, ``AT_TIMESTAMP``, ``AT_SEQUENCE_NUMBER``,
``AFTER_SEQUENCE_NUMBER``) and page through the shard with ``get_records``, each page handing back
the next iterator. Records older than the retention period are trimmed.

Names, limits and defaults are Kinesis's (the Kinesis Data Streams Developer Guide and API
Reference); *ours* marks where this module goes further or chooses. DynamoDB Streams records ride
on the same interface (:mod:`asynclambda.sources.memory_table`).

**Sequence numbers** are 56-digit decimal strings (Kinesis's length): ``49`` followed by a
zero-padded stream-wide counter, so within a stream they compare the same numerically and as
strings, and they increase strictly per shard (and across the stream). Broker backends may use
another scheme but must keep: decimal, fixed length per stream, strictly increasing per shard.

**Waiting for records** (*ours*): Kinesis consumers poll ``GetRecords``. Here
:meth:`StreamBackend.wait_for_records` takes the iterator a poller would read next and returns
as soon as reading it would yield a record (or at the timeout), so pollers never spin. It is keyed
by the iterator rather than by a sequence number because a poller that started at ``LATEST`` has
no sequence number yet, and an iterator cannot miss a record put between a read and the wait.

Errors::

    AsyncLambdaError
     └── StreamError
          ├── StreamNotFound (LookupError)             Kinesis ResourceNotFoundException
          ├── ResourceInUseException                   a stream of that name exists
          ├── InvalidArgumentException (ValueError)    a bad parameter or iterator token
          └── ExpiredIteratorException (ValueError)    the iterator is over 5 minutes old
"""

from __future__ import annotations

import abc
import bisect
import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from asynclambda._resource import AsyncResource
from asynclambda.clock import RealClock
from asynclambda.errors import AsyncLambdaError, ConfigError
from asynclambda.types import Clock

__all__ = [
    "HASH_KEY_SPACE",
    "ITERATOR_TTL",
    "MAX_GET_RECORDS",
    "MAX_PUT_RECORDS",
    "MAX_RECORD_SIZE",
    "ExpiredIteratorException",
    "GetRecordsResult",
    "InvalidArgumentException",
    "IteratorType",
    "PutRecordsEntry",
    "PutResult",
    "ResourceInUseException",
    "Shard",
    "ShardIteratorType",
    "StreamBackend",
    "StreamConfig",
    "StreamError",
    "StreamNotFound",
    "StreamRecord",
    "StreamStatistics",
    "even_hash_key_ranges",
    "format_sequence_number",
    "hash_key_for",
    "parse_sequence_number",
    "shard_id_for",
    "shard_index_for_hash_key",
    "validate_put",
]

#: Hash keys are integers in ``range(HASH_KEY_SPACE)`` (128 bits, an MD5 digest).
HASH_KEY_SPACE = 2**128
#: A shard iterator expires 5 minutes after it is issued.
ITERATOR_TTL = 300.0
#: ``get_records`` returns at most 10000 records (and about 10 MiB) per call.
MAX_GET_RECORDS = 10_000
MAX_GET_BYTES = 10 * 1024 * 1024
#: ``put_records`` takes at most 500 entries; a record (data + partition key) is at most 1 MiB.
MAX_PUT_RECORDS = 500
MAX_RECORD_SIZE = 1024 * 1024

IteratorType = Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER",
                       "AFTER_SEQUENCE_NUMBER"]
#: The iterator types, for validation and iteration.
ShardIteratorType: tuple[IteratorType, ...] = (
    "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")

_STREAM_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_SEQUENCE_PREFIX = 49 * 10**54  # 56 digits, starting "49" as Kinesis's do
_SEQUENCE_DIGITS = 56


# -- errors ---------------------------------------------------------------------------------------
class StreamError(AsyncLambdaError):
    """Base class of the errors a stream backend raises."""


class StreamNotFound(StreamError, LookupError):
    """No such stream or shard (Kinesis's ``ResourceNotFoundException``)."""


class ResourceInUseException(StreamError):
    """A stream of this name already exists."""


class InvalidArgumentException(StreamError, ValueError):
    """A parameter is invalid: a bad partition key, size, sequence number, limit or iterator."""


class ExpiredIteratorException(StreamError, ValueError):
    """The shard iterator is older than 5 minutes (or its stream was deleted and re-created)."""


# -- configuration and values -------------------------------------------------------------------
class StreamConfig(msgspec.Struct, frozen=True):
    """A stream: ``name`` (1-128 chars of ``[A-Za-z0-9_.-]``), ``shard_count`` (1-10000; Kinesis's
    per-account shard quota is raisable, the cap here only catches typos) and
    ``retention_period_hours`` (24-8760, default 24)."""

    name: str
    shard_count: int = 1
    retention_period_hours: float = 24

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _STREAM_NAME.fullmatch(self.name):
            raise ConfigError("name", self.name, "a stream name is 1-128 characters of [A-Za-z0-9_.-]")
        count = self.shard_count
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
            raise ConfigError("shard_count", count, "must be an integer between 1 and 10000")
        hours = self.retention_period_hours
        ok = isinstance(hours, int | float) and not isinstance(hours, bool) and math.isfinite(hours)
        if not ok or not 24 <= hours <= 8760:
            raise ConfigError("retention_period_hours", hours, "must be between 24 and 8760 hours")

    @property
    def retention_seconds(self) -> float:
        """The retention period in seconds."""
        return float(self.retention_period_hours) * 3600.0


class StreamRecord(msgspec.Struct, frozen=True):
    """A record as ``get_records`` returns it. ``approximate_arrival_timestamp`` is wall-clock
    seconds since the epoch (from the backend's clock)."""

    sequence_number: str
    approximate_arrival_timestamp: float
    data: bytes
    partition_key: str
    shard_id: str
    explicit_hash_key: str | None = None


class PutResult(msgspec.Struct, frozen=True):
    """Where a put landed."""

    shard_id: str
    sequence_number: str


class PutRecordsEntry(msgspec.Struct, frozen=True):
    """One entry of ``put_records``."""

    data: bytes
    partition_key: str
    explicit_hash_key: str | None = None


class Shard(msgspec.Struct, frozen=True):
    """A shard: its id (``shardId-000000000000``), inclusive hash key range and sequence number
    range (``(starting, None)`` for an open shard)."""

    shard_id: str
    hash_key_range: tuple[int, int]
    sequence_number_range: tuple[str, str | None]


class GetRecordsResult(msgspec.Struct, frozen=True):
    """One page of a shard. ``next_shard_iterator`` continues after the last record returned
    (``None`` only for a closed shard, which these backends never have). ``millis_behind_latest``
    is how far (by arrival time) the first record not yet returned is behind the clock's wall time,
    0 when the reader has caught up."""

    records: list[StreamRecord]
    next_shard_iterator: str | None
    millis_behind_latest: int


class StreamStatistics(msgspec.Struct, frozen=True):
    """A snapshot of one stream. ``records_put == records_retained + records_trimmed``."""

    name: str
    shard_count: int
    records_put: int
    records_retained: int
    records_trimmed: int
    bytes_retained: int
    retained_per_shard: dict[str, int]


# -- routing, sequence numbers, validation (shared by every backend) -------------------------------
def hash_key_for(partition_key: str) -> int:
    """The partition key's hash key: its MD5 digest as a 128-bit big-endian integer."""
    return int.from_bytes(hashlib.md5(partition_key.encode(), usedforsecurity=False).digest(), "big")


def even_hash_key_ranges(shard_count: int) -> list[tuple[int, int]]:
    """Split the hash key space evenly, as Kinesis does on create: shard ``i`` starts at
    ``i * (2**128 // n)`` and the last shard ends at ``2**128 - 1``."""
    step = HASH_KEY_SPACE // shard_count
    starts = [i * step for i in range(shard_count)]
    ends = [start - 1 for start in starts[1:]] + [HASH_KEY_SPACE - 1]
    return list(zip(starts, ends, strict=True))


def shard_index_for_hash_key(starts: Sequence[int], hash_key: int) -> int:
    """The index of the shard whose range holds ``hash_key``, given the ranges' sorted starts."""
    return bisect.bisect_right(starts, hash_key) - 1


def shard_id_for(index: int) -> str:
    """Kinesis's shard id for the ``index``-th shard: ``shardId-000000000000``."""
    return f"shardId-{index:012d}"


def format_sequence_number(counter: int) -> str:
    """The 56-digit sequence number for a stream-wide counter value (see the module docstring)."""
    return str(_SEQUENCE_PREFIX + counter)


def parse_sequence_number(sequence_number: Any) -> int:
    """The counter value of a sequence number; :class:`InvalidArgumentException` if malformed."""
    if (not isinstance(sequence_number, str) or len(sequence_number) != _SEQUENCE_DIGITS
            or not sequence_number.isdecimal() or not sequence_number.isascii()):
        raise InvalidArgumentException(f"{sequence_number!r} is not a sequence number of this stream")
    counter = int(sequence_number) - _SEQUENCE_PREFIX
    if counter < 0:
        raise InvalidArgumentException(f"{sequence_number!r} is not a sequence number of this stream")
    return counter


def validate_put(data: Any, partition_key: Any, explicit_hash_key: Any) -> int:
    """Check one put as Kinesis does and return the hash key that routes it.

    ``data`` is bytes; ``partition_key`` 1-256 characters; data plus the UTF-8 partition key at
    most 1 MiB; ``explicit_hash_key`` a decimal string in ``0 .. 2**128 - 1``.
    """
    explicit = _check_put(data, partition_key, explicit_hash_key)
    return hash_key_for(partition_key) if explicit is None else explicit


def _check_put(data: Any, partition_key: Any, explicit_hash_key: Any) -> int | None:
    """:func:`validate_put`'s checks; returns the explicit hash key as an int, else ``None``
    (a backend with one shard needs no hash key: it skips the partition key's MD5)."""
    if not isinstance(data, bytes):
        raise InvalidArgumentException(f"data must be bytes, not {type(data).__name__}")
    if not isinstance(partition_key, str) or not 1 <= len(partition_key) <= 256:
        raise InvalidArgumentException(f"partition_key={partition_key!r} must be 1-256 characters")
    size = len(data) + len(partition_key.encode())
    if size > MAX_RECORD_SIZE:
        raise InvalidArgumentException(f"record of {size} bytes (data plus partition key) is over "
                                       f"the {MAX_RECORD_SIZE}-byte limit")
    if explicit_hash_key is None:
        return None
    if (not isinstance(explicit_hash_key, str) or not explicit_hash_key.isdecimal()
            or not explicit_hash_key.isascii() or int(explicit_hash_key) >= HASH_KEY_SPACE):
        raise InvalidArgumentException(f"explicit_hash_key={explicit_hash_key!r} must be a decimal "
                                       "string between 0 and 2**128 - 1")
    return int(explicit_hash_key)


# -- the backend interface ------------------------------------------------------------------------
class StreamBackend(AsyncResource, abc.ABC):
    """Named streams with Kinesis semantics. Subclass it for a broker; use ``async with``.

    Required: ``create_stream``, ``delete_stream``, ``put_record``, ``list_shards``,
    ``get_shard_iterator``, ``get_records``, ``statistics``. Supplied: ``put_records`` (a loop),
    ``wait_for_records`` (polls ``get_records`` on the clock with backoff; override with a native
    blocking read or a notification), ``aclose`` and ``async with``. Time (arrival timestamps,
    retention, iterator age, waits) should be read through :attr:`clock`.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else RealClock()

    @abc.abstractmethod
    async def create_stream(self, config: StreamConfig) -> None:
        """Create a stream with evenly split shards; :class:`ResourceInUseException` if it exists."""

    @abc.abstractmethod
    async def delete_stream(self, name: str) -> None:
        """Delete a stream and its records; waiting readers get :class:`StreamNotFound`."""

    @abc.abstractmethod
    async def put_record(self, stream: str, data: bytes, partition_key: str, *,
                         explicit_hash_key: str | None = None) -> PutResult:
        """Append a record to the shard its hash key routes to (see :func:`validate_put`)."""

    async def put_records(self, stream: str, entries: Sequence[PutRecordsEntry]) -> list[PutResult]:
        """Append up to 500 records, results in entry order. The default validates every entry
        before putting any."""
        if not 1 <= len(entries) <= MAX_PUT_RECORDS:
            raise InvalidArgumentException(f"put_records takes 1-{MAX_PUT_RECORDS} entries, "
                                           f"not {len(entries)}")
        for entry in entries:
            validate_put(entry.data, entry.partition_key, entry.explicit_hash_key)
        return [await self.put_record(stream, entry.data, entry.partition_key,
                                      explicit_hash_key=entry.explicit_hash_key)
                for entry in entries]

    @abc.abstractmethod
    async def list_shards(self, stream: str) -> list[Shard]:
        """The stream's shards, in hash key order."""

    @abc.abstractmethod
    async def get_shard_iterator(
        self,
        stream: str,
        shard_id: str,
        iterator_type: IteratorType,
        *,
        sequence_number: str | None = None,
        timestamp: float | None = None,
    ) -> str:
        """An opaque iterator token for a position in the shard.

        ``TRIM_HORIZON``: the oldest retained record. ``LATEST``: just after the newest record.
        ``AT_SEQUENCE_NUMBER`` / ``AFTER_SEQUENCE_NUMBER``: at or after ``sequence_number``.
        ``AT_TIMESTAMP``: the first record that arrived at or after ``timestamp`` (wall seconds);
        before the trim horizon means the trim horizon. A position inside trimmed data reads from
        the trim horizon, as Kinesis does (no error: Kinesis has no ``TrimmedDataAccessException``,
        DynamoDB Streams does).
        """

    @abc.abstractmethod
    async def get_records(self, iterator: str, *, limit: int = 100) -> GetRecordsResult:
        """Up to ``limit`` (1-10000) records from the iterator's position, and the next iterator.

        Iterators are immutable (reading one again gives the same page) and expire
        :data:`ITERATOR_TTL` seconds after they were issued (:class:`ExpiredIteratorException`).
        """

    async def wait_for_records(self, iterator: str, *, timeout: float) -> bool:
        """Wait until ``get_records(iterator)`` would return a record: ``True`` then, ``False``
        after ``timeout`` seconds of the clock. Reads nothing. An iterator that has already
        expired raises :class:`ExpiredIteratorException`; keep ``timeout`` well under
        :data:`ITERATOR_TTL` so the iterator is still good for the read that follows.

        This default polls ``get_records`` with backoff (50 ms to 1 s) on :attr:`clock`.
        """
        deadline = self.clock.now() + timeout
        delay = 0.05
        while True:
            result = await self.get_records(iterator, limit=1)
            if result.records:
                return True
            if result.next_shard_iterator is not None:
                iterator = result.next_shard_iterator  # keeps the token fresh while waiting
            now = self.clock.now()
            if now >= deadline:
                return False
            await self.clock.sleep(min(delay, deadline - now))
            delay = min(delay * 2, 1.0)

    @abc.abstractmethod
    async def statistics(self, stream: str) -> StreamStatistics:
        """A snapshot of the stream's counts."""

    async def aclose(self) -> None:
        """Release the backend's resources. Idempotent."""

