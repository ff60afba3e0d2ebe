"""The execution context: INIT once, then one INVOKE at a time, then SHUTDOWN.

This module is the one boundary where a handler's exceptions become outcomes (design rule 4):
whatever the handler raises (any ``BaseException``: ``KeyboardInterrupt``, ``SystemExit``,
``GeneratorExit``, its own ``CancelledError``), returns or fails to return in time ends here as an
:class:`~asynclambda.invocation.InvocationResult`. Everywhere else an asynclambda bug propagates.

Lifecycle (a table, like h11's state machine)::

    NEW ──init()──► IDLE ──invoke()──► BUSY ──done──► IDLE ──reap/close──► SHUTDOWN ──► DEAD
      │                                  │
      └─init fails / caller cancelled──► DEAD
                                         └─timeout / crash / caller cancelled──► DEAD (reset)

**Cancellation is owned.** Each context owns one asyncio task (``owner``), the way a Lambda
execution environment owns its runtime thread, and its code runs under that task's identity:
``asyncio.current_task()`` in a handler is the context's task, never the caller's. The caller's
task is never cancelled or uncancelled by asynclambda, so the caller's own timeouts and
cancellations (``asyncio.timeout``, ``wait_for``, anyio scopes) behave exactly as without it.

Warm path (measured, see ``benchmarks/``): a handler's first step runs eagerly in the caller's
task, with the current task switched to the owner for that step (as Python 3.12's eager tasks
do). A handler that returns without suspending (the common case) costs no task switch, no future
and no timer. One that suspends is handed to the owner task, which drives it from then on while
the caller waits on a future. The deadline then resolves that future with ``Sandbox.Timedout``
and cancels the owner. A handler that ignores the cancellation no longer holds up its caller: its
context is reset, and the coroutine is closed when the runtime closes. A plain ``def`` handler
runs on the context's own thread, which is abandoned (never reused) if it overruns.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import shutil
import tempfile
import traceback
import types
from asyncio.tasks import _enter_task, _leave_task
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from . import _environ
from .events import decoder_for
from .handlers import (
    HandlerLoadError,
    ThreadRunner,
    is_async_callable,
    load_handler,
)
from .invocation import ClientContext, ContextInfo, InvocationResult, LambdaContext
from .payloads import RESPONSE_LIMIT, MarshalError, decode, encode, encode_response
from .signals import Retry

if TYPE_CHECKING:
    from .pool import ContextPool

__all__ = ["ExecutionContext", "InitFailure", "Invocation", "current_invocation"]

#: The invocation the current code is serving (set inside each execution context's Context).
current_invocation: contextvars.ContextVar[LambdaContext | None] = contextvars.ContextVar(
    "asynclambda_invocation", default=None)

_set_current = current_invocation.set
try:  # the C dict behind asyncio.current_task(loop): one lookup, no Python frame (3.11)
    from asyncio.tasks import _current_tasks  # type: ignore[attr-defined]

    _current_task: Any = _current_tasks.get
except ImportError:  # pragma: no cover - Pythons that keep it elsewhere
    _current_task = asyncio.current_task
_Coroutine: Final = types.CoroutineType
_isawaitable = inspect.isawaitable

# Outcomes that come back through a future (from the owner task or the context's thread): a
# tagged tuple, never a raised exception, so no BaseException ever reaches the event loop.
_OK: Final = 0
_ERR: Final = 1
#: The deadline passed before the handler finished.
_TIMED_OUT: Final = (2, None)
#: The context was killed (the runtime closed past its grace period) before the handler finished.
_KILLED: Final = (3, None)


class InitFailure(Exception):
    """INIT failed; carries Lambda's error type and the error payload to report."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str], *,
                 timed_out: bool = False) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace
        #: INIT ran past its limit (Lambda retries an on-demand INIT inside the first invoke).
        self.timed_out = timed_out


