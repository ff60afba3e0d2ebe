"""The context pool of one function version: warm/cold, limits, deadlines, reaping, provisioned.

* **Warm first, most recently used first**: idle contexts sit on a stack; provisioned ones are
  preferred (Lambda routes to provisioned concurrency before on-demand).
* **Scale-out**: no idle context means a new one (cold start: INIT then INVOKE), up to the limits.
* **Limits**: a :class:`Limiter` counts in-flight invocations, one per function with reserved
  concurrency, one shared by every unreserved function (the runtime-wide limit minus all
  reservations). Past it a synchronous invoke is throttled with Lambda's reason.
* **Deadlines**: one watchdog timer per pool, armed for the earliest deadline, instead of a timer
  per invocation. Every invocation of a version has the same timeout, so deadlines arrive in
  start order and the watchdog fires about once per timeout period however many invocations run.
* **Reaping**: one timer per pool for the earliest idle expiry (keep-alive after last use).
"""

from __future__ import annotations

import inspect
import math
import os
import sys
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from .config import PROVISIONED_INIT_TIMEOUT
from .errors import TooManyRequestsException
from .events import event_type_for
from .execution import ExecutionContext, InitFailure, Invocation, _error_payload
from .handlers import HandlerLoadError, LoadedSpec, defines_coroutine, resolve_spec
from .invocation import InvocationResult

if TYPE_CHECKING:
    from .config import FunctionConfig
    from .runtime import Runtime
    from .types import Clock, Timer

__all__ = ["ContextPool", "KeepAlivePolicy", "Limiter", "VersionStatistics"]

_UNRESOLVED: Any = object()
_Function: Any = type(lambda: None)

#: ``AWS_EXECUTION_ENV`` as Lambda's Python runtime sets it, for the running Python.
EXECUTION_ENV = f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}"

#: A keep-alive policy: ``(config, idle_contexts) -> seconds`` an idle context is kept.
KeepAlivePolicy = Callable[["FunctionConfig", int], float]


class Limiter:
    """Counts in-flight invocations against a concurrency limit (a counter with a name)."""

    __slots__ = ("in_use", "limit", "peak", "reason")

    def __init__(self, limit: int, reason: str) -> None:
        self.limit = limit
        self.in_use = 0
        self.peak = 0
        self.reason = reason

    def throttled(self, function_name: str) -> TooManyRequestsException:
        if self.reason == "ReservedFunctionConcurrentInvocationLimitExceeded":
            detail = f"function '{function_name}' has reserved concurrency {self.limit}, all in use"
        else:
            detail = f"the runtime's unreserved concurrency ({self.limit}) is all in use"
        return TooManyRequestsException(f"Rate Exceeded. {self.reason}: {detail}", self.reason)


class VersionStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one function version's counters (Lambda's metrics, snake_case)."""

    invocations: int
    errors: int
    throttles: int
    timeouts: int
    cold_starts: int
    init_errors: int
    concurrent_executions: int
    max_concurrent_executions: int
    duration_ms_sum: float
    duration_ms_max: float
    init_duration_ms_sum: float
    contexts: int
    idle_contexts: int
    provisioned_contexts: int
    contexts_created: int
    contexts_reaped: int
    contexts_reset: int
    threads_abandoned: int
    #: Async handlers that were still running when their context was given up (timeout,
    #: cancelled caller): their task was cancelled, and closed at runtime close if it ignored it.
    tasks_abandoned: int = 0

    @property
    def duration_ms_avg(self) -> float:
        done = self.invocations - self.init_errors
        return self.duration_ms_sum / done if done > 0 else 0.0


class _Counters:
    __slots__ = ("abandoned", "abandoned_tasks", "cold_starts", "created", "duration_max",
                 "duration_sum", "errors",
                 "in_flight", "init_duration_sum", "init_errors", "invocations", "peak",
                 "reaped", "reset", "throttles", "timeouts")

    def __init__(self) -> None:
        self.invocations = self.errors = self.throttles = self.timeouts = 0
        self.cold_starts = self.init_errors = self.in_flight = self.peak = 0
        self.created = self.reaped = self.reset = self.abandoned = self.abandoned_tasks = 0
        self.duration_sum = self.duration_max = self.init_duration_sum = 0.0


class ContextPool:
    """The execution contexts of one function version (``$LATEST``, ``"1"``, ...)."""

    def __init__(self, runtime: Runtime, function: Any, version_name: str,
                 config: FunctionConfig, arn: str) -> None:
        self.runtime = runtime
        self.function = function  # functions.FunctionEntry: owns the limiter
        self.function_name = config.name
        self.version_name = version_name
        self.config = config
        self.arn = arn
        self.clock: Clock = runtime.clock
        self.now = self.clock.now  # bound once: read twice per invocation
        self.memory_text = str(config.memory_mb)  # context.memory_limit_in_mb is a string
        self.log_group_name = f"/aws/lambda/{config.name}"
        self.timeout = float(config.timeout)
        self._keep_alive = config.keep_alive
        self._idle: deque[ExecutionContext] = deque()
        self._idle_prov: deque[ExecutionContext] = deque()
        self._contexts: set[ExecutionContext] = set()
        self._watched: set[ExecutionContext] = set()
        self._seq = 0
        self._watchdog: Timer | None = None
        self._reaper: Timer | None = None
        self._spec: LoadedSpec | HandlerLoadError | None = None
        self._overlay_base: dict[str, Any] | None = None
        self._event_type: Any = _UNRESOLVED
        self._on_loop: bool | None = None
        self._closing = False
        self.counters = _Counters()
        #: The code this version was published with (``handlers.code_digest``).
        self.code_digest: Any = None

    # -- the invocation path --------------------------------------------------------------------
    async def invoke(self, inv: Invocation) -> InvocationResult:
        """Run ``inv`` on a warm context, or a new one; throttle past the concurrency limit."""
        lim = self.function.limiter
        c = self.counters
        if lim.in_use >= lim.limit:
            c.throttles += 1
            raise lim.throttled(self.function_name)
        lim.in_use += 1
        if lim.in_use > lim.peak:
            lim.peak = lim.in_use
        c.invocations += 1
        c.in_flight += 1
        if c.in_flight > c.peak:
            c.peak = c.in_flight
        deadline: float | None = None
        try:
            if self._idle_prov:
                ctx = self._idle_prov.pop()
            elif self._idle:
                ctx = self._idle.pop()
            else:
                if not self.function.may_scale_up():
                    c.throttles += 1
                    c.invocations -= 1
                    raise self.function.scaling_throttled()
                ctx = self._new_context(provisioned=False)
                try:
                    await ctx.init()
                except InitFailure as failure:
                    if not failure.timed_out:
                        return self._init_failed(inv, failure)
                    # Lambda's suppressed init: an INIT that overran its 10 s is retried inside
                    # the first invoke, where the function's timeout covers INIT and handler.
                    deadline = self.now() + self.timeout
                    ctx = self._new_context(provisioned=False)
                    try:
                        await ctx.init(limit=self.timeout)
                    except InitFailure as again:
                        if again.timed_out:
                            again = InitFailure(
                                "Sandbox.Timedout",
                                f"RequestId: {inv.request_id} Error: Task timed out after "
                                f"{self.timeout:.2f} seconds", [], timed_out=True)
                        return self._init_failed(inv, again)
                c.cold_starts += 1
                c.init_duration_sum += (ctx.init_duration or 0.0) * 1000.0
            log = self.runtime.observer
            if log.enabled:
                log.start(inv.request_id, self.function_name, self.version_name)
            result = await ctx.invoke(inv) if deadline is None else await ctx.invoke(inv, deadline)
        finally:
            # The function's limiter, not ``lim``: a concurrency change while this invocation
            # ran moved its count to the new limiter.
            self.function.limiter.in_use -= 1
            c.in_flight -= 1
        if result.function_error is not None:
            c.errors += 1
            if not ctx.alive and ctx.timed_out:
                c.timeouts += 1
        d = result.duration_ms
        c.duration_sum += d
        if d > c.duration_max:
            c.duration_max = d
        if ctx.alive:
            self._release(ctx)
        if log.enabled:
            log.report(result, self.config.memory_mb)
        if self.runtime._idle_waiters:
            self.runtime._maybe_idle()
        return result

    def _init_failed(self, inv: Invocation, failure: InitFailure) -> InvocationResult:
        c = self.counters
        c.errors += 1
        c.init_errors += 1
        if failure.timed_out:
            c.timeouts += 1
        log = self.runtime.observer
        log.init_error(inv.request_id, self.version_name, failure)
        return InvocationResult(
            status_code=200,
            raw_payload=_error_payload(failure.error_type, failure.message, failure.stack_trace,
                                       inv.request_id),
            request_id=inv.request_id, executed_version=self.version_name,
            function_error="Unhandled", cold_start=True)

    def _new_context(self, *, provisioned: bool) -> ExecutionContext:
        self._seq += 1
        ctx = ExecutionContext(self, self._seq, provisioned=provisioned)
        self._contexts.add(ctx)
        self.counters.created += 1
        return ctx

    def _release(self, ctx: ExecutionContext) -> None:
        if self._closing:
            self.runtime.spawn(ctx.shutdown, self.runtime.shutdown_limit)
            return
        if ctx.provisioned:
            self._idle_prov.append(ctx)
            return
        ka = self._keep_alive
        if ka is None:
            policy = self.runtime._keep_alive
            ka = (policy(self.config, len(self._idle)) if callable(policy)
                  else float(policy))
        ctx.expires_at = expires = self.now() + ka
        self._idle.append(ctx)
        reaper = self._reaper
        if reaper is None or expires < reaper.when:
            if reaper is not None:
                reaper.cancel()
            self._reaper = self.clock.call_at(expires, self._reap)

    # -- deadlines (called by the execution context) --------------------------------------------
    def watch(self, ctx: ExecutionContext) -> None:
        self._watched.add(ctx)
        wd = self._watchdog
        if wd is None or ctx.deadline < wd.when:
            if wd is not None:
                wd.cancel()
            self._watchdog = self.clock.call_at(ctx.deadline, self._check_deadlines)

    def unwatch(self, ctx: ExecutionContext) -> None:
        self._watched.discard(ctx)

    def _check_deadlines(self) -> None:
        self._watchdog = None
        now = self.clock.now()
        nxt = math.inf
        for ctx in list(self._watched):
            if ctx.deadline <= now:
                self._watched.discard(ctx)
                ctx.expire()
            elif ctx.deadline < nxt:
                nxt = ctx.deadline
        if nxt < math.inf:
            self._watchdog = self.clock.call_at(nxt, self._check_deadlines)

    # -- reaping --------------------------------------------------------------------------------
    def _reap(self) -> None:
        self._reaper = None
        now = self.clock.now()
        keep: deque[ExecutionContext] = deque()
        nxt = math.inf
        for ctx in self._idle:
            if ctx.expires_at <= now:
                self.counters.reaped += 1
                self.runtime.spawn(ctx.shutdown, self.runtime.shutdown_limit)
            else:
                keep.append(ctx)
                nxt = min(nxt, ctx.expires_at)
        self._idle = keep
        if nxt < math.inf:
            self._reaper = self.clock.call_at(nxt, self._reap)

    # -- lifecycle ------------------------------------------------------------------------------
    def init_limit(self, provisioned: bool) -> float:
        """Seconds INIT may take: Lambda's 10 s on demand (``init_timeout``); for provisioned
        concurrency the larger of 130 s and the function's timeout, as on Lambda."""
        config = self.config
        if provisioned:
            return max(PROVISIONED_INIT_TIMEOUT, float(config.timeout), config.init_timeout)
        return float(config.init_timeout)

    def freeze_code_from(self, other: ContextPool) -> None:
        """Take ``other``'s compiled handler (a version keeps the code it was published with)."""
        if isinstance(self.config.handler, str):
            try:
                self._spec = other.loaded_spec()
            except HandlerLoadError as exc:
                self._spec = exc

    def loads_on_loop(self, spec: LoadedSpec) -> bool:
        """Whether a handler module's body runs on the event loop (its handler is an
        ``async def``) or, as a Lambda module, on the execution context's own thread."""
        on_loop = self._on_loop
        if on_loop is None:
            on_loop = self._on_loop = defines_coroutine(spec)
        return on_loop

    def loaded_spec(self) -> LoadedSpec | None:
        """The handler string compiled once per version (``None`` for a callable handler)."""
        if not isinstance(self.config.handler, str):
            return None
        spec = self._spec
        if spec is None:
            try:
                spec = resolve_spec(self.config.handler, self.config.code_dir,
                                    self.config.layers)
            except HandlerLoadError as exc:
                spec = exc
            self._spec = spec
        if isinstance(spec, HandlerLoadError):
            raise spec
        return spec

    def environment_overlay(self, ctx: ExecutionContext) -> dict[str, Any]:
        """The environment a context sees over the process's: the function's and Lambda's own."""
        base = self._overlay_base
        if base is None:
            config = self.config
            region = self.runtime.region
            base = dict(config.environment)
            base.update({
                # What Lambda's runtime environment sets for every function.
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_EXECUTION_ENV": EXECUTION_ENV,
                "AWS_LAMBDA_FUNCTION_NAME": config.name,
                "AWS_LAMBDA_FUNCTION_VERSION": self.version_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
                "_HANDLER": config.handler_name,
                "LAMBDA_TASK_ROOT": os.path.abspath(config.code_dir) if config.code_dir
                else os.getcwd(),
            })
            try:
                spec = self.loaded_spec()
            except HandlerLoadError:
                spec = None  # INIT reports it right after
            if spec is not None:
                base["LAMBDA_TASK_ROOT"] = spec.task_root
            self._overlay_base = base
        overlay = dict(base)
        overlay["AWS_LAMBDA_LOG_STREAM_NAME"] = ctx.info.log_stream_name
        overlay["AWS_LAMBDA_INITIALIZATION_TYPE"] = ("provisioned-concurrency" if ctx.provisioned
                                                     else "on-demand")
        return overlay

    def event_type_of(self, handler: Any) -> Any:
        """The event Struct ``handler`` declares (``None`` for plain JSON), cheaply.

        Resolving annotations costs ~5-30 us (``inspect.signature``, ``get_type_hints``), which
        would dominate a cold start: a callable handler is resolved once per version; a handler
        loaded from a string (a new function object per context) is skipped when it has no
        annotations, which is the common Lambda handler.
        """
        if not isinstance(self.config.handler, str):
            if self._event_type is _UNRESOLVED:
                self._event_type = event_type_for(handler)
            return self._event_type
        if type(handler) is _Function and not handler.__annotations__ \
                and not hasattr(handler, "__wrapped__"):
            return None  # a plain, unannotated, undecorated function: nothing to resolve
        target = inspect.unwrap(handler)
        if not getattr(target, "__annotations__", None) and inspect.isfunction(target):
            return None
        return event_type_for(handler)

    def forget(self, ctx: ExecutionContext, *, reset: bool) -> None:
        """Called when a context is discarded: drop it, and keep provisioned ones at N."""
        if ctx in self._contexts:
            self._contexts.discard(ctx)
            self._watched.discard(ctx)
            if reset:
                self.counters.reset += 1
            if ctx.provisioned and not self._closing and self.runtime.running:
                self.runtime.spawn(self._add_provisioned)

    def note_abandoned(self) -> None:
        self.counters.abandoned += 1

    def note_abandoned_task(self) -> None:
        self.counters.abandoned_tasks += 1

    async def provision(self) -> None:
        """Bring provisioned contexts up to the configured number (INIT each, in parallel)."""
        want = self.config.provisioned_concurrency - self._provisioned_count()
        if want <= 0:
            return
        import anyio

        async with anyio.create_task_group() as tg:
            for _ in range(want):
                tg.start_soon(self._add_provisioned)

    async def _add_provisioned(self) -> None:
        if self._closing or self._provisioned_count() >= self.config.provisioned_concurrency:
            return
        ctx = self._new_context(provisioned=True)
        try:
            await ctx.init()
        except InitFailure as failure:
            self.runtime.observer.provisioning_failed(self.function_name, self.version_name,
                                                      failure)
            raise
        self.counters.init_duration_sum += (ctx.init_duration or 0.0) * 1000.0
        self._idle_prov.append(ctx)

    def release_provisioned(self) -> None:
        """After the provisioned number was lowered: idle provisioned contexts over it become
        on-demand ones (kept alive, then reaped, as any other)."""
        extra = self._provisioned_count() - self.config.provisioned_concurrency
        while extra > 0 and self._idle_prov:
            ctx = self._idle_prov.popleft()
            ctx.provisioned = False
            extra -= 1
            self._release(ctx)

    def _provisioned_count(self) -> int:
        return sum(1 for ctx in self._contexts if ctx.provisioned)

    async def aclose(self) -> None:
        """SHUTDOWN every idle context; busy ones shut down as they finish."""
        import anyio

        self._closing = True
        for timer in (self._reaper,):
            if timer is not None:
                timer.cancel()
        self._reaper = None
        idle = list(self._idle) + list(self._idle_prov)
        self._idle.clear()
        self._idle_prov.clear()
        limit = self.runtime.shutdown_limit
        async with anyio.create_task_group() as tg:
            for ctx in idle:
                tg.start_soon(ctx.shutdown, limit)

    def kill_all(self) -> None:
        """Discard every context at once (used after the grace period ran out)."""
        self._closing = True
        for ctx in list(self._contexts):
            ctx.discard()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    # -- observability --------------------------------------------------------------------------
    def log_handler_error(self, request_id: str, exc: BaseException) -> None:
        if self.runtime.observer.enabled:
            self.runtime.observer.handler_error(request_id, exc)

    def log_shutdown_error(self, ctx: ExecutionContext, exc: BaseException) -> None:
        self.runtime.observer.shutdown_error(ctx.id, exc)

    @property
    def in_flight(self) -> int:
        return int(self.counters.in_flight)

    def statistics(self) -> VersionStatistics:
        c = self.counters
        return VersionStatistics(
            invocations=c.invocations, errors=c.errors, throttles=c.throttles,
            timeouts=c.timeouts, cold_starts=c.cold_starts, init_errors=c.init_errors,
            concurrent_executions=c.in_flight, max_concurrent_executions=c.peak,
            duration_ms_sum=float(c.duration_sum), duration_ms_max=float(c.duration_max),
            init_duration_ms_sum=float(c.init_duration_sum), contexts=len(self._contexts),
            idle_contexts=len(self._idle) + len(self._idle_prov),
            provisioned_contexts=self._provisioned_count(), contexts_created=c.created,
            contexts_reaped=c.reaped, contexts_reset=c.reset, threads_abandoned=c.abandoned,
            tasks_abandoned=c.abandoned_tasks)

    def __repr__(self) -> str:
        return (f"<ContextPool {self.function_name}:{self.version_name} "
                f"contexts={len(self._contexts)} idle={len(self._idle) + len(self._idle_prov)}>")
