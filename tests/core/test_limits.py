"""Scale-out, throttling at both limits, and the core invariant under random load (Hypothesis)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from helpers import run, spawn
from hypothesis import given
from hypothesis import strategies as st

import asynclambda as al

pytestmark = pytest.mark.anyio


async def _hold(rt: al.Runtime, name: str, n: int, gate: asyncio.Event,
                clock: al.VirtualClock) -> list[asyncio.Task[al.InvocationResult]]:
    tasks = [spawn(rt.invoke(name, {"wait": True})) for _ in range(n)]
    await clock.settle()
    return tasks


def _gated(rt: al.Runtime, name: str, gate: asyncio.Event, **config: object) -> None:
    async def handler(event: dict, context: al.LambdaContext) -> str:
        if event.get("wait"):
            await gate.wait()
        return context.log_stream_name

    rt.add_function(name, handler, **config)


async def test_scale_out_creates_a_context_per_concurrent_invocation() -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = al.Runtime(clock=clock)
    _gated(rt, "fn", gate)
    async with rt:
        tasks = await _hold(rt, "fn", 25, gate, clock)
        stats = rt.statistics().functions["fn"]
        assert stats.concurrent_executions == 25
        gate.set()
        results = await asyncio.gather(*tasks)
        v = rt.statistics().functions["fn"].versions["$LATEST"]
        assert (v.contexts_created, v.max_concurrent_executions, v.idle_contexts) == (25, 25, 25)
    assert len({r.payload for r in results}) == 25  # 25 distinct contexts
    assert all(r.cold_start for r in results)
    assert rt.statistics().functions["fn"].versions["$LATEST"].contexts == 0  # all shut down


async def test_reserved_concurrency_throttles_with_lambdas_reason() -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = al.Runtime(clock=clock)
    _gated(rt, "fn", gate, reserved_concurrency=2)
    _gated(rt, "other", gate)
    async with rt:
        tasks = await _hold(rt, "fn", 2, gate, clock)
        with pytest.raises(al.TooManyRequestsException) as info:
            await rt.invoke("fn")
        assert info.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert info.value.status_code == 429
        assert (await rt.invoke("other")).ok  # other functions are unaffected
        gate.set()
        await asyncio.gather(*tasks)
        assert (await rt.invoke("fn")).ok  # capacity is back
    v = rt.statistics().functions["fn"].versions["$LATEST"]
    assert (v.throttles, v.invocations) == (1, 3)


async def test_reserved_concurrency_zero_always_throttles() -> None:
    rt = al.Runtime()
    rt.add_function("off", lambda e, c: None, reserved_concurrency=0)
    async with rt:
        with pytest.raises(al.TooManyRequestsException):
            await rt.invoke("off")


async def test_runtime_wide_limit_throttles_unreserved_functions() -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = al.Runtime(clock=clock, concurrency_limit=5, unreserved_concurrency_minimum=0)
    _gated(rt, "a", gate)
    _gated(rt, "b", gate)
    _gated(rt, "reserved", gate, reserved_concurrency=2)
    async with rt:
        # 5 - 2 reserved = 3 unreserved, shared by a and b.
        assert rt.statistics().unreserved_concurrency_limit == 3
        tasks = await _hold(rt, "a", 2, gate, clock)
        tasks += await _hold(rt, "b", 1, gate, clock)
        with pytest.raises(al.TooManyRequestsException) as info:
            await rt.invoke("b")
        assert info.value.reason == "ConcurrentInvocationLimitExceeded"
        # The reservation is carved out: still available to its function.
        tasks += await _hold(rt, "reserved", 2, gate, clock)
        assert rt.statistics().concurrent_executions == 5
        gate.set()
        await asyncio.gather(*tasks)


async def test_reservations_cannot_exceed_the_runtime_limit() -> None:
    rt = al.Runtime(concurrency_limit=10, unreserved_concurrency_minimum=0)
    rt.add_function("a", lambda e, c: None, reserved_concurrency=8)
    with pytest.raises(al.ConfigError, match="reserved_concurrency=3"):
        rt.add_function("b", lambda e, c: None, reserved_concurrency=3)


async def test_changing_reserved_concurrency_while_busy_keeps_counts_right() -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = al.Runtime(clock=clock, concurrency_limit=10, unreserved_concurrency_minimum=0)
    _gated(rt, "fn", gate)
    async with rt:
        tasks = await _hold(rt, "fn", 3, gate, clock)
        rt.put_function_concurrency("fn", 3)
        with pytest.raises(al.TooManyRequestsException):
            await rt.invoke("fn")
        gate.set()
        await asyncio.gather(*tasks)
        stats = rt.statistics()
        assert stats.unreserved_concurrency_in_use == 0
        assert stats.unreserved_concurrency_limit == 7
        rt.put_function_concurrency("fn", None)
        assert rt.statistics().unreserved_concurrency_limit == 10


@given(
    arrivals=st.lists(st.tuples(st.floats(0, 5), st.floats(0, 3)), min_size=1, max_size=40),
    reserved=st.one_of(st.none(), st.integers(0, 8)),
    limit=st.integers(1, 12),
    timeout=st.sampled_from([1.0, 2.5, 10.0]),
)
def test_no_context_ever_runs_two_invocations(arrivals: list[tuple[float, float]],
                                              reserved: int | None, limit: int,
                                              timeout: float) -> None:
    """Random arrivals and durations against random limits: the invariants always hold."""
    if reserved is not None and reserved > limit:
        reserved = limit

    async def scenario() -> None:
        clock = al.VirtualClock()
        rt = al.Runtime(clock=clock, concurrency_limit=limit, keep_alive=4,
                        unreserved_concurrency_minimum=0)
        active: Counter[str] = Counter()
        peak = {"all": 0}
        running = {"n": 0}

        @rt.function(timeout=timeout, reserved_concurrency=reserved)
        async def fn(event: dict, context: al.LambdaContext) -> str:
            key = context.log_stream_name
            active[key] += 1
            running["n"] += 1
            peak["all"] = max(peak["all"], running["n"])
            assert active[key] == 1, f"context {key} runs two invocations"
            try:
                await clock.sleep(event["d"])
            finally:
                active[key] -= 1
                running["n"] -= 1
            return key

        outcomes: Counter[str] = Counter()

        async def client(at: float, duration: float) -> None:
            await clock.sleep_until(at)
            try:
                r = await rt.invoke("fn", {"d": duration})
            except al.TooManyRequestsException:
                outcomes["throttled"] += 1
                return
            if r.function_error:
                assert r.payload["errorType"] == "Sandbox.Timedout"
                assert duration >= timeout
                outcomes["timeout"] += 1
            else:
                # A handler finishing exactly at its deadline may win the tie; later never does.
                assert duration <= timeout
                outcomes["ok"] += 1

        async with rt:
            tasks = [spawn(client(at, d)) for at, d in arrivals]
            await clock.run_until_idle()
            await asyncio.gather(*tasks)
            stats = rt.statistics().functions["fn"].versions["$LATEST"]
        cap = limit if reserved is None else reserved
        assert peak["all"] <= cap
        assert sum(outcomes.values()) == len(arrivals)
        assert stats.throttles == outcomes["throttled"]
        assert stats.invocations == outcomes["ok"] + outcomes["timeout"]
        assert stats.timeouts == outcomes["timeout"]
        assert stats.max_concurrent_executions <= cap
        assert stats.concurrent_executions == 0

    run(scenario())
