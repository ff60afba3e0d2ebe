"""Amazon DynamoDB Streams events, and converters between Python values and typed attributes.

Event shape: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html and the stream record of
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamRecord.html.
Typed attribute values (``{"S": "x"}``, ``{"N": "1"}``, ``{"M": {...}}``...):
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html

:func:`serialize` and :func:`deserialize` follow the mapping of boto3's ``TypeSerializer`` and
``TypeDeserializer``, in the JSON form a stream event carries (binary values as base64 text):

==============================  ============  =====================================
Python                          typed         back to Python
==============================  ============  =====================================
``None``                        ``NULL``      ``None``
``bool``                        ``BOOL``      ``bool``
``int``, ``Decimal``            ``N``         ``Decimal``
``str``                         ``S``         ``str``
``bytes``, ``bytearray``        ``B``         ``bytes``
non-empty set of str            ``SS``        ``set[str]``
non-empty set of int/Decimal    ``NS``        ``set[Decimal]``
non-empty set of bytes          ``BS``        ``set[bytes]``
``list``, ``tuple``             ``L``         ``list``
mapping with ``str`` keys       ``M``         ``dict``
==============================  ============  =====================================

``float`` is refused (it is inexact; use ``Decimal``), as are numbers DynamoDB cannot hold
(more than 38 significant digits, magnitude outside 1E-130..9.9E+125, NaN, infinities) and empty sets.
"""

from __future__ import annotations

import base64
import decimal
from collections.abc import Callable, Mapping, Set
from decimal import Decimal
from typing import Any, TypeGuard, TypeVar

import msgspec
from msgspec import UNSET, UnsetType, field

from ._base import EventStruct, b64decode
from .batch import TumblingWindowFields

__all__ = [
    "AttributeValue",
    "DynamoDBEvent",
    "DynamoDBRecord",
    "DynamoDBStreamRecord",
    "DynamoDBUserIdentity",
    "deserialize",
    "deserialize_image",
    "serialize",
    "serialize_image",
]

_T = TypeVar("_T")

# DynamoDB's number limits, as boto3 encodes them: 38 significant digits, and any rounding,
# overflow or underflow is an error rather than a silent change of the value.
_NUMBER_CONTEXT = decimal.Context(
    prec=38,
    Emin=-128,
    Emax=126,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)
# The service's own range for non-zero magnitudes, 1E-130 to 9.99...E+125, as adjusted exponents
# (boto3's context alone lets some values just outside it through).
_MIN_ADJUSTED, _MAX_ADJUSTED = -130, 125


class AttributeValue(EventStruct, frozen=True, kw_only=True):
    """A DynamoDB typed attribute value (``{"S": "x"}``, ``{"M": {...}}``...); exactly one member is set."""

    string: str | UnsetType = field(default=UNSET, name="S")
    number: str | UnsetType = field(default=UNSET, name="N")
    binary: str | UnsetType = field(default=UNSET, name="B")
    string_set: list[str] | UnsetType = field(default=UNSET, name="SS")
    number_set: list[str] | UnsetType = field(default=UNSET, name="NS")
    binary_set: list[str] | UnsetType = field(default=UNSET, name="BS")
    map_: dict[str, AttributeValue] | UnsetType = field(default=UNSET, name="M")
    list_: list[AttributeValue] | UnsetType = field(default=UNSET, name="L")
    null: bool | UnsetType = field(default=UNSET, name="NULL")
    bool_: bool | UnsetType = field(default=UNSET, name="BOOL")

    def __post_init__(self) -> None:
        present = [name for name in self.__struct_fields__ if getattr(self, name) is not UNSET]
        if len(present) != 1:
            raise ValueError(
                f"a DynamoDB AttributeValue has exactly one type member (S, N, B, SS, NS, BS, M, L, "
                f"NULL or BOOL); got {present or 'none'}"
            )

    def to_python(self) -> Any:
        """This value as Python (see the module's table): ``Decimal`` numbers, ``bytes``, sets..."""
        return deserialize(self)

    @classmethod
    def from_python(cls, value: object) -> AttributeValue:
        """The typed attribute for a Python value (see :func:`serialize`)."""
        return msgspec.convert(serialize(value), cls)


