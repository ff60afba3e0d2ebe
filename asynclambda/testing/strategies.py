"""Hypothesis strategies for Lambda-shaped tests: payloads, async invoke configs, failures, faults.

Every strategy is built so that Hypothesis shrinks towards the *boring* case: scalars before
containers, short before long, ``"ok"`` before a failure, no fault before a fault, a duplicate
before a crash, the original order before a permutation. A shrunk counter-example therefore shows
the one thing that matters.

::

    from hypothesis import given
    from asynclambda.testing.strategies import delivery_faults, failure_schedules, json_payloads

    @given(json_payloads(), failure_schedules(attempts=3))
    def test_retries(payload, schedule): ...
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator, Sequence
from typing import Any, Final, Literal, get_args

import msgspec
from hypothesis import strategies as st

from asynclambda.config import EventInvokeConfig

__all__ = [
    "Delivery",
    "DeliveryPlan",
    "FailureSchedule",
    "Outcome",
    "delivery_faults",
    "event_invoke_configs",
    "failure_schedules",
    "json_payloads",
    "json_values",
]

#: What one attempt does: succeed, raise, run past its deadline, or get throttled.
Outcome = Literal["ok", "error", "timeout", "throttle"]
_OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)

# Integers that survive every JSON parser unchanged (JavaScript's safe range).
_MAX_SAFE_INT: Final = 2**53 - 1


# -- JSON ---------------------------------------------------------------------------------------
def _scalars(allow_floats: bool, max_string_size: int) -> st.SearchStrategy[Any]:
    # Order matters for shrinking: null, then booleans, numbers, strings.
    options: list[st.SearchStrategy[Any]] = [
        st.none(),
        st.booleans(),
        st.integers(-_MAX_SAFE_INT, _MAX_SAFE_INT),
    ]
    if allow_floats:
        options.append(st.floats(allow_nan=False, allow_infinity=False))
    options.append(st.text(st.characters(codec="utf-8"), max_size=max_string_size))
    return st.one_of(options)


@st.composite
def _json_tree(draw: st.DrawFn, depth: int, budget: list[int], scalars: st.SearchStrategy[Any],
               keys: st.SearchStrategy[str], max_size: int) -> Any:
    """A JSON value at most ``depth`` deep, taking its leaves from the shared ``budget``."""
    if depth == 0 or budget[0] <= 1:
        budget[0] -= 1
        return draw(scalars)
    kind = draw(st.integers(0, 2))  # 0 (a scalar) first: containers shrink away
    if kind == 0:
        budget[0] -= 1
        return draw(scalars)
    child = _json_tree(depth - 1, budget, scalars, keys, max_size)
    if kind == 1:
        items: list[Any] = []
        for _ in range(draw(st.integers(0, max_size))):
            if budget[0] <= 0:
                break
            items.append(draw(child))
        return items
    names = draw(st.lists(keys, max_size=max_size, unique=True))
    obj: dict[str, Any] = {}
    for name in names:
        if budget[0] <= 0:
            break
        obj[name] = draw(child)
    return obj


def json_values(*, max_depth: int = 3, max_leaves: int = 12, max_size: int = 4,
                allow_floats: bool = True, max_string_size: int = 16,
                keys: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Any]:
    """Any JSON value: ``None``, booleans, numbers, strings, lists and objects.

    ``max_depth`` bounds nesting (0: scalars only), ``max_leaves`` the scalars in the whole value
    and ``max_size`` the items of any one list or object. Integers stay within ±(2**53 - 1) and
    floats are finite, so a value survives a round trip through any JSON parser (and through
    ``Runtime.invoke``) unchanged. Object keys come from ``keys`` (short text by default).
    """
    if max_depth < 0 or max_leaves < 1 or max_size < 0:
        raise ValueError(f"json_values: max_depth={max_depth!r} must be >= 0, "
                         f"max_leaves={max_leaves!r} >= 1 and max_size={max_size!r} >= 0")
    scalars = _scalars(allow_floats, max_string_size)
    key_strategy = keys if keys is not None else st.text(st.characters(codec="utf-8"),
                                                         max_size=8)

    @st.composite
    def value(draw: st.DrawFn) -> Any:
        return draw(_json_tree(max_depth, [max_leaves], scalars, key_strategy, max_size))

    return value()


def json_payloads(*, max_depth: int = 3, max_leaves: int = 12, max_size: int = 4,
                  allow_floats: bool = True, max_string_size: int = 16,
                  keys: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON *object*: what an event usually is. Same options as :func:`json_values`; the
    object itself is the first level of ``max_depth``."""
    child = json_values(max_depth=max(max_depth - 1, 0), max_leaves=max_leaves,
                        max_size=max_size, allow_floats=allow_floats,
                        max_string_size=max_string_size, keys=keys)
    key_strategy = keys if keys is not None else st.text(st.characters(codec="utf-8"),
                                                         max_size=8)
    return st.dictionaries(key_strategy, child, max_size=max_size)


