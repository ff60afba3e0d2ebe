"""The execution context: INIT once, then one INVOKE at a time, then SHUTDOWN.

This module is the one boundary where a handler's exceptions become outcomes (ARCHITECTURE.md,
rule 4): whatever the handler raises, returns or fails to return in time ends here as an
:class:`~asynclambda.invocation.InvocationResult`. Everywhere else an asynclambda bug propagates.

Lifecycle (a table, like h11's state machine)::

    NEW ──init()──► IDLE ──invoke()──► BUSY ──done──► IDLE ──reap/close──► SHUTDOWN ──► DEAD
      │                                  │
      └─init fails──► DEAD               └─timeout / crash / cancelled──► DEAD (reset)

Warm path design (measured, see benchmarks/): an async handler runs *in the caller's task*,
stepped through :func:`~asynclambda.handlers.drive` inside the context's own
``contextvars.Context`` (no task, no queue, no future per invocation). The deadline is armed by the
pool's single watchdog timer, not a timer per invocation.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import shutil
import tempfile
import traceback
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from . import _environ
from .events import decoder_for
from .handlers import (
    HandlerExit,
    HandlerLoadError,
    ThreadRunner,
    drive,
    is_async_callable,
    load_handler,
)
from .invocation import ClientContext, ContextInfo, InvocationResult, LambdaContext
from .payloads import RESPONSE_LIMIT, MarshalError, decode, encode, encode_response, flat
from .signals import Retry

if TYPE_CHECKING:
    from .pool import ContextPool

__all__ = ["ExecutionContext", "InitFailure", "Invocation", "current_invocation"]

#: The invocation the current code is serving (set inside each execution context's Context).
current_invocation: contextvars.ContextVar[LambdaContext | None] = contextvars.ContextVar(
    "asynclambda_invocation", default=None)

_TIMED_OUT: Final = object()
_set_current = current_invocation.set
_current_task = asyncio.current_task
_Coroutine: Final = types.CoroutineType
_encode = encode


_NO_STATE: Final = object()


class InitFailure(Exception):
    """INIT failed; carries Lambda's error type and the error payload to report."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str]) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace


#: ``Invocation.event`` before anything decoded the raw payload.
UNDECODED: Final[Any] = object()


class Invocation:
    """One request on its way through the pipeline (the envelope, not the handler's view).

    ``raw`` is the JSON payload; ``event`` its generic decoding when a caller already made one
    (the execution context decodes ``raw`` itself otherwise, into the handler's declared event
    Struct when it has one).
    """

    __slots__ = ("attempt", "client_context", "event", "invoked_arn", "lineage", "raw",
                 "request_id")

    def __init__(self, raw: bytes, request_id: str, event: Any = UNDECODED, attempt: int = 1,
                 client_context: ClientContext | None = None,
                 invoked_arn: str | None = None, lineage: Any = None) -> None:
        self.raw = raw
        #: The event chain this invocation belongs to (``{function: hops}``), for the loop guard.
        self.lineage = lineage
        self.event = event
        self.request_id = request_id
        self.attempt = attempt
        self.client_context = client_context
        self.invoked_arn = invoked_arn


