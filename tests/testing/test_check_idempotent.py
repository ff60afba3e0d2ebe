"""check_idempotent: the balance example both ways, shrinking, crashes, order, and misuse."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st

import asynclambda as al
from asynclambda.idempotency import IdempotencyConfig, MemoryIdempotencyStore, idempotent
from asynclambda.testing import (
    Delivery,
    DeliveryPlan,
    IdempotencyViolation,
    check_idempotent,
    check_idempotent_async,
    delivery_faults,
)

# Few examples, no example database (failures are expected here), no explain phase (slow, and the
# counter-example already names the faults that matter).
FAST = settings(max_examples=25, deadline=None, database=None,
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])


class Bank:
    """The user-supplied state: balances, and the idempotency store the handler uses."""

    def __init__(self) -> None:
        self.balances: dict[str, int] = {}
        self.store = MemoryIdempotencyStore()
        self.resets = 0

    async def read_state(self) -> dict[str, int]:
        return dict(self.balances)

    async def reset_state(self) -> None:
        self.resets += 1
        self.balances.clear()
        await self.store.clear()


@pytest.fixture
def bank() -> Bank:
    return Bank()


def deposits(**list_options: Any) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Deposits with unique transaction ids: {"account", "amount", "transaction_id"}."""
    one = st.fixed_dictionaries({"account": st.sampled_from(["alice", "bob"]),
                                 "amount": st.integers(1, 100)})
    return st.lists(one, min_size=1, max_size=4, **list_options).map(
        lambda events: [{**e, "transaction_id": f"t-{i}"} for i, e in enumerate(events)])


def test_set_the_balance_to_20_is_idempotent(bank: Bank) -> None:
    async def set_twenty(event: dict[str, Any], context: al.LambdaContext) -> None:
        bank.balances[event["account"]] = 20

    check_idempotent(set_twenty, events=deposits(), read_state=bank.read_state,
                     reset_state=bank.reset_state, settings=FAST)


def test_add_10_to_the_balance_is_caught_with_a_minimal_counter_example(bank: Bank) -> None:
    async def add_ten(event: dict[str, Any], context: al.LambdaContext) -> None:
        bank.balances[event["account"]] = bank.balances.get(event["account"], 0) + 10

    with pytest.raises(IdempotencyViolation) as info:
        check_idempotent(add_ten, events=deposits(), read_state=bank.read_state,
                         reset_state=bank.reset_state, settings=FAST)
    violation = info.value
    # Shrunk to one event delivered twice: a single duplicate of a single event.
    assert len(violation.events) == 1
    assert violation.plan == DeliveryPlan(1, (Delivery(0), Delivery(0)))
    account = violation.events[0]["account"]
    assert violation.clean_state == {account: 10}
    assert violation.faulty_state == {account: 20}
    message = str(violation)
    for expected in ("not idempotent", "events (1):", "#0 -> #0 (duplicate)",
                     "1 duplicate(s), 0 crash(es), in order", f"{{'{account}': 10}}",
                     f"{{'{account}': 20}}", "clean state", "faulty state"):
        assert expected in message


def test_a_crash_between_the_side_effect_and_the_ack_is_a_redelivery(bank: Bank) -> None:
    async def add_ten(event: dict[str, Any], context: al.LambdaContext) -> None:
        bank.balances[event["account"]] = bank.balances.get(event["account"], 0) + 10

    with pytest.raises(IdempotencyViolation) as info:
        check_idempotent(add_ten, events=deposits(), read_state=bank.read_state,
                         reset_state=bank.reset_state, settings=FAST,
                         faults=functools.partial(delivery_faults, duplicates=False))
    assert info.value.plan == DeliveryPlan(1, (Delivery(0, crash=True), Delivery(0)))
    assert "#0 (crash before ack) -> #0" in str(info.value)


@pytest.mark.parametrize("handler_kind", ["async", "def"])
def test_the_idempotency_decorator_makes_add_10_idempotent(bank: Bank, handler_kind: str) -> None:
    config = IdempotencyConfig(event_key_jmespath="transaction_id")

    def add(event: dict[str, Any]) -> dict[str, int]:
        bank.balances[event["account"]] = bank.balances.get(event["account"], 0) + 10
        return dict(bank.balances)

    if handler_kind == "async":
        async def add_ten(event: dict[str, Any], context: al.LambdaContext) -> dict[str, int]:
            return add(event)
    else:
        def add_ten(event: dict[str, Any], context: al.LambdaContext) -> dict[str, int]:
            return add(event)

    handler = idempotent(bank.store, config=config)(add_ten)
    check_idempotent(handler, events=deposits(), read_state=bank.read_state,
                     reset_state=bank.reset_state, settings=FAST, order_independent=True)
    assert bank.resets >= 2


def test_reordering_needs_order_independence(bank: Bank) -> None:
    """"Set the balance to the event's amount" survives duplicates, not reordering: the check
    only reorders when told the handler claims order independence (and then it is caught)."""

    async def set_amount(event: dict[str, Any], context: al.LambdaContext) -> None:
        bank.balances[event["account"]] = event["amount"]

    events = deposits(unique_by=lambda e: e["amount"])
    check_idempotent(set_amount, events=events, read_state=bank.read_state,
                     reset_state=bank.reset_state, settings=FAST)
    with pytest.raises(IdempotencyViolation) as info:
        check_idempotent(set_amount, events=events, read_state=bank.read_state,
                         reset_state=bank.reset_state, settings=FAST, order_independent=True)
    violation = info.value
    assert violation.plan.reordered and len(violation.events) == 2
    assert violation.events[0]["account"] == violation.events[1]["account"]
    assert "events may arrive in any order" in str(violation)