# -- async invoke configuration -----------------------------------------------------------------
def event_invoke_configs(*, maximum_retry_attempts: st.SearchStrategy[int] | None = None,
                         maximum_event_age: st.SearchStrategy[float] | None = None,
                         on_success: st.SearchStrategy[Any] | None = None,
                         on_failure: st.SearchStrategy[Any] | None = None,
                         ) -> st.SearchStrategy[EventInvokeConfig]:
    """Valid :class:`~asynclambda.config.EventInvokeConfig` values.

    Retries 0-2 and event ages 60 s - 6 h (whole seconds) by default, shrinking to no retries
    and the shortest age; destinations are ``None`` unless a strategy for them is given.
    """
    return st.builds(
        EventInvokeConfig,
        maximum_retry_attempts=(maximum_retry_attempts if maximum_retry_attempts is not None
                                else st.integers(0, 2)),
        maximum_event_age=(maximum_event_age if maximum_event_age is not None
                           else st.integers(60, 21_600)),
        on_success=on_success if on_success is not None else st.none(),
        on_failure=on_failure if on_failure is not None else st.none(),
    )


# -- failure schedules --------------------------------------------------------------------------
class FailureSchedule(msgspec.Struct, frozen=True):
    """What each attempt of one event does, for a test handler to consult::

        async def handler(event, context):
            match schedule.outcome(context.attempt):
                case "error": raise RuntimeError("scheduled failure")
                case "timeout": await forever.wait()     # past the function's deadline
                case "throttle": ...                     # the test's fake refuses the attempt

    ``outcomes[0]`` is attempt 1's. Attempts past the schedule succeed (``"ok"``).
    """

    outcomes: tuple[Outcome, ...]

    def __post_init__(self) -> None:
        for i, outcome in enumerate(self.outcomes):
            if outcome not in _OUTCOMES:
                raise ValueError(f"FailureSchedule: outcomes[{i}]={outcome!r} is not one of "
                                 f"{', '.join(_OUTCOMES)}")

    def outcome(self, attempt: int) -> Outcome:
        """The outcome of attempt number ``attempt`` (1-based, as ``context.attempt``)."""
        if attempt < 1:
            raise ValueError(f"attempt={attempt!r}: attempts are numbered from 1")
        return self.outcomes[attempt - 1] if attempt <= len(self.outcomes) else "ok"

    @property
    def attempts(self) -> int:
        """How many attempts the schedule describes."""
        return len(self.outcomes)

    @property
    def first_success(self) -> int:
        """The first attempt that succeeds (``attempts + 1`` if all scheduled ones fail)."""
        for i, outcome in enumerate(self.outcomes, 1):
            if outcome == "ok":
                return i
        return len(self.outcomes) + 1

    def count(self, outcome: Outcome) -> int:
        """How many scheduled attempts have ``outcome``."""
        return self.outcomes.count(outcome)


