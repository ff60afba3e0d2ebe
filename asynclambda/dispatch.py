"""Asynchronous invocation: the event queue, Lambda's retry policy, destinations and dead letters.

``await rt.invoke(name, payload, invocation_type="Event")`` puts a :class:`QueuedEvent` in the
runtime's :class:`EventQueue` and returns 202 at once. The :class:`AsyncDispatcher` (a runtime
component) takes due events, invokes the function through its pool, and decides with
:mod:`asynclambda.retries` what happens next:

* success: the on-success destination gets Lambda's record (condition ``Success``);
* a function error (timeouts included): retried after 1 min, then 2 min, up to
  ``maximum_retry_attempts`` (a handler's ``Retry(delay=...)`` changes the delay, not the bounds);
* a throttle or system error: retried with backoff from 1 s to 5 min, not using up attempts;
* out of attempts (``RetriesExhausted``) or too old (``EventAgeExceeded``): the on-failure
  destination gets Lambda's record and/or the dead-letter queue gets the event with
  ``RequestID`` / ``ErrorCode`` / ``ErrorMessage``; with neither configured the event is dropped
  and counted (``AsyncEventsDropped``), as Lambda does;
* an event chain that reaches the same function for the 17th time is stopped
  (``RecursiveInvocationException``, failure path) unless the function allows recursive loops.

Every accepted event ends in exactly one of: success, failure path, or a counted drop. A
destination that fails is retried and counted (``DestinationDeliveryFailures`` /
``DeadLetterErrors``) and its record kept in :attr:`AsyncDispatcher.undeliverable`.
"""

from __future__ import annotations

import abc
import asyncio
import contextvars
import datetime as _dt
import heapq
import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

from asynclambda import retries
from asynclambda.errors import (
    LambdaServiceError,
    RecursiveInvocationException,
    TooManyRequestsException,
)
from asynclambda.execution import Invocation, current_invocation

if TYPE_CHECKING:
    from asynclambda.config import EventInvokeConfig
    from asynclambda.invocation import InvocationResult
    from asynclambda.runtime import Runtime
    from asynclambda.types import Clock, Timer

__all__ = [
    "MAX_RECURSION",
    "TRACE_HEADER",
    "AsyncDispatcher",
    "AsyncStatistics",
    "EventQueue",
    "EventQueueFull",
    "MemoryEventQueue",
    "QueuedEvent",
    "continue_lineage",
    "current_lineage",
    "delivery_lineage",
    "lineage_header",
    "merge_lineages",
    "parse_lineage",
]

#: Lambda stops an event chain that invokes the same function more than this many times.
MAX_RECURSION: Final = 16
#: Attempts at delivering one record to a destination before it counts as undeliverable.
DELIVERY_ATTEMPTS: Final = 3
_ERROR_MESSAGE_LIMIT: Final = 1024

#: The event chain a destination delivery belongs to (read by ``Runtime.invoke``).
delivery_lineage: contextvars.ContextVar[Mapping[str, int] | None] = contextvars.ContextVar(
    "asynclambda_delivery_lineage", default=None)

_encode = msgspec.json.Encoder(decimal_format="number").encode
_decode = msgspec.json.decode


def current_lineage() -> dict[str, int] | None:
    """The event chain the running code belongs to: the invocation it serves (that function
    counted once more than its own chain says, if the chain started with it), or the
    destination delivery in progress; ``None`` outside both."""
    parent = current_invocation.get()
    if parent is not None:
        lineage = parent._lineage
        return dict(lineage) if lineage else {parent.function_name: 1}
    lineage = delivery_lineage.get()
    return dict(lineage) if lineage else None


def continue_lineage(lineage: Mapping[str, int] | None, function: str,
                     recursive_loop: str) -> dict[str, int]:
    """One more hop of ``function`` on ``lineage``; past 16 hops of one function (and unless it
    allows recursive loops) Lambda stops the chain: ``RecursiveInvocationException``."""
    chain = dict(lineage) if lineage else {}
    hops = chain[function] = chain.get(function, 0) + 1
    if hops > MAX_RECURSION and recursive_loop == "Terminate":
        raise RecursiveInvocationException(
            f"Function {function} was invoked more than {MAX_RECURSION} times in one event "
            "chain: Lambda detected a recursive loop and stopped this invocation "
            "(set recursive_loop='Allow' on the function to let it run)")
    return chain


