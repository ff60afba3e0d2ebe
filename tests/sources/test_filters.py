"""Lambda event filtering: EventBridge pattern operators, Lambda's per-source rules, validation.

Table cases are the AWS guides' own examples (pattern, sample event, expected outcome), named after
the page they come from; see the module docstring of ``asynclambda.sources.filters`` for the URLs.
"""

from __future__ import annotations

import base64
import copy
import json
import pickle
import re
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from asynclambda.errors import ConfigError
from asynclambda.sources.filters import (
    MAX_FILTERS,
    FilterCriteria,
    matches_dynamodb,
    matches_event,
    matches_kafka,
    matches_kinesis,
    matches_mq,
    matches_sqs,
)

# --- sample events from the guides -----------------------------------------------------------

#: Event Ruler README / EventBridge content-filtering examples.
EC2_RUNNING: dict[str, Any] = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "012345679012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5, "d-count": 3, "x-limit": 301.8, "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000", "state": "running",
    },
}
#: "Amazon EventBridge event patterns".
EC2_TERMINATED: dict[str, Any] = {
    "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
    "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}
#: "Matching null values and empty strings".
AUTOSCALING: dict[str, Any] = {
    "version": "0", "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
    "detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling",
    "account": "123456789012", "time": "2015-11-11T21:31:47Z", "region": "us-east-1",
    "resources": [], "detail": {"eventVersion": "", "responseElements": None},
}
#: "Amazon EventBridge event patterns", value matching (truncated Macie event).
MACIE: dict[str, Any] = {
    "source": "aws.macie", "detail-type": "Macie Alert",
    "detail": {"tags": ["Custom_Alert", "Insider"], "risk-score": 80,
               "trigger": {"alert-type": "basic", "risk": 8}},
}
#: "Arrays in Amazon EventBridge event patterns".
ARRAY_EVENT: dict[str, Any] = {"resources": [
    "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-"
    "d5978ed4a025:autoScalingGroupName/ASGTerminate",
    "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
]}
#: Event Ruler README, "JSON Array Matching".
EMPLOYEES: dict[str, Any] = {"employees": [
    {"firstName": "John", "lastName": "Doe"},
    {"firstName": "Anna", "lastName": "Smith"},
    {"firstName": "Peter", "lastName": "Jones"},
]}
EMPLOYEES_NESTED: dict[str, Any] = {"employees": [
    [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}],
    [{"firstName": "Peter", "lastName": "Jones"}],
]}