class _Raised(Exception):
    """The user code a context ran raised ``exc`` (any ``BaseException``), carried as a value."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(repr(exc))
        self.exc = exc


class _Timeout(Exception):
    """The user code a context ran passed its deadline (or the context was killed)."""


#: ``Invocation.event`` before anything decoded the raw payload.
UNDECODED: Final[Any] = object()


class Invocation:
    """One request on its way through the pipeline (the envelope, not the handler's view).

    ``raw`` is the JSON payload; ``event`` its generic decoding when a caller already made one
    (the execution context decodes ``raw`` itself otherwise, into the handler's declared event
    Struct when it has one).
    """

    __slots__ = ("attempt", "client_context", "event", "invoked_arn", "lineage", "raw",
                 "request_id", "tenant_id")

    def __init__(self, raw: bytes, request_id: str, event: Any = UNDECODED, attempt: int = 1,
                 client_context: ClientContext | None = None,
                 invoked_arn: str | None = None, lineage: Any = None,
                 tenant_id: str | None = None) -> None:
        self.raw = raw
        #: The event chain this invocation belongs to (``{function: hops}``), for the loop guard.
        self.lineage = lineage
        self.event = event
        self.request_id = request_id
        self.attempt = attempt
        self.client_context = client_context
        self.invoked_arn = invoked_arn
        self.tenant_id = tenant_id


class ExecutionContext:
    """One Lambda execution environment: a loaded handler that serves one invocation at a time."""

    __slots__ = ("_abandoned", "_dirty", "_job", "_job_running", "_tmp_dir", "_wake", "alive",
                 "busy", "cold", "cv", "deadline", "event_decoder", "expires_at", "handler", "id",
                 "info", "init_duration", "invocations", "is_async", "loop", "module", "owner",
                 "pool", "provisioned", "runner", "timed_out", "waiter")

    def __init__(self, pool: ContextPool, seq: int, *, provisioned: bool = False) -> None:
        self.pool = pool
        self.id = f"{pool.function_name}:{pool.version_name}#{seq}"
        # A fresh, empty Context: like a new Lambda process, it inherits no caller variables.
        self.cv = contextvars.Context()
        self.cv.run(_environ.in_context.set, True)
        self.loop = asyncio.get_running_loop()
        self.provisioned = provisioned
        self.cold = not provisioned
        self.alive = True
        self.busy = False
        self.handler: Any = None
        #: Decodes the raw payload: the generic JSON decoder, or one for the handler's event Struct.
        self.event_decoder: Any = decode
        self.is_async = True
        self.runner: ThreadRunner | None = None
        self.module: Any = None
        self.deadline = 0.0
        self.expires_at = 0.0
        #: The task this context's async code runs as (created on first need).
        self.owner: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None
        self._job: Any = None
        self._job_running = False
        #: The owner task was cancelled by user code: reset the context after this invocation.
        self._dirty = False
        #: Stop driving the abandoned handler coroutine at its next step (runtime closing).
        self._abandoned = False
        #: What the caller waits on while user code runs elsewhere (owner task or thread).
        self.waiter: asyncio.Future[Any] | None = None
        self.timed_out = False
        self.invocations = 0
        self.init_duration: float | None = None
        self._tmp_dir: Path | None = None
        rt = pool.runtime
        # Positional: this runs once per cold start.
        self.info = ContextInfo(pool.function_name, pool.version_name, pool.arn,
                                pool.memory_text, pool.log_group_name,
                                rt.new_log_stream_name(pool.version_name), rt.clock, self)

    # -- INIT -----------------------------------------------------------------------------------
    async def init(self, limit: float | None = None) -> None:
        """Load the handler and run the init hook; raises :class:`InitFailure` on any failure.

        ``limit`` defaults to the function's init limit (10 s on demand; for provisioned
        contexts the larger of 130 s and the function timeout, as on Lambda). A plain ``def``
        handler's module body runs on the context's own thread, as on Lambda, so module-level
        ``asyncio.run(...)`` or ``asyncio.get_event_loop()`` work; an ``async def`` handler's
        module runs on the event loop. If the caller is cancelled, the context is discarded
        (its thread stopped) and the cancellation propagates.
        """
        pool = self.pool
        config = pool.config
        cv = self.cv
        if pool.runtime.isolate_environment:
            cv.run(_environ.overlay_var.set, pool.environment_overlay(self))
        clock = pool.clock
        start = clock.now()
        if limit is None:
            limit = pool.init_limit(self.provisioned)
        self.deadline = start + limit
        self.timed_out = False
        try:
            try:
                spec = pool.loaded_spec()
                if spec is not None:
                    if not pool.loads_on_loop(spec):
                        self.runner = ThreadRunner(f"asynclambda:{self.id}", cv)
                        pool.runtime.track_runner(self.runner)
                    self.handler, self.module = await self._call(load_handler, spec)
                else:
                    self.handler = config.handler
                self.is_async = is_async_callable(self.handler)
                if self.is_async and self.runner is not None:
                    self.runner.stop()  # the module needed a thread; the handler does not
                    self.runner = None
                elif not self.is_async and self.runner is None:
                    self.runner = ThreadRunner(f"asynclambda:{self.id}", cv)
                    pool.runtime.track_runner(self.runner)
                event_type = pool.event_type_of(self.handler)
                if event_type is not None:
                    self.event_decoder = decoder_for(event_type).decode
                if config.init is not None:
                    self.info.state = await self._call(config.init, self.info)
                if self._dirty:
                    raise _Raised(asyncio.CancelledError("INIT cancelled its own task"))
            except _Timeout:
                raise InitFailure("Runtime.InitError",
                                  f"INIT timed out after {limit:.2f} seconds", [],
                                  timed_out=True) from None
            except HandlerLoadError as exc:
                raise InitFailure(exc.error_type, exc.message, exc.stack_trace) from exc
            except _Raised as raised:
                raise _init_failure(raised.exc) from raised.exc
        except BaseException:
            # Failed, timed out, or the caller was cancelled: this context never serves.
            self.discard(reset=False)
            raise
        self.init_duration = clock.now() - start

    # -- running user code ------------------------------------------------------------------------
    async def _call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in this context under ``self.deadline`` (INIT and SHUTDOWN work).

        Returns its value. Raises :class:`_Raised` if it raised, :class:`_Timeout` if the
        deadline passed first, and ``CancelledError`` if the *caller* was cancelled (the context
        is then discarded).
        """
        runner = self.runner
        if runner is not None and not is_async_callable(fn):
            outcome = await self._wait(runner.submit(fn, *args))
        else:
            state, value = self._start(fn, args)
            if state == _OK:
                if self._owner_cancelled():
                    raise _Raised(asyncio.CancelledError())
                return value
            if state == _ERR:
                raise _Raised(value)
            outcome = await self._wait(self._handoff(*value))
        if outcome[0] == _OK:
            return outcome[1]
        if outcome[0] == _ERR:
            raise _Raised(outcome[1])
        raise _Timeout

    def _start(self, fn: Any, args: tuple[Any, ...]) -> tuple[int, Any]:
        """Call ``fn`` and run its coroutine's first step in the caller's task, as the owner.

        Returns ``(_OK, value)``, ``(_ERR, exc)`` or ``(2, (coroutine, yielded))`` when the
        coroutine suspended and must be handed to the owner task.
        """
        loop = self.loop
        owner = self.owner or self._new_owner()
        cv = self.cv
        me = _current_task(loop)
        if me is not None:
            _leave_task(loop, me)
        _enter_task(loop, owner)
        try:
            result = cv.run(fn, *args)
            if type(result) is not _Coroutine:
                if not _isawaitable(result):
                    return _OK, result
                result = _as_coro(result)
            try:
                first = cv.run(result.send, None)
            except StopIteration as stop:
                return _OK, stop.value
            return 2, (result, first)
        except BaseException as exc:  # the boundary: anything user code raises is an outcome
            return _ERR, exc
        finally:
            _leave_task(loop, owner)
            if me is not None:
                _enter_task(loop, me)

    def _owner_cancelled(self) -> bool:
        """User code cancelled its own task (``asyncio.current_task().cancel()``)."""
        owner = self.owner
        if owner is not None and (owner.cancelling() or owner.done()):
            self._dirty = True
            return True
        return False

    def _new_owner(self) -> asyncio.Task[None]:
        loop = self.loop
        self._wake = loop.create_future()
        owner = self.owner = loop.create_task(self._serve(), name=f"asynclambda:{self.id}",
                                              context=self.cv)
        self.pool.runtime.track_owner(owner, self)
        return owner

    def _handoff(self, coro: Any, first: Any) -> asyncio.Future[Any]:
        """Give a suspended coroutine to the owner task; a future for its outcome."""
        out: asyncio.Future[Any] = self.loop.create_future()
        throw = False
        if self._owner_cancelled():
            # The handler cancelled "its" task during its first step: as asyncio would, deliver
            # the cancellation at its next resumption, on a fresh owner (the old one ends).
            throw = True
            self._new_owner()
        self._job = (coro, first, throw, out)
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)
        return out

    async def _wait(self, fut: asyncio.Future[Any]) -> Any:
        """Wait for user code running elsewhere, under the deadline watchdog."""
        self.waiter = fut
        pool = self.pool
        pool.watch(self)
        try:
            return await fut
        except asyncio.CancelledError:
            # Only the caller can be cancelled here (nothing else cancels ``fut``): the user code
            # is told to stop, the context reset, and the caller's cancellation propagates.
            self.discard()
            raise
        finally:
            self.waiter = None
            pool.unwatch(self)

    async def _serve(self) -> None:
        """The owner task: runs handed-off coroutines, one at a time, until the context ends."""
        task = asyncio.current_task()
        while True:
            wake = self._wake
            assert wake is not None
            try:
                await wake
            except asyncio.CancelledError:
                if self.owner is not task or not self.alive:
                    return
                # Cancelled while idle by code that kept a reference to this task: the next
                # job (if one was handed over) sees the cancellation, and the context resets.
                self._dirty = True
                if self._job is None:
                    return
            job = self._job
            if job is None:
                if self.owner is not task or not self.alive:
                    return
                continue
            self._job = None
            self._wake = self.loop.create_future()
            coro, first, throw, out = job
            self._job_running = True
            try:
                value = await _Resume(self, coro, first, throw or self._dirty)
            except BaseException as exc:  # the boundary, for code that suspended
                outcome: Any = (_ERR, exc)
            else:
                outcome = (_OK, value)
            finally:
                self._job_running = False
            if task is not None and task.cancelling() and self.alive:
                self._dirty = True  # the handler cancelled its own task
            if not out.done():
                out.set_result(outcome)
            if self._dirty or not self.alive or self.owner is not task:
                return

    # -- INVOKE ---------------------------------------------------------------------------------
    async def invoke(self, inv: Invocation, deadline: float | None = None) -> InvocationResult:
        """Serve one invocation. Never raises for a handler failure: the result carries it.

        Raises only ``CancelledError`` when the *caller* is cancelled (the context is then
        reset). ``deadline`` overrides ``now + timeout`` (an INIT retried inside this invoke
        already used part of the function's timeout).
        """
        # This is the warm path: every line below runs once per invocation, so attribute
        # lookups are hoisted, constructors take positional arguments, and the handler's first
        # step runs right here (no task switch, no future, no timer unless it suspends).
        if self.busy:  # the core invariant; a violation is an asynclambda bug, loudly
            raise AssertionError(f"execution context {self.id} asked to run two invocations")
        self.busy = True
        pool = self.pool
        now = pool.now
        start = now()
        if deadline is None:
            deadline = start + pool.timeout
        self.deadline = deadline
        self.timed_out = False
        cold = self.cold
        self.cold = False
        request_id = inv.request_id
        lctx = LambdaContext(self.info, request_id, deadline, cold, inv.attempt,
                             inv.client_context, inv.invoked_arn, inv.lineage, None,
                             inv.tenant_id)
        error: BaseException | None = None
        result: Any = None
        event = inv.event
        if event is UNDECODED or self.event_decoder is not decode:
            try:
                event = self.event_decoder(inv.raw)
            except (msgspec.DecodeError, RecursionError) as exc:
                self.busy = False
                self.invocations += 1
                return InvocationResult(
                    200, _error_payload("Runtime.UnmarshalError",
                                        f"Unable to unmarshal input: {exc}", [], request_id),
                    request_id, pool.version_name, "Unhandled", cold)
        try:
            if self.runner is None:
                # _start(), inlined: the handler's first step, as the context's own task.
                loop = self.loop
                owner = self.owner or self._new_owner()
                cv = self.cv
                me = _current_task(loop)
                if me is not None:
                    _leave_task(loop, me)
                _enter_task(loop, owner)
                suspended = False
                try:
                    # One Context.run for the call and the first step of its coroutine.
                    result, first = cv.run(_first_step, self.handler, event, lctx)
                    if first is not _DONE:
                        suspended = True
                except BaseException as exc:  # the boundary: any handler exception is an outcome
                    error = exc
                finally:
                    _leave_task(loop, owner)
                    if me is not None:
                        _enter_task(loop, me)
                if suspended:
                    outcome = await self._wait(self._handoff(result, first))
                    result = None
                    if outcome[0] == _OK:
                        result = outcome[1]
                    elif outcome[0] == _ERR:
                        error = outcome[1]
                    else:
                        self.timed_out = True
                        if outcome is _KILLED:
                            error = _Killed()
                elif owner.cancelling() and error is None:
                    self._dirty = True  # it cancelled its own task, then returned
                    error = asyncio.CancelledError()
            else:
                result, error = await self._run_thread(event, lctx)
        except asyncio.CancelledError:
            self.busy = False
            raise  # the caller was cancelled: _wait() already reset the context
        end = now()
        self.busy = False
        self.invocations += 1
        if self.timed_out or error is not None:
            return self._failed(inv, error, cold, (end - start) * 1000.0)
        if end > deadline:
            # It ran past its deadline without ever yielding to the loop (so the watchdog could
            # not fire): on Lambda it would have been stopped there.
            self.timed_out = True
            return self._failed(inv, None, cold, (end - start) * 1000.0)
        function_error: str | None = None
        try:
            raw = encode_response(result)
        except MarshalError as exc:
            raw = _error_payload("Runtime.MarshalError", str(exc), [], request_id)
            function_error = "Unhandled"
        else:
            if len(raw) > RESPONSE_LIMIT:
                raw = _error_payload(
                    "Function.ResponseSizeTooLarge",
                    f"Response payload size exceeded maximum allowed payload size "
                    f"({RESPONSE_LIMIT} bytes).", [], request_id)
                function_error = "Unhandled"
        if self._dirty:
            self.discard()
        return InvocationResult(200, raw, request_id, pool.version_name, function_error, cold,
                                (end - start) * 1000.0,
                                self.init_duration * 1000.0
                                if cold and self.init_duration is not None else None)

    def _failed(self, inv: Invocation, error: BaseException | None, cold: bool,
                duration_ms: float) -> InvocationResult:
        """The result of a timed-out or failed invocation (and the context's fate)."""
        request_id = inv.request_id
        retry_delay: float | None = None
        if isinstance(error, _Killed):
            self.discard()
            raw = _error_payload("Runtime.ExitError",
                                 f"RequestId: {request_id} Error: Runtime exited: the runtime "
                                 "closed before the invocation finished", [], request_id)
        elif self.timed_out:
            self.discard()  # its thread or coroutine is abandoned: never reused
            raw = self._timeout_payload(request_id)
        elif isinstance(error, SystemExit):
            self.discard()  # the "process" exited: Lambda starts a new environment
            raw = _error_payload("Runtime.ExitError",
                                 f"RequestId: {request_id} Error: Runtime exited with "
                                 f"error: exit status {error.code}", _stack_trace(error),
                                 request_id)
        elif isinstance(error, asyncio.CancelledError):
            # The handler's own cancellation (the caller was not cancelled): a function error,
            # and the context is reset (its task's cancellation state is the handler's doing).
            self.discard()
            assert error is not None
            raw = _error_payload(type(error).__name__, str(error), _stack_trace(error),
                                 request_id)
            self.pool.log_handler_error(request_id, error)
        elif not isinstance(error, Exception):
            # KeyboardInterrupt, GeneratorExit, any other BaseException: on Lambda it escapes
            # the runtime and ends the process; here the context is reset, the host untouched.
            assert error is not None
            self.discard()
            reason = "signal: interrupt" if isinstance(error, KeyboardInterrupt) \
                else "exit status 1"
            raw = _error_payload("Runtime.ExitError",
                                 f"RequestId: {request_id} Error: Runtime exited with error: "
                                 f"{reason}",
                                 _stack_trace(error) + traceback.format_exception_only(error),
                                 request_id)
        else:
            if isinstance(error, Retry):
                retry_delay = error.delay
            raw = _error_payload(type(error).__name__, str(error), _stack_trace(error),
                                 request_id)
            self.pool.log_handler_error(request_id, error)
            if self._dirty:
                self.discard()
        out = InvocationResult(200, raw, request_id, self.pool.version_name, "Unhandled", cold,
                               duration_ms,
                               self.init_duration * 1000.0
                               if cold and self.init_duration is not None else None)
        out.retry_delay = retry_delay
        return out

    async def _run_thread(self, event: Any, lctx: LambdaContext) -> tuple[Any, Any]:
        """Run a plain handler on the context's thread: ``(result, error)``."""
        runner = self.runner
        assert runner is not None
        outcome = await self._wait(runner.submit(_call_sync, self.handler, event, lctx))
        if outcome[0] == _OK:
            value = outcome[1]
            if type(value) is _Coroutine:
                # A plain handler returned a coroutine object: Lambda's runtime cannot encode it
                # (Runtime.MarshalError: "Object of type coroutine is not JSON serializable");
                # close it so it never runs half-awaited.
                value.close()
            return value, None
        if outcome[0] == _ERR:
            return None, outcome[1]
        self.timed_out = True
        return None, (_Killed() if outcome is _KILLED else None)

    def expire(self) -> None:
        """The watchdog's verdict: the deadline passed. The caller gets the timeout now."""
        self.timed_out = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(_TIMED_OUT)

    def _timeout_payload(self, request_id: str) -> bytes:
        return _error_payload(
            "Sandbox.Timedout",
            f"RequestId: {request_id} Error: Task timed out after {self.pool.timeout:.2f} seconds",
            [], request_id)

    # -- teardown -------------------------------------------------------------------------------
    def abandon(self) -> None:
        """Give up on a context whose user code is still running (it is never reused)."""
        self.discard()

    def discard(self, *, reset: bool = True) -> None:
        """This context will never serve again (the pool replaces it on demand).

        ``reset`` marks a reset (timeout, crash, cancelled caller) rather than a normal end
        (reaped, closed, failed INIT), for the statistics. User code still running is told to
        stop: a thread finishes its job and exits (counted as abandoned), the owner task is
        cancelled (counted as abandoned if it was running a handler).
        """
        if not self.alive:
            return
        self.alive = False
        pool = self.pool
        pool.forget(self, reset=reset)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(_KILLED)
        runner = self.runner
        if runner is not None:
            if runner.busy:
                pool.note_abandoned()
            runner.stop()
        owner = self.owner
        if owner is not None and not owner.done():
            if self._job_running:
                pool.note_abandoned_task()
            owner.cancel()
        self._remove_tmp()

    def close_abandoned(self) -> None:
        """At runtime close: stop driving a handler coroutine that ignored its cancellation."""
        owner = self.owner
        if owner is not None and not owner.done():
            self._abandoned = True
            owner.cancel()

    async def shutdown(self, limit: float) -> None:
        """SHUTDOWN: run the shutdown hook (bounded by ``limit`` seconds) and release resources."""
        if not self.alive:
            return
        hook = self.pool.config.shutdown
        try:
            if hook is not None:
                self.deadline = self.pool.clock.now() + limit
                self.timed_out = False
                try:
                    await self._call(hook, self.info.state)
                except _Timeout:
                    self.pool.log_shutdown_error(
                        self, TimeoutError(f"shutdown hook ran past its {limit:.2f} s limit"))
                except _Raised as raised:
                    self.pool.log_shutdown_error(self, raised.exc)
        finally:
            self.discard(reset=False)

    @property
    def tmp_dir(self) -> Path:
        """The context's ephemeral storage directory, created on first use, removed on reset."""
        if self._tmp_dir is None:
            self._tmp_dir = Path(tempfile.mkdtemp(prefix=f"asynclambda-{self.pool.function_name}-"))
        return self._tmp_dir

    def _remove_tmp(self) -> None:
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None

    def __repr__(self) -> str:
        state = "dead" if not self.alive else ("busy" if self.busy else "idle")
        return f"<ExecutionContext {self.id} {state} invocations={self.invocations}>"


