"""Decoded events expose typed values, and the helpers on them decode payloads correctly."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from asynclambda import events as ev

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str, tp: type[Any]) -> Any:
    return ev.decoder_for(tp).decode((SAMPLES / name).read_bytes())


def raw(name: str) -> Any:
    return json.loads((SAMPLES / name).read_bytes())


# -- SQS -----------------------------------------------------------------------------------------


def test_sqs_records_are_typed() -> None:
    event: ev.SQSEvent = sample("sqs-standard.json", ev.SQSEvent)
    record = event.records[0]
    assert isinstance(record, ev.SQSRecord)
    assert record.body == "Test message."
    assert isinstance(event.records[1].body, str)
    assert record.event_source_arn == "arn:aws:sqs:us-east-2:123456789012:my-queue"
    assert record.attributes.approximate_receive_count == "1"
    assert record.attributes.message_group_id is msgspec.UNSET
    attribute = record.message_attributes["testAttr"]
    assert (attribute.data_type, attribute.string_value) == ("Number", "100")


def test_sqs_fifo_attributes_are_decoded() -> None:
    attributes = sample("sqs-fifo.json", ev.SQSEvent).records[0].attributes
    assert attributes.message_group_id == "1"
    assert attributes.message_deduplication_id == "1"
    assert attributes.sequence_number == "18849496460467696128"


def test_sqs_dead_letter_source_attribute_is_decoded() -> None:
    attributes = sample("sqs-dlq.json", ev.SQSEvent).records[0].attributes
    assert attributes.dead_letter_queue_source_arn == (
        "arn:aws:sqs:eu-central-1:123456789012:sqs-redrive-SampleQueue-RNvLCpwGmLi7"
    )


def test_sqs_message_attribute_lists_are_decoded() -> None:
    record = sample("sqs-message-attribute-lists.json", ev.SQSEvent).records[0]
    assert record.message_attributes["Attribute3"].binary_list_values == ["MA==", "MQ==", "MA=="]
    assert record.message_attributes["Attribute1"].string_list_values == []
    assert record.md5_of_message_attributes == "582c92c5c5b6ac403040a4f3ab3115c9"


def test_a_built_sqs_event_encodes_with_aws_member_names() -> None:
    record = ev.SQSRecord(
        message_id="m-1",
        receipt_handle="rh",
        body="hello",
        attributes=ev.SQSRecordAttributes(
            approximate_receive_count="1",
            sent_timestamp="1700000000000",
            sender_id="local",
            approximate_first_receive_timestamp="1700000000001",
            message_group_id="g",
        ),
        message_attributes={},
        md5_of_body="5d41402abc4b2a76b9719d911017c592",
        event_source="aws:sqs",
        event_source_arn="arn:aws:sqs:us-east-1:000000000000:queue.fifo",
        aws_region="local",
    )
    encoded = json.loads(ev.encode(ev.SQSEvent(records=[record])))
    assert encoded["Records"][0]["eventSourceARN"] == "arn:aws:sqs:us-east-1:000000000000:queue.fifo"
    assert encoded["Records"][0]["attributes"] == {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1700000000000",
        "SenderId": "local",
        "ApproximateFirstReceiveTimestamp": "1700000000001",
        "MessageGroupId": "g",
    }


def test_events_are_frozen() -> None:
    event = sample("sqs-standard.json", ev.SQSEvent)
    with pytest.raises(AttributeError):
        event.records = []


# -- partial batch and tumbling windows ------------------------------------------------------------


def test_partial_batch_response_lists_failed_identifiers() -> None:
    response = sample("sqs-batch-response.json", ev.PartialBatchResponse)
    assert response.failed_identifiers() == ["id2", "id4"]


@pytest.mark.parametrize(
    "body", [b"{}", b'{"batchItemFailures": null}', b'{"batchItemFailures": []}']
)
def test_partial_batch_response_without_failures_is_full_success(body: bytes) -> None:
    assert ev.decoder_for(ev.PartialBatchResponse).decode(body).failed_identifiers() == []


def test_partial_batch_response_with_a_null_identifier_does_not_decode() -> None:
    with pytest.raises(msgspec.ValidationError, match="itemIdentifier"):
        ev.decoder_for(ev.PartialBatchResponse).decode(
            b'{"batchItemFailures": [{"itemIdentifier": null}]}'
        )


def test_tumbling_window_members_on_stream_events() -> None:
    event = sample("kinesis-tumbling-window.json", ev.KinesisEvent)
    assert event.window == ev.TumblingWindow(
        start="2020-12-09T07:04:00Z", end="2020-12-09T07:06:00Z"
    )
    assert event.state == {"1": 282, "2": 715}
    assert event.shard_id == "shardId-000000000006"
    assert event.is_final_invoke_for_window is False
    assert event.is_window_terminated_early is False
    ddb = sample("dynamodb-tumbling-window.json", ev.DynamoDBEvent)
    assert ddb.event_source_arn == "stream-ARN"
    assert ddb.state == {"1": "state1"}


def test_stream_events_without_a_window_leave_the_members_unset() -> None:
    event = sample("kinesis.json", ev.KinesisEvent)
    assert event.window is msgspec.UNSET
    assert "window" not in json.loads(ev.encode(event))


def test_tumbling_window_response_carries_state_and_failures() -> None:
    response = ev.TumblingWindowResponse(
        state={"count": 3}, batch_item_failures=[ev.BatchItemFailure(item_identifier="49590")]
    )
    assert json.loads(ev.encode(response)) == {
        "state": {"count": 3},
        "batchItemFailures": [{"itemIdentifier": "49590"}],
    }


# -- Kinesis --------------------------------------------------------------------------------------


def test_kinesis_data_stays_base64_text_and_decodes_to_bytes() -> None:
    event = sample("kinesis.json", ev.KinesisEvent)
    record = event.records[0].kinesis
    assert record.data == "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg=="
    assert record.decode_data() == base64.b64decode(record.data) == b"Hello, this is a test."
    assert event.records[1].kinesis.decode_data() == b"This is only a test."
    assert isinstance(record.approximate_arrival_timestamp, float)
    assert event.records[0].event_id.startswith("shardId-000000000006:")


def test_kinesis_bad_base64_names_the_member() -> None:
    record = msgspec.structs.replace(
        sample("kinesis.json", ev.KinesisEvent).records[0].kinesis, data="!!"
    )
    with pytest.raises(ValueError, match=r"kinesis\.data is not valid base64: '!!'"):
        record.decode_data()


# -- DynamoDB streams -----------------------------------------------------------------------------


def test_dynamodb_images_are_typed_attributes() -> None:
    event = sample("dynamodb-insert-modify.json", ev.DynamoDBEvent)
    insert, modify = event.records
    assert (insert.event_name, modify.event_name) == ("INSERT", "MODIFY")
    assert insert.dynamodb.keys == {"Id": ev.AttributeValue(number="101")}
    assert isinstance(modify.dynamodb.old_image, dict)
    assert ev.deserialize_image(modify.dynamodb.old_image) == {
        "Message": "New item!",
        "Id": Decimal(101),
    }
    assert isinstance(modify.dynamodb.new_image, dict)
    assert ev.deserialize_image(modify.dynamodb.new_image)["Message"] == "This item has changed"


def test_dynamodb_remove_has_only_an_old_image() -> None:
    remove = sample("dynamodb-tumbling-window.json", ev.DynamoDBEvent).records[2]
    assert remove.event_name == "REMOVE"
    assert remove.dynamodb.new_image is msgspec.UNSET
    assert isinstance(remove.dynamodb.old_image, dict)


def test_dynamodb_every_attribute_type_deserializes() -> None:
    record = sample("dynamodb-all-attribute-types.json", ev.DynamoDBEvent).records[1]
    assert isinstance(record.dynamodb.new_image, dict)
    item = ev.deserialize_image(record.dynamodb.new_image)
    assert item["Binary"] == b"\x00\x01*A"
    assert item["Boolean"] is True
    assert item["BinarySet"] == {b"\x00\x01*A"}
    assert item["List"] == ["Cookies", "Coffee", Decimal("3.14159")]
    assert item["Map"] == {"Name": "Joe", "Age": Decimal(35)}
    assert item["FloatNumber"] == Decimal("123.45")
    assert item["NumberSet"] == {Decimal(1234), Decimal("567.8")}
    assert item["Null"] is None
    assert item["StringSet"] == {"Giraffe", "Zebra"}
    assert item["EmptyStringSet"] == set()
    assert record.user_identity is msgspec.UNSET
    first = sample("dynamodb-all-attribute-types.json", ev.DynamoDBEvent).records[0]
    assert first.user_identity == ev.DynamoDBUserIdentity(
        type="Service", principal_id="dynamodb.amazonaws.com"
    )


# -- SNS, S3, EventBridge -------------------------------------------------------------------------


def test_sns_message_is_typed() -> None:
    message = sample("sns.json", ev.SNSEvent).records[0].sns
    assert message.message == "Hello from SNS!"
    assert message.subject == "TestInvoke"
    assert isinstance(message.message_attributes, dict)
    assert message.message_attributes["Test"] == ev.SNSMessageAttribute(
        type="String", value="TestString"
    )


def test_s3_object_created_and_removed() -> None:
    created = sample("s3-object-created.json", ev.S3Event).records[0]
    assert created.event_name == "ObjectCreated:Put"
    assert created.s3.object.size == 1305107
    assert created.response_elements.x_amz_request_id == "D82B88E5F771F645"
    removed = sample("s3-object-removed.json", ev.S3Event).records[0]
    assert removed.event_name == "ObjectRemoved:Delete"
    assert removed.s3.object.size is msgspec.UNSET


def test_s3_key_is_kept_encoded_and_decodes_on_request() -> None:
    obj = sample("s3-replication-failed.json", ev.S3Event).records[0].s3.object
    assert obj.key == "replication%2Dtest.png"
    assert obj.decoded_key == "replication-test.png"
    assert msgspec.structs.replace(obj, key="Happy+Face%21.jpg").decoded_key == "Happy Face!.jpg"


def test_eventbridge_hyphenated_members() -> None:
    event = sample("eventbridge-ec2-replay.json", ev.EventBridgeEvent)
    assert event.detail_type == "EC2 Instance State-change Notification"
    assert event.replay_name == "replay_archive"
    assert event.detail == {"instance_id": "i-1234567890abcdef0", "state": "terminated"}
    scheduled = sample("scheduled-event.json", ev.ScheduledEvent)
    assert (scheduled.detail_type, scheduled.source, scheduled.detail) == (
        "Scheduled Event",
        "aws.events",
        {},
    )
    assert isinstance(scheduled, ev.EventBridgeEvent)
    assert sample("scheduled-event-no-version.json", ev.ScheduledEvent).version is msgspec.UNSET


def test_local_partition_arns_are_accepted() -> None:
    scheduled = ev.ScheduledEvent(
        version="0",
        id="1",
        detail_type="Scheduled Event",
        source="aws.events",
        account="000000000000",
        time="2024-01-01T00:00:00Z",
        region="local",
        resources=["arn:aws:events:us-east-1:000000000000:rule/every-minute"],
        detail={},
    )
    encoded = ev.encode(scheduled)
    assert ev.decoder_for(ev.ScheduledEvent).decode(encoded) == scheduled
    assert b'"detail-type":"Scheduled Event"' in encoded


# -- HTTP -----------------------------------------------------------------------------------------


def test_rest_api_event_keeps_nulls_and_typed_context() -> None:
    event = sample("apigw-rest-nulls.json", ev.APIGatewayProxyEvent)
    assert event.path_parameters is None
    assert event.request_context.resource_id is None
    assert event.request_context.identity.source_ip == "192.168.0.1/32"
    assert event.request_context.identity.access_key is None
    assert event.request_context.authorizer == {"claims": None, "scopes": None}
    assert event.request_context.request_time_epoch == 1583349317135
    client_cert = event.request_context.identity.client_cert
    assert isinstance(client_cert, ev.APIGatewayClientCert)
    assert client_cert.subject_dn == "www.example.com"
    assert event.body_bytes() == b"Hello from Lambda!"


def test_rest_api_base64_body_is_decoded() -> None:
    event = sample("apigw-rest-no-authorizer.json", ev.APIGatewayProxyEvent)
    assert event.is_base64_encoded is True
    replaced = msgspec.structs.replace(event, body=base64.b64encode(b"\x00\xff").decode())
    assert replaced.body_bytes() == b"\x00\xff"


def test_http_api_v2_authorizers_are_typed() -> None:
    jwt = sample("apigw-v2-jwt.json", ev.APIGatewayProxyEventV2).request_context.authorizer
    assert isinstance(jwt, ev.APIGatewayV2Authorizer)
    assert isinstance(jwt.jwt, ev.APIGatewayV2JWTAuthorizer)
    assert jwt.jwt.scopes == ["scope1", "scope2"]
    iam = sample("apigw-v2-iam.json", ev.APIGatewayProxyEventV2).request_context.authorizer
    assert isinstance(iam, ev.APIGatewayV2Authorizer)
    assert isinstance(iam.iam, ev.APIGatewayV2IAMAuthorizer)
    assert isinstance(iam.iam.cognito_identity, ev.APIGatewayV2CognitoIdentity)
    assert iam.iam.cognito_identity.amr == ["foo"]
    lam = sample(
        "apigw-v2-lambda-authorizer.json", ev.APIGatewayProxyEventV2
    ).request_context.authorizer
    assert isinstance(lam, ev.APIGatewayV2Authorizer)
    assert lam.lambda_ == {"key": "value"}


def test_function_url_request_is_the_v2_shape() -> None:
    event = sample("function-url-iam.json", ev.LambdaFunctionUrlRequest)
    assert isinstance(event, ev.APIGatewayProxyEventV2)
    assert event.request_context.authentication is None
    assert event.request_context.http.method == "POST"
    assert event.stage_variables is None
    assert event.body_bytes() == b"Hello from client!"


def test_http_responses_encode_with_aws_member_names() -> None:
    v1 = ev.APIGatewayProxyResponse(status_code=200, headers={"a": "b"}, body="ok")
    assert json.loads(ev.encode(v1)) == {"statusCode": 200, "headers": {"a": "b"}, "body": "ok"}
    v2 = ev.LambdaFunctionUrlResponse(status_code=201, cookies=["c=1"], is_base64_encoded=False)
    assert json.loads(ev.encode(v2)) == {
        "statusCode": 201,
        "cookies": ["c=1"],
        "isBase64Encoded": False,
    }
    alb = ev.ALBTargetGroupResponse(status_code=404, status_description="404 Not Found")
    assert json.loads(ev.encode(alb)) == {"statusCode": 404, "statusDescription": "404 Not Found"}


def test_alb_request_is_typed() -> None:
    event = sample("alb-multi-value.json", ev.ALBTargetGroupRequest)
    assert event.request_context.elb.target_group_arn.startswith("arn:aws:elasticloadbalancing:")
    assert event.multi_value_query_string_parameters == {}
    assert event.headers is msgspec.UNSET
    assert event.body_bytes() == b""


# -- CloudWatch Logs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "policy_level"),
    [
        ("cloudwatch-logs-gzip.json", msgspec.UNSET),
        ("cloudwatch-logs-zlib-policy-level.json", "ACCOUNT_LEVEL_POLICY"),
    ],
)
def test_cloudwatch_logs_data_decodes_to_typed_log_events(name: str, policy_level: object) -> None:
    decoded = sample(name, ev.CloudWatchLogsEvent).decode()
    assert isinstance(decoded, ev.CloudWatchLogsDecodedData)
    assert decoded.message_type == "DATA_MESSAGE"
    assert (decoded.log_group, decoded.log_stream) == ("testLogGroup", "testLogStream")
    assert decoded.subscription_filters == ["testFilter"]
    assert [e.message for e in decoded.log_events] == [
        "[ERROR] First test message",
        "[ERROR] Second test message",
    ]
    assert decoded.log_events[0] == ev.CloudWatchLogsLogEvent(
        id="eventId1", timestamp=1440442987000, message="[ERROR] First test message"
    )
    assert decoded.policy_level == policy_level


def test_cloudwatch_logs_event_built_from_decoded_data_decodes_back() -> None:
    decoded = sample("cloudwatch-logs-decoded-devguide.json", ev.CloudWatchLogsDecodedData)
    event = ev.CloudWatchLogsEvent.from_decoded(decoded)
    assert base64.b64decode(event.awslogs.data)[:2] == b"\x1f\x8b"  # gzip, as CloudWatch sends
    assert event.decode() == decoded
    assert ev.CloudWatchLogsEvent.from_decoded(decoded) == event  # deterministic (no gzip mtime)


def test_cloudwatch_logs_data_that_is_not_compressed_names_the_problem() -> None:
    event = ev.CloudWatchLogsEvent(
        awslogs=ev.CloudWatchLogsData(data=base64.b64encode(b"{}").decode())
    )
    with pytest.raises(ValueError, match="not gzip or zlib compressed"):
        event.decode()


# -- Kafka ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["kafka-msk.json", "kafka-self-managed.json"])
def test_kafka_records_decode_key_value_and_headers(name: str) -> None:
    event = sample(name, ev.KafkaEvent)
    (record,) = event.records["mytopic-0"]
    assert (record.topic, record.partition, record.offset) == ("mytopic", 0, 15)
    assert record.decode_key() == b"recordKey"
    assert record.decode_value() == b'{"key":"value"}'
    assert record.decode_headers() == [("headerKey", b"headerValue")]
    assert list(event.iter_records()) == [record]


def test_kafka_event_source_distinguishes_msk_from_self_managed() -> None:
    msk = sample("kafka-msk.json", ev.KafkaEvent)
    assert msk.event_source == "aws:kafka"
    assert isinstance(msk.event_source_arn, str)
    self_managed = sample("kafka-self-managed.json", ev.KafkaEvent)
    assert self_managed.event_source == "aws:SelfManagedKafka"
    assert self_managed.event_source_arn is msgspec.UNSET


def test_kafka_signed_header_bytes_are_read_as_unsigned() -> None:
    (record,) = sample("kafka-signed-header-bytes.json", ev.KafkaEvent).records["AWSKafkaTopic-0"]
    assert record.decode_headers() == [("headerKey", bytes([118, 220, 0, 127, 128]))]


def test_kafka_header_values_out_of_byte_range_are_refused() -> None:
    record = ev.KafkaRecord(
        topic="t", partition=0, offset=0, timestamp=0, timestamp_type="CREATE_TIME",
        value=None, headers=[{"h": [1, 256]}],
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"'h' holds values that are not bytes: \[256\]"):
        record.decode_headers()
    assert record.decode_value() is None
    assert record.decode_key() is None


def test_unknown_members_are_dropped_so_the_round_trip_test_would_catch_them() -> None:
    # msgspec ignores members a Struct does not declare: this is why every sample must round-trip
    data = raw("sns.json")
    data["Records"][0]["Sns"]["NotAnAwsMember"] = 1
    event = msgspec.convert(data, ev.SNSEvent)
    assert "NotAnAwsMember" not in msgspec.to_builtins(event)["Records"][0]["Sns"]