# (id, pattern, event, expected)
OPERATOR_CASES: list[tuple[str, dict[str, Any], Any, bool]] = [
    # exact values, AND across fields, OR within an array
    ("eb-patterns/terminated", {"source": ["aws.ec2"],
                                "detail-type": ["EC2 Instance State-change Notification"],
                                "detail": {"state": ["terminated"]}}, EC2_TERMINATED, True),
    ("eb-patterns/terminated-vs-running", {"source": ["aws.ec2"],
                                           "detail": {"state": ["terminated"]}}, EC2_RUNNING, False),
    ("eb-patterns/or-values", {"source": ["aws.ec2", "aws.fargate"]}, EC2_RUNNING, True),
    ("eb-patterns/missing-field", {"source": ["aws.ec2"], "nope": ["x"]}, EC2_RUNNING, False),
    ("eb-patterns/macie-numbers", {"source": ["aws.macie"], "detail-type": ["Macie Alert"],
                                   "detail": {"risk-score": [80], "trigger": {"risk": [8]}}},
     MACIE, True),
    ("eb-patterns/macie-wrong-score", {"detail": {"risk-score": [81]}}, MACIE, False),
    ("lambda/console-a-1-or-2", {"a": [1, 2]}, {"a": 2}, True),
    ("lambda/console-a-3", {"a": [1, 2]}, {"a": 3}, False),
    ("lambda/and", {"Location": ["New York"], "Day": ["Monday"]},
     {"Location": "New York", "Day": "Monday"}, True),
    ("lambda/and-one-fails", {"Location": ["New York"], "Day": ["Monday"]},
     {"Location": "New York", "Day": "Tuesday"}, False),
    # null and empty string
    ("null/empty-string", {"detail": {"eventVersion": [""]}}, AUTOSCALING, True),
    ("null/null", {"detail": {"responseElements": [None]}}, AUTOSCALING, True),
    ("null/empty-is-not-null", {"detail": {"responseElements": [""]}}, AUTOSCALING, False),
    ("null/null-is-not-empty", {"detail": {"eventVersion": [None]}}, AUTOSCALING, False),
    ("null/missing-is-not-null", {"detail": {"absent": [None]}}, AUTOSCALING, False),
    # JSON types do not mix
    ("types/true", {"flag": [True]}, {"flag": True}, True),
    ("types/true-is-not-1", {"flag": [1]}, {"flag": True}, False),
    ("types/1-is-not-true", {"flag": [True]}, {"flag": 1}, False),
    ("types/number-not-string", {"n": [5]}, {"n": "5"}, False),
    ("types/string-not-number", {"n": ["5"]}, {"n": 5}, False),
    ("types/5-matches-5.0", {"n": [5]}, {"n": 5.0}, True),
    ("types/3.0e2-matches-300", {"n": [3.0e2]}, {"n": 300}, True),
    # arrays
    ("arrays/intersection", {"resources": [
        "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}, ARRAY_EVENT, True),
    ("arrays/no-intersection", {"resources": ["arn:other"]}, ARRAY_EVENT, False),
    ("arrays/empty-event-array", {"resources": ["x"]}, AUTOSCALING, False),
    ("ruler/array-of-objects", {"employees": {"firstName": ["Anna"]}}, EMPLOYEES, True),
    ("ruler/array-consistent", {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}},
     EMPLOYEES, False),
    ("ruler/same-element", {"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}},
     EMPLOYEES, True),
    ("ruler/multi-level-arrays", {"employees": {"firstName": ["Peter"]}}, EMPLOYEES_NESTED, True),
    ("ruler/multi-level-consistent", {"employees": {"firstName": ["Anna"],
                                                    "lastName": ["Jones"]}},
     EMPLOYEES_NESTED, False),
    # prefix
    ("prefix/time", {"time": [{"prefix": "2017-10-02"}]}, EC2_RUNNING, True),
    ("prefix/time-other-day", {"time": [{"prefix": "2017-10-03"}]}, EC2_RUNNING, False),
    ("prefix/region-eu", {"source": ["aws.ec2"], "region": [{"prefix": "eu-"}]}, EC2_RUNNING,
     False),
    ("prefix/only-strings", {"detail": {"c-count": [{"prefix": "5"}]}}, EC2_RUNNING, False),
    ("prefix/ignore-case", {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}},
     {"detail": {"service": "EVENTBRIDGE"}}, True),
    ("prefix/ignore-case-miss", {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}},
     {"detail": {"service": "Events"}}, False),
    # suffix
    ("suffix/png", {"FileName": [{"suffix": ".png"}]}, {"FileName": "image.png"}, True),
    ("suffix/case-sensitive", {"FileName": [{"suffix": ".png"}]}, {"FileName": "image.PNG"}, False),
    ("suffix/ignore-case", {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}},
     {"detail": {"FileName": "image.PNG"}}, True),
    ("suffix/tbridge", {"service": [{"suffix": {"equals-ignore-case": "tbridge"}}]},
     {"service": "EVENTBRIDGE"}, True),
    # equals-ignore-case
    ("ignore-case/alice", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, True),
    ("ignore-case/alicia", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "Alicia"}, False),
    ("ignore-case/only-strings", {"n": [{"equals-ignore-case": "1"}]}, {"n": 1}, False),
    # wildcard
    ("wildcard/simple-service", {"source": [{"wildcard": "Simple*Service"}]},
     {"source": "SimpleQueueService"}, True),
    ("wildcard/empty-star", {"source": [{"wildcard": "Simple*Service"}]},
     {"source": "SimpleService"}, True),
    ("wildcard/no-suffix", {"source": [{"wildcard": "Simple*Service"}]},
     {"source": "SimpleQueue"}, False),
    ("wildcard/dir-png", {"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "dir/a/b.png"},
     True),
    ("wildcard/dir-png-elsewhere", {"FileName": [{"wildcard": "dir/*.png"}]},
     {"FileName": "other/dir/b.png"}, False),
    ("wildcard/escaped-star", {"s": [{"wildcard": "a\\*b"}]}, {"s": "a*b"}, True),
    ("wildcard/escaped-star-literal", {"s": [{"wildcard": "a\\*b"}]}, {"s": "axb"}, False),
    ("wildcard/escaped-backslash", {"s": [{"wildcard": "a\\\\*"}]}, {"s": "a\\bc"}, True),
    ("wildcard/many-stars", {"s": [{"wildcard": "*a*b*a*"}]}, {"s": "xxaxxbxxaxx"}, True),
    ("wildcard/many-stars-order", {"s": [{"wildcard": "*a*b*a*"}]}, {"s": "xxbxxaxx"}, False),
    # anything-but
    ("anything-but/string", {"detail": {"state": [{"anything-but": "initializing"}]}},
     EC2_RUNNING, True),
    ("anything-but/string-excluded", {"detail": {"state": [{"anything-but": "running"}]}},
     EC2_RUNNING, False),
    ("anything-but/number", {"detail": {"x-limit": [{"anything-but": 123}]}}, EC2_RUNNING, True),
    ("anything-but/number-excluded", {"detail": {"x-limit": [{"anything-but": 301.8}]}},
     EC2_RUNNING, False),
    ("anything-but/string-list", {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
     EC2_RUNNING, True),
    ("anything-but/number-list", {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}},
     {"detail": {"x-limit": 200}}, False),
    ("anything-but/lambda-weather", {"Weather": [{"anything-but": ["Raining"]}]},
     {"Weather": "Sunny"}, True),
    ("anything-but/prefix", {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}},
     {"detail": {"state": "initializing"}}, False),
    ("anything-but/prefix-other", {"source": [{"anything-but": {"prefix": "aws."}}]},
     {"source": "my.app"}, True),
    ("anything-but/suffix", {"FileName": [{"anything-but": {"suffix": ".png"}}]},
     {"FileName": "a.png"}, False),
    ("anything-but/suffix-list", {"id": [{"anything-but": {"suffix": ["1234", "6789"]}}]},
     {"id": "i-0000"}, True),
    ("anything-but/ignore-case", {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
     {"state": "INITIALIZING"}, False),
    ("anything-but/wildcard", {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
     {"FilePath": "/usr/lib/x.so"}, False),
    ("anything-but/wildcard-other", {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
     {"FilePath": "/usr/bin/x"}, True),
    ("anything-but/missing-field", {"state": [{"anything-but": "x"}]}, {}, False),
    ("anything-but/array-element", {"s": [{"anything-but": "stopped"}]},
     {"s": ["stopped", "running"]}, True),
    # numeric
    ("numeric/content-filtering", {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}],
                                              "d-count": [{"numeric": ["<", 10]}],
                                              "x-limit": [{"numeric": ["=", 3.018e2]}]}},
     EC2_RUNNING, True),
    ("numeric/out-of-range", {"detail": {"c-count": [{"numeric": [">", 5, "<=", 10]}]}},
     EC2_RUNNING, False),
    ("numeric/lambda-price-equals", {"Price": [{"numeric": ["=", 100]}]}, {"Price": 100.0}, True),
    ("numeric/lambda-range-upper", {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20},
     True),
    ("numeric/lambda-range-lower-open", {"Price": [{"numeric": [">", 10, "<=", 20]}]},
     {"Price": 10}, False),
    ("numeric/lambda-temperature", {"data": {"Temperature": [{"numeric": [">", 50, "<=", 60]}]}},
     {"data": {"Temperature": 55.5}}, True),
    ("numeric/only-json-numbers", {"Price": [{"numeric": [">", 0]}]}, {"Price": "5"}, False),
    ("numeric/not-booleans", {"Price": [{"numeric": [">", 0]}]}, {"Price": True}, False),
    ("numeric/ge", {"n": [{"numeric": [">=", 1.5]}]}, {"n": 1.5}, True),
    ("numeric/lt", {"n": [{"numeric": ["<", -1]}]}, {"n": -1}, False),
    # exists
    ("exists/true", {"detail": {"state": [{"exists": True}]}}, EC2_TERMINATED, True),
    ("exists/true-missing", {"detail": {"state": [{"exists": True}]}},
     {"detail": {"c-count": {"c1": 100}}}, False),
    ("exists/false-missing", {"detail": {"c-count": [{"exists": False}]}}, EC2_TERMINATED, True),
    ("exists/false-not-leaf", {"detail": {"c-count": [{"exists": False}]}},
     {"detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}}}, True),
    ("exists/true-not-leaf", {"detail": {"c-count": [{"exists": True}]}},
     {"detail": {"c-count": {"c1": 100}}}, False),
    ("exists/false-present", {"detail": {"state": [{"exists": False}]}}, EC2_TERMINATED, False),
    ("exists/null-exists", {"detail": {"responseElements": [{"exists": True}]}}, AUTOSCALING, True),
    ("exists/false-parent-missing", {"detail": {"x": [{"exists": False}]}}, {"source": "a"}, True),
    # cidr
    ("cidr/in", {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}},
     {"detail": {"sourceIPAddress": "10.0.0.255"}}, True),
    ("cidr/out", {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}},
     {"detail": {"sourceIPAddress": "10.0.1.1"}}, False),
    ("cidr/ruler-complex", {"detail": {"source-ip": [{"cidr": "10.0.0.0/8"}]}}, EC2_RUNNING, True),
    ("cidr/not-an-ip", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "ten"}, False),
    ("cidr/ipv6", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"}, True),
    ("cidr/ipv6-out", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db9::1"}, False),
    ("cidr/version-mismatch", {"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": "::1"}, False),
    # $or
    ("or/top-level", {"$or": [{"source": ["aws.cloudwatch"]},
                              {"detail-type": ["EC2 Instance State-change Notification"]}]},
     EC2_RUNNING, True),
    ("or/none", {"$or": [{"source": ["aws.cloudwatch"]}, {"region": ["eu-west-1"]}]},
     EC2_RUNNING, False),
    ("or/nested-numeric", {"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                                              {"d-count": [{"numeric": ["<", 10]}]},
                                              {"x-limit": [{"numeric": ["=", 3.018e2]}]}]}},
     {"detail": {"c-count": 99, "x-limit": 301.8}}, True),
    ("or/and-outside", {"source": ["aws.cloudwatch"],
                        "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]},
     {"source": "aws.cloudwatch", "namespace": "AWS/EC2"}, True),
    ("or/and-outside-fails", {"source": ["aws.cloudwatch"],
                              "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]},
     {"source": "aws.ec2", "namespace": "AWS/EC2"}, False),
    ("or/and-inside", {"$or": [{"metricName": ["CPUUtilization"]},
                               {"metricType": ["MetricType"], "namespace": ["AWS/EC2"]}]},
     {"metricType": "MetricType", "namespace": "AWS/ES"}, False),
    ("or/nested-or", {"source": ["aws.cloudwatch"],
                      "$or": [{"metricName": ["CPUUtilization"]},
                              {"namespace": ["AWS/EC2"],
                               "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]}]},
     {"source": "aws.cloudwatch", "namespace": "AWS/EC2", "spaceId": 1000}, True),
    # the complex example of "Content filtering"
    ("complex/content-filtering", {
        "time": [{"prefix": "2017-10-02"}],
        "detail": {"state": [{"anything-but": "initializing"}],
                   "c-count": [{"numeric": [">", 0, "<=", 5]}],
                   "d-count": [{"numeric": ["<", 10]}],
                   "x-limit": [{"anything-but": [100, 200, 300]}]}}, EC2_RUNNING, True),
    ("complex/not-an-object", {"a": [1]}, "a string event", False),
]


@pytest.mark.parametrize(("pattern", "event", "expected"),
                         [pytest.param(p, e, x, id=i) for i, p, e, x in OPERATOR_CASES])
def test_operator_examples(pattern: dict[str, Any], event: Any, expected: bool) -> None:
    criteria = FilterCriteria(pattern)
    assert criteria.matches(event) is expected
    assert matches_event(criteria, event) is expected
    # The same pattern given as JSON text compiles to the same criteria.
    assert FilterCriteria(json.dumps(pattern)) == criteria


def test_duplicate_keys_last_one_wins() -> None:
    # "Content filtering": a key given twice is evaluated with its last value only.
    criteria = FilterCriteria(
        '{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}')
    assert criteria.matches({"detail": {"location": "eu-west"}})
    assert not criteria.matches({"detail": {"location": "us-east"}})


# --- Lambda's per-source rules ---------------------------------------------------------------

#: "Using event filtering with an Amazon SQS event source".
SQS_RECORD: dict[str, Any] = {
    "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
    "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
    "body": '{\n "RecordNumber": 1234,\n "TimeStamp": "yyyy-mm-ddThh:mm:ss",\n '
            '"RequestCode": "AAAA"\n}',
    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
                   "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                   "ApproximateFirstReceiveTimestamp": "1545082649185"},
    "messageAttributes": {},
    "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
    "eventSource": "aws:sqs",
    "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:my-queue",
    "awsRegion": "us-west-2",
}
SQS_PLAIN = {**SQS_RECORD, "body": "Result: all good"}


@pytest.mark.parametrize(("pattern", "record", "expected"), [
    pytest.param({"body": {"RequestCode": ["BBBB"]}}, SQS_RECORD, False, id="doc-bbbb"),
    pytest.param({"body": {"RequestCode": ["AAAA"]}}, SQS_RECORD, True, id="doc-aaaa"),
    pytest.param({"body": {"RecordNumber": [{"numeric": [">", 9999]}]}}, SQS_RECORD, False,
                 id="doc-record-number"),
    pytest.param({"body": {"RecordNumber": [{"numeric": [">", 999]}]}}, SQS_RECORD, True,
                 id="record-number-match"),
    # The format table: (body, pattern for body) -> filter / drop / metadata only.
    pytest.param({"body": [{"prefix": "Result: "}]}, SQS_PLAIN, True, id="plain-plain-filter"),
    pytest.param({"body": ["Result: nope"]}, SQS_PLAIN, False, id="plain-plain-no-match"),
    pytest.param({"awsRegion": ["us-west-2"]}, SQS_PLAIN, True, id="plain-metadata-only"),
    pytest.param({"body": {"x": [{"exists": False}]}}, SQS_PLAIN, False, id="plain-json-drop"),
    pytest.param({"body": [{"prefix": "{"}]}, SQS_RECORD, False, id="json-plain-drop"),
    pytest.param({"body": [{"exists": True}]}, SQS_RECORD, False, id="json-plain-exists-drop"),
    pytest.param({"awsRegion": ["us-west-2"]}, SQS_RECORD, True, id="json-metadata-only"),
    pytest.param({"awsRegion": ["eu-west-1"]}, SQS_RECORD, False, id="json-metadata-no-match"),
    pytest.param({"attributes": {"ApproximateReceiveCount": ["1"]},
                  "body": {"RequestCode": ["AAAA"]}}, SQS_RECORD, True, id="metadata-and-body"),
    pytest.param({"body": {"a": [2]}}, {"body": '[{"a": 1}, {"a": 2}]'}, True, id="json-array-body"),
    pytest.param({"body": ["123"]}, {"body": "123"}, True, id="json-scalar-is-plain"),
    pytest.param({"body": [{"exists": False}]}, {"messageId": "1"}, True, id="no-body"),
    pytest.param({"body": {"a": [1]}}, {"body": {"a": 1}}, True, id="already-decoded-body"),
])
def test_sqs(pattern: dict[str, Any], record: dict[str, Any], expected: bool) -> None:
    assert matches_sqs(FilterCriteria(pattern), record) is expected


def test_sqs_mixed_body_shapes_in_or() -> None:
    criteria = FilterCriteria({"$or": [{"body": {"kind": ["json"]}}, {"body": ["plain"]}]})
    assert matches_sqs(criteria, {"body": '{"kind": "json"}'})
    assert matches_sqs(criteria, {"body": "plain"})
    assert not matches_sqs(criteria, {"body": "other"})


def test_sqs_body_is_parsed_once_per_record(monkeypatch: pytest.MonkeyPatch) -> None:
    criteria = FilterCriteria({"body": {"a": [1]}}, {"body": {"b": [2]}}, {"body": {"c": [3]}})
    calls = []
    real_loads = json.loads

    def counting_loads(s: str | bytes, **kw: Any) -> Any:
        calls.append(s)
        return real_loads(s, **kw)

    monkeypatch.setattr(json, "loads", counting_loads)
    assert matches_sqs(criteria, {"body": '{"c": 3}'})
    assert not matches_sqs(criteria, {"body": '{"d": 4}'})
    assert len(calls) == 2


def _b64(data: bytes | str | dict[str, Any]) -> str:
    if isinstance(data, dict):
        data = json.dumps(data)
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


#: "Using event filtering with a Kinesis event source" (its own base64 data).
KINESIS_RECORD: dict[str, Any] = {
    "kinesis": {
        "kinesisSchemaVersion": "1.0", "partitionKey": "1",
        "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
        "data": "eyJSZWNvcmROdW1iZXIiOiAiMDAwMSIsICJUaW1lU3RhbXAiOiAieXl5eS1tbS1kZFRoaDptbTpzcy"
                "IsICJSZXF1ZXN0Q29kZSI6ICJBQUFBIn0=",
        "approximateArrivalTimestamp": 1545084650.987,
    },
    "eventSource": "aws:kinesis", "eventVersion": "1.0",
    "eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
    "eventName": "aws:kinesis:record",
    "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role", "awsRegion": "us-east-2",
    "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream",
}


def _kinesis(data: str, partition_key: str = "1") -> dict[str, Any]:
    return {**KINESIS_RECORD, "kinesis": {**KINESIS_RECORD["kinesis"], "data": data,
                                          "partitionKey": partition_key}}


ORDER = _b64({"record": 12345, "order": {"type": "buy", "stock": "ANYCO", "quantity": 1000}})


@pytest.mark.parametrize(("pattern", "record", "expected"), [
    pytest.param({"data": {"RequestCode": ["AAAA"]}}, KINESIS_RECORD, True, id="doc-record"),
    pytest.param({"data": {"RecordNumber": ["0001"]}}, KINESIS_RECORD, True, id="doc-string-number"),
    pytest.param({"data": {"order": {"type": ["buy"]}}}, _kinesis(ORDER), True, id="doc-order-buy"),
    pytest.param({"data": {"order": {"type": ["sell"]}}}, _kinesis(ORDER), False, id="order-sell"),
    pytest.param({"data": {"order": {"quantity": [{"numeric": [">=", 1000]}]}}}, _kinesis(ORDER),
                 True, id="order-quantity"),
    pytest.param({"partitionKey": ["1"], "data": {"Location": ["Los Angeles"]}},
                 _kinesis(_b64({"Location": "Los Angeles"})), True, id="doc-partition-and-data"),
    pytest.param({"partitionKey": ["1"], "data": {"Location": ["Los Angeles"]}},
                 _kinesis(_b64({"Location": "Los Angeles"}), "2"), False, id="doc-partition-miss"),
    pytest.param({"data": {"Temperature": [{"numeric": [">", 50, "<=", 60]}]}},
                 _kinesis(_b64({"Temperature": 60})), True, id="doc-temperature"),
    # Non-JSON data: dropped by data patterns, filtered on metadata by the others.
    pytest.param({"data": {"a": [{"exists": False}]}}, _kinesis(_b64("hello")), False,
                 id="non-json-data-pattern"),
    pytest.param({"partitionKey": ["1"]}, _kinesis(_b64("hello")), True, id="non-json-metadata"),
    pytest.param({"data": {"a": [1]}}, _kinesis("!!not base64!!"), False, id="bad-base64"),
    pytest.param({"partitionKey": ["1"]}, _kinesis("!!not base64!!"), True, id="bad-base64-meta"),
    pytest.param({"data": [{"prefix": "h"}]}, _kinesis(_b64(b"\xff\xfe")), False, id="not-utf8"),
    pytest.param({"data": {"a": [1]}}, {"partitionKey": "1", "data": _b64({"a": 1})}, True,
                 id="bare-kinesis-object"),
])
def test_kinesis(pattern: dict[str, Any], record: dict[str, Any], expected: bool) -> None:
    assert matches_kinesis(FilterCriteria(pattern), record) is expected


#: "Using event filtering with a DynamoDB event source".
DDB_RECORD: dict[str, Any] = {
    "eventID": "1", "eventVersion": "1.0", "eventName": "INSERT",
    "dynamodb": {
        "ApproximateCreationDateTime": "1678831218.0",
        "Keys": {"CustomerName": {"S": "AnyCompany Industries"}},
        "NewImage": {"AccountManager": {"S": "Pat Candella"}, "PaymentTerms": {"S": "60 days"},
                     "CustomerName": {"S": "AnyCompany Industries"},
                     "Active": {"BOOL": True}, "Id": {"N": "101"},
                     "Address": {"M": {"City": {"S": "Seattle"}}}},
        "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_IMAGE",
    },
}


@pytest.mark.parametrize(("pattern", "expected"), [
    pytest.param({"dynamodb": {"Keys": {"CustomerName": {"S": ["AnyCompany Industries"]}}}}, True,
                 id="doc-keys"),
    pytest.param({"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella"]}}}}, True,
                 id="doc-new-image"),
    pytest.param({"dynamodb": {"NewImage": {"PaymentTerms": {"S": [{"prefix": "30"}]}}}}, False,
                 id="payment-terms-prefix"),
    pytest.param({"dynamodb": {"NewImage": {"Id": {"N": ["101"]}}}}, True, id="doc-number-string"),
    pytest.param({"dynamodb": {"NewImage": {"Id": {"N": [101]}}}}, False, id="n-is-a-string"),
    pytest.param({"dynamodb": {"NewImage": {"Id": {"N": [{"numeric": [">", 100]}]}}}}, False,
                 id="numeric-does-not-apply-to-n"),
    pytest.param({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"Active": {"BOOL": [True]}}}},
                 True, id="cdk-eventname-bool"),
    pytest.param({"eventName": ["MODIFY"]}, False, id="eventname-modify"),
    pytest.param({"dynamodb": {"NewImage": {"AccountManager": {"S": [{"exists": True}]}}}}, True,
                 id="exists"),
    pytest.param({"dynamodb": {"NewImage": {"Missing": {"S": [{"exists": False}]}}}}, True,
                 id="not-exists"),
    pytest.param({"dynamodb": {"NewImage": {"Address": {"M": {"City": {"S": ["Seattle"]}}}}}},
                 True, id="map-attribute"),
])
def test_dynamodb(pattern: dict[str, Any], expected: bool) -> None:
    assert matches_dynamodb(FilterCriteria(pattern), DDB_RECORD) is expected