def failure_schedules(*, attempts: int | st.SearchStrategy[int] = 3,
                      outcomes: Sequence[Outcome] = _OUTCOMES,
                      eventually_ok: bool = False) -> st.SearchStrategy[FailureSchedule]:
    """Schedules of ``attempts`` outcomes drawn from ``outcomes`` (all four by default).

    With ``eventually_ok`` the last scheduled attempt succeeds. Each outcome shrinks towards the
    first of ``outcomes`` (``"ok"`` by default), so a shrunk schedule fails only where it must.
    """
    options = tuple(outcomes)
    if not options:
        raise ValueError("failure_schedules: outcomes must not be empty")
    for outcome in options:
        if outcome not in _OUTCOMES:
            raise ValueError(f"failure_schedules: {outcome!r} is not one of {', '.join(_OUTCOMES)}")
    count = st.just(attempts) if isinstance(attempts, int) else attempts

    @st.composite
    def schedules(draw: st.DrawFn) -> FailureSchedule:
        n = draw(count)
        if n < 0:
            raise ValueError(f"failure_schedules: attempts={n!r} must be >= 0")
        drawn = [draw(st.sampled_from(options)) for _ in range(n)]
        if eventually_ok and drawn:
            drawn[-1] = "ok"
        return FailureSchedule(tuple(drawn))

    return schedules()


# -- delivery faults ----------------------------------------------------------------------------
class Delivery(msgspec.Struct, frozen=True):
    """One delivery of event number ``index``. ``crash``: the handler ran (its side effects
    happened) but the delivery was not acknowledged, so the event is delivered again later."""

    index: int
    crash: bool = False


class DeliveryPlan(msgspec.Struct, frozen=True):
    """How ``n_events`` events reach a handler under at-least-once delivery.

    ``deliveries`` is the sequence of deliveries. A clean plan delivers each event once, in
    order. Faults: *duplicates* (an event delivered again after it was acknowledged), *crashes*
    (a delivery whose handler ran but whose acknowledgement was lost; it is redelivered), and
    *reordering* (a permutation of the sequence). Every event ends with an acknowledged delivery:
    at-least-once never loses an event.
    """

    n_events: int
    deliveries: tuple[Delivery, ...]

    def __post_init__(self) -> None:
        acked = [False] * self.n_events
        for d in self.deliveries:
            if not 0 <= d.index < self.n_events:
                raise ValueError(f"DeliveryPlan: delivery of event {d.index} but there are "
                                 f"{self.n_events} events")
            acked[d.index] = not d.crash
        missing = [i for i, ok in enumerate(acked) if not ok]
        if missing:
            raise ValueError(f"DeliveryPlan: event(s) {missing} never end with an acknowledged "
                             "delivery (a crash must be followed by a redelivery)")

    @classmethod
    def clean(cls, n_events: int) -> DeliveryPlan:
        """Each event once, in order, acknowledged."""
        return cls(n_events, tuple(Delivery(i) for i in range(n_events)))

    @classmethod
    def build(cls, n_events: int, order: Sequence[int], crashes: Sequence[int] = ()
              ) -> DeliveryPlan:
        """From the sequence of event indices and how many deliveries of each event crash.

        The crashes of an event are its *earliest* deliveries (all deliveries of one event are
        alike, and a crash must be followed by a redelivery).
        """
        left = list(crashes) + [0] * (n_events - len(crashes))
        out = []
        for index in order:
            crash = left[index] > 0
            left[index] -= crash
            out.append(Delivery(index, crash))
        return cls(n_events, tuple(out))

    def __iter__(self) -> Iterator[Delivery]:
        return iter(self.deliveries)

    @property
    def order(self) -> tuple[int, ...]:
        """The event index of each delivery."""
        return tuple(d.index for d in self.deliveries)

    @property
    def duplicates(self) -> int:
        """Acknowledged deliveries beyond the first of each event."""
        acked = sum(1 for d in self.deliveries if not d.crash)
        return acked - len({d.index for d in self.deliveries})

    @property
    def crashes(self) -> int:
        """Deliveries whose acknowledgement was lost (each is redelivered)."""
        return sum(1 for d in self.deliveries if d.crash)

    @property
    def reordered(self) -> bool:
        """True if the sequence ever goes back to a lower-numbered event."""
        order = self.order
        return any(a > b for a, b in itertools.pairwise(order))

    @property
    def is_clean(self) -> bool:
        """True for each event once, in order, acknowledged."""
        return self == DeliveryPlan.clean(self.n_events)

    def respecting(self, keys: Sequence[Hashable]) -> DeliveryPlan:
        """This plan with the order of events that share a key restored (``keys[i]`` is event
        ``i``'s ordering key, e.g. a partition key or a FIFO message group).

        Deliveries keep their slots; within each key the slots are given back to that key's
        deliveries in event order, so only events with different keys overtake each other.
        """
        if len(keys) != self.n_events:
            raise ValueError(f"respecting: {len(keys)} keys for {self.n_events} events")
        order = list(self.order)
        slots: dict[Hashable, list[int]] = {}
        for position, index in enumerate(order):
            slots.setdefault(keys[index], []).append(position)
        for positions in slots.values():
            for position, index in zip(positions, sorted(order[p] for p in positions),
                                       strict=True):
                order[position] = index
        crashes = [0] * self.n_events
        for d in self.deliveries:
            crashes[d.index] += d.crash
        return DeliveryPlan.build(self.n_events, order, crashes)

    def describe(self) -> str:
        """A one-line account, e.g. ``#0 -> #0 (duplicate) -> #1 (crash before ack) -> #1``."""
        if not self.deliveries:
            return "no deliveries (no events)"
        seen: set[int] = set()
        steps = []
        for d in self.deliveries:
            if d.crash:
                steps.append(f"#{d.index} (crash before ack)")
            elif d.index in seen:
                steps.append(f"#{d.index} (duplicate)")
            else:
                steps.append(f"#{d.index}")
                seen.add(d.index)
        summary = (f"{self.duplicates} duplicate(s), {self.crashes} crash(es), "
                   f"{'reordered' if self.reordered else 'in order'}")
        return f"{' -> '.join(steps)}  [{summary}]"


