"""JSON in and out, with Lambda's limits and the AWS Python runtime's encoding rules.

**Requests.** A ``bytes`` payload is a raw JSON document (as on the wire); any other Python value
is encoded with msgspec first. Either way the handler receives its *own decoded copy*, so
mutating the event never touches the caller's object. What is not JSON is refused at once with
``InvalidRequestContentException`` naming where it is (``payload['a'][2]``): sets, ``NaN`` and
infinite floats (JSON has no such numbers; nothing is silently turned into ``null``), cyclic
structures, objects nested deeper than the encoder can go. A request must be *smaller than*
6 291 456 bytes (Lambda's own wording); asynchronous ones than 1 MiB.

**Responses** follow the AWS Python runtime's encoder (``awslambdaric``, on ``simplejson``):
``Decimal`` is written as a bare JSON number with all its digits (``NaN`` / ``Infinity`` for the
non-finite ones), non-finite floats as ``NaN`` / ``Infinity`` / ``-Infinity``, ``bytes`` inside a
result are decoded as UTF-8 text (``bytes`` returned at the top level pass through raw), tuples
and lists are arrays, named tuples are objects, dict keys that are numbers, booleans or ``None``
become strings as ``json`` makes them, and a lone surrogate in a string is written escaped
(``"\\ud800"``). Anything else (``datetime``, ``set``, ``UUID``, a coroutine object, a cycle, a
structure too deep to encode) is a ``Runtime.MarshalError`` ("Unable to marshal response:
Object of type datetime is not JSON serializable"): whatever goes wrong while encoding is that
error, never an exception out of ``invoke``. Text is written as UTF-8, as the runtimes for
Python 3.12 and later do (``ensure_ascii=False``).

There is one fast path (msgspec on plain JSON values) and one exact path (the rules above, then
msgspec with :class:`msgspec.Raw` for the numbers JSON cannot spell): no in-band markers that
user data could forge. A property test holds the fast path to the exact one, and the exact one
to ``awslambdaric``'s encoder.
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
    "encode_exact",
    "encode_request",
    "encode_response",
]

#: Lambda's synchronous request limit: "Request must be smaller than 6291456 bytes".
SYNC_REQUEST_LIMIT: Final = 6 * 1024 * 1024
#: Lambda's asynchronous (Event) request limit: 1 MiB.
ASYNC_REQUEST_LIMIT: Final = 1024 * 1024
#: Lambda's response limit, as its error message states it.
RESPONSE_LIMIT: Final = 6_291_556

# Encoders/decoders are built once and reused (msgspec's own performance advice).
_encoder: Final = msgspec.json.Encoder(decimal_format="number")
_decoder: Final = msgspec.json.Decoder()
encode: Final = _encoder.encode
decode: Final = _decoder.decode

_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_FLAT: Final = frozenset({str, int, bool, type(None)})
_NAN: Final = msgspec.Raw(b"NaN")
_INF: Final = msgspec.Raw(b"Infinity")
_NEG_INF: Final = msgspec.Raw(b"-Infinity")


def flat(d: dict[Any, Any]) -> bool:
    """A small dict of str keys and str/int/bool/None (or empty list/dict) values.

    The common event and response shape (``{"batchItemFailures": []}``): it holds nothing the
    exact path would treat differently, so the fast path skips the full scan for it.
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


# -- requests ----------------------------------------------------------------------------------

def encode_request(payload: Any, limit: int = SYNC_REQUEST_LIMIT, operation: str = "Invoke"
                   ) -> bytes:
    """Encode a request payload to JSON bytes, enforcing ``limit``.

    Raises ``InvalidRequestContentException`` (naming where the bad value is) if it is not JSON,
    or ``RequestTooLargeException`` if it is not smaller than ``limit`` bytes.
    """
    t = type(payload)
    if t is bytes:
        raw: bytes = payload
    elif t is bytearray or t is memoryview:
        raw = bytes(payload)
    else:
        if not (t is dict and flat(payload)) and not _plain(payload):
            _check_request(payload, "payload", set(), 0)
        try:
            raw = encode(payload)
        except RecursionError:
            raise InvalidRequestContentException(
                "Could not serialize request payload: it is nested too deeply to encode"
            ) from None
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
            raise InvalidRequestContentException(
                f"Could not serialize request payload: {exc}") from None
    if len(raw) >= limit:
        raise RequestTooLargeException(
            f"Request must be smaller than {limit} bytes for the {operation} operation "
            f"(got {len(raw)} bytes)")
    return raw


#: Deeper than this, a request is refused (msgspec's encoder would run out of stack near 1000).
_MAX_DEPTH: Final = 512


