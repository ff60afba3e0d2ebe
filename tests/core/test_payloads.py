"""Payloads in and out: the fast path agrees with the exact one, the exact one with the AWS
Python runtime's encoder, and nothing a payload holds can hang the loop or escape ``invoke``."""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import json
import math
from typing import Any

import pytest
import simplejson
from hypothesis import given
from hypothesis import strategies as st

import asynclambda as al
from asynclambda.payloads import (
    RESPONSE_LIMIT,
    SYNC_REQUEST_LIMIT,
    MarshalError,
    decode_request,
    encode_exact,
    encode_request,
    encode_response,
)

pytestmark = pytest.mark.anyio

Point = collections.namedtuple("Point", "x y")


class _AwsLambdaRicEncoder(simplejson.JSONEncoder):
    """The reference: ``awslambdaric``'s response encoder (lambda_runtime_marshaller.py), on
    simplejson with its settings for the python3.11 runtime."""

    def __init__(self, **options: Any) -> None:
        options.update(use_decimal=False, allow_nan=True)
        super().__init__(**options)

    def default(self, obj: Any) -> Any:
        if isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return math.nan
            return simplejson.RawJSON(str(obj))
        return super().default(obj)


def _aws(value: Any) -> tuple[str, Any]:
    """awslambdaric's ``LambdaMarshaller.marshal_response``: bytes pass through raw."""
    if isinstance(value, bytes):
        return ("raw", value)
    try:
        text = simplejson.dumps(value, cls=_AwsLambdaRicEncoder)
    except Exception:
        return ("error", None)
    return ("ok", _parse(text))


def _ours(encoder: Any, value: Any) -> tuple[str, Any]:
    try:
        raw = encoder(value)
    except MarshalError:
        return ("error", None)
    if isinstance(value, bytes):
        return ("raw", raw)
    return ("ok", _parse(raw))


def _parse(text: str | bytes) -> Any:
    """Decoded for comparison: numbers exact (Decimal), NaN/Infinity as markers."""
    return json.loads(text, parse_float=decimal.Decimal, parse_constant=lambda c: f"<{c}>")


_keys = st.one_of(st.text(max_size=5), st.integers(-5, 5), st.booleans(), st.none(),
                  st.floats(allow_nan=False, width=32), st.tuples(st.integers()))
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.floats(),  # NaN and infinities included
    st.decimals(),  # NaN, sNaN, infinities included
    st.binary(max_size=6),  # valid or invalid UTF-8
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=2),
    st.datetimes(), st.sets(st.integers(), max_size=2),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.builds(Point, inner, inner),
        st.dictionaries(_keys, inner, max_size=4),
        st.dictionaries(st.text(max_size=4), inner, max_size=4),
    ),
    max_leaves=12,
)


@given(_values)
def test_the_fast_path_agrees_with_the_exact_path(value: Any) -> None:
    assert _ours(encode_response, value) == _ours(encode_exact, value)


@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                              st.floats(allow_nan=False, allow_infinity=False)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.text(max_size=4), inner,
                                                            max_size=4)),
                    max_leaves=20))
def test_on_plain_json_both_paths_write_the_same_bytes(value: Any) -> None:
    assert encode_response(value) == encode_exact(value)


@given(_values)
def test_the_exact_path_agrees_with_the_aws_runtimes_encoder(value: Any) -> None:
    assert _ours(encode_exact, value) == _aws(value)


def test_decimal_nan_and_infinity_are_written_as_the_aws_runtime_writes_them() -> None:
    raw = encode_response({"a": decimal.Decimal("NaN"), "b": decimal.Decimal("-Infinity"),
                           "c": decimal.Decimal("1.10"), "d": float("inf")})
    assert raw == b'{"a":NaN,"b":-Infinity,"c":1.10,"d":Infinity}'


def test_user_strings_cannot_forge_an_internal_marker() -> None:
    # The old encoder carried Decimals through json as marked strings; user text looking like
    # the marker corrupted the output.
    forged = "\x00asynclambda-decimal:1\x00"
    raw = encode_response({"s": forged, "d": decimal.Decimal("2.5")})
    assert json.loads(raw) == {"s": forged, "d": 2.5}


def test_a_lone_surrogate_is_written_escaped() -> None:
    assert encode_response({"s": "a\ud800"}) == b'{"s":"a\\ud800"}'


def test_cyclic_and_deep_responses_are_marshal_errors() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(MarshalError, match="Circular reference"):
        encode_response(cyclic)
    deep: list[Any] = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(MarshalError, match="recursion"):
        encode_response(deep)


# -- requests ------------------------------------------------------------------------------------

def test_a_cyclic_request_is_refused_at_once_naming_where() -> None:
    payload: dict[str, Any] = {"a": [1, 2]}
    payload["a"].append(payload)
    with pytest.raises(al.InvalidRequestContentException, match=r"payload\['a'\]\[2\].*circular"):
        encode_request(payload)


