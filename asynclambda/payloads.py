"""JSON in and out, with Lambda's limits and the AWS Python runtime's encoding rules.

Requests: a ``bytes`` payload is a raw JSON document (as on the wire); any other Python value is
encoded with msgspec first. Either way the handler receives its *own decoded copy*, so mutating
the event never touches the caller's object.

Responses follow the AWS Python runtime (``awslambdaric``'s marshaller): ``Decimal`` is written as
a bare JSON number with all its digits, ``bytes`` returned at the top level are passed through raw,
and anything the runtime's JSON encoder cannot encode (``datetime``, ``set``, ``UUID``, arbitrary
objects ...) is a ``Runtime.MarshalError`` ("Unable to marshal response: Object of type datetime is
not JSON serializable"), so a handler that would fail on Lambda fails here too. Non-finite floats
are written as ``NaN`` / ``Infinity`` as that encoder does.
"""

from __future__ import annotations

import decimal
import json
import math
from typing import Any, Final

import msgspec

from .errors import InvalidRequestContentException, RequestTooLargeException

__all__ = [
    "ASYNC_REQUEST_LIMIT",
    "RESPONSE_LIMIT",
    "SYNC_REQUEST_LIMIT",
    "MarshalError",
    "decode",
    "decode_request",
    "encode",
    "encode_request",
    "encode_response",
]

#: Lambda's synchronous request limit: "Request must be smaller than 6291456 bytes".
SYNC_REQUEST_LIMIT: Final = 6 * 1024 * 1024
#: Lambda's asynchronous (Event) request limit: 1 MB.
ASYNC_REQUEST_LIMIT: Final = 1024 * 1024
#: Lambda's response limit, as its error message states it.
RESPONSE_LIMIT: Final = 6_291_556

# Encoders/decoders are built once and reused (msgspec's own performance advice).
_encoder: Final = msgspec.json.Encoder(decimal_format="number")
_decoder: Final = msgspec.json.Decoder()
encode: Final = _encoder.encode
decode: Final = _decoder.decode

_SCALARS: Final = frozenset({str, int, float, bool, type(None), decimal.Decimal})
_FLAT: Final = frozenset({str, int, bool, type(None)})


def flat(d: dict[Any, Any]) -> bool:
    """A small dict of str keys and str/int/bool/None (or empty list/dict) values.

    It encodes the same with msgspec and with the AWS runtime's encoder and holds nothing to
    reject, so the warm path skips the full scan for it (the common event and response shape,
    e.g. ``{"batchItemFailures": []}``).
    """
    if len(d) > 16:
        return False
    scalars = _FLAT
    for k, v in d.items():
        if type(k) is not str:
            return False
        t = type(v)
        if t not in scalars and not ((t is list or t is dict) and not v):
            return False
    return True


class MarshalError(Exception):
    """The handler's result cannot be encoded (Lambda's ``Runtime.MarshalError``)."""


def encode_request(payload: Any, limit: int = SYNC_REQUEST_LIMIT, operation: str = "Invoke"
                   ) -> bytes:
    """Encode a request payload to JSON bytes, enforcing ``limit``.

    Raises ``InvalidRequestContentException`` if it cannot be encoded, or
    ``RequestTooLargeException`` if it is larger than ``limit`` bytes.
    """
    t = type(payload)
    if t is bytes:
        raw: bytes = payload
    elif t is bytearray or t is memoryview:
        raw = bytes(payload)
    else:
        if not (t is dict and flat(payload)) and not _plain(payload):
            _reject_sets(payload)
        try:
            raw = encode(payload)
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
            raise InvalidRequestContentException(
                f"Could not serialize request payload: {exc}") from None
    if len(raw) > limit:
        raise RequestTooLargeException(
            f"Request must be smaller than {limit} bytes for the {operation} operation "
            f"(got {len(raw)} bytes)")
    return raw


def _reject_sets(obj: Any) -> None:
    """Sets are not JSON: msgspec would write them as arrays in hash order (not reproducible)."""
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, set | frozenset):
            raise InvalidRequestContentException(
                f"Could not serialize request payload: Object of type {type(o).__name__} is not "
                "JSON serializable")
        if isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, list | tuple):
            stack.extend(o)


def decode_request(raw: bytes) -> Any:
    """Decode a raw JSON request, mapping failures to ``InvalidRequestContentException``."""
    try:
        return decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: {exc}") from None


def encode_response(result: Any) -> bytes:
    """Encode a handler's result as the AWS Python runtime would, or raise ``MarshalError``."""
    if type(result) is bytes:
        return result
    if _plain(result):
        return encode(result)
    return _encode_slow(result)


def _plain(obj: Any) -> bool:
    """True if ``obj`` holds only what the AWS runtime's encoder and msgspec encode identically.

    Iterative (no Python frame per container); anything unusual sends the caller to the slow,
    exact path.
    """
    stack = [obj]
    pop, push = stack.pop, stack.append
    budget = 1_000_000  # containers; a cyclic structure must not loop forever (slow path reports it)
    while stack:
        budget -= 1
        if budget < 0:
            return False
        o = pop()
        t = type(o)
        if t is dict:
            if any(type(k) is not str for k in o):
                return False
            values: Any = o.values()
        elif t is list:
            values = o
        else:
            values = (o,)
        for v in values:
            tv = type(v)
            if tv in _SCALARS:
                if tv is float and not math.isfinite(v):
                    return False
            elif tv is dict or tv is list:
                push(v)
            else:
                return False
    return True


class _AwsEncoder(json.JSONEncoder):
    """The exact, slower path: the AWS runtime's rules on top of the stdlib encoder."""

    def __init__(self) -> None:
        super().__init__(allow_nan=True, separators=(",", ":"))

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            # A placeholder the caller swaps for the exact digits (json can't emit raw numbers).
            return _DecimalToken.mark(o)
        if isinstance(o, bytes | bytearray):
            # simplejson (the AWS runtime's encoder) decodes bytes as UTF-8 text.
            return bytes(o).decode("utf-8")
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


class _DecimalToken:
    """Carries Decimal digits through the stdlib encoder as a unique string, then unquotes them."""

    prefix = "\x00asynclambda-decimal:"

    @classmethod
    def mark(cls, d: decimal.Decimal) -> str | float:
        if d.is_nan():
            return math.nan
        return f"{cls.prefix}{d}\x00"

    @classmethod
    def unmark(cls, text: str) -> str:
        quoted_prefix = json.dumps(cls.prefix)[:-1]  # '"\u0000asynclambda-decimal:'
        if quoted_prefix not in text:
            return text
        out: list[str] = []
        pos = 0
        end_marker = "\\u0000\""
        while (i := text.find(quoted_prefix, pos)) >= 0:
            j = text.find(end_marker, i)
            out.append(text[pos:i])
            out.append(text[i + len(quoted_prefix):j])
            pos = j + len(end_marker)
        out.append(text[pos:])
        return "".join(out)


def _encode_slow(result: Any) -> bytes:
    try:
        text = _AwsEncoder().encode(result)
    except (TypeError, ValueError, RecursionError) as exc:
        raise MarshalError(f"Unable to marshal response: {exc}") from None
    return _DecimalToken.unmark(text).encode()

