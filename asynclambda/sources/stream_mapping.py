"""The Kinesis / DynamoDB Streams event source mapping: ordered batches per shard, checkpoints.

Lambda's behaviour (Lambda Developer Guide, "Using Lambda with Kinesis Data Streams" and "... with
DynamoDB", their parameter pages, "Reporting batch item failures", "Tumbling windows"; API
``CreateEventSourceMapping``), and how it is built here:

* **Reading.** One reader per shard pages through it from the mapping's checkpoint (or
  ``starting_position``: ``TRIM_HORIZON``, ``LATEST``, or ``AT_TIMESTAMP`` with
  ``starting_position_timestamp``, Kinesis only), waking on new records (no spinning).
* **Order.** A shard is split into ``parallelization_factor`` (1-10) *lanes* by a stable hash of
  the partition key; each lane runs one batch at a time (its key is held in the mapping's
  :class:`~asynclambda.sources.keyed.KeyedLimiter`), so records of one partition key are
  processed in order while lanes run in parallel. A batch is up to ``batch_size`` (1-10000,
  default 100) records of one lane, gathered for up to ``maximum_batching_window`` (0-300 s),
  under the 6 MB payload limit.
* **Checkpoint.** The shard's checkpoint (a :class:`~asynclambda.sources.checkpoints.CheckpointStore`,
  keyed by the mapping's ``uuid``) moves to the highest sequence number below which every record
  read is done: processed, filtered out, or discarded. It never passes an unprocessed record.
* **Errors.** A failed batch is retried and its lane blocks until it succeeds. Retries: after a
  backoff (1 s doubling to 30 s, *ours*), up to ``maximum_retry_attempts`` (-1 = until the
  records expire from the stream, or 0-10000) and while records are younger than
  ``maximum_record_age`` (-1, or 60-604800 s). ``bisect_batch_on_function_error`` splits a failed
  batch in two (does not count as a retry) until the bad record is alone. With
  ``report_batch_item_failures`` the records before the lowest failed sequence number are done
  and the rest is retried (with bisection: retried without counting a retry). Records that run
  out of retries or age are discarded: the on-failure destination gets Lambda's batch-info record
  (:mod:`~asynclambda.sources.stream_records`) and the checkpoint moves past them. Throttles are
  retried until the records are too old, never counted as retries.
* **Tumbling windows** (``tumbling_window`` 1-900 s): windows are aligned on the records' arrival
  times; each invocation gets ``window``, the ``state`` returned by the previous one of that
  window, ``shardId``, ``eventSourceARN``, ``isFinalInvokeForWindow`` and
  ``isWindowTerminatedEarly``; the response must carry ``state``. Once the window has ended (the
  clock passed its end and the shard's reader has caught up to that time, or a record of a later
  window comes) a final invocation with no records and ``isFinalInvokeForWindow: true`` gets the
  state, then the state is dropped. A state over 1 MB ends the window early (a final invocation
  with ``isWindowTerminatedEarly: true``; the window goes on with a fresh state). With a
  parallelization factor each lane keeps its own state (*ours*: Lambda does not document the
  combination).
* **Filter criteria** skip records (no invocation; the checkpoint moves past them).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import uuid as _uuid
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import anyio
import anyio.abc
import msgspec
from msgspec.structs import force_setattr

from asynclambda.config import default_region
from asynclambda.destinations import Destination, as_destination
from asynclambda.errors import (
    ConfigError,
    LambdaServiceError,
    RuntimeClosedError,
    TooManyRequestsException,
)
from asynclambda.payloads import SYNC_REQUEST_LIMIT
from asynclambda.sources._stream_state import Final, Lane, Rec, Shard
from asynclambda.sources.batch_response import BatchOutcome, read_batch_response
from asynclambda.sources.checkpoints import CheckpointStore, MemoryCheckpointStore, sequence_key
from asynclambda.sources.filters import FilterCriteria, matches_dynamodb, matches_kinesis
from asynclambda.sources.keyed import lane_for
from asynclambda.sources.mapping import (
    BACKOFF_CAP,
    BACKOFF_FIRST,
    EventSourceMapping,
    check_bool,
    check_int,
    check_seconds,
    coerce_filter_criteria,
    log,
    run_shielded,
)
from asynclambda.sources.stream import (
    ExpiredIteratorException,
    StreamBackend,
    StreamError,
    StreamRecord,
)
from asynclambda.sources.stream_records import (
    EventFormat,
    batch_info_record,
    dynamodb_record,
    encoded_kinesis_record,
    kinesis_record,
    kinesis_record_tail,
    window_bounds,
    window_member,
)

if TYPE_CHECKING:
    from asynclambda.invocation import InvocationResult
    from asynclambda.runtime import Runtime

__all__ = ["StreamEventSourceMapping", "StreamMappingConfig"]

StartingPosition = Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]
_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
_WAIT = 30.0  # a reader's wait for new records; well under the 5-minute iterator lifetime
_STATE_LIMIT = 1024 * 1024  # "Your state can be a maximum of 1 MB per shard"
_encode = msgspec.json.Encoder().encode
_EMPTY_EVENT_SIZE = len(b'{"Records":[]}') + 512  # room for the tumbling-window members


class StreamMappingConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The options of a stream mapping, with Lambda's names, ranges and defaults.

    ``event_format`` is ``"kinesis"`` or ``"dynamodb"`` (records written by a
    :class:`~asynclambda.sources.memory_table.MemoryTable`). ``on_failure`` is anything
    :func:`~asynclambda.destinations.as_destination` accepts. ``starting_position_timestamp`` is
    epoch seconds or an aware ``datetime``.
    """

    function_name: str
    stream: str
    starting_position: StartingPosition
    qualifier: str | None = None
    event_format: EventFormat = "kinesis"
    starting_position_timestamp: Any = None
    batch_size: int = 100
    maximum_batching_window: float = 0
    parallelization_factor: int = 1
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age: float = -1
    report_batch_item_failures: bool = False
    tumbling_window: float = 0
    on_failure: Any = None
    filter_criteria: Any = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.function_name, str) or not self.function_name:
            raise ConfigError("function_name", self.function_name, "must name a function")
        if not isinstance(self.stream, str) or not self.stream:
            raise ConfigError("stream", self.stream, "must name a stream")
        if self.event_format not in ("kinesis", "dynamodb"):
            raise ConfigError("event_format", self.event_format, "must be 'kinesis' or 'dynamodb'")
        if self.starting_position not in _POSITIONS:
            raise ConfigError("starting_position", self.starting_position,
                              "must be TRIM_HORIZON, LATEST or AT_TIMESTAMP")
        self._check_timestamp()
        check_int("batch_size", self.batch_size, 1, 10_000)
        check_seconds("maximum_batching_window", self.maximum_batching_window, 0, 300)
        check_int("parallelization_factor", self.parallelization_factor, 1, 10)
        check_bool("bisect_batch_on_function_error", self.bisect_batch_on_function_error)
        check_int("maximum_retry_attempts", self.maximum_retry_attempts, 0, 10_000, also=(-1,))
        check_seconds("maximum_record_age", self.maximum_record_age, 60, 604_800, also=(-1,))
        check_bool("report_batch_item_failures", self.report_batch_item_failures)
        check_seconds("tumbling_window", self.tumbling_window, 0, 900)
        check_bool("enabled", self.enabled)
        force_setattr(self, "filter_criteria", coerce_filter_criteria(self.filter_criteria))
        target = self.on_failure
        if target is not None and not isinstance(target, str) and not callable(
                getattr(target, "deliver", None)) and not callable(target):
            raise ConfigError("on_failure", target,
                              "must be a destination, a callable, or 'function:NAME'")

    def _check_timestamp(self) -> None:
        ts = self.starting_position_timestamp
        if self.starting_position != "AT_TIMESTAMP":
            if ts is not None:
                raise ConfigError("starting_position_timestamp", ts,
                                  "applies only with starting_position='AT_TIMESTAMP'")
            return
        if self.event_format == "dynamodb":
            raise ConfigError("starting_position", "AT_TIMESTAMP",
                              "is supported only for Kinesis streams")
        if isinstance(ts, _dt.datetime):
            if ts.tzinfo is None:
                raise ConfigError("starting_position_timestamp", ts, "must be timezone-aware")
            force_setattr(self, "starting_position_timestamp", ts.timestamp())
        elif isinstance(ts, bool) or not isinstance(ts, int | float):
            raise ConfigError("starting_position_timestamp", ts,
                              "AT_TIMESTAMP needs epoch seconds or an aware datetime")