def test_a_deeply_nested_request_is_invalid_request_content() -> None:
    deep: list[Any] = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(al.InvalidRequestContentException, match="nested"):
        encode_request(deep)
    raw = b"[" * 10_000 + b"]" * 10_000
    with pytest.raises(al.InvalidRequestContentException, match="Could not parse"):
        decode_request(raw)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"),
                                 decimal.Decimal("NaN")])
def test_non_finite_numbers_in_a_request_are_refused_not_turned_into_null(bad: Any) -> None:
    with pytest.raises(al.InvalidRequestContentException, match=r"payload\['x'\]\[0\]"):
        encode_request({"x": [bad]})


def test_a_request_of_exactly_6291456_bytes_is_over_the_limit() -> None:
    """Lambda: "Request must be smaller than 6291456 bytes"."""
    exact = b'"' + b"a" * (SYNC_REQUEST_LIMIT - 2) + b'"'
    assert len(exact) == SYNC_REQUEST_LIMIT
    with pytest.raises(al.RequestTooLargeException, match="smaller than 6291456"):
        encode_request(exact)
    assert len(encode_request(exact[:-2] + b'"')) == SYNC_REQUEST_LIMIT - 1


# -- through invoke: never an exception, the context released -------------------------------------

async def _invoke(result: Any) -> al.InvocationResult:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: result)

    async def afn(event: object, context: object) -> Any:
        return result

    rt.add_function("afn", afn)
    async with rt:
        r = await rt.invoke("fn")
        ra = await rt.invoke("afn")
        stats = rt.statistics().functions
        assert stats["fn"].versions["$LATEST"].idle_contexts == 1
        assert stats["afn"].versions["$LATEST"].idle_contexts == 1
    def outcome(x: al.InvocationResult) -> Any:
        p = x.payload
        return (x.function_error, {k: v for k, v in p.items() if k != "requestId"}
                if isinstance(p, dict) and x.function_error else x.raw_payload)

    assert outcome(r) == outcome(ra)  # a plain handler and an async one: the same outcome
    return r


async def test_decimal_nan_in_a_response_is_written_not_raised() -> None:
    r = await _invoke({"v": decimal.Decimal("NaN")})
    assert r.ok and math.isnan(r.payload["v"])


async def test_nan_float_in_a_response_is_nan_not_null() -> None:
    r = await _invoke({"v": float("nan"), "w": float("-inf")})
    assert r.raw_payload == b'{"v":NaN,"w":-Infinity}'


async def test_lone_surrogate_in_a_response_does_not_escape_invoke() -> None:
    r = await _invoke({"s": "\udcff"})
    assert r.ok and r.raw_payload == b'{"s":"\\udcff"}'


@pytest.mark.parametrize("result", [dt.datetime(2026, 1, 1), {1, 2}, {"k": object()}],
                         ids=["datetime", "set", "object"])
async def test_unencodable_responses_are_marshal_errors(result: Any) -> None:
    r = await _invoke(result)
    assert r.payload["errorType"] == "Runtime.MarshalError"
    assert "is not JSON serializable" in r.payload["errorMessage"]


async def test_a_cyclic_response_is_a_marshal_error_with_the_context_released() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    r = await _invoke(cyclic)
    assert r.payload["errorType"] == "Runtime.MarshalError"


async def test_a_10k_deep_response_is_a_marshal_error_with_the_context_released() -> None:
    deep: list[Any] = []
    for _ in range(10_000):
        deep = [deep]
    r = await _invoke(deep)
    assert r.payload["errorType"] == "Runtime.MarshalError"


async def test_a_large_flat_dict_response_is_size_checked_like_any_other() -> None:
    """The fast path (a small flat dict) used to skip the 6 MB check."""
    r = await _invoke({"blob": "x" * (RESPONSE_LIMIT + 1)})
    assert r.payload["errorType"] == "Function.ResponseSizeTooLarge"
    r = await _invoke([{"blob": "x" * (RESPONSE_LIMIT + 1)}])
    assert r.payload["errorType"] == "Function.ResponseSizeTooLarge"


async def test_a_sync_handler_returning_a_coroutine_is_a_marshal_error() -> None:
    """As on Lambda: a plain ``def`` handler's coroutine object is a result it cannot encode."""
    ran: list[bool] = []

    async def work() -> str:
        ran.append(True)
        return "never"

    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: work())
    async with rt:
        r = await rt.invoke("fn")
    assert r.payload["errorType"] == "Runtime.MarshalError"
    assert r.payload["errorMessage"] == ("Unable to marshal response: Object of type coroutine "
                                         "is not JSON serializable")
    assert ran == []


async def test_a_cyclic_request_through_invoke_is_invalid_request_content() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: None)
    payload: list[Any] = []
    payload.append(payload)
    async with rt:
        with pytest.raises(al.InvalidRequestContentException, match="circular"):
            await rt.invoke("fn", payload)
        with pytest.raises(al.InvalidRequestContentException, match="circular"):
            await rt.invoke("fn", payload, invocation_type="Event")