def test_an_ordering_key_keeps_order_per_key(bank: Bank) -> None:
    async def set_amount(event: dict[str, Any], context: al.LambdaContext) -> None:
        bank.balances[event["account"]] = event["amount"]

    seen_reordered: list[bool] = []

    def plans(n: int) -> st.SearchStrategy[DeliveryPlan]:
        return delivery_faults(n, reorder=True).map(
            lambda plan: seen_reordered.append(plan.reordered) or plan)

    check_idempotent(set_amount, events=deposits(), read_state=bank.read_state,
                     reset_state=bank.reset_state, ordering_key=lambda e: e["account"],
                     faults=plans, settings=FAST)
    assert any(seen_reordered)  # accounts did overtake each other, and that was fine


def test_a_fixed_list_of_events(bank: Bank) -> None:
    async def add_ten(event: dict[str, Any], context: al.LambdaContext) -> None:
        bank.balances[event["account"]] = bank.balances.get(event["account"], 0) + 10

    events = [{"account": "alice"}, {"account": "bob"}]
    with pytest.raises(IdempotencyViolation) as info:
        check_idempotent(add_ten, events=events, read_state=bank.read_state,
                         reset_state=bank.reset_state, settings=FAST)
    assert info.value.events == events
    assert info.value.plan.duplicates + info.value.plan.crashes == 1


def test_a_reordering_plan_without_permission_is_a_usage_error(bank: Bank) -> None:
    async def noop(event: dict[str, Any], context: al.LambdaContext) -> None:
        pass

    with pytest.raises(ValueError, match="order_independent=True"):
        check_idempotent(noop, events=[{"n": 1}, {"n": 2}], read_state=bank.read_state,
                         reset_state=bank.reset_state, settings=FAST,
                         faults=lambda n: st.just(DeliveryPlan.build(n, [1, 0])))


def test_a_handler_failing_on_a_clean_delivery_is_reported(bank: Bank) -> None:
    async def picky(event: dict[str, Any], context: al.LambdaContext) -> None:
        if event["amount"] > 50:
            raise ValueError("amount too large")

    with pytest.raises(AssertionError, match=r"failed on the clean delivery of event #0.*"
                                             r"ValueError: amount too large"):
        check_idempotent(picky, events=deposits(), read_state=bank.read_state,
                         reset_state=bank.reset_state, settings=FAST)


def test_failed_deliveries_in_the_faulty_run_are_redelivered(bank: Bank) -> None:
    """A handler that rejects duplicates by raising is still idempotent: the harness retries
    a failed delivery (twice), then gives it up, as a queue would; only states are compared."""
    seen: set[str] = set()

    async def strict(event: dict[str, Any], context: al.LambdaContext) -> None:
        if event["transaction_id"] in seen:
            raise KeyError(f"duplicate {event['transaction_id']}")
        seen.add(event["transaction_id"])
        bank.balances[event["account"]] = bank.balances.get(event["account"], 0) + 10

    async def reset() -> None:
        seen.clear()
        await bank.reset_state()

    check_idempotent(strict, events=deposits(), read_state=bank.read_state, reset_state=reset,
                     settings=FAST)


def test_arguments_are_checked(bank: Bank) -> None:
    async def noop(event: dict[str, Any], context: al.LambdaContext) -> None:
        pass

    with pytest.raises(ValueError, match="not both"):
        check_idempotent(noop, events=[{}], read_state=bank.read_state,
                         reset_state=bank.reset_state, order_independent=True,
                         ordering_key=lambda e: 0)
    with pytest.raises(TypeError, match="read_state"):
        check_idempotent(noop, events=[{}], read_state=None,  # type: ignore[arg-type]
                         reset_state=bank.reset_state)


def test_runtime_factory_and_function_config_are_used(bank: Bank) -> None:
    made: list[al.Runtime] = []
    memory: list[str] = []

    def factory() -> al.Runtime:
        rt = al.Runtime(clock=al.VirtualClock())
        made.append(rt)
        return rt

    async def handler(event: dict[str, Any], context: al.LambdaContext) -> None:
        memory.append(context.memory_limit_in_mb)

    check_idempotent(handler, events=[{"n": 1}], read_state=bank.read_state,
                     reset_state=bank.reset_state, runtime_factory=factory,
                     function_config={"memory_mb": 512},
                     settings=settings(FAST, max_examples=3))
    assert made and all(not rt.running for rt in made)
    assert set(memory) == {"512"}


@pytest.mark.anyio
async def test_the_async_entry_point_runs_off_the_test_loop(bank: Bank) -> None:
    async def add_ten(event: dict[str, Any], context: al.LambdaContext) -> None:
        bank.balances[event["account"]] = bank.balances.get(event["account"], 0) + 10

    with pytest.raises(IdempotencyViolation):
        await check_idempotent_async(add_ten, events=deposits(), read_state=bank.read_state,
                                     reset_state=bank.reset_state, settings=FAST)
