"""Asynchronous (``Event``) invocation end to end, next to a synchronous invoke.

Each batch of N events is accepted with ``await rt.invoke("fn", event,
invocation_type="Event")`` (validation, the 1 MB check, the loop guard's lineage, queueing, the
202 result) and then run to its end by the dispatcher (lanes taking events from the backlog, the
pool, the retry decision, the outcome counted); the batch ends when ``rt.wait_idle()`` returns.
The time per event is compared with a warm synchronous invoke of the same function measured in
the same run (``warm_invoke/async``): what an event invoke costs on top of a sync one.

================  =============================================================================
event             the handler succeeds; no destination.
event-success-    the same with an on-success destination (a callable that counts): Lambda's
destination       destination record is built and delivered per event.
================  =============================================================================
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks import _runtime, measure
from benchmarks.harness import on_loops
from benchmarks.measure import Measurement, Params

SCENARIO = "async_invoke"


async def handler(event: Any, context: Any) -> Any:
    return {"ok": True}


async def event_invoke(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    kind = str(params.get("kind", "event"))
    delivered = [0]

    def count(record: Any) -> None:
        delivered[0] += 1

    config: dict[str, Any] = {"on_success": count} if kind == "event-success-destination" else {}
    async with _runtime.started(handler, **config) as rt:
        invoke = rt.invoke
        event = _runtime.EVENT

        async def batch(n: int) -> None:
            for _ in range(n):
                await invoke("fn", event, invocation_type="Event")
            await rt.wait_idle()

        result = await measure.throughput(batch, params)
        stats = rt.statistics().functions["fn"].async_invocations
        if stats.failed or stats.dropped or stats.received != stats.succeeded:
            raise RuntimeError(f"asynchronous events did not all succeed: {stats}")
        if kind == "event-success-destination" and delivered[0] != stats.succeeded:
            raise RuntimeError("a success record went missing")
        result.extra["events"] = stats.received
        return result


_FN = "benchmarks.bench_async:event_invoke"

CONFIGS = [
    *on_loops(scenario=SCENARIO, name="event", title="event invoke, end to end", fn=_FN,
              params={"kind": "event"}, floor="warm_invoke/async"),
    *on_loops(scenario=SCENARIO, name="event-success-destination",
              title="event invoke + on-success destination", fn=_FN,
              params={"kind": "event-success-destination"}, floor="warm_invoke/async"),
]

if __name__ == "__main__":
    from benchmarks.run_all import script

    script(SCENARIO)
