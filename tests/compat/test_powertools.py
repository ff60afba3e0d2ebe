"""Real AWS Lambda Powertools handlers run unchanged: Logger, batch, parser, metrics, a handler file.

Powertools reads the Lambda context object's attributes and Lambda's environment variables
(``AWS_LAMBDA_INITIALIZATION_TYPE``, ``POWERTOOLS_SERVICE_NAME``), so these tests hold
asynclambda's context object and ``os.environ`` overlay against a real consumer of both.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from typing import Any

import pytest

pytest.importorskip("aws_lambda_powertools")

import aws_lambda_powertools.logging.logger as powertools_logger
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

import asynclambda as al

pytestmark = pytest.mark.anyio

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")


@pytest.fixture
def fresh_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powertools tracks cold starts in a module global, once per *process*: reset it."""
    monkeypatch.setattr(powertools_logger, "is_cold_start", True)


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _sqs_event(*bodies: str) -> dict[str, Any]:
    """An SQS event with AWS's exact record shape (ids ``msg-0``, ``msg-1`` ...)."""
    return {"Records": [{
        "messageId": f"msg-{i}",
        "receiptHandle": f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a-{i}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:orders",
        "awsRegion": "us-east-2",
    } for i, body in enumerate(bodies)]}


async def test_logger_inject_lambda_context_sees_our_context(fresh_cold_start: None) -> None:
    stream = io.StringIO()
    logger = Logger(service="asynclambda-compat-inject", stream=stream)

    @logger.inject_lambda_context
    def handler(event: dict, context: LambdaContext) -> str:
        logger.info("order received", extra={"order_id": event["order_id"]})
        return context.aws_request_id

    rt = al.Runtime()
    rt.add_function("orders", handler, memory_mb=256)
    async with rt:
        first = await rt.invoke("orders", {"order_id": 1})
        second = await rt.invoke("orders", {"order_id": 2})
    assert first.payload == first.request_id, first.payload
    one, two = _json_lines(stream.getvalue())
    assert one["message"] == "order received" and one["order_id"] == 1
    assert one["function_name"] == "orders"
    assert one["function_request_id"] == first.request_id
    assert one["function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:orders"
    assert one["function_memory_size"] == "256"
    assert one["cold_start"] is True
    assert two["function_request_id"] == second.request_id and two["cold_start"] is False


async def test_logger_reports_no_cold_start_on_provisioned_contexts(
        fresh_cold_start: None) -> None:
    stream = io.StringIO()
    logger = Logger(service="asynclambda-compat-provisioned", stream=stream)

    @logger.inject_lambda_context
    def handler(event: dict, context: LambdaContext) -> None:
        logger.info("warm")

    rt = al.Runtime()
    rt.add_function("fn", handler)
    rt.publish_version("fn", provisioned_concurrency=1)  # on a version, as on Lambda
    async with rt:
        r = await rt.invoke("fn", qualifier="1")
    assert r.ok, r.payload
    (line,) = _json_lines(stream.getvalue())
    # Powertools reads AWS_LAMBDA_INITIALIZATION_TYPE, which the context's overlay sets.
    assert line["cold_start"] is False and line["function_request_id"] == r.request_id


async def test_logger_decorates_async_handlers_too(fresh_cold_start: None) -> None:
    stream = io.StringIO()
    logger = Logger(service="asynclambda-compat-async", stream=stream)

    @logger.inject_lambda_context
    async def handler(event: dict, context: LambdaContext) -> str:
        logger.info("async")
        return "done"

    rt = al.Runtime()
    rt.add_function("fn", handler)
    async with rt:
        r = await rt.invoke("fn")
    assert r.payload == "done"
    (line,) = _json_lines(stream.getvalue())
    assert line["function_request_id"] == r.request_id and line["function_name"] == "fn"


async def test_batch_processor_reports_the_failing_sqs_record() -> None:
    processor = BatchProcessor(event_type=EventType.SQS)
    processed: list[str] = []

    def record_handler(record: SQSRecord) -> None:
        order = json.loads(record.body)
        if order["qty"] <= 0:
            raise ValueError(f"bad quantity for order {order['id']}")
        processed.append(record.message_id)

    def handler(event: dict, context: LambdaContext) -> dict:
        return process_partial_response(event=event, record_handler=record_handler,
                                        processor=processor, context=context)

    rt = al.Runtime()
    rt.add_function("orders", handler)
    event = _sqs_event('{"id": 1, "qty": 2}', '{"id": 2, "qty": 0}', '{"id": 3, "qty": 1}')
    async with rt:
        r = await rt.invoke("orders", event)
    assert r.ok, r.payload
    assert r.payload == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert processed == ["msg-0", "msg-2"]


async def test_batch_processor_full_success_is_an_empty_list() -> None:
    processor = BatchProcessor(event_type=EventType.SQS)

    def handler(event: dict, context: LambdaContext) -> dict:
        return process_partial_response(event=event, record_handler=lambda record: None,
                                        processor=processor, context=context)

    rt = al.Runtime()
    rt.add_function("orders", handler)
    async with rt:
        r = await rt.invoke("orders", _sqs_event("a", "b"))
    assert r.payload == {"batchItemFailures": []}


class Order(BaseModel):
    id: int
    qty: int


async def test_parser_and_typed_lambda_context_handler() -> None:
    clock = al.VirtualClock()

    @event_parser(model=Order)
    def handler(event: Order, context: LambdaContext) -> dict:
        return {"total": event.id * event.qty, "request_id": context.aws_request_id,
                "remaining": context.get_remaining_time_in_millis()}

    rt = al.Runtime(clock=clock)
    rt.add_function("orders", handler, timeout=10)
    async with rt:
        ok = await rt.invoke("orders", {"id": 3, "qty": 4})
        bad = await rt.invoke("orders", {"id": "three", "qty": 4})
    assert ok.payload == {"total": 12, "request_id": ok.request_id, "remaining": 10_000}
    assert bad.function_error == "Unhandled"
    assert bad.payload["errorType"] == "ValidationError"
    assert "id" in bad.payload["errorMessage"]


async def test_metrics_emit_embedded_metric_format_without_aws(
        capsys: pytest.CaptureFixture[str]) -> None:
    metrics = Metrics(namespace="Shop", service="orders")

    @metrics.log_metrics
    def handler(event: dict, context: LambdaContext) -> str:
        metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=event["n"])
        with single_metric(name="Refunds", unit=MetricUnit.Count, value=1,
                           namespace="Shop") as metric:
            metric.add_dimension(name="channel", value="web")
        return "ok"

    rt = al.Runtime()
    rt.add_function("orders", handler)
    async with rt:
        r = await rt.invoke("orders", {"n": 3})
    assert r.payload == "ok", r.payload
    blobs = _json_lines(capsys.readouterr().out)
    placed = next(b for b in blobs if "OrdersPlaced" in b)
    refunds = next(b for b in blobs if "Refunds" in b)
    assert placed["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Shop"
    assert placed["OrdersPlaced"] in ([3.0], 3.0) and placed["service"] == "orders"
    assert refunds["channel"] == "web"


async def test_powertools_handler_file_keeps_module_objects_per_context(
        capsys: pytest.CaptureFixture[str], fresh_cold_start: None) -> None:
    service = "asynclambda-compat-file"
    rt = al.Runtime()
    rt.add_function("orders", f"{FIXTURES}/powertools_handler.py:handler",
                    environment={"POWERTOOLS_SERVICE_NAME": service, "TABLE_NAME": "orders"})
    async with rt:
        results = [await rt.invoke("orders", {"order_id": n}) for n in (1, 2)]
    first, second = (r.payload for r in results)
    assert results[0].ok, first
    assert first["service"] == service and first["table"] == "orders"
    assert first["logger_id"] == second["logger_id"]  # warm: the same module-level Logger
    assert (first["init_count"], second["invocations"]) == (1, 2)
    lines = [d for d in _json_lines(capsys.readouterr().out) if d.get("service") == service]
    assert [(d["order_id"], d["function_request_id"], d["cold_start"]) for d in lines] == [
        (1, results[0].request_id, True), (2, results[1].request_id, False)]


async def test_powertools_handler_file_runs_its_module_body_per_context() -> None:
    rt = al.Runtime()
    rt.add_function("orders", f"{FIXTURES}/powertools_handler.py:handler",
                    environment={"POWERTOOLS_SERVICE_NAME": "asynclambda-compat-contexts"})
    async with rt:
        # Plain handlers run on their context's thread: two at once need two contexts.
        a, b = await asyncio.gather(rt.invoke("orders", {"order_id": 1}),
                                    rt.invoke("orders", {"order_id": 2}))
    assert a.ok and b.ok, (a.payload, b.payload)
    assert a.payload["logger_id"] != b.payload["logger_id"]  # one Logger per context
    assert a.payload["init_count"] == b.payload["init_count"] == 1
    assert rt.statistics().functions["orders"].versions["$LATEST"].contexts_created == 2
