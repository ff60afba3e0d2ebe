"""The Kinesis / DynamoDB Streams mapping: event shapes, starting positions, checkpoints, retries,
bisection, partial responses, record age, on-failure records, tumbling windows, filters,
options and lifecycle. Virtual time only."""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import pytest
from mapping_helpers import run_until

import asynclambda as al
from asynclambda.destinations import RecordingDestination
from asynclambda.events import DynamoDBEvent, KinesisEvent
from asynclambda.sources import (
    MemoryCheckpointStore,
    MemoryStreamBackend,
    MemoryTable,
    StreamConfig,
    StreamEventSourceMapping,
)

pytestmark = pytest.mark.anyio


async def make(shards: int = 1, **runtime: Any
               ) -> tuple[al.Runtime, al.VirtualClock, MemoryStreamBackend]:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock, **runtime)
    streams = MemoryStreamBackend(clock=clock)
    await streams.create_stream(StreamConfig("posts", shard_count=shards))
    return rt, clock, streams


def data(record: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(record["kinesis"]["data"]))


async def put(streams: MemoryStreamBackend, n: int, key: str | None = None, **extra: Any) -> str:
    result = await streams.put_record("posts", json.dumps({"n": n, **extra}).encode(),
                                      key or f"user-{n}")
    return result.sequence_number


def idle(mapping: StreamEventSourceMapping, total: int) -> bool:
    s = mapping.statistics()
    return s.succeeded + s.discarded + s.filtered >= total and s.in_flight == 0


async def test_kinesis_event_is_the_aws_shape() -> None:
    rt, clock, streams = await make(region="us-east-2", account_id="123456789012")
    raw: list[bytes] = []

    @rt.function
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
        raw.append(msgspec.json.encode(event))

    mapping = StreamEventSourceMapping(rt, function_name="proc", stream="posts", backend=streams,
                                       starting_position="TRIM_HORIZON")
    seq = await put(streams, 1, "k")
    async with rt:
        await run_until(clock, lambda: bool(raw))
    event = json.loads(raw[0])
    (record,) = event["Records"]
    assert record == {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "k", "sequenceNumber": seq,
                    "data": base64.b64encode(b'{"n": 1}').decode(),
                    "approximateArrivalTimestamp": record["kinesis"]["approximateArrivalTimestamp"]},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{seq}", "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
        "awsRegion": "us-east-2",
        "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/posts"}
    assert record["kinesis"]["approximateArrivalTimestamp"] == clock.time()
    typed = msgspec.json.decode(raw[0], type=KinesisEvent)
    assert json.loads(msgspec.json.encode(typed)) == event
    assert typed.records[0].kinesis.decode_data() == b'{"n": 1}'
    assert set(event) == {"Records"}  # no window members without a tumbling window
    assert mapping.statistics().iterator_age_ms == 0


async def test_dynamodb_table_trigger_gets_dynamodb_records() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock, region="eu-west-1", account_id="123456789012")
    streams = MemoryStreamBackend(clock=clock)
    table = await MemoryTable.create("orders", partition_key="id", streams=streams)
    events: list[DynamoDBEvent] = []

    @rt.function
    async def on_change(event: DynamoDBEvent, context: al.LambdaContext) -> None:
        events.append(event)

    StreamEventSourceMapping(rt, function_name="on_change", stream="orders", backend=streams,
                             starting_position="LATEST", event_format="dynamodb",
                             filter_criteria={"eventName": ["INSERT", "REMOVE"]})
    async with rt:
        await table.put_item({"id": "1", "total": 10})
        await table.update_item({"id": "1"}, {"total": 12})
        await table.delete_item({"id": "1"})
        await run_until(clock, lambda: sum(len(e.records) for e in events) == 2)
    records = [r for e in events for r in e.records]
    assert [r.event_name for r in records] == ["INSERT", "REMOVE"]
    insert = records[0]
    assert insert.event_source == "aws:dynamodb"
    assert insert.aws_region == "eu-west-1"
    assert insert.event_source_arn == (
        "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/orders")
    assert insert.dynamodb.new_image is not msgspec.UNSET
    assert insert.dynamodb.sequence_number.isdigit()


