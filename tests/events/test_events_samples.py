"""Every published sample event decodes into its Struct and encodes back to the same JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from asynclambda import events as ev

SAMPLES = Path(__file__).parent / "samples"

#: sample file -> the Struct it is an instance of (provenance in samples/SOURCES.md)
SAMPLE_TYPES: dict[str, type[msgspec.Struct]] = {
    "alb-devguide.json": ev.ALBTargetGroupRequest,
    "alb-headers-go.json": ev.ALBTargetGroupRequest,
    "alb-multi-value-go.json": ev.ALBTargetGroupRequest,
    "alb-multi-value.json": ev.ALBTargetGroupRequest,
    "alb-response-devguide.json": ev.ALBTargetGroupResponse,
    "alb-response.json": ev.ALBTargetGroupResponse,
    "alb.json": ev.ALBTargetGroupRequest,
    "apigw-rest-no-authorizer.json": ev.APIGatewayProxyEvent,
    "apigw-rest-nulls.json": ev.APIGatewayProxyEvent,
    "apigw-rest-operation-name.json": ev.APIGatewayProxyEvent,
    "apigw-rest-response.json": ev.APIGatewayProxyResponse,
    "apigw-rest.json": ev.APIGatewayProxyEvent,
    "apigw-v2-iam.json": ev.APIGatewayProxyEventV2,
    "apigw-v2-jwt-and-lambda-authorizer.json": ev.APIGatewayProxyEventV2,
    "apigw-v2-jwt.json": ev.APIGatewayProxyEventV2,
    "apigw-v2-lambda-authorizer.json": ev.APIGatewayProxyEventV2,
    "apigw-v2-no-authorizer.json": ev.APIGatewayProxyEventV2,
    "cloudwatch-logs-decoded-devguide.json": ev.CloudWatchLogsDecodedData,
    "cloudwatch-logs-gzip.json": ev.CloudWatchLogsEvent,
    "cloudwatch-logs-zlib-policy-level.json": ev.CloudWatchLogsEvent,
    "dynamodb-all-attribute-types.json": ev.DynamoDBEvent,
    "dynamodb-devguide.json": ev.DynamoDBEvent,
    "dynamodb-insert-modify.json": ev.DynamoDBEvent,
    "dynamodb-tumbling-window.json": ev.DynamoDBEvent,
    "eventbridge-ec2-replay.json": ev.EventBridgeEvent,
    "eventbridge-rds.json": ev.EventBridgeEvent,
    "eventbridge-s3-object-created.json": ev.EventBridgeEvent,
    "function-url-go.json": ev.LambdaFunctionUrlRequest,
    "function-url-iam.json": ev.LambdaFunctionUrlRequest,
    "function-url-response.json": ev.LambdaFunctionUrlResponse,
    "function-url.json": ev.LambdaFunctionUrlRequest,
    "kafka-msk-devguide.json": ev.KafkaEvent,
    "kafka-msk.json": ev.KafkaEvent,
    "kafka-self-managed-devguide.json": ev.KafkaEvent,
    "kafka-self-managed.json": ev.KafkaEvent,
    "kafka-signed-header-bytes.json": ev.KafkaEvent,
    "kinesis-batch-response.json": ev.PartialBatchResponse,
    "kinesis-tumbling-window-response.json": ev.TumblingWindowResponse,
    "kinesis-tumbling-window-string-state.json": ev.KinesisEvent,
    "kinesis-tumbling-window.json": ev.KinesisEvent,
    "kinesis.json": ev.KinesisEvent,
    "s3-devguide.json": ev.S3Event,
    "s3-glacier-restore.json": ev.S3Event,
    "s3-intelligent-tiering.json": ev.S3Event,
    "s3-lifecycle-transition.json": ev.S3Event,
    "s3-object-created.json": ev.S3Event,
    "s3-object-removed.json": ev.S3Event,
    "s3-replication-failed.json": ev.S3Event,
    "scheduled-event-go.json": ev.ScheduledEvent,
    "scheduled-event-no-version.json": ev.ScheduledEvent,
    "scheduled-event.json": ev.ScheduledEvent,
    "sns-devguide.json": ev.SNSEvent,
    "sns-go.json": ev.SNSEvent,
    "sns.json": ev.SNSEvent,
    "sqs-batch-response.json": ev.PartialBatchResponse,
    "sqs-devguide.json": ev.SQSEvent,
    "sqs-dlq.json": ev.SQSEvent,
    "sqs-fifo-from-sns.json": ev.SQSEvent,
    "sqs-fifo.json": ev.SQSEvent,
    "sqs-message-attribute-lists.json": ev.SQSEvent,
    "sqs-standard.json": ev.SQSEvent,
}

#: stream events are also valid as the other stream family's window fields, and HTTP API v2
#: requests as function URL requests: the same bytes decode into these types too.
ALSO_DECODES_AS: dict[type[msgspec.Struct], tuple[type[msgspec.Struct], ...]] = {
    ev.APIGatewayProxyEventV2: (ev.LambdaFunctionUrlRequest,),
    ev.LambdaFunctionUrlRequest: (ev.APIGatewayProxyEventV2,),
    ev.ScheduledEvent: (ev.EventBridgeEvent,),
    ev.PartialBatchResponse: (ev.TumblingWindowResponse,),
}


def load(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def assert_same_json(actual: Any, expected: Any, path: str = "$") -> None:
    """Equality of parsed JSON that, unlike ``==``, tells ``true`` from ``1`` and names the spot."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        assert actual is expected, f"{path}: {actual!r} != {expected!r}"
    elif isinstance(expected, int | float) and isinstance(actual, int | float):
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not an object"
        assert actual.keys() == expected.keys(), (
            f"{path}: missing {sorted(expected.keys() - actual.keys())}, "
            f"extra {sorted(actual.keys() - expected.keys())}"
        )
        for key, value in expected.items():
            assert_same_json(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: {actual!r} is not an array"
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_same_json(got, want, f"{path}[{index}]")
    else:
        assert type(actual) is type(expected), f"{path}: {actual!r} != {expected!r}"
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def test_every_sample_file_is_mapped_to_a_struct() -> None:
    on_disk = {path.name for path in SAMPLES.glob("*.json")}
    assert on_disk == set(SAMPLE_TYPES)


def test_every_sample_file_is_documented_in_sources() -> None:
    sources = (SAMPLES / "SOURCES.md").read_text()
    undocumented = [name for name in SAMPLE_TYPES if f"`{name}`" not in sources]
    assert undocumented == []


@pytest.mark.parametrize("name", sorted(SAMPLE_TYPES))
def test_sample_round_trips_to_equal_json(name: str) -> None:
    raw = load(name)
    tp = SAMPLE_TYPES[name]
    event = ev.decoder_for(tp).decode(raw)
    assert type(event) is tp
    assert_same_json(json.loads(ev.encode(event)), json.loads(raw))


@pytest.mark.parametrize(
    ("name", "other"),
    [
        (name, other)
        for name, tp in sorted(SAMPLE_TYPES.items())
        for other in ALSO_DECODES_AS.get(tp, ())
    ],
)
def test_sample_round_trips_through_related_struct(name: str, other: type[msgspec.Struct]) -> None:
    raw = load(name)
    assert_same_json(json.loads(ev.encode(ev.decoder_for(other).decode(raw))), json.loads(raw))


@pytest.mark.parametrize("name", sorted(SAMPLE_TYPES))
def test_sample_round_trips_through_python_builtins(name: str) -> None:
    # the path a runtime takes when a handler returns a dict: convert, then encode
    tp = SAMPLE_TYPES[name]
    as_python = json.loads(load(name))
    event = msgspec.convert(as_python, tp)
    assert_same_json(msgspec.to_builtins(event), as_python)


def test_the_comparison_tells_true_from_one() -> None:
    with pytest.raises(AssertionError):
        assert_same_json({"a": 1}, {"a": True})
    with pytest.raises(AssertionError):
        assert_same_json({"a": None}, {})
