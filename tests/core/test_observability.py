"""Observability: START/END/REPORT records, Lambda's line formats, request ids in handler logs,
and statistics counters that match what happened."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from helpers import spawn
from structlog.testing import LogCapture, capture_logs

import asynclambda as al
from asynclambda.observability import LambdaTextRenderer, RequestIdFilter, add_lambda_context

pytestmark = pytest.mark.anyio

_PLATFORM = {"START", "END", "REPORT", "INIT_ERROR"}


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger and structlog's configuration back as they were."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)


@pytest.fixture
def structlog_capture(restore_logging: None) -> LogCapture:
    """structlog configured with asynclambda's processor in front of a capturing one."""
    cap = LogCapture()
    structlog.configure(processors=[add_lambda_context, cap])
    return cap


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def app_records() -> Iterator[list[logging.LogRecord]]:
    """Records of the ``app`` logger, passed through ``RequestIdFilter``."""
    handler = _Records()
    logger = logging.getLogger("app")
    logger.addHandler(handler)
    old_level, logger.level = logger.level, logging.INFO
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _platform(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] in _PLATFORM]


# -- START / END / REPORT -----------------------------------------------------------------------

async def test_start_end_report_carry_lambdas_fields() -> None:
    clock = al.VirtualClock()

    async def init(info: object) -> None:
        await clock.sleep(0.25)

    async def fn(event: dict, context: object) -> str:
        await clock.sleep(0.0012345)
        return "ok"

    rt = al.Runtime(clock=clock, invocation_logs=True)
    rt.add_function("fn", fn, memory_mb=512, init=init)
    async with rt:
        with capture_logs() as logs:
            for _ in range(2):
                task = spawn(rt.invoke("fn"))
                await clock.advance(1)
                await task
    starts = [e for e in logs if e["event"] == "START"]
    assert len(starts) == 2
    cold, warm = starts
    records = _platform(logs)
    # START, then one REPORT record that stands for Lambda's END and REPORT lines.
    assert [e["event"] for e in records] == ["START", "REPORT"] * 2
    rid = cold["request_id"]
    assert cold == {"event": "START", "log_level": "info", "request_id": rid,
                    "function": "fn", "version": "$LATEST"}
    assert records[1] == {
        "event": "REPORT", "log_level": "info", "request_id": rid,
        "duration_ms": 1.23, "billed_duration_ms": 2, "memory_size_mb": 512,
        "init_duration_ms": 250.0, "status": "success",
    }
    warm_report = records[3]
    assert warm_report["request_id"] == warm["request_id"] != rid
    assert "init_duration_ms" not in warm_report  # only cold starts carry it
    assert warm_report["duration_ms"] == 1.23 and warm_report["billed_duration_ms"] == 2


async def test_records_follow_the_executed_version_and_report_errors() -> None:
    rt = al.Runtime(clock=al.VirtualClock(), invocation_logs=True)

    def fn(event: dict, context: object) -> None:
        raise KeyError("order")

    rt.add_function("fn", fn)
    rt.publish_version("fn")
    async with rt:
        with capture_logs() as logs:
            r = await rt.invoke("fn", qualifier="1")
    start = next(e for e in logs if e["event"] == "START")
    report = next(e for e in logs if e["event"] == "REPORT")
    assert start["version"] == "1" and start["request_id"] == r.request_id
    assert report["status"] == "error" and report["error_type"] == "KeyError"
    failed = next(e for e in logs if e["event"] == "handler raised")
    assert failed["log_level"] == "error" and failed["request_id"] == r.request_id


async def test_invocation_records_are_off_by_default() -> None:
    rt = al.Runtime()
    rt.add_function("ok", lambda e, c: None)
    rt.add_function("bad", lambda e, c: 1 / 0)
    async with rt:
        with capture_logs() as logs:
            await rt.invoke("ok")
            await rt.invoke("bad")
    assert logs == []


