"""The in-memory :class:`~asynclambda.sources.stream.StreamBackend`: Kinesis semantics, no server.

Each shard keeps its records in arrays ordered by sequence number (records, counters, arrival
times) with a moving head: retention trims from the head, ``get_records`` bisects to its
position, so a read costs O(log n + page). Trimming is applied to a shard whenever it is used
(and to all shards by ``statistics``), as of the clock's ``now()``: a record is gone once the
retention period has passed since it arrived.
Arrival timestamps come from the clock's ``time()`` and never decrease within a stream.

Iterator tokens are URL-safe base64 of a msgpack tuple (stream, stream incarnation, shard,
position, issue time); a token from a deleted and re-created stream is expired.
``wait_for_records`` parks a future per waiting reader on its shard; a put to that shard wakes
them, a clock timer ends the wait.

Choices (*ours*): ``AT_SEQUENCE_NUMBER`` / ``AFTER_SEQUENCE_NUMBER`` reject a sequence number the
stream has not issued yet, or one that belongs to another shard while it is still retained; an
older one (trimmed) reads from the trim horizon. ``AT_TIMESTAMP`` resolves to a position when the
iterator is issued. ``iterator_ttl=None`` turns iterator expiry off.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import math
import uuid
from collections.abc import Sequence

import msgspec

from asynclambda.sources.stream import (
    ITERATOR_TTL,
    MAX_GET_BYTES,
    MAX_GET_RECORDS,
    MAX_PUT_RECORDS,
    ExpiredIteratorException,
    GetRecordsResult,
    InvalidArgumentException,
    IteratorType,
    PutRecordsEntry,
    PutResult,
    ResourceInUseException,
    Shard,
    StreamBackend,
    StreamConfig,
    StreamNotFound,
    StreamRecord,
    StreamStatistics,
    _check_put,
    even_hash_key_ranges,
    format_sequence_number,
    hash_key_for,
    parse_sequence_number,
    shard_id_for,
    shard_index_for_hash_key,
)
from asynclambda.types import Clock

__all__ = ["MemoryStreamBackend"]

_Token = tuple[str, str, int, int, float]  # stream, incarnation, shard index, position, issued at
_token_decoder = msgspec.msgpack.Decoder(_Token)
_token_encoder = msgspec.msgpack.Encoder()
_COMPACT_AT = 1024


class _Shard:
    """One shard's retained records. ``counters[i]`` is ``records[i]``'s sequence counter."""

    __slots__ = ("arrivals", "bytes", "counters", "head", "index", "info", "records",
                 "trimmed_through", "waiters")

    def __init__(self, index: int, info: Shard) -> None:
        self.index = index
        self.info = info
        self.records: list[StreamRecord] = []
        self.counters: list[int] = []
        self.arrivals: list[float] = []  # clock.now() at arrival, for retention
        self.head = 0
        self.bytes = 0
        self.trimmed_through = 0  # counter of the newest trimmed record
        self.waiters: dict[asyncio.Future[bool], None] = {}

    @property
    def retained(self) -> int:
        return len(self.records) - self.head

    def append(self, record: StreamRecord, counter: int, now: float) -> None:
        self.records.append(record)
        self.counters.append(counter)
        self.arrivals.append(now)
        self.bytes += len(record.data)
        if self.waiters:  # (no new dict per put when nobody waits)
            waiters, self.waiters = self.waiters, {}
            for fut in waiters:
                if not fut.done():
                    fut.set_result(True)

    def trim(self, cutoff: float) -> int:
        """Drop records that arrived at or before ``cutoff``; return how many."""
        start = head = self.head
        arrivals, records = self.arrivals, self.records
        while head < len(records) and arrivals[head] <= cutoff:
            self.bytes -= len(records[head].data)
            head += 1
        if head == start:
            return 0
        self.trimmed_through = self.counters[head - 1]
        self.head = head
        if head >= _COMPACT_AT and head * 2 >= len(records):
            del self.records[:head], self.counters[:head], self.arrivals[:head]
            self.head = 0
        return head - start

    def first_after(self, position: int) -> int:
        """Index of the first retained record with a counter above ``position``."""
        return bisect.bisect_right(self.counters, position, lo=self.head)

    def close(self) -> None:
        waiters, self.waiters = self.waiters, {}
        for fut in waiters:
            if not fut.done():
                fut.set_result(False)


class _Stream:
    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self.retention = config.retention_seconds  # (a property: computed once, not per put)
        self.incarnation = uuid.uuid4().hex
        self.counter = 0
        self.last_arrival = -math.inf
        self.records_put = 0
        self.records_trimmed = 0
        self.closed = False
        ranges = even_hash_key_ranges(config.shard_count)
        start = format_sequence_number(0)
        self.shards = [_Shard(i, Shard(shard_id_for(i), r, (start, None))) for i, r in enumerate(ranges)]
        self.by_id = {shard.info.shard_id: shard for shard in self.shards}
        self.starts = [r[0] for r in ranges]

    def trim(self, shard: _Shard, now: float) -> _Shard:
        """Apply retention to one shard (only shards in use pay for it); return the shard."""
        cutoff = now - self.retention
        if shard.head < len(shard.arrivals) and shard.arrivals[shard.head] <= cutoff:
            self.records_trimmed += shard.trim(cutoff)
        return shard

    def shard(self, shard_id: str) -> _Shard:
        shard = self.by_id.get(shard_id)
        if shard is None:
            raise StreamNotFound(f"shard {shard_id!r} not found in stream {self.config.name!r}")
        return shard


class MemoryStreamBackend(StreamBackend):
    """Streams held in this process, with Kinesis semantics, driven by ``clock``.

    ``iterator_ttl`` is how long an iterator stays valid (Kinesis: 5 minutes; ``None``: forever).
    """

    def __init__(self, *, clock: Clock | None = None, iterator_ttl: float | None = ITERATOR_TTL) -> None:
        super().__init__(clock=clock)
        self._iterator_ttl = iterator_ttl
        self._streams: dict[str, _Stream] = {}
        self._closed = False

    def _get(self, name: str) -> _Stream:
        stream = self._streams.get(name)
        if stream is None:
            state = " (the backend is closed)" if self._closed else ""
            raise StreamNotFound(f"stream {name!r} not found{state}")
        return stream

    async def create_stream(self, config: StreamConfig) -> None:
        if self._closed:
            raise StreamNotFound("the stream backend is closed")
        if config.name in self._streams:
            raise ResourceInUseException(f"stream {config.name!r} already exists")
        self._streams[config.name] = _Stream(config)

    async def delete_stream(self, name: str) -> None:
        stream = self._get(name)
        del self._streams[name]
        stream.closed = True
        for shard in stream.shards:
            shard.close()

    async def put_record(self, stream: str, data: bytes, partition_key: str, *,
                         explicit_hash_key: str | None = None) -> PutResult:
        target = self._streams.get(stream) or self._get(stream)
        hash_key = _check_put(data, partition_key, explicit_hash_key)
        return self._append(target, data, partition_key, explicit_hash_key, hash_key)

    async def put_records(self, stream: str, entries: Sequence[PutRecordsEntry]) -> list[PutResult]:
        target = self._get(stream)
        if not 1 <= len(entries) <= MAX_PUT_RECORDS:
            raise InvalidArgumentException(f"put_records takes 1-{MAX_PUT_RECORDS} entries, "
                                           f"not {len(entries)}")
        keys = [_check_put(e.data, e.partition_key, e.explicit_hash_key) for e in entries]
        return [self._append(target, e.data, e.partition_key, e.explicit_hash_key, key)
                for e, key in zip(entries, keys, strict=True)]

    def _append(self, stream: _Stream, data: bytes, partition_key: str,
                explicit_hash_key: str | None, hash_key: int | None) -> PutResult:
        """``hash_key``: the explicit one, or ``None`` for the partition key's."""
        now = self.clock.now()
        shards = stream.shards
        if len(shards) == 1:
            index = 0  # one shard holds every hash key: no MD5 of the partition key to route
        else:
            if hash_key is None:
                hash_key = hash_key_for(partition_key)
            index = shard_index_for_hash_key(stream.starts, hash_key)
        shard = stream.trim(shards[index], now)
        stream.counter += 1
        sequence_number = format_sequence_number(stream.counter)
        arrival = max(self.clock.time(), stream.last_arrival)
        stream.last_arrival = arrival
        shard_id = shard.info.shard_id
        record = StreamRecord(sequence_number, arrival, data, partition_key, shard_id, explicit_hash_key)
        shard.append(record, stream.counter, now)
        stream.records_put += 1
        return PutResult(shard_id, sequence_number)

    async def list_shards(self, stream: str) -> list[Shard]:
        return [shard.info for shard in self._get(stream).shards]

    async def get_shard_iterator(
        self,
        stream: str,
        shard_id: str,
        iterator_type: IteratorType,
        *,
        sequence_number: str | None = None,
        timestamp: float | None = None,
    ) -> str:
        target = self._get(stream)
        shard = target.trim(target.shard(shard_id), self.clock.now())
        position = self._position(target, shard, iterator_type, sequence_number, timestamp)
        return self._token(target, shard, position)

    def _position(self, stream: _Stream, shard: _Shard, iterator_type: str,
                  sequence_number: str | None, timestamp: float | None) -> int:
        """The counter after which the iterator reads."""
        if iterator_type == "TRIM_HORIZON":
            return 0
        if iterator_type == "LATEST":
            return stream.counter
        if iterator_type == "AT_TIMESTAMP":
            if (not isinstance(timestamp, int | float) or isinstance(timestamp, bool)
                    or not math.isfinite(timestamp)):
                raise InvalidArgumentException("AT_TIMESTAMP needs timestamp= (wall-clock seconds)")
            index = bisect.bisect_left(shard.records, timestamp, lo=shard.head,
                                       key=lambda r: r.approximate_arrival_timestamp)
            return shard.counters[index] - 1 if index < len(shard.records) else stream.counter
        if iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if sequence_number is None:
                raise InvalidArgumentException(f"{iterator_type} needs sequence_number=")
            counter = self._check_sequence_number(stream, shard, sequence_number)
            return counter - 1 if iterator_type == "AT_SEQUENCE_NUMBER" else counter
        raise InvalidArgumentException(f"unknown iterator_type={iterator_type!r}; one of "
                                       "TRIM_HORIZON, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, "
                                       "AFTER_SEQUENCE_NUMBER")

    @staticmethod
    def _check_sequence_number(stream: _Stream, shard: _Shard, sequence_number: str) -> int:
        counter = parse_sequence_number(sequence_number)
        if not 1 <= counter <= stream.counter:
            raise InvalidArgumentException(f"sequence number {sequence_number} was not issued by "
                                           f"stream {stream.config.name!r}")
        if counter > shard.trimmed_through:
            index = bisect.bisect_left(shard.counters, counter, lo=shard.head)
            if index == len(shard.counters) or shard.counters[index] != counter:
                raise InvalidArgumentException(f"sequence number {sequence_number} did not come "
                                               f"from shard {shard.info.shard_id}")
        return counter

    def _token(self, stream: _Stream, shard: _Shard, position: int) -> str:
        raw = _token_encoder.encode((stream.config.name, stream.incarnation, shard.index, position,
                                     self.clock.now()))
        return base64.urlsafe_b64encode(raw).decode()

    def _open(self, iterator: str) -> tuple[_Stream, _Shard, int]:
        try:
            name, incarnation, index, position, issued = _token_decoder.decode(
                base64.urlsafe_b64decode(iterator.encode()))
        except (AttributeError, ValueError, binascii.Error, msgspec.DecodeError):
            raise InvalidArgumentException(f"{iterator!r} is not a shard iterator") from None
        stream = self._get(name)
        if stream.incarnation != incarnation or not 0 <= index < len(stream.shards):
            raise ExpiredIteratorException(f"iterator belongs to a deleted stream {name!r}")
        ttl = self._iterator_ttl
        if ttl is not None and self.clock.now() - issued >= ttl:
            raise ExpiredIteratorException(f"iterator is older than {ttl:g} seconds")
        return stream, stream.trim(stream.shards[index], self.clock.now()), position

    async def get_records(self, iterator: str, *, limit: int = 100) -> GetRecordsResult:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_GET_RECORDS:
            raise InvalidArgumentException(f"invalid limit={limit!r}: must be between 1 and "
                                           f"{MAX_GET_RECORDS}")
        stream, shard, position = self._open(iterator)
        start = shard.first_after(position)
        end, size = start, 0
        stop = min(len(shard.records), start + limit)
        while end < stop:
            size += len(shard.records[end].data)
            if size > MAX_GET_BYTES and end > start:
                break
            end += 1
        records = shard.records[start:end]
        if end > start:
            position = shard.counters[end - 1]
        behind = 0
        if end < len(shard.records):
            lag = self.clock.time() - shard.records[end].approximate_arrival_timestamp
            behind = max(0, int(lag * 1000))
        return GetRecordsResult(records, self._token(stream, shard, position), behind)

    async def wait_for_records(self, iterator: str, *, timeout: float) -> bool:
        stream, shard, position = self._open(iterator)
        if shard.first_after(position) < len(shard.records):
            return True
        if timeout <= 0:
            return False
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        shard.waiters[fut] = None

        def expire() -> None:
            if not fut.done():
                fut.set_result(False)

        timer = self.clock.call_at(self.clock.now() + timeout, expire)
        try:
            woken = await fut
        finally:
            timer.cancel()
            shard.waiters.pop(fut, None)
        if stream.closed:
            raise StreamNotFound(f"stream {stream.config.name!r} was deleted while waiting")
        return woken

    async def statistics(self, stream: str) -> StreamStatistics:
        target = self._get(stream)
        now = self.clock.now()
        shards = [target.trim(shard, now) for shard in target.shards]
        return StreamStatistics(
            target.config.name, len(shards), target.records_put,
            sum(s.retained for s in shards), target.records_trimmed, sum(s.bytes for s in shards),
            {s.info.shard_id: s.retained for s in shards})

    async def aclose(self) -> None:
        self._closed = True
        streams, self._streams = self._streams, {}
        for stream in streams.values():
            stream.closed = True
            for shard in stream.shards:
                shard.close()

    def __repr__(self) -> str:
        return f"MemoryStreamBackend(streams={sorted(self._streams)!r})"
