"""The JSON a stream mapping produces: event records, tumbling-window members, failure records.

Shapes are Lambda's, from the Lambda Developer Guide ("Using Lambda with Kinesis Data Streams":
the example event, the example invocation record of a discarded batch, the time-window event;
"Using Lambda with DynamoDB": the DynamoDB invocation record with ``DDBStreamBatchInfo``):

* Kinesis record: ``kinesis`` {``kinesisSchemaVersion`` "1.0", ``partitionKey``,
  ``sequenceNumber``, ``data`` (base64), ``approximateArrivalTimestamp`` (epoch seconds, ms
  precision)}, ``eventSource`` "aws:kinesis", ``eventVersion`` "1.0", ``eventID``
  "shardId-...:seq", ``eventName`` "aws:kinesis:record", ``invokeIdentityArn``, ``awsRegion``,
  ``eventSourceARN``.
* DynamoDB record: as :class:`~asynclambda.sources.memory_table.MemoryTable` stored it (the
  ``Records[]`` entry DynamoDB Streams sends), with ``dynamodb.SequenceNumber`` filled in and
  ``awsRegion`` / the ARN's region and account set to the runtime's.
* Failure record (on-failure destination): ``requestContext`` {``requestId``, ``functionArn``,
  ``condition`` (``RetryAttemptsExhausted`` | ``RecordAgeExceeded``), ``approximateInvokeCount``},
  ``responseContext`` {``statusCode``, ``executedVersion``, ``functionError``}, ``version``
  "1.0", ``timestamp`` (ISO-8601, ms, ``Z``), and ``KinesisBatchInfo`` / ``DDBStreamBatchInfo``
  {``shardId``, ``startSequenceNumber``, ``endSequenceNumber``,
  ``approximateArrivalOfFirstRecord``, ``approximateArrivalOfLastRecord``, ``batchSize``,
  ``streamArn``}. Kinesis arrival times carry milliseconds, DynamoDB's whole seconds, as in the
  guide's two examples. *Ours*: a batch discarded before any invocation (its records were already
  too old) has ``approximateInvokeCount`` 0 and ``responseContext`` members ``null``; a record
  whose data is not a DynamoDB change record is discarded at once with condition
  ``InvalidRecord``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import math
from typing import Any, Literal

import msgspec

from asynclambda.sources.stream import StreamRecord

__all__ = ["EventFormat", "batch_info_record", "dynamodb_record", "iso_time", "kinesis_record",
           "window_bounds"]

EventFormat = Literal["kinesis", "dynamodb"]

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def iso_time(seconds: float, *, millis: bool = True) -> str:
    """``2019-11-14T00:38:04.835Z`` (or ``...:04Z`` with ``millis=False``) for epoch seconds."""
    when = _dt.datetime.fromtimestamp(seconds, _dt.UTC)
    if millis:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def kinesis_record(record: StreamRecord, *, arn: str, region: str,
                   identity_arn: str) -> dict[str, Any]:
    """One ``Records[]`` entry of a Kinesis event."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.partition_key,
            "sequenceNumber": record.sequence_number,
            "data": base64.b64encode(record.data).decode(),
            "approximateArrivalTimestamp": round(record.approximate_arrival_timestamp, 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{record.shard_id}:{record.sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": identity_arn,
        "awsRegion": region,
        "eventSourceARN": arn,
    }


def _round3(seconds: float) -> float:
    """``round(seconds, 3)``, the same float, without its decimal conversion (~0.3 us).

    ``y = seconds * 1000`` is within ``y * 2**-53`` (< 1e-3 below 4e9 s, the year 2096) of the
    exact product; unless ``y`` is within 1e-3 of a half-integer, the exact product then rounds to
    the same integer ``n`` as ``y``, and ``n / 1000`` (a correctly rounded division) is the float
    nearest ``n / 1000``, which is what ``round`` returns. Anything else goes to ``round``.
    """
    if 0.0 < seconds < 4e9:  # (0.0 and -0.0 keep their sign through round)
        y = seconds * 1000.0
        n = round(y)
        if abs(y - n) < 0.499:
            return n / 1000
    return round(seconds, 3)


def kinesis_record_tail(*, arn: str, region: str, identity_arn: str) -> bytes:
    """The members every record of one mapping shares, encoded once for
    :func:`encoded_kinesis_record`."""
    return (b',"eventName":"aws:kinesis:record","invokeIdentityArn":' + _encode(identity_arn)
            + b',"awsRegion":' + _encode(region) + b',"eventSourceARN":' + _encode(arn) + b"}")


def encoded_kinesis_record(record: StreamRecord, tail: bytes) -> bytes:
    """``_encode(kinesis_record(record, ...))``, the same bytes, in about half the time: the
    constant members are literal (``tail`` from :func:`kinesis_record_tail`), each variable one
    goes through the same encoder. A mapping without filters never needs the dict."""
    return b"".join((
        b'{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":', _encode(record.partition_key),
        b',"sequenceNumber":', _encode(record.sequence_number),
        # base64 needs no JSON escaping (b64encode(...).decode() without its wrapper)
        b',"data":"', binascii.b2a_base64(record.data, newline=False),
        b'","approximateArrivalTimestamp":', _encode(_round3(record.approximate_arrival_timestamp)),
        b'},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":',
        _encode(f"{record.shard_id}:{record.sequence_number}"), tail))


def dynamodb_record(record: StreamRecord, *, region: str, account_id: str) -> dict[str, Any]:
    """One ``Records[]`` entry of a DynamoDB Streams event; ``ValueError`` if the data is not a
    change record."""
    try:
        change = _decode(record.data)
    except msgspec.DecodeError as exc:
        raise ValueError(f"stream record data is not JSON: {exc}") from None
    if not isinstance(change, dict) or not isinstance(change.get("dynamodb"), dict):
        raise ValueError("stream record data is not a DynamoDB change record")
    change["dynamodb"]["SequenceNumber"] = record.sequence_number
    change["awsRegion"] = region
    arn = change.get("eventSourceARN")
    if isinstance(arn, str) and arn.startswith("arn:"):
        parts = arn.split(":", 5)
        if len(parts) == 6:
            parts[3], parts[4] = region, account_id
            change["eventSourceARN"] = ":".join(parts)
    return change


def window_bounds(arrival: float, seconds: float) -> tuple[float, float]:
    """The tumbling window ``[start, end)`` holding ``arrival``: windows are aligned to the epoch
    (Lambda sets boundaries from each record's arrival time in the stream)."""
    start = math.floor(arrival / seconds) * seconds
    return start, start + seconds


def window_member(start: float, end: float) -> dict[str, str]:
    """The event's ``window`` member: ISO-8601 ``start`` and ``end`` (``Z``)."""
    whole = start == int(start) and end == int(end)
    return {"start": iso_time(start, millis=not whole), "end": iso_time(end, millis=not whole)}


def batch_info_record(*, event_format: EventFormat, condition: str, request_id: str,
                      function_arn: str, invoke_count: int, status_code: int | None,
                      executed_version: str | None, function_error: str | None, now: float,
                      shard_id: str, records: list[StreamRecord], stream_arn: str
                      ) -> dict[str, Any]:
    """The on-failure destination record of a discarded batch (``records``, in order)."""
    millis = event_format == "kinesis"
    info = {
        "shardId": shard_id,
        "startSequenceNumber": records[0].sequence_number,
        "endSequenceNumber": records[-1].sequence_number,
        "approximateArrivalOfFirstRecord": iso_time(records[0].approximate_arrival_timestamp,
                                                    millis=millis),
        "approximateArrivalOfLastRecord": iso_time(records[-1].approximate_arrival_timestamp,
                                                   millis=millis),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": {
            "statusCode": status_code,
            "executedVersion": executed_version,
            "functionError": function_error,
        },
        "version": "1.0",
        "timestamp": iso_time(now),
        "KinesisBatchInfo" if event_format == "kinesis" else "DDBStreamBatchInfo": info,
    }
