"""Property: for any failure pattern, every queue message is deleted after a success or lands in
the dead-letter queue after ``max_receive_count`` receives; never lost, never deleted
unprocessed; with partial batch responses only the reported items come back."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from mapping_helpers import run, run_until

import asynclambda as al
from asynclambda.sources import (
    MemoryQueueBackend,
    QueueConfig,
    QueueEventSourceMapping,
    RedrivePolicy,
)


@given(
    fail_counts=st.lists(st.integers(0, 5), min_size=1, max_size=25),
    batch_size=st.integers(1, 10),
    max_receive=st.integers(1, 4),
    partial=st.booleans(),
    fifo=st.booleans(),
    concurrency=st.one_of(st.none(), st.integers(2, 4)),
)
def test_messages_are_deleted_after_success_or_dead_lettered(
        fail_counts: list[int], batch_size: int, max_receive: int, partial: bool, fifo: bool,
        concurrency: int | None) -> None:
    async def body() -> None:
        clock = al.VirtualClock()
        rt = al.Runtime(clock=clock)
        queues = MemoryQueueBackend(clock=clock)
        suffix = ".fifo" if fifo else ""
        await queues.create_queue(QueueConfig("dlq" + suffix, fifo=fifo))
        await queues.create_queue(QueueConfig(
            "jobs" + suffix, fifo=fifo, visibility_timeout=30, content_based_deduplication=fifo,
            redrive_policy=RedrivePolicy("dlq" + suffix, max_receive)))
        deliveries = [0] * len(fail_counts)
        first_success: dict[int, int] = {}
        after_success: list[int] = []

        @rt.function(timeout=10)
        async def worker(event: dict[str, Any], context: al.LambdaContext) -> Any:
            failures, batch_ok = [], True
            for record in event["Records"]:
                n = json.loads(record["body"])["n"]
                if n in first_success:
                    after_success.append(n)  # a completed message came back
                deliveries[n] += 1
                if deliveries[n] <= fail_counts[n]:
                    failures.append({"itemIdentifier": record["messageId"]})
                    batch_ok = False
            if partial:
                failed = {f["itemIdentifier"] for f in failures}
                for record in event["Records"]:
                    if record["messageId"] not in failed:
                        first_success.setdefault(json.loads(record["body"])["n"],
                                                 deliveries[json.loads(record["body"])["n"]])
                return {"batchItemFailures": failures}
            if not batch_ok:
                raise RuntimeError("batch failed")
            for record in event["Records"]:
                n = json.loads(record["body"])["n"]
                first_success.setdefault(n, deliveries[n])
            return None

        mapping = QueueEventSourceMapping(
            rt, function_name="worker", queue="jobs" + suffix, backend=queues,
            batch_size=batch_size, report_batch_item_failures=partial,
            maximum_concurrency=concurrency)
        stats: dict[str, Any] = {}

        async with rt:
            for n in range(len(fail_counts)):
                await queues.send("jobs" + suffix, json.dumps({"n": n}),
                                  group_id=f"g{n % 3}" if fifo else None)

            def done() -> bool:
                rt.spawn(refresh)
                return bool(stats) and stats["jobs"].in_queue == 0 and \
                    mapping.statistics().in_flight == 0

            async def refresh() -> None:
                stats["jobs"] = await queues.statistics("jobs" + suffix)

            await run_until(clock, done, limit=10_000_000)
            dead = []
            while batch := await queues.receive("dlq" + suffix, max_messages=10):
                dead.extend(batch)  # deleted at once: a FIFO group stays blocked while in flight
                await queues.delete_batch("dlq" + suffix, [m.receipt_handle for m in batch])
            jobs = await queues.statistics("jobs" + suffix)

        dead_numbers = {json.loads(m.body)["n"] for m in dead}
        succeeded = set(first_success)
        everything = set(range(len(fail_counts)))
        # Nothing lost: every message either succeeded (and was deleted) or is dead-lettered.
        assert succeeded | dead_numbers == everything
        assert not succeeded & dead_numbers
        assert jobs.deleted == len(succeeded)  # never deleted unprocessed
        assert jobs.redriven_to_dlq == len(dead_numbers)
        for n in dead_numbers:
            assert deliveries[n] == max_receive  # dead-lettered after max_receive_count receives
        # Only failed items come back: a message that succeeded is never delivered again.
        assert not after_success
        for n in succeeded:
            assert deliveries[n] == first_success[n]
        if partial:
            for n in everything:  # with partial responses a message only fails for itself
                expected = min(fail_counts[n] + 1, max_receive)
                assert deliveries[n] == expected
        assert mapping.statistics().throttles == 0

    run(body)