#: The X-Ray trace header field Lambda's loop detection reads on messages (``AWSTraceHeader``).
TRACE_HEADER: Final = "AWSTraceHeader"


def lineage_header(chain: Mapping[str, int]) -> str:
    """An ``AWSTraceHeader`` value carrying ``chain`` in its ``Lineage`` field.

    Lambda writes the chain as hashed function ids; here the function names stand in their
    place (``Lineage=orders:3|audit:1``), so a message shows which functions it went through.
    """
    return "Sampled=0;Lineage=" + "|".join(f"{name}:{hops}" for name, hops in chain.items())


def parse_lineage(header: str) -> dict[str, int] | None:
    """The chain in an ``AWSTraceHeader`` value (``None`` if it carries none or is malformed)."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key != "Lineage":
            continue
        chain: dict[str, int] = {}
        for hop in value.split("|"):
            name, _, count = hop.rpartition(":")
            if not name or not count.isdigit():
                return None
            chain[name] = max(chain.get(name, 0), int(count))
        return chain
    return None


def merge_lineages(chains: Sequence[Mapping[str, int]]) -> dict[str, int] | None:
    """The longest chain per function over several messages (a batch continues them all)."""
    merged: dict[str, int] = {}
    for chain in chains:
        for name, hops in chain.items():
            if hops > merged.get(name, 0):
                merged[name] = hops
    return merged or None


class EventQueueFull(TooManyRequestsException):
    """The runtime's event queue is at capacity: the caller is throttled (429), as Lambda does."""

    def __init__(self, capacity: int) -> None:
        super().__init__(f"Rate Exceeded. EventQueueFull: the event queue holds its capacity "
                         f"of {capacity} events", "EventQueueFull")


class QueuedEvent(msgspec.Struct, kw_only=True):
    """An accepted asynchronous invocation, as it waits in the event queue (msgpack-safe)."""

    request_id: str
    function: str
    qualifier: str | None = None
    payload: bytes
    #: Wall-clock seconds when it was accepted (event age counts from here).
    enqueued_at: float
    #: Wall-clock seconds before which it must not run (retries wait here).
    not_before: float = 0.0
    #: Invocations made so far (Lambda's ``approximateInvokeCount`` after the last one).
    attempts: int = 0
    throttles: int = 0
    #: How many times each function has been reached in this event's chain (loop guard).
    chain: dict[str, int] = msgspec.field(default_factory=dict)
    client_context: dict[str, Any] | None = None
    last_status: int = 0
    last_version: str | None = None
    last_function_error: str | None = None
    last_response: bytes = b""


class AsyncStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """One function's asynchronous invocation counters (Lambda's async metrics, snake_case)."""

    received: int = 0
    succeeded: int = 0
    failed: int = 0
    dropped: int = 0
    retries: int = 0
    throttle_retries: int = 0
    recursive_loops_stopped: int = 0
    destination_delivery_failures: int = 0
    dead_letter_errors: int = 0
    event_age_ms_max: float = 0.0
    queued: int = 0
    in_flight: int = 0


class _Counters:
    __slots__ = (
        "age_max",
        "dead_letter_errors",
        "delivery_failures",
        "dropped",
        "failed",
        "in_flight",
        "queued",
        "received",
        "recursive",
        "retries",
        "succeeded",
        "throttle_retries",
    )

    def __init__(self) -> None:
        self.received = self.succeeded = self.failed = self.dropped = self.retries = 0
        self.throttle_retries = self.recursive = self.delivery_failures = 0
        self.dead_letter_errors = self.queued = self.in_flight = 0
        self.age_max = 0.0

    def snapshot(self) -> AsyncStatistics:
        return AsyncStatistics(
            received=self.received, succeeded=self.succeeded, failed=self.failed,
            dropped=self.dropped, retries=self.retries, throttle_retries=self.throttle_retries,
            recursive_loops_stopped=self.recursive,
            destination_delivery_failures=self.delivery_failures,
            dead_letter_errors=self.dead_letter_errors, event_age_ms_max=self.age_max * 1000.0,
            queued=self.queued, in_flight=self.in_flight)


# --- the event queue backend ------------------------------------------------------------------