def test_mq_and_kafka() -> None:
    # "Filter events from an Amazon MQ event source" and the Kafka page.
    timeout = FilterCriteria({"data": {"timeout": [{"numeric": [">", 0]}]}})
    assert not matches_mq(timeout, {"messageID": "1", "data": _b64({"timeout": 0,
                                                                    "IPAddress": "203.0.113.254"})})
    assert matches_mq(timeout, {"messageID": "1", "data": _b64({"timeout": 5})})
    result = FilterCriteria({"data": [{"prefix": "Result: "}]})
    assert matches_mq(result, {"data": _b64("Result: done")})
    assert not matches_mq(result, {"data": _b64({"Result": "done"})})
    device = FilterCriteria({"value": {"device_ID": ["AB1234"]}})
    value = _b64({"device_ID": "AB1234", "session": {"start_time": "t", "duration": 162}})
    assert matches_kafka(device, {"topic": "mytopic", "partition": 0, "offset": 15, "value": value})
    assert not matches_kafka(device, {"topic": "mytopic", "value": _b64("AB1234")})


def test_filters_are_ored() -> None:
    criteria = FilterCriteria({"a": ["x"]}, {"b": [{"numeric": [">", 1]}]}, '{"c": [null]}')
    assert criteria.matches({"a": "x"})
    assert criteria.matches({"b": 2})
    assert criteria.matches({"c": None})
    assert not criteria.matches({"a": "y", "b": 1, "c": 0})
    sqs = FilterCriteria({"body": {"k": ["v"]}}, {"messageId": ["m2"]})
    assert matches_sqs(sqs, {"messageId": "m1", "body": '{"k": "v"}'})
    assert matches_sqs(sqs, {"messageId": "m2", "body": "not json"})
    assert not matches_sqs(sqs, {"messageId": "m1", "body": "not json"})


