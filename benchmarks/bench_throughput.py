"""Warm pipelined throughput: events from an in-memory source through the pool.

The "Warm throughput" target: events from an in-memory source through the pool (32
contexts, deadline armed, outcome recorded) at <= 4x F2 per event (stretch 2.5x), and
>= 250k events/s on one core.

Until an in-memory queue mapping exists, the source is modelled as the F2 floor's own shape: a
bounded ``asyncio.Queue`` (1024) fed by a producer, drained by **32 worker tasks** that each
``await rt.invoke("fn", event)`` and record the outcome (ok / function error counters). The
function has ``reserved_concurrency=32``, so the pool can hold 32 contexts and no more; all 32
are created and warm before timing (32 invokes held open at once, then released). Every
invocation arms its deadline on the pool's watchdog (the function's 3 s timeout), as always.

==============  ===============================================================================
pipelined       the handler does nothing and never yields (like F2's handler): a worker runs
                each invoke to completion without suspending, so the queue hand-off and the
                invoke path are all that is measured, per event, vs F2. One event per invoke.
                The handler returns a small dict (``{"batchItemFailures": []}``).
pipelined-      as ``pipelined``, but a worker takes up to 10 waiting events and invokes once
batch10         with ``{"Records": [...]}`` (an SQS mapping's default batch size); still per
                event, held to the same targets: how a mapping actually feeds a function.
pipelined-      the handler yields to the loop once (``await asyncio.sleep(0)``), so the 32
yield           workers really are in flight together and all 32 contexts take turns. For
                information: it adds a loop round trip per event that F2 does not pay.
==============  ===============================================================================

Events/s is the reciprocal of the per-event time (the table's events/s column). Run alone with
``python -m benchmarks.bench_throughput [--quick]``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from benchmarks import _runtime, measure
from benchmarks.floors import EVENT
from benchmarks.harness import Target, on_loops
from benchmarks.measure import Measurement, Params

SCENARIO = "throughput"
WORKERS = 32

#: Set while the contexts are being created: the handler waits on it so 32 invokes overlap.
_hold: asyncio.Event | None = None
_yield = False


async def handler(event: Any, context: Any) -> Any:
    if _hold is not None:
        await _hold.wait()
    if _yield:
        await asyncio.sleep(0)
    return RESPONSE


RESPONSE: dict[str, Any] = {"batchItemFailures": []}


async def _warm_all(rt: Any, contexts: int) -> None:
    """Bring the pool to ``contexts`` warm contexts: ``contexts`` invokes held open at once."""
    global _hold
    _hold = asyncio.Event()
    calls = [asyncio.ensure_future(rt.invoke("fn", EVENT)) for _ in range(contexts)]
    for _ in range(1000):
        if rt.statistics().functions["fn"].concurrent_executions == contexts:
            break
        await asyncio.sleep(0)
    _hold.set()
    for result in await asyncio.gather(*calls):
        _runtime.check(result)
    _hold = None


async def pipelined(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """Producer -> bounded queue -> 32 workers -> ``rt.invoke`` -> outcome counters."""
    global _yield
    _yield = bool(params.get("yield", False))
    workers = int(params.get("workers", WORKERS))
    size = int(params.get("batch", 1))
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=int(params.get("maxsize", 1024)))
    outcome = {"ok": 0, "errors": 0}
    remaining = 0
    done: asyncio.Future[None] = loop.create_future()

    async with _runtime.started(handler, warm=None, reserved_concurrency=workers) as rt:
        invoke = rt.invoke

        async def worker() -> None:
            nonlocal remaining
            get = queue.get
            while True:
                event = await get()
                result = await invoke("fn", event)
                if result.function_error is None:
                    outcome["ok"] += 1
                else:
                    outcome["errors"] += 1
                remaining -= 1
                if not remaining:
                    done.set_result(None)

        async def batch_worker() -> None:
            """Up to ``size`` events per invoke, as an SQS mapping batches messages."""
            nonlocal remaining
            get, get_nowait, empty = queue.get, queue.get_nowait, queue.empty
            while True:
                records = [await get()]
                while len(records) < size and not empty():
                    records.append(get_nowait())
                result = await invoke("fn", {"Records": records})
                if result.function_error is None:
                    outcome["ok"] += len(records)
                else:
                    outcome["errors"] += len(records)
                remaining -= len(records)
                if not remaining:
                    done.set_result(None)

        async def batch(n: int) -> None:
            nonlocal remaining, done
            remaining, done = n, loop.create_future()
            put = queue.put
            for _ in range(n):
                await put(EVENT)
            await done

        await _warm_all(rt, workers)
        body = worker if size == 1 else batch_worker
        tasks = [loop.create_task(body()) for _ in range(workers)]
        try:
            result = await measure.events(params, batch)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        stats = _runtime.version_stats(rt)
    if outcome["errors"] or stats["errors"] or stats["throttles"]:
        raise RuntimeError(f"invocations failed: {outcome}, {stats}")
    result.extra.update(
        events_per_s=1 / result.per_event_s,
        invokes=stats["invocations"],
        outcome=outcome,
        contexts=stats["contexts"],
        contexts_created=stats["contexts_created"],
        max_concurrent_executions=stats["max_concurrent_executions"],
    )
    return result


_FN = "benchmarks.bench_throughput:pipelined"
_TARGETS = (
    Target("F2", 4.0, stretch=2.5),
    Target("", 4.0, "us", note=">= 250k events/s, absolute"),
)

CONFIGS = [
    *on_loops(
        scenario=SCENARIO,
        name="pipelined",
        title="queue -> 32 workers -> invoke (32 contexts)",
        fn=_FN,
        targets=_TARGETS,
    ),
    *on_loops(
        scenario=SCENARIO,
        name="pipelined-batch10",
        title="the same, up to 10 events per invoke",
        fn=_FN,
        params={"batch": 10},
        # The same bar, judged per event at an event source mapping's default batch size (SQS:
        # 10): both verdicts are printed, the one-event-per-invoke one above stays a miss if it
        # misses.
        targets=_TARGETS,
    ),
    *on_loops(
        scenario=SCENARIO,
        name="pipelined-yield",
        title="the same, handler yields once",
        fn=_FN,
        params={"yield": True},
        floor="F2",
    ),
]

if __name__ == "__main__":
    from benchmarks.run_all import script

    script(SCENARIO)
