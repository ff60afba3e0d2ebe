"""What every event source mapping shares: lifecycle, enable/disable/update, statistics, checks.

An event source mapping is the poller between a source (a queue, a stream) and a function. It is
a runtime *component*: the runtime calls :meth:`EventSourceMapping.start` when it starts (or at
once, when the mapping is added to a running runtime) and :meth:`EventSourceMapping.aclose` first
when it closes. Lifecycle, as Lambda's ``State``:

* ``Creating`` until started; then ``Enabled`` (polling) or ``Disabled``;
* :meth:`~EventSourceMapping.disable` stops *intake* (no new receive or read, no new batch)
  promptly; batches already being invoked finish and their outcome (delete, checkpoint) is
  applied; :meth:`~EventSourceMapping.enable` resumes;
* :meth:`~EventSourceMapping.update` changes options while running (validated first; a bad value
  raises :class:`~asynclambda.errors.ConfigError` and changes nothing);
* ``aclose`` is ``disable`` for good (``Deleting``, then ``Deleted`` once in-flight work ended).

Subclasses implement ``_prepare`` (check the source, called by ``start`` and before every
enable) and ``_poll`` (the intake loop, run in the mapping's task group; batches it starts run
in the same group). Intake waits go through :meth:`~EventSourceMapping._intake` so that
stopping cancels them and nothing else.
"""

from __future__ import annotations

import abc
import math
import uuid as _uuid
from collections.abc import Coroutine, Generator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import anyio
import anyio.abc
import msgspec
import structlog

from asynclambda.errors import ConfigError, ResourceNotFoundException
from asynclambda.sources.filters import FilterCriteria
from asynclambda.sources.keyed import KeyedLimiter

if TYPE_CHECKING:
    from asynclambda.config import FunctionConfig
    from asynclambda.runtime import Runtime

__all__ = ["EventSourceMapping", "MappingStatistics", "coerce_filter_criteria"]

log = structlog.get_logger("asynclambda.sources")

C = TypeVar("C", bound=msgspec.Struct)
T = TypeVar("T")

#: Throttle and error backoff: first delay and cap, in seconds of the runtime's clock (*ours*:
#: Lambda does not publish its pollers' backoff).
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 30.0


def check_int(field: str, value: Any, low: int, high: int, *, also: Sequence[int] = ()) -> None:
    """Raise ``ConfigError`` unless ``value`` is an int in ``low..high`` (or one of ``also``)."""
    if isinstance(value, bool) or not isinstance(value, int) or (
            value not in also and not low <= value <= high):
        extra = "".join(f"{v} or " for v in also)
        raise ConfigError(field, value, f"must be an integer, {extra}between {low} and {high}")


def check_seconds(field: str, value: Any, low: float, high: float, *,
                  also: Sequence[float] = ()) -> None:
    """Raise ``ConfigError`` unless ``value`` is a finite number of seconds in range.

    *Ours*: fractional seconds are accepted (Lambda takes whole seconds), for fast tests.
    """
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value not in also and not low <= value <= high):
        extra = "".join(f"{v:g} or " for v in also)
        raise ConfigError(field, value, f"must be seconds, {extra}between {low:g} and {high:g}")


