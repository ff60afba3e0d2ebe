"""The SQS event source mapping: poll a queue, invoke a function with batches, delete on success.

Lambda's behaviour (Lambda Developer Guide, "Using Lambda with Amazon SQS", "Lambda parameters for
Amazon SQS event source mappings", "Configuring scaling behavior", "Implementing partial batch
responses"; API ``CreateEventSourceMapping``):

* The poller long-polls the queue, gathers up to ``batch_size`` messages (default 10; up to 10000
  for standard queues, 10 for FIFO) for up to ``maximum_batching_window`` seconds (0-300; a
  ``batch_size`` over 10 needs a window of at least 1 s; FIFO queues take no window), stops early
  at the 6 MB payload limit, and invokes the function synchronously with an ``aws:sqs`` event.
* A received message stays in the queue, invisible for the queue's visibility timeout. Success
  deletes the batch. A function error (or a timeout) deletes nothing: the messages reappear after
  the visibility timeout, are received again (``ApproximateReceiveCount`` + 1), and the queue's
  redrive policy moves them to its dead-letter queue after ``max_receive_count`` receives.
* ``report_batch_item_failures``: only the items the handler lists come back; the rest are
  deleted (see :mod:`asynclambda.sources.batch_response` for the exact rules).
* Scaling, as Lambda's SQS poller: 5 concurrent batches at first; while every batch slot is
  busy and messages keep coming, one more slot every 0.2 s (300 more per minute), up to 1000
  concurrent batches, or ``maximum_concurrency`` (2-1000) when set. A long poll that finds the
  queue empty brings it back to 5.
* FIFO queues: a batch may hold several message groups, in order; while a group has a batch in
  flight no other message of it is delivered (the queue ensures it, and the mapping holds each
  group's key in its :class:`~asynclambda.sources.keyed.KeyedLimiter` too).
* Filter criteria: a message that matches no filter is deleted without invoking the function.
* The function's timeout must not exceed the queue's visibility timeout (checked at start and on
  update, as Lambda does when the mapping is created or updated).

Throttling (``TooManyRequestsException``): Lambda keeps the received messages invisible and retries
the invoke while their visibility timeout allows, and the docs advise a ``max_receive_count`` of at
least 5 because a message whose visibility runs out while throttled is received again (and counts
a receive). Here: the invoke is retried with backoff (1 s, doubling, at most 30 s, on the runtime's
clock) as long as a retry could still finish (function timeout included) before the messages'
visibility ends; otherwise the batch is let go and the messages reappear by themselves. A throttle
is counted in ``throttles``, never as a failure, and pauses intake for the backoff delay.

Undecodable messages (*ours*; asynclambda's rule that a poison message ends in a dead-letter queue
with the reason): a message whose body cannot be handed to the function (not valid UTF-8, e.g. a
broker delivered bytes with lone surrogates) or does not decode into ``body_type`` (optional, a
type msgspec can decode the JSON body into) is not invoked. It is sent to ``dead_letter_queue``
(a queue name on the same backend, or any destination ``as_destination`` accepts; default: the
source queue's redrive dead-letter queue) and deleted from the source. A queue copy keeps the
body and message attributes and carries the reason in two more attributes, the names Lambda uses
for its own dead-letter messages: ``ErrorCode`` = ``InvalidMessageBody`` and ``ErrorMessage`` =
the reason (first 1024 characters). A body that cannot be sent as text is sent base64-encoded with
``BodyEncoding`` = ``base64``. If the message already has so many attributes that these would pass
SQS's limit of 10, the last ones by name are left out and the reason says so. A destination
receives ``{"errorCode", "errorMessage", "record"}`` (``record``: the SQS event record). Without
any dead-letter queue the message is left in the queue (counted, logged), never dropped.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import anyio
import anyio.abc
import msgspec
from msgspec.structs import force_setattr

from asynclambda.config import default_region
from asynclambda.destinations import Destination, QueueDestination, as_destination
from asynclambda.dispatch import (
    MAX_RECURSION,
    TRACE_HEADER,
    delivery_lineage,
    merge_lineages,
    parse_lineage,
)
from asynclambda.errors import (
    ConfigError,
    LambdaServiceError,
    RuntimeClosedError,
    TooManyRequestsException,
)
from asynclambda.events import decoder_for
from asynclambda.payloads import SYNC_REQUEST_LIMIT
from asynclambda.sources.batch_response import read_batch_response
from asynclambda.sources.filters import FilterCriteria, matches_sqs
from asynclambda.sources.keyed import Hold
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
from asynclambda.sources.queue import (
    Message,
    MessageAttributeValue,
    QueueBackend,
    QueueConfig,
    QueueDoesNotExist,
    QueueError,
    validate_body,
)

if TYPE_CHECKING:
    from asynclambda.invocation import InvocationResult
    from asynclambda.runtime import Runtime
    from asynclambda.types import Timer

__all__ = ["QueueEventSourceMapping", "QueueMappingConfig", "sqs_record"]

#: Lambda's concurrency ceiling for one SQS event source mapping.
MAX_CONCURRENT_BATCHES = 1000
#: Lambda's SQS poller starts with 5 concurrent batches ...
SCALE_START = 5
#: ... and, while messages keep coming, adds up to 300 more per minute (one per 0.2 s).
SCALE_STEP_SECONDS = 60.0 / 300
_LONG_POLL = 20.0
_encode = msgspec.json.Encoder().encode
_ERROR_MESSAGE_LIMIT = 1024
_MAX_IDLE_WORKERS = 16  # batch workers kept waiting for the next batch (see _start_batch)
_MAX_ATTRIBUTES = 10


class QueueMappingConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The options of a queue mapping, with Lambda's names, ranges and defaults.

    ``filter_criteria`` accepts a :class:`FilterCriteria`, one pattern or a list of patterns.
    ``body_type`` and ``dead_letter_queue`` are asynclambda's (see the module docstring).
    """

    function_name: str
    queue: str
    qualifier: str | None = None
    batch_size: int = 10
    maximum_batching_window: float = 0
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None
    filter_criteria: Any = None
    enabled: bool = True
    body_type: Any = None
    dead_letter_queue: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.function_name, str) or not self.function_name:
            raise ConfigError("function_name", self.function_name, "must name a function")
        if not isinstance(self.queue, str) or not self.queue:
            raise ConfigError("queue", self.queue, "must name a queue")
        fifo = self.queue.endswith(".fifo")
        check_int("batch_size", self.batch_size, 1, 10 if fifo else 10_000)
        check_seconds("maximum_batching_window", self.maximum_batching_window, 0, 300)
        if fifo and self.maximum_batching_window:
            raise ConfigError("maximum_batching_window", self.maximum_batching_window,
                              "a batching window is not supported for FIFO queues")
        if self.batch_size > 10 and self.maximum_batching_window < 1:
            raise ConfigError("maximum_batching_window", self.maximum_batching_window,
                              f"must be at least 1 second when batch_size is over 10 "
                              f"(batch_size={self.batch_size})")
        check_bool("report_batch_item_failures", self.report_batch_item_failures)
        check_bool("enabled", self.enabled)
        if self.maximum_concurrency is not None:
            check_int("maximum_concurrency", self.maximum_concurrency, 2, 1000)
        force_setattr(self, "filter_criteria", coerce_filter_criteria(self.filter_criteria))
        if self.body_type is not None:
            try:
                decoder_for(self.body_type)
            except (TypeError, ValueError) as exc:
                raise ConfigError("body_type", self.body_type,
                                  f"msgspec cannot decode JSON into it: {exc}") from None
        target = self.dead_letter_queue
        if target is not None and not isinstance(target, str) and not callable(
                getattr(target, "deliver", None)) and not callable(target):
            raise ConfigError("dead_letter_queue", target,
                              "must be a queue name, a destination, or a callable")


