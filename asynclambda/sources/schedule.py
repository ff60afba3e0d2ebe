"""Schedules (EventBridge Scheduler model) as a runtime component: invoke a function on time.

A :class:`Schedule` fires at the instants of its expression (``rate(...)``, ``cron(...)``,
``at(...)``, parsed by :mod:`asynclambda.sources.schedule_expr`, in ``timezone``, within
``start``/``end``), reading the runtime's clock, so tests run on a ``VirtualClock``. What it
follows from EventBridge Scheduler (User Guide "Schedule types", "Configuring a flexible time
window", "Configuring a dead-letter queue"; API ``CreateSchedule``, ``RetryPolicy``):

* **Target input.** The function gets ``input`` (a JSON value; default ``{}``). A string input is
  JSON text in which Scheduler's context attributes are replaced: ``<aws.scheduler.schedule-arn>``,
  ``<aws.scheduler.scheduled-time>``, ``<aws.scheduler.execution-id>``,
  ``<aws.scheduler.attempt-number>``. ``event_format="scheduled_event"`` sends EventBridge's
  classic ``Scheduled Event`` instead (``source`` ``aws.events``, ``detail-type``
  ``Scheduled Event``, ``time`` = the scheduled time, ``resources`` = the rule's ARN).
* **Flexible time window** (``flexible_window`` minutes, 1-1440): each invocation happens at a
  random delay within the window after the scheduled time (``rng``, default the runtime's).
* **Retry policy** (:class:`RetryPolicy`: ``maximum_retry_attempts`` 0-185, default 185;
  ``maximum_event_age`` 60-86400 s, default 86400): failed deliveries are retried with
  exponential backoff (1 s doubling to 5 min, jittered by ``rng``; *ours*: AWS publishes no
  numbers) until either runs out. Then the event goes to ``dead_letter`` with Scheduler's message
  attributes ``ERROR_CODE``, ``ERROR_MESSAGE``, ``EXECUTION_ID``, ``EXHAUSTED_RETRY_CONDITION``
  (``MaximumRetryAttempts`` | ``MaximumEventAgeInSeconds``), ``IS_PAYLOAD_TRUNCATED``,
  ``RETRY_ATTEMPTS``, ``SCHEDULED_TIME``, ``SCHEDULE_ARN``, ``TARGET_ARN``: a
  :class:`~asynclambda.destinations.QueueDestination` gets an SQS message whose body is the
  target input and whose message attributes are those; any other destination gets
  ``{"body": <input>, "attributes": {...}}``. Without a dead-letter queue the event is dropped
  and counted (``dropped``), as Scheduler drops it.
* **What counts as a failed delivery.** Scheduler invokes Lambda asynchronously, and so does the
  default ``invocation_type="Event"``: only the Invoke API's errors (throttling, a missing
  function) are retried by the scheduler; a function error follows the function's own
  asynchronous retry policy (2 retries by default) and its destinations, as on AWS.
  ``invocation_type="RequestResponse"`` (*ours*) waits for the function instead: a function
  error is then a failed delivery, retried under the schedule's policy (up to 185 times by
  default), and the overlap policies below see the invocation itself in flight.

Beyond EventBridge (*ours*):

* **Overlap policy** ``overlap``: ``"allow"`` (default: fires run concurrently, as on AWS),
  ``"skip"`` (a fire is skipped while the previous one is still in flight, retries included),
  ``"buffer_one"`` (at most one fire waits for the one in flight; further ones are skipped).
* **Catch-up** of fires missed while stopped or disabled, ``catch_up``: ``"none"`` (default),
  ``"latest"`` (only the most recent missed fire), ``"all"`` (every missed fire, in order, at most
  :data:`MAX_CATCH_UP`). The last fire time (and a rate's anchor) is kept in a
  :class:`ScheduleStore` (in memory by default; pass a persistent one to survive restarts).
  A caught-up event's age is counted from its catch-up, not from its scheduled time.
* A ``rate()`` without ``start`` is anchored at the schedule's first start (AWS: "starts invoking
  immediately"), kept in the store, so a restart keeps the phase.
"""

from __future__ import annotations

import abc
import collections
import datetime as _dt
import random
import re
import uuid as _uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import anyio
import msgspec
import structlog

