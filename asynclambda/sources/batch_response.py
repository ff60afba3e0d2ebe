"""Reading a handler's response to a batch: partial batch failures and tumbling-window state.

Pure functions, no I/O: a mapping hands over the raw response bytes and the identifiers of the
batch, and gets back a :class:`BatchOutcome`. The rules are Lambda's ("Implementing partial batch
responses", SQS; "Reporting batch item failures", Kinesis and DynamoDB):

* **complete success**: a ``null`` response, an empty object, ``batchItemFailures`` absent,
  ``null`` or ``[]`` (and any other members ignored, e.g. ``{"statusCode": 200}``);
* **complete failure**: the response is not valid JSON, or valid JSON that is not an object or
  ``null`` (Lambda cannot read it as its batch response type); ``batchItemFailures`` is not a list;
  an entry is not an object, lacks ``itemIdentifier`` (a bad key name), or its ``itemIdentifier``
  is ``null``, empty, not a string, or not the id of a record in the batch ("an itemIdentifier
  value with a message ID that doesn't exist"); and of course a function error;
* **partial failure**: otherwise; the listed items are the failed ones.

Lambda documents the "doesn't exist" rule for SQS only; for streams we apply it too (an unknown
sequence number cannot name a checkpoint, so nothing else would be safe).

With a tumbling window the response must also carry ``state`` (an object); without it, Lambda
"considers this a failed invocation". ``state: null`` is read as an empty state (*ours*: the
docs do not say).

Sources: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, Literal

import msgspec

__all__ = ["BatchOutcome", "read_batch_response"]

_decode = msgspec.json.Decoder().decode


class BatchOutcome(msgspec.Struct, frozen=True):
    """How a batch ended. ``kind`` is ``"success"``, ``"partial"`` or ``"failure"``;
    ``failed`` lists the failed item identifiers of a partial failure (in the handler's order,
    without duplicates); ``reason`` says why a response counts as a complete failure; ``state``
    is the tumbling-window state the handler returned (``None`` without a window)."""

    kind: Literal["success", "partial", "failure"]
    failed: tuple[str, ...] = ()
    reason: str = ""
    state: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "success"


def _failure(reason: str) -> BatchOutcome:
    return BatchOutcome("failure", reason=reason)


def read_batch_response(raw: bytes, identifiers: Container[str], *,
                        report_batch_item_failures: bool, tumbling_window: bool = False
                        ) -> BatchOutcome:
    """Classify a successful invocation's response (``raw``: the response bytes).

    ``identifiers`` are the batch's ``messageId``\\ s (SQS) or sequence numbers (streams).
    Without ``report_batch_item_failures`` the response is not read for failures (any response
    is a success, as on Lambda), but a tumbling window still needs its ``state``.
    """
    if not report_batch_item_failures and not tumbling_window:
        return BatchOutcome("success")
    try:
        value = _decode(raw) if raw else None
    except msgspec.DecodeError as exc:
        return _failure(f"the response is not valid JSON: {exc}")
    if value is not None and not isinstance(value, dict):
        return _failure(f"the response is a JSON {type(value).__name__}, not an object")
    state: dict[str, Any] | None = None
    if tumbling_window:
        if value is None or "state" not in value:
            return _failure("a tumbling-window response must contain 'state'")
        raw_state = value["state"]
        if raw_state is not None and not isinstance(raw_state, dict):
            return _failure(f"'state' must be an object, not {type(raw_state).__name__}")
        state = raw_state if raw_state is not None else {}
    if not report_batch_item_failures or value is None:
        return BatchOutcome("success", state=state)
    failures = value.get("batchItemFailures")
    if failures is None or failures == []:
        return BatchOutcome("success", state=state)
    if not isinstance(failures, list):
        return _failure(f"'batchItemFailures' must be a list, not {type(failures).__name__}")
    failed: dict[str, None] = {}
    for i, entry in enumerate(failures):
        if not isinstance(entry, dict):
            return _failure(f"batchItemFailures[{i}] is not an object")
        if "itemIdentifier" not in entry:
            return _failure(f"batchItemFailures[{i}] has no 'itemIdentifier' "
                            f"(keys: {sorted(entry)})")
        ident = entry["itemIdentifier"]
        if ident is None or ident == "":
            return _failure(f"batchItemFailures[{i}].itemIdentifier is null or empty")
        if not isinstance(ident, str):
            return _failure(f"batchItemFailures[{i}].itemIdentifier is not a string: {ident!r}")
        if ident not in identifiers:
            return _failure(f"batchItemFailures[{i}].itemIdentifier {ident!r} is not in the batch")
        failed[ident] = None
    return BatchOutcome("partial", tuple(failed), state=state)
