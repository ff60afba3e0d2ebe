"""The partial batch response rules (Lambda's "Implementing partial batch
responses" and "Reporting batch item failures"): a table of responses and their outcomes."""

from __future__ import annotations

import pytest

from asynclambda.sources.batch_response import read_batch_response

IDS = {"a", "b", "c"}


@pytest.mark.parametrize(("raw", "kind", "failed"), [
    # complete success
    (b"null", "success", ()),
    (b"", "success", ()),
    (b"{}", "success", ()),
    (b'{"batchItemFailures": []}', "success", ()),
    (b'{"batchItemFailures": null}', "success", ()),
    (b'{"statusCode": 200}', "success", ()),
    # partial
    (b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', "partial", ("b",)),
    (b'{"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "a"},'
     b' {"itemIdentifier": "c"}]}', "partial", ("c", "a")),
    # complete failure: malformed responses
    (b"not json", "failure", ()),
    (b'{"batchItemFailures": [', "failure", ()),
    (b'"ok"', "failure", ()),
    (b"[1, 2]", "failure", ()),
    (b"42", "failure", ()),
    (b'{"batchItemFailures": "a"}', "failure", ()),
    (b'{"batchItemFailures": {"itemIdentifier": "a"}}', "failure", ()),
    (b'{"batchItemFailures": ["a"]}', "failure", ()),
    (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', "failure", ()),
    (b'{"batchItemFailures": [{"itemIdentifier": null}]}', "failure", ()),
    (b'{"batchItemFailures": [{"itemidentifier": "a"}]}', "failure", ()),
    (b'{"batchItemFailures": [{"id": "a"}]}', "failure", ()),
    (b'{"batchItemFailures": [{"itemIdentifier": 7}]}', "failure", ()),
    (b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}', "failure", ()),
    (b'{"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": ""}]}', "failure", ()),
])
def test_batch_response_rules(raw: bytes, kind: str, failed: tuple[str, ...]) -> None:
    outcome = read_batch_response(raw, IDS, report_batch_item_failures=True)
    assert outcome.kind == kind, outcome.reason
    assert outcome.failed == failed
    if kind == "failure":
        assert outcome.reason


@pytest.mark.parametrize("raw", [b"not json", b'{"batchItemFailures": "x"}', b'"ok"'])
def test_without_reporting_any_response_is_success(raw: bytes) -> None:
    assert read_batch_response(raw, IDS, report_batch_item_failures=False).ok


@pytest.mark.parametrize(("raw", "kind", "state"), [
    (b'{"state": {"n": 1}}', "success", {"n": 1}),
    (b'{"state": {}, "batchItemFailures": []}', "success", {}),
    (b'{"state": null}', "success", {}),
    (b"{}", "failure", None),
    (b"null", "failure", None),
    (b'{"state": [1]}', "failure", None),
    (b'{"state": {"n": 2}, "batchItemFailures": [{"itemIdentifier": "b"}]}', "partial", {"n": 2}),
])
def test_tumbling_window_responses_need_state(raw: bytes, kind: str,
                                              state: dict[str, int] | None) -> None:
    outcome = read_batch_response(raw, IDS, report_batch_item_failures=True,
                                  tumbling_window=True)
    assert outcome.kind == kind
    assert outcome.state == state