from asynclambda._resource import AsyncResource
from asynclambda.clock import VirtualClock
from asynclambda.config import default_region
from asynclambda.destinations import Destination, QueueDestination, as_destination
from asynclambda.errors import (
    ConfigError,
    LambdaServiceError,
    ResourceNotFoundException,
    RuntimeClosedError,
)
from asynclambda.sources.mapping import check_bool, check_int, check_seconds
from asynclambda.sources.queue import MessageAttributeValue
from asynclambda.sources.schedule_expr import ScheduleExpression, flexible_delay, parse_schedule

if TYPE_CHECKING:
    from asynclambda.runtime import Runtime

__all__ = ["MAX_CATCH_UP", "MemoryScheduleStore", "RetryPolicy", "Schedule", "ScheduleConfig",
           "ScheduleRecord", "ScheduleStatistics", "ScheduleStore"]

log = structlog.get_logger("asynclambda.sources")

#: The most missed fires ``catch_up="all"`` replays (the most recent ones).
MAX_CATCH_UP = 10_000
_RETRY_FIRST, _RETRY_CAP = 1.0, 300.0
_RESYNC = 60.0  # on a real clock, re-read the wall clock at least this often while waiting
_NAME = re.compile(r"[0-9A-Za-z_.-]{1,64}")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_PLACEHOLDERS = ("<aws.scheduler.schedule-arn>", "<aws.scheduler.scheduled-time>",
                 "<aws.scheduler.execution-id>", "<aws.scheduler.attempt-number>")


class RetryPolicy(msgspec.Struct, frozen=True):
    """EventBridge Scheduler's ``RetryPolicy``: retry attempts (0-185) and the event's maximum
    age (60-86400 s), whichever runs out first. *Ours*: fractional seconds are accepted."""

    maximum_retry_attempts: int = 185
    maximum_event_age: float = 86_400

    def __post_init__(self) -> None:
        check_int("retry_policy.maximum_retry_attempts", self.maximum_retry_attempts, 0, 185)
        check_seconds("retry_policy.maximum_event_age", self.maximum_event_age, 60, 86_400)


