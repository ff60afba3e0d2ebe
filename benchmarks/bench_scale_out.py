"""Scale-out from zero: 100 concurrent invokes on a function with no context yet.

One event is one **round**: a freshly started runtime (untimed) with one function (a callable
async handler) and no context; the timer starts, 100 tasks each ``await rt.invoke(...)``; the
handler counts its callers and waits on an ``asyncio.Event`` that the 100th caller sets, so all
100 contexts must exist (INIT done, handler running) at the same time before any returns; the
timer stops when the 100 results are back. The runtime is then closed (untimed: SHUTDOWN of
100 contexts is not scale-out).

The table shows the time **per context** (round time / 100). The baseline ``bare-tasks`` is the
same round without the runtime: 100 tasks awaiting the same counting handler directly, so the
ratio is what INIT, pool growth and the invoke path cost per context over the task and wake-up
traffic any 100-way fan-out pays. For information (no target is set).

Run alone with ``python -m benchmarks.bench_scale_out [--quick]``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asynclambda import Runtime
from benchmarks import _runtime, measure
from benchmarks.harness import on_loops
from benchmarks.measure import Measurement, Params

SCENARIO = "scale_out"
CONTEXTS = 100


class _Gate:
    """Counts arrivals; the ``size``-th arrival releases everyone."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.arrived = 0
        self.event = asyncio.Event()

    async def __call__(self, event: Any, context: Any = None) -> Any:
        self.arrived += 1
        if self.arrived == self.size:
            self.event.set()
        else:
            await self.event.wait()
        return {"ok": True}


async def _round(size: int, call: Any) -> None:
    results = await asyncio.gather(*[call() for _ in range(size)])
    for result in results:
        if result is not None and not isinstance(result, dict):
            _runtime.check(result)


async def scale_out(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """0 -> ``contexts`` contexts in one burst, a fresh runtime per round."""
    size = int(params.get("contexts", CONTEXTS))
    bare = bool(params.get("bare", False))
    state: dict[str, Any] = {}

    async def setup() -> None:
        gate = state["gate"] = _Gate(size)
        if bare:
            state["call"] = lambda: gate(_runtime.EVENT)
            return
        rt = state["rt"] = Runtime()

        async def handler(event: Any, context: Any) -> Any:
            return await gate(event, context)

        rt.add_function("fn", handler)
        await rt.start()
        state["call"] = lambda: rt.invoke("fn", _runtime.EVENT)

    async def one() -> None:
        await _round(size, state["call"])

    async def between() -> None:
        rt = state.pop("rt", None)
        if rt is not None:
            stats = _runtime.version_stats(rt)
            if stats["contexts_created"] != size or stats["max_concurrent_executions"] != size:
                raise RuntimeError(f"expected {size} contexts at once, got {stats}")
            await rt.aclose()
        await setup()

    await setup()
    try:
        result = await measure.each(params, one, between, default_max=400)
    finally:
        rt = state.pop("rt", None)
        if rt is not None:
            await rt.aclose()
    rounds = result.events
    result.extra.update(
        contexts_per_round=size,
        rounds=rounds,
        round_mean_us=result.per_event_s * 1e6,
        round_median_us=result.extra["median_us"],
    )
    # One "event" in the table is one context: the round's time over its size.
    result.per_event_s /= size
    result.events = rounds * size
    if result.samples_ns:
        result.samples_ns = [s // size for s in result.samples_ns]
    return result


_FN = "benchmarks.bench_scale_out:scale_out"

CONFIGS = [
    *on_loops(
        scenario=SCENARIO,
        name="bare-tasks",
        title="baseline: 100 tasks await the gate (no runtime)",
        fn=_FN,
        params={"bare": True},
        quick_params={"contexts": 10, "quick_n": 5},
    ),
    *on_loops(
        scenario=SCENARIO,
        name="zero-to-100",
        title="scale-out 0 -> 100 contexts, per context",
        fn=_FN,
        floor="bare-tasks",
        quick_params={"contexts": 10, "quick_n": 5},
    ),
]

if __name__ == "__main__":
    from benchmarks.run_all import script

    script(SCENARIO)