def _attribute(value: MessageAttributeValue) -> dict[str, Any]:
    """A message attribute as Lambda's SQS event shows it (list members always present)."""
    out: dict[str, Any] = {}
    if value.binary_value is not None:
        out["binaryValue"] = base64.b64encode(value.binary_value).decode()
    else:
        out["stringValue"] = value.string_value
    out["stringListValues"] = []
    out["binaryListValues"] = []
    out["dataType"] = value.data_type
    return out


class _Record(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``sqs_record``'s dict as a struct: the same JSON (members in the same order, an absent
    ``md5OfMessageAttributes`` left out), encoded in about half the time of the dict."""

    messageId: str  # the JSON member names, as Lambda spells them
    receiptHandle: str
    body: str
    attributes: dict[str, str]
    messageAttributes: dict[str, Any]
    md5OfBody: str
    md5OfMessageAttributes: str | None = None
    eventSource: str
    eventSourceARN: str
    awsRegion: str


def _encoded_record(message: Message, arn: str, region: str) -> bytes:
    """``_encode(sqs_record(message, arn, region))``, the same bytes, cheaper."""
    attributes = message.message_attributes
    return _encode(_Record(
        messageId=message.message_id, receiptHandle=message.receipt_handle, body=message.body,
        attributes=message.attributes,
        messageAttributes={k: _attribute(v) for k, v in attributes.items()} if attributes else {},
        md5OfBody=message.md5_of_body, md5OfMessageAttributes=message.md5_of_message_attributes,
        eventSource="aws:sqs", eventSourceARN=arn, awsRegion=region))


def sqs_record(message: Message, arn: str, region: str) -> dict[str, Any]:
    """One ``Records[]`` entry of an SQS event, exactly as Lambda's poller builds it."""
    record: dict[str, Any] = {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": message.attributes,
        "messageAttributes": {k: _attribute(v) for k, v in message.message_attributes.items()},
        "md5OfBody": message.md5_of_body,
    }
    if message.md5_of_message_attributes is not None:
        record["md5OfMessageAttributes"] = message.md5_of_message_attributes
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = arn
    record["awsRegion"] = region
    return record


