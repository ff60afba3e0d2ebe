"""The testing kit's strategies produce valid values and shrink to the boring case."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from asynclambda.config import EventInvokeConfig
from asynclambda.testing.strategies import (
    Delivery,
    DeliveryPlan,
    FailureSchedule,
    delivery_faults,
    event_invoke_configs,
    failure_schedules,
    json_payloads,
    json_values,
)

FIND = settings(database=None, max_examples=2000, suppress_health_check=list(HealthCheck))


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


def leaves(value: Any) -> int:
    if isinstance(value, list):
        return sum(map(leaves, value))
    if isinstance(value, dict):
        return sum(map(leaves, value.values()))
    return 1


def widths(value: Any) -> list[int]:
    if isinstance(value, list):
        return [len(value), *(w for v in value for w in widths(v))]
    if isinstance(value, dict):
        return [len(value), *(w for v in value.values() for w in widths(v))]
    return []


# -- JSON ---------------------------------------------------------------------------------------
@given(json_values())
def test_json_values_round_trip_through_every_json_codec(value: Any) -> None:
    assert msgspec.json.decode(msgspec.json.encode(value)) == value
    assert json.loads(json.dumps(value, allow_nan=False)) == value


@given(json_values(max_depth=2, max_leaves=5, max_size=3))
def test_json_values_respect_their_bounds(value: Any) -> None:
    assert depth(value) <= 2
    assert leaves(value) <= 5
    assert all(w <= 3 for w in widths(value))


@given(json_values(max_depth=0, allow_floats=False))
def test_depth_zero_is_scalars_only(value: Any) -> None:
    assert isinstance(value, str | int | bool | type(None))


@given(json_payloads(max_depth=2))
def test_json_payloads_are_objects(payload: dict[str, Any]) -> None:
    assert isinstance(payload, dict) and depth(payload) <= 2
    assert msgspec.json.decode(msgspec.json.encode(payload)) == payload


def test_json_values_shrink_to_the_simplest_value() -> None:
    assert find(json_values(), lambda v: isinstance(v, list) and len(v) >= 2,
                settings=FIND) == [None, None]
    assert find(json_values(), lambda v: isinstance(v, dict) and len(v) >= 1,
                settings=FIND) == {"": None}
    assert find(json_values(), lambda v: isinstance(v, str) and len(v) >= 1,
                settings=FIND) == "0"


def test_json_values_rejects_impossible_bounds() -> None:
    with pytest.raises(ValueError, match="max_leaves"):
        json_values(max_leaves=0)


# -- EventInvokeConfig --------------------------------------------------------------------------
@given(event_invoke_configs())
def test_event_invoke_configs_are_valid(config: EventInvokeConfig) -> None:
    assert 0 <= config.maximum_retry_attempts <= 2
    assert 60 <= config.maximum_event_age <= 21_600
    assert msgspec.structs.replace(config) == config  # __post_init__ accepts it again


def test_event_invoke_configs_shrink_to_the_smallest() -> None:
    smallest = find(event_invoke_configs(), lambda c: True, settings=FIND)
    assert (smallest.maximum_retry_attempts, smallest.maximum_event_age) == (0, 60)


@given(event_invoke_configs(on_failure=st.just("function:dlq-handler")))
def test_event_invoke_configs_take_destinations(config: EventInvokeConfig) -> None:
    assert config.on_failure == "function:dlq-handler" and config.on_success is None


# -- failure schedules --------------------------------------------------------------------------
@given(failure_schedules(attempts=st.integers(0, 5)))
def test_failure_schedules_are_consulted_by_attempt(schedule: FailureSchedule) -> None:
    for attempt in range(1, schedule.attempts + 1):
        assert schedule.outcome(attempt) == schedule.outcomes[attempt - 1]
    assert schedule.outcome(schedule.attempts + 1) == "ok"  # past the schedule: success
    first = schedule.first_success
    assert all(o != "ok" for o in schedule.outcomes[:first - 1])
    assert sum(schedule.count(o) for o in ("ok", "error", "timeout", "throttle")) == \
        schedule.attempts


@given(failure_schedules(attempts=3, outcomes=("error", "timeout"), eventually_ok=True))
def test_eventually_ok_schedules_end_with_a_success(schedule: FailureSchedule) -> None:
    assert schedule.outcomes[-1] == "ok" and schedule.attempts == 3
    assert set(schedule.outcomes[:-1]) <= {"error", "timeout"}


def test_failure_schedules_shrink_to_a_single_failure() -> None:
    shrunk = find(failure_schedules(), lambda s: "timeout" in s.outcomes, settings=FIND)
    assert shrunk.outcomes == ("ok", "ok", "timeout")


def test_failure_schedule_validation() -> None:
    with pytest.raises(ValueError, match="outcomes"):
        FailureSchedule(("ok", "explode"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="numbered from 1"):
        FailureSchedule(("ok",)).outcome(0)
    with pytest.raises(ValueError, match="explode"):
        failure_schedules(outcomes=("explode",))  # type: ignore[arg-type]


def test_failure_schedules_are_json() -> None:
    schedule = FailureSchedule(("error", "ok"))
    assert msgspec.json.decode(msgspec.json.encode(schedule), type=FailureSchedule) == schedule


# -- delivery plans -----------------------------------------------------------------------------
def event_counts(plan: DeliveryPlan) -> Counter[int]:
    return Counter(d.index for d in plan.deliveries)


@given(delivery_faults(st.integers(0, 5)))
def test_plans_deliver_every_event_in_order_by_default(plan: DeliveryPlan) -> None:
    assert set(event_counts(plan)) == set(range(plan.n_events))
    assert not plan.reordered
    assert list(plan.order) == sorted(plan.order)
    assert all(c <= 3 for c in event_counts(plan).values())  # 1 + at most 2 faults
    assert plan.duplicates + plan.crashes + plan.n_events == len(plan.deliveries)


@given(delivery_faults(4, reorder=True))
def test_reordered_plans_keep_every_delivery(plan: DeliveryPlan) -> None:
    assert set(event_counts(plan)) == set(range(4))
    for index in range(4):  # an event's crashes come before its acknowledged delivery
        flags = [d.crash for d in plan.deliveries if d.index == index]
        assert flags == sorted(flags, reverse=True) and not flags[-1]


@given(delivery_faults(3, duplicates=False))
def test_crash_only_plans(plan: DeliveryPlan) -> None:
    assert plan.duplicates == 0


@given(delivery_faults(3, crashes=False, max_faults_per_event=1))
def test_duplicate_only_plans(plan: DeliveryPlan) -> None:
    assert plan.crashes == 0 and all(c <= 2 for c in event_counts(plan).values())


@given(delivery_faults(3, duplicates=False, crashes=False))
def test_no_faults_is_the_clean_plan(plan: DeliveryPlan) -> None:
    assert plan.is_clean and plan == DeliveryPlan.clean(3)


def test_plans_shrink_to_one_fault() -> None:
    faulty = find(delivery_faults(3), lambda p: not p.is_clean, settings=FIND)
    assert (len(faulty.deliveries), faulty.duplicates, faulty.crashes) == (4, 1, 0)
    assert not faulty.reordered  # the duplicate right after its event
    crashed = find(delivery_faults(2), lambda p: p.crashes > 0, settings=FIND)
    assert (len(crashed.deliveries), crashed.duplicates, crashed.crashes) == (3, 0, 1)
    at = next(i for i, d in enumerate(crashed.deliveries) if d.crash)
    assert crashed.deliveries[at + 1] == Delivery(crashed.deliveries[at].index)  # redelivered
    swapped = find(delivery_faults(3, reorder=True), lambda p: p.reordered, settings=FIND)
    assert swapped.is_clean is False and swapped.duplicates == swapped.crashes == 0
    assert sorted(swapped.order) == [0, 1, 2]


@given(delivery_faults(5, reorder=True), st.lists(st.sampled_from("ab"), min_size=5,
                                                   max_size=5))
def test_respecting_keys_restores_the_order_within_each_key(plan: DeliveryPlan,
                                                            keys: list[str]) -> None:
    kept = plan.respecting(keys)
    assert event_counts(kept) == event_counts(plan)
    assert kept.crashes == plan.crashes and kept.duplicates == plan.duplicates
    for key in "ab":
        same_key = [i for i in kept.order if keys[i] == key]
        assert same_key == sorted(same_key)
    # Slots are kept: where a key's deliveries were, its deliveries still are.
    assert [keys[i] for i in kept.order] == [keys[i] for i in plan.order]


def test_plan_validation_and_description() -> None:
    with pytest.raises(ValueError, match="never end with an acknowledged"):
        DeliveryPlan(1, (Delivery(0, crash=True),))
    with pytest.raises(ValueError, match="never end with an acknowledged"):
        DeliveryPlan(2, (Delivery(0),))
    with pytest.raises(ValueError, match="there are 1 events"):
        DeliveryPlan(1, (Delivery(0), Delivery(1)))
    plan = DeliveryPlan.build(2, [1, 0, 0, 1], crashes=[1, 0])
    assert plan.deliveries == (Delivery(1), Delivery(0, crash=True), Delivery(0), Delivery(1))
    assert plan.describe() == ("#1 -> #0 (crash before ack) -> #0 -> #1 (duplicate)  "
                               "[1 duplicate(s), 1 crash(es), reordered]")
    assert DeliveryPlan.clean(0).describe() == "no deliveries (no events)"
    assert list(plan) == list(plan.deliveries)
    with pytest.raises(ValueError, match="2 keys for 1 events"):
        DeliveryPlan.clean(1).respecting(["a", "b"])