def _init_failure(exc: BaseException) -> InitFailure:
    """What the AWS Python runtime reports for an exception raised during INIT: the
    exception's class name and ``str(exc)`` (``KeyError`` / ``'TABLE_NAME'``)."""
    if isinstance(exc, HandlerLoadError):
        return InitFailure(exc.error_type, exc.message, exc.stack_trace)
    if isinstance(exc, SystemExit):
        return InitFailure("Runtime.ExitError",
                           f"Runtime exited with error: exit status {exc.code}",
                           _stack_trace(exc))
    return InitFailure(type(exc).__name__, str(exc), _stack_trace(exc))


class _Resume:
    """Awaitable that drives an already-started coroutine from the owner task.

    What the coroutine yields goes up to the owner task; results and exceptions (cancellation)
    come back down. Once the runtime gives up on it (``_abandoned``), the coroutine is closed at
    its next step instead of being resumed.
    """

    __slots__ = ("_coro", "_ctx", "_first", "_throw")

    def __init__(self, ctx: ExecutionContext, coro: Any, first: Any, throw: bool) -> None:
        self._ctx = ctx
        self._coro = coro
        self._first = first
        self._throw = throw

    def __await__(self) -> Any:
        coro = self._coro
        ctx = self._ctx
        send = coro.send
        throw = coro.throw
        yielded = self._first
        self._first = None
        if self._throw:
            try:
                yielded = throw(asyncio.CancelledError())
            except StopIteration as stop:
                return stop.value
        while True:
            try:
                value = yield yielded
            except BaseException as exc:
                if ctx._abandoned:
                    with contextlib.suppress(BaseException):
                        coro.close()
                    raise
                try:
                    yielded = throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = send(value)
                except StopIteration as stop:
                    return stop.value


