"""The Runtime: registers functions, owns the task group, wires the stages, shuts down in stages.

::

    rt = Runtime()

    @rt.function(timeout=3, memory_mb=256)
    async def resize(event, context): ...

    async with rt:                                  # provisioned contexts are warm when this returns
        result = await rt.invoke("resize", {"key": "a.jpg"})

Shutdown, in stages: stop intake (new invokes raise ``RuntimeClosedError``), let in-flight
invocations finish within the grace period, SHUTDOWN every context (2 s hook limit each), cancel
the background tasks.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as _dt
import itertools
import random
import re
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import anyio
import anyio.abc
import msgspec

from . import _environ, handlers
from .clock import RealClock
from .config import (
    CLIENT_CONTEXT_LIMIT,
    DEFAULT_KEEP_ALIVE,
    SCALING_RATE,
    SHUTDOWN_TIMEOUT,
    UNRESERVED_CONCURRENCY_MINIMUM,
    EventInvokeConfig,
    FunctionConfig,
    default_region,
)
from .destinations import as_destination
from .dispatch import AsyncDispatcher, AsyncStatistics, EventQueue, MemoryEventQueue, QueuedEvent
from .dispatch import continue_lineage as _continue_lineage
from .dispatch import current_lineage as _current_lineage
from .dispatch import delivery_lineage as _delivery_lineage
from .errors import (
    ConfigError,
    InvalidRequestContentException,
    LifecycleError,
    ResourceConflictException,
    ResourceNotFoundException,
    RuntimeClosedError,
    ServiceException,
)
from .execution import UNDECODED, Invocation, current_invocation
from .functions import Alias, FunctionEntry
from .invocation import ClientContext, InvocationResult
from .observability import Observer
from .payloads import ASYNC_REQUEST_LIMIT, SYNC_REQUEST_LIMIT, decode_request, encode_request
from .pool import KeepAlivePolicy, Limiter, VersionStatistics
from .types import Clock, Component

if TYPE_CHECKING:
    from .sources.mapping import EventSourceMapping
    from .sources.queue import QueueBackend
    from .sources.queue_mapping import QueueEventSourceMapping
    from .sources.schedule import Schedule
    from .sources.stream import StreamBackend
    from .sources.stream_mapping import StreamEventSourceMapping

__all__ = ["FunctionStatistics", "Runtime", "RuntimeStatistics"]

F = TypeVar("F", bound=Callable[..., Any])
InvocationType = Literal["RequestResponse", "Event", "DryRun"]

_NO_PAYLOAD: Any = object()
_EVENT_INVOKE_KEYS = ("event_invoke", "maximum_retry_attempts", "maximum_event_age",
                      "on_success", "on_failure")
_DEFAULT_EVENT_INVOKE = EventInvokeConfig()
_invocation_get = current_invocation.get
_EMPTY_EVENT = b"{}"


class FunctionStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one function: its concurrency and each version's counters."""

    name: str
    reserved_concurrency: int | None
    concurrent_executions: int
    versions: dict[str, VersionStatistics]
    #: Asynchronous (``Event``) invocations: received, succeeded, failed, dropped, retries ...
    async_invocations: AsyncStatistics = msgspec.field(default_factory=AsyncStatistics)

    def total(self, field: str) -> float:
        """Sum of ``field`` (e.g. ``"invocations"``) over every version."""
        return float(sum(getattr(v, field) for v in self.versions.values()))


class RuntimeStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of the runtime: concurrency in use and every function's statistics."""

    concurrency_limit: int
    unreserved_concurrency_limit: int
    unreserved_concurrency_in_use: int
    concurrent_executions: int
    functions: dict[str, FunctionStatistics]


class _RequestIds:
    """UUID-shaped request ids: a random per-runtime prefix and a counter.

    A uuid4 costs an ``os.urandom`` call per invocation; this costs a string format. Ids are
    unique within a runtime and random across runtimes, and look like Lambda's (8-4-4-4-12 hex,
    version nibble 4, variant bits 10).
    """

    __slots__ = ("_count", "_prefix")

    def __init__(self, rng: random.Random) -> None:
        self._prefix = (f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-"
                        f"4{rng.getrandbits(12):03x}-{0x8000 | rng.getrandbits(14):04x}-")
        # 48 bits of counter: unique for 2**48 invocations of one runtime. It counts from 2**48
        # up, so hex() always has one digit before the 12 we keep: no format spec to parse.
        self._count = itertools.count((1 << 48) | rng.getrandbits(40))

    def __call__(self) -> str:
        return self._prefix + hex(next(self._count))[3:]


