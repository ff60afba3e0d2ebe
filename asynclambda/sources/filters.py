"""Lambda event filtering: filter criteria in EventBridge pattern syntax, compiled once.

An event source mapping can carry up to :data:`MAX_FILTERS` filter patterns. A record is handed to
the function if it matches *any* of them; otherwise it is dropped (queues) or skipped (streams)
without an invocation. Each pattern is parsed and compiled into small matcher objects when the
:class:`FilterCriteria` is built, so the polling path only walks the record.

Pattern semantics (EventBridge's, as implemented by its matching engine, Event Ruler):

- A pattern is a JSON object shaped like the records it matches. Every field named in the pattern
  must match (AND); fields not named are ignored. A leaf is an array of alternatives (OR).
- A leaf alternative matches if the record's value, or any element of a record array, matches it.
  Nested pattern objects recurse; an array of objects in the record matches if one element matches
  the whole nested pattern ("array-consistent" matching).
- Exact values: strings (character by character, ``""`` is the empty string), numbers, ``true``,
  ``false`` and ``null`` (``null`` is not ``""``; neither matches a missing field).
- Operators: ``prefix``, ``suffix`` (both also as ``{"equals-ignore-case": ...}``),
  ``equals-ignore-case``, ``wildcard`` (``*``; ``\\*`` and ``\\\\`` escape; ``**`` is invalid),
  ``anything-but`` (a string, a number, a list of strings or of numbers, or
  ``{"prefix"|"suffix"|"equals-ignore-case"|"wildcard": string or list of strings}``),
  ``numeric`` (``=``, ``<``, ``<=``, ``>``, ``>=``, or a range ``[">", 0, "<=", 5]``), ``exists``
  (leaf fields only: a field whose value is an object does not "exist"), ``cidr`` (IPv4/IPv6),
  and ``"$or": [{...}, {...}]`` at any level.
- String operators only match strings; ``numeric`` only matches JSON numbers (not numeric strings);
  ``anything-but`` matches any present leaf value the excluded values or operator do not match.
- Exact numbers compare numerically (``[5]`` matches ``5.0``), as Event Ruler does: a rule number
  compiles to a numeric-equality matcher. *Note*: the EventBridge and Lambda guides still say
  "300, 300.0 and 3.0e2 are not considered equal"; that cannot be reproduced on decoded JSON.

Lambda's source-specific rules live in the adapters: :func:`matches_sqs` (``body``),
:func:`matches_kinesis` (``kinesis.data``, base64), :func:`matches_dynamodb` (the record as is),
:func:`matches_kafka` (``value``, base64), :func:`matches_mq` (``data``, base64) and the generic
:func:`matches_event`. For the payload field, the *format* of the payload (JSON object/array, or a
plain string) and of the pattern for it (an object, or a leaf array) must agree, otherwise the
record does not match; a pattern that does not name the payload field filters on the other
(metadata) fields only.

Sources:

- Lambda, "Control which events Lambda sends to your function" (filter rule syntax, OR across
  filters, 5 filters, SQS and stream format tables):
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
- Lambda, per source: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs-filtering.html,
  https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis-filtering.html,
  https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html,
  https://docs.aws.amazon.com/lambda/latest/dg/with-mq-filtering.html,
  https://docs.aws.amazon.com/lambda/latest/dg/kafka-filtering.html
- Lambda API ``Filter.Pattern`` (at most 4096 characters):
  https://docs.aws.amazon.com/lambda/latest/api/API_Filter.html
- EventBridge, "Amazon EventBridge event patterns", "Comparison operators", "Content filtering",
  "Matching null values and empty strings", "Arrays in event patterns":
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html,
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html,
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html,
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html,
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
- Event Ruler (wildcard escapes, ``$or`` rules, array-consistent matching, validation messages):
  https://github.com/aws/event-ruler (README.md, JsonRuleCompiler.java)
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import json
import math
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from asynclambda.errors import ConfigError

__all__ = [
    "MAX_FILTERS",
    "MAX_PATTERN_LENGTH",
    "FilterCriteria",
    "matches_dynamodb",
    "matches_event",
    "matches_kafka",
    "matches_kinesis",
    "matches_mq",
    "matches_sqs",
]

#: Lambda's default quota of filters per event source mapping.
MAX_FILTERS: Final = 5
#: Lambda's limit on the length of one ``Filter.Pattern`` string (characters).
MAX_PATTERN_LENGTH: Final = 4096

_FIELD: Final = "filter_criteria.filters"
_Pred: TypeAlias = Callable[[Any], bool]
#: A field absent from the record (distinct from a JSON ``null``).
_MISSING: Final[Any] = object()
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
_NUMERIC_OPS: Final = frozenset({"=", "<", "<=", ">", ">="})
#: Field names Event Ruler refuses inside ``$or`` (its operators and reserved words).
_RESERVED_IN_OR: Final = frozenset({
    "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard",
    "numeric", "cidr", *_NUMERIC_OPS,
})
_LEAF, _OBJECT, _MIXED = "leaf", "object", "mixed"


# --- matchers --------------------------------------------------------------------------------


def _scalars(values: list[Any] | tuple[Any, ...]) -> Iterator[Any]:
    """The leaf values of a record array (nested arrays flattened, objects skipped)."""
    for v in values:
        if isinstance(v, list | tuple):
            yield from _scalars(v)
        elif not isinstance(v, Mapping):
            yield v


def _objects(values: list[Any] | tuple[Any, ...]) -> Iterator[Mapping[str, Any]]:
    """The objects of a record array (nested arrays flattened)."""
    for v in values:
        if isinstance(v, Mapping):
            yield v
        elif isinstance(v, list | tuple):
            yield from _objects(v)


class _Leaf:
    """The alternatives of one pattern leaf: exact values in sets, operators as predicates."""

    __slots__ = ("exists_false", "exists_true", "false", "null", "numbers", "preds", "strings",
                 "true")

    def __init__(self) -> None:
        self.strings: set[str] = set()
        self.numbers: set[int | float] = set()
        self.true = self.false = self.null = False
        self.exists_true = self.exists_false = False
        self.preds: list[_Pred] = []

    def match(self, child: Any) -> bool:
        if type(child) is str:  # the common case, without the ABC checks below
            return self.exists_true or self.value(child)
        if child is _MISSING or isinstance(child, Mapping):
            return self.exists_false  # an object is not a leaf: it does not "exist" as a value
        if isinstance(child, list | tuple):
            seen = False
            for v in _scalars(child):
                if self.exists_true or self.value(v):
                    return True
                seen = True
            return not seen and self.exists_false
        return self.exists_true or self.value(child)

    def value(self, v: Any) -> bool:
        if isinstance(v, str):
            if v in self.strings:
                return True
        elif isinstance(v, bool):  # before int: True == 1 must not match the number 1
            if self.true if v else self.false:
                return True
        elif v is None:
            if self.null:
                return True
        elif isinstance(v, int | float) and v in self.numbers:
            return True  # int/float hash alike when equal: [5] matches 5.0
        for pred in self.preds:  # noqa: SIM110 - a plain loop: this is the hot path
            if pred(v):
                return True
        return False


class _Object:
    """A pattern object: leaf fields, nested objects and ``$or`` groups, all required."""

    __slots__ = ("leaves", "nested", "ors")

    def __init__(self, leaves: tuple[tuple[str, _Leaf], ...],
                 nested: tuple[tuple[str, _Object], ...],
                 ors: tuple[tuple[_Object, ...], ...]) -> None:
        self.leaves, self.nested, self.ors = leaves, nested, ors

    def match(self, node: Any) -> bool:
        if type(node) is dict or isinstance(node, Mapping):
            return self.fields(node)
        if isinstance(node, list | tuple):
            seen = False
            for element in _objects(node):
                if self.fields(element):
                    return True
                seen = True
            if seen:
                return False
        return self.fields(_EMPTY)  # a scalar or missing node: every field below it is absent

    def fields(self, node: Mapping[str, Any]) -> bool:
        get = node.get
        for key, leaf in self.leaves:
            if not leaf.match(get(key, _MISSING)):
                return False
        for key, sub in self.nested:
            if not sub.match(get(key, _MISSING)):
                return False
        for group in self.ors:
            for branch in group:
                if branch.fields(node):
                    break
            else:
                return False
        return True


class _Filter:
    __slots__ = ("root", "shapes")

    def __init__(self, root: _Object, shapes: Mapping[str, str]) -> None:
        self.root, self.shapes = root, shapes


# --- operator compilers ----------------------------------------------------------------------


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _affix_operand(name: str, arg: Any, path: str, op: dict[str, Any]) -> tuple[str, bool]:
    """``"abc"`` or ``{"equals-ignore-case": "abc"}`` -> (text, ignore_case)."""
    if isinstance(arg, str):
        return arg, False
    if isinstance(arg, dict) and len(arg) == 1 and isinstance(arg.get("equals-ignore-case"), str):
        return arg["equals-ignore-case"], True
    raise ConfigError(path, op, f"{name} takes a string or {{\"equals-ignore-case\": string}}")


def _prefix(p: str, ignore_case: bool) -> _Pred:
    if ignore_case:
        pf = p.casefold()
        return lambda v: isinstance(v, str) and v.casefold().startswith(pf)
    return lambda v: isinstance(v, str) and v.startswith(p)


def _suffix(s: str, ignore_case: bool) -> _Pred:
    if ignore_case:
        sf = s.casefold()
        return lambda v: isinstance(v, str) and v.casefold().endswith(sf)
    return lambda v: isinstance(v, str) and v.endswith(s)


def _equals_ignore_case(values: list[str]) -> _Pred:
    folded = frozenset(s.casefold() for s in values)
    return lambda v: isinstance(v, str) and v.casefold() in folded


def _wildcard(text: str, path: str, op: dict[str, Any]) -> _Pred:
    """Compile a wildcard into literal segments split at unescaped ``*``: linear matching."""
    segments: list[str] = []
    current: list[str] = []
    i, previous_star = 0, False
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 < len(text) and text[i + 1] in "*\\":
                current.append(text[i + 1])
                i, previous_star = i + 2, False
                continue
            raise ConfigError(path, op, "in a wildcard, a backslash may only escape '*' or '\\'")
        if c == "*":
            if previous_star:
                raise ConfigError(path, op, "consecutive wildcard characters are not allowed")
            segments.append("".join(current))
            current, previous_star = [], True
        else:
            current.append(c)
            previous_star = False
        i += 1
    segments.append("".join(current))
    if len(segments) == 1:
        exact = segments[0]
        return lambda v: v == exact and isinstance(v, str)
    head, middle, tail = segments[0], tuple(segments[1:-1]), segments[-1]
    fixed = len(head) + len(tail)

    def match(v: Any) -> bool:
        if not isinstance(v, str) or len(v) < fixed or not v.startswith(head) \
                or not v.endswith(tail):
            return False
        pos, end = len(head), len(v) - len(tail)
        for part in middle:  # leftmost placement of each literal is optimal for '*'-only globs
            found = v.find(part, pos, end)
            if found < 0:
                return False
            pos = found + len(part)
        return True

    return match


def _any_of(preds: list[_Pred]) -> _Pred:
    if len(preds) == 1:
        return preds[0]
    return lambda v: any(p(v) for p in preds)


def _anything_but(arg: Any, path: str, op: dict[str, Any]) -> _Pred:
    if isinstance(arg, dict):
        if len(arg) != 1:
            raise ConfigError(path, op, "anything-but takes one operator object")
        (name, sub), = arg.items()
        items = sub if isinstance(sub, list) else [sub]
        if not items or not all(isinstance(s, str) for s in items):
            raise ConfigError(path, op, f"anything-but {name} takes a string or a non-empty list "
                                        "of strings")
        if name in ("prefix", "suffix") and "" in items:
            raise ConfigError(path, op, f"anything-but {name} must not be empty")
        if name == "prefix":
            inner = _any_of([_prefix(s, False) for s in items])
        elif name == "suffix":
            inner = _any_of([_suffix(s, False) for s in items])
        elif name == "equals-ignore-case":
            inner = _equals_ignore_case(items)
        elif name == "wildcard":
            inner = _any_of([_wildcard(s, path, op) for s in items])
        else:
            raise ConfigError(path, op, f"unsupported anything-but operator {name!r}")
        return lambda v: not inner(v)
    items = arg if isinstance(arg, list) else [arg]
    strings = [x for x in items if isinstance(x, str)]
    numbers = [x for x in items if _is_number(x)]
    if not items or len(strings) + len(numbers) != len(items):
        raise ConfigError(path, op, "anything-but takes a string, a number, or a non-empty list "
                                    "of strings or of numbers")
    if strings and numbers:
        raise ConfigError(path, op, "an anything-but list must be all strings or all numbers")
    excluded_s, excluded_n = frozenset(strings), frozenset(numbers)

    def pred(v: Any) -> bool:
        if isinstance(v, str):
            return v not in excluded_s
        if isinstance(v, bool) or v is None:
            return True
        if isinstance(v, int | float):
            return v not in excluded_n
        return True

    return pred


def _numeric(arg: Any, path: str, op: dict[str, Any]) -> _Pred:
    if not isinstance(arg, list) or len(arg) not in (2, 4):
        raise ConfigError(path, op, "numeric takes [op, number] or [lower op, number, upper op, "
                                    "number]")
    ops, bounds = arg[0::2], arg[1::2]
    for o in ops:
        if o not in _NUMERIC_OPS:
            raise ConfigError(path, op, f"unknown numeric operator {o!r}")
    if not all(_is_number(b) for b in bounds):
        raise ConfigError(path, op, "numeric bounds must be numbers")
    lo, lo_incl, hi, hi_incl = -math.inf, False, math.inf, False
    if len(ops) == 2:
        if ops[0] not in (">", ">=") or ops[1] not in ("<", "<="):
            raise ConfigError(path, op, "a numeric range is a lower bound ('>' or '>=') then an "
                                        "upper bound ('<' or '<=')")
        if not bounds[0] < bounds[1]:
            raise ConfigError(path, op, "the lower bound of a numeric range must be below the "
                                        "upper bound")
    for o, b in zip(ops, bounds, strict=True):
        if o in ("=", ">", ">="):
            lo, lo_incl = b, o != ">"
        if o in ("=", "<", "<="):
            hi, hi_incl = b, o != "<"

    def pred(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        return (v > lo or (lo_incl and v == lo)) and (v < hi or (hi_incl and v == hi))

    return pred


@functools.lru_cache(maxsize=4096)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _cidr(arg: Any, path: str, op: dict[str, Any]) -> _Pred:
    if not isinstance(arg, str) or arg.count("/") != 1 or not arg.partition("/")[2].isdigit():
        raise ConfigError(path, op, "cidr takes a string 'address/prefix-length'")
    try:
        network = ipaddress.ip_network(arg, strict=False)
    except ValueError as exc:
        raise ConfigError(path, op, f"malformed cidr: {exc}") from None

    def pred(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        address = _ip(v)
        return address is not None and address.version == network.version and address in network

    return pred


def _add_operator(leaf: _Leaf, op: dict[str, Any], path: str) -> None:
    if len(op) != 1:
        raise ConfigError(path, op, "an operator object must have exactly one key")
    (name, arg), = op.items()
    if name in ("prefix", "suffix"):
        text, ignore_case = _affix_operand(name, arg, path, op)
        leaf.preds.append(
            (_prefix if name == "prefix" else _suffix)(text, ignore_case))
    elif name == "equals-ignore-case":
        if not isinstance(arg, str):
            raise ConfigError(path, op, "equals-ignore-case takes a string")
        leaf.preds.append(_equals_ignore_case([arg]))
    elif name == "wildcard":
        if not isinstance(arg, str):
            raise ConfigError(path, op, "wildcard takes a string")
        leaf.preds.append(_wildcard(arg, path, op))
    elif name == "anything-but":
        leaf.preds.append(_anything_but(arg, path, op))
    elif name == "numeric":
        leaf.preds.append(_numeric(arg, path, op))
    elif name == "cidr":
        leaf.preds.append(_cidr(arg, path, op))
    elif name == "exists":
        if not isinstance(arg, bool):
            raise ConfigError(path, op, "exists takes true or false")
        if arg:
            leaf.exists_true = True
        else:
            leaf.exists_false = True
    else:
        raise ConfigError(path, op, f"unknown operator {name!r}")


# --- pattern compiler ------------------------------------------------------------------------


def _compile_leaf(values: list[Any], path: str) -> _Leaf:
    if not values:
        raise ConfigError(path, values, "empty arrays are not allowed")
    leaf = _Leaf()
    for item in values:
        if isinstance(item, str):
            leaf.strings.add(item)
        elif isinstance(item, bool):
            if item:
                leaf.true = True
            else:
                leaf.false = True
        elif item is None:
            leaf.null = True
        elif _is_number(item):
            leaf.numbers.add(item)
        elif isinstance(item, dict):
            _add_operator(leaf, item, path)
        else:
            raise ConfigError(path, item, "match values must be strings, numbers, booleans, null "
                                          "or operator objects")
    return leaf


def _compile_object(obj: Any, path: str, in_or: bool = False) -> _Object:
    if not isinstance(obj, dict):
        raise ConfigError(path, obj, "a filter pattern must be a JSON object")
    if not obj:
        raise ConfigError(path, obj, "empty objects are not allowed")
    leaves: list[tuple[str, _Leaf]] = []
    nested: list[tuple[str, _Object]] = []
    ors: list[tuple[_Object, ...]] = []
    for key, value in obj.items():
        sub = f"{path}.{key}"
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise ConfigError(sub, value, "$or takes an array of at least 2 pattern objects")
            ors.append(tuple(_compile_object(b, f"{sub}[{i}]", True) for i, b in enumerate(value)))
        elif in_or and key in _RESERVED_IN_OR:
            raise ConfigError(sub, value, f"{key!r} is reserved and cannot be a field name in $or")
        elif isinstance(value, dict):
            nested.append((key, _compile_object(value, sub, in_or)))
        elif isinstance(value, list):
            leaves.append((key, _compile_leaf(value, sub)))
        else:
            raise ConfigError(sub, value, "a pattern field must be an object or an array of "
                                          "match values")
    return _Object(tuple(leaves), tuple(nested), tuple(ors))


def _top_shapes(obj: dict[str, Any], shapes: dict[str, str] | None = None) -> dict[str, str]:
    """How each top-level field is filtered: as a leaf, as an object, or both (via ``$or``)."""
    shapes = {} if shapes is None else shapes
    for key, value in obj.items():
        if key == "$or":
            for branch in value:
                _top_shapes(branch, shapes)
            continue
        shape = _OBJECT if isinstance(value, dict) else _LEAF
        shapes[key] = shape if shapes.get(key, shape) == shape else _MIXED
    return shapes


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _load(item: Any, path: str) -> tuple[str, dict[str, Any]]:
    """Parse one filter pattern (JSON text or a dict) -> (canonical JSON, parsed object)."""
    if isinstance(item, str):
        text = item
        try:
            obj = json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:
            raise ConfigError(path, item, f"pattern is not valid JSON: {exc}") from None
    elif isinstance(item, Mapping):
        try:
            text = json.dumps(dict(item), allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(path, item, f"pattern is not JSON-serializable: {exc}") from None
        obj = json.loads(text)
    else:
        raise ConfigError(path, item, "a filter pattern must be a JSON string or a dict")
    if len(text) > MAX_PATTERN_LENGTH:
        raise ConfigError(path, len(text), f"a pattern is at most {MAX_PATTERN_LENGTH} characters")
    if not isinstance(obj, dict):
        raise ConfigError(path, obj, "a filter pattern must be a JSON object")
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False), obj


def _is_lambda_shape(arg: Any) -> bool:
    if not isinstance(arg, Mapping) or set(arg) != {"Filters"}:
        return False
    entries = arg["Filters"]
    return isinstance(entries, list) and all(
        isinstance(e, Mapping) and "Pattern" in e for e in entries)


def _unwrap(item: Any) -> Any:
    """``{"Pattern": "..."}`` (one entry of Lambda's ``Filters``) -> the pattern."""
    if isinstance(item, Mapping) and set(item) == {"Pattern"} and isinstance(item["Pattern"], str):
        return item["Pattern"]
    return item


# --- public API ------------------------------------------------------------------------------


class FilterCriteria:
    """Up to :data:`MAX_FILTERS` filter patterns, compiled once; a record matches if any does.

    Build it from patterns, each a JSON string or a dict::

        FilterCriteria('{"body": {"RequestCode": ["BBBB"]}}', {"eventName": ["INSERT"]})

    or from Lambda's own shape, ``FilterCriteria({"Filters": [{"Pattern": "..."}]})``. Criteria
    with no filters match every record (Lambda does not filter). Invalid patterns raise
    :class:`~asynclambda.errors.ConfigError` naming the pattern field, e.g.
    ``filter_criteria.filters[0].body.price``, and the bad value. Instances are immutable and
    compare equal when their canonical patterns are equal.
    """

    __slots__ = ("_filters", "_patterns")
    _filters: tuple[_Filter, ...]
    _patterns: tuple[str, ...]

    def __init__(self, *filters: str | Mapping[str, Any]) -> None:
        items: list[Any] = list(filters)
        if len(items) == 1 and _is_lambda_shape(items[0]):
            items = list(items[0]["Filters"])
        if len(items) > MAX_FILTERS:
            raise ConfigError(_FIELD, len(items),
                              f"at most {MAX_FILTERS} filters per event source mapping")
        compiled, texts = [], []
        for i, item in enumerate(items):
            path = f"{_FIELD}[{i}]"
            text, obj = _load(_unwrap(item), path)
            compiled.append(_Filter(_compile_object(obj, path), _top_shapes(obj)))
            texts.append(text)
        object.__setattr__(self, "_filters", tuple(compiled))
        object.__setattr__(self, "_patterns", tuple(texts))

    @property
    def patterns(self) -> tuple[str, ...]:
        """The patterns as canonical JSON text (sorted keys, no spaces), in the order given."""
        return self._patterns

    def to_dict(self) -> dict[str, list[dict[str, str]]]:
        """Lambda's shape: ``{"Filters": [{"Pattern": "..."}, ...]}``."""
        return {"Filters": [{"Pattern": p} for p in self._patterns]}

    def matches(self, obj: Any) -> bool:
        """Whether the decoded JSON ``obj`` matches any filter (always, if there are none)."""
        if not self._filters:
            return True
        for f in self._filters:  # noqa: SIM110 - a plain loop: this is the hot path
            if f.root.match(obj):
                return True
        return False

    def __len__(self) -> int:
        return len(self._filters)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FilterCriteria):
            return NotImplemented
        return self._patterns == other._patterns

    def __hash__(self) -> int:
        return hash(self._patterns)

    def __repr__(self) -> str:
        return f"FilterCriteria({', '.join(map(repr, self._patterns))})"

    def __reduce__(self) -> tuple[type[FilterCriteria], tuple[str, ...]]:
        return (FilterCriteria, self._patterns)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FilterCriteria is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("FilterCriteria is immutable")


