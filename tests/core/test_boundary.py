"""The invocation boundary: nothing a handler does, and no timeout, leaks into the caller's task,
the host loop, or leaves a context, a task or a thread behind.

Each test names the behaviour it holds. Time is virtual; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import anyio
import pytest
from helpers import settle, spawn

import asynclambda as al
from asynclambda.destinations import RecordingDestination

pytestmark = pytest.mark.anyio


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("asynclambda:")]


def _owner_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("asynclambda:")]


def _stats(rt: al.Runtime, name: str = "fn") -> al.VersionStatistics:
    return rt.statistics().functions[name].versions["$LATEST"]


# -- the caller's own cancellation is never touched ----------------------------------------------

async def test_callers_asyncio_timeout_fires_when_its_timer_beats_the_function_deadline(
        ) -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)

    async def fn(event: object, context: object) -> None:
        await asyncio.Event().wait()

    rt.add_function("fn", fn, timeout=1)
    loop = asyncio.get_running_loop()

    async def caller() -> al.InvocationResult:
        async with asyncio.timeout(None) as cm:
            cm.reschedule(loop.time())
            return await rt.invoke("fn")

    async with rt:
        with pytest.raises(TimeoutError):
            await caller()
        assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
        await settle()
    assert _stats(rt).contexts_reset == 1  # the abandoned invocation's context


async def test_callers_asyncio_timeout_equal_to_the_function_timeout_is_never_swallowed(
        ) -> None:
    """The race the issue measured with real timers: the caller's own ``asyncio.timeout`` and
    the function's deadline expire in the same loop iteration. Whichever wins, the caller's
    timeout is never silently swallowed and its task's cancel count is back to 0. (1 ms real
    timers, 100 bounded runs: the race needs the real loop, the virtual clock serialises.)"""
    rt = al.Runtime()

    async def fn(event: object, context: object) -> None:
        await asyncio.Event().wait()

    rt.add_function("fn", fn, timeout=0.001)
    outcomes: dict[str, int] = {}
    async with rt:
        for _ in range(100):
            cm = asyncio.timeout(0.001)
            try:
                async with cm:
                    r = await rt.invoke("fn")
                outcome = "result"
                assert r.payload["errorType"] == "Sandbox.Timedout"
                assert not cm.expired(), "the caller's timeout expired and was swallowed"
            except TimeoutError:
                outcome = "caller timeout"
            me = asyncio.current_task()
            assert me is not None and me.cancelling() == 0
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert sum(outcomes.values()) == 100


async def test_callers_anyio_scope_equal_to_the_function_timeout_is_never_swallowed() -> None:
    """As above, with an anyio cancel scope (1 ms real timers, 100 bounded runs)."""
    rt = al.Runtime()

    async def fn(event: object, context: object) -> None:
        await asyncio.Event().wait()

    rt.add_function("fn", fn, timeout=0.001)
    async with rt:
        for _ in range(100):
            returned = False
            with anyio.move_on_after(0.001) as scope:
                r = await rt.invoke("fn")
                returned = True
                assert r.payload["errorType"] == "Sandbox.Timedout"
            # Either the result came first, or the scope caught its own cancellation.
            assert returned or scope.cancelled_caught
            if not returned:
                assert scope.cancel_called
            me = asyncio.current_task()
            assert me is not None and me.cancelling() == 0


async def test_function_timeout_never_cancels_the_callers_task() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)

    async def fn(event: object, context: object) -> None:
        await asyncio.Event().wait()

    rt.add_function("fn", fn, timeout=2)
    async with rt:
        task = spawn(rt.invoke("fn"))
        await settle()
        await clock.advance(2)
        r = await task
        assert r.payload["errorType"] == "Sandbox.Timedout"
        me = asyncio.current_task()
        assert me is not None and me.cancelling() == 0
        await clock.advance(10)
        await settle()  # still not cancelled: no deadline is left armed
    assert _stats(rt).timeouts == 1 and _stats(rt).contexts_reset == 1


async def test_async_handler_that_ignores_cancellation_does_not_hang_its_caller() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    ignored: list[int] = []
    closed: list[bool] = []

    async def stubborn(event: object, context: object) -> None:
        try:
            while True:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    ignored.append(1)  # ignores it and keeps going
        finally:
            closed.append(True)

    rt.add_function("fn", stubborn, timeout=1)
    async with rt:
        task = spawn(rt.invoke("fn"))
        await settle()
        await clock.advance(1)
        r = await task  # returns at the deadline, although the handler never stops
        assert r.payload["errorType"] == "Sandbox.Timedout"
        await settle()
        assert ignored == [1] and closed == []
        assert _stats(rt).tasks_abandoned == 1 and _stats(rt).contexts == 0
        again = spawn(rt.invoke("fn"))  # a fresh context serves the next one
        await settle()
        await clock.advance(1)
        assert (await again).cold_start
    assert closed == [True, True]  # closed when the runtime closed
    assert _owner_tasks() == []


async def test_current_task_in_a_handler_is_the_contexts_own_task() -> None:
    rt = al.Runtime()

    async def fn(event: object, context: object) -> int:
        first = asyncio.current_task()
        await asyncio.sleep(0)
        assert asyncio.current_task() is first  # the same task before and after suspending
        return id(first)

    rt.add_function("fn", fn)
    async with rt:
        a = (await rt.invoke("fn")).payload
        b = (await rt.invoke("fn")).payload
        c1, c2 = await asyncio.gather(rt.invoke("fn"), rt.invoke("fn"))
    assert a == b != id(asyncio.current_task())  # the context's task, reused warm
    assert c1.payload != c2.payload  # two contexts, two tasks


@pytest.mark.parametrize("when", ["before suspending", "after suspending", "then returns"])
async def test_handler_cancelling_its_own_task_is_a_function_error_not_the_callers(
        when: str) -> None:
    rt = al.Runtime()

    async def fn(event: object, context: object) -> str:
        if when == "after suspending":
            await asyncio.sleep(0)
        asyncio.current_task().cancel()  # type: ignore[union-attr]
        if when != "then returns":
            await asyncio.sleep(0)
        return "done"

    rt.add_function("fn", fn)
    async with rt:
        r = await rt.invoke("fn")
        me = asyncio.current_task()
        assert me is not None and me.cancelling() == 0
        await settle()  # and nothing is delivered to the caller later
        ok = await rt.invoke("fn")
    assert r.function_error == "Unhandled" and r.payload["errorType"] == "CancelledError"
    assert ok.cold_start  # the context whose task was cancelled was reset
    assert _stats(rt).contexts_reset == 2


async def test_cancelled_error_raised_by_the_handler_is_retried_like_any_function_error() -> None:
    clock = al.VirtualClock()
    failures = RecordingDestination()
    rt = al.Runtime(clock=clock)
    attempts: list[float] = []

    async def fn(event: object, context: object) -> None:
        attempts.append(clock.now())
        raise asyncio.CancelledError("the handler's own")

    rt.add_function("fn", fn, on_failure=failures)
    async with rt:
        r = await rt.invoke("fn")
        assert r.payload["errorType"] == "CancelledError"
        attempts.clear()
        await rt.invoke("fn", invocation_type="Event")
        await clock.run_until_idle()
    assert attempts == [0.0, 60.0, 180.0]  # Lambda's 1 min then 2 min
    [record] = failures.records
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responsePayload"]["errorType"] == "CancelledError"


# -- every BaseException from a handler is a function error ---------------------------------------

class _Custom(BaseException):
    pass


_BASE_EXCEPTIONS = [KeyboardInterrupt, GeneratorExit, SystemExit, _Custom]


def _raiser(kind: type[BaseException], form: str) -> Any:
    if form == "def":
        def plain(event: object, context: object) -> None:
            raise kind()
        return plain
    if form == "async, first step":
        async def first(event: object, context: object) -> None:
            raise kind()
        return first

    async def later(event: object, context: object) -> None:
        await asyncio.sleep(0)
        raise kind()
    return later


@pytest.mark.parametrize("form", ["def", "async, first step", "async, after suspending"])
@pytest.mark.parametrize("kind", _BASE_EXCEPTIONS, ids=lambda k: k.__name__)
async def test_base_exceptions_from_handlers_are_function_errors_with_the_context_reset(
        kind: type[BaseException], form: str) -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    rt.add_function("fn", _raiser(kind, form), timeout=1)
    async with rt:
        r = await rt.invoke("fn")
        assert r.function_error == "Unhandled"
        assert r.payload["errorType"] == "Runtime.ExitError"
        assert any(kind.__name__ in line for line in r.payload["stackTrace"]) or \
            kind is SystemExit
        stats = _stats(rt)
        assert (stats.contexts, stats.concurrent_executions, stats.contexts_reset) == (0, 0, 1)
        # The deadline of that invocation is not left armed against this task.
        await clock.advance(5)
        await settle()
        assert (await rt.invoke("fn")).cold_start
    assert _threads() == [] and _owner_tasks() == []


@pytest.mark.parametrize("kind", _BASE_EXCEPTIONS, ids=lambda k: k.__name__)
async def test_every_event_whose_handler_raises_a_base_exception_has_a_fate(
        kind: type[BaseException]) -> None:
    clock = al.VirtualClock()
    failures = RecordingDestination()
    rt = al.Runtime(clock=clock)
    rt.add_function("fn", _raiser(kind, "async, after suspending"), on_failure=failures,
                    maximum_retry_attempts=0)
    async with rt:
        for n in range(100):
            await rt.invoke("fn", {"n": n}, invocation_type="Event")
        await clock.run_until_idle()
    stats = rt.statistics().functions["fn"].async_invocations
    assert (stats.received, stats.failed, stats.dropped, stats.queued, stats.in_flight) == \
        (100, 100, 0, 0, 0)
    assert sorted(r["requestPayload"]["n"] for r in failures.records) == list(range(100))


# -- cancelled callers ----------------------------------------------------------------------------

async def test_caller_cancelled_mid_invocation_propagates_unchanged_and_resets_the_context(
        ) -> None:
    rt = al.Runtime()
    seen: list[str] = []

    async def fn(event: object, context: object) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("handler told to stop")
            raise

    rt.add_function("fn", fn)
    async with rt:
        task = spawn(rt.invoke("fn"))
        await settle()
        task.cancel("the caller's own reason")
        with pytest.raises(asyncio.CancelledError, match="the caller's own reason"):
            await task
        await settle()
    assert seen == ["handler told to stop"]
    assert _stats(rt).contexts_reset == 1 and _owner_tasks() == []


async def test_callers_cancelled_during_init_leave_no_context_task_or_thread() -> None:
    rt = al.Runtime()
    gate = asyncio.Event()

    async def init(info: object) -> None:
        await gate.wait()

    rt.add_function("fn", lambda e, c: "ok", init=init)  # a plain handler: one thread each
    async with rt:
        callers = [spawn(rt.invoke("fn")) for _ in range(50)]
        await settle()
        assert len(_threads()) == 50
        for task in callers:
            task.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
        stats = _stats(rt)
        assert (stats.contexts, stats.concurrent_executions) == (0, 0)
    assert _threads() == [] and _owner_tasks() == []


async def test_thread_of_a_plain_handler_that_raised_is_gone_after_close() -> None:
    rt = al.Runtime()

    def fn(event: object, context: object) -> None:
        raise KeyboardInterrupt

    rt.add_function("fn", fn)
    async with rt:
        for _ in range(5):
            await rt.invoke("fn")
    assert _threads() == []


# -- the runtime's own work fails loudly ----------------------------------------------------------

async def test_an_internal_failure_makes_wait_idle_raise_instead_of_hanging() -> None:
    from asynclambda.dispatch import MemoryEventQueue

    class BrokenQueue(MemoryEventQueue):
        """An event queue backend with a bug: forgetting a finished event raises."""

        async def done(self, event: Any) -> None:
            raise RuntimeError("backend bug")

    rt = al.Runtime(event_queue=BrokenQueue())
    rt.add_function("fn", lambda e, c: None)
    async def scenario() -> None:
        async with rt:
            await rt.invoke("fn", invocation_type="Event")
            with pytest.raises(al.ServiceException, match="backend bug"):
                await rt.wait_idle()
            with pytest.raises(al.ServiceException):  # no new work once it failed
                await rt.invoke("fn")

    with pytest.raises(BaseExceptionGroup) as info:  # and closing raises it, loudly
        await scenario()
    assert info.group_contains(RuntimeError, match="backend bug")


# -- start() and aclose() across tasks ---------------------------------------------------------------

async def test_aclose_from_another_task_than_start_is_a_clear_error() -> None:
    rt = al.Runtime()
    started, stop = asyncio.Event(), asyncio.Event()

    async def owner() -> None:
        await rt.start()
        started.set()
        await stop.wait()
        await rt.aclose()  # the task that started it closes it

    task = spawn(owner())
    await started.wait()
    with pytest.raises(al.LifecycleError, match=r"start\(background=True\)"):
        await rt.aclose()
    assert rt.running
    stop.set()
    await task
    assert not rt.running


async def test_start_in_background_lets_any_task_close_it() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: "ok")
    await spawn(rt.start(background=True))  # a framework's startup hook
    assert (await rt.invoke("fn")).payload == "ok"
    await spawn(rt.aclose())  # ... and its shutdown hook, in another task
    assert not rt.running and _threads() == []


async def test_serve_runs_under_a_task_group_and_stops_with_its_scope() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: "ok")
    async with anyio.create_task_group() as tg:
        started = await tg.start(rt.serve)
        assert started is rt
        assert (await rt.invoke("fn")).payload == "ok"
        tg.cancel_scope.cancel()
    assert not rt.running


async def test_serve_stops_when_another_task_closes_the_runtime() -> None:
    rt = al.Runtime()
    async with anyio.create_task_group() as tg:
        await tg.start(rt.serve)
        await spawn(rt.aclose())
    assert not rt.running