@pytest.mark.parametrize("position", ["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"])
async def test_starting_positions(position: str) -> None:
    rt, clock, streams = await make()
    seen: list[int] = []

    @rt.function
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
        seen.extend(data(r)["n"] for r in event["Records"])

    await put(streams, 1)
    await clock.advance(10)
    mid = clock.time()
    await put(streams, 2)
    options: dict[str, Any] = {"starting_position_timestamp": mid} \
        if position == "AT_TIMESTAMP" else {}
    StreamEventSourceMapping(rt, function_name="proc", stream="posts", backend=streams,
                             starting_position=position, **options)  # type: ignore[arg-type]
    async with rt:
        await put(streams, 3)
        await run_until(clock, lambda: 3 in seen)
    assert seen == {"TRIM_HORIZON": [1, 2, 3], "LATEST": [3], "AT_TIMESTAMP": [2, 3]}[position]


async def test_checkpoint_resumes_after_restart() -> None:
    store = MemoryCheckpointStore()
    seen: list[int] = []
    clock = al.VirtualClock()
    streams = MemoryStreamBackend(clock=clock)
    await streams.create_stream(StreamConfig("posts"))
    for n in range(3):
        await put(streams, n)
    for round_ in range(2):
        rt = al.Runtime(clock=clock)

        @rt.function
        async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
            seen.extend(data(r)["n"] for r in event["Records"])

        StreamEventSourceMapping(rt, function_name="proc", stream="posts", backend=streams,
                                 starting_position="TRIM_HORIZON", checkpoints=store,
                                 uuid="fixed-mapping")
        async with rt:
            if round_:
                await put(streams, 3)
            want = 3 + round_
            await run_until(clock, lambda: len(seen) == want)  # noqa: B023 - awaited here
    assert seen == [0, 1, 2, 3]


async def test_partial_batch_response_checkpoints_at_the_lowest_failed_record() -> None:
    rt, clock, streams = await make()
    batches: list[list[int]] = []
    failed_once: set[int] = set()

    @rt.function
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> dict[str, Any]:
        ns = [data(r)["n"] for r in event["Records"]]
        batches.append(ns)
        bad = [r for r in event["Records"] if data(r)["n"] in (2, 4)
               and data(r)["n"] not in failed_once]
        failed_once.update(data(r)["n"] for r in bad)
        return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]}
                                      for r in bad]}

    store = MemoryCheckpointStore()
    mapping = StreamEventSourceMapping(
        rt, function_name="proc", stream="posts", backend=streams, checkpoints=store,
        starting_position="TRIM_HORIZON", report_batch_item_failures=True)
    seqs = [await put(streams, n, "same-key") for n in range(6)]
    async with rt:
        await run_until(clock, lambda: idle(mapping, 6))
    assert batches == [[0, 1, 2, 3, 4, 5], [2, 3, 4, 5]]
    assert await store.get(mapping.uuid, "shardId-000000000000") == seqs[-1]
    assert mapping.statistics().retries == 1