_UNDECODABLE: Final[Any] = object()


def _decode(raw: Any, b64: bool) -> tuple[bool, Any]:
    """A payload field -> (is_json, value). Parsed at most once per record."""
    if isinstance(raw, Mapping | list):
        return True, raw  # already decoded by the caller
    if b64 and isinstance(raw, str | bytes):
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
            return False, _UNDECODABLE  # Lambda then applies metadata filters only
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return False, raw
        if isinstance(parsed, dict | list):
            return True, parsed
    return False, raw


def _match_payload(criteria: FilterCriteria, target: Mapping[str, Any], key: str,
                   b64: bool) -> bool:
    filters = criteria._filters
    if not filters:
        return True
    view: Mapping[str, Any] | None = None
    is_json = False
    for f in filters:
        shape = f.shapes.get(key)
        if shape is None:  # the pattern does not look at the payload: metadata only
            if f.root.match(target):
                return True
            continue
        if view is None:
            raw = target.get(key, _MISSING)
            if raw is _MISSING:
                view = target
            else:
                is_json, value = _decode(raw, b64)
                view = {**target, key: value} if value is not _UNDECODABLE else _EMPTY
        if view is _EMPTY or (shape == _OBJECT and not is_json) or (shape == _LEAF and is_json):
            continue  # payload and pattern formats disagree: Lambda drops the record
        if f.root.match(view):
            return True
    return False