def _epoch(field: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise ConfigError(field, value, "must be timezone-aware")
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(field, value, "must be an aware datetime or epoch seconds")
    return float(value)


def _utc(seconds: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(seconds, _dt.UTC)


class ScheduleConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A schedule's options (see the module docstring). ``start``/``end``: aware datetimes or
    epoch seconds; ``flexible_window``: minutes (``None`` = off)."""

    name: str
    expression: str
    function_name: str
    qualifier: str | None = None
    input: Any = None
    timezone: str = "UTC"
    start: Any = None
    end: Any = None
    flexible_window: int | None = None
    retry_policy: RetryPolicy = RetryPolicy()
    dead_letter: Any = None
    event_format: Literal["input", "scheduled_event"] = "input"
    overlap: Literal["allow", "skip", "buffer_one"] = "allow"
    catch_up: Literal["none", "latest", "all"] = "none"
    invocation_type: Literal["RequestResponse", "Event"] = "Event"
    enabled: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigError("name", self.name, "a schedule name is 1-64 characters of "
                              "[0-9A-Za-z_.-]")
        if not isinstance(self.function_name, str) or not self.function_name:
            raise ConfigError("function_name", self.function_name, "must name a function")
        msgspec.structs.force_setattr(self, "start", _epoch("start", self.start))
        msgspec.structs.force_setattr(self, "end", _epoch("end", self.end))
        self.parse()  # names the bad part of a bad expression, time zone or date
        if self.flexible_window is not None:
            check_int("flexible_window", self.flexible_window, 1, 1440)
        if not isinstance(self.retry_policy, RetryPolicy):
            raise ConfigError("retry_policy", self.retry_policy, "must be a RetryPolicy")
        for field, value, allowed in (
                ("event_format", self.event_format, ("input", "scheduled_event")),
                ("overlap", self.overlap, ("allow", "skip", "buffer_one")),
                ("catch_up", self.catch_up, ("none", "latest", "all")),
                ("invocation_type", self.invocation_type, ("RequestResponse", "Event"))):
            if value not in allowed:
                raise ConfigError(field, value, f"must be one of {', '.join(allowed)}")
        check_bool("enabled", self.enabled)
        self._check_input()
        target = self.dead_letter
        if target is not None and not isinstance(target, str) and not callable(
                getattr(target, "deliver", None)) and not callable(target):
            raise ConfigError("dead_letter", target, "must be a destination or a callable")

    def _check_input(self) -> None:
        if isinstance(self.input, str):
            try:
                _decode(self.input)
            except msgspec.DecodeError as exc:
                raise ConfigError("input", self.input, f"must be JSON text: {exc}") from None
        else:
            try:
                _encode(self.input)
            except (TypeError, ValueError) as exc:
                raise ConfigError("input", self.input, f"is not JSON-encodable: {exc}") from None

    def parse(self, anchor: float | None = None) -> ScheduleExpression:
        """The parsed expression; ``anchor`` anchors a ``rate()`` that has no ``start``."""
        start = self.start if self.start is not None else anchor
        return parse_schedule(self.expression, timezone=self.timezone,
                              start=None if start is None else _utc(start),
                              end=None if self.end is None else _utc(self.end))


class ScheduleRecord(msgspec.Struct, frozen=True):
    """What a :class:`ScheduleStore` keeps per schedule: the last fire time reached and the anchor
    of a ``rate()`` without ``start`` (epoch seconds)."""

    last_fire: float | None = None
    anchor: float | None = None


class ScheduleStore(AsyncResource, abc.ABC):
    """Where schedules keep their :class:`ScheduleRecord` (for catch-up across restarts)."""

    @abc.abstractmethod
    async def get(self, name: str) -> ScheduleRecord | None:
        """The schedule's record, or ``None`` if it never ran."""

    @abc.abstractmethod
    async def put(self, name: str, record: ScheduleRecord) -> None:
        """Store the schedule's record."""

    async def aclose(self) -> None:
        """Release resources. Idempotent."""



class MemoryScheduleStore(ScheduleStore):
    """Records in a dict (the default; share one between runtimes to simulate a restart)."""

    def __init__(self) -> None:
        self.records: dict[str, ScheduleRecord] = {}

    async def get(self, name: str) -> ScheduleRecord | None:
        return self.records.get(name)

    async def put(self, name: str, record: ScheduleRecord) -> None:
        self.records[name] = record


class ScheduleStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one schedule. ``fires``: scheduled instants reached (caught-up ones
    included); ``invocations``: invoke attempts; ``retries``: attempts after a failure;
    ``skipped`` / ``buffered``: fires handled by the overlap policy; ``caught_up``: missed fires
    replayed; ``dead_lettered`` / ``dropped``: events that ran out of retries, sent to the
    dead-letter queue or dropped without one; ``abandoned``: events given up because the schedule
    stopped (mid-window or between retries); ``next_fire`` / ``last_fire``: ISO-8601 UTC."""

    name: str
    state: str
    fires: int = 0
    invocations: int = 0
    succeeded: int = 0
    failed: int = 0
    retries: int = 0
    skipped: int = 0
    buffered: int = 0
    caught_up: int = 0
    dead_lettered: int = 0
    dropped: int = 0
    abandoned: int = 0
    in_flight: int = 0
    next_fire: str | None = None
    last_fire: str | None = None


_COUNTERS = ("fires", "invocations", "succeeded", "failed", "retries", "skipped", "buffered",
             "caught_up", "dead_lettered", "dropped", "abandoned", "in_flight")


class Schedule:
    """A schedule that invokes ``function_name``: a runtime component.

    ::

        Schedule(rt, name="nightly-report", expression="cron(0 2 * * ? *)",
                 function_name="report", timezone="Europe/Paris")

    Options are :class:`ScheduleConfig`'s. ``store`` keeps the last fire time (catch-up);
    ``rng`` drives flexible windows and retry jitter (default: the runtime's).
    """

    def __init__(self, runtime: Runtime | None = None, *, name: str, expression: str,
                 function_name: str, store: ScheduleStore | None = None,
                 rng: random.Random | None = None, **options: Any) -> None:
        unknown = set(options) - set(ScheduleConfig.__struct_fields__)
        if unknown:
            field = sorted(unknown)[0]
            raise ConfigError(field, options[field], "is not an option of a schedule")
        self.config = ScheduleConfig(name=name, expression=expression,
                                     function_name=function_name, **options)
        self.store: ScheduleStore = store if store is not None else MemoryScheduleStore()
        self.runtime: Runtime | None = None
        self._rng = rng
        self._expr: ScheduleExpression = self.config.parse()
        self._dead_letter: Destination | None = None
        self._state = "Creating"
        self._closed = False
        self._loop_scope: anyio.CancelScope | None = None
        self._scopes: set[anyio.CancelScope] = set()
        self._buffered: float | None = None
        self._next: float | None = None
        self._last: float | None = None
        self._anchor: float | None = None
        self._counts = dict.fromkeys(_COUNTERS, 0)
        if runtime is not None:
            if runtime.running:
                self._validate(runtime, self.config)
            runtime.add_component(self)

    # -- identity and checks ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state(self) -> str:
        """``Creating``, ``ENABLED``, ``DISABLED`` (Scheduler's names), ``Completed`` once a
        one-time or bounded schedule has no fire left, ``Deleted`` after ``aclose``."""
        return self._state

    def arn(self) -> str:
        rt = self.runtime
        region, account = (rt.region, rt.account_id) if rt else (default_region(), "000000000000")
        return f"arn:aws:scheduler:{region}:{account}:schedule/default/{self.name}"

    def _validate(self, runtime: Runtime, config: ScheduleConfig) -> None:
        try:
            runtime.get_function(config.function_name, config.qualifier)
        except ResourceNotFoundException:
            raise ConfigError("function_name", config.function_name,
                              "no such function (or version/alias) is registered") from None
        if config.dead_letter is not None:
            as_destination(config.dead_letter, runtime, field="dead_letter")

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, runtime: Runtime) -> None:
        """Component protocol: check the target, replay missed fires, start the fire loop."""
        if self.runtime is not None and self.runtime is not runtime:
            raise ConfigError("runtime", runtime, "this schedule is attached to another runtime")
        self.runtime = runtime
        self._validate(runtime, self.config)
        self._state = "DISABLED"
        if self.config.enabled and not self._closed:
            await self._begin()

    async def _begin(self) -> None:
        rt = self.runtime
        assert rt is not None
        cfg = self.config
        self._dead_letter = (None if cfg.dead_letter is None
                             else as_destination(cfg.dead_letter, rt, field="dead_letter"))
        now = rt.clock.time()
        record = await self.store.get(self.name) or ScheduleRecord()
        anchor = record.anchor
        if cfg.start is None and self._is_rate():
            anchor = anchor if anchor is not None else now
        self._expr = cfg.parse(anchor)
        cursor = now
        if record.last_fire is not None:
            self._last = record.last_fire
            missed = self._missed(record.last_fire, now)
            self._counts["caught_up"] += len(missed)
            for fire in missed:
                self._fire(fire, caught_up=True)
        elif anchor is not None and anchor >= now - 1e-6 and cfg.start is None:
            cursor = anchor - 1e-3  # a new rate() starts invoking immediately
        await self.store.put(self.name, ScheduleRecord(self._last, anchor))
        self._anchor = anchor
        self._state = "ENABLED"
        scope = self._loop_scope = anyio.CancelScope()
        rt.spawn(self._loop, scope, cursor)

    def _is_rate(self) -> bool:
        return self.config.expression.strip().startswith("rate(")

    def _missed(self, last: float, now: float) -> list[float]:
        policy = self.config.catch_up
        if policy == "none":
            return []
        fires = self._expr.fires_between(_utc(last), _utc(now))
        if policy == "latest":
            latest = None
            for latest in fires:  # noqa: B007 - only the last one is wanted
                pass
            return [] if latest is None else [latest.timestamp()]
        return [f.timestamp() for f in collections.deque(fires, maxlen=MAX_CATCH_UP)]

    async def aclose(self) -> None:
        """Component protocol: stop firing. An invocation under way finishes; pending retries
        and flexible-window waits are given up (counted in ``abandoned``)."""
        self._closed = True
        self._stop()
        self._state = "Deleted"

    def _stop(self) -> None:
        if self._loop_scope is not None:
            self._loop_scope.cancel()
            self._loop_scope = None
        for scope in list(self._scopes):
            scope.cancel()
        self._next = None
        if self._buffered is not None:  # a fire waiting for its turn: given up, and counted
            self._buffered = None
            self._counts["abandoned"] += 1

    async def disable(self) -> None:
        """Stop firing (``DISABLED``); fires missed meanwhile follow ``catch_up`` on enable."""
        self.config = msgspec.structs.replace(self.config, enabled=False)
        if self._state == "ENABLED":
            self._stop()
            self._state = "DISABLED"

    async def enable(self) -> None:
        if self._closed:
            raise ConfigError("enabled", True, "the schedule was closed (deleted)")
        self.config = msgspec.structs.replace(self.config, enabled=True)
        if self.runtime is not None and self.runtime.running and self._state != "ENABLED":
            await self._begin()

    async def update(self, **changes: Any) -> ScheduleConfig:
        """Change options (validated first); the fire loop restarts with them."""
        unknown = set(changes) - set(ScheduleConfig.__struct_fields__) - {"name"}
        if unknown or "name" in changes:
            field = sorted(unknown | ({"name"} & set(changes)))[0]
            raise ConfigError(field, changes[field], "is not an option that can be updated")
        new = msgspec.structs.replace(self.config, **changes)
        if self.runtime is not None:
            self._validate(self.runtime, new)
        running = self._state == "ENABLED"
        if running:
            self._stop()
            self._state = "DISABLED"
        self.config = new
        self._expr = new.parse(self._anchor)
        if new.enabled and self.runtime is not None and self.runtime.running:
            await self._begin()
        return self.config

    # -- firing --------------------------------------------------------------------------------
    @contextmanager
    def _guard(self) -> Iterator[anyio.CancelScope]:
        scope = anyio.CancelScope()
        self._scopes.add(scope)
        try:
            with scope:
                yield scope
        finally:
            self._scopes.discard(scope)

    async def _sleep_until(self, when: float) -> bool:
        """Wait for wall time ``when`` on the runtime's clock; ``False`` if stopped first."""
        rt = self.runtime
        assert rt is not None
        clock = rt.clock
        while True:
            left = when - clock.time()
            if left <= 1e-6:
                return True
            # A virtual clock's two readings move together: one timer per fire. On a real clock
            # the wall clock can be adjusted, so it is re-read at least every minute.
            step = left if isinstance(clock, VirtualClock) else min(left, _RESYNC)
            with self._guard() as scope:
                await clock.sleep(step)
            if scope.cancel_called:
                return False

    async def _loop(self, scope: anyio.CancelScope, cursor: float) -> None:
        with scope:
            while True:
                nxt = self._expr.next_fire(_utc(cursor))
                if nxt is None:
                    self._next = None
                    self._state = "Completed"
                    return
                when = self._next = nxt.timestamp()
                if not await self._sleep_until(when):
                    return
                cursor = when
                self._last = when
                await self.store.put(self.name, ScheduleRecord(when, self._anchor))
                self._fire(when)

    def _fire(self, scheduled: float, *, caught_up: bool = False) -> None:
        c = self._counts
        c["fires"] += 1
        if c["in_flight"] and self.config.overlap == "skip":
            c["skipped"] += 1
            return
        if c["in_flight"] and self.config.overlap == "buffer_one":
            if self._buffered is None:
                c["buffered"] += 1
                self._buffered = scheduled
            else:
                c["skipped"] += 1
            return
        c["in_flight"] += 1
        assert self.runtime is not None
        self.runtime.spawn(self._dispatch, scheduled, caught_up)

    def _rng_(self) -> random.Random:
        if self._rng is not None:
            return self._rng
        assert self.runtime is not None
        return self.runtime.rng

    async def _dispatch(self, scheduled: float, caught_up: bool) -> None:
        try:
            await self._deliver(scheduled, caught_up)
        finally:
            self._counts["in_flight"] -= 1
            buffered = self._buffered
            if buffered is not None and not self._counts["in_flight"] and self._state == "ENABLED":
                self._buffered = None
                self._counts["in_flight"] += 1
                assert self.runtime is not None
                self.runtime.spawn(self._dispatch, buffered, False)

    async def _deliver(self, scheduled: float, caught_up: bool) -> None:
        rt = self.runtime
        assert rt is not None
        cfg, c, clock, rng = self.config, self._counts, rt.clock, self._rng_()
        born = clock.time() if caught_up else scheduled
        if cfg.flexible_window and not caught_up and not await self._sleep_until(
                scheduled + flexible_delay(cfg.flexible_window, rng)):
            c["abandoned"] += 1
            return
        execution_id = str(_uuid.UUID(int=rng.getrandbits(128), version=4))
        attempt, delay = 0, _RETRY_FIRST
        while True:
            attempt += 1
            payload = self._payload(scheduled, execution_id, attempt)
            try:
                result = await rt.invoke(cfg.function_name, payload, qualifier=cfg.qualifier,
                                         invocation_type=cfg.invocation_type)
            except RuntimeClosedError:
                c["abandoned"] += 1
                return
            except LambdaServiceError as exc:
                error = (exc.error_type, exc.message)
            else:
                c["invocations"] += 1
                if result.function_error is None:
                    c["succeeded"] += 1
                    return
                err = result.error or {}
                error = (str(err.get("errorType", "Unhandled")), str(err.get("errorMessage", "")))
            wait = min(delay, _RETRY_CAP) * (0.5 + rng.random() / 2)
            if attempt - 1 >= cfg.retry_policy.maximum_retry_attempts:
                condition = "MaximumRetryAttempts"
            elif clock.time() + wait - born > cfg.retry_policy.maximum_event_age:
                condition = "MaximumEventAgeInSeconds"
            else:
                c["retries"] += 1
                delay *= 2
                if not await self._sleep_until(clock.time() + wait):
                    c["abandoned"] += 1
                    return
                continue
            await self._dead_letter_event(payload, error, condition, attempt - 1, scheduled,
                                          execution_id)
            return

    def _payload(self, scheduled: float, execution_id: str, attempt: int) -> bytes:
        cfg = self.config
        rt = self.runtime
        assert rt is not None
        if cfg.event_format == "scheduled_event":
            return _encode({
                "version": "0",
                "id": execution_id,
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": rt.account_id,
                "time": _utc(scheduled).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": rt.region,
                "resources": [f"arn:aws:events:{rt.region}:{rt.account_id}:rule/{self.name}"],
                "detail": {},
            })
        if isinstance(cfg.input, str):
            text = cfg.input
            values = (self.arn(), _utc(scheduled).strftime("%Y-%m-%dT%H:%M:%SZ"), execution_id,
                      str(attempt))
            for placeholder, value in zip(_PLACEHOLDERS, values, strict=True):
                text = text.replace(placeholder, value)
            return text.encode()
        return _encode({} if cfg.input is None else cfg.input)

    async def _dead_letter_event(self, payload: bytes, error: tuple[str, str], condition: str,
                                 retries: int, scheduled: float, execution_id: str) -> None:
        rt = self.runtime
        assert rt is not None
        c = self._counts
        c["failed"] += 1
        destination = self._dead_letter
        if destination is None:
            c["dropped"] += 1
            log.warning("scheduled event dropped: retries exhausted and no dead-letter queue",
                        schedule=self.name, condition=condition, error=error[0])
            return
        attributes = {
            "ERROR_CODE": error[0] or "Unhandled",
            "ERROR_MESSAGE": (error[1] or error[0])[:1024],
            "EXECUTION_ID": execution_id,
            "EXHAUSTED_RETRY_CONDITION": condition,
            "IS_PAYLOAD_TRUNCATED": "false",
            "RETRY_ATTEMPTS": str(retries),
            "SCHEDULED_TIME": _utc(scheduled).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "SCHEDULE_ARN": self.arn(),
            "TARGET_ARN": rt.function_arn(self.config.function_name, self.config.qualifier),
        }
        try:
            if isinstance(destination, QueueDestination):
                await destination.backend.send(
                    destination.queue, payload.decode(),
                    message_attributes={k: MessageAttributeValue("String", v)
                                        for k, v in attributes.items()})
            else:
                await destination.deliver({"body": _decode(payload), "attributes": attributes})
        except Exception as exc:
            c["dropped"] += 1
            log.error("scheduled event dropped: the dead-letter queue refused it",
                      schedule=self.name, error=repr(exc))
            return
        c["dead_lettered"] += 1

    # -- statistics ----------------------------------------------------------------------------
    def statistics(self) -> ScheduleStatistics:
        def iso(ts: float | None) -> str | None:
            return None if ts is None else _utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")

        return ScheduleStatistics(name=self.name, state=self._state, next_fire=iso(self._next),
                                  last_fire=iso(self._last), **self._counts)

    def __repr__(self) -> str:
        return f"<Schedule {self.name} {self.config.expression} {self._state}>"
