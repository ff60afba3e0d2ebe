"""Lambda's service rules the runtime follows, each named after the AWS rule it tests.

Virtual time only; every test states the rule in its name or first comment.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

import asynclambda as al
from asynclambda.dispatch import MAX_RECURSION, lineage_header, parse_lineage
from asynclambda.sources import (
    MemoryQueueBackend,
    QueueConfig,
    QueueEventSourceMapping,
    RedrivePolicy,
)
from asynclambda.sources.queue_mapping import SCALE_START

pytestmark = pytest.mark.anyio


def _ok(event: object, context: object) -> str:
    return "ok"


def _other(event: object, context: object) -> str:
    return "other"


async def run_until(clock: al.VirtualClock, done: Any, *, limit: float) -> None:
    """Jump from timer to timer until ``done()``, failing after ``limit`` virtual seconds."""
    end = clock.now() + limit
    await clock.settle()
    while not done():
        assert clock.now() < end, f"not reached within {limit} virtual seconds"
        if not await clock.advance_to_next():
            await clock.advance(1.0)


# -- client context -------------------------------------------------------------------------------
async def test_client_context_over_3583_base64_bytes_is_refused_as_lambda_limits_it() -> None:
    # AWS Invoke API: ClientContext is "up to 3,583 bytes of base64-encoded data".
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: c.client_context.custom)
    fits = {"custom": {"k": "x" * 2600}}
    too_big = {"custom": {"k": "x" * 2700}}
    wire = base64.b64encode(json.dumps(too_big).encode()).decode()
    assert len(base64.b64encode(json.dumps(fits).encode())) <= 3583 < len(wire)
    async with rt:
        assert (await rt.invoke("fn", client_context=fits)).payload == fits["custom"]
        with pytest.raises(al.InvalidRequestContentException, match="at most 3583 bytes"):
            await rt.invoke("fn", client_context=too_big)
        with pytest.raises(al.InvalidRequestContentException, match="at most 3583 bytes"):
            await rt.invoke("fn", client_context=wire)
        with pytest.raises(al.InvalidRequestContentException, match="at most 3583 bytes"):
            await rt.invoke("fn", client_context=wire, invocation_type="Event")


# -- unreserved concurrency -----------------------------------------------------------------------
def test_reservations_always_leave_100_unreserved_as_on_lambda() -> None:
    # AWS: "Lambda requires at least 100 unreserved concurrency" in the account.
    rt = al.Runtime(concurrency_limit=1000)
    rt.add_function("a", _ok, reserved_concurrency=900)
    with pytest.raises(al.ConfigError) as info:
        rt.add_function("b", _ok, reserved_concurrency=1)
    assert info.value.field == "reserved_concurrency"
    assert "at least 100 must stay unreserved" in str(info.value)
    with pytest.raises(al.ConfigError, match="at least 100"):
        rt.put_function_concurrency("a", 901)
    assert rt.statistics().unreserved_concurrency_limit == 100


def test_the_unreserved_minimum_is_a_runtime_parameter_capped_by_the_limit() -> None:
    rt = al.Runtime(concurrency_limit=10)  # like a new account: nothing can be reserved
    with pytest.raises(al.ConfigError, match="at least 10 must stay unreserved"):
        rt.add_function("a", _ok, reserved_concurrency=1)
    rt = al.Runtime(concurrency_limit=10, unreserved_concurrency_minimum=2)
    rt.add_function("a", _ok, reserved_concurrency=8)
    with pytest.raises(al.ConfigError):
        al.Runtime(unreserved_concurrency_minimum=-1)


# -- provisioned concurrency ----------------------------------------------------------------------
def test_provisioned_concurrency_is_refused_on_latest_as_on_lambda() -> None:
    # AWS PutProvisionedConcurrencyConfig: a Qualifier (version or alias) is required;
    # $LATEST cannot have provisioned concurrency.
    rt = al.Runtime()
    with pytest.raises(al.ConfigError) as info:
        rt.add_function("fn", _ok, provisioned_concurrency=1)
    assert info.value.field == "provisioned_concurrency"
    assert "not to $LATEST" in str(info.value)
    rt.add_function("fn", _ok)
    with pytest.raises(al.ConfigError, match="not to \\$LATEST"):
        rt.update_function("fn", provisioned_concurrency=2)
    with pytest.raises(al.ConfigError, match="not to \\$LATEST"):
        rt.put_provisioned_concurrency_config("fn", "$LATEST", 1)
    with pytest.raises(al.ResourceNotFoundException):
        rt.put_provisioned_concurrency_config("fn", "7", 1)


async def test_provisioned_concurrency_on_an_alias_lands_on_its_version_and_can_be_lowered() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock, keep_alive=60)
    rt.add_function("fn", _ok)
    rt.create_alias("fn", "live", rt.publish_version("fn"))
    rt.put_provisioned_concurrency_config("fn", "live", 3)
    async with rt:
        stats = rt.statistics().functions["fn"].versions
        assert stats["1"].provisioned_contexts == 3 and stats["$LATEST"].contexts == 0
        assert not (await rt.invoke("fn", qualifier="live")).cold_start
        rt.put_provisioned_concurrency_config("fn", "live", 1)
        assert rt.statistics().functions["fn"].versions["1"].provisioned_contexts == 1
        await clock.advance(61)  # the two released contexts are on-demand now: reaped
        await clock.settle()
        assert rt.statistics().functions["fn"].versions["1"].contexts == 1


# -- publishing -----------------------------------------------------------------------------------
def test_publishing_without_a_change_returns_the_last_version_as_on_lambda() -> None:
    # AWS PublishVersion: "Lambda doesn't publish a version if the function's configuration and
    # code haven't changed since the last version."
    rt = al.Runtime()
    rt.add_function("fn", _ok)
    assert rt.publish_version("fn") == "1"
    assert rt.publish_version("fn") == "1"
    assert rt.publish_version("fn", description="same code, same config") == "1"
    rt.update_function("fn", timeout=9)
    assert rt.publish_version("fn") == "2"
    rt.update_function("fn", handler=_other)
    assert rt.publish_version("fn") == "3"
    rt.update_function("fn", handler=_other)  # updated, but to the same code and config
    assert rt.publish_version("fn") == "3"


async def test_a_changed_handler_file_is_a_new_version_and_old_versions_keep_their_code(
        tmp_path: Path) -> None:
    # The code's digest (Lambda's CodeSha256) covers the files of the code directory.
    (tmp_path / "app.py").write_text("def lambda_handler(event, context):\n    return 'v1'\n")
    (tmp_path / "helper.txt").write_text("data")
    rt = al.Runtime()
    rt.add_function("fn", "app.lambda_handler", code_dir=str(tmp_path))
    assert rt.publish_version("fn") == "1"
    assert rt.publish_version("fn") == "1"
    (tmp_path / "helper.txt").write_text("changed data")  # any file of the code counts
    assert rt.publish_version("fn") == "2"
    (tmp_path / "app.py").write_text("def lambda_handler(event, context):\n    return 'v3'\n")
    rt.update_function("fn", handler="app.lambda_handler")  # deploy: $LATEST gets new code
    assert rt.publish_version("fn") == "3"
    (tmp_path / "app.py").write_text("def lambda_handler(event, context):\n    return 'v4'\n")
    async with rt:
        # Versions run what they were published with, whatever the file says now.
        assert (await rt.invoke("fn", qualifier="1")).payload == "v1"
        assert (await rt.invoke("fn", qualifier="3")).payload == "v3"


# -- scaling rate ---------------------------------------------------------------------------------
async def test_a_function_scales_by_at_most_1000_new_contexts_per_10_seconds() -> None:
    # AWS: "each function can scale up by 1,000 execution environment instances every 10
    # seconds"; here a bucket of 1,000 that refills at 100 per second.
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock, concurrency_limit=3000)
    gate = asyncio.Event()

    @rt.function(timeout=60)
    async def fn(event: object, context: object) -> None:
        await gate.wait()

    async with rt:
        tasks = [asyncio.ensure_future(rt.invoke("fn")) for _ in range(1000)]
        await clock.settle()
        with pytest.raises(al.TooManyRequestsException) as info:
            await rt.invoke("fn")
        assert info.value.reason == "FunctionInvocationRateLimitExceeded"
        await clock.advance(1)  # 100 more new contexts allowed
        more = [asyncio.ensure_future(rt.invoke("fn")) for _ in range(100)]
        await clock.settle()
        with pytest.raises(al.TooManyRequestsException):
            await rt.invoke("fn")
        gate.set()
        results = await asyncio.gather(*tasks, *more)
        assert all(r.ok for r in results)
        # Warm contexts are not new ones: reusing them is never rate-limited.
        assert all(r.ok for r in await asyncio.gather(*(rt.invoke("fn") for _ in range(1100))))
    stats = rt.statistics().functions["fn"].versions["$LATEST"]
    assert stats.throttles == 2 and stats.contexts_created == 1100
    assert stats.invocations == 2200


async def test_the_scaling_rate_is_a_runtime_parameter() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock, scaling_rate=(2, 10.0))
    gate = asyncio.Event()

    @rt.function
    async def fn(event: object, context: object) -> None:
        await gate.wait()

    async with rt:
        held = [asyncio.ensure_future(rt.invoke("fn")) for _ in range(2)]
        await clock.settle()
        with pytest.raises(al.TooManyRequestsException, match="2 new execution contexts per 10 s"):
            await rt.invoke("fn")
        gate.set()
        await asyncio.gather(*held)
    assert al.Runtime(scaling_rate=None).scaling_rate is None
    with pytest.raises(al.ConfigError):
        al.Runtime(scaling_rate=(0, 10.0))


# -- recursive loop detection ---------------------------------------------------------------------
async def test_recursive_loop_detection_stops_a_synchronous_chain_after_16_invocations() -> None:
    # AWS: Lambda stops a recursive loop after about 16 invocations of one function in a chain;
    # here the guard covers synchronous invokes made from handlers too.
    rt = al.Runtime()
    depth: list[int] = []

    async def recurse(event: dict[str, int], context: al.LambdaContext) -> Any:
        depth.append(event["n"])
        try:
            r = await rt.invoke("recurse", {"n": event["n"] + 1})
        except al.RecursiveInvocationException as exc:
            return {"stopped_at": event["n"], "error": str(exc)}
        return r.payload

    rt.add_function("recurse", recurse, timeout=60)
    async with rt:
        r = await rt.invoke("recurse", {"n": 1})
    assert depth == list(range(1, MAX_RECURSION + 1))
    assert r.payload["stopped_at"] == MAX_RECURSION
    assert "recursive loop" in r.payload["error"]


async def test_a_function_that_allows_recursive_loops_is_not_stopped() -> None:
    rt = al.Runtime()

    async def recurse(event: dict[str, int], context: al.LambdaContext) -> int:
        if event["n"] == 20:
            return 20
        return (await rt.invoke("recurse", {"n": event["n"] + 1})).payload  # type: ignore[no-any-return]

    rt.add_function("recurse", recurse, timeout=60, recursive_loop="Allow")
    async with rt:
        assert (await rt.invoke("recurse", {"n": 1})).payload == 20


async def test_a_mixed_chain_counts_each_function_on_its_own() -> None:
    # a -> b -> a -> b ...: each function's own count is what reaches 16.
    rt = al.Runtime()
    seen: list[str] = []

    def make(name: str, other: str) -> Any:
        async def handler(event: object, context: al.LambdaContext) -> Any:
            seen.append(name)
            try:
                return (await rt.invoke(other)).payload
            except al.RecursiveInvocationException:
                return f"stopped before {other}"
        return handler

    rt.add_function("a", make("a", "b"), timeout=60)
    rt.add_function("b", make("b", "a"), timeout=60)
    async with rt:
        r = await rt.invoke("a")
    assert seen.count("a") == MAX_RECURSION and seen.count("b") == MAX_RECURSION
    assert r.payload == "stopped before a"


def test_lineage_header_round_trips_and_bad_headers_carry_no_chain() -> None:
    chain = {"orders": 3, "audit-log_2": 1}
    header = lineage_header(chain)
    assert header == "Sampled=0;Lineage=orders:3|audit-log_2:1"
    assert parse_lineage(header) == chain
    assert parse_lineage("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1") is None
    assert parse_lineage("Lineage=orders") is None
    assert parse_lineage("Lineage=orders:x") is None


async def test_function_to_queue_to_function_loop_is_stopped_and_the_message_reaches_the_dlq(
        ) -> None:
    # AWS recursive loop detection (SQS): the message carries the chain (AWSTraceHeader); after
    # ~16 invocations Lambda stops invoking for it, the message returns to the queue, and the
    # queue's redrive policy moves it to the dead-letter queue after maxReceiveCount receives.
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    queues = MemoryQueueBackend(clock=clock)
    await queues.create_queue(QueueConfig("dlq"))
    await queues.create_queue(QueueConfig("loop", visibility_timeout=30,
                                          redrive_policy=RedrivePolicy("dlq", 3)))
    hops: list[int] = []

    @rt.function(timeout=10)
    async def relay(event: dict[str, Any], context: al.LambdaContext) -> None:
        for record in event["Records"]:
            hops.append(int(record["body"]))
            await queues.send("loop", str(int(record["body"]) + 1))

    mapping = QueueEventSourceMapping(rt, function_name="relay", queue="loop", backend=queues)
    async with rt:
        await queues.send("loop", "1")  # from outside any function: no chain yet
        dlq = queues._get("dlq")
        await run_until(clock, lambda: dlq.statistics().in_queue == 1, limit=10_000)
        (message,) = await queues.receive("dlq")
        await mapping.disable()
    assert hops == list(range(1, MAX_RECURSION + 1))
    assert message.body == str(MAX_RECURSION + 1)
    assert parse_lineage(message.attributes["AWSTraceHeader"]) == {"relay": MAX_RECURSION}
    stats = mapping.statistics()
    assert stats.recursive_loops_stopped == 3  # each receive of it, up to maxReceiveCount
    assert stats.invocations == MAX_RECURSION


# -- SQS scaling ----------------------------------------------------------------------------------
async def test_queue_mapping_starts_with_5_batches_and_adds_300_per_minute() -> None:
    # AWS "Configuring scaling behavior for SQS event source mappings": 5 concurrent batches at
    # first, up to 300 more per minute while messages are available, at most 1,000 (or
    # MaximumConcurrency).
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    queues = MemoryQueueBackend(clock=clock)
    await queues.create_queue(QueueConfig("jobs", visibility_timeout=900))
    gate = asyncio.Event()
    running: list[float] = []

    @rt.function(timeout=900)
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        running.append(clock.now())
        await gate.wait()

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      batch_size=1, maximum_concurrency=40)
    async with rt:
        for i in range(100):
            await queues.send("jobs", str(i))
        await clock.settle()
        assert len(running) == SCALE_START
        await clock.advance(1.0)  # 5 more slots in one second (300 per minute)
        assert len(running) == SCALE_START + 5
        await run_until(clock, lambda: len(running) == 40, limit=60)
        await clock.advance(60)
        assert len(running) == 40  # maximum_concurrency caps it
        assert mapping.limiter.limit == 40
        gate.set()
        await run_until(clock, lambda: len(running) == 100, limit=600)
        await mapping.disable()


# -- asynchronous invocation details --------------------------------------------------------------
async def test_published_versions_use_latests_dead_letter_queue_as_it_is_function_level() -> None:
    # AWS: DeadLetterConfig is a function setting (UpdateFunctionConfiguration), not a version's.
    from asynclambda.destinations import RecordingDestination

    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    old, new = RecordingDestination(), RecordingDestination()

    def fail(event: object, context: object) -> None:
        raise ValueError("boom")

    rt.add_function("fn", fail, dead_letter_queue=old, maximum_retry_attempts=0)
    rt.publish_version("fn")
    rt.update_function("fn", dead_letter_queue=new)
    async with rt:
        await rt.invoke("fn", {"n": 1}, qualifier="1", invocation_type="Event")
        await clock.settle()
        await rt.wait_idle()
    assert old.records == [] and len(new.records) == 1


def test_maximum_event_age_is_whole_seconds_as_lambda_takes_it() -> None:
    # AWS PutFunctionEventInvokeConfig: MaximumEventAgeInSeconds is an integer, 60-21600.
    rt = al.Runtime()
    with pytest.raises(al.ConfigError) as info:
        rt.add_function("fn", _ok, maximum_event_age=90.5)
    assert info.value.field == "maximum_event_age"
    rt.add_function("fn", _ok, maximum_event_age=90)


async def test_client_context_reaches_synchronous_invocations_only() -> None:
    # AWS: "Lambda passes the ClientContext object to your function for synchronous
    # invocations only."
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    seen: list[Any] = []
    rt.add_function("fn", lambda e, c: seen.append(c.client_context and c.client_context.custom))
    async with rt:
        await rt.invoke("fn", client_context={"custom": {"k": "v"}})
        await rt.invoke("fn", client_context={"custom": {"k": "v"}}, invocation_type="Event")
        await clock.settle()
        await rt.wait_idle()
    assert seen == [{"k": "v"}, None]