class Runtime:
    """An in-process AWS Lambda: functions, execution contexts, invokes.

    Parameters:
        clock: time source for every timer (``VirtualClock`` in tests); default real time.
        concurrency_limit: runtime-wide concurrent executions (Lambda's account limit, 1000).
        keep_alive: seconds an idle context is kept, or a policy ``(config, idle) -> seconds``.
        invocation_logs: emit START/END/REPORT records per invocation (off: they cost more than
            a warm invoke; the CLI turns them on).
        isolate_environment: give each execution context its function's environment variables
            through ``os.environ`` (see ``asynclambda._environ``).
        shutdown_grace: seconds in-flight invocations get to finish when the runtime closes.
        region: the AWS region functions run in, as Lambda sets it: ``AWS_REGION`` and
            ``AWS_DEFAULT_REGION`` in every execution context's environment and the region of
            every ARN. Default: the host's ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else
            ``us-east-1``.
        account_id: the account in ARNs (``arn:aws:lambda:REGION:000000000000:function:NAME``).
        rng: randomness for request ids, log stream names and alias weights (inject for tests).
        event_queue: where asynchronous (``Event``) invocations wait; default an in-memory
            :class:`~asynclambda.dispatch.MemoryEventQueue` holding up to 100 000 events.
        unreserved_concurrency_minimum: concurrency no reservation may take, as Lambda always
            keeps 100 of the account's limit unreserved (or all of it when the limit is lower).
        scaling_rate: ``(contexts, seconds)``: how fast each function may add on-demand
            execution contexts, Lambda's 1,000 per 10 seconds by default (a bucket that refills
            steadily); past it a cold start is throttled with
            ``FunctionInvocationRateLimitExceeded``. ``None``: no limit.
    """

    def __init__(self, *, clock: Clock | None = None, concurrency_limit: int = 1000,
                 keep_alive: float | KeepAlivePolicy = DEFAULT_KEEP_ALIVE,
                 invocation_logs: bool = False, isolate_environment: bool = True,
                 shutdown_grace: float = 30.0, region: str | None = None,
                 account_id: str = "000000000000", rng: random.Random | None = None,
                 event_queue: EventQueue | None = None,
                 unreserved_concurrency_minimum: int = UNRESERVED_CONCURRENCY_MINIMUM,
                 scaling_rate: tuple[int, float] | None = SCALING_RATE) -> None:
        if isinstance(concurrency_limit, bool) or not isinstance(concurrency_limit, int) \
                or concurrency_limit < 1:
            raise ConfigError("concurrency_limit", concurrency_limit, "must be a positive integer")
        if not callable(keep_alive) and (isinstance(keep_alive, bool)
                                         or not isinstance(keep_alive, int | float)
                                         or keep_alive < 0):
            raise ConfigError("keep_alive", keep_alive,
                              "must be seconds >= 0 or a policy (config, idle) -> seconds")
        if isinstance(shutdown_grace, bool) or not isinstance(shutdown_grace, int | float) \
                or shutdown_grace < 0:
            raise ConfigError("shutdown_grace", shutdown_grace, "must be seconds >= 0")
        if isinstance(unreserved_concurrency_minimum, bool) \
                or not isinstance(unreserved_concurrency_minimum, int) \
                or unreserved_concurrency_minimum < 0:
            raise ConfigError("unreserved_concurrency_minimum", unreserved_concurrency_minimum,
                              "must be an integer >= 0")
        if scaling_rate is not None and not (
                isinstance(scaling_rate, tuple) and len(scaling_rate) == 2
                and isinstance(scaling_rate[0], int) and not isinstance(scaling_rate[0], bool)
                and scaling_rate[0] >= 1 and isinstance(scaling_rate[1], int | float)
                and not isinstance(scaling_rate[1], bool) and scaling_rate[1] > 0):
            raise ConfigError("scaling_rate", scaling_rate,
                              "must be (contexts >= 1, seconds > 0) or None")
        self.clock: Clock = clock if clock is not None else RealClock()
        self.concurrency_limit = concurrency_limit
        self.unreserved_concurrency_minimum = min(unreserved_concurrency_minimum,
                                                  concurrency_limit)
        self.scaling_rate = scaling_rate
        self._keep_alive = keep_alive
        self.isolate_environment = isolate_environment
        self.shutdown_grace = float(shutdown_grace)
        self.shutdown_limit = SHUTDOWN_TIMEOUT
        self.region = _resolve_region(region)
        if not isinstance(account_id, str) or not (account_id.isdigit() and len(account_id) == 12):
            raise ConfigError("account_id", account_id, "must be 12 digits")
        self.account_id = account_id
        self.rng = rng if rng is not None else random.Random()
        self.observer = Observer(invocation_logs)
        self._request_id = _RequestIds(self.rng)
        self._functions: dict[str, FunctionEntry] = {}
        self._unreserved = Limiter(concurrency_limit,
                                   "ConcurrentInvocationLimitExceeded")
        self._tg: anyio.abc.TaskGroup | None = None
        self._host_task: asyncio.Task[Any] | None = None
        self._host: asyncio.Task[None] | None = None
        self._serving: anyio.Event | None = None
        self._closed_event = anyio.Event()
        self._failure: ServiceException | None = None
        self._owners: set[asyncio.Task[Any]] = set()
        self._owner_contexts: dict[asyncio.Task[Any], Any] = {}
        self._runners: weakref.WeakSet[Any] = weakref.WeakSet()
        self._state: Literal["new", "running", "failed", "closing", "closed"] = "new"
        self._idle_waiters = 0
        self._idle_event: anyio.Event | None = None
        self._components: list[Component] = []
        self._day: tuple[int, str] = (-1, "")
        self._event_configs: dict[tuple[str, str | None], EventInvokeConfig] = {}
        queue = event_queue if event_queue is not None else MemoryEventQueue()
        bind = getattr(queue, "bind", None)
        if bind is not None:
            bind(self.clock)
        self.dispatcher = AsyncDispatcher(self, queue)
        self._components.append(self.dispatcher)

    # -- registration ---------------------------------------------------------------------------
    @overload
    def function(self, handler: F, /) -> F: ...
    @overload
    def function(self, *, name: str | None = None, **config: Any) -> Callable[[F], F]: ...

    def function(self, handler: Any = None, /, *, name: str | None = None,  # type: ignore[misc]
                 **config: Any) -> Any:
        """Decorator: register the decorated callable as a function (named after it by default).

        ``@rt.function`` or ``@rt.function(timeout=30, memory_mb=512, ...)``; the keywords are
        :class:`~asynclambda.config.FunctionConfig` fields. Returns the callable unchanged.
        """
        def register(fn: F) -> F:
            self.add_function(name or fn.__name__, fn, **config)
            return fn

        if handler is not None:
            return register(handler)
        return register

    def add_function(self, name: str, handler: Any, **config: Any) -> FunctionConfig:
        """Register a function: ``handler`` is a callable or a ``"module:func"`` string.

        Raises ``ConfigError`` naming the field for any invalid value, and
        ``ResourceConflictException`` if the name is taken.
        """
        event_invoke = {k: config.pop(k) for k in _EVENT_INVOKE_KEYS if k in config}
        _check_fields(config, FunctionConfig, "a function configuration field")
        cfg = FunctionConfig(name=name, handler=handler, **config)
        _no_provisioned_on_latest(cfg.provisioned_concurrency)
        if name in self._functions:
            raise ResourceConflictException(f"Function already exist: {name}")
        self._check_reservation(name, cfg.reserved_concurrency)
        if cfg.dead_letter_queue is not None:
            cfg = cfg.replace(dead_letter_queue=as_destination(
                cfg.dead_letter_queue, self, field="dead_letter_queue"))
        invoke_config = self._event_invoke_config(name, event_invoke) if event_invoke else None
        entry = FunctionEntry(self, cfg, self._limiter_for(cfg.reserved_concurrency))
        self._functions[name] = entry
        if invoke_config is not None:
            self._event_configs[(name, None)] = invoke_config
        self._rebalance()
        return cfg

    def update_function(self, name: str, /, **changes: Any) -> FunctionConfig:
        """Change ``$LATEST``'s code or configuration; its contexts are replaced (as on Lambda)."""
        entry = self._entry(name)
        if "name" in changes:
            raise ConfigError("name", changes["name"], "cannot be changed; add a new function")
        _check_fields(changes, FunctionConfig, "a function configuration field")
        new = entry.latest.config.replace(**changes)
        _no_provisioned_on_latest(new.provisioned_concurrency)
        if new.reserved_concurrency != entry.reserved_concurrency:
            self._check_reservation(name, new.reserved_concurrency)
        old = entry.latest
        entry.replace_latest(new)
        self._set_limiter(entry, new.reserved_concurrency)
        if self._state == "running":
            self.spawn(old.aclose)
        return new

    def put_function_concurrency(self, name: str, reserved: int | None) -> None:
        """Set (or with ``None`` remove) a function's reserved concurrency.

        Like Lambda's PutFunctionConcurrency this changes no code, so warm contexts are kept.
        """
        entry = self._entry(name)
        self._check_reservation(entry.name, reserved)
        entry.latest.config = entry.latest.config.replace(reserved_concurrency=reserved)
        self._set_limiter(entry, reserved)

    def remove_function(self, name: str) -> None:
        """Delete a function and all its versions; idle contexts are shut down."""
        entry = self._functions.pop(self._entry(name).name)
        self._rebalance()
        if self._state == "running":
            for pool in entry.pools():
                self.spawn(pool.aclose)

    def publish_version(self, name: str, *, description: str = "",
                        provisioned_concurrency: int = 0) -> str:
        """Freeze ``$LATEST`` into a numbered version (``"1"``, ``"2"`` ...) and return it.

        As on Lambda, publishing when neither the code (the handler's files) nor the
        configuration changed since the last version returns that version instead of a new one.
        ``provisioned_concurrency`` is then set on the version returned.
        """
        entry = self._entry(name)
        version = entry.publish(description, provisioned_concurrency)
        pool = entry.versions[version]
        if provisioned_concurrency and pool.config.provisioned_concurrency \
                != provisioned_concurrency:
            self.put_provisioned_concurrency_config(name, version, provisioned_concurrency)
        elif self._state == "running" and provisioned_concurrency:
            self.spawn(pool.provision)
        return version

    def put_provisioned_concurrency_config(self, name: str, qualifier: str,
                                           provisioned_concurrency: int) -> None:
        """Keep ``provisioned_concurrency`` contexts initialised for a published version or an
        alias (its primary version), as Lambda's PutProvisionedConcurrencyConfig; 0 removes it.

        Lambda allows it on versions and aliases only: ``$LATEST`` is a ``ConfigError``.
        """
        entry = self._entry(name)
        if qualifier in entry.aliases:
            qualifier = entry.aliases[qualifier].function_version
        if qualifier is None or qualifier == "$LATEST":
            _no_provisioned_on_latest(provisioned_concurrency or 1)
        if qualifier not in entry.versions:
            raise ResourceNotFoundException(f"Function not found: {entry.arn}:{qualifier}")
        pool = entry.versions[qualifier]
        pool.config = pool.config.replace(provisioned_concurrency=provisioned_concurrency)
        pool.release_provisioned()
        if self._state == "running" and provisioned_concurrency:
            self.spawn(pool.provision)

    def create_alias(self, name: str, alias: str, function_version: str, *,
                     routing: Mapping[str, float] | None = None,
                     description: str = "") -> Alias:
        """Point ``alias`` at a version, optionally routing a weight to a second version."""
        return self._entry(name).set_alias(alias, function_version, routing, description)

    update_alias = create_alias

    def delete_alias(self, name: str, alias: str) -> None:
        self._entry(name).delete_alias(alias)

    def functions(self) -> list[str]:
        """Names of the registered functions."""
        return sorted(self._functions)

    def get_function(self, name: str, qualifier: str | None = None) -> FunctionConfig:
        """The configuration of a function (``$LATEST`` or a version/alias)."""
        entry = self._entry(name)
        if qualifier is None:
            return entry.config
        alias = entry.aliases.get(qualifier)
        if alias is not None:  # the alias's own version, whatever its routing weights
            return entry.versions[alias.function_version].config
        pool, _ = entry.resolve(qualifier, self.rng)
        return pool.config

    def put_function_event_invoke_config(self, name: str, qualifier: str | None = None,
                                         **settings: Any) -> EventInvokeConfig:
        """Configure asynchronous invocation of a function (or one version/alias of it).

        ``maximum_retry_attempts`` (0-2), ``maximum_event_age`` (60-21600 s), ``on_success`` and
        ``on_failure`` (a destination, a callable, or ``"function:NAME"``: checked now, so an
        unknown target is a ``ConfigError`` here rather than a lost record later).
        """
        entry = self._entry(name)
        if qualifier is not None and qualifier not in entry.versions \
                and qualifier not in entry.aliases:
            raise ResourceNotFoundException(f"Function not found: {entry.arn}:{qualifier}")
        config = self._event_invoke_config(entry.name, settings)
        self._event_configs[(entry.name, qualifier)] = config
        return config

    def _event_invoke_config(self, name: str, settings: Mapping[str, Any]) -> EventInvokeConfig:
        given = settings.get("event_invoke")
        if given is not None:
            if isinstance(given, EventInvokeConfig):
                base = given
            elif isinstance(given, Mapping):
                base = EventInvokeConfig(**given)
            else:
                raise ConfigError("event_invoke", given, "must be an EventInvokeConfig or a dict")
            settings = {k: v for k, v in settings.items() if k != "event_invoke"}
            values = {f: getattr(base, f) for f in EventInvokeConfig.__struct_fields__}
            values.update(settings)
        else:
            values = dict(settings)
        _check_fields(values, EventInvokeConfig, "an event invoke configuration field")
        config = EventInvokeConfig(**values)
        resolved = {}
        for field in ("on_success", "on_failure"):
            target = getattr(config, field)
            if target is not None:
                resolved[field] = as_destination(target, self, field=field)
        return msgspec.structs.replace(config, **resolved) if resolved else config

    def event_invoke_config(self, name: str, qualifier: str | None = None) -> EventInvokeConfig:
        """The asynchronous invocation settings in force for ``name`` (and ``qualifier``)."""
        config = self._event_configs.get((name, qualifier))
        if config is None and qualifier is not None:
            config = self._event_configs.get((name, None))
        return config if config is not None else _DEFAULT_EVENT_INVOKE

    def dead_letter_queue(self, name: str, qualifier: str | None = None) -> Any:
        """The dead-letter destination of ``name`` (``None`` if none).

        Lambda's ``DeadLetterConfig`` belongs to the function, not a version: every version and
        alias uses ``$LATEST``'s, so ``qualifier`` does not change it.
        """
        entry = self._functions.get(name)
        if entry is None:
            return None
        return entry.latest.config.dead_letter_queue

    def add_component(self, component: Component) -> None:
        """Start ``component`` with the runtime (now, if it is already running) and stop it first
        when the runtime closes. Event source pollers, schedulers and queue workers are components.
        """
        self._components.append(component)
        if self._state == "running":
            self.spawn(self._start_late, component)

    async def _start_late(self, component: Component) -> None:
        # A component added to a running runtime that fails to start must not take the
        # runtime's task group (and every other component) down with it: log it and drop it.
        try:
            await component.start(self)
        except Exception as exc:
            self.observer.warning("component failed to start", component=repr(component),
                                  error=repr(exc))
            if component in self._components:
                self._components.remove(component)

    # -- event sources ---------------------------------------------------------------------------
    def add_queue_mapping(self, function_name: str, *, queue: str, backend: QueueBackend,
                          **options: Any) -> QueueEventSourceMapping:
        """Poll ``queue`` and invoke ``function_name`` with batches (SQS model); the options are
        :class:`~asynclambda.sources.QueueMappingConfig`'s (``batch_size``, ...)."""
        from .sources.queue_mapping import QueueEventSourceMapping  # lazy: keep imports light

        return QueueEventSourceMapping(self, function_name=function_name, queue=queue,
                                       backend=backend, **options)

    def add_stream_mapping(self, function_name: str, *, stream: str, backend: StreamBackend,
                           starting_position: str = "TRIM_HORIZON",
                           **options: Any) -> StreamEventSourceMapping:
        """Read ``stream`` shard by shard and invoke ``function_name`` in order (Kinesis /
        DynamoDB Streams model); the options are :class:`~asynclambda.sources.StreamMappingConfig`'s."""
        from .sources.stream_mapping import StreamEventSourceMapping

        return StreamEventSourceMapping(self, function_name=function_name, stream=stream,
                                        backend=backend,
                                        starting_position=starting_position,  # type: ignore[arg-type]
                                        **options)

    def add_schedule(self, name: str, expression: str, function_name: str,
                     **options: Any) -> Schedule:
        """Invoke ``function_name`` on a ``rate(...)`` / ``cron(...)`` / ``at(...)`` schedule
        (EventBridge Scheduler model); the options are :class:`~asynclambda.sources.ScheduleConfig`'s."""
        from .sources.schedule import Schedule

        return Schedule(self, name=name, expression=expression, function_name=function_name,
                        **options)

    def event_source_mappings(self) -> list[EventSourceMapping[Any]]:
        """The queue and stream mappings attached to this runtime."""
        from .sources.mapping import EventSourceMapping

        return [c for c in self._components if isinstance(c, EventSourceMapping)]

    # -- concurrency accounting -----------------------------------------------------------------
    def _check_reservation(self, name: str, reserved: int | None) -> None:
        if reserved is None:
            return
        others = sum(e.reserved_concurrency or 0 for n, e in self._functions.items()
                     if n != name)
        minimum = self.unreserved_concurrency_minimum
        if others + reserved > self.concurrency_limit - minimum:
            raise ConfigError("reserved_concurrency", reserved,
                              f"the runtime's concurrency_limit is {self.concurrency_limit}, "
                              f"{others} is already reserved by other functions and, as on "
                              f"Lambda, at least {minimum} must stay unreserved (lower "
                              "Runtime(unreserved_concurrency_minimum=) to reserve more)")

    def _limiter_for(self, reserved: int | None) -> Limiter:
        if reserved is None:
            return self._unreserved
        return Limiter(reserved, "ReservedFunctionConcurrentInvocationLimitExceeded")

    def _set_limiter(self, entry: FunctionEntry, reserved: int | None) -> None:
        old = entry.limiter
        if reserved is not None and old is not self._unreserved:
            old.limit = reserved
        elif reserved is not None or old is not self._unreserved:
            new = self._limiter_for(reserved)
            moving = entry.in_flight()
            old.in_use -= moving
            new.in_use += moving
            entry.limiter = new
        self._rebalance()

    def _rebalance(self) -> None:
        reserved = sum(e.reserved_concurrency or 0 for e in self._functions.values())
        self._unreserved.limit = self.concurrency_limit - reserved

    def keep_alive_for(self, config: FunctionConfig, idle: int) -> float:
        ka = self._keep_alive
        return ka(config, idle) if callable(ka) else float(ka)

    # -- invoking -------------------------------------------------------------------------------
    async def invoke(self, function_name: str, payload: Any = _NO_PAYLOAD, *,
                     qualifier: str | None = None,
                     invocation_type: InvocationType = "RequestResponse",
                     client_context: Mapping[str, Any] | str | None = None,
                     tenant_id: str | None = None) -> InvocationResult:
        """Invoke a function, as Lambda's Invoke API does.

        ``payload`` is any JSON-encodable value, or ``bytes`` holding a JSON document; the handler
        gets its own decoded copy. ``RequestResponse`` waits for the result (a function error is
        still a result: ``function_error`` is set); ``DryRun`` only validates (204).
        ``client_context`` (a dict, or base64 JSON as boto3 sends it) and ``tenant_id`` reach the
        handler's context object on synchronous invocations, as on Lambda.

        Raises ``ResourceNotFoundException``, ``InvalidRequestContentException``,
        ``RequestTooLargeException``, ``TooManyRequestsException`` or ``RuntimeClosedError``.
        """
        if self._state != "running":
            raise self._not_running()
        entry = self._functions.get(function_name)
        if entry is None or qualifier is not None:
            entry, qualifier = self._lookup(function_name, qualifier)
            pool, invoked_arn = entry.resolve(qualifier, self.rng)
        else:
            pool, invoked_arn = entry.latest, None
        if payload is _NO_PAYLOAD:
            payload = _EMPTY_EVENT
        if invocation_type == "Event":
            return await self._invoke_event(entry, qualifier, payload, client_context)
        raw = encode_request(payload, SYNC_REQUEST_LIMIT)
        # Bytes from outside may not be JSON: check now (Lambda rejects them before running).
        t = type(payload)
        event = (decode_request(raw) if t is bytes or t is bytearray or t is memoryview
                 else UNDECODED)
        if invocation_type == "RequestResponse":
            cc = None if client_context is None else _client_context(client_context)
            if tenant_id is not None and (not isinstance(tenant_id, str) or not tenant_id):
                raise InvalidRequestContentException(
                    f"tenant_id must be a non-empty string, not {tenant_id!r}")
            # The loop guard covers synchronous invokes too: an invoke made from a handler (or
            # a mapping delivering messages that carry a chain) continues that chain.
            lineage = (_continue_lineage(_current_lineage(), entry.name,
                                         entry.config.recursive_loop)
                       if _invocation_get() is not None or _delivery_lineage.get() is not None
                       else None)
            return await pool.invoke(Invocation(raw, self._request_id(), event, 1, cc,
                                                invoked_arn, lineage, tenant_id))
        if invocation_type == "DryRun":
            return InvocationResult(status_code=204, raw_payload=b"",
                                    request_id=self._request_id(),
                                    executed_version=None)
        raise InvalidRequestContentException(
            f"invocation_type {invocation_type!r} is not supported: use 'RequestResponse', "
            "'Event' or 'DryRun'")

    async def _invoke_event(self, entry: FunctionEntry, qualifier: str | None, payload: Any,
                            client_context: Mapping[str, Any] | str | None) -> InvocationResult:
        """Accept an asynchronous invocation: validate, queue, and answer 202 at once."""
        if qualifier is not None and qualifier not in entry.versions \
                and qualifier not in entry.aliases:
            raise ResourceNotFoundException(f"Function not found: {entry.arn}:{qualifier}")
        raw = encode_request(payload, ASYNC_REQUEST_LIMIT)
        if isinstance(payload, bytes | bytearray | memoryview):
            decode_request(raw)
        if client_context is not None:
            # Checked as Lambda checks it, but not passed on: Lambda gives the function the
            # client context on synchronous invocations only.
            _client_context(client_context)
        # The loop guard: the chain this invoke continues (from inside a handler, or from a
        # destination delivery), one more hop for this function.
        # (Checked by the dispatcher, so the event takes Lambda's failure path when it loops.)
        chain = _current_lineage() or {}
        chain[entry.name] = chain.get(entry.name, 0) + 1
        request_id = self._request_id()
        await self.dispatcher.accept(QueuedEvent(
            request_id=request_id, function=entry.name, qualifier=qualifier, payload=raw,
            enqueued_at=self.clock.time(), chain=chain))
        return InvocationResult(status_code=202, raw_payload=b"", request_id=request_id,
                                executed_version=None)

    def _lookup(self, function_name: str, qualifier: str | None) -> tuple[FunctionEntry, str | None]:
        """Accept a name, ``name:qualifier``, a full ARN or a partial one
        (``ACCOUNT:function:NAME[:QUALIFIER]``), like Lambda's FunctionName parameter."""
        if not isinstance(function_name, str):
            raise ResourceNotFoundException(f"Function not found: {function_name!r}")
        name = function_name
        parts = name.split(":")
        if name.startswith("arn:"):
            # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
            if (len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function"
                    or parts[3] != self.region or parts[4] != self.account_id):
                raise ResourceNotFoundException(f"Function not found: {function_name}")
            name = parts[6]
            if len(parts) == 8:
                qualifier = _same_qualifier(qualifier, parts[7], function_name)
        elif len(parts) >= 3 and parts[1] == "function":
            if len(parts) > 4 or parts[0] != self.account_id:
                raise ResourceNotFoundException(f"Function not found: {function_name}")
            name = parts[2]
            if len(parts) == 4:
                qualifier = _same_qualifier(qualifier, parts[3], function_name)
        elif len(parts) == 2:
            name, q = parts
            qualifier = _same_qualifier(qualifier, q, function_name)
        elif len(parts) > 2:
            raise ResourceNotFoundException(f"Function not found: {function_name}")
        entry = self._functions.get(name)
        if entry is None:
            raise ResourceNotFoundException(
                f"Function not found: {self.function_arn(name)}")
        return entry, qualifier

    def _entry(self, name: str) -> FunctionEntry:
        entry = self._functions.get(name)
        if entry is None:
            entry, _ = self._lookup(name, None)
        return entry

    def _not_running(self) -> RuntimeClosedError | ServiceException:
        if self._failure is not None:
            return self._failure
        if self._state == "new":
            return RuntimeClosedError("the runtime is not started: use 'async with runtime:' "
                                      "(or 'await runtime.start()') before invoking")
        return RuntimeClosedError(f"the runtime is {self._state}: it accepts no new invocations")

    # -- naming ---------------------------------------------------------------------------------
    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def new_log_stream_name(self, version: str) -> str:
        """A Lambda-shaped log stream name for a new execution context (one per context)."""
        number = int(self.clock.time() // 86_400)
        if number != self._day[0]:  # strftime once a day, not once per cold start
            self._day = (number, _dt.datetime.fromtimestamp(number * 86_400, _dt.UTC)
                         .strftime("%Y/%m/%d"))
        return f"{self._day[1]}/[{version}]{self.rng.getrandbits(128):032x}"

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._state == "running"

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose(exc_info)

    async def start(self, *, background: bool = False) -> None:
        """Start the runtime; returns once every provisioned context is initialised.

        The runtime's background work (pollers, the event queue's workers, shutdowns) runs in an
        anyio task group entered here, in the calling task: call :meth:`aclose` from the *same*
        task (``async with runtime:`` does). With ``background=True`` that task group lives in a
        task the runtime owns instead, and ``aclose()`` may be called from any task: for
        frameworks whose startup and shutdown hooks run in different tasks. Inside an anyio task
        group, ``await tg.start(runtime.serve)`` is the structured equivalent.
        """
        if self._state != "new":
            raise RuntimeClosedError(f"the runtime was already started (it is {self._state})")
        if background:
            await self._start_host()
            return
        await self._enter()

    async def serve(self, *, task_status: anyio.abc.TaskStatus[Runtime] = anyio.TASK_STATUS_IGNORED
                    ) -> None:
        """Run the runtime until cancelled, or until :meth:`aclose` is called from any task.

        For ``await task_group.start(runtime.serve)``: it returns (to ``start``) once the runtime
        is running; cancelling the task group's scope, or ``await runtime.aclose()`` from
        anywhere, shuts it down in stages (in-flight invocations drain within the grace period).
        """
        if self._state != "new":
            raise RuntimeClosedError(f"the runtime was already started (it is {self._state})")
        await self._enter()
        self._serving = anyio.Event()
        try:
            task_status.started(self)
            await self._serving.wait()
        finally:
            # _close() shields its own stages; the task group entered above must be exited
            # here, in this scope (a shield scope around it would break anyio's nesting).
            await self._close((None, None, None))

    async def _start_host(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        async def host() -> None:
            try:
                await self.serve(task_status=_FutureStatus(ready))
            except BaseException as exc:
                if not ready.done():
                    ready.set_exception(exc)
                    return
                raise

        self._host = loop.create_task(host(), name="asynclambda-runtime")
        await ready

    async def _enter(self) -> None:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._host_task = asyncio.current_task()
        self._state = "running"
        handlers.acquire_routes()
        _environ.inherit_threads()
        if self.isolate_environment:
            _environ.install()
        try:
            async with anyio.create_task_group() as tg:
                for entry in self._functions.values():
                    for pool in entry.pools():
                        if pool.config.provisioned_concurrency:
                            tg.start_soon(pool.provision)
            for component in list(self._components):
                await component.start(self)
        except BaseException as exc:
            await self._close((type(exc), exc, exc.__traceback__))
            raise

    async def aclose(self, exc_info: Any = (None, None, None)) -> None:
        """Stop intake, drain in-flight invocations (grace period), SHUTDOWN every context.

        Call it from the task that called :meth:`start` (or use ``start(background=True)`` or
        :meth:`serve`, which allow any task); otherwise :class:`~asynclambda.errors.LifecycleError`.
        A runtime whose background work failed raises that failure here.
        """
        if self._state in ("new", "closed"):
            self._state = "closed"
            self._raise_failure()
            return
        serving = self._serving
        if serving is not None:
            # serve() or start(background=True) owns the task group: ask it to stop, and wait.
            serving.set()
            host = self._host
            if host is not None and host is not asyncio.current_task():
                await asyncio.shield(host)
            while self._state != "closed":
                await self._closed_event.wait()
            self._raise_failure()
            return
        if self._host_task is not asyncio.current_task():
            raise LifecycleError(
                "Runtime.aclose() was called from a different task than Runtime.start(): the "
                "runtime's task group belongs to the task that started it. Close it from that "
                "task ('async with runtime:' does), or start it with "
                "'await runtime.start(background=True)' (then any task may close it), or run "
                "'await task_group.start(runtime.serve)'.")
        await self._close(exc_info)

    async def _close(self, exc_info: Any) -> None:
        if self._state == "closing":
            await self._closed_event.wait()
            return
        if self._state == "closed":
            return
        self._state = "closing"
        tg = self._tg
        failing = exc_info[0] is not None
        try:
            with anyio.CancelScope(shield=True):
                # Stage 1: stop intake (sources, schedules, queue workers), newest first.
                for component in reversed(self._components):
                    await component.aclose()
                # Stage 2: a clean exit drains in-flight invocations; an exception leaving the
                # body (the application is failing) does not wait for them.
                if not failing:
                    await self._drain(self.shutdown_grace)
                pools = [p for e in self._functions.values() for p in e.pools()]
                for pool in pools:
                    if pool.in_flight:
                        pool.kill_all()
                async with anyio.create_task_group() as closing:
                    for pool in pools:
                        closing.start_soon(pool.aclose)
                # Stage 3: nothing of a context outlives the runtime.
                await self._reap_leftovers()
        finally:
            self._state = "closed"
            self._closed_event.set()
            handlers.release_routes()
            _environ.uninherit_threads()
            if self.isolate_environment:
                _environ.uninstall()
            if tg is not None:
                tg.cancel_scope.cancel()
                # Not the body's exception: anyio would wrap it in an ExceptionGroup, and the
                # caller's own exception must come out of ``async with`` unchanged. A failed
                # background task still raises here, loudly.
                await tg.__aexit__(None, None, None)

    async def _reap_leftovers(self) -> None:
        """Close handler coroutines that ignored their cancellation; let stopped threads exit."""
        owners = [t for t in self._owners if not t.done()]
        for task in owners:
            ctx = self._owner_contexts.get(task)
            if ctx is not None:
                ctx.close_abandoned()
            else:
                task.cancel()
        if owners:
            await asyncio.wait(owners, timeout=self.shutdown_limit)
        stuck = [t for t in owners if not t.done()]
        runners = [r for r in self._runners if r.alive and not r.busy]
        if runners:
            def join_all() -> None:
                for runner in runners:
                    runner.join(self.shutdown_limit)

            await asyncio.get_running_loop().run_in_executor(None, join_all)
        busy = sum(1 for r in self._runners if r.alive and r.busy)
        if stuck or busy:
            self.observer.warning(
                "user code still running after the runtime closed (it ignored cancellation, or "
                "a plain handler's thread is blocked)", tasks=len(stuck), threads=busy)

    def track_owner(self, task: asyncio.Task[Any], context: Any) -> None:
        """Remember an execution context's task (every one is finished when the runtime closes)."""
        self._owners.add(task)
        self._owner_contexts[task] = context
        task.add_done_callback(self._forget_owner)

    def _forget_owner(self, task: asyncio.Task[Any]) -> None:
        self._owners.discard(task)
        self._owner_contexts.pop(task, None)

    def track_runner(self, runner: Any) -> None:
        """Remember a plain handler's thread (stopped threads are joined when the runtime closes)."""
        self._runners.add(runner)

    def _raise_failure(self) -> None:
        failure = self._failure
        if failure is not None:
            self._failure = None
            raise failure

    def note_failure(self, exc: BaseException) -> None:
        """Background work failed (an asynclambda bug, or a component's): fail loudly.

        ``wait_idle()`` raises it instead of waiting, new invokes are refused, and ``aclose()``
        re-raises it.
        """
        if self._failure is not None and self._failure.__cause__ is exc:
            return  # already noted (a lane's failure reaches here twice)
        if self._failure is None:
            self._failure = ServiceException(f"asynclambda's background work failed: {exc!r}")
            self._failure.__cause__ = exc
        if self._state == "running":
            self._state = "failed"  # no new invocations
        self.observer.error("runtime background work failed", error=repr(exc))
        if self._idle_event is not None:
            self._idle_event.set()
        self.dispatcher.wake_waiters()

    async def _drain(self, grace: float) -> None:
        if self._in_flight() == 0:
            return
        deadline = self.clock.now() + grace
        done = anyio.Event()

        async def wait() -> None:
            with contextlib.suppress(ServiceException):
                await self.wait_idle()
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)

            async def timer() -> None:
                await self.clock.sleep_until(deadline)
                tg.cancel_scope.cancel()

            tg.start_soon(timer)
            await done.wait()
            tg.cancel_scope.cancel()

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in the runtime's task group (background work: shutdowns, inits).

        An exception from it is a failure of the runtime (see :meth:`note_failure`).
        """
        tg = self._tg
        if tg is None or self._state == "closed":
            return
        tg.start_soon(self._guarded, fn, *args)

    async def start_task(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Start ``fn(*args, task_status=...)`` in the runtime's task group and return what it
        passes to ``task_status.started()`` (anyio's ``TaskGroup.start``); failures are the
        runtime's, as with :meth:`spawn`."""
        tg = self._tg
        if tg is None or self._state == "closed":
            raise self._not_running()
        return await tg.start(self._guarded_start, fn, *args)

    async def _guarded(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            await fn(*args)
        except Exception as exc:
            self.note_failure(exc)
            raise

    async def _guarded_start(self, fn: Callable[..., Any], *args: Any,
                             task_status: anyio.abc.TaskStatus[Any] = anyio.TASK_STATUS_IGNORED
                             ) -> None:
        try:
            await fn(*args, task_status=task_status)
        except Exception as exc:
            self.note_failure(exc)
            raise

    # -- waiting and statistics -----------------------------------------------------------------
    def _in_flight(self) -> int:
        return sum(e.in_flight() for e in self._functions.values())

    async def wait_idle(self) -> None:
        """Return once no invocation is in flight and no asynchronous event is queued.

        Queued retries count: with a real clock this waits for them (minutes, by Lambda's
        policy); with a ``VirtualClock`` use ``clock.run_until_idle()`` to move time instead.
        Raises :class:`~asynclambda.errors.ServiceException` if the runtime's background work
        failed (instead of waiting for events it will never run).
        """
        while True:
            if self._failure is not None:
                raise self._failure
            if not (self._in_flight() or self.dispatcher.busy):
                return
            if self.dispatcher.busy:
                await self.dispatcher.wait_idle()
                continue
            if self._idle_event is None:
                self._idle_event = anyio.Event()
            event = self._idle_event
            self._idle_waiters += 1
            try:
                await event.wait()
            finally:
                self._idle_waiters -= 1

    def _maybe_idle(self) -> None:
        if self._idle_event is not None and not self._in_flight():
            self._idle_event.set()
            self._idle_event = None

    def statistics(self) -> RuntimeStatistics:
        """A snapshot of every counter (tests and benchmarks read this, not private state)."""
        functions = {}
        for name, entry in self._functions.items():
            functions[name] = FunctionStatistics(
                name=name, reserved_concurrency=entry.reserved_concurrency,
                concurrent_executions=entry.in_flight(),
                versions={v: p.statistics() for v, p in entry.versions.items()},
                async_invocations=self.dispatcher.statistics(name))
        return RuntimeStatistics(
            concurrency_limit=self.concurrency_limit,
            unreserved_concurrency_limit=self._unreserved.limit,
            unreserved_concurrency_in_use=self._unreserved.in_use,
            concurrent_executions=self._in_flight(),
            functions=functions)

    def __repr__(self) -> str:
        return f"<Runtime {self._state} functions={len(self._functions)} clock={self.clock!r}>"


_REGION_RE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _resolve_region(region: str | None) -> str:
    """The region Lambda would report: the given one, else the host's, else ``us-east-1``."""
    if region is None:
        region = default_region()
        field = "AWS_REGION"
    else:
        field = "region"
    if not isinstance(region, str) or _REGION_RE.fullmatch(region) is None:
        raise ConfigError(field, region, "must be a region name such as 'us-east-1'")
    return region


class _FutureStatus:
    """A ``task_status`` that resolves a future (``start(background=True)`` waits on it)."""

    def __init__(self, fut: asyncio.Future[None]) -> None:
        self._fut = fut

    def started(self, value: Any = None) -> None:
        if not self._fut.done():
            self._fut.set_result(None)


def _check_fields(values: Mapping[str, Any], struct: type[msgspec.Struct], what: str) -> None:
    """Unknown keywords are configuration errors naming the keyword, not TypeErrors."""
    unknown = set(values) - set(struct.__struct_fields__)
    if unknown:
        field = sorted(unknown)[0]
        raise ConfigError(field, values[field], f"is not {what}")


def _no_provisioned_on_latest(provisioned: int) -> None:
    if provisioned:
        raise ConfigError(
            "provisioned_concurrency", provisioned,
            "applies to a published version or an alias, not to $LATEST (as on Lambda): "
            "publish_version(name, provisioned_concurrency=N) or "
            "put_provisioned_concurrency_config(name, qualifier, N)")


def _same_qualifier(given: str | None, embedded: str, full: str) -> str:
    if given is not None and given != embedded:
        raise InvalidRequestContentException(
            f"The derived qualifier from the function name does not match the specified "
            f"qualifier ({full!r} vs qualifier={given!r})")
    return embedded


def _client_context(value: Mapping[str, Any] | str) -> ClientContext | None:
    """Accept a dict, or Lambda's wire form: base64-encoded JSON (as boto3 sends it).

    Lambda's limit: up to 3,583 bytes of base64-encoded data (a dict is measured as it would be
    sent: its JSON, base64-encoded).
    """
    if isinstance(value, str):
        if len(value) > CLIENT_CONTEXT_LIMIT:
            raise InvalidRequestContentException(
                f"Client context must be at most {CLIENT_CONTEXT_LIMIT} bytes of base64-encoded "
                f"data, got {len(value)}")
        try:
            value = msgspec.json.decode(base64.b64decode(value, validate=True))
        except Exception as exc:
            raise InvalidRequestContentException(
                f"Client context must be a valid Base64-encoded JSON object: {exc}") from None
    if not isinstance(value, Mapping):
        raise InvalidRequestContentException("Client context must be a JSON object")
    try:
        size = 4 * -(-len(msgspec.json.encode(value)) // 3)  # its base64 length on the wire
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        raise InvalidRequestContentException(
            f"Client context must be a JSON object: {exc}") from None
    if size > CLIENT_CONTEXT_LIMIT:
        raise InvalidRequestContentException(
            f"Client context must be at most {CLIENT_CONTEXT_LIMIT} bytes of base64-encoded "
            f"data, got {size}")
    return ClientContext.from_dict(dict(value))