# --- construction --------------------------------------------------------------------------


def test_lambda_shape_and_round_trip() -> None:
    lambda_shape = {"Filters": [{"Pattern": '{ "a" : [ 1, 2 ]}'}, {"Pattern": '{"b": ["x"]}'}]}
    criteria = FilterCriteria(lambda_shape)
    assert len(criteria) == 2
    assert criteria.to_dict() == {"Filters": [{"Pattern": '{"a":[1,2]}'}, {"Pattern": '{"b":["x"]}'}]}
    assert FilterCriteria(criteria.to_dict()) == criteria
    assert FilterCriteria({"Pattern": '{"a": [1, 2]}'}, '{"b":["x"]}') == criteria
    assert FilterCriteria({"a": [1, 2]}, {"b": ["x"]}) == criteria
    assert hash(FilterCriteria({"a": [1, 2]}, {"b": ["x"]})) == hash(criteria)
    assert criteria.patterns == ('{"a":[1,2]}', '{"b":["x"]}')
    assert "FilterCriteria(" in repr(criteria)
    assert pickle.loads(pickle.dumps(criteria)) == criteria
    assert copy.deepcopy(criteria) == criteria
    # A pattern on a field literally named "Filters" is still a pattern.
    assert FilterCriteria({"Filters": ["x"]}).matches({"Filters": "x"})