async def test_init_errors_are_logged_even_when_records_are_off(fixtures_dir: str) -> None:
    rt = al.Runtime()
    rt.add_function("fn", f"{fixtures_dir}/raises_at_import.py:handler")
    async with rt:
        with capture_logs() as logs:
            r = await rt.invoke("fn")
    assert logs == [{
        "event": "INIT_ERROR", "log_level": "error", "request_id": r.request_id,
        "version": "$LATEST", "error_type": "RuntimeError",
        "error_message": "cannot connect to the database",
    }]


async def test_billed_duration_is_the_reported_duration_rounded_up() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)

    async def fn(event: object, context: object) -> None:
        await clock.sleep(0.2)

    rt.add_function("fn", fn)
    async with rt:
        await clock.advance(0.1)  # 0.1 + 0.2 - 0.1 is not exactly 0.2 in binary floating point
        task = spawn(rt.invoke("fn"))
        await clock.advance(0.2)
        r = await task
    assert f"{r.duration_ms:.2f}" == "200.00"
    assert r.billed_duration_ms == 200


# -- Lambda's line formats ----------------------------------------------------------------------

def test_text_renderer_start_end_report_lines() -> None:
    render = LambdaTextRenderer()
    rid = "8f507cfc-7e4b-4697-b07a-ac58fc914c95"
    assert render(None, "info", {"event": "START", "request_id": rid, "version": "$LATEST"}) == (
        f"START RequestId: {rid} Version: $LATEST")
    assert render(None, "info", {"event": "START", "request_id": rid, "version": "1",
                                 "function": "orders"}) == (
        f"[orders] START RequestId: {rid} Version: 1")  # ours: which function, in a shared log
    assert render(None, "info", {"event": "END", "request_id": rid}) == f"END RequestId: {rid}"
    cold = {"event": "REPORT", "request_id": rid, "duration_ms": 1.23, "billed_duration_ms": 2,
            "memory_size_mb": 128, "init_duration_ms": 245.951, "status": "success"}
    assert render(None, "info", dict(cold)) == (
        f"END RequestId: {rid}\n"
        f"REPORT RequestId: {rid}\tDuration: 1.23 ms\tBilled Duration: 2 ms\t"
        f"Memory Size: 128 MB\tInit Duration: 245.95 ms")
    warm = {k: v for k, v in cold.items() if k != "init_duration_ms"}
    warm["duration_ms"] = 1500
    assert render(None, "info", warm) == (
        f"END RequestId: {rid}\n"
        f"REPORT RequestId: {rid}\tDuration: 1500.00 ms\tBilled Duration: 2 ms\t"
        f"Memory Size: 128 MB")


def test_text_renderer_handler_lines_are_tab_separated_with_the_request_id() -> None:
    line = LambdaTextRenderer()(None, "warning", {
        "event": "order stored", "level": "warning", "timestamp": "2026-01-01T00:00:00Z",
        "aws_request_id": "rid-1", "order_id": 42, "note": "two words"})
    assert line == "[WARNING]\t2026-01-01T00:00:00Z\trid-1\torder stored order_id=42 " \
                   "note='two words'"


async def test_configure_logging_text_writes_lambdas_lines(restore_logging: None) -> None:
    stream = io.StringIO()
    al.configure_logging("text", stream=stream)
    rt = al.Runtime(clock=al.VirtualClock(), invocation_logs=True)

    def fn(event: object, context: al.LambdaContext) -> None:
        logging.getLogger("app").info("stored order")

    rt.add_function("fn", fn)
    async with rt:
        r = await rt.invoke("fn")
    lines = stream.getvalue().splitlines()
    rid = re.escape(r.request_id)
    assert re.fullmatch(rf"\[fn\] START RequestId: {rid} Version: \$LATEST", lines[0])
    assert re.fullmatch(rf"\[INFO\]\t[^\t]+\t{rid}\tstored order", lines[1])
    assert lines[2] == f"END RequestId: {r.request_id}"
    assert re.fullmatch(rf"REPORT RequestId: {rid}\tDuration: 0\.00 ms\tBilled Duration: \d+ ms\t"
                        r"Memory Size: 128 MB\tInit Duration: 0\.00 ms", lines[3])
    assert len(lines) == 4