_FAULT_KINDS: Final = ("duplicate", "crash")  # a duplicate is the simpler fault: it comes first


def delivery_faults(n_events: int | st.SearchStrategy[int] | None = None, *,
                    duplicates: bool = True, crashes: bool = True, reorder: bool = False,
                    max_faults_per_event: int = 2) -> st.SearchStrategy[DeliveryPlan]:
    """:class:`DeliveryPlan` values for ``n_events`` events (1-4 events if not given).

    Each event gets up to ``max_faults_per_event`` faults, each a duplicate or a crash between
    the side effect and the acknowledgement (followed by a redelivery); duplicates and
    redeliveries come right after the event, as a FIFO queue or a stream shard redelivers.
    ``reorder`` then permutes the whole sequence (only for handlers whose effects do not depend
    on order; see :meth:`DeliveryPlan.respecting` for ordering keys).

    Reordering gives every delivery a sort key (a stable sort by it is the new order), drawn with
    its event's faults. Shrinks towards the clean plan: fewer faults, duplicates before crashes,
    all sort keys 0 (the original order).
    """
    if max_faults_per_event < 0:
        raise ValueError(f"delivery_faults: max_faults_per_event={max_faults_per_event!r} "
                         "must be >= 0")
    kinds = tuple(k for k, on in zip(_FAULT_KINDS, (duplicates, crashes), strict=True) if on)
    count = (st.integers(1, 4) if n_events is None
             else st.just(n_events) if isinstance(n_events, int) else n_events)
    faults = (st.lists(st.sampled_from(kinds), max_size=max_faults_per_event) if kinds
              else st.just([]))

    @st.composite
    def plans(draw: st.DrawFn) -> DeliveryPlan:
        n = draw(count)
        if n < 0:
            raise ValueError(f"delivery_faults: n_events={n!r} must be >= 0")
        slots = st.integers(0, n * (1 + max_faults_per_event))
        keyed: list[tuple[int, int, int]] = []  # (sort key, position, event index)
        crash_counts = []
        for index in range(n):
            # One event's faults and sort keys are drawn together, so that the shrinker can
            # delete an event with everything that belongs to it.
            drawn = draw(faults)
            crash_counts.append(drawn.count("crash"))
            for _ in range(1 + len(drawn)):
                key = draw(slots) if reorder else 0  # all 0: the original order
                keyed.append((key, len(keyed), index))
        keyed.sort()
        return DeliveryPlan.build(n, [index for _, _, index in keyed], crash_counts)

    return plans()