class EventQueue(abc.ABC):
    """Where accepted asynchronous events wait. One consumer: the runtime's dispatcher.

    ``put`` is refused with :class:`EventQueueFull` past ``capacity``; ``requeue`` (a retry of
    an event already accepted) never is, so an accepted event is never lost to backpressure.
    Broker-backed implementations keep events across restarts; the in-memory one reports what it
    still holds at shutdown (:meth:`remaining`).
    """

    capacity: int

    @abc.abstractmethod
    async def put(self, event: QueuedEvent) -> None:
        """Accept a new event (raise :class:`EventQueueFull` when full)."""

    @abc.abstractmethod
    async def requeue(self, event: QueuedEvent) -> None:
        """Put an event back to run at ``event.not_before`` (a retry)."""

    @abc.abstractmethod
    async def take(self) -> list[QueuedEvent]:
        """Wait until at least one event is due, and return every due event (oldest first)."""

    async def done(self, event: QueuedEvent) -> None:  # noqa: B027 - optional hook
        """The event reached its end (success, failure path or drop): forget it."""

    @abc.abstractmethod
    def wake(self) -> None:
        """Make a pending :meth:`take` return (an empty list) now: the consumer is stopping."""

    @abc.abstractmethod
    async def remaining(self) -> list[QueuedEvent]:
        """Remove and return every event still queued (at shutdown)."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """Events waiting (due or not)."""


class MemoryEventQueue(EventQueue):
    """The embedded event queue: a deque of due events and a heap of delayed ones.

    Delayed events wake the consumer through one clock timer armed for the earliest of them.
    """

    def __init__(self, *, capacity: int = 100_000, clock: Clock | None = None) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            from asynclambda.errors import ConfigError

            raise ConfigError("event_queue.capacity", capacity, "must be a positive integer")
        self.capacity = capacity
        self.clock: Clock | None = clock
        self._ready: deque[QueuedEvent] = deque()
        self._delayed: list[tuple[float, int, QueuedEvent]] = []
        self._seq = itertools.count()
        self._waiter: asyncio.Future[None] | None = None
        self._timer: Timer | None = None

    def bind(self, clock: Clock) -> None:
        """Use the runtime's clock unless one was given."""
        if self.clock is None:
            self.clock = clock

    def __len__(self) -> int:
        return len(self._ready) + len(self._delayed)

    async def put(self, event: QueuedEvent) -> None:
        if len(self) >= self.capacity:
            raise EventQueueFull(self.capacity)
        self._add(event)

    async def requeue(self, event: QueuedEvent) -> None:
        self._add(event)

    def _add(self, event: QueuedEvent) -> None:
        clock = self.clock
        assert clock is not None, "MemoryEventQueue used before bind()"
        if event.not_before <= clock.time():
            self._ready.append(event)
            self._wake()
            return
        heapq.heappush(self._delayed, (event.not_before, next(self._seq), event))
        self._arm()

    def _arm(self) -> None:
        clock = self.clock
        if not self._delayed or clock is None:
            return
        when = self._delayed[0][0]
        due = clock.now() + (when - clock.time())
        timer = self._timer
        if timer is not None and timer.when <= due:
            return
        if timer is not None:
            timer.cancel()
        self._timer = clock.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._promote()
        self._arm()

    def _promote(self) -> None:
        clock = self.clock
        assert clock is not None
        now = clock.time()
        moved = False
        while self._delayed and self._delayed[0][0] <= now:
            self._ready.append(heapq.heappop(self._delayed)[2])
            moved = True
        if moved:
            self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def wake(self) -> None:
        self._wake()

    async def take(self) -> list[QueuedEvent]:
        self._promote()
        if not self._ready:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
            self._promote()
        out = list(self._ready)
        self._ready.clear()
        return out

    async def remaining(self) -> list[QueuedEvent]:
        out = list(self._ready) + [e for _, _, e in sorted(self._delayed)]
        self._ready.clear()
        self._delayed.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return out

    def pending_for(self, function: str) -> int:
        return (sum(1 for e in self._ready if e.function == function)
                + sum(1 for _, _, e in self._delayed if e.function == function))


# --- the dispatcher ---------------------------------------------------------------------------