async def test_configure_logging_json_writes_one_json_object_per_line(
        restore_logging: None) -> None:
    stream = io.StringIO()
    al.configure_logging("json", stream=stream)
    rt = al.Runtime(invocation_logs=True)

    async def fn(event: object, context: al.LambdaContext) -> None:
        logging.getLogger("app").warning("slow downstream")
        structlog.get_logger().info("order stored", order_id=7)

    rt.add_function("fn", fn)
    async with rt:
        r = await rt.invoke("fn")
    logging.getLogger("app").warning("outside")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_event = {d.get("event", d.get("message")): d for d in lines}
    assert [d.get("event", d.get("message")) for d in lines] == [
        "START", "slow downstream", "order stored", "REPORT", "outside"]
    assert by_event["slow downstream"]["aws_request_id"] == r.request_id
    assert by_event["slow downstream"]["level"] == "WARNING"
    assert by_event["order stored"]["aws_request_id"] == r.request_id
    assert by_event["order stored"]["function_name"] == "fn"
    assert by_event["order stored"]["order_id"] == 7
    assert by_event["REPORT"]["request_id"] == r.request_id
    assert by_event["outside"]["aws_request_id"] == ""


# -- request ids in handler logs ----------------------------------------------------------------

async def test_stdlib_logging_in_async_handlers_carries_each_request_id(
        app_records: list[logging.LogRecord]) -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = al.Runtime(clock=clock)

    async def fn(event: dict, context: object) -> None:
        log = logging.getLogger("app")
        log.info("before %s", event["n"])
        await gate.wait()  # both invocations are in flight, interleaved, here
        log.info("after %s", event["n"])

    rt.add_function("fn", fn)
    async with rt:
        tasks = [spawn(rt.invoke("fn", {"n": n})) for n in (1, 2)]
        await clock.settle()
        gate.set()
        r1, r2 = [await t for t in tasks]
    ids = {f"{verb} {n}": rec.aws_request_id  # type: ignore[attr-defined]
           for rec in app_records for verb, n in [rec.getMessage().split()]}
    assert ids == {"before 1": r1.request_id, "after 1": r1.request_id,
                   "before 2": r2.request_id, "after 2": r2.request_id}
    assert r1.request_id != r2.request_id


async def test_stdlib_logging_in_plain_handlers_carries_each_request_id(
        app_records: list[logging.LogRecord]) -> None:
    both_running = threading.Barrier(2, timeout=10)
    rt = al.Runtime()

    def fn(event: dict, context: object) -> None:
        both_running.wait()  # two contexts' threads log at the same time
        logging.getLogger("app").info("n=%s", event["n"])

    rt.add_function("fn", fn)
    async with rt:
        r1, r2 = await asyncio.gather(rt.invoke("fn", {"n": 1}), rt.invoke("fn", {"n": 2}))
    assert r1.ok and r2.ok
    ids = {rec.getMessage(): rec.aws_request_id for rec in app_records}  # type: ignore[attr-defined]
    assert ids == {"n=1": r1.request_id, "n=2": r2.request_id}
    assert len({rec.thread for rec in app_records}) == 2


async def test_request_id_filter_outside_an_invocation_is_empty(
        app_records: list[logging.LogRecord]) -> None:
    logging.getLogger("app").info("at startup")
    assert app_records[0].aws_request_id == ""  # type: ignore[attr-defined]


async def test_structlog_in_async_handlers_carries_each_request_id(
        structlog_capture: LogCapture) -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = al.Runtime(clock=clock)

    async def fn(event: dict, context: object) -> None:
        log = structlog.get_logger()
        log.info("before", n=event["n"])
        await gate.wait()
        log.info("after", n=event["n"])

    rt.add_function("orders", fn)
    async with rt:
        tasks = [spawn(rt.invoke("orders", {"n": n})) for n in (1, 2)]
        await clock.settle()
        gate.set()
        r1, r2 = [await t for t in tasks]
    structlog.get_logger().info("outside")
    seen = {(e["event"], e.get("n")): (e.get("aws_request_id"), e.get("function_name"))
            for e in structlog_capture.entries}
    assert seen == {
        ("before", 1): (r1.request_id, "orders"), ("after", 1): (r1.request_id, "orders"),
        ("before", 2): (r2.request_id, "orders"), ("after", 2): (r2.request_id, "orders"),
        ("outside", None): (None, None),
    }