#: A received message on its way: the message and its encoded event record (a tuple: cheaper
#: to make than an object, one per message).
_Item = tuple[Message, bytes]
#: A batch handed to a worker: its records, their hold, when they were received.
_Batch = tuple[list[_Item], Hold, float]


class QueueEventSourceMapping(EventSourceMapping[QueueMappingConfig]):
    """Poll ``queue`` on ``backend`` and invoke ``function_name`` with batches of its messages.

    ::

        QueueEventSourceMapping(rt, function_name="thumbnail", queue="jobs", backend=queues,
                                batch_size=10, report_batch_item_failures=True)

    Options are :class:`QueueMappingConfig`'s. ``runtime`` attaches the mapping at once; without
    it, call ``runtime.add_component(mapping)``.
    """

    #: A new queue or dead-letter target is looked up again: intake restarts.
    _RESTART_FIELDS: ClassVar[frozenset[str]] = frozenset({"queue", "dead_letter_queue"})

    def __init__(self, runtime: Runtime | None = None, *, function_name: str, queue: str,
                 backend: QueueBackend, uuid: str | None = None, **options: Any) -> None:
        unknown = set(options) - set(QueueMappingConfig.__struct_fields__)
        if unknown:
            field = sorted(unknown)[0]
            raise ConfigError(field, options[field], "is not an option of a queue mapping")
        if not isinstance(backend, QueueBackend):
            raise ConfigError("backend", backend, "must be a QueueBackend")
        self.backend = backend
        self._queue_config: QueueConfig | None = None
        self._dead_letter: tuple[str | None, Destination | None] = (None, None)
        self._function_timeout = 3.0
        self._pause_until = 0.0
        self._scaler: Timer | None = None
        config = QueueMappingConfig(function_name=function_name, queue=queue, **options)
        super().__init__(config, runtime, uuid=uuid)
        self._config_changed(config)

    # -- configuration ---------------------------------------------------------------------------
    @property
    def event_source_arn(self) -> str:
        rt = self.runtime
        region, account = (rt.region, rt.account_id) if rt else (default_region(), "000000000000")
        return f"arn:aws:sqs:{region}:{account}:{self.config.queue}"

    @property
    def concurrency_cap(self) -> int:
        """The most batches this mapping may run at once: ``maximum_concurrency`` or 1000."""
        return self.config.maximum_concurrency or MAX_CONCURRENT_BATCHES

    def _config_changed(self, old: QueueMappingConfig) -> None:
        current = self.limiter.limit or SCALE_START
        self.limiter.limit = min(max(current, SCALE_START), self.concurrency_cap)

    # -- scaling (Lambda's SQS poller) -----------------------------------------------------------
    def _scale_when_saturated(self) -> None:
        """All the batches the mapping may run are running and messages wait: in 0.2 s allow one
        more (300 more per minute, as Lambda's poller scales), up to the cap."""
        limit = self.limiter.limit or 0
        if self._scaler is not None or limit >= self.concurrency_cap or self.runtime is None:
            return
        clock = self.runtime.clock
        self._scaler = clock.call_at(clock.now() + SCALE_STEP_SECONDS, self._scale_up)

    def _scale_up(self) -> None:
        self._scaler = None
        limiter = self.limiter
        limit = limiter.limit or 0
        if self._intake_open and limiter.active >= limit and limit < self.concurrency_cap:
            limiter.limit = limit + 1  # (grants a waiting poller at once)

    def _scale_down(self) -> None:
        """The queue had nothing for a whole long poll: back to the starting concurrency."""
        start = min(SCALE_START, self.concurrency_cap)
        if (self.limiter.limit or 0) > start:
            self.limiter.limit = start
        if self._scaler is not None:
            self._scaler.cancel()
            self._scaler = None

    def _validate(self, runtime: Runtime, config: QueueMappingConfig) -> None:
        super()._validate(runtime, config)
        previous, self.config = self.config, config
        try:
            timeout = float(self._function_config(runtime).timeout)
        finally:
            self.config = previous
        queue = self._queue_config
        if queue is not None and timeout > queue.visibility_timeout:
            raise ConfigError("function_name", config.function_name,
                              f"the function's timeout ({timeout:g} s) exceeds the queue's "
                              f"visibility timeout ({queue.visibility_timeout:g} s)")
        self._function_timeout = timeout

    async def _prepare(self, runtime: Runtime) -> None:
        cfg = self.config
        try:
            self._queue_config = await self.backend.get_queue_config(cfg.queue)
        except QueueDoesNotExist:
            raise ConfigError("queue", cfg.queue, "no such queue on the backend") from None
        target = cfg.dead_letter_queue
        if target is None and self._queue_config.redrive_policy is not None:
            target = self._queue_config.redrive_policy.dead_letter_queue
        if isinstance(target, str):
            try:
                await self.backend.get_queue_config(target)
            except QueueDoesNotExist:
                raise ConfigError("dead_letter_queue", target, "no such queue") from None
            self._dead_letter = (target, None)
        elif target is not None:
            self._dead_letter = (None, as_destination(target, runtime,
                                                      field="dead_letter_queue"))
        else:
            self._dead_letter = (None, None)

    # -- intake ----------------------------------------------------------------------------------
    async def _poll(self, tg: anyio.abc.TaskGroup) -> None:
        idle: list[asyncio.Future[_Batch | None]] = []  # batch workers waiting for a batch
        self.limiter.limit = min(SCALE_START, self.concurrency_cap)
        try:
            await self._intake_loop(tg, idle)
        finally:
            if self._scaler is not None:
                self._scaler.cancel()
                self._scaler = None
            for fut in idle:  # intake is over: idle workers end (busy ones end after their batch)
                if not fut.done():
                    fut.set_result(None)
            idle.clear()

    async def _intake_loop(self, tg: anyio.abc.TaskGroup,
                           idle: list[asyncio.Future[_Batch | None]]) -> None:
        assert self.runtime is not None
        clock = self.runtime.clock
        while self._intake_open:
            pause = self._pause_until - clock.now()
            if pause > 0 and not await self._sleep(pause):
                return
            # A cancel scope costs ~2.5 us: enter one only when there is something to wait for.
            if not (self._intake_open and self.limiter.available()):
                self._scale_when_saturated()
                with self._intake() as scope:
                    await self.limiter.wait_available()
                if scope.cancel_called:
                    return
            messages = await self._receive()
            if not messages:
                self._scale_down()
                continue
            received_at = clock.now()
            c = self.counters
            c.records += len(messages)
            for m in messages:  # (a loop: no generator per batch)
                if m.receive_count > 1:
                    c.retries += 1
            items = await self._screen(messages)
            for chunk in self._chunks(items):
                keys = {m.group_id for m, _ in chunk} if self._fifo else ()
                # What acquire() would grant at once, without entering a cancel scope for it.
                hold = self.limiter.try_acquire(keys) if self._intake_open else None
                if hold is None:
                    with self._intake() as scope:
                        hold = await self.limiter.acquire(keys)
                    if scope.cancel_called:
                        if hold is not None:  # granted at once inside a pre-cancelled scope
                            hold.release()  # give it back, or its keys stay held after re-enable
                        return  # stopping: the messages in hand reappear after their visibility
                c.batches += 1
                c.in_flight += 1
                self._start_batch(tg, idle, (chunk, hold, received_at))
                # Let the batch start before receiving the next: otherwise a backend that answers
                # without suspending (the memory one) has the poller take up to the concurrency
                # limit's worth of batches before any runs, all of them held in memory at once.
                await asyncio.sleep(0)

    def _start_batch(self, tg: anyio.abc.TaskGroup, idle: list[asyncio.Future[_Batch | None]],
                     batch: _Batch) -> None:
        """Hand ``batch`` to an idle worker, or start a worker for it in the mapping's group.

        A worker runs batches one after another for as long as intake is open: a hand-off costs
        a future, where a task per batch cost an anyio task (~10 us). Concurrency is the
        limiter's to decide either way (a batch is handed over only once its hold is granted).
        """
        while idle:
            fut = idle.pop()
            if not fut.done():  # (a worker cancelled while idle left a done future)
                fut.set_result(batch)
                return
        tg.start_soon(self._worker, idle, batch)

    async def _worker(self, idle: list[asyncio.Future[_Batch | None]], batch: _Batch) -> None:
        loop = asyncio.get_running_loop()
        next_batch: _Batch | None = batch
        while next_batch is not None:
            await self._run_batch(*next_batch)
            if not self._intake_open:
                return  # no batch will come: intake stopped (the poller wakes the idle ones)
            if len(idle) >= _MAX_IDLE_WORKERS:
                return  # enough wait already: after a burst, the extra workers end
            fut: asyncio.Future[_Batch | None] = loop.create_future()
            idle.append(fut)
            next_batch = await fut

    @property
    def _fifo(self) -> bool:
        return self._queue_config is not None and self._queue_config.fifo

    async def _receive(self) -> list[Message]:
        """One batch: a long poll, then more receives while the batching window lasts."""
        assert self.runtime is not None
        cfg, clock = self.config, self.runtime.clock
        want, window = cfg.batch_size, float(cfg.maximum_batching_window)
        out: list[Message] = []
        with self._intake() as scope:
            try:
                out = await self.backend.receive(cfg.queue, max_messages=want, wait_time=_LONG_POLL,
                                                 extended_batch=want > 10)
                deadline = clock.now() + window
                while out and len(out) < want and window > 0:
                    left = deadline - clock.now()
                    if left <= 0:
                        break
                    out += await self.backend.receive(
                        cfg.queue, max_messages=want - len(out), wait_time=min(_LONG_POLL, left),
                        extended_batch=want - len(out) > 10)
            except QueueError as exc:
                self.counters.errors += 1
                log.warning("queue receive failed", mapping=self.uuid, queue=cfg.queue,
                            error=repr(exc))
                self._pause_until = clock.now() + BACKOFF_FIRST
                return []
        if scope.cancel_called:
            return []  # stopped while gathering: those messages reappear after their visibility
        return out

    async def _screen(self, messages: list[Message]) -> list[_Item]:
        """Build the records; dead-letter undecodable messages, delete filtered-out ones."""
        assert self.runtime is not None
        cfg = self.config
        arn, region = self.event_source_arn, self.runtime.region
        criteria: FilterCriteria | None = cfg.filter_criteria
        body_decode = decoder_for(cfg.body_type).decode if cfg.body_type is not None else None
        items: list[_Item] = []
        filtered: list[str] = []
        looping = self.runtime.get_function(self.function_name).recursive_loop == "Terminate"
        for message in messages:
            body: Any = message.body
            header = message.attributes.get(TRACE_HEADER)
            if header is not None and looping:
                chain = parse_lineage(header)
                if chain is not None and chain.get(self.function_name, 0) >= MAX_RECURSION:
                    # Lambda's loop detection: this delivery would be the 17th invocation of the
                    # function in the message's chain. The invocation is stopped and the message
                    # left in the queue; its redrive policy moves it to the dead-letter queue
                    # after max_receive_count receives.
                    self.counters.recursive_loops_stopped += 1
                    log.warning("recursive loop stopped", mapping=self.uuid,
                                function=self.function_name, message_id=message.message_id)
                    continue
            # What _undecodable passes without a call: ASCII text (no lone surrogate), no body_type.
            if not (body_decode is None and type(body) is str and body.isascii()):
                reason = self._undecodable(message, body_decode)
                if reason is not None:
                    await self._dead_letter_message(message, sqs_record(message, arn, region),
                                                    reason)
                    continue
            if criteria is None:
                items.append((message, _encoded_record(message, arn, region)))
                continue
            record = sqs_record(message, arn, region)  # the filters read the record's dict
            if not matches_sqs(criteria, record):
                filtered.append(message.receipt_handle)
                continue
            items.append((message, _encode(record)))
        if filtered:
            self.counters.filtered += len(filtered)
            await self._delete(filtered)
        return items

    @staticmethod
    def _undecodable(message: Message, body_decode: Any) -> str | None:
        body: Any = message.body  # a broker backend may hand over bytes
        if not isinstance(body, str):
            return f"the body is a {type(body).__name__}, not text"
        if not body.isascii():  # an ASCII str holds no lone surrogate: skip encoding it
            try:
                body.encode()
            except UnicodeEncodeError as exc:
                return f"the body is not valid UTF-8: {exc}"
        if body_decode is not None:
            try:
                body_decode(body)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                return f"the body does not decode into the mapping's body_type: {exc}"
        return None

    def _chunks(self, items: list[_Item]) -> list[list[_Item]]:
        """Split so that every event stays under Lambda's 6 MB synchronous payload limit."""
        if sum(len(raw) for _, raw in items) + len(items) + len(b'{"Records":[]}') \
                <= SYNC_REQUEST_LIMIT:
            return [items] if items else []  # all in one event: what the loop below would make
        chunks: list[list[_Item]] = []
        current: list[_Item] = []
        size = len(b'{"Records":[]}')
        for item in items:
            extra = len(item[1]) + 1
            if current and size + extra > SYNC_REQUEST_LIMIT:
                chunks.append(current)
                current, size = [], len(b'{"Records":[]}')
            current.append(item)
            size += extra
        if current:
            chunks.append(current)
        return chunks

    # -- one batch -------------------------------------------------------------------------------
    async def _run_batch(self, chunk: list[_Item], hold: Hold, received_at: float) -> None:
        c = self.counters
        try:
            payload = b'{"Records":[' + b",".join([raw for _, raw in chunk]) + b"]}"
            chains = [parse_lineage(m.attributes[TRACE_HEADER]) for m, _ in chunk
                      if TRACE_HEADER in m.attributes]
            lineage = merge_lineages([c for c in chains if c]) if chains else None
            if lineage is None:
                result = await self._invoke(payload, received_at)
            else:  # the invocation continues the chains its messages carry
                token = delivery_lineage.set(lineage)
                try:
                    result = await self._invoke(payload, received_at)
                finally:
                    delivery_lineage.reset(token)
            if result is None:
                return  # not delivered: the messages reappear after their visibility timeout
            if result.function_error is not None:
                c.failed += len(chunk)
                return
            report = self.config.report_batch_item_failures
            outcome = read_batch_response(
                # Without report_batch_item_failures the ids are not read: no set to build.
                result.raw_payload, {m.message_id for m, _ in chunk} if report else (),
                report_batch_item_failures=report)
            if outcome.kind == "failure":
                c.failed += len(chunk)
                log.info("batch response read as a complete failure", mapping=self.uuid,
                         reason=outcome.reason)
                return
            failed = set(outcome.failed)
            done = ([m.receipt_handle for m, _ in chunk if m.message_id not in failed]
                    if failed else [m.receipt_handle for m, _ in chunk])
            c.failed += len(failed)
            c.succeeded += len(done)
            if done:
                # Shielded: the runtime may be cancelling its tasks once invocations drained;
                # the outcome of a finished invocation must still be applied.
                await run_shielded(self._delete(done))
        finally:
            hold.release()
            c.in_flight -= 1

    async def _invoke(self, payload: bytes, received_at: float) -> InvocationResult | None:
        """Invoke, retrying throttles while the messages' visibility allows; ``None``: let go."""
        rt = self.runtime
        assert rt is not None
        assert self._queue_config is not None
        clock, c = rt.clock, self.counters
        visible_again = received_at + self._queue_config.visibility_timeout
        delay = BACKOFF_FIRST
        while True:
            try:
                result = await rt.invoke(self.function_name, payload, qualifier=self.qualifier)
            except TooManyRequestsException:
                c.throttles += 1
                now = clock.now()
                self._pause_until = max(self._pause_until, now + delay)
                if now + delay + self._function_timeout > visible_again:
                    return None
                if not await self._sleep(delay):
                    return None
                delay = min(delay * 2, BACKOFF_CAP)
                continue
            except RuntimeClosedError:
                return None
            except LambdaServiceError as exc:
                c.errors += 1
                log.warning("queue mapping could not invoke its function", mapping=self.uuid,
                            function=self.function_name, error=repr(exc))
                self._pause_until = max(self._pause_until, clock.now() + BACKOFF_FIRST)
                return None
            c.invocations += 1
            return result

    async def _delete(self, receipt_handles: Sequence[str]) -> None:
        try:
            result = await self.backend.delete_batch(self.config.queue, list(receipt_handles))
        except QueueError as exc:
            self.counters.errors += 1
            log.warning("queue delete failed", mapping=self.uuid, error=repr(exc))
            return
        if result.failed:
            # A receipt handle that expired (visibility ran out mid-invocation): the message
            # will be delivered again, which at-least-once delivery allows.
            self.counters.errors += len(result.failed)

    # -- undecodable messages ----------------------------------------------------------------------
    async def _dead_letter_message(self, message: Message, record: dict[str, Any],
                                   reason: str) -> None:
        queue, destination = self._dead_letter
        if queue is None and destination is None:
            self.counters.errors += 1
            log.error("undecodable message left in the queue: no dead-letter queue is configured",
                      mapping=self.uuid, message_id=message.message_id, reason=reason)
            return
        body, encoded = _sendable_body(message.body)
        try:
            if destination is not None and not isinstance(destination, QueueDestination):
                if encoded:
                    record = {**record, "body": body}
                await destination.deliver({"errorCode": "InvalidMessageBody",
                                           "errorMessage": reason[:_ERROR_MESSAGE_LIMIT],
                                           "record": record})
            else:
                backend, name = ((destination.backend, destination.queue)
                                 if isinstance(destination, QueueDestination)
                                 else (self.backend, queue))
                assert name is not None
                await _send_with_reason(backend, name, message, body, encoded, reason)
        except Exception as exc:
            self.counters.errors += 1
            log.error("could not dead-letter an undecodable message; it stays in the queue",
                      mapping=self.uuid, message_id=message.message_id, error=repr(exc))
            return
        self.counters.dead_lettered += 1
        with anyio.CancelScope(shield=True):
            await self._delete([message.receipt_handle])