class _Killed(Exception):
    """The runtime closed (past its grace period) while the invocation ran."""


async def _as_coro(aw: Any) -> Any:
    return await aw


_DONE: Final = object()


def _first_step(handler: Any, event: Any, lctx: LambdaContext) -> tuple[Any, Any]:
    """Call an async handler and run its coroutine's first step (inside the context's Context):
    ``(value, _DONE)`` when it finished there, ``(coroutine, what it yielded)`` otherwise."""
    _set_current(lctx)
    result = handler(event, lctx)
    if type(result) is not _Coroutine:
        if not _isawaitable(result):
            return result, _DONE
        result = _as_coro(result)
    try:
        return result, result.send(None)
    except StopIteration as stop:
        return stop.value, _DONE


def _call_sync(handler: Any, event: Any, lctx: LambdaContext) -> Any:
    """Runs on the context's thread, inside its Context."""
    _set_current(lctx)
    return handler(event, lctx)


def _stack_trace(exc: BaseException) -> list[str]:
    """Lambda's ``stackTrace``: the formatted frames, starting at the user's code."""
    frames = traceback.extract_tb(exc.__traceback__)
    here = __file__.rsplit("/", 1)[0]
    user = [f for f in frames if not f.filename.startswith(here)]
    return traceback.format_list(user or frames)


def _error_payload(error_type: str, message: str, stack: list[str], request_id: str) -> bytes:
    return encode({"errorMessage": message, "errorType": error_type, "requestId": request_id,
                   "stackTrace": stack})