class DynamoDBStreamRecord(EventStruct, frozen=True, kw_only=True, rename="pascal"):
    """The ``dynamodb`` member of a DynamoDB stream record: keys, images and sequence number."""

    approximate_creation_date_time: float | UnsetType = UNSET
    keys: dict[str, AttributeValue]
    new_image: dict[str, AttributeValue] | UnsetType = UNSET
    old_image: dict[str, AttributeValue] | UnsetType = UNSET
    sequence_number: str
    size_bytes: int
    stream_view_type: str


class DynamoDBUserIdentity(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The ``userIdentity`` of a DynamoDB stream record (set for TTL deletions by the service)."""

    type: str
    principal_id: str


class DynamoDBRecord(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """One change of a DynamoDB stream event (``Records[]``): ``INSERT``, ``MODIFY`` or ``REMOVE``."""

    event_id: str = field(name="eventID")
    event_name: str
    event_version: str
    event_source: str
    aws_region: str
    dynamodb: DynamoDBStreamRecord
    event_source_arn: str = field(name="eventSourceARN")
    user_identity: DynamoDBUserIdentity | UnsetType = UNSET


class DynamoDBEvent(TumblingWindowFields, frozen=True, kw_only=True):
    """The event of a DynamoDB Streams trigger: a batch of item changes from one shard."""

    records: list[DynamoDBRecord] = field(name="Records")


# -- Python values -> typed attributes ------------------------------------------------------------


def serialize(value: object) -> dict[str, Any]:
    """The typed attribute (JSON form, binaries as base64) for a Python value.

    Raises ``TypeError`` for a type DynamoDB cannot hold (``float`` included) and ``ValueError`` for
    a value it cannot hold (an empty set, a number past its precision or range); both name the value.
    """
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | Decimal):
        return {"N": _number_text(value)}
    if isinstance(value, float):
        raise TypeError(
            f"float {value!r} is not supported for DynamoDB: use decimal.Decimal (floats are inexact)"
        )
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"B": _b64(value)}
    if isinstance(value, Set):
        return _serialize_set(value)
    if isinstance(value, Mapping):
        return {"M": {_map_key(key, value): serialize(item) for key, item in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [serialize(item) for item in value]}
    raise TypeError(f"unsupported type {type(value).__name__} for DynamoDB value {value!r}")


def serialize_image(item: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """A stream image (``NewImage``/``OldImage``/``Keys``) for a Python item."""
    return {_map_key(key, item): AttributeValue.from_python(value) for key, value in item.items()}


def _b64(value: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


def _map_key(key: object, mapping: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"DynamoDB map keys must be str; got {key!r} in {mapping!r}")
    return key


def _number_text(value: int | Decimal) -> str:
    try:
        number = _NUMBER_CONTEXT.create_decimal(value)
    except decimal.DecimalException as exc:
        raise ValueError(
            f"number {value!r} cannot be stored in DynamoDB: it needs more than 38 significant "
            f"digits or lies outside 1E-130..9.9E+125 ({type(exc).__name__})"
        ) from None
    if not number.is_finite():
        raise ValueError(
            f"number {value!r} cannot be stored in DynamoDB: NaN and Infinity are not numbers there"
        )
    if number and not _MIN_ADJUSTED <= number.adjusted() <= _MAX_ADJUSTED:
        raise ValueError(
            f"number {value!r} cannot be stored in DynamoDB: its magnitude lies outside "
            f"1E-130..9.9E+125"
        )
    return str(number)


def _is_number(value: object) -> TypeGuard[int | Decimal]:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _serialize_set(values: Set[object]) -> dict[str, Any]:
    if not values:
        raise ValueError(f"empty set {values!r}: DynamoDB sets must have at least one element")
    # Members are sorted so that a set always gives the same JSON.
    strings = [member for member in values if isinstance(member, str)]
    if len(strings) == len(values):
        return {"SS": sorted(strings)}
    numbers = [member for member in values if _is_number(member)]
    if len(numbers) == len(values):
        return {"NS": [_number_text(number) for number in sorted(numbers)]}
    binaries = [member for member in values if isinstance(member, bytes | bytearray)]
    if len(binaries) == len(values):
        return {"BS": sorted(_b64(member) for member in binaries)}
    kinds = sorted({type(member).__name__ for member in values})
    raise TypeError(
        f"set {values!r} cannot be stored in DynamoDB: a set holds only str, only numbers "
        f"(int/Decimal) or only bytes; got {', '.join(kinds)}"
    )


# -- typed attributes -> Python values ------------------------------------------------------------


def deserialize(typed: Mapping[str, Any] | AttributeValue) -> Any:
    """The Python value of a typed attribute such as ``{"N": "1"}`` (see the module's table).

    Raises ``ValueError`` naming the innermost bad attribute when one is not a one-key typed
    attribute, names an unknown type, or holds a payload of the wrong kind (a number that does not
    parse, bad base64...).
    """
    if isinstance(typed, AttributeValue):
        typed = msgspec.to_builtins(typed)
    if not isinstance(typed, Mapping) or len(typed) != 1:
        raise ValueError(
            f"a DynamoDB typed attribute is a one-key mapping like {{'S': 'x'}}; got {typed!r}"
        )
    ((tag, payload),) = typed.items()
    convert = _DESERIALIZERS.get(tag)
    if convert is None:
        raise ValueError(f"unknown DynamoDB attribute type {tag!r} in {typed!r}")
    try:
        return convert(payload)
    except _BadPayload as exc:
        raise ValueError(f"invalid DynamoDB attribute {typed!r}: {exc}") from None


def deserialize_image(image: Mapping[str, AttributeValue | Mapping[str, Any]]) -> dict[str, Any]:
    """A Python item from a stream image (``NewImage``/``OldImage``/``Keys``)."""
    return {key: deserialize(value) for key, value in image.items()}


class _BadPayload(Exception):
    """A typed attribute's payload is of the wrong kind (reported as ``ValueError`` by deserialize)."""


def _expect(payload: object, kind: type[_T], tag: str) -> _T:
    if not isinstance(payload, kind):
        raise _BadPayload(f"{tag} holds {type(payload).__name__}, expected {kind.__name__}")
    return payload


def _parse_number(payload: object) -> Decimal:
    text = _expect(payload, str, "N")
    try:
        number = Decimal(text)
    except decimal.InvalidOperation:
        raise _BadPayload(f"N holds {text!r}, which is not a number") from None
    if not number.is_finite():
        raise _BadPayload(f"N holds {text!r}, which is not a finite number")
    return number


def _parse_binary(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    try:
        return b64decode(_expect(payload, str, "B"), what="B")
    except ValueError as exc:
        raise _BadPayload(str(exc)) from None


def _parse_null(payload: object) -> None:
    if payload is not True:
        raise _BadPayload(f"NULL holds {payload!r}, expected true")


def _parse_map(payload: object) -> dict[str, Any]:
    mapping: Mapping[object, Any] = _expect(payload, Mapping, "M")  # type: ignore[type-abstract]
    result: dict[str, Any] = {}
    for key, item in mapping.items():
        if not isinstance(key, str):
            raise _BadPayload(f"M has the key {key!r}, expected str keys")
        result[key] = deserialize(item)
    return result


_DESERIALIZERS: dict[str, Callable[[Any], Any]] = {
    "NULL": _parse_null,
    "BOOL": lambda payload: _expect(payload, bool, "BOOL"),
    "N": _parse_number,
    "S": lambda payload: _expect(payload, str, "S"),
    "B": _parse_binary,
    "SS": lambda payload: {_expect(item, str, "SS") for item in _expect(payload, list, "SS")},
    "NS": lambda payload: {_parse_number(item) for item in _expect(payload, list, "NS")},
    "BS": lambda payload: {_parse_binary(item) for item in _expect(payload, list, "BS")},
    "L": lambda payload: [deserialize(item) for item in _expect(payload, list, "L")],
    "M": _parse_map,
}