class AsyncDispatcher:
    """Runs queued events through their functions and decides their fate (a runtime component)."""

    def __init__(self, runtime: Runtime, queue: EventQueue) -> None:
        self.runtime = runtime
        self.queue = queue
        self._counters: dict[str, _Counters] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._backlog: dict[str, deque[QueuedEvent]] = {}
        self._lanes: dict[str, int] = {}
        self._lane_total = 0
        self._run_done: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._stopping = False
        self._idle: asyncio.Event | None = None
        self._finishing: set[str] = set()
        #: Records no destination accepted after every attempt: ``(destination, record)``.
        self.undeliverable: deque[tuple[str, dict[str, Any]]] = deque(maxlen=1000)

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- component lifecycle --------------------------------------------------------------------
    async def start(self, runtime: Any) -> None:
        """Start taking events: the dispatcher's loop runs in the runtime's task group."""
        self._run_done = asyncio.Event()
        await self.runtime.start_task(self._run)

    async def aclose(self) -> None:
        """Stop taking events; let in-flight ones finish (grace period); report what is left."""
        self._stopping = True
        self.queue.wake()
        if self._run_done is not None:
            await self._run_done.wait()
        if self._tasks:
            await self._wait_tasks(self.runtime.shutdown_grace)
        for backlog in self._backlog.values():  # taken but never started: back to the queue
            while backlog:
                await self.queue.requeue(backlog.popleft())
        left = await self.queue.remaining()
        if left:
            per_function: dict[str, int] = {}
            for event in left:
                per_function[event.function] = per_function.get(event.function, 0) + 1
                c = self.counters(event.function)
                c.queued -= 1
                c.dropped += 1
            self.runtime.observer.warning(
                "dropping queued asynchronous events at shutdown (the in-memory event queue "
                "does not outlive the runtime)", dropped=len(left), per_function=per_function)

    async def _wait_tasks(self, grace: float) -> None:
        clock = self.runtime.clock
        deadline = clock.now() + grace
        timer = asyncio.ensure_future(clock.sleep_until(deadline))
        try:
            while self._tasks and not timer.done():
                await asyncio.wait([*self._tasks, timer], return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, *, task_status: Any) -> None:
        # Events wait in a per-function backlog and are run by *lanes*: tasks that each take
        # the next event when done with the last one, so a burst costs one task per lane, not
        # one per event. Lanes are capped by the runtime's concurrency limit only: past a
        # function's own limit the invocation is throttled and backs off, as Lambda does.
        # This loop runs in the runtime's task group; a lane that fails (an asynclambda bug)
        # makes it fail, which fails the runtime loudly (wait_idle() raises, not hangs).
        loop = asyncio.get_running_loop()
        task_status.started()
        try:
            while not self._stopping:
                events = await self.queue.take()
                if self._failure is not None:
                    raise self._failure
                for event in events:
                    backlog = self._backlog.get(event.function)
                    if backlog is None:
                        backlog = self._backlog[event.function] = deque()
                    backlog.append(event)
                for function, backlog in self._backlog.items():
                    if backlog:
                        self._add_lanes(function, backlog, loop)
            if self._failure is not None:
                raise self._failure
        finally:
            if self._run_done is not None:
                self._run_done.set()

    def _add_lanes(self, function: str, backlog: deque[QueuedEvent],
                   loop: asyncio.AbstractEventLoop) -> None:
        free = self.runtime.concurrency_limit - self._lane_total
        for _ in range(min(len(backlog), free)):
            self._lane_total += 1
            self._lanes[function] = self._lanes.get(function, 0) + 1
            task = loop.create_task(self._lane(function, backlog))
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    async def _lane(self, function: str, backlog: deque[QueuedEvent]) -> None:
        try:
            while backlog and not self._stopping:
                await self._process(backlog.popleft())
        finally:
            self._lanes[function] -= 1
            self._lane_total -= 1
            if not self._stopping:
                self._refill()

    def _refill(self) -> None:
        """A lane ended: if some function's backlog waits for lanes (the cap), start them."""
        if self._lane_total < self.runtime.concurrency_limit:
            loop = asyncio.get_running_loop()
            for function, backlog in self._backlog.items():
                if len(backlog) > self._lanes.get(function, 0):
                    self._add_lanes(function, backlog, loop)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            exc = task.exception()
            if exc is not None and self._failure is None:
                # A lane failed: asynclambda's bug. Fail loudly: the runtime records it (so
                # wait_idle() raises instead of hanging) and the dispatcher's loop re-raises it.
                self._failure = exc
                self.runtime.note_failure(exc)
                self.queue.wake()
        self._notify_idle()

    def wake_waiters(self) -> None:
        """Wake ``wait_idle()`` callers (the runtime failed: they must look again)."""
        if self._idle is not None:
            self._idle.set()
            self._idle = None

    # -- intake ---------------------------------------------------------------------------------
    async def accept(self, event: QueuedEvent) -> None:
        await self.queue.put(event)
        c = self.counters(event.function)
        c.received += 1
        c.queued += 1

    def counters(self, function: str) -> _Counters:
        c = self._counters.get(function)
        if c is None:
            c = self._counters[function] = _Counters()
        return c

    def statistics(self, function: str) -> AsyncStatistics:
        c = self._counters.get(function)
        return c.snapshot() if c is not None else AsyncStatistics()

    @property
    def busy(self) -> bool:
        """True while any event is queued (due or delayed) or being processed."""
        return bool(len(self.queue) or self._tasks
                    or any(self._backlog.values()))

    async def wait_idle(self) -> None:
        while self.busy:
            if self._failure is not None:
                return  # the runtime reports it
            if self._idle is None:
                self._idle = asyncio.Event()
            await self._idle.wait()

    def _notify_idle(self) -> None:
        if self._idle is not None and not self.busy:
            self._idle.set()
            self._idle = None

    # -- processing one event -------------------------------------------------------------------
    async def _process(self, event: QueuedEvent) -> None:
        c = self.counters(event.function)
        c.queued -= 1
        c.in_flight += 1
        try:
            await self._attempt(event, c)
        except asyncio.CancelledError:
            # Cut off at shutdown (past the grace period): counted, never silently gone.
            if event.request_id not in self._finishing:
                c.dropped += 1
                self.runtime.observer.warning(
                    "asynchronous event cut off at shutdown", function=event.function,
                    request_id=event.request_id)
            raise
        finally:
            c.in_flight -= 1
            self._finishing.discard(event.request_id)

    async def _attempt(self, event: QueuedEvent, c: _Counters) -> None:
        rt = self.runtime
        entry = rt._functions.get(event.function)
        if entry is None:  # the function was deleted while the event waited
            c.dropped += 1
            await self.queue.done(event)
            return
        config = rt.event_invoke_config(event.function, event.qualifier)
        now = rt.clock.time()
        age = now - event.enqueued_at
        if age > c.age_max:
            c.age_max = age
        if retries.age_exceeded(event.enqueued_at, now, config.maximum_event_age):
            await self._finish(event, config, "EventAgeExceeded", c)
            return
        if (event.chain.get(event.function, 0) > MAX_RECURSION
                and entry.config.recursive_loop == "Terminate"):
            c.recursive += 1
            event.last_status = 400
            event.last_function_error = None
            event.last_response = _encode({
                "errorMessage": (f"Function {event.function} was invoked more than "
                                 f"{MAX_RECURSION} times in one event chain: recursive loop "
                                 "stopped"),
                "errorType": "RecursiveInvocationException"})
            await self._finish(event, config, "RetriesExhausted", c)
            return
        if entry.reserved_concurrency == 0:
            # Lambda: a function whose reserved concurrency is 0 is always throttled, and its
            # asynchronous events go straight to the failure path, without retries.
            event.throttles += 1
            event.last_status = 429
            event.last_function_error = None
            event.last_response = _encode({
                "errorMessage": f"Rate Exceeded. Function {event.function} has reserved "
                                "concurrency 0",
                "errorType": "TooManyRequestsException",
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"})
            await self._finish(event, config, "RetriesExhausted", c)
            return
        pool, invoked_arn = entry.resolve(event.qualifier, rt.rng)
        inv = Invocation(event.payload, event.request_id, attempt=event.attempts + 1,
                         invoked_arn=invoked_arn, lineage=event.chain)
        try:
            result = await pool.invoke(inv)
        except LambdaServiceError as exc:  # throttled, or a system error: back off
            event.throttles += 1
            event.last_status = exc.status_code
            event.last_function_error = None
            event.last_response = _encode({"errorMessage": exc.message,
                                           "errorType": exc.error_type})
            decision = retries.after_throttle(throttles=event.throttles,
                                              enqueued_at=event.enqueued_at, now=rt.clock.time(),
                                              maximum_event_age=config.maximum_event_age)
            if decision.action == "retry":
                c.throttle_retries += 1
                await self._retry(event, decision.at, c)
            else:
                await self._finish(event, config, decision.condition, c)
            return
        event.attempts += 1
        event.last_status = result.status_code
        event.last_version = result.executed_version
        event.last_function_error = result.function_error
        event.last_response = result.raw_payload
        if result.function_error is None:
            await self._finish(event, config, "Success", c, result)
            return
        decision = retries.after_function_error(
            attempts=event.attempts, maximum_retry_attempts=config.maximum_retry_attempts,
            enqueued_at=event.enqueued_at, now=rt.clock.time(),
            maximum_event_age=config.maximum_event_age, requested_delay=result.retry_delay)
        if decision.action == "retry":
            c.retries += 1
            await self._retry(event, decision.at, c)
        else:
            await self._finish(event, config, decision.condition, c, result)

    async def _retry(self, event: QueuedEvent, at: float, c: _Counters) -> None:
        event.not_before = at
        c.queued += 1
        await self.queue.requeue(event)

    async def _finish(self, event: QueuedEvent, config: EventInvokeConfig, condition: str,
                      c: _Counters, result: InvocationResult | None = None) -> None:
        rt = self.runtime
        self._finishing.add(event.request_id)  # counted below, whatever happens next
        token = delivery_lineage.set(event.chain)
        try:
            if condition == "Success":
                c.succeeded += 1
                if config.on_success is not None:
                    record = self._record(event, condition)
                    if not await self._deliver(config.on_success, record):
                        c.delivery_failures += 1
                return
            dlq = rt.dead_letter_queue(event.function, event.qualifier)
            if config.on_failure is None and dlq is None:
                c.dropped += 1  # Lambda discards it: counted, never silent
                rt.observer.warning("asynchronous event dropped", function=event.function,
                                    request_id=event.request_id, condition=condition)
                return
            c.failed += 1
            if config.on_failure is not None:
                record = self._record(event, condition)
                if not await self._deliver(config.on_failure, record):
                    c.delivery_failures += 1
            if dlq is not None and not await self._deliver_dead_letter(dlq, event):
                c.dead_letter_errors += 1
        finally:
            delivery_lineage.reset(token)
            await self.queue.done(event)

    # -- records --------------------------------------------------------------------------------
    def _record(self, event: QueuedEvent, condition: str) -> dict[str, Any]:
        """Lambda's destination record (``version`` 1.0), exactly its field names."""
        rt = self.runtime
        version = event.last_version or "$LATEST"
        response_context: dict[str, Any] = {"statusCode": event.last_status or 200,
                                            "executedVersion": version}
        if event.last_function_error:
            response_context["functionError"] = event.last_function_error
        return {
            "version": "1.0",
            "timestamp": _iso(rt.clock.time()),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": rt.function_arn(event.function, version),
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": _decode(event.payload),
            "responseContext": response_context,
            "responsePayload": _decode(event.last_response) if event.last_response else None,
        }

    async def _deliver(self, destination: Any, record: dict[str, Any]) -> bool:
        return await self._with_retries(destination, lambda: destination.deliver(record), record)

    async def _deliver_dead_letter(self, destination: Any, event: QueuedEvent) -> bool:
        error = _decode(event.last_response) if event.last_response else {}
        message = str(error.get("errorMessage", "")) if isinstance(error, dict) else ""
        attributes = {
            "RequestID": {"dataType": "String", "stringValue": event.request_id},
            "ErrorCode": {"dataType": "Number", "stringValue": str(event.last_status or 200)},
            "ErrorMessage": {"dataType": "String",
                             "stringValue": message.encode()[:_ERROR_MESSAGE_LIMIT].decode(
                                 "utf-8", errors="ignore")},
        }
        dead = getattr(destination, "deliver_dead_letter", None)
        if dead is not None:
            return await self._with_retries(
                destination, lambda: dead(event.payload, attributes),
                {"body": _decode(event.payload), "messageAttributes": attributes})
        record = {"body": _decode(event.payload), "messageAttributes": attributes}
        return await self._with_retries(destination, lambda: destination.deliver(record), record)

    async def _with_retries(self, destination: Any, attempt: Any, record: dict[str, Any]) -> bool:
        clock = self.runtime.clock
        for n in range(DELIVERY_ATTEMPTS):
            try:
                await attempt()
                return True
            except Exception as exc:  # a destination failing must not lose the record
                self.runtime.observer.warning("destination delivery failed",
                                              destination=repr(destination), attempt=n + 1,
                                              error=repr(exc))
                if n + 1 < DELIVERY_ATTEMPTS and not self._stopping:
                    await clock.sleep(2.0 ** n)
        self.undeliverable.append((repr(destination), record))
        return False


def _iso(ts: float) -> str:
    dt = _dt.datetime.fromtimestamp(ts, _dt.UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
