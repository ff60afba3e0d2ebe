"""Synchronous invoke: results, errors, timeouts, limits, payload isolation and encoding."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import threading

import pytest
from helpers import spawn

import asynclambda as al

pytestmark = pytest.mark.anyio


async def test_result_shape_and_context_object() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)

    @rt.function(timeout=30, memory_mb=256)
    async def fn(event: dict, context: al.LambdaContext) -> dict:
        await clock.sleep(1.5)
        return {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
            "identity": [context.identity.cognito_identity_id,
                         context.identity.cognito_identity_pool_id],
            "client_context": (context.client_context.custom
                               if context.client_context else None),
        }

    async with rt:
        task = spawn(rt.invoke("fn", {"x": 1}, client_context={"custom": {"k": "v"}}))
        await clock.advance(1.5)
        r = await task
    assert r.status_code == 200 and r.ok and r.function_error is None
    assert r.executed_version == "$LATEST"
    p = r.payload
    assert p["aws_request_id"] == r.request_id
    assert p["function_name"] == "fn" and p["function_version"] == "$LATEST"
    assert p["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert p["memory_limit_in_mb"] == "256"  # a string, as the AWS Python runtime gives it
    assert p["log_group_name"] == "/aws/lambda/fn"
    assert p["log_stream_name"].startswith("2026/01/01/[$LATEST]")
    assert p["remaining"] == 28_500  # from the real (virtual) deadline: 30 s - 1.5 s
    assert p["identity"] == [None, None]
    assert p["client_context"] == {"k": "v"}
    assert r.duration_ms == pytest.approx(1500.0) and r.billed_duration_ms == 1500


async def test_handler_exception_is_a_function_error_and_keeps_the_context() -> None:
    rt = al.Runtime()

    @rt.function
    async def fn(event: dict, context: al.LambdaContext) -> str:
        if event.get("fail"):
            raise ValueError("bad order id")
        return context.log_stream_name

    async with rt:
        stream = (await rt.invoke("fn")).payload
        r = await rt.invoke("fn", {"fail": True})
        assert r.status_code == 200 and r.function_error == "Unhandled"
        assert r.payload["errorType"] == "ValueError"
        assert r.payload["errorMessage"] == "bad order id"
        assert r.payload["requestId"] == r.request_id
        assert any("raise ValueError" in line for line in r.payload["stackTrace"])
        with pytest.raises(al.FunctionError, match="ValueError: bad order id"):
            r.raise_for_error()
        # A handled exception does not reset the context.
        assert (await rt.invoke("fn")).payload == stream
    stats = rt.statistics().functions["fn"].versions["$LATEST"]
    assert (stats.invocations, stats.errors, stats.contexts_reset) == (3, 1, 0)


async def test_timeout_fails_with_lambdas_error_and_resets_the_context() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    cancelled: list[bool] = []

    @rt.function(timeout=3)
    async def fn(event: dict, context: al.LambdaContext) -> str:
        if event.get("hang"):
            try:
                await clock.sleep(10)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise
        return context.log_stream_name

    async with rt:
        before = (await rt.invoke("fn")).payload
        task = spawn(rt.invoke("fn", {"hang": True}))
        await clock.advance(2.999)
        assert not task.done()
        await clock.advance(0.001)
        r = await task
        assert r.function_error == "Unhandled"
        assert r.payload["errorType"] == "Sandbox.Timedout"
        assert r.payload["errorMessage"] == (
            f"RequestId: {r.request_id} Error: Task timed out after 3.00 seconds")
        assert cancelled == [True]
        after = await rt.invoke("fn")
        assert after.cold_start and after.payload != before  # a new context
    stats = rt.statistics().functions["fn"].versions["$LATEST"]
    assert (stats.timeouts, stats.contexts_reset, stats.cold_starts) == (1, 1, 2)


async def test_caller_task_is_not_cancelled_by_a_timeout() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)

    @rt.function(timeout=1)
    async def fn(event: object, context: object) -> None:
        await clock.sleep(5)

    async with rt:

        async def caller() -> str:
            r = await rt.invoke("fn")
            await asyncio.sleep(0)  # the caller keeps running normally afterwards
            assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
            return str(r.payload["errorType"])

        task = spawn(caller())
        await clock.advance(1)
        assert await task == "Sandbox.Timedout"


async def test_blocking_plain_handler_overrun_does_not_block_others() -> None:
    clock = al.VirtualClock()
    release = threading.Event()
    started = threading.Event()
    rt = al.Runtime(clock=clock)

    @rt.function(timeout=1)
    def stuck(event: object, context: object) -> str:
        started.set()
        release.wait(30)  # blocks its own thread, never the runtime's loop
        return "late"

    @rt.function
    async def other(event: object, context: object) -> str:
        return "fine"

    async with rt:
        task = spawn(rt.invoke("stuck"))
        await clock.settle()
        assert await asyncio.to_thread(started.wait, 5)
        # The loop is free: other functions run while the thread is stuck.
        assert (await rt.invoke("other")).payload == "fine"
        await clock.advance(1)
        r = await task
        assert r.payload["errorType"] == "Sandbox.Timedout"
        # The stuck thread's context is abandoned; the next call gets a fresh one.
        release.set()
        assert (await rt.invoke("stuck")).cold_start
    stats = rt.statistics().functions["stuck"].versions["$LATEST"]
    assert stats.threads_abandoned == 1 and stats.timeouts == 1


async def test_payload_isolation() -> None:
    rt = al.Runtime()
    seen: list[object] = []

    @rt.function
    async def fn(event: dict, context: object) -> dict:
        seen.append(event)
        event["items"].append("mutated")
        return event

    original = {"items": [1, 2]}
    async with rt:
        r = await rt.invoke("fn", original)
        again = await rt.invoke("fn", original)
    assert original == {"items": [1, 2]}  # the caller's object is untouched
    assert r.payload == {"items": [1, 2, "mutated"]}
    assert again.payload == {"items": [1, 2, "mutated"]}  # each call decodes its own copy
    assert seen[0] is not seen[1] and seen[0] is not original


async def test_bytes_payload_is_raw_json_and_default_event_is_empty_object() -> None:
    rt = al.Runtime()
    rt.add_function("echo", lambda e, c: e)
    async with rt:
        assert (await rt.invoke("echo", b'{"a": [1, 2]}')).payload == {"a": [1, 2]}
        assert (await rt.invoke("echo")).payload == {}
        assert (await rt.invoke("echo", "just a string")).payload == "just a string"
        assert (await rt.invoke("echo", None)).raw_payload == b"null"


async def test_response_encoding_follows_the_aws_python_runtime() -> None:
    rt = al.Runtime()
    rt.add_function("dec", lambda e, c: {"price": decimal.Decimal("19.90"), "n": (1, 2)})
    rt.add_function("when", lambda e, c: {"at": datetime.datetime(2026, 1, 1)})
    rt.add_function("raw", lambda e, c: b"\x00binary")
    rt.add_function("nan", lambda e, c: {"x": float("nan")})
    async with rt:
        dec = await rt.invoke("dec")
        when = await rt.invoke("when")
        raw = await rt.invoke("raw")
        nan = await rt.invoke("nan")
    assert dec.raw_payload == b'{"price":19.90,"n":[1,2]}'  # Decimal digits kept, unquoted
    assert when.function_error == "Unhandled"
    assert when.payload["errorType"] == "Runtime.MarshalError"
    assert when.payload["errorMessage"] == (
        "Unable to marshal response: Object of type datetime is not JSON serializable")
    assert raw.raw_payload == b"\x00binary"  # top-level bytes pass through as-is
    assert nan.raw_payload == b'{"x":NaN}'


async def test_unserialisable_response_names_what_failed() -> None:
    rt = al.Runtime()

    class Order:
        pass

    rt.add_function("fn", lambda e, c: {"order": Order()})
    async with rt:
        r = await rt.invoke("fn")
    assert r.payload["errorType"] == "Runtime.MarshalError"
    assert "Object of type Order is not JSON serializable" in r.payload["errorMessage"]


async def test_oversized_response_is_a_function_error() -> None:
    rt = al.Runtime()
    rt.add_function("big", lambda e, c: "x" * (6 * 1024 * 1024 + 200))
    async with rt:
        r = await rt.invoke("big")
    assert r.payload["errorType"] == "Function.ResponseSizeTooLarge"


async def test_dry_run_validates_without_running() -> None:
    ran: list[object] = []
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: ran.append(e))
    async with rt:
        r = await rt.invoke("fn", {"a": 1}, invocation_type="DryRun")
        assert r.status_code == 204 and r.raw_payload == b""
        with pytest.raises(al.ResourceNotFoundException):
            await rt.invoke("nope", invocation_type="DryRun")
        with pytest.raises(al.InvalidRequestContentException):
            await rt.invoke("fn", b"{not json", invocation_type="DryRun")
    assert ran == []


async def test_names_arns_and_qualified_names_resolve() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: c.invoked_function_arn)
    async with rt:
        arn = "arn:aws:lambda:us-east-1:000000000000:function:fn"
        assert (await rt.invoke(arn)).payload == arn
        assert (await rt.invoke("fn:$LATEST")).payload == arn + ":$LATEST"
        assert (await rt.invoke(arn + ":$LATEST")).payload == arn + ":$LATEST"
        with pytest.raises(al.InvalidRequestContentException, match="does not match"):
            await rt.invoke("fn:$LATEST", qualifier="1")