async def test_bisect_isolates_a_poison_record_and_reports_it() -> None:
    rt, clock, streams = await make()
    invocations: list[list[int]] = []

    @rt.function
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
        ns = [data(r)["n"] for r in event["Records"]]
        invocations.append(ns)
        if 5 in ns:
            raise ValueError("poison")

    failures = RecordingDestination()
    mapping = StreamEventSourceMapping(
        rt, function_name="proc", stream="posts", backend=streams, batch_size=8,
        starting_position="TRIM_HORIZON", bisect_batch_on_function_error=True,
        maximum_retry_attempts=0, on_failure=failures)
    seqs = [await put(streams, n, "k") for n in range(8)]
    async with rt:
        await run_until(clock, lambda: idle(mapping, 8))
    assert invocations == [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4],
                           [5], [6, 7]]
    (record,) = failures.records
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 4  # batches that held it
    assert record["requestContext"]["functionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:proc"
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["version"] == "1.0"
    info = record["KinesisBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == seqs[5]
    assert info["batchSize"] == 1
    assert info["shardId"] == "shardId-000000000000"
    assert info["streamArn"] == "arn:aws:kinesis:us-east-1:000000000000:stream/posts"
    assert info["approximateArrivalOfFirstRecord"] == "2026-01-01T00:00:00.000Z"
    assert set(record) == {"requestContext", "responseContext", "version", "timestamp",
                           "KinesisBatchInfo"}


async def test_retry_attempts_then_discard_without_bisect() -> None:
    rt, clock, streams = await make()
    attempts: list[float] = []

    @rt.function
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
        attempts.append(clock.now())
        raise ValueError("always")

    failures = RecordingDestination()
    mapping = StreamEventSourceMapping(
        rt, function_name="proc", stream="posts", backend=streams,
        starting_position="TRIM_HORIZON", maximum_retry_attempts=2, on_failure=failures)
    await put(streams, 1)
    await put(streams, 2)
    async with rt:
        await run_until(clock, lambda: idle(mapping, 2))
    assert len(attempts) == 3
    assert attempts[1] - attempts[0] == 1.0 and attempts[2] - attempts[1] == 2.0  # backoff
    (record,) = failures.records
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["KinesisBatchInfo"]["batchSize"] == 2
    stats = mapping.statistics()
    assert (stats.discarded, stats.retries, stats.failed) == (2, 2, 6)


async def test_maximum_record_age_discards_old_records() -> None:
    rt, clock, streams = await make()
    seen: list[int] = []

    @rt.function
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
        seen.extend(data(r)["n"] for r in event["Records"])
        raise ValueError("keeps failing")

    failures = RecordingDestination()
    mapping = StreamEventSourceMapping(
        rt, function_name="proc", stream="posts", backend=streams,
        starting_position="TRIM_HORIZON", maximum_record_age=60, on_failure=failures)
    await put(streams, 1)
    await clock.advance(120)
    await put(streams, 2)  # fresh
    async with rt:
        await run_until(clock, lambda: idle(mapping, 2))
    first, second = failures.records
    assert first["requestContext"]["condition"] == "RecordAgeExceeded"
    assert first["requestContext"]["approximateInvokeCount"] == 0  # never invoked: too old
    assert first["responseContext"] == {"statusCode": None, "executedVersion": None,
                                        "functionError": None}
    assert second["requestContext"]["condition"] == "RecordAgeExceeded"
    assert second["requestContext"]["approximateInvokeCount"] > 1
    assert 1 not in seen and 2 in seen


async def test_infinite_retries_stop_when_the_record_expires() -> None:
    rt, clock, streams = await make()

    @rt.function
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
        raise ValueError("always")

    failures = RecordingDestination()
    mapping = StreamEventSourceMapping(rt, function_name="proc", stream="posts", backend=streams,
                                       starting_position="TRIM_HORIZON", on_failure=failures)
    await put(streams, 1)
    async with rt:
        await run_until(clock, lambda: idle(mapping, 1), limit=200_000)
    assert clock.now() >= 24 * 3600  # retried until the stream's 24 h retention dropped it
    assert failures.records[0]["requestContext"]["condition"] == "RecordAgeExceeded"


async def test_parallelization_keeps_order_per_partition_key() -> None:
    rt, clock, streams = await make()
    running: set[str] = set()
    overlaps: list[str] = []
    order: dict[str, list[int]] = {}
    peak = 0

    @rt.function(timeout=10)
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
        nonlocal peak
        keys = {r["kinesis"]["partitionKey"] for r in event["Records"]}
        overlaps.extend(keys & running)
        running.update(keys)
        peak = max(peak, len(running))
        for r in event["Records"]:
            order.setdefault(r["kinesis"]["partitionKey"], []).append(data(r)["n"])
        await clock.sleep(1)
        running.difference_update(keys)

    mapping = StreamEventSourceMapping(rt, function_name="proc", stream="posts", backend=streams,
                                       starting_position="TRIM_HORIZON", batch_size=3,
                                       parallelization_factor=4)
    for n in range(60):
        await put(streams, n, f"key-{n % 8}")
    async with rt:
        await run_until(clock, lambda: idle(mapping, 60))
    assert not overlaps
    assert peak > 3
    for key, ns in order.items():
        assert ns == sorted(ns), key


async def test_tumbling_windows_carry_state_and_end_with_a_final_invoke() -> None:
    rt, clock, streams = await make()
    calls: list[dict[str, Any]] = []

    @rt.function
    async def counts(event: dict[str, Any], context: al.LambdaContext) -> dict[str, Any]:
        calls.append({k: v for k, v in event.items() if k != "Records"}
                     | {"n": [data(r)["n"] for r in event["Records"]]})
        state = dict(event["state"])
        for r in event["Records"]:
            tag = data(r)["tag"]
            state[tag] = state.get(tag, 0) + 1
        return {"state": state}

    mapping = StreamEventSourceMapping(rt, function_name="counts", stream="posts",
                                       backend=streams, starting_position="LATEST",
                                       tumbling_window=60)
    async with rt:
        await put(streams, 1, tag="#python")
        await clock.advance(10)
        await put(streams, 2, tag="#python")
        await put(streams, 3, tag="#aws")
        await clock.advance(70)  # past the first window's end: final invoke
        await put(streams, 4, tag="#aws")
        await clock.advance(60)
        await run_until(clock, lambda: sum(1 for c in calls if c["isFinalInvokeForWindow"]) == 2)
    first = [c for c in calls if c["window"]["start"] == "2026-01-01T00:00:00Z"]
    assert [c["n"] for c in first] == [[1], [2, 3], []]
    assert first[0]["state"] == {}
    assert first[1]["state"] == {"#python": 1}
    assert first[-1]["isFinalInvokeForWindow"] is True
    assert first[-1]["state"] == {"#python": 2, "#aws": 1}
    assert first[0]["window"] == {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:01:00Z"}
    assert first[0]["shardId"] == "shardId-000000000000"
    assert first[0]["eventSourceARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/posts"
    assert first[0]["isWindowTerminatedEarly"] is False
    second = [c for c in calls if c["window"]["start"] == "2026-01-01T00:01:00Z"]
    assert second[0]["state"] == {}  # a new window starts from a fresh state
    assert second[-1]["state"] == {"#aws": 1}
    assert mapping.statistics().failed == 0


async def test_tumbling_window_response_without_state_is_a_failure() -> None:
    rt, clock, streams = await make()
    calls = 0

    @rt.function
    async def forgetful(event: dict[str, Any], context: al.LambdaContext) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {} if calls == 1 else {"state": {"ok": True}}

    mapping = StreamEventSourceMapping(rt, function_name="forgetful", stream="posts",
                                       backend=streams, starting_position="TRIM_HORIZON",
                                       tumbling_window=30)
    await put(streams, 1)
    async with rt:
        await run_until(clock, lambda: idle(mapping, 1))
    assert mapping.statistics().failed == 1 and calls >= 2


async def test_a_huge_state_ends_the_window_early() -> None:
    rt, clock, streams = await make()
    calls: list[dict[str, Any]] = []

    @rt.function
    async def hoarder(event: dict[str, Any], context: al.LambdaContext) -> dict[str, Any]:
        calls.append({k: event[k] for k in ("isFinalInvokeForWindow", "isWindowTerminatedEarly")}
                     | {"size": len(json.dumps(event["state"]))})
        return {"state": {"blob": "x" * 1_100_000}}

    mapping = StreamEventSourceMapping(rt, function_name="hoarder", stream="posts",
                                       backend=streams, starting_position="TRIM_HORIZON",
                                       tumbling_window=60)
    await put(streams, 1, "k")
    await put(streams, 2, "k")
    async with rt:
        await run_until(clock, lambda: idle(mapping, 2) and len(calls) >= 2)
    assert calls[1] == {"isFinalInvokeForWindow": True, "isWindowTerminatedEarly": True,
                        "size": len(json.dumps({"blob": "x" * 1_100_000}))}


async def test_filters_skip_records_and_the_checkpoint_moves_past_them() -> None:
    rt, clock, streams = await make()
    seen: list[int] = []

    @rt.function
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
        seen.extend(data(r)["n"] for r in event["Records"])

    store = MemoryCheckpointStore()
    mapping = StreamEventSourceMapping(
        rt, function_name="proc", stream="posts", backend=streams, checkpoints=store,
        starting_position="TRIM_HORIZON", filter_criteria=[{"data": {"n": [{"numeric": [">", 2]}]}}])
    seqs = [await put(streams, n) for n in range(5)]
    async with rt:
        await run_until(clock, lambda: idle(mapping, 5))
    assert seen == [3, 4]
    assert mapping.statistics().filtered == 3
    assert await store.get(mapping.uuid, "shardId-000000000000") == seqs[-1]


async def test_throttles_are_retried_not_counted_as_retries() -> None:
    rt, clock, streams = await make()
    seen: list[int] = []

    @rt.function(reserved_concurrency=0)
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
        seen.extend(data(r)["n"] for r in event["Records"])

    mapping = StreamEventSourceMapping(rt, function_name="proc", stream="posts", backend=streams,
                                       starting_position="TRIM_HORIZON", maximum_retry_attempts=0)
    await put(streams, 1)
    async with rt:
        await clock.advance(30)
        assert mapping.statistics().throttles >= 3 and not seen
        rt.put_function_concurrency("proc", None)
        await run_until(clock, lambda: idle(mapping, 1))
    stats = mapping.statistics()
    assert seen == [1] and stats.retries == 0 and stats.discarded == 0


async def test_update_parallelization_restarts_intake_and_disable_pauses() -> None:
    rt, clock, streams = await make()
    seen: list[int] = []

    @rt.function
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
        seen.extend(data(r)["n"] for r in event["Records"])

    mapping = StreamEventSourceMapping(rt, function_name="proc", stream="posts", backend=streams,
                                       starting_position="TRIM_HORIZON")
    async with rt:
        await put(streams, 1)
        await run_until(clock, lambda: seen == [1])
        await mapping.update(parallelization_factor=3, batch_size=5)
        assert mapping.state == "Enabled"
        await put(streams, 2)
        await run_until(clock, lambda: seen == [1, 2])
        await mapping.disable()
        await put(streams, 3)
        await clock.advance(100)
        assert seen == [1, 2]
        await mapping.enable()
        await run_until(clock, lambda: seen == [1, 2, 3])
        with pytest.raises(al.ConfigError, match="parallelization_factor=11"):
            await mapping.update(parallelization_factor=11)


@pytest.mark.parametrize(("options", "field", "value"), [
    ({"batch_size": 0}, "batch_size", 0),
    ({"batch_size": 10_001}, "batch_size", 10_001),
    ({"parallelization_factor": 0}, "parallelization_factor", 0),
    ({"parallelization_factor": 11}, "parallelization_factor", 11),
    ({"maximum_retry_attempts": -2}, "maximum_retry_attempts", -2),
    ({"maximum_retry_attempts": 10_001}, "maximum_retry_attempts", 10_001),
    ({"maximum_record_age": 59}, "maximum_record_age", 59),
    ({"maximum_record_age": 604_801}, "maximum_record_age", 604_801),
    ({"maximum_record_age": 0}, "maximum_record_age", 0),
    ({"maximum_batching_window": 300.5}, "maximum_batching_window", 300.5),
    ({"tumbling_window": 901}, "tumbling_window", 901),
    ({"tumbling_window": -1}, "tumbling_window", -1),
    ({"bisect_batch_on_function_error": None}, "bisect_batch_on_function_error", None),
    ({"starting_position": "AT_SEQUENCE_NUMBER"}, "starting_position", "AT_SEQUENCE_NUMBER"),
    ({"starting_position": "AT_TIMESTAMP"}, "starting_position_timestamp", None),
    ({"starting_position_timestamp": 5.0}, "starting_position_timestamp", 5.0),
    ({"starting_position": "AT_TIMESTAMP", "starting_position_timestamp": 1.0,
      "event_format": "dynamodb"}, "starting_position", "AT_TIMESTAMP"),
    ({"event_format": "kafka"}, "event_format", "kafka"),
    ({"on_failure": 3}, "on_failure", 3),
    ({"filter_criteria": 3}, "filter_criteria", 3),
    ({"shard": 1}, "shard", 1),
])
async def test_out_of_range_options_name_field_and_value(options: dict[str, Any], field: str,
                                                         value: Any) -> None:
    streams = MemoryStreamBackend(clock=al.VirtualClock())
    kwargs: dict[str, Any] = {"starting_position": "LATEST", **options}
    with pytest.raises(al.ConfigError) as info:
        StreamEventSourceMapping(function_name="proc", stream="posts", backend=streams, **kwargs)
    assert info.value.field == field
    assert info.value.value == value


async def test_start_checks_the_stream_and_the_destination() -> None:
    rt, _, streams = await make()
    rt.add_function("proc", lambda e, c: None)
    StreamEventSourceMapping(rt, function_name="proc", stream="nope", backend=streams,
                             starting_position="LATEST")
    with pytest.raises(al.ConfigError, match="stream='nope'"):
        await rt.start()
    rt, _, streams = await make()
    rt.add_function("proc", lambda e, c: None)
    StreamEventSourceMapping(rt, function_name="proc", stream="posts", backend=streams,
                             starting_position="LATEST", on_failure="function:missing")
    with pytest.raises(al.ConfigError, match="on_failure"):
        await rt.start()


@pytest.mark.parametrize("response", [
    {"batchItemFailures": [{"itemIdentifier": "not-a-sequence-number"}]},
    {"batchItemFailures": [{"itemIdentifier": None}]},
    "garbage",
])
async def test_malformed_batch_response_retries_the_whole_batch(response: Any) -> None:
    rt, clock, streams = await make()
    batches: list[list[int]] = []

    @rt.function
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> Any:
        batches.append([data(r)["n"] for r in event["Records"]])
        return response if len(batches) == 1 else None

    mapping = StreamEventSourceMapping(rt, function_name="proc", stream="posts", backend=streams,
                                       starting_position="TRIM_HORIZON",
                                       report_batch_item_failures=True)
    for n in range(3):
        await put(streams, n, "k")
    async with rt:
        await run_until(clock, lambda: idle(mapping, 3))
    assert batches == [[0, 1, 2], [0, 1, 2]]
    assert mapping.statistics().failed == 3


async def test_shutdown_lets_the_in_flight_batch_finish_and_checkpoints_it() -> None:
    import asyncio

    rt, clock, streams = await make()
    started, release = asyncio.Event(), asyncio.Event()

    @rt.function(timeout=30)
    async def proc(event: dict[str, Any], context: al.LambdaContext) -> None:
        started.set()
        await release.wait()

    store = MemoryCheckpointStore()
    mapping = StreamEventSourceMapping(rt, function_name="proc", stream="posts", backend=streams,
                                       starting_position="TRIM_HORIZON", checkpoints=store)
    seq = await put(streams, 1)

    async def while_closing() -> None:
        while mapping.state != "Deleting":
            await asyncio.sleep(0)
        await put(streams, 2)  # intake has stopped: never read
        release.set()

    async with rt:
        await clock.settle()
        assert started.is_set()
        helper = asyncio.ensure_future(while_closing())
    await helper
    assert await store.get(mapping.uuid, "shardId-000000000000") == seq
    assert mapping.statistics().records == 1
    assert mapping.state == "Deleted"
