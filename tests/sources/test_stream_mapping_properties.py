"""Properties of the stream mapping, for any failure pattern:

* order per partition key is never violated, under parallelization, retries, bisection and
  partial batch responses: a record reaches the function only once every earlier record of its
  key is done (processed or discarded) or sits before it in the same batch;
* the checkpoint never passes a record that is not done;
* bisection isolates a poison record in at most ceil(log2(batch)) + 1 invocations that hold it.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from mapping_helpers import run, run_until

import asynclambda as al
from asynclambda.destinations import CallableDestination, RecordingDestination
from asynclambda.sources import (
    MemoryCheckpointStore,
    MemoryStreamBackend,
    StreamConfig,
    StreamEventSourceMapping,
)


class CheckedStore(MemoryCheckpointStore):
    """Fails the test if a checkpoint passes a record that is not done."""

    def __init__(self, done: set[str], by_shard: dict[str, list[str]]) -> None:
        super().__init__()
        self.done = done
        self.by_shard = by_shard

    async def set(self, mapping_id: str, shard_id: str, sequence_number: str) -> None:
        for seq in self.by_shard[shard_id]:
            if int(seq) <= int(sequence_number):
                assert seq in self.done, f"checkpoint {sequence_number} passes {seq}"
        await super().set(mapping_id, shard_id, sequence_number)


@given(
    keys=st.lists(st.sampled_from("abcdef"), min_size=1, max_size=40),
    fails=st.lists(st.integers(0, 4), min_size=40, max_size=40),
    shards=st.integers(1, 2),
    factor=st.integers(1, 4),
    batch_size=st.integers(1, 8),
    bisect=st.booleans(),
    partial=st.booleans(),
    retries=st.integers(0, 2),
)
def test_order_per_key_and_checkpoint_safety(keys: list[str], fails: list[int], shards: int,
                                             factor: int, batch_size: int, bisect: bool,
                                             partial: bool, retries: int) -> None:
    async def body() -> None:
        clock = al.VirtualClock()
        rt = al.Runtime(clock=clock)
        streams = MemoryStreamBackend(clock=clock)
        await streams.create_stream(StreamConfig("s", shard_count=shards))
        done: set[str] = set()
        attempts: dict[str, int] = {}
        by_shard: dict[str, list[str]] = {}
        key_of: dict[str, str] = {}
        index_of: dict[str, int] = {}
        violations: list[str] = []

        @rt.function(timeout=5)
        async def proc(event: dict[str, Any], context: al.LambdaContext) -> Any:
            records = event["Records"]
            seqs = [r["kinesis"]["sequenceNumber"] for r in records]
            for pos, seq in enumerate(seqs):
                key = key_of[seq]
                shard = records[pos]["eventID"].split(":")[0]
                for earlier in by_shard[shard]:
                    if int(earlier) >= int(seq):
                        break
                    if key_of[earlier] == key and earlier not in done \
                            and earlier not in seqs[:pos]:
                        violations.append(f"{seq} before {earlier} (key {key})")
            failed: list[str] = []
            for seq in seqs:
                attempts[seq] = attempts.get(seq, 0) + 1
                if attempts[seq] <= fails[index_of[seq]]:
                    failed.append(seq)
            if not failed:
                done.update(seqs)
                return None
            if partial:
                first = seqs.index(failed[0])
                done.update(seqs[:first])
                return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}
            raise RuntimeError("batch failed")

        def discarded(record: Any) -> None:
            info = record["KinesisBatchInfo"]
            low, high = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
            done.update(s for s in by_shard[info["shardId"]] if low <= int(s) <= high)

        for i, key in enumerate(keys):
            put = await streams.put_record("s", json.dumps({"i": i}).encode(), key)
            by_shard.setdefault(put.shard_id, []).append(put.sequence_number)
            key_of[put.sequence_number] = key
            index_of[put.sequence_number] = i
        for shard in await streams.list_shards("s"):
            by_shard.setdefault(shard.shard_id, [])
        store = CheckedStore(done, by_shard)
        mapping = StreamEventSourceMapping(
            rt, function_name="proc", stream="s", backend=streams, checkpoints=store,
            starting_position="TRIM_HORIZON", batch_size=batch_size,
            parallelization_factor=factor, bisect_batch_on_function_error=bisect,
            report_batch_item_failures=partial, maximum_retry_attempts=retries,
            on_failure=CallableDestination(discarded))
        async with rt:
            await run_until(clock, lambda: len(done) == len(keys)
                            and mapping.statistics().in_flight == 0, limit=10_000_000)
            await clock.advance(1)
            checkpoints = {s: await store.get(mapping.uuid, s) for s in by_shard}
        assert not violations, violations[:3]
        for shard, seqs in by_shard.items():
            assert checkpoints[shard] == (seqs[-1] if seqs else None)
        stats = mapping.statistics()
        assert stats.succeeded + stats.discarded == len(keys)

    run(body)


@given(size=st.integers(1, 64), data=st.data())
def test_bisect_isolates_a_poison_record_within_the_bound(size: int, data: st.DataObject) -> None:
    poison = data.draw(st.integers(0, size - 1), label="poison")

    async def body() -> None:
        clock = al.VirtualClock()
        rt = al.Runtime(clock=clock)
        streams = MemoryStreamBackend(clock=clock)
        await streams.create_stream(StreamConfig("s"))
        holding: list[int] = []
        invocations = 0

        @rt.function
        async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
            nonlocal invocations
            invocations += 1
            ns = [json.loads(base64.b64decode(r["kinesis"]["data"]))["i"]
                  for r in event["Records"]]
            if poison in ns:
                holding.append(len(ns))
                raise ValueError("poison")

        failures = RecordingDestination()
        mapping = StreamEventSourceMapping(
            rt, function_name="proc", stream="s", backend=streams, batch_size=size,
            starting_position="TRIM_HORIZON", bisect_batch_on_function_error=True,
            maximum_retry_attempts=0, on_failure=failures)
        for i in range(size):
            await streams.put_record("s", json.dumps({"i": i}).encode(), "one-key")
        async with rt:
            await run_until(clock, lambda: mapping.statistics().succeeded
                            + mapping.statistics().discarded == size)
        bound = math.ceil(math.log2(size)) + 1
        assert len(holding) <= bound
        assert holding[-1] == 1  # isolated
        assert invocations <= 2 * bound - 1  # each split adds at most one clean half
        (record,) = failures.records
        assert record["KinesisBatchInfo"]["batchSize"] == 1
        assert mapping.statistics().succeeded == size - 1

    run(body)