def test_no_filters_match_everything() -> None:
    for criteria in (FilterCriteria(), FilterCriteria({"Filters": []})):
        assert len(criteria) == 0
        assert criteria.matches({"anything": 1})
        assert matches_sqs(criteria, {"body": "x"})
        assert matches_kinesis(criteria, KINESIS_RECORD)


def test_criteria_are_immutable() -> None:
    criteria = FilterCriteria({"a": [1]})
    with pytest.raises(AttributeError):
        criteria._patterns = ()
    with pytest.raises(AttributeError):
        criteria.other = 1


def test_at_most_five_filters() -> None:
    patterns = [{f"k{i}": [i]} for i in range(MAX_FILTERS + 1)]
    assert len(FilterCriteria(*patterns[:MAX_FILTERS])) == MAX_FILTERS
    with pytest.raises(ConfigError) as info:
        FilterCriteria(*patterns)
    assert (info.value.field, info.value.value) == ("filter_criteria.filters", 6)
    assert info.value.reason == "at most 5 filters per event source mapping"
    with pytest.raises(ConfigError):
        FilterCriteria({"Filters": [{"Pattern": json.dumps(p)} for p in patterns]})


def test_pattern_length_limit() -> None:
    FilterCriteria({"a": ["x" * 4000]})
    with pytest.raises(ConfigError) as info:
        FilterCriteria({"a": ["x" * 4100]})
    assert info.value.field == "filter_criteria.filters[0]"


