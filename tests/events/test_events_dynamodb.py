"""DynamoDB typed attributes: serialize/deserialize round-trip, and clear errors for bad values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynclambda.events import (
    AttributeValue,
    deserialize,
    deserialize_image,
    serialize,
    serialize_image,
)

_MAX_COEFFICIENT = 10**38 - 1  # DynamoDB numbers: up to 38 significant digits


@st.composite
def dynamodb_numbers(draw: st.DrawFn) -> Decimal:
    """Decimals DynamoDB can hold: 38 digits, magnitude 1E-128..9.9E+125 (boto3 and the service)."""
    coefficient = draw(st.integers(0, _MAX_COEFFICIENT))
    digits = len(str(coefficient))
    exponent = draw(st.integers(-128 - digits + 1, 125 - digits + 1))
    sign = draw(st.sampled_from(["", "-"]))
    return Decimal(f"{sign}{coefficient}E{exponent}")  # exact: no context rounding


numbers = dynamodb_numbers() | st.integers(-_MAX_COEFFICIENT, _MAX_COEFFICIENT)
scalars = st.none() | st.booleans() | numbers | st.text() | st.binary()
sets = (
    st.frozensets(st.text(), min_size=1)
    | st.frozensets(dynamodb_numbers(), min_size=1)
    | st.frozensets(st.binary(), min_size=1)
).map(set)
values = st.recursive(
    scalars | sets,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(values)
def test_deserialize_inverts_serialize(value: Any) -> None:
    assert deserialize(serialize(value)) == value


@given(values)
def test_typed_form_is_json_and_decodes_into_attribute_value(value: Any) -> None:
    typed = serialize(value)
    attribute = msgspec.json.decode(msgspec.json.encode(typed), type=AttributeValue)
    assert msgspec.to_builtins(attribute) == typed
    assert attribute.to_python() == value
    assert AttributeValue.from_python(value) == attribute


@given(st.dictionaries(st.text(), values, max_size=5))
def test_images_round_trip(item: dict[str, Any]) -> None:
    assert deserialize_image(serialize_image(item)) == item


@pytest.mark.parametrize(
    ("value", "typed"),
    [
        (None, {"NULL": True}),
        (False, {"BOOL": False}),
        (7, {"N": "7"}),
        (Decimal("-1.50"), {"N": "-1.50"}),
        ("x", {"S": "x"}),
        (b"\x00\x01*A", {"B": "AAEqQQ=="}),
        (bytearray(b"A"), {"B": "QQ=="}),
        ({"b", "a"}, {"SS": ["a", "b"]}),
        ({Decimal("2.5"), 1}, {"NS": ["1", "2.5"]}),
        ({b"b", b"a"}, {"BS": ["YQ==", "Yg=="]}),
        ((1, "a"), {"L": [{"N": "1"}, {"S": "a"}]}),
        ({"k": [None]}, {"M": {"k": {"L": [{"NULL": True}]}}}),
    ],
)
def test_serialize_matches_boto3_type_mapping(value: object, typed: dict[str, Any]) -> None:
    assert serialize(value) == typed


def test_deserialize_numbers_are_decimal_and_sets_are_sets() -> None:
    assert deserialize({"N": "1"}) == Decimal(1)
    assert isinstance(deserialize({"N": "1"}), Decimal)
    assert deserialize({"NS": ["1", "2"]}) == {Decimal(1), Decimal(2)}
    assert deserialize({"BS": ["AAEqQQ=="]}) == {b"\x00\x01*A"}
    assert deserialize({"B": b"raw"}) == b"raw"  # boto3's in-memory form is accepted too


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (float("nan"), TypeError, r"float nan is not supported .*Decimal"),
        (1.5, TypeError, r"float 1\.5 is not supported"),
        (Decimal("NaN"), ValueError, r"number Decimal\('NaN'\) cannot be stored"),
        (Decimal("Infinity"), ValueError, r"number Decimal\('Infinity'\) cannot be stored"),
        (10**38, ValueError, r"number 1000.*0 cannot be stored .*38 significant digits"),
        (Decimal("1E+127"), ValueError, r"number Decimal\('1E\+127'\) cannot be stored"),
        (Decimal("1E+126"), ValueError, r"number Decimal\('1E\+126'\) cannot be stored .*outside"),
        (Decimal("1E-131"), ValueError, r"number Decimal\('1E-131'\) cannot be stored .*outside"),
        (Decimal("-1E-300"), ValueError, r"number Decimal\('-1E-300'\) cannot be stored"),
        (set(), ValueError, r"empty set set\(\): DynamoDB sets must have at least one element"),
        (frozenset(), ValueError, r"empty set frozenset\(\)"),
        ({1.5}, TypeError, r"set \{1\.5\} cannot be stored .*got float"),
        ({"a", 1}, TypeError, r"cannot be stored in DynamoDB: a set holds only .*int, str"),
        ({True}, TypeError, r"set \{True\} cannot be stored .*got bool"),
        (object, TypeError, r"unsupported type type for DynamoDB value <class 'object'>"),
        (1j, TypeError, r"unsupported type complex for DynamoDB value 1j"),
        ({1: "a"}, TypeError, r"DynamoDB map keys must be str; got 1 in \{1: 'a'\}"),
        ([{"ok": [1.0]}], TypeError, r"float 1\.0 is not supported"),
    ],
)
def test_serialize_refuses_what_dynamodb_cannot_hold(
    value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        serialize(value)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ({}, r"one-key mapping .*got \{\}"),
        ({"S": "a", "N": "1"}, r"one-key mapping"),
        ("S", r"one-key mapping .*got 'S'"),
        ({"X": "a"}, r"unknown DynamoDB attribute type 'X' in \{'X': 'a'\}"),
        (
            {"N": "abc"},
            r"invalid DynamoDB attribute \{'N': 'abc'\}: N holds 'abc', which is not a number",
        ),
        ({"N": "NaN"}, r"N holds 'NaN', which is not a finite number"),
        ({"N": 1}, r"N holds int, expected str"),
        ({"S": 1}, r"S holds int, expected str"),
        ({"B": "!!"}, r"invalid DynamoDB attribute \{'B': '!!'\}: B is not valid base64"),
        ({"BOOL": "true"}, r"BOOL holds str, expected bool"),
        ({"NULL": False}, r"NULL holds False, expected true"),
        ({"SS": "a"}, r"SS holds str, expected list"),
        ({"L": [{"N": "x"}]}, r"invalid DynamoDB attribute \{'N': 'x'\}"),  # names the inner one
        ({"M": {"k": {"Q": 1}}}, r"unknown DynamoDB attribute type 'Q'"),
    ],
)
def test_deserialize_names_the_bad_attribute(typed: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        deserialize(typed)


def test_attribute_value_needs_exactly_one_member() -> None:
    with pytest.raises(ValueError, match=r"exactly one type member .*got none"):
        AttributeValue()
    with pytest.raises(
        msgspec.ValidationError, match=r"exactly one type member .*'string', 'number'"
    ):
        msgspec.json.decode(b'{"S": "a", "N": "1"}', type=AttributeValue)