def _sendable_body(body: Any) -> tuple[str, bool]:
    """The body as it can be sent to a queue: as is, or base64 of its bytes (``True``)."""
    if isinstance(body, str):
        try:
            validate_body(body)
            return body, False
        except (QueueError, ValueError):
            raw = body.encode("utf-8", "surrogateescape") if body else b""
    elif isinstance(body, bytes | bytearray):
        raw = bytes(body)
    else:
        raw = str(body).encode("utf-8", "surrogateescape")
    return base64.b64encode(raw).decode() or "=", True


async def _send_with_reason(backend: QueueBackend, queue: str, message: Message, body: str,
                            encoded: bool, reason: str) -> None:
    extra: dict[str, MessageAttributeValue] = {}
    if encoded:
        extra["BodyEncoding"] = MessageAttributeValue("String", "base64")
    kept = dict(sorted(message.message_attributes.items()))
    room = _MAX_ATTRIBUTES - 2 - len(extra)
    if len(kept) > room:
        dropped = list(kept)[room:]
        kept = dict(list(kept.items())[:room])
        reason = f"{reason} (message attributes left out to fit the reason: {', '.join(dropped)})"
    attributes = {**kept, **extra,
                  "ErrorCode": MessageAttributeValue("String", "InvalidMessageBody"),
                  "ErrorMessage": MessageAttributeValue("String",
                                                        reason[:_ERROR_MESSAGE_LIMIT])}
    config = await backend.get_queue_config(queue)
    fifo = config.fifo
    await backend.send(queue, body, message_attributes=attributes,
                       group_id=(message.group_id or "dead-letter") if fifo else message.group_id,
                       deduplication_id=message.message_id if fifo else None)
