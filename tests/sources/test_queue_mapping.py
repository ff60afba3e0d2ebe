"""The SQS event source mapping: events, deletes, partial batches, FIFO groups, throttles,
filters, undecodable bodies, options, lifecycle. Virtual time only."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from typing import Any

import msgspec
import pytest
from mapping_helpers import run_until

import asynclambda as al
from asynclambda.destinations import QueueDestination, RecordingDestination
from asynclambda.events import SQSEvent
from asynclambda.sources import (
    MemoryQueueBackend,
    QueueConfig,
    QueueEventSourceMapping,
    RedrivePolicy,
)
from asynclambda.sources.queue import Message

pytestmark = pytest.mark.anyio


async def make(*, fifo: bool = False, max_receive: int = 3, visibility: float = 30,
               **runtime: Any) -> tuple[al.Runtime, al.VirtualClock, MemoryQueueBackend]:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock, **runtime)
    queues = MemoryQueueBackend(clock=clock)
    suffix = ".fifo" if fifo else ""
    await queues.create_queue(QueueConfig("dlq" + suffix, fifo=fifo))
    await queues.create_queue(QueueConfig(
        "jobs" + suffix, fifo=fifo, visibility_timeout=visibility,
        content_based_deduplication=fifo, redrive_policy=RedrivePolicy("dlq" + suffix, max_receive)))
    return rt, clock, queues


async def drained(queues: MemoryQueueBackend, mapping: QueueEventSourceMapping,
                  name: str = "jobs") -> bool:
    stats = await queues.statistics(name)
    return stats.in_queue == 0 and mapping.statistics().in_flight == 0


async def wait_drained(clock: al.VirtualClock, queues: MemoryQueueBackend,
                       mapping: QueueEventSourceMapping, name: str = "jobs") -> None:
    state = {"done": False}

    async def check() -> None:
        state["done"] = await drained(queues, mapping, name)

    def done() -> bool:
        asyncio.get_running_loop().create_task(check())
        return state["done"]

    await run_until(clock, done, limit=100_000)


async def test_event_is_the_sqs_shape_byte_for_byte() -> None:
    rt, clock, queues = await make(region="eu-west-1", account_id="123456789012")
    raw: list[bytes] = []

    @rt.function
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        raw.append(msgspec.json.encode(event))

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues)
    async with rt:
        await queues.send("jobs", "hello", message_attributes={
            "Kind": {"DataType": "String", "StringValue": "thumb"},
            "Size": {"DataType": "Number", "StringValue": "42"},
            "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
        await run_until(clock, lambda: bool(raw))
    event = json.loads(raw[0])
    (record,) = event["Records"]
    assert set(record) == {"messageId", "receiptHandle", "body", "attributes",
                           "messageAttributes", "md5OfBody", "md5OfMessageAttributes",
                           "eventSource", "eventSourceARN", "awsRegion"}
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:eu-west-1:123456789012:jobs"
    assert record["awsRegion"] == "eu-west-1"
    assert record["body"] == "hello"
    assert record["md5OfBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert set(record["attributes"]) == {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                         "ApproximateFirstReceiveTimestamp"}
    assert record["messageAttributes"]["Kind"] == {
        "stringValue": "thumb", "stringListValues": [], "binaryListValues": [],
        "dataType": "String"}
    assert record["messageAttributes"]["Blob"]["binaryValue"] == base64.b64encode(
        b"\x00\x01").decode()
    # The typed Struct reads it and writes back exactly the same JSON.
    typed = msgspec.json.decode(raw[0], type=SQSEvent)
    assert json.loads(msgspec.json.encode(typed)) == event
    assert mapping.statistics().succeeded == 1


async def test_handler_annotated_with_sqs_event_gets_it_decoded() -> None:
    rt, clock, queues = await make(fifo=True)
    seen: list[SQSEvent] = []

    @rt.function
    async def worker(event: SQSEvent, context: al.LambdaContext) -> None:
        seen.append(event)

    QueueEventSourceMapping(rt, function_name="worker", queue="jobs.fifo", backend=queues)
    async with rt:
        await queues.send("jobs.fifo", "a", group_id="g1")
        await run_until(clock, lambda: bool(seen))
    attributes = seen[0].records[0].attributes
    assert attributes.message_group_id == "g1"
    assert attributes.sequence_number


async def test_success_deletes_failure_returns_until_the_dead_letter_queue() -> None:
    rt, clock, queues = await make(max_receive=2)
    calls: list[list[str]] = []

    @rt.function
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        bodies = [r["body"] for r in event["Records"]]
        calls.append(bodies)
        if "bad" in bodies:
            raise ValueError("cannot")

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      batch_size=1)
    async with rt:
        await queues.send("jobs", "good")
        await queues.send("jobs", "bad")
        await wait_drained(clock, queues, mapping)
        jobs, dlq = await queues.statistics("jobs"), await queues.statistics("dlq")
    assert calls.count(["good"]) == 1
    assert calls.count(["bad"]) == 2
    assert (jobs.deleted, jobs.redriven_to_dlq, dlq.in_queue) == (1, 1, 1)
    stats = mapping.statistics()
    assert (stats.succeeded, stats.failed, stats.records, stats.retries) == (1, 2, 3, 1)


async def test_partial_batch_response_only_reported_items_come_back() -> None:
    rt, clock, queues = await make(max_receive=5)
    deliveries: dict[str, int] = {}

    @rt.function
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> dict[str, Any]:
        failures = []
        for r in event["Records"]:
            deliveries[r["body"]] = deliveries.get(r["body"], 0) + 1
            if r["body"].startswith("flaky") and deliveries[r["body"]] < 3:
                failures.append({"itemIdentifier": r["messageId"]})
        return {"batchItemFailures": failures}

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      report_batch_item_failures=True)
    async with rt:
        for body in ("ok-1", "flaky-1", "ok-2", "flaky-2"):
            await queues.send("jobs", body)
        await wait_drained(clock, queues, mapping)
    assert deliveries == {"ok-1": 1, "ok-2": 1, "flaky-1": 3, "flaky-2": 3}
    assert (await queues.statistics("jobs")).deleted == 4


@pytest.mark.parametrize("response", [
    "not a batch response",
    {"batchItemFailures": [{"itemIdentifier": ""}]},
    {"batchItemFailures": [{"itemIdentifier": None}]},
    {"batchItemFailures": [{"id": "x"}]},
    {"batchItemFailures": [{"itemIdentifier": "no-such-message"}]},
    {"batchItemFailures": "all"},
    [1, 2, 3],
])
async def test_malformed_batch_response_is_a_complete_failure(response: Any) -> None:
    rt, clock, queues = await make(max_receive=2)
    deliveries: list[int] = []

    @rt.function
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> Any:
        deliveries.append(len(event["Records"]))
        return response

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      report_batch_item_failures=True)
    async with rt:
        await queues.send("jobs", "a")
        await queues.send("jobs", "b")
        await wait_drained(clock, queues, mapping)
    assert deliveries == [2, 2]  # the whole batch came back, then went to the DLQ
    assert (await queues.statistics("dlq")).in_queue == 2
    assert mapping.statistics().failed == 4


async def test_raw_invalid_json_response_is_a_complete_failure() -> None:
    rt, clock, queues = await make(max_receive=1)

    @rt.function
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> bytes:
        return b'{"batchItemFailures": ['  # returned raw, as the AWS runtime passes bytes

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      report_batch_item_failures=True)
    async with rt:
        await queues.send("jobs", "a")
        await wait_drained(clock, queues, mapping)
    assert (await queues.statistics("dlq")).in_queue == 1


async def test_function_timeout_is_a_batch_failure() -> None:
    rt, clock, queues = await make(max_receive=1)

    @rt.function(timeout=1)
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        await asyncio.sleep(3600)

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues)
    async with rt:
        await queues.send("jobs", "a")
        await wait_drained(clock, queues, mapping)
    assert (await queues.statistics("dlq")).in_queue == 1
    assert mapping.statistics().failed == 1


async def test_filtered_out_messages_are_deleted_without_invoking() -> None:
    rt, clock, queues = await make()
    seen: list[str] = []

    @rt.function
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        seen.extend(r["body"] for r in event["Records"])

    mapping = QueueEventSourceMapping(
        rt, function_name="worker", queue="jobs", backend=queues,
        filter_criteria={"Filters": [{"Pattern": '{"body": {"kind": ["thumbnail"]}}'}]})
    async with rt:
        await queues.send("jobs", json.dumps({"kind": "thumbnail", "key": "a.jpg"}))
        await queues.send("jobs", json.dumps({"kind": "watermark", "key": "b.jpg"}))
        await queues.send("jobs", "plain text")
        await wait_drained(clock, queues, mapping)
    assert [json.loads(b)["key"] for b in seen] == ["a.jpg"]
    stats = mapping.statistics()
    assert (stats.filtered, stats.invocations) == (2, 1)
    assert (await queues.statistics("jobs")).deleted == 3


async def test_fifo_one_batch_in_flight_per_message_group_in_order() -> None:
    rt, clock, queues = await make(fifo=True)
    in_flight: set[str] = set()
    order: dict[str, list[int]] = {}
    overlaps: list[str] = []
    peak = 0

    @rt.function(timeout=30)
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        nonlocal peak
        groups = {r["attributes"]["MessageGroupId"] for r in event["Records"]}
        overlaps.extend(groups & in_flight)
        in_flight.update(groups)
        peak = max(peak, len(in_flight))
        for r in event["Records"]:
            order.setdefault(r["attributes"]["MessageGroupId"], []).append(int(r["body"]))
        await asyncio.sleep(0)
        await context_sleep(clock, 2)
        in_flight.difference_update(groups)

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs.fifo",
                                      backend=queues, batch_size=2)
    async with rt:
        for i in range(24):
            await queues.send("jobs.fifo", str(i), group_id=f"g{i % 4}")
        await wait_drained(clock, queues, mapping, "jobs.fifo")
    assert not overlaps
    assert peak > 1  # groups do run in parallel
    for group, bodies in order.items():
        assert bodies == sorted(bodies), group


async def context_sleep(clock: al.VirtualClock, seconds: float) -> None:
    await clock.sleep(seconds)


async def test_maximum_concurrency_caps_concurrent_invocations() -> None:
    rt, clock, queues = await make()
    running = 0
    peak = 0

    @rt.function(timeout=10)
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await clock.sleep(5)
        running -= 1

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      batch_size=1, maximum_concurrency=3)
    async with rt:
        for i in range(12):
            await queues.send("jobs", str(i))
        await wait_drained(clock, queues, mapping)
        assert peak == 3
        await mapping.update(maximum_concurrency=5)
        for i in range(12):
            await queues.send("jobs", str(i))
        await wait_drained(clock, queues, mapping)
    assert peak == 5


async def test_throttles_back_off_and_are_not_failures() -> None:
    rt, clock, queues = await make(max_receive=5, visibility=60)
    seen: list[str] = []

    @rt.function(timeout=5, reserved_concurrency=0)
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        seen.extend(r["body"] for r in event["Records"])

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues)
    async with rt:
        await queues.send("jobs", "a")
        await clock.advance(20)
        stats = mapping.statistics()
        assert stats.throttles >= 3 and stats.failed == 0 and not seen
        # Still within the visibility timeout: the same receive is retried, not a new one.
        assert (await queues.statistics("jobs")).received == 1
        rt.put_function_concurrency("worker", None)
        await wait_drained(clock, queues, mapping)
    assert seen == ["a"]
    stats = mapping.statistics()
    assert (stats.failed, stats.succeeded) == (0, 1)


async def test_long_throttling_lets_messages_reappear_and_counts_receives() -> None:
    rt, clock, queues = await make(max_receive=100, visibility=10)

    @rt.function(timeout=3, reserved_concurrency=0)
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        return None

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues)
    async with rt:
        await queues.send("jobs", "a")
        await clock.advance(120)
        jobs = await queues.statistics("jobs")
    assert jobs.received > 1 and jobs.in_queue == 1  # received again, never lost
    assert mapping.statistics().failed == 0


class Job(msgspec.Struct):
    key: str
    width: int


async def test_undecodable_body_goes_to_the_dead_letter_queue_with_the_reason() -> None:
    rt, clock, queues = await make()
    seen: list[str] = []

    @rt.function
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        seen.extend(r["body"] for r in event["Records"])

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      body_type=Job)
    async with rt:
        await queues.send("jobs", json.dumps({"key": "a.jpg", "width": 100}))
        await queues.send("jobs", json.dumps({"key": "b.jpg", "width": "wide"}),
                          message_attributes={"Origin": {"DataType": "String",
                                                         "StringValue": "upload"}})
        await queues.send("jobs", "not json")
        await wait_drained(clock, queues, mapping)
        dead = await queues.receive("dlq", max_messages=10)
    assert [json.loads(b)["key"] for b in seen] == ["a.jpg"]
    assert sorted(m.body for m in dead) == sorted(
        ["not json", json.dumps({"key": "b.jpg", "width": "wide"})])
    for message in dead:
        attributes = message.message_attributes
        assert attributes["ErrorCode"].string_value == "InvalidMessageBody"
        assert "body_type" in (attributes["ErrorMessage"].string_value or "")
    wide = next(m for m in dead if "wide" in m.body)
    assert wide.message_attributes["Origin"].string_value == "upload"
    assert "$.width" in (wide.message_attributes["ErrorMessage"].string_value or "")
    assert mapping.statistics().dead_lettered == 2


class BrokenBodies(MemoryQueueBackend):
    """A backend that hands out one body that is not valid UTF-8 (as a broker might, decoded with
    ``surrogateescape``)."""

    async def receive(self, queue: str, **kwargs: Any) -> list[Message]:
        messages = await super().receive(queue, **kwargs)
        return [msgspec.structs.replace(m, body="caf\udce9") if m.body == "broken" else m
                for m in messages]


async def test_body_that_is_not_utf8_goes_to_a_destination_with_the_reason() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    queues = BrokenBodies(clock=clock)
    await queues.create_queue(QueueConfig("jobs"))
    await queues.create_queue(QueueConfig("poison"))
    recording = RecordingDestination()
    seen: list[str] = []

    @rt.function
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        seen.extend(r["body"] for r in event["Records"])

    to_queue = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                       dead_letter_queue=QueueDestination(queues, "poison"))
    async with rt:
        await queues.send("jobs", "fine")
        await queues.send("jobs", "broken")
        await wait_drained(clock, queues, to_queue)
        (dead,) = await queues.receive("poison")
        await to_queue.update(dead_letter_queue=recording)  # looked up again: no restart needed
        await queues.send("jobs", "broken")
        await wait_drained(clock, queues, to_queue)
    assert seen == ["fine"]
    assert base64.b64decode(dead.body) == "café".encode("latin-1")
    assert dead.message_attributes["BodyEncoding"].string_value == "base64"
    assert "not valid UTF-8" in (dead.message_attributes["ErrorMessage"].string_value or "")
    (record,) = recording.records
    assert record["errorCode"] == "InvalidMessageBody"
    assert record["record"]["eventSource"] == "aws:sqs"


async def test_without_a_dead_letter_queue_an_undecodable_message_stays() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    queues = MemoryQueueBackend(clock=clock)
    await queues.create_queue(QueueConfig("jobs", visibility_timeout=10))

    @rt.function
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        raise AssertionError("never invoked")

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      body_type=Job)
    async with rt:
        await queues.send("jobs", "{}")
        await clock.advance(35)
        assert (await queues.statistics("jobs")).in_queue == 1
    assert mapping.statistics().errors >= 1


@pytest.mark.parametrize(("options", "field", "value"), [
    ({"batch_size": 0}, "batch_size", 0),
    ({"batch_size": 10_001, "maximum_batching_window": 1}, "batch_size", 10_001),
    ({"batch_size": 11}, "maximum_batching_window", 0),
    ({"batch_size": True}, "batch_size", True),
    ({"maximum_batching_window": 301}, "maximum_batching_window", 301),
    ({"maximum_batching_window": -1}, "maximum_batching_window", -1),
    ({"maximum_concurrency": 1}, "maximum_concurrency", 1),
    ({"maximum_concurrency": 1001}, "maximum_concurrency", 1001),
    ({"report_batch_item_failures": "yes"}, "report_batch_item_failures", "yes"),
    ({"filter_criteria": [{"body": ["a"]}] * 6}, "filter_criteria.filters", 6),
    ({"body_type": object()}, "body_type", None),
    ({"dead_letter_queue": 42}, "dead_letter_queue", 42),
    ({"enabled": 1}, "enabled", 1),
    ({"no_such_option": 1}, "no_such_option", 1),
])
async def test_out_of_range_options_name_field_and_value(options: dict[str, Any], field: str,
                                                         value: Any) -> None:
    queues = MemoryQueueBackend(clock=al.VirtualClock())
    with pytest.raises(al.ConfigError) as info:
        QueueEventSourceMapping(function_name="worker", queue="jobs", backend=queues, **options)
    assert info.value.field == field
    if value is not None:
        assert info.value.value == value
        assert f"{field}={value!r}" in str(info.value)


@pytest.mark.parametrize(("options", "field"), [
    ({"batch_size": 11, "maximum_batching_window": 1}, "batch_size"),
    ({"maximum_batching_window": 1}, "maximum_batching_window"),
])
async def test_fifo_limits(options: dict[str, Any], field: str) -> None:
    queues = MemoryQueueBackend(clock=al.VirtualClock())
    with pytest.raises(al.ConfigError) as info:
        QueueEventSourceMapping(function_name="w", queue="q.fifo", backend=queues, **options)
    assert info.value.field == field


async def test_start_checks_function_queue_and_visibility_timeout() -> None:
    rt, _, queues = await make(visibility=5)

    @rt.function(timeout=10)
    async def slow(event: Any, context: Any) -> None: ...

    QueueEventSourceMapping(rt, function_name="slow", queue="jobs", backend=queues)
    with pytest.raises(al.ConfigError, match="visibility timeout"):
        await rt.start()

    rt, _, queues = await make()
    QueueEventSourceMapping(rt, function_name="missing", queue="jobs", backend=queues)
    with pytest.raises(al.ConfigError, match="function_name='missing'"):
        await rt.start()

    rt, _, queues = await make()
    rt.add_function("w", lambda e, c: None)
    QueueEventSourceMapping(rt, function_name="w", queue="nope", backend=queues)
    with pytest.raises(al.ConfigError, match="queue='nope'"):
        await rt.start()

    rt, _, queues = await make()
    async with rt:
        with pytest.raises(al.ConfigError, match="function_name='ghost'"):
            QueueEventSourceMapping(rt, function_name="ghost", queue="jobs", backend=queues)


async def test_disable_enable_update_while_running() -> None:
    rt, clock, queues = await make()
    seen: list[int] = []

    @rt.function(timeout=10)
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        seen.append(len(event["Records"]))

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      batch_size=2)
    async with rt:
        assert mapping.state == "Enabled"
        await mapping.disable()
        assert mapping.state == "Disabled"
        for i in range(6):
            await queues.send("jobs", str(i))
        await clock.advance(60)
        assert seen == []
        await mapping.update(batch_size=5)
        with pytest.raises(al.ConfigError, match="batch_size=0"):
            await mapping.update(batch_size=0)
        assert mapping.config.batch_size == 5
        await mapping.enable()
        await wait_drained(clock, queues, mapping)
        assert seen == [5, 1]
        await mapping.update(enabled=False)
        assert mapping.state == "Disabled"
    assert mapping.state == "Deleted"


async def test_shutdown_lets_the_in_flight_batch_finish_and_deletes_it() -> None:
    rt, clock, queues = await make()
    started = asyncio.Event()
    release = asyncio.Event()

    @rt.function(timeout=20)
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        started.set()
        await release.wait()

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues)

    async def while_closing() -> None:
        while mapping.state != "Deleting":
            await asyncio.sleep(0)
        await queues.send("jobs", "b")  # intake has stopped: never received
        release.set()

    async with rt:
        await queues.send("jobs", "a")
        await clock.settle()
        assert started.is_set()
        helper = asyncio.ensure_future(while_closing())
    await helper
    jobs = await queues.statistics("jobs")
    assert (jobs.deleted, jobs.received, jobs.in_queue) == (1, 1, 1)
    assert mapping.state == "Deleted"


async def test_batching_window_gathers_until_full_or_expired() -> None:
    rt, clock, queues = await make()
    sizes: list[tuple[float, int]] = []

    @rt.function
    async def worker(event: dict[str, Any], context: Mapping[str, Any]) -> None:
        sizes.append((clock.now(), len(event["Records"])))

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      batch_size=20, maximum_batching_window=5)
    async with rt:
        for i in range(3):
            await queues.send("jobs", str(i))
        await wait_drained(clock, queues, mapping)
        assert sizes == [(5.0, 3)]
        for i in range(25):
            await queues.send("jobs", str(i))
        await wait_drained(clock, queues, mapping)
    assert [n for _, n in sizes[1:]] == [20, 5]


async def test_a_mapping_added_late_with_a_missing_queue_stays_disabled() -> None:
    rt, clock, queues = await make()
    rt.add_function("w", lambda event, context: None)
    async with rt:
        mapping = QueueEventSourceMapping(rt, function_name="w", queue="nope", backend=queues)
        await clock.settle()
        assert mapping.state == "Disabled"
        assert "queue='nope'" in mapping.state_transition_reason
        assert (await rt.invoke("w")).ok  # the runtime is unharmed