class ExecutionContext:
    """One Lambda execution environment: a loaded handler that serves one invocation at a time."""

    __slots__ = ("_tmp_dir", "alive", "busy", "cold", "cv", "deadline", "event_decoder",
                 "expires_at", "handler", "id", "info", "init_duration", "invocations",
                 "is_async", "module", "pool", "provisioned", "runner", "task", "timed_out",
                 "waiter")

    def __init__(self, pool: ContextPool, seq: int, *, provisioned: bool = False) -> None:
        self.pool = pool
        self.id = f"{pool.function_name}:{pool.version_name}#{seq}"
        # A fresh, empty Context: like a new Lambda process, it inherits no caller variables.
        self.cv = contextvars.Context()
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
        self.task: asyncio.Task[Any] | None = None
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
    async def init(self) -> None:
        """Load the handler and run the init hook; raises :class:`InitFailure` on any failure.

        Runs under the pool's deadline watchdog with the function's init limit (10 s).
        """
        pool = self.pool
        config = pool.config
        cv = self.cv
        if pool.runtime.isolate_environment:
            cv.run(_environ.overlay_var.set, pool.environment_overlay(self))
        clock = pool.clock
        start = clock.now()
        self.deadline = start + config.init_timeout
        self.timed_out = False
        self.task = asyncio.current_task()
        pool.watch(self)
        try:
            try:
                spec = pool.loaded_spec()
                if spec is not None:
                    self.handler, self.module = cv.run(load_handler, spec)
                else:
                    self.handler = config.handler
                self.is_async = is_async_callable(self.handler)
                event_type = pool.event_type_of(self.handler)
                if event_type is not None:
                    self.event_decoder = decoder_for(event_type).decode
                if not self.is_async:
                    self.runner = ThreadRunner(f"asynclambda:{self.id}", cv)
                if config.init is not None:
                    self.info.state = await self._call_hook(config.init, self.info)
            except asyncio.CancelledError:
                if not self.timed_out:
                    raise
                self._uncancel()
                raise InitFailure("Runtime.InitError",
                                  f"INIT timed out after {config.init_timeout:.2f} seconds",
                                  []) from None
            except HandlerLoadError as exc:
                raise InitFailure(exc.error_type, exc.message, exc.stack_trace) from exc
            except Exception as exc:
                if self.timed_out:
                    raise InitFailure("Runtime.InitError",
                                      f"INIT timed out after {config.init_timeout:.2f} seconds",
                                      []) from exc
                raise InitFailure("Runtime.InitError",
                                  f"{type(exc).__name__}: {exc}", _stack_trace(exc)) from exc
        except InitFailure:
            self.discard(reset=False)
            raise
        finally:
            pool.unwatch(self)
            self.task = None
        self.init_duration = clock.now() - start

    async def _call_hook(self, hook: Any, arg: Any) -> Any:
        """Run an init/shutdown hook where this context runs its handler, under the deadline."""
        if is_async_callable(hook):
            return await drive(self.cv, self.cv.run(hook, arg))
        runner = self.runner
        if runner is None:
            result = self.cv.run(hook, arg)
            if inspect.isawaitable(result):
                result = await drive(self.cv, result)
            return result
        fut = self.waiter = runner.submit(hook, arg)
        try:
            result = await fut
        finally:
            self.waiter = None
        if result is _TIMED_OUT:
            self.abandon()
            raise asyncio.CancelledError  # turned into the INIT timeout above
        return result

    # -- INVOKE ---------------------------------------------------------------------------------
    async def invoke(self, inv: Invocation) -> InvocationResult:
        """Serve one invocation. Never raises for a handler failure: the result carries it.

        Raises only ``CancelledError`` when the *caller* is cancelled (the context is then reset).
        """
        # This is the warm path: every line below runs once per invocation, so attribute
        # lookups are hoisted, constructors take positional arguments, and the async handler is
        # stepped right here (no extra coroutine frame, no task).
        if self.busy:  # the core invariant; a violation is an asynclambda bug, loudly
            raise AssertionError(f"execution context {self.id} asked to run two invocations")
        self.busy = True
        pool = self.pool
        now = pool.now
        start = now()
        deadline = self.deadline = start + pool.timeout
        self.timed_out = False
        cold = self.cold
        self.cold = False
        request_id = inv.request_id
        lctx = LambdaContext(self.info, request_id, deadline, cold, inv.attempt,
                             inv.client_context, inv.invoked_arn, inv.lineage)
        error: BaseException | None = None
        result: Any = None
        event = inv.event
        if event is UNDECODED or self.event_decoder is not decode:
            try:
                event = self.event_decoder(inv.raw)
            except msgspec.DecodeError as exc:
                self.busy = False
                self.invocations += 1
                return InvocationResult(
                    status_code=200, request_id=request_id, executed_version=pool.version_name,
                    raw_payload=_error_payload("Runtime.UnmarshalError",
                                               f"Unable to unmarshal input: {exc}", [],
                                               request_id),
                    function_error="Unhandled", cold_start=cold)
        pool.watch(self)
        try:
            if self.runner is None:
                cv = self.cv
                self.task = _current_task()
                cv.run(_set_current, lctx)
                result = cv.run(self.handler, event, lctx)
                if type(result) is _Coroutine:
                    # Step it once right here; only a handler that suspends needs drive().
                    try:
                        first = cv.run(result.send, None)
                    except StopIteration as stop:
                        result = stop.value
                    else:
                        result = await drive(cv, result, first)
                elif inspect.isawaitable(result):
                    result = await drive(cv, result)
            else:
                result = await self._run_thread(event, lctx)
        except asyncio.CancelledError:
            pool.unwatch(self)
            if not self.timed_out:
                self.busy = False
                self.discard()  # the caller went away mid-invocation: state unknown, reset
                raise
            self._uncancel()
        except (Exception, SystemExit) as exc:
            pool.unwatch(self)
            error = exc
        else:
            pool.unwatch(self)
        end = now()
        self.busy = False
        self.invocations += 1

        if self.timed_out or error is not None:
            return self._failed(inv, error, cold, (end - start) * 1000.0)
        function_error: str | None = None
        if type(result) is dict and flat(result):
            raw = _encode(result)  # the common small response: nothing to check further
        else:
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
        return InvocationResult(200, raw, request_id, pool.version_name, function_error, cold,
                                (end - start) * 1000.0,
                                self.init_duration * 1000.0
                                if cold and self.init_duration is not None else None)

    def _failed(self, inv: Invocation, error: BaseException | None, cold: bool,
                duration_ms: float) -> InvocationResult:
        """The result of a timed-out or failed invocation (and the context's fate)."""
        request_id = inv.request_id
        retry_delay: float | None = None
        if self.timed_out:
            if self.runner is not None:
                self.abandon()
            else:
                self.discard()
            raw = self._timeout_payload(request_id)
        elif isinstance(error, SystemExit | HandlerExit):
            self.discard()  # the "process" exited: Lambda starts a new environment
            raw = _error_payload("Runtime.ExitError",
                                 f"RequestId: {request_id} Error: Runtime exited with "
                                 f"error: exit status {error.code}", [], request_id)
        else:
            assert error is not None
            if isinstance(error, Retry):
                retry_delay = error.delay
            raw = _error_payload(type(error).__name__, str(error), _stack_trace(error),
                                 request_id)
            self.pool.log_handler_error(request_id, error)
        out = InvocationResult(200, raw, request_id, self.pool.version_name, "Unhandled", cold,
                               duration_ms,
                               self.init_duration * 1000.0
                               if cold and self.init_duration is not None else None)
        out.retry_delay = retry_delay
        return out

    async def _run_thread(self, event: Any, lctx: LambdaContext) -> Any:
        runner = self.runner
        assert runner is not None
        fut = self.waiter = runner.submit(_call_sync, self.handler, event, lctx)
        try:
            out = await fut
        except asyncio.CancelledError:
            self.waiter = None
            self.abandon()  # the thread is still running the handler: never reuse it
            raise
        self.waiter = None
        return None if out is _TIMED_OUT else out

    def expire(self) -> None:
        """The watchdog's verdict: the deadline passed. Interrupt what can be interrupted."""
        self.timed_out = True
        waiter = self.waiter
        if waiter is not None:
            # A plain handler cannot be interrupted: the caller gets the timeout now and the
            # thread is abandoned (it finishes on its own; its result is dropped).
            if not waiter.done():
                waiter.set_result(_TIMED_OUT)
            return
        task = self.task
        if task is not None and not task.done():
            task.cancel("asynclambda: invocation deadline")

    def _uncancel(self) -> None:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            task.uncancel()

    def _timeout_payload(self, request_id: str) -> bytes:
        return _error_payload(
            "Sandbox.Timedout",
            f"RequestId: {request_id} Error: Task timed out after {self.pool.timeout:.2f} seconds",
            [], request_id)

    # -- teardown -------------------------------------------------------------------------------
    def abandon(self) -> None:
        """Give up on a context whose thread is stuck in user code (it exits when done)."""
        if self.runner is not None:
            self.pool.note_abandoned()
        self.discard()

    def discard(self, *, reset: bool = True) -> None:
        """This context will never serve again (the pool replaces it on demand).

        ``reset`` marks a reset (timeout, crash, cancelled caller) rather than a normal end
        (reaped, closed, failed INIT), for the statistics.
        """
        if self.alive:
            self.alive = False
            self.pool.forget(self, reset=reset)
            if self.runner is not None:
                self.runner.stop()
            self._remove_tmp()

    async def shutdown(self, limit: float) -> None:
        """SHUTDOWN: run the shutdown hook (bounded by ``limit`` seconds) and release resources."""
        if not self.alive:
            return
        hook = self.pool.config.shutdown
        try:
            if hook is not None:
                with _MoveOnAfter(self.pool.clock, limit):
                    await self._call_hook(hook, self.info.state)
        except Exception as exc:  # a failing shutdown hook is logged, never raised
            self.pool.log_shutdown_error(self, exc)
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


class _MoveOnAfter:
    """Cancel the current task after ``seconds`` of the injected clock, swallowing that cancel."""

    __slots__ = ("_clock", "_fired", "_handle", "_seconds", "_task")

    def __init__(self, clock: Any, seconds: float) -> None:
        self._clock = clock
        self._seconds = seconds
        self._fired = False
        self._handle: Any = None
        self._task: asyncio.Task[Any] | None = None

    def __enter__(self) -> _MoveOnAfter:
        self._task = asyncio.current_task()
        self._handle = self._clock.call_at(self._clock.now() + self._seconds, self._fire)
        return self

    def _fire(self) -> None:
        if self._task is not None and not self._task.done():
            self._fired = True
            self._task.cancel("asynclambda: shutdown limit")

    def __exit__(self, et: Any, exc: Any, tb: Any) -> bool:
        self._handle.cancel()
        if self._fired and et is asyncio.CancelledError and self._task is not None:
            self._task.uncancel()
            return True
        return False


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


