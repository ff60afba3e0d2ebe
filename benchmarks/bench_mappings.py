"""Event source mappings end to end: records/s through a queue mapping and a stream mapping.

Per event, everything a record goes through on its way to a do-nothing handler and back:

==============  ===============================================================================
queue-bN        ``MemoryQueueBackend.send`` of one message, the mapping's long-poll receive
                (batches of N), the SQS event built and encoded, ``await rt.invoke`` (the
                runtime decodes the event, runs the handler on a warm context), the handler's
                response read, ``delete_batch``. N = 10 (Lambda's default) and 100 (needs a
                batching window, 1 s: the batch is always full here, so it never waits).
stream-bN       ``MemoryStreamBackend.put_record`` of one record (one shard), the shard reader's
                ``get_records``, the Kinesis event built and encoded, the invoke, the checkpoint
                written. N = 10 and 100 (Lambda's default).
==============  ===============================================================================

``batch(n)`` puts ``n`` records (rounded up to whole batches, so no batch waits for a window:
the extra records are < one batch against thousands per chunk) and returns when the handler has
seen them all. Compared with F2 (the in-memory floor: an ``asyncio.Queue`` hand-off to one
consumer) measured in the same run; the ratio says how many F2 hand-offs one record costs.
No target yet: none is set for mappings. Run alone with
``python -m benchmarks.bench_mappings [--quick]``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks import measure
from benchmarks.harness import on_loops
from benchmarks.measure import Measurement, Params

SCENARIO = "mappings"
BODY = '{"n": 1}'

_seen = 0
_target = 0
_done: asyncio.Future[None] | None = None


async def handler(event: Any, context: Any) -> None:
    global _seen
    _seen += len(event["Records"])
    if _seen >= _target and _done is not None and not _done.done():
        _done.set_result(None)


def _expect(n: int, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    global _target, _done
    _target = _seen + n
    _done = loop.create_future()
    return _done


async def queue_mapping(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    from asynclambda import Runtime
    from asynclambda.sources import MemoryQueueBackend, QueueConfig, QueueEventSourceMapping

    size = int(params["batch_size"])
    rt = Runtime()
    rt.add_function("fn", handler, timeout=30)
    queues = MemoryQueueBackend(clock=rt.clock)
    await queues.create_queue(QueueConfig("q", visibility_timeout=60))
    mapping = QueueEventSourceMapping(
        rt,
        function_name="fn",
        queue="q",
        backend=queues,
        batch_size=size,
        maximum_batching_window=1 if size > 10 else 0,
    )
    send = queues.send

    async def batch(n: int) -> None:
        n = -(-n // size) * size
        done = _expect(n, loop)
        for _ in range(n):
            await send("q", BODY)
        await done

    async with rt:
        result = await measure.events(params, batch)
    stats = mapping.statistics()
    result.extra.update(batches=stats.batches, records=stats.records, failed=stats.failed)
    return result


async def stream_mapping(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    from asynclambda import Runtime
    from asynclambda.sources import MemoryStreamBackend, StreamConfig, StreamEventSourceMapping

    size = int(params["batch_size"])
    rt = Runtime()
    rt.add_function("fn", handler, timeout=30)
    streams = MemoryStreamBackend(clock=rt.clock)
    await streams.create_stream(StreamConfig("s"))
    mapping = StreamEventSourceMapping(
        rt,
        function_name="fn",
        stream="s",
        backend=streams,
        starting_position="LATEST",
        batch_size=size,
    )
    put = streams.put_record
    data = BODY.encode()

    async def batch(n: int) -> None:
        n = -(-n // size) * size
        done = _expect(n, loop)
        for i in range(n):
            await put("s", data, "key")
            if i % size == size - 1:
                await asyncio.sleep(0)  # let the reader take whole batches as they fill
        await done

    async with rt:
        result = await measure.events(params, batch)
    stats = mapping.statistics()
    result.extra.update(batches=stats.batches, records=stats.records, failed=stats.failed)
    return result


_FN = "benchmarks.bench_mappings:"

CONFIGS = [
    config
    for kind in ("queue", "stream")
    for size in (10, 100)
    for config in on_loops(
        scenario=SCENARIO,
        name=f"{kind}-b{size}",
        title=f"{kind} mapping, batch {size}, records end to end",
        fn=_FN + f"{kind}_mapping",
        params={"batch_size": size},
        floor="F2",
    )
]

if __name__ == "__main__":
    from benchmarks.run_all import script

    script(SCENARIO)