def _check_request(obj: Any, where: str, path: set[int], depth: int) -> None:
    """Refuse what is not JSON, saying where: sets, non-finite floats, cycles, deep nesting."""
    if depth > _MAX_DEPTH:
        raise InvalidRequestContentException(
            f"Could not serialize request payload: {where} is nested more than {_MAX_DEPTH} "
            "levels deep")
    if isinstance(obj, float) and not math.isfinite(obj):
        raise InvalidRequestContentException(
            f"Could not serialize request payload: {where} is {obj!r}, which is not a JSON "
            "number")
    if isinstance(obj, decimal.Decimal) and not obj.is_finite():
        raise InvalidRequestContentException(
            f"Could not serialize request payload: {where} is {obj!r}, which is not a JSON "
            "number")
    if isinstance(obj, set | frozenset):
        raise InvalidRequestContentException(
            f"Could not serialize request payload: {where}: Object of type "
            f"{type(obj).__name__} is not JSON serializable")
    if isinstance(obj, dict | list | tuple):
        key = id(obj)
        if key in path:
            raise InvalidRequestContentException(
                f"Could not serialize request payload: {where} refers back to itself "
                "(a circular reference)")
        path.add(key)
        if isinstance(obj, dict):
            for k, v in obj.items():
                _check_request(v, f"{where}[{k!r}]", path, depth + 1)
        else:
            for i, v in enumerate(obj):
                _check_request(v, f"{where}[{i}]", path, depth + 1)
        path.discard(key)


def decode_request(raw: bytes) -> Any:
    """Decode a raw JSON request, mapping failures to ``InvalidRequestContentException``."""
    try:
        return decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: {exc}") from None


# -- responses ---------------------------------------------------------------------------------

def encode_response(result: Any) -> bytes:
    """Encode a handler's result as the AWS Python runtime would, or raise ``MarshalError``.

    The fast path (msgspec on plain JSON values) falls back to :func:`encode_exact` for anything
    else, and whenever it fails (a lone surrogate, say): the outcome is always the exact one.
    """
    t = type(result)
    if t is bytes:
        return result  # type: ignore[no-any-return]
    if (t is dict and flat(result)) or _plain(result):
        try:
            return encode(result)
        except Exception:  # the exact path decides what this is
            pass
    return encode_exact(result)


def encode_exact(result: Any) -> bytes:
    """The AWS Python runtime's rules, exactly (slower); raises ``MarshalError``."""
    if type(result) is bytes:
        return result
    try:
        return encode(_to_json(result, set()))
    except MarshalError:
        raise
    except RecursionError:
        raise MarshalError("Unable to marshal response: maximum recursion depth exceeded "
                           "while encoding a JSON object") from None
    except Exception as exc:  # whatever fails while encoding is Lambda's MarshalError
        raise MarshalError(f"Unable to marshal response: {exc}") from None


def _plain(obj: Any) -> bool:
    """True if ``obj`` holds only what msgspec encodes exactly as the AWS runtime does.

    Iterative (no Python frame per container); anything unusual sends the caller to the exact
    path, which also reports cycles (the container budget stops a cyclic structure here).
    """
    stack = [obj]
    pop, push = stack.pop, stack.append
    budget = 100_000  # containers
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


def _to_json(o: Any, path: set[int]) -> Any:
    """A tree msgspec encodes exactly as ``awslambdaric``'s encoder would write ``o``."""
    if o is None or o is True or o is False:
        return o
    if isinstance(o, str):
        s = str.__str__(o)
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: written escaped, as json does
            return msgspec.Raw(json.dumps(s).encode())
        return s
    if isinstance(o, bool):
        return bool(o)
    if isinstance(o, int):
        return int(o)
    if isinstance(o, float):
        if math.isfinite(o):
            return float(o)
        return _NAN if o != o else (_INF if o > 0 else _NEG_INF)
    if isinstance(o, decimal.Decimal):
        if o.is_nan():
            return _NAN
        return msgspec.Raw(str(o).encode())  # 'Infinity', '-Infinity', or all the digits
    if isinstance(o, bytes | bytearray):
        return bytes(o).decode("utf-8")  # as simplejson does with its default encoding
    if isinstance(o, dict):
        key = id(o)
        if key in path:
            raise MarshalError("Unable to marshal response: Circular reference detected")
        path.add(key)
        out = {_key(k): _to_json(v, path) for k, v in o.items()}
        path.discard(key)
        return out
    if isinstance(o, tuple) and hasattr(o, "_asdict"):  # simplejson: namedtuple_as_object
        return _to_json(o._asdict(), path)
    if isinstance(o, list | tuple):
        key = id(o)
        if key in path:
            raise MarshalError("Unable to marshal response: Circular reference detected")
        path.add(key)
        items = [_to_json(v, path) for v in o]
        path.discard(key)
        return items
    raise MarshalError(
        f"Unable to marshal response: Object of type {type(o).__name__} is not JSON "
        "serializable")


def _key(k: Any) -> str:
    """A dict key as ``json`` writes it (numbers, booleans and ``None`` become strings)."""
    if isinstance(k, str):
        return str.__str__(k)
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, int):
        return int.__repr__(k)
    if isinstance(k, float):
        if math.isfinite(k):
            return float.__repr__(k)
        return "NaN" if k != k else ("Infinity" if k > 0 else "-Infinity")
    raise MarshalError(
        f"Unable to marshal response: keys must be str, int, float, bool or None, not "
        f"{type(k).__name__}")