F0 = "filter_criteria.filters[0]"

# (id, pattern, field, value)
INVALID: list[tuple[str, Any, str, Any]] = [
    ("not-json", "{nope", F0, "{nope"),
    ("nan-literal", '{"a": [NaN]}', F0, '{"a": [NaN]}'),
    ("not-an-object", "[1]", F0, [1]),
    ("json-string", '"x"', F0, "x"),
    ("not-str-or-dict", 5, F0, 5),
    ("not-serializable", {"a": [object]}, F0, {"a": [object]}),
    ("empty-object", {}, F0, {}),
    ("leaf-not-array", {"a": "x"}, f"{F0}.a", "x"),
    ("leaf-number", {"a": {"b": 5}}, f"{F0}.a.b", 5),
    ("nested-empty-object", {"a": {}}, f"{F0}.a", {}),
    ("empty-array", {"a": []}, f"{F0}.a", []),
    ("nested-array-value", {"a": [["x"]]}, f"{F0}.a", ["x"]),
    ("unknown-operator", {"a": [{"contains": "x"}]}, f"{F0}.a", {"contains": "x"}),
    ("two-operators", {"a": [{"prefix": "x", "suffix": "y"}]}, f"{F0}.a",
     {"prefix": "x", "suffix": "y"}),
    ("empty-operator", {"a": [{}]}, f"{F0}.a", {}),
    ("prefix-number", {"a": [{"prefix": 1}]}, f"{F0}.a", {"prefix": 1}),
    ("prefix-unknown-sub", {"a": [{"prefix": {"wildcard": "x"}}]}, f"{F0}.a",
     {"prefix": {"wildcard": "x"}}),
    ("suffix-list", {"a": [{"suffix": ["x"]}]}, f"{F0}.a", {"suffix": ["x"]}),
    ("equals-ignore-case-number", {"a": [{"equals-ignore-case": 1}]}, f"{F0}.a",
     {"equals-ignore-case": 1}),
    ("wildcard-consecutive", {"a": [{"wildcard": "a**b"}]}, f"{F0}.a", {"wildcard": "a**b"}),
    ("wildcard-bad-escape", {"a": [{"wildcard": "a\\b"}]}, f"{F0}.a", {"wildcard": "a\\b"}),
    ("wildcard-trailing-backslash", {"a": [{"wildcard": "a\\"}]}, f"{F0}.a", {"wildcard": "a\\"}),
    ("wildcard-number", {"a": [{"wildcard": 5}]}, f"{F0}.a", {"wildcard": 5}),
    ("anything-but-bool", {"a": [{"anything-but": True}]}, f"{F0}.a", {"anything-but": True}),
    ("anything-but-null", {"a": [{"anything-but": None}]}, f"{F0}.a", {"anything-but": None}),
    ("anything-but-empty", {"a": [{"anything-but": []}]}, f"{F0}.a", {"anything-but": []}),
    ("anything-but-mixed", {"a": [{"anything-but": ["x", 1]}]}, f"{F0}.a",
     {"anything-but": ["x", 1]}),
    ("anything-but-unknown", {"a": [{"anything-but": {"numeric": [">", 1]}}]}, f"{F0}.a",
     {"anything-but": {"numeric": [">", 1]}}),
    ("anything-but-two-ops", {"a": [{"anything-but": {"prefix": "x", "suffix": "y"}}]}, f"{F0}.a",
     {"anything-but": {"prefix": "x", "suffix": "y"}}),
    ("anything-but-empty-prefix", {"a": [{"anything-but": {"prefix": ""}}]}, f"{F0}.a",
     {"anything-but": {"prefix": ""}}),
    ("anything-but-prefix-number", {"a": [{"anything-but": {"prefix": 1}}]}, f"{F0}.a",
     {"anything-but": {"prefix": 1}}),
    ("anything-but-bad-wildcard", {"a": [{"anything-but": {"wildcard": ["x**"]}}]}, f"{F0}.a",
     {"anything-but": {"wildcard": ["x**"]}}),
    ("numeric-not-array", {"a": [{"numeric": ">"}]}, f"{F0}.a", {"numeric": ">"}),
    ("numeric-string-bound", {"a": [{"numeric": [">", "x"]}]}, f"{F0}.a", {"numeric": [">", "x"]}),
    ("numeric-bool-bound", {"a": [{"numeric": [">", True]}]}, f"{F0}.a", {"numeric": [">", True]}),
    ("numeric-unknown-op", {"a": [{"numeric": ["!=", 1]}]}, f"{F0}.a", {"numeric": ["!=", 1]}),
    ("numeric-odd-length", {"a": [{"numeric": [">", 1, "<"]}]}, f"{F0}.a",
     {"numeric": [">", 1, "<"]}),
    ("numeric-too-long", {"a": [{"numeric": [">", 1, "<", 5, "<", 6]}]}, f"{F0}.a",
     {"numeric": [">", 1, "<", 5, "<", 6]}),
    ("numeric-wrong-order", {"a": [{"numeric": ["<", 5, ">", 1]}]}, f"{F0}.a",
     {"numeric": ["<", 5, ">", 1]}),
    ("numeric-equals-in-range", {"a": [{"numeric": ["=", 1, "<", 2]}]}, f"{F0}.a",
     {"numeric": ["=", 1, "<", 2]}),
    ("numeric-empty-range", {"a": [{"numeric": [">=", 5, "<=", 5]}]}, f"{F0}.a",
     {"numeric": [">=", 5, "<=", 5]}),
    ("exists-string", {"a": [{"exists": "true"}]}, f"{F0}.a", {"exists": "true"}),
    ("cidr-no-slash", {"a": [{"cidr": "10.0.0.0"}]}, f"{F0}.a", {"cidr": "10.0.0.0"}),
    ("cidr-mask-too-long", {"a": [{"cidr": "10.0.0.0/33"}]}, f"{F0}.a", {"cidr": "10.0.0.0/33"}),
    ("cidr-not-ip", {"a": [{"cidr": "host/8"}]}, f"{F0}.a", {"cidr": "host/8"}),
    ("cidr-netmask-form", {"a": [{"cidr": "10.0.0.0/255.0.0.0"}]}, f"{F0}.a",
     {"cidr": "10.0.0.0/255.0.0.0"}),
    ("cidr-number", {"a": [{"cidr": 10}]}, f"{F0}.a", {"cidr": 10}),
    ("or-not-array", {"$or": {"a": [1]}}, f"{F0}.$or", {"a": [1]}),
    ("or-one-branch", {"$or": [{"a": [1]}]}, f"{F0}.$or", [{"a": [1]}]),
    ("or-branch-not-object", {"$or": [{"a": [1]}, 5]}, f"{F0}.$or[1]", 5),
    ("or-empty-branch", {"$or": [{"a": [1]}, {}]}, f"{F0}.$or[1]", {}),
    ("or-reserved-field", {"$or": [{"numeric": [123]}, {"prefix": ["abc"]}]},
     f"{F0}.$or[0].numeric", [123]),
    ("doc-example-nested", {"body": {"price": [{"numeric": [">", "x"]}]}}, f"{F0}.body.price",
     {"numeric": [">", "x"]}),
]


