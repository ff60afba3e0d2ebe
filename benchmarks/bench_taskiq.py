"""Peer: taskiq's ``InMemoryBroker``, per-task cost, measured like the floors.

* ``request-response``: ``await (await task.kiq(ev)).wait_result(check_interval=0)`` one task
  at a time; the broker runs each message in a new asyncio task (its default), and polling with
  ``check_interval=0`` yields to the loop once instead of sleeping the default 0.2 s.
  Throughput compared with F2, p50/p99 with F3's.
* ``request-response-inplace``: the same with ``InMemoryBroker(await_inplace=True)``: ``kiq``
  runs the task before returning, so ``wait_result`` finds the result at once. taskiq's
  cheapest path, and the shape behind the reference figure "about 43x F2 per task".
* ``burst``: ``kiq`` ``n`` tasks back to back, then ``broker.wait_all()``: a throughput shape,
  compared with F2.

Needs the ``bench`` extra (``pip install taskiq``); without it this scenario has no configs and
says so. Run alone with ``python -m benchmarks.bench_taskiq [--quick]``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from typing import Any

from benchmarks import measure
from benchmarks.harness import Config, on_loops
from benchmarks.measure import Measurement, Params

SCENARIO = "taskiq"
EVENT: dict[str, Any] = {"id": "evt-1", "body": '{"n": 1}'}


async def handler(ev: Any) -> Any:
    return ev


def _broker(params: Params) -> tuple[Any, Any]:
    try:
        from taskiq import InMemoryBroker
    except ImportError as exc:
        raise measure.Skip("taskiq is not installed") from exc
    # Results kept for a whole batch so none is evicted before it is read; cleared after.
    broker = InMemoryBroker(
        max_stored_results=1 << 20, await_inplace=bool(params.get("await_inplace", False))
    )
    return broker, broker.task(task_name="bench.handler")(handler)


async def request_response(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """kiq + wait_result, one task at a time."""
    broker, task = _broker(params)
    await broker.startup()

    async def one() -> Any:
        sent = await task.kiq(EVENT)
        return await sent.wait_result(check_interval=0)

    async def batch(n: int) -> None:
        for _ in range(n):
            sent = await task.kiq(EVENT)
            await sent.wait_result(check_interval=0)
        broker.result_backend.results.clear()

    try:
        return await measure.events(params, batch, one)
    finally:
        await broker.shutdown()


async def burst(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """kiq ``n`` tasks, then wait for all of them."""
    broker, task = _broker(params)
    await broker.startup()

    async def batch(n: int) -> None:
        kiq = task.kiq
        for _ in range(n):
            await kiq(EVENT)
        await broker.wait_all()
        broker.result_backend.results.clear()

    try:
        return await measure.events(params, batch)
    finally:
        await broker.shutdown()


_FN = "benchmarks.bench_taskiq:"

if importlib.util.find_spec("taskiq") is None:
    print("bench_taskiq: taskiq is not installed (pip install taskiq): skipped", file=sys.stderr)
    CONFIGS: list[Config] = []
else:
    CONFIGS = [
        *on_loops(
            scenario=SCENARIO,
            name="request-response",
            title="taskiq InMemoryBroker kiq + wait_result",
            fn=_FN + "request_response",
            floor="F2",
            latency_floor="F3",
            percentiles=True,
        ),
        *on_loops(
            scenario=SCENARIO,
            name="request-response-inplace",
            title="taskiq InMemoryBroker(await_inplace) kiq + wait_result",
            fn=_FN + "request_response",
            params={"await_inplace": True},
            floor="F2",
            latency_floor="F3",
            percentiles=True,
        ),
        *on_loops(
            scenario=SCENARIO,
            name="burst",
            title="taskiq InMemoryBroker kiq burst + wait_all",
            fn=_FN + "burst",
            floor="F2",
        ),
    ]

if __name__ == "__main__":
    from benchmarks.run_all import script

    script(SCENARIO)