class StreamEventSourceMapping(EventSourceMapping[StreamMappingConfig]):
    """Read ``stream`` on ``backend`` shard by shard and invoke ``function_name`` in order.

    ::

        StreamEventSourceMapping(rt, function_name="hashtags", stream="posts", backend=streams,
                                 starting_position="TRIM_HORIZON", tumbling_window=60)

    Options are :class:`StreamMappingConfig`'s. ``checkpoints`` defaults to a
    :class:`~asynclambda.sources.checkpoints.MemoryCheckpointStore`; pass a persistent store and a
    fixed ``uuid`` to resume where a previous process stopped.
    """

    _RESTART_FIELDS: ClassVar[frozenset[str]] = frozenset({
        "stream", "event_format", "starting_position", "starting_position_timestamp",
        "parallelization_factor", "tumbling_window"})

    def __init__(self, runtime: Runtime | None = None, *, function_name: str, stream: str,
                 backend: StreamBackend, starting_position: StartingPosition,
                 checkpoints: CheckpointStore | None = None, uuid: str | None = None,
                 **options: Any) -> None:
        unknown = set(options) - set(StreamMappingConfig.__struct_fields__)
        if unknown:
            field = sorted(unknown)[0]
            raise ConfigError(field, options[field], "is not an option of a stream mapping")
        if not isinstance(backend, StreamBackend):
            raise ConfigError("backend", backend, "must be a StreamBackend")
        self.backend = backend
        self.checkpoints = checkpoints if checkpoints is not None else MemoryCheckpointStore()
        self._shards: list[Shard] = []
        self._destination: Destination | None = None
        config = StreamMappingConfig(function_name=function_name, stream=stream,
                                     starting_position=starting_position, **options)
        super().__init__(config, runtime, uuid=uuid)

    # -- configuration ---------------------------------------------------------------------------
    @property
    def event_source_arn(self) -> str:
        rt = self.runtime
        region, account = (rt.region, rt.account_id) if rt else (default_region(), "000000000000")
        name = self.config.stream
        if self.config.event_format == "dynamodb":
            return f"arn:aws:dynamodb:{region}:{account}:table/{name}/stream/{name}"
        return f"arn:aws:kinesis:{region}:{account}:stream/{name}"

    def _validate(self, runtime: Runtime, config: StreamMappingConfig) -> None:
        super()._validate(runtime, config)
        if config.on_failure is not None:
            as_destination(config.on_failure, runtime, field="on_failure")

    def _config_changed(self, old: StreamMappingConfig) -> None:
        if self.runtime is not None and self.config.on_failure is not old.on_failure:
            self._destination = (None if self.config.on_failure is None else as_destination(
                self.config.on_failure, self.runtime, field="on_failure"))

    async def _prepare(self, runtime: Runtime) -> None:
        cfg = self.config
        self._destination = (None if cfg.on_failure is None
                             else as_destination(cfg.on_failure, runtime, field="on_failure"))
        try:
            shards = await self.backend.list_shards(cfg.stream)
        except StreamError as exc:
            raise ConfigError("stream", cfg.stream, f"cannot read the stream: {exc}") from None
        self._shards = []
        for shard in shards:
            checkpoint = await self.checkpoints.get(self.uuid, shard.shard_id)
            iterator = await self._position(shard.shard_id, checkpoint)
            self._shards.append(Shard(shard.shard_id, iterator, checkpoint,
                                       cfg.parallelization_factor, self.event_source_arn))

    async def _position(self, shard_id: str, after: str | None) -> str:
        cfg, backend = self.config, self.backend
        if after is not None:
            return await backend.get_shard_iterator(cfg.stream, shard_id, "AFTER_SEQUENCE_NUMBER",
                                                    sequence_number=after)
        if cfg.starting_position == "AT_TIMESTAMP":
            return await backend.get_shard_iterator(cfg.stream, shard_id, "AT_TIMESTAMP",
                                                    timestamp=cfg.starting_position_timestamp)
        return await backend.get_shard_iterator(cfg.stream, shard_id, cfg.starting_position)

    # -- reading -----------------------------------------------------------------------------------
    async def _poll(self, tg: anyio.abc.TaskGroup) -> None:
        for shard in self._shards:
            tg.start_soon(self._read, shard)
            for lane in shard.lanes:
                tg.start_soon(self._lane, shard, lane)

    def _buffer_limit(self) -> int:
        cfg = self.config
        return min(max(2 * cfg.batch_size * cfg.parallelization_factor, 1000), 100_000)

    async def _read(self, shard: Shard) -> None:
        assert self.runtime is not None
        clock, cfg = self.runtime.clock, self.config
        while self._intake_open:
            room = self._buffer_limit() - len(shard.outstanding)
            if room <= 0:
                with self._intake():
                    await shard.space.wait(clock)
                continue
            try:
                page = await self.backend.get_records(shard.iterator, limit=min(room, 10_000))
            except ExpiredIteratorException:
                shard.iterator = await self._position(shard.id, shard.last_read or shard.checkpoint)
                continue
            except StreamError as exc:
                self.counters.errors += 1
                log.warning("stream read failed", mapping=self.uuid, shard=shard.id,
                            error=repr(exc))
                await self._sleep(BACKOFF_FIRST)
                continue
            if page.next_shard_iterator is not None:
                shard.iterator = page.next_shard_iterator
            if page.records:
                await self._accept(shard, page.records)
                continue
            shard.caught_up_at = clock.time()
            if cfg.tumbling_window:
                for lane in shard.lanes:
                    lane.signal.set()
            # An error here (the stream was deleted, ...) is reported by the next read.
            # One cancel scope for both reasons to cut the wait short (stopping, a kick): the
            # loop re-checks intake either way, and a scope costs ~2.5 us.
            with self._intake() as kick, contextlib.suppress(StreamError):
                shard.kick = kick
                await self.backend.wait_for_records(shard.iterator, timeout=_WAIT)
            shard.kick = None

    async def _accept(self, shard: Shard, records: list[StreamRecord]) -> None:
        assert self.runtime is not None
        cfg, rt, c = self.config, self.runtime, self.counters
        criteria: FilterCriteria | None = cfg.filter_criteria
        kinesis = cfg.event_format == "kinesis"
        arn = self.event_source_arn
        identity = f"arn:aws:iam::{rt.account_id}:role/lambda-role"
        tail = kinesis_record_tail(arn=arn, region=rt.region, identity_arn=identity)
        now = rt.clock.now()
        factor = cfg.parallelization_factor
        lanes = shard.lanes
        # Lanes to wake, in the order they were first given a record: the loop does not yield,
        # so one set() per lane after it wakes them as one set() per record did.
        touched: dict[Lane, None] = {}
        invalid: list[tuple[Rec, str]] = []
        for record in records:
            shard.last_read = record.sequence_number
            c.records += 1
            if kinesis and criteria is None:  # no filter reads the dict: encode it straight
                rec = Rec(record, encoded_kinesis_record(record, tail), arn)
                body: dict[str, Any] | None = None
            elif kinesis:
                body = kinesis_record(record, arn=arn, region=rt.region, identity_arn=identity)
                rec = Rec(record, _encode(body), arn)
            else:
                try:
                    body = dynamodb_record(record, region=rt.region, account_id=rt.account_id)
                except ValueError as exc:
                    rec = Rec(record, b"", shard.arn)
                    shard.outstanding.append(rec)
                    invalid.append((rec, str(exc)))
                    continue
                rec = Rec(record, _encode(body), str(body.get("eventSourceARN", arn)))
                shard.arn = rec.arn
            shard.outstanding.append(rec)
            if body is not None and criteria is not None and not (
                    matches_kinesis(criteria, body) if kinesis
                    else matches_dynamodb(criteria, body)):
                c.filtered += 1
                rec.done = True
                continue
            if cfg.tumbling_window:
                rec.window = window_bounds(record.approximate_arrival_timestamp,
                                           float(cfg.tumbling_window))[0]
            lane = lanes[lane_for(record.partition_key, factor)] if factor > 1 else lanes[0]
            if not lane.queue:
                lane.since = now
            lane.queue.append(rec)
            touched[lane] = None
        for lane in touched:
            lane.signal.set()
        for rec, reason in invalid:
            log.error("stream record is not a DynamoDB change record", mapping=self.uuid,
                      shard=shard.id, sequence_number=rec.record.sequence_number, reason=reason)
            if not await self._discard(shard, [rec], "InvalidRecord", None):
                return
        await self._advance(shard)

    async def _advance(self, shard: Shard) -> None:
        """Move the checkpoint over the done prefix of the records read (never past one that
        is not done)."""
        last: Rec | None = None
        outstanding = shard.outstanding
        while outstanding and outstanding[0].done:
            last = outstanding.popleft()
        if last is None:
            return
        shard.space.set()
        # Shielded: a finished batch's checkpoint is written even while the runtime cancels.
        await run_shielded(self._checkpoint(shard, last.record.sequence_number))

    async def _checkpoint(self, shard: Shard, target: str) -> None:
        async with shard.lock:
            current = shard.checkpoint
            if current is None or sequence_key(target) > sequence_key(current):
                await self.checkpoints.set(self.uuid, shard.id, target)
                shard.checkpoint = target

    # -- lanes ---------------------------------------------------------------------------------------
    async def _lane(self, shard: Shard, lane: Lane) -> None:
        c = self.counters
        while True:
            batch = await self._next_batch(shard, lane)
            if batch is None:
                return
            # limiter.hold() without its async context manager (acquire, then release always).
            hold = await self.limiter.acquire({(shard.id, lane.index)})
            try:
                c.in_flight += 1
                try:
                    if isinstance(batch, Final):
                        ok = await self._final(shard, lane, batch.early)
                    else:
                        c.batches += 1
                        ok = await self._attempt(shard, lane, batch, 0)
                finally:
                    c.in_flight -= 1
            finally:
                hold.release()
            if not ok:
                return

    async def _next_batch(self, shard: Shard, lane: Lane) -> list[Rec] | Final | None:
        """Wait for the lane's next batch (or a window's final invocation); ``None``: stopped."""
        assert self.runtime is not None
        clock = self.runtime.clock
        while self._intake_open:
            cfg = self.config
            deadline: float | None = None
            head = lane.queue[0] if lane.queue else None
            if lane.window is not None:
                start, end = lane.window
                if head is not None and head.window != start:
                    return Final()
                if head is None:
                    if clock.time() >= end:
                        if shard.caught_up_at >= end:
                            return Final()
                        if shard.kick is not None:
                            shard.kick.cancel()  # have the reader look at the stream now
                    else:
                        deadline = clock.now() + (end - clock.time())
            if head is not None:
                window = float(cfg.maximum_batching_window)
                ready_at = lane.since + window
                if window <= 0 or len(lane.queue) >= cfg.batch_size or clock.now() >= ready_at:
                    return self._take(lane)
                deadline = ready_at if deadline is None else min(deadline, ready_at)
            with self._intake():
                await lane.signal.wait(clock, deadline)
        return None

    def _take(self, lane: Lane) -> list[Rec]:
        assert self.runtime is not None
        cfg, queue = self.config, lane.queue
        out: list[Rec] = []
        size = _EMPTY_EVENT_SIZE
        while queue and len(out) < cfg.batch_size:
            rec = queue[0]
            if cfg.tumbling_window and out and rec.window != out[0].window:
                break
            if out and size + len(rec.raw) + 1 > SYNC_REQUEST_LIMIT:
                break
            out.append(queue.popleft())
            size += len(rec.raw) + 1
        lane.since = self.runtime.clock.now()
        if cfg.tumbling_window and lane.window is None:
            lane.window = window_bounds(out[0].record.approximate_arrival_timestamp,
                                        float(cfg.tumbling_window))
            lane.state = {}
        return out

    # -- one batch -----------------------------------------------------------------------------------
    def _payload(self, shard: Shard, lane: Lane, recs: list[Rec], *, final: bool = False,
                 early: bool = False) -> bytes:
        records = b",".join(rec.raw for rec in recs)
        if not self.config.tumbling_window:
            return b'{"Records":[' + records + b"]}"
        assert lane.window is not None
        members = _encode({
            "window": window_member(*lane.window),
            "state": lane.state,
            "shardId": shard.id,
            "eventSourceARN": recs[0].arn if recs else shard.arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": early,
        })
        return b'{"Records":[' + records + b"]," + members[1:]

    async def _invoke(self, payload: bytes) -> InvocationResult | Literal["retry", "stop"]:
        """One invoke. ``"retry"``: not delivered (throttled, or a service error), try again
        after the backoff; ``"stop"``: the mapping or the runtime is stopping."""
        rt = self.runtime
        assert rt is not None
        if not self._intake_open:
            return "stop"
        try:
            result = await rt.invoke(self.function_name, payload, qualifier=self.qualifier)
        except TooManyRequestsException:
            self.counters.throttles += 1
            return "retry"
        except RuntimeClosedError:
            return "stop"
        except LambdaServiceError as exc:
            self.counters.errors += 1
            log.warning("stream mapping could not invoke its function", mapping=self.uuid,
                        function=self.function_name, error=repr(exc))
            return "retry"
        self.counters.invocations += 1
        return result

    def _outcome(self, result: InvocationResult, recs: list[Rec]) -> BatchOutcome:
        if result.function_error is not None:
            return BatchOutcome("failure", reason=f"function error {result.function_error}")
        cfg = self.config
        report = cfg.report_batch_item_failures
        return read_batch_response(
            # Without report_batch_item_failures the ids are not read: no set to build.
            result.raw_payload, {rec.record.sequence_number for rec in recs} if report else (),
            report_batch_item_failures=report, tumbling_window=bool(cfg.tumbling_window))

    def _expired(self, recs: list[Rec]) -> int:
        """How many leading records are older than ``maximum_record_age``."""
        age = self.config.maximum_record_age
        if age == -1:
            return 0
        assert self.runtime is not None
        cutoff = self.runtime.clock.time() - float(age)
        n = 0
        while n < len(recs) and recs[n].record.approximate_arrival_timestamp < cutoff:
            n += 1
        return n

    async def _attempt(self, shard: Shard, lane: Lane, recs: list[Rec], retries: int) -> bool:
        """Process ``recs`` to the end (done or discarded); ``False`` if stopped first."""
        cfg, c = self.config, self.counters
        last: InvocationResult | None = None
        delay = BACKOFF_FIRST
        while recs:
            expired = self._expired(recs)
            if expired:
                if not await self._discard(shard, recs[:expired], "RecordAgeExceeded", last):
                    return False
                recs = recs[expired:]
                continue
            result = await self._invoke(self._payload(shard, lane, recs))
            if result == "stop":
                return False
            if result == "retry":
                if not await self._sleep(delay):
                    return False
                delay = min(delay * 2, BACKOFF_CAP)
                continue
            assert not isinstance(result, str)
            for rec in recs:
                rec.invokes += 1
            last = result
            outcome = self._outcome(result, recs)
            if outcome.state is not None:
                lane.state = outcome.state
            if outcome.kind == "success":
                await self._complete(shard, recs)
                return await self._check_state_size(shard, lane)
            first_failed = 0
            if outcome.kind == "partial":
                failed = set(outcome.failed)
                first_failed = next(i for i, r in enumerate(recs)
                                    if r.record.sequence_number in failed)
            c.failed += len(recs) - first_failed
            if first_failed:
                await self._complete(shard, recs[:first_failed])
                recs = recs[first_failed:]
                if cfg.bisect_batch_on_function_error:
                    continue  # "bisected at the returned sequence number": not a retry
            elif cfg.bisect_batch_on_function_error and len(recs) > 1:
                half = len(recs) // 2
                if not await self._attempt(shard, lane, recs[:half], retries):
                    return False
                recs = recs[half:]
                continue
            retries += 1
            if cfg.maximum_retry_attempts != -1 and retries > cfg.maximum_retry_attempts:
                return await self._discard(shard, recs, "RetryAttemptsExhausted", last)
            if cfg.maximum_record_age == -1 and not await self._retained(shard, recs[0]):
                return await self._discard(shard, recs, "RecordAgeExceeded", last)
            c.retries += 1
            if not await self._sleep(delay):
                return False
            delay = min(delay * 2, BACKOFF_CAP)
        return True

    async def _complete(self, shard: Shard, recs: list[Rec]) -> None:
        assert self.runtime is not None
        for rec in recs:
            rec.done = True
        self.counters.succeeded += len(recs)
        age = self.runtime.clock.time() - recs[-1].record.approximate_arrival_timestamp
        self.counters.iterator_age_ms = max(0, int(age * 1000))
        await self._advance(shard)

    async def _retained(self, shard: Shard, rec: Rec) -> bool:
        """Whether ``rec`` is still in the stream (records are retried until they expire)."""
        seq = rec.record.sequence_number
        try:
            iterator = await self.backend.get_shard_iterator(
                self.config.stream, shard.id, "AT_SEQUENCE_NUMBER", sequence_number=seq)
            page = await self.backend.get_records(iterator, limit=1)
        except StreamError:
            return True  # cannot tell: keep retrying rather than drop it
        return bool(page.records) and page.records[0].sequence_number == seq

    async def _discard(self, shard: Shard, recs: list[Rec], condition: str,
                       last: InvocationResult | None) -> bool:
        """Send the batch-info record (retrying until delivered), then move past ``recs``."""
        assert self.runtime is not None
        rt, c = self.runtime, self.counters
        destination = self._destination
        if destination is not None:
            record = batch_info_record(
                event_format=self.config.event_format, condition=condition,
                request_id=last.request_id if last is not None else str(_uuid.uuid4()),
                function_arn=self.function_arn(),
                invoke_count=max(rec.invokes for rec in recs),
                status_code=last.status_code if last is not None else None,
                executed_version=last.executed_version if last is not None else None,
                function_error=last.function_error if last is not None else None,
                now=rt.clock.time(), shard_id=shard.id,
                records=[rec.record for rec in recs], stream_arn=recs[0].arn)
            delay = BACKOFF_FIRST
            while True:
                try:
                    await destination.deliver(record)
                    c.destination_deliveries += 1
                    break
                except Exception as exc:
                    c.destination_failures += 1
                    log.error("on-failure destination refused a record; retrying",
                              mapping=self.uuid, shard=shard.id, error=repr(exc))
                    if not await self._sleep(delay):
                        return False  # not delivered: the records are read again next time
                    delay = min(delay * 2, BACKOFF_CAP)
        for rec in recs:
            rec.done = True
        c.discarded += len(recs)
        await self._advance(shard)
        return True

    # -- tumbling windows ----------------------------------------------------------------------------
    async def _check_state_size(self, shard: Shard, lane: Lane) -> bool:
        if lane.window is None or len(_encode(lane.state)) <= _STATE_LIMIT:
            return True
        return await self._final(shard, lane, early=True)

    async def _final(self, shard: Shard, lane: Lane, early: bool = False) -> bool:
        """The window's final invocation (no records); retried like a batch until it succeeds or
        the retry attempts run out (then the state is dropped and counted as an error)."""
        cfg = self.config
        retries = 0
        delay = BACKOFF_FIRST
        while True:
            result = await self._invoke(self._payload(shard, lane, [], final=True, early=early))
            if result == "stop":
                return False
            if not isinstance(result, str):
                if result.function_error is None:
                    break
                retries += 1
                if cfg.maximum_retry_attempts != -1 and retries > cfg.maximum_retry_attempts:
                    self.counters.errors += 1
                    log.error("tumbling window's final invocation failed; state dropped",
                              mapping=self.uuid, shard=shard.id, window=lane.window)
                    break
            if not await self._sleep(delay):
                return False
            delay = min(delay * 2, BACKOFF_CAP)
        lane.state = {}
        if not early:
            lane.window = None
        return True