@pytest.mark.parametrize(("pattern", "field", "value"),
                         [pytest.param(p, f, v, id=i) for i, p, f, v in INVALID])
def test_invalid_patterns(pattern: Any, field: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        FilterCriteria(pattern)
    assert info.value.field == field
    assert info.value.value == value
    assert field in str(info.value)


def test_invalid_pattern_names_its_filter_index() -> None:
    with pytest.raises(ConfigError) as info:
        FilterCriteria({"a": [1]}, {"Filters": "x"}, '{"b": 1}')
    assert info.value.field == "filter_criteria.filters[1].Filters"
    with pytest.raises(ConfigError) as info:
        FilterCriteria({"Filters": [{"Pattern": '{"a": [1]}'}, {"Pattern": '{"b": [{"exists": 1}]}'}]})
    assert info.value.field == "filter_criteria.filters[1].b"


# --- properties ----------------------------------------------------------------------------

keys = st.text(alphabet="abcdefgh", min_size=1, max_size=3)
scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4),
    max_leaves=16,
)
events = st.dictionaries(keys, json_values, max_size=5)
numbers = st.integers(-(10**6), 10**6) | st.floats(-1e9, 1e9, allow_nan=False)


def _leaf_paths(event: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, one leaf value) for each field reachable through objects only."""
    out: list[tuple[tuple[str, ...], Any]] = []
    for key, value in event.items():
        if isinstance(value, dict):
            out.extend(_leaf_paths(value, (*prefix, key)))
        elif isinstance(value, list):
            flat = [v for v in _flatten(value) if not isinstance(v, dict)]
            if flat:
                out.append(((*prefix, key), flat[0]))
        else:
            out.append(((*prefix, key), value))
    return out


def _flatten(values: list[Any]) -> list[Any]:
    return [x for v in values for x in (_flatten(v) if isinstance(v, list) else [v])]


def _pattern_from(paths: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    pattern: dict[str, Any] = {}
    for path, value in paths:
        node = pattern
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = [value]
    return pattern


@given(events, st.data())
def test_pattern_of_own_leaves_matches(event: dict[str, Any], data: st.DataObject) -> None:
    paths = _leaf_paths(event)
    assume(paths)
    chosen = data.draw(st.lists(st.sampled_from(paths), min_size=1, unique_by=lambda p: p[0]))
    criteria = FilterCriteria(json.dumps(_pattern_from(chosen)))
    assert criteria.matches(event)
    assert matches_sqs(FilterCriteria({"body": _pattern_from(chosen)}), {"body": json.dumps(event)})


@given(scalars, st.text(max_size=4) | numbers)
def test_anything_but_is_the_negation_of_exact(value: Any, excluded: Any) -> None:
    event = {"f": value}
    exact = FilterCriteria({"f": [excluded]}).matches(event)
    assert FilterCriteria({"f": [{"anything-but": excluded}]}).matches(event) is not exact
    assert FilterCriteria({"f": [{"anything-but": [excluded]}]}).matches(event) is not exact


@given(st.text(alphabet="aAbB", max_size=6), st.text(alphabet="aAbB", max_size=3))
def test_prefix_and_suffix_agree_with_str(value: str, affix: str) -> None:
    event = {"f": value}
    assert FilterCriteria({"f": [{"prefix": affix}]}).matches(event) is value.startswith(affix)
    assert FilterCriteria({"f": [{"suffix": affix}]}).matches(event) is value.endswith(affix)
    folded, affix_folded = value.casefold(), affix.casefold()
    ci_prefix = FilterCriteria({"f": [{"prefix": {"equals-ignore-case": affix}}]})
    assert ci_prefix.matches(event) is folded.startswith(affix_folded)
    ci_suffix = FilterCriteria({"f": [{"suffix": {"equals-ignore-case": affix}}]})
    assert ci_suffix.matches(event) is folded.endswith(affix_folded)
    if affix:
        ab_prefix = FilterCriteria({"f": [{"anything-but": {"prefix": affix}}]})
        assert ab_prefix.matches(event) is not value.startswith(affix)


@given(st.text(alphabet="ab*", max_size=6).filter(lambda w: "**" not in w),
       st.text(alphabet="ab", max_size=8))
def test_wildcard_agrees_with_a_regex(wildcard: str, value: str) -> None:
    regex = ".*".join(re.escape(part) for part in wildcard.split("*"))
    expected = re.fullmatch(regex, value, re.DOTALL) is not None
    assert FilterCriteria({"f": [{"wildcard": wildcard}]}).matches({"f": value}) is expected


COMPARE = {"=": lambda v, b: v == b, "<": lambda v, b: v < b, "<=": lambda v, b: v <= b,
           ">": lambda v, b: v > b, ">=": lambda v, b: v >= b}


@given(numbers, numbers, numbers, st.sampled_from([">", ">="]), st.sampled_from(["<", "<="]),
       st.sampled_from(sorted(COMPARE)))
def test_numeric_agrees_with_python(value: float, a: float, b: float, lower: str, upper: str,
                                    single: str) -> None:
    event = {"f": value}
    assert FilterCriteria({"f": [{"numeric": [single, a]}]}).matches(event) \
        is COMPARE[single](value, a)
    lo, hi = min(a, b), max(a, b)
    assume(lo < hi)
    in_range = COMPARE[lower](value, lo) and COMPARE[upper](value, hi)
    assert FilterCriteria({"f": [{"numeric": [lower, lo, upper, hi]}]}).matches(event) is in_range


alternatives = (scalars | st.builds(lambda s: {"prefix": s}, st.text(max_size=2))
                | st.builds(lambda b: {"exists": b}, st.booleans())
                | st.builds(lambda n: {"numeric": [">", n]}, numbers)
                | st.builds(lambda s: {"anything-but": s}, st.text(max_size=2)))
simple_patterns = st.recursive(
    st.dictionaries(keys, st.lists(alternatives, min_size=1, max_size=3), min_size=1, max_size=2),
    lambda children: st.dictionaries(keys, children, min_size=1, max_size=2),
    max_leaves=4,
)


@given(st.lists(simple_patterns, min_size=1, max_size=MAX_FILTERS), events)
def test_filters_or_equals_any_single_filter(patterns: list[dict[str, Any]],
                                             event: dict[str, Any]) -> None:
    combined = FilterCriteria(*patterns).matches(event)
    assert combined is any(FilterCriteria(p).matches(event) for p in patterns)