async def test_structlog_in_plain_handlers_carries_each_request_id(
        structlog_capture: LogCapture) -> None:
    both_running = threading.Barrier(2, timeout=10)
    rt = al.Runtime()

    def fn(event: dict, context: object) -> None:
        both_running.wait()
        structlog.get_logger().info("work", n=event["n"])

    rt.add_function("fn", fn)
    async with rt:
        r1, r2 = await asyncio.gather(rt.invoke("fn", {"n": 1}), rt.invoke("fn", {"n": 2}))
    seen = {e["n"]: e["aws_request_id"] for e in structlog_capture.entries}
    assert seen == {1: r1.request_id, 2: r2.request_id}


# -- statistics ---------------------------------------------------------------------------------

async def test_statistics_counters_match_what_happened() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)

    async def fn(event: dict, context: object) -> str:
        await clock.sleep(event.get("sleep", 0))
        if event.get("fail"):
            raise ValueError("bad")
        return "ok"

    rt.add_function("fn", fn, timeout=5, reserved_concurrency=2)
    async with rt:
        held = [spawn(rt.invoke("fn", {"sleep": s})) for s in (1, 2)]
        await clock.settle()
        with pytest.raises(al.TooManyRequestsException):
            await rt.invoke("fn")  # both reserved slots busy: throttled
        await clock.advance(2)
        assert [(await t).payload for t in held] == ["ok", "ok"]
        assert (await rt.invoke("fn", {"fail": True})).function_error == "Unhandled"
        hung = spawn(rt.invoke("fn", {"sleep": 60}))
        await clock.advance(5)
        assert (await hung).payload["errorType"] == "Sandbox.Timedout"
        during = rt.statistics()
    v = during.functions["fn"].versions["$LATEST"]
    assert (v.invocations, v.errors, v.throttles, v.timeouts) == (4, 2, 1, 1)
    assert (v.cold_starts, v.contexts_created, v.contexts_reset) == (2, 2, 1)
    assert v.max_concurrent_executions == 2 and v.concurrent_executions == 0
    assert v.duration_ms_sum == pytest.approx(1000 + 2000 + 0 + 5000)
    assert v.duration_ms_max == pytest.approx(5000)
    assert v.duration_ms_avg == pytest.approx(2000)
    assert (v.contexts, v.idle_contexts) == (1, 1)  # the timed-out one was discarded
    assert during.functions["fn"].reserved_concurrency == 2
    assert during.concurrent_executions == 0


async def test_statistics_count_init_failures_but_not_as_cold_starts(fixtures_dir: str) -> None:
    rt = al.Runtime()
    rt.add_function("fn", f"{fixtures_dir}/raises_at_import.py:handler")
    async with rt:
        await rt.invoke("fn")
    v = rt.statistics().functions["fn"].versions["$LATEST"]
    assert (v.invocations, v.errors, v.init_errors, v.cold_starts) == (1, 1, 1, 0)
    assert v.duration_ms_avg == 0.0  # no invocation got past INIT


async def test_runtime_statistics_track_unreserved_concurrency() -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = al.Runtime(clock=clock, concurrency_limit=10, unreserved_concurrency_minimum=0)

    async def fn(event: object, context: object) -> None:
        await gate.wait()

    rt.add_function("a", fn, reserved_concurrency=4)
    rt.add_function("b", fn)
    async with rt:
        tasks = [spawn(rt.invoke(name)) for name in ("a", "b", "b")]
        await clock.settle()
        stats = rt.statistics()
        assert (stats.concurrency_limit, stats.unreserved_concurrency_limit) == (10, 6)
        assert (stats.unreserved_concurrency_in_use, stats.concurrent_executions) == (2, 3)
        assert stats.functions["a"].concurrent_executions == 1
        gate.set()
        await asyncio.gather(*tasks)
        assert rt.statistics().unreserved_concurrency_in_use == 0
