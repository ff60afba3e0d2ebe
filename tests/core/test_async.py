"""Asynchronous (Event) invocation: queue, Lambda's retry timing, destinations, DLQ, loop guard."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import asynclambda as al
from asynclambda.destinations import RecordingDestination
from asynclambda.dispatch import MemoryEventQueue
from asynclambda.signals import Retry

pytestmark = pytest.mark.anyio


def make(clock: al.VirtualClock, **runtime: Any) -> al.Runtime:
    return al.Runtime(clock=clock, **runtime)


async def test_event_invoke_answers_202_at_once_and_runs_later() -> None:
    clock = al.VirtualClock()
    rt = make(clock)
    seen: list[str] = []

    @rt.function
    async def fn(event: dict, context: al.LambdaContext) -> None:
        seen.append(context.aws_request_id)

    async with rt:
        r = await rt.invoke("fn", {"a": 1}, invocation_type="Event")
        assert r.status_code == 202 and r.raw_payload == b"" and r.payload is None
        assert seen == []  # accepted, not yet run
        await rt.wait_idle()
        assert seen == [r.request_id]
    stats = rt.statistics().functions["fn"].async_invocations
    assert (stats.received, stats.succeeded, stats.failed, stats.dropped) == (1, 1, 0, 0)


async def test_function_errors_are_retried_after_one_then_two_minutes() -> None:
    clock = al.VirtualClock()
    failures = RecordingDestination()
    rt = make(clock)
    attempts: list[tuple[float, int]] = []

    @rt.function(on_failure=failures)
    async def fn(event: dict, context: al.LambdaContext) -> None:
        attempts.append((clock.now(), context.attempt))
        raise ValueError("payment declined")

    async with rt:
        r = await rt.invoke("fn", {"order": 7}, invocation_type="Event")
        await clock.run_until_idle()
    assert attempts == [(0.0, 1), (60.0, 2), (180.0, 3)]
    [record] = failures.records
    assert record == {
        "version": "1.0",
        "timestamp": "2026-01-01T00:03:00.000Z",
        "requestContext": {
            "requestId": r.request_id,
            "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {"order": 7},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                            "functionError": "Unhandled"},
        "responsePayload": record["responsePayload"],
    }
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "payment declined"
    stats = rt.statistics().functions["fn"].async_invocations
    assert (stats.retries, stats.failed, stats.dropped) == (2, 1, 0)


@pytest.mark.parametrize("retries", [0, 1, 2])
async def test_maximum_retry_attempts(retries: int) -> None:
    clock = al.VirtualClock()
    rt = make(clock)
    calls: list[int] = []

    @rt.function(maximum_retry_attempts=retries)
    async def fn(event: object, context: al.LambdaContext) -> None:
        calls.append(context.attempt)
        raise RuntimeError("boom")

    async with rt:
        await rt.invoke("fn", invocation_type="Event")
        await clock.run_until_idle()
    assert calls == list(range(1, retries + 2))
    # No failure path configured: Lambda drops it, and we count it.
    assert rt.statistics().functions["fn"].async_invocations.dropped == 1


async def test_timeouts_are_function_errors_and_are_retried() -> None:
    clock = al.VirtualClock()
    rt = make(clock)
    calls: list[int] = []

    @rt.function(timeout=1, maximum_retry_attempts=1)
    async def fn(event: dict, context: al.LambdaContext) -> str:
        calls.append(context.attempt)
        if context.attempt == 1:
            await clock.sleep(10)
        return "ok"

    async with rt:
        await rt.invoke("fn", invocation_type="Event")
        await clock.run_until_idle()
    assert calls == [1, 2]
    stats = rt.statistics().functions["fn"]
    assert stats.async_invocations.succeeded == 1
    assert stats.versions["$LATEST"].timeouts == 1


async def test_event_age_bounds_retries_with_event_age_exceeded() -> None:
    clock = al.VirtualClock()
    failures = RecordingDestination()
    rt = make(clock)
    calls: list[float] = []

    @rt.function(maximum_event_age=90, on_failure=failures)
    async def fn(event: object, context: object) -> None:
        calls.append(clock.now())
        raise ValueError("nope")

    async with rt:
        await rt.invoke("fn", invocation_type="Event")
        await clock.run_until_idle()
    # First try at 0, retry at 60; the second retry (at 180) would be past 90 s old.
    assert calls == [0.0, 60.0]
    [record] = failures.records
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["timestamp"] == "2026-01-01T00:01:30.000Z"  # found too old at 90 s


async def test_throttles_back_off_exponentially_without_using_attempts() -> None:
    clock = al.VirtualClock()
    failures = RecordingDestination()
    rt = make(clock)
    gate = asyncio.Event()

    async def busy(event: dict, context: al.LambdaContext) -> None:
        if event.get("hold"):
            await gate.wait()

    rt.add_function("busy", busy, reserved_concurrency=1, maximum_event_age=1000, timeout=900,
                    on_failure=failures)
    async with rt:
        holder = asyncio.ensure_future(rt.invoke("busy", {"hold": True}))  # takes the only slot
        await asyncio.sleep(0)
        await rt.invoke("busy", invocation_type="Event")
        await clock.advance(1200)
        gate.set()
        await holder
        await clock.run_until_idle()
    stats = rt.statistics().functions["busy"]
    # Tries at 0, 1, 3, 7, 15, 31, 63, 127, 255, 511 (backoff doubling from 1 s), 811 (capped
    # at 300 s); the next retry would be at 1111, past the 1000 s age: it is due at 1000, where
    # the event is found too old. 11 throttles, 11 retries scheduled.
    assert stats.async_invocations.throttle_retries == 11
    assert stats.versions["$LATEST"].throttles == 11
    [record] = failures.records
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["responseContext"]["statusCode"] == 429
    assert record["responsePayload"]["errorType"] == "TooManyRequestsException"


async def test_reserved_concurrency_zero_sends_events_to_the_failure_path_without_retries(
        ) -> None:
    """Lambda: a function with reserved concurrency 0 is always throttled, and its asynchronous
    events go straight to the on-failure destination / DLQ, without the 6-hour retry."""
    clock = al.VirtualClock()
    failures = RecordingDestination()
    dead = RecordingDestination()
    rt = make(clock)
    rt.add_function("off", lambda e, c: None, reserved_concurrency=0, on_failure=failures,
                    dead_letter_queue=dead)
    async with rt:
        await rt.invoke("off", {"n": 1}, invocation_type="Event")
        await rt.wait_idle()  # nothing is left to retry: no virtual time needed
        assert clock.now() == 0
    stats = rt.statistics().functions["off"].async_invocations
    assert (stats.failed, stats.throttle_retries, stats.retries) == (1, 0, 0)
    [record] = failures.records
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["responseContext"]["statusCode"] == 429
    assert record["responsePayload"]["errorType"] == "TooManyRequestsException"
    [letter] = dead.records
    assert letter["body"] == {"n": 1}


async def test_on_success_destination_gets_lambdas_record() -> None:
    clock = al.VirtualClock()
    successes = RecordingDestination()
    rt = make(clock)
    rt.add_function("fn", lambda e, c: {"thumbnail": e["key"] + ".png"}, on_success=successes)
    async with rt:
        r = await rt.invoke("fn", {"key": "cat"}, invocation_type="Event")
        await rt.wait_idle()
    [record] = successes.records
    assert record["requestContext"] == {
        "requestId": r.request_id,
        "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST",
        "condition": "Success", "approximateInvokeCount": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["requestPayload"] == {"key": "cat"}
    assert record["responsePayload"] == {"thumbnail": "cat.png"}


async def test_dead_letter_queue_message_carries_lambdas_attributes() -> None:
    from asynclambda.destinations import QueueDestination
    from asynclambda.sources.memory_queue import MemoryQueueBackend
    from asynclambda.sources.queue import QueueConfig

    clock = al.VirtualClock()
    queues = MemoryQueueBackend(clock=clock)
    await queues.create_queue(QueueConfig(name="fn-dlq"))
    rt = make(clock)

    @rt.function(maximum_retry_attempts=0, dead_letter_queue=QueueDestination(queues, "fn-dlq"))
    async def fn(event: object, context: object) -> None:
        raise ValueError("x" * 5000)

    async with rt:
        r = await rt.invoke("fn", {"order": 1}, invocation_type="Event")
        await rt.wait_idle()
    [message] = await queues.receive("fn-dlq", max_messages=10)
    assert message.body == '{"order":1}'  # the original event
    attrs = {k: v.string_value for k, v in message.message_attributes.items()}
    assert attrs["RequestID"] == r.request_id
    assert attrs["ErrorCode"] == "200"
    assert attrs["ErrorMessage"] == "x" * 1024  # first 1 KB
    assert message.message_attributes["ErrorCode"].data_type == "Number"
    assert rt.statistics().functions["fn"].async_invocations.failed == 1


async def test_failing_destination_is_retried_counted_and_kept() -> None:
    clock = al.VirtualClock()
    tries: list[float] = []

    async def broken(record: object) -> None:
        tries.append(clock.now())
        raise ConnectionError("destination down")

    rt = make(clock)
    rt.add_function("fn", lambda e, c: "ok", on_success=broken)
    async with rt:
        await rt.invoke("fn", invocation_type="Event")
        await clock.run_until_idle()
    assert tries == [0.0, 1.0, 3.0]  # three attempts, backing off
    stats = rt.statistics().functions["fn"].async_invocations
    assert stats.destination_delivery_failures == 1 and stats.succeeded == 1
    [(_where, record)] = list(rt.dispatcher.undeliverable)
    assert record["requestContext"]["condition"] == "Success"


async def test_function_destination_invokes_the_target_asynchronously() -> None:
    clock = al.VirtualClock()
    got: list[dict] = []
    rt = make(clock)
    rt.add_function("audit", lambda e, c: got.append(e))
    rt.add_function("fn", lambda e, c: "ok", on_success="function:audit")
    async with rt:
        await rt.invoke("fn", {"n": 1}, invocation_type="Event")
        await rt.wait_idle()
    [record] = got
    assert record["requestContext"]["condition"] == "Success"
    assert rt.statistics().functions["audit"].async_invocations.received == 1


async def test_retry_signal_moves_the_next_attempt_within_the_bounds() -> None:
    clock = al.VirtualClock()
    rt = make(clock)
    calls: list[float] = []

    @rt.function
    async def fn(event: object, context: al.LambdaContext) -> str:
        calls.append(clock.now())
        if context.attempt < 3:
            raise Retry(delay=5, reason="upstream busy")
        return "ok"

    async with rt:
        await rt.invoke("fn", invocation_type="Event")
        await clock.run_until_idle()
    assert calls == [0.0, 5.0, 10.0]
    assert rt.statistics().functions["fn"].async_invocations.succeeded == 1


async def test_retry_signal_is_an_ordinary_error_for_sync_invokes() -> None:
    rt = al.Runtime()

    @rt.function
    async def fn(event: object, context: object) -> None:
        raise Retry(delay=1)

    async with rt:
        r = await rt.invoke("fn")
    assert r.function_error == "Unhandled" and r.payload["errorType"] == "Retry"


async def test_recursive_loop_is_stopped_at_the_17th_hop() -> None:
    clock = al.VirtualClock()
    failures = RecordingDestination()
    rt = make(clock)
    hops: list[int] = []

    @rt.function(on_failure=failures)
    async def loop(event: dict, context: object) -> None:
        hops.append(event["n"])
        await rt.invoke("loop", {"n": event["n"] + 1}, invocation_type="Event")

    async with rt:
        await rt.invoke("loop", {"n": 1}, invocation_type="Event")
        await clock.run_until_idle()
    assert hops == list(range(1, 17))  # 16 invocations run; the 17th is stopped
    [record] = failures.records
    assert record["requestPayload"] == {"n": 17}
    assert record["responsePayload"]["errorType"] == "RecursiveInvocationException"
    assert rt.statistics().functions["loop"].async_invocations.recursive_loops_stopped == 1


async def test_recursive_loop_allow_lets_the_chain_continue() -> None:
    clock = al.VirtualClock()
    rt = make(clock)
    hops: list[int] = []

    @rt.function(recursive_loop="Allow")
    async def loop(event: dict, context: object) -> None:
        hops.append(event["n"])
        if event["n"] < 25:
            await rt.invoke("loop", {"n": event["n"] + 1}, invocation_type="Event")

    async with rt:
        await rt.invoke("loop", {"n": 1}, invocation_type="Event")
        await clock.run_until_idle()
    assert hops == list(range(1, 26))


async def test_loop_guard_follows_chains_through_destinations() -> None:
    clock = al.VirtualClock()
    rt = make(clock)
    runs: list[int] = []
    rt.add_function("ping", lambda e, c: runs.append(1))
    # ping's success record invokes ping again, forever, unless the guard stops it.
    rt.put_function_event_invoke_config("ping", on_success="function:ping")
    async with rt:
        await rt.invoke("ping", invocation_type="Event")
        await clock.run_until_idle()
    assert len(runs) == 16
    assert rt.statistics().functions["ping"].async_invocations.recursive_loops_stopped == 1


async def test_async_payload_over_1mb_is_refused_before_it_is_queued() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: None)
    async with rt:
        with pytest.raises(al.RequestTooLargeException, match="1048576"):
            await rt.invoke("fn", "x" * (1024 * 1024), invocation_type="Event")
        # (6 MB is still fine synchronously)
        assert (await rt.invoke("fn", "x" * (1024 * 1024))).ok
    assert rt.statistics().functions["fn"].async_invocations.received == 0


async def test_full_event_queue_throttles_the_caller_and_loses_nothing_accepted() -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = make(clock, event_queue=MemoryEventQueue(capacity=3))
    done: list[int] = []

    @rt.function
    async def fn(event: dict, context: object) -> None:
        await gate.wait()
        done.append(event["n"])

    async with rt:
        for n in range(3):
            await rt.invoke("fn", {"n": n}, invocation_type="Event")
        with pytest.raises(al.TooManyRequestsException) as info:
            await rt.invoke("fn", {"n": 3}, invocation_type="Event")
        assert info.value.reason == "EventQueueFull"
        await clock.settle()  # the dispatcher takes the queued events: room again
        await rt.invoke("fn", {"n": 3}, invocation_type="Event")
        gate.set()
        await rt.wait_idle()
    assert sorted(done) == [0, 1, 2, 3]


async def test_bad_event_invoke_configuration_is_refused_at_registration() -> None:
    rt = al.Runtime()
    with pytest.raises(al.ConfigError, match="maximum_retry_attempts=3"):
        rt.add_function("a", lambda e, c: None, maximum_retry_attempts=3)
    with pytest.raises(al.ConfigError, match="maximum_event_age=59"):
        rt.add_function("b", lambda e, c: None, maximum_event_age=59)
    with pytest.raises(al.ConfigError, match="maximum_event_age=21601"):
        rt.add_function("c", lambda e, c: None, maximum_event_age=21601)
    with pytest.raises(al.ConfigError, match="on_failure='function:nope'"):
        rt.add_function("d", lambda e, c: None, on_failure="function:nope")
    with pytest.raises(al.ConfigError, match="on_success=42"):
        rt.add_function("e", lambda e, c: None, on_success=42)
    with pytest.raises(al.ConfigError, match="dead_letter_queue='sqs:somewhere'"):
        rt.add_function("f", lambda e, c: None, dead_letter_queue="sqs:somewhere")
    assert rt.functions() == []  # nothing half-registered


async def test_event_invoke_config_per_qualifier() -> None:
    clock = al.VirtualClock()
    rt = make(clock)
    calls: list[str] = []

    @rt.function
    async def fn(event: object, context: al.LambdaContext) -> None:
        calls.append(context.function_version)
        raise ValueError("x")

    v1 = rt.publish_version("fn")
    rt.put_function_event_invoke_config("fn", qualifier=v1, maximum_retry_attempts=0)
    async with rt:
        await rt.invoke("fn", qualifier=v1, invocation_type="Event")
        await rt.invoke("fn", invocation_type="Event")
        await clock.run_until_idle()
    assert calls.count("1") == 1 and calls.count("$LATEST") == 3


async def test_queued_events_left_at_shutdown_are_reported_as_dropped() -> None:
    clock = al.VirtualClock()
    rt = make(clock)

    @rt.function
    async def fn(event: object, context: object) -> None:
        raise ValueError("retry me")

    async with rt:
        await rt.invoke("fn", invocation_type="Event")
        await clock.advance(1)  # first attempt failed; the retry waits 60 s in the queue
        stats = rt.statistics().functions["fn"].async_invocations
        assert stats.queued == 1
    stats = rt.statistics().functions["fn"].async_invocations
    assert (stats.queued, stats.dropped) == (0, 1)


async def test_unknown_function_or_qualifier_is_refused_for_event_invokes() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: None)
    async with rt:
        with pytest.raises(al.ResourceNotFoundException):
            await rt.invoke("nope", invocation_type="Event")
        with pytest.raises(al.ResourceNotFoundException):
            await rt.invoke("fn", qualifier="prod", invocation_type="Event")
        with pytest.raises(al.InvalidRequestContentException):
            await rt.invoke("fn", b"{not json", invocation_type="Event")


async def test_closing_lets_in_flight_async_invocations_finish() -> None:
    clock = al.VirtualClock()
    successes = RecordingDestination()
    rt = make(clock, shutdown_grace=30)
    finished: list[float] = []

    @rt.function(timeout=60, on_success=successes)
    async def slow(event: object, context: object) -> str:
        await clock.sleep(10)
        finished.append(clock.now())
        return "done"

    async def move_time() -> None:
        await clock.advance(10)

    async with rt:
        await rt.invoke("slow", invocation_type="Event")
        await clock.settle()  # started, now waiting 10 virtual seconds
        asyncio.get_running_loop().create_task(move_time())
    assert finished == [10.0]  # the close waited for it (within the 30 s grace)
    assert len(successes.records) == 1
    stats = rt.statistics().functions["slow"].async_invocations
    assert (stats.succeeded, stats.dropped, stats.in_flight) == (1, 0, 0)


async def test_in_flight_async_invocation_past_the_grace_period_is_counted_not_lost() -> None:
    clock = al.VirtualClock()
    rt = make(clock, shutdown_grace=5)

    @rt.function(timeout=600)
    async def stuck(event: object, context: object) -> None:
        await clock.sleep(500)

    async def move_time() -> None:
        await clock.advance(5)

    async with rt:
        await rt.invoke("stuck", invocation_type="Event")
        await clock.settle()
        asyncio.get_running_loop().create_task(move_time())
    stats = rt.statistics().functions["stuck"].async_invocations
    assert stats.in_flight == 0
    assert stats.received == stats.succeeded + stats.failed + stats.dropped
    assert stats.dropped == 1
