"""Execution contexts: cold then warm, INIT once per context, module state, reaping, provisioned."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from helpers import spawn

import asynclambda as al

pytestmark = pytest.mark.anyio


async def test_cold_then_warm_init_runs_once_per_context() -> None:
    inits: list[str] = []

    def init(info: object) -> dict[str, int]:
        inits.append(info.log_stream_name)
        return {"connections": 1}

    rt = al.Runtime()

    @rt.function(init=init)
    async def fn(event: dict, context: al.LambdaContext) -> dict:
        return {"cold": context.cold_start, "state": context.state}

    async with rt:
        first = await rt.invoke("fn")
        second = await rt.invoke("fn")
    assert first.cold_start and first.payload == {"cold": True, "state": {"connections": 1}}
    assert first.init_duration_ms is not None and first.init_duration_ms >= 0
    assert not second.cold_start and second.payload["cold"] is False
    assert second.init_duration_ms is None
    assert len(inits) == 1
    stats = rt.statistics().functions["fn"].versions["$LATEST"]
    assert (stats.invocations, stats.cold_starts, stats.contexts_created) == (2, 1, 1)


async def test_module_state_persists_warm_but_not_across_contexts(fixtures_dir: str) -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = al.Runtime(clock=clock)
    rt.add_function("counter", f"{fixtures_dir}/counter_handler.py:async_handler",
                    init=lambda info: gate)
    async with rt:
        a = (await rt.invoke("counter")).payload
        b = (await rt.invoke("counter")).payload
        assert a["module_id"] == b["module_id"] and b["invocations"] == 2
        # Two at once: the second needs a new context, which gets a fresh module instance.
        t1 = spawn(rt.invoke("counter", {"hold": True}))
        t2 = spawn(rt.invoke("counter", {"hold": True}))
        await clock.settle()
        gate.set()
        r1, r2 = (await t1).payload, (await t2).payload
    assert {a["module_id"], r1["module_id"], r2["module_id"]} == {
        a["module_id"], (r2 if r1["module_id"] == a["module_id"] else r1)["module_id"]}
    assert r1["module_id"] != r2["module_id"]
    # The warm context had served two; the new one starts from zero with its own module state.
    assert sorted([r1["invocations"], r2["invocations"]]) == [1, 3]


async def test_plain_handler_module_init_count_and_environment(fixtures_dir: str) -> None:
    rt = al.Runtime()
    rt.add_function("counter", f"{fixtures_dir}/counter_handler.py:handler",
                    environment={"TABLE_NAME": "orders"})
    async with rt:
        first = (await rt.invoke("counter", {"n": 1})).payload
        second = (await rt.invoke("counter", {"n": 2})).payload
    assert first["init_count"] == 1 and first["table"] == "orders"
    assert second["invocations"] == 2 and second["module_id"] == first["module_id"]
    assert "TABLE_NAME" not in os.environ  # the overlay never leaks into the process


async def test_package_handler_with_relative_imports(fixtures_dir: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(fixtures_dir)
    rt = al.Runtime()
    rt.add_function("pkg", "pkg_handlers.app:handler")
    async with rt:
        r = await rt.invoke("pkg")
    assert r.ok, r.payload
    assert r.payload["helper"] == "from-helper" and r.payload["loads"] == 1


async def test_reaping_after_keep_alive_with_virtual_clock() -> None:
    clock = al.VirtualClock()
    shutdowns: list[object] = []
    rt = al.Runtime(clock=clock, keep_alive=600)

    @rt.function(init=lambda info: "state", shutdown=shutdowns.append)
    async def fn(event: object, context: al.LambdaContext) -> bool:
        return context.cold_start

    async with rt:
        assert (await rt.invoke("fn")).cold_start
        await clock.advance(599)
        assert not (await rt.invoke("fn")).cold_start  # reuse renews the keep-alive
        await clock.advance(599)
        assert rt.statistics().functions["fn"].versions["$LATEST"].contexts == 1
        await clock.advance(2)  # 601 s after the last use: reaped
        stats = rt.statistics().functions["fn"].versions["$LATEST"]
        assert (stats.contexts, stats.contexts_reaped) == (0, 1)
        assert shutdowns == ["state"]  # SHUTDOWN ran the hook with the init state
        assert (await rt.invoke("fn")).cold_start  # next one is cold again


async def test_keep_alive_policy_is_pluggable() -> None:
    clock = al.VirtualClock()
    seen: list[tuple[str, int]] = []

    def policy(config: al.FunctionConfig, idle: int) -> float:
        seen.append((config.name, idle))
        return 5.0

    rt = al.Runtime(clock=clock, keep_alive=policy)
    rt.add_function("fn", lambda e, c: None)
    async with rt:
        await rt.invoke("fn")
        await clock.advance(4.9)
        assert rt.statistics().functions["fn"].versions["$LATEST"].contexts == 1
        await clock.advance(0.2)
        assert rt.statistics().functions["fn"].versions["$LATEST"].contexts == 0
    assert seen == [("fn", 0)]


async def test_function_keep_alive_overrides_runtime_default() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock, keep_alive=600)

    @rt.function(keep_alive=1)
    async def fn(event: object, context: object) -> None:
        return None

    async with rt:
        await rt.invoke("fn")
        await clock.advance(1)
        assert rt.statistics().functions["fn"].versions["$LATEST"].contexts_reaped == 1


async def test_most_recently_used_context_is_reused_first() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    release = asyncio.Event()

    @rt.function
    async def fn(event: dict, context: al.LambdaContext) -> str:
        if event.get("hold"):
            await release.wait()
        return context.log_stream_name

    async with rt:
        t1 = spawn(rt.invoke("fn", {"hold": True}))
        await clock.settle()
        t2 = spawn(rt.invoke("fn", {"hold": True}))
        await clock.settle()
        release.set()
        first, second = (await t1).payload, (await t2).payload
        assert first != second
        # Both are idle now; the one released last (t2's) is the most recently used.
        assert (await rt.invoke("fn")).payload == second


async def test_provisioned_contexts_are_ready_before_start_returns() -> None:
    inits: list[int] = []
    rt = al.Runtime()

    async def init(info: object) -> None:
        await asyncio.sleep(0)
        inits.append(1)

    @rt.function(init=init)
    async def fn(event: object, context: al.LambdaContext) -> bool:
        return context.cold_start

    rt.publish_version("fn", provisioned_concurrency=3)
    assert inits == []
    async with rt:
        assert len(inits) == 3  # INIT done for all three before the body runs
        stats = rt.statistics().functions["fn"].versions["1"]
        assert stats.provisioned_contexts == 3 and stats.idle_contexts == 3
        results = await asyncio.gather(*(rt.invoke("fn", qualifier="1") for _ in range(3)))
        # Provisioned contexts are not cold starts (Lambda reports no Init Duration for them).
        assert [r.cold_start for r in results] == [False, False, False]
        assert rt.statistics().functions["fn"].versions["1"].contexts_created == 3


async def test_provisioned_contexts_are_not_reaped_and_are_replaced_when_lost() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock, keep_alive=10)

    @rt.function(timeout=1)
    async def fn(event: dict, context: object) -> str:
        if event.get("hang"):
            await clock.sleep(100)
        return "ok"

    rt.publish_version("fn", provisioned_concurrency=2)
    async with rt:
        await clock.advance(3600)
        assert rt.statistics().functions["fn"].versions["1"].provisioned_contexts == 2
        hung = spawn(rt.invoke("fn", {"hang": True}, qualifier="1"))
        await clock.advance(1)
        assert (await hung).function_error == "Unhandled"  # timed out: context reset
        await clock.settle()
        stats = rt.statistics().functions["fn"].versions["1"]
        assert stats.provisioned_contexts == 2  # re-created to keep N
        assert stats.contexts_reset == 1


async def test_shutdown_hook_runs_on_close_with_a_limit() -> None:
    clock = al.VirtualClock()
    ran: list[str] = []
    rt = al.Runtime(clock=clock)

    async def slow_shutdown(state: object) -> None:
        ran.append("started")
        await clock.sleep(60)  # over the 2 s limit
        ran.append("finished")

    rt.add_function("fn", lambda e, c: None, shutdown=slow_shutdown)

    async def advance() -> None:
        await clock.advance(2)

    async with rt:
        await rt.invoke("fn")
        spawn(advance())  # moves time while the runtime closes (in this task, as it must)
    assert ran == ["started"]  # cut off at SHUTDOWN's 2 s limit
    assert not rt.running


async def test_plain_handler_runs_on_one_thread_per_context() -> None:
    rt = al.Runtime()
    local = threading.local()

    @rt.function
    def fn(event: object, context: object) -> dict:
        count = getattr(local, "count", 0) + 1
        local.count = count
        return {"thread": threading.get_ident(), "count": count,
                "main": threading.current_thread() is threading.main_thread()}

    async with rt:
        a = (await rt.invoke("fn")).payload
        b = (await rt.invoke("fn")).payload
    assert a["thread"] == b["thread"] and not a["main"]
    assert (a["count"], b["count"]) == (1, 2)  # thread-local state behaves as on Lambda


async def test_plain_handler_can_run_its_own_event_loop() -> None:
    rt = al.Runtime()

    async def work(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    @rt.function
    def uses_asyncio_run(event: dict, context: object) -> int:
        return asyncio.run(work(event["x"]))

    @rt.function
    def uses_get_event_loop(event: dict, context: object) -> int:
        return asyncio.get_event_loop().run_until_complete(work(event["x"]))

    async with rt:
        for _ in range(2):  # twice: asyncio.run() unsets the loop; the next call still works
            assert (await rt.invoke("uses_asyncio_run", {"x": 2})).payload == 4
            assert (await rt.invoke("uses_get_event_loop", {"x": 3})).payload == 6


async def test_context_variables_persist_per_context_and_do_not_leak() -> None:
    import contextvars

    var: contextvars.ContextVar[int] = contextvars.ContextVar("calls", default=0)
    rt = al.Runtime()

    @rt.function
    async def fn(event: object, context: object) -> int:
        var.set(var.get() + 1)
        await asyncio.sleep(0)
        return var.get()

    async with rt:
        assert [(await rt.invoke("fn")).payload for _ in range(3)] == [1, 2, 3]
    assert var.get() == 0  # the caller's context never saw the handler's writes