def matches_sqs(criteria: FilterCriteria, record: Mapping[str, Any]) -> bool:
    """Whether an SQS message record (Lambda's ``Records[]`` shape) passes the criteria.

    A JSON object/array ``body`` is parsed (once) and filtered by an object pattern on ``body``; a
    plain-string body is filtered by a leaf pattern on ``body`` (``{"body": [{"prefix": "x"}]}``).
    If the formats disagree the message does not match; patterns without ``body`` filter on the
    other fields only.
    """
    return _match_payload(criteria, record, "body", False)


def matches_kinesis(criteria: FilterCriteria, record: Mapping[str, Any]) -> bool:
    """Whether a Kinesis record passes the criteria.

    Patterns apply to the ``kinesis`` object of the record (``partitionKey``, ``data``, ...), or to
    ``record`` itself if it has no ``kinesis`` key. ``data`` is base64-decoded and parsed as JSON;
    a record whose data is not JSON never matches a pattern on ``data`` (Lambda drops it) but is
    filtered on the other fields by patterns that do not name ``data``.
    """
    inner = record.get("kinesis")
    return _match_payload(criteria, inner if isinstance(inner, Mapping) else record, "data", True)


def matches_dynamodb(criteria: FilterCriteria, record: Mapping[str, Any]) -> bool:
    """Whether a DynamoDB stream record passes the criteria.

    Patterns apply to the whole record: ``eventName`` and the typed attributes under ``dynamodb``
    (``{"dynamodb": {"NewImage": {"Status": {"S": ["ACTIVE"]}}}}``). DynamoDB numbers are strings
    (``{"N": "101"}``), so match them as strings; ``numeric`` does not apply to them.
    """
    return criteria.matches(record)


def matches_kafka(criteria: FilterCriteria, record: Mapping[str, Any]) -> bool:
    """Whether a Kafka record (MSK or self-managed) passes: ``value`` is base64, JSON or text."""
    return _match_payload(criteria, record, "value", True)


def matches_mq(criteria: FilterCriteria, record: Mapping[str, Any]) -> bool:
    """Whether an Amazon MQ message passes: ``data`` is base64, UTF-8 JSON or plain text."""
    return _match_payload(criteria, record, "data", True)


def matches_event(criteria: FilterCriteria, event: Any) -> bool:
    """Whether an EventBridge-style event (any decoded JSON) passes the criteria."""
    return criteria.matches(event)