def check_bool(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(field, value, "must be True or False")


def coerce_filter_criteria(value: Any) -> FilterCriteria | None:
    """``None``, a :class:`FilterCriteria`, Lambda's ``{"Filters": [...]}``, one pattern (a dict
    or JSON string), or a list of patterns -> ``FilterCriteria`` (``None`` when there are none)."""
    if value is None:
        return None
    if isinstance(value, FilterCriteria):
        criteria = value
    elif isinstance(value, str | Mapping):
        criteria = FilterCriteria(value)
    elif isinstance(value, list | tuple):
        criteria = FilterCriteria(*value)
    else:
        raise ConfigError("filter_criteria", value,
                          "must be a FilterCriteria, a pattern, or a list of patterns")
    return criteria if len(criteria) else None


class MappingStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one mapping (counters run from its creation).

    ``batches``: batches formed; ``invocations``: invokes that reached the function (retries and
    bisected halves included); ``records``: messages received / records read; ``succeeded``:
    records completed by a successful invocation; ``failed``: records of failed invocations
    (counted per attempt); ``retries``: invocations that repeated records after a failure;
    ``filtered``: records dropped by the filter criteria; ``dead_lettered``: messages sent to the
    dead-letter queue by the mapping (undecodable bodies); ``discarded``: stream records dropped
    after retries or age ran out; ``throttles``: invokes refused with
    ``TooManyRequestsException``; ``errors``: other invoke errors (the function is gone, ...);
    ``in_flight``: batches being processed now; ``iterator_age_ms``: streams' ``IteratorAge``,
    how old the last record of the last processed batch was when it finished;
    ``destination_deliveries`` / ``destination_failures``: on-failure records sent / refused;
    ``recursive_loops_stopped``: messages not delivered because their event chain already ran
    the function 16 times (Lambda's loop detection; they return to the queue and its redrive
    policy moves them to the dead-letter queue).
    """

    uuid: str
    state: str
    function_name: str
    batches: int = 0
    invocations: int = 0
    records: int = 0
    succeeded: int = 0
    failed: int = 0
    retries: int = 0
    filtered: int = 0
    dead_lettered: int = 0
    discarded: int = 0
    throttles: int = 0
    errors: int = 0
    in_flight: int = 0
    iterator_age_ms: int = 0
    destination_deliveries: int = 0
    destination_failures: int = 0
    recursive_loops_stopped: int = 0


class _Counters:
    """The mutable counters behind :class:`MappingStatistics` (one attribute per field)."""

    __slots__ = ("batches", "dead_lettered", "destination_deliveries", "destination_failures",
                 "discarded", "errors", "failed", "filtered", "in_flight", "invocations",
                 "iterator_age_ms", "records", "recursive_loops_stopped", "retries", "succeeded",
                 "throttles")

    def __init__(self) -> None:
        self.batches = self.invocations = self.records = self.succeeded = self.failed = 0
        self.retries = self.filtered = self.dead_lettered = self.discarded = 0
        self.throttles = self.errors = self.in_flight = self.iterator_age_ms = 0
        self.destination_deliveries = self.destination_failures = 0
        self.recursive_loops_stopped = 0


async def run_shielded(coro: Coroutine[Any, Any, T]) -> T:
    """``with anyio.CancelScope(shield=True): return await coro``, without the scope when ``coro``
    finishes without suspending (the memory backends' deletes and checkpoints do): a cancellation
    reaches a task only where it suspends, so there is nothing to shield, and a shielded scope
    costs ~4 us. Once ``coro`` suspends, the rest of it runs in the shielded scope."""
    try:
        first = coro.send(None)
    except StopIteration as stop:
        done: T = stop.value
        return done
    with anyio.CancelScope(shield=True):
        result = await _Resumed(coro, first)
    return result


class _Resumed(Generic[T]):
    """Awaits a coroutine that already ran up to its first suspension (``first``: what it
    yielded there), as ``await`` would have carried on: values and exceptions go in, its
    suspensions come out, its return value is the result."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, T], first: Any) -> None:
        self._coro = coro
        self._first = first

    def __await__(self) -> Generator[Any, Any, T]:
        coro, value = self._coro, self._first
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    result: T = stop.value
                    return result
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    result = stop.value
                    return result


class _IntakeScope:
    """``EventSourceMapping._intake()``: what a ``@contextmanager`` generator did (enter a cancel
    scope registered with the mapping, pre-cancelled once intake is closed; unregister it on the
    way out), as a plain class: a generator-based context manager costs ~1 us more per wait."""

    __slots__ = ("_mapping", "_scope")

    def __init__(self, mapping: EventSourceMapping[Any]) -> None:
        self._mapping = mapping
        self._scope = anyio.CancelScope()

    def __enter__(self) -> anyio.CancelScope:
        scope, mapping = self._scope, self._mapping
        if not mapping._intake_open:
            scope.cancel()
        mapping._scopes.add(scope)
        try:
            scope.__enter__()
        except BaseException:
            mapping._scopes.discard(scope)
            raise
        return scope

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool | None:
        try:
            return self._scope.__exit__(exc_type, exc, tb)
        finally:
            self._mapping._scopes.discard(self._scope)


class EventSourceMapping(abc.ABC, Generic[C]):
    """Base class of the mappings: a runtime component with Lambda's mapping lifecycle.

    ``config`` is the mapping's frozen configuration (a msgspec Struct whose ``__post_init__``
    validates every field). Pass ``runtime`` to attach the mapping at once
    (``runtime.add_component(self)``), or attach it yourself.
    """

    #: Options whose change needs the intake restarted (stream shards re-partitioned, ...).
    _RESTART_FIELDS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: C, runtime: Runtime | None = None, *,
                 uuid: str | None = None) -> None:
        self.config: C = config
        self.uuid = uuid if uuid is not None else str(_uuid.uuid4())
        self.runtime: Runtime | None = None
        self.limiter = KeyedLimiter()
        self.counters = _Counters()
        self._state = "Creating"
        self._closed = False
        self._intake_open = False
        self._scopes: set[anyio.CancelScope] = set()
        self._done: anyio.Event | None = None  # set when the current run has fully ended
        self._tg: anyio.abc.TaskGroup | None = None
        self._late = False
        #: Why the mapping is in its state, as Lambda's ``StateTransitionReason``.
        self.state_transition_reason = "USER_INITIATED"
        if runtime is not None:
            if runtime.running:
                self._function_config(runtime)
                # Its start runs in the runtime's task group, where an exception would end the
                # whole runtime: a source that cannot be used leaves this mapping disabled.
                self._late = True
            runtime.add_component(self)

    # -- what subclasses provide -----------------------------------------------------------
    @abc.abstractmethod
    async def _prepare(self, runtime: Runtime) -> None:
        """Check the source and get ready to poll (raise ``ConfigError`` if impossible)."""

    @abc.abstractmethod
    async def _poll(self, tg: anyio.abc.TaskGroup) -> None:
        """The intake loop; returns when intake stops. Start batches with ``tg.start_soon``."""

    def _config_changed(self, old: C) -> None:
        """Apply a configuration change that needs no restart (called by :meth:`update`)."""

    # -- identity ----------------------------------------------------------------------------
    @property
    def function_name(self) -> str:
        return str(self.config.function_name)  # type: ignore[attr-defined]

    @property
    def qualifier(self) -> str | None:
        q = self.config.qualifier  # type: ignore[attr-defined]
        return None if q is None else str(q)

    @property
    def state(self) -> str:
        """Lambda's mapping state: Creating, Enabled, Disabled, Deleting, Deleted."""
        return self._state

    def _function_config(self, runtime: Runtime) -> FunctionConfig:
        try:
            return runtime.get_function(self.function_name, self.qualifier)
        except ResourceNotFoundException:
            qualified = self.function_name + (f":{self.qualifier}" if self.qualifier else "")
            raise ConfigError("function_name", qualified,
                              "no such function (or version/alias) is registered") from None

    def _validate(self, runtime: Runtime, config: C) -> None:
        """Check ``config`` against the runtime (the function exists, ...); raise ``ConfigError``.

        Called by :meth:`start` and :meth:`update`; subclasses add their own checks.
        """
        previous, self.config = self.config, config
        try:
            self._function_config(runtime)
        finally:
            self.config = previous

    def function_arn(self) -> str:
        assert self.runtime is not None
        return self.runtime.function_arn(self.function_name, self.qualifier)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, runtime: Runtime) -> None:
        """Component protocol: bind to ``runtime``, check function and source, start polling."""
        if self.runtime is not None and self.runtime is not runtime:
            raise ConfigError("runtime", runtime, "this mapping is attached to another runtime")
        self.runtime = runtime
        try:
            await self._prepare(runtime)
            self._validate(runtime, self.config)
        except ConfigError as exc:
            if not self._late:
                raise
            self._state = "Disabled"
            self.state_transition_reason = f"PROBLEM: {exc}"
            log.error("event source mapping cannot start", mapping=self.uuid, error=str(exc))
            return
        enabled = bool(self.config.enabled)  # type: ignore[attr-defined]
        self._state = "Disabled"
        if enabled and not self._closed:
            self._launch()

    def _launch(self) -> None:
        assert self.runtime is not None
        self._state = "Enabled"
        self._intake_open = True
        done = self._done = anyio.Event()
        self.runtime.spawn(self._run, done)

    async def _run(self, done: anyio.Event) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                await self._poll(tg)
        finally:
            self._tg = None
            done.set()
            if self._closed:
                self._state = "Deleted"

    def _stop_intake(self) -> None:
        self._intake_open = False
        for scope in list(self._scopes):
            scope.cancel()

    def _intake(self) -> _IntakeScope:
        """A cancel scope around a wait for new work; stopping the mapping cancels it.

        Check ``scope.cancel_called`` (or :attr:`intake_open`) after the ``with`` block.
        """
        return _IntakeScope(self)

    @property
    def intake_open(self) -> bool:
        return self._intake_open

    async def _sleep(self, seconds: float) -> bool:
        """Sleep on the runtime's clock; ``False`` if intake stopped meanwhile (or already)."""
        assert self.runtime is not None
        with self._intake() as scope:
            await self.runtime.clock.sleep(seconds)
        return not scope.cancel_called and self._intake_open

    async def aclose(self) -> None:
        """Component protocol: stop intake for good. In-flight batches finish on their own."""
        self._closed = True
        running = self._done is not None and not self._done.is_set()
        self._state = "Deleting" if running else "Deleted"
        self._stop_intake()

    async def disable(self) -> None:
        """Stop polling (``Enabled`` -> ``Disabled``); in-flight batches finish."""
        self.config = msgspec.structs.replace(self.config, enabled=False)
        if self._state == "Enabled":
            self._state = "Disabled"
            self._stop_intake()

    async def enable(self) -> None:
        """Resume polling, once the previous run (its in-flight batches) has ended."""
        if self._closed:
            raise ConfigError("enabled", True, "the mapping was closed (deleted)")
        self.config = msgspec.structs.replace(self.config, enabled=True)
        if self.runtime is None or not self.runtime.running or self._state == "Enabled":
            return
        await self.wait_stopped()
        await self._prepare(self.runtime)
        if not self._closed and self._state != "Enabled":
            self._launch()

    async def wait_stopped(self) -> None:
        """Return once intake has stopped and every in-flight batch has ended."""
        if self._done is not None and not self._intake_open:
            await self._done.wait()

    async def update(self, **changes: Any) -> C:
        """Change options while running; returns the new configuration.

        Validates everything first (``ConfigError`` leaves the mapping as it was). Options that
        re-shape intake (e.g. a stream's ``parallelization_factor``) restart it: intake stops, the
        in-flight batches finish, intake resumes with the new options.
        """
        unknown = set(changes) - set(self.config.__struct_fields__)
        if unknown:
            field = sorted(unknown)[0]
            raise ConfigError(field, changes[field], "is not an option of this mapping")
        enabled = changes.pop("enabled", None)
        if enabled is not None:
            check_bool("enabled", enabled)
        old = self.config
        new = msgspec.structs.replace(old, **changes)
        if self.runtime is not None:
            self._validate(self.runtime, new)
        changed = {k for k, v in changes.items() if v != getattr(old, k)}
        if changed & self._RESTART_FIELDS and self._state == "Enabled":
            await self.disable()
            await self.wait_stopped()
            self.config = msgspec.structs.replace(new, enabled=False)
            self._config_changed(old)
            await self.enable()
        else:
            self.config = new
            self._config_changed(old)
        if enabled is not None:
            await (self.enable() if enabled else self.disable())
        return self.config

    # -- statistics ----------------------------------------------------------------------------
    def statistics(self) -> MappingStatistics:
        """A snapshot of the mapping's counters (see :class:`MappingStatistics`)."""
        c = self.counters
        return MappingStatistics(
            uuid=self.uuid, state=self._state, function_name=self.function_name,
            **{name: getattr(c, name) for name in _Counters.__slots__})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uuid} {self._state} -> {self.function_name}>"
