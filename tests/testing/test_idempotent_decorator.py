"""The ``idempotent`` decorator on a real Runtime: keys, records, expiry, validation, concurrency.

Time is a VirtualClock shared by the runtime and the store; concurrency is real (two invocations
on two execution contexts) and gated with events, never with sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import msgspec
import pytest

import asynclambda as al
from asynclambda.errors import ConfigError
from asynclambda.events import SQSEvent
from asynclambda.idempotency import (
    COMPLETED,
    INPROGRESS,
    IdempotencyAlreadyInProgressError,
    IdempotencyConfig,
    IdempotencyItemAlreadyExistsError,
    IdempotencyKeyError,
    IdempotencyRecord,
    IdempotencyStore,
    IdempotencyValidationError,
    MemoryIdempotencyStore,
    _compile_path,
    idempotent,
)

pytestmark = pytest.mark.anyio


class Harness:
    """A runtime and a store on one virtual clock, plus an effects counter."""

    def __init__(self) -> None:
        self.clock = al.VirtualClock()
        self.rt = al.Runtime(clock=self.clock)
        self.store = MemoryIdempotencyStore(clock=self.clock)
        self.effects: list[Any] = []

    def stats(self) -> Any:
        return self.store.statistics()


@pytest.fixture
def h() -> Harness:
    return Harness()


def order_config(**options: Any) -> IdempotencyConfig:
    return IdempotencyConfig(event_key_jmespath="body.order_id", **options)


async def test_a_completed_duplicate_gets_the_stored_response(h: Harness) -> None:
    @h.rt.function
    @idempotent(h.store, config=order_config())
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> dict[str, Any]:
        h.effects.append(event["body"]["order_id"])
        return {"charged": event["body"]["amount"], "request_id": context.aws_request_id}

    async with h.rt:
        first = await h.rt.invoke("charge", {"body": {"order_id": "o-1", "amount": 10}})
        again = await h.rt.invoke("charge", {"body": {"order_id": "o-1", "amount": 10}})
        other = await h.rt.invoke("charge", {"body": {"order_id": "o-2", "amount": 5}})
    assert first.ok and again.ok and other.ok
    assert again.payload == first.payload  # the first request id: the stored response
    assert h.effects == ["o-1", "o-2"]
    stats = h.stats()
    assert (stats.completed, stats.in_progress, stats.acquired, stats.conflicts) == (2, 0, 2, 1)


async def test_plain_def_handlers_are_idempotent_too(h: Harness) -> None:
    @h.rt.function
    @idempotent(h.store, config=order_config())
    def charge(event: dict[str, Any], context: al.LambdaContext) -> dict[str, Any]:
        h.effects.append(threading.current_thread().name)
        return {"thread": threading.current_thread().name}

    async with h.rt:
        first = await h.rt.invoke("charge", {"body": {"order_id": "o-1"}})
        again = await h.rt.invoke("charge", {"body": {"order_id": "o-1"}})
    assert first.ok and again.payload == first.payload
    assert len(h.effects) == 1
    assert h.effects[0] != threading.current_thread().name  # it ran on its context's thread


async def test_records_expire_on_the_injected_clock(h: Harness) -> None:
    @h.rt.function
    @idempotent(h.store, config=order_config(expires_after_seconds=60))
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> int:
        h.effects.append(1)
        return len(h.effects)

    async with h.rt:
        assert (await h.rt.invoke("charge", {"body": {"order_id": "o"}})).payload == 1
        await h.clock.advance(59)
        assert (await h.rt.invoke("charge", {"body": {"order_id": "o"}})).payload == 1
        await h.clock.advance(1)
        assert (await h.rt.invoke("charge", {"body": {"order_id": "o"}})).payload == 2
    assert len(h.effects) == 2


async def test_the_in_progress_record_expires_with_the_remaining_time(h: Harness) -> None:
    gate = asyncio.Event()
    seen: list[IdempotencyRecord | None] = []

    @h.rt.function(timeout=10)
    @idempotent(h.store, config=order_config())
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        seen.extend(h.store.records())
        await gate.wait()
        return "done"

    async with h.rt:
        await h.clock.advance(2)  # the record's clock reading is not the runtime's start
        task = asyncio.ensure_future(h.rt.invoke("charge", {"body": {"order_id": "o"}}))
        await h.clock.settle()
        gate.set()
        assert (await task).payload == "done"
    record = seen[0]
    assert record is not None and record.status == INPROGRESS
    assert record.in_progress_until == pytest.approx(h.clock.time() + 10, abs=1e-3)
    assert record.expires_at == pytest.approx(h.clock.time() + 3600, abs=1e-3)


async def test_an_abandoned_in_progress_record_is_taken_over(h: Harness) -> None:
    """A crashed holder (no delete) locks the key until its in-progress expiry, not longer."""

    @h.rt.function
    @idempotent(h.store, config=order_config(key_prefix="charge"))
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        h.effects.append(1)
        return "ran"

    async with h.rt:
        first = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
        key = h.store.records()[0].key
        await h.store.delete(key)
        now = h.clock.time()
        await h.store.put_if_absent(IdempotencyRecord(
            key=key, status=INPROGRESS, expires_at=now + 3600, in_progress_until=now + 3))
        blocked = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
        await h.clock.advance(3)
        retried = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
    assert first.payload == "ran"
    assert blocked.function_error and blocked.error["errorType"] == "IdempotencyAlreadyInProgressError"
    assert "Execution already in progress with idempotency key: body.order_id=charge#" in \
        blocked.error["errorMessage"]
    assert retried.payload == "ran"
    assert len(h.effects) == 2


async def test_a_failing_handler_deletes_its_record_so_a_retry_runs(h: Harness) -> None:
    @h.rt.function
    @idempotent(h.store, config=order_config())
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        h.effects.append(1)
        if len(h.effects) == 1:
            raise ConnectionError("payment provider unreachable")
        return "charged"

    async with h.rt:
        failed = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
        assert h.stats().records == 0 and h.stats().deletions == 1
        retried = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
        duplicate = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
    assert failed.error["errorType"] == "ConnectionError"
    assert retried.payload == duplicate.payload == "charged"
    assert len(h.effects) == 2


async def test_a_timed_out_async_handler_frees_its_key(h: Harness) -> None:
    never = asyncio.Event()

    @h.rt.function(timeout=1)
    @idempotent(h.store, config=order_config())
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        h.effects.append(1)
        if len(h.effects) == 1:
            await never.wait()
        return "charged"

    async with h.rt:
        task = asyncio.ensure_future(h.rt.invoke("charge", {"body": {"order_id": "o"}}))
        await h.clock.advance(1)
        timed_out = await task
        assert h.stats().records == 0
        retried = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    assert retried.payload == "charged"


async def test_payload_validation(h: Harness) -> None:
    @h.rt.function
    @idempotent(h.store, config=order_config(payload_validation_jmespath="body.amount"))
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> int:
        h.effects.append(1)
        return int(event["body"]["amount"])

    async with h.rt:
        first = await h.rt.invoke("charge", {"body": {"order_id": "o", "amount": 10}})
        same = await h.rt.invoke("charge", {"body": {"order_id": "o", "amount": 10, "note": "x"}})
        tampered = await h.rt.invoke("charge", {"body": {"order_id": "o", "amount": 99}})
    assert first.payload == same.payload == 10
    assert tampered.error["errorType"] == IdempotencyValidationError.__name__
    assert tampered.error["errorMessage"] == "Payload does not match stored record for this event key"
    assert len(h.effects) == 1


@pytest.mark.parametrize("raise_on_missing", [True, False])
async def test_missing_key(h: Harness, raise_on_missing: bool) -> None:
    config = order_config(raise_on_no_idempotency_key=raise_on_missing)

    @h.rt.function
    @idempotent(h.store, config=config)
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        h.effects.append(1)
        return "ran"

    async with h.rt:
        if raise_on_missing:
            results = [await h.rt.invoke("charge", {"body": {}}) for _ in range(2)]
        else:
            with pytest.warns(UserWarning, match="No idempotency key value found"):
                results = [await h.rt.invoke("charge", {"body": {"order_id": None}})
                           for _ in range(2)]
    if raise_on_missing:
        assert [r.error["errorType"] for r in results] == [IdempotencyKeyError.__name__] * 2
        assert h.effects == []
    else:
        assert [r.payload for r in results] == ["ran", "ran"]  # unprotected: both ran
        assert len(h.effects) == 2
    assert h.stats().acquired == 0


async def test_a_key_function_instead_of_a_path(h: Harness) -> None:
    config = IdempotencyConfig(event_key_function=lambda e: (e["user"], e["cart"]["id"]))

    @h.rt.function
    @idempotent(h.store, config=config)
    async def checkout(event: dict[str, Any], context: al.LambdaContext) -> int:
        h.effects.append(event)
        return len(h.effects)

    async with h.rt:
        a = await h.rt.invoke("checkout", {"user": "u1", "cart": {"id": 7}, "ts": 1})
        b = await h.rt.invoke("checkout", {"user": "u1", "cart": {"id": 7}, "ts": 2})
        c = await h.rt.invoke("checkout", {"user": "u2", "cart": {"id": 7}, "ts": 3})
    assert (a.payload, b.payload, c.payload) == (1, 1, 2)


async def test_the_whole_event_is_the_key_by_default(h: Harness) -> None:
    @h.rt.function
    @idempotent(h.store)
    async def fn(event: dict[str, Any], context: al.LambdaContext) -> int:
        h.effects.append(event)
        return len(h.effects)

    async with h.rt:
        results = [(await h.rt.invoke("fn", e)).payload
                   for e in ({"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 2})]
    assert results == [1, 1, 2]  # key order does not matter: the key data is hashed sorted


async def test_typed_events_are_keyed_by_their_json_shape(h: Harness) -> None:
    raw = (__import__("pathlib").Path(__file__).parent.parent / "events" / "samples"
           / "sqs-standard.json").read_bytes()

    @h.rt.function
    @idempotent(h.store, config=IdempotencyConfig(event_key_jmespath="Records[0].messageId"))
    async def consume(event: SQSEvent, context: al.LambdaContext) -> str:
        assert isinstance(event, SQSEvent)
        h.effects.append(event.records[0].message_id)
        return event.records[0].message_id

    async with h.rt:
        first = await h.rt.invoke("consume", raw)
        again = await h.rt.invoke("consume", raw)
    assert first.ok and again.payload == first.payload
    assert len(h.effects) == 1
    message_id = msgspec.json.decode(raw)["Records"][0]["messageId"]
    assert first.payload == message_id


async def test_local_cache_serves_completed_records(h: Harness) -> None:
    @h.rt.function
    @idempotent(h.store, config=order_config(use_local_cache=True, local_cache_max_items=1,
                                             expires_after_seconds=60))
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> int:
        h.effects.append(1)
        return len(h.effects)

    async with h.rt:
        await h.rt.invoke("charge", {"body": {"order_id": "a"}})
        await h.store.clear()  # the store forgot; the local cache did not
        assert (await h.rt.invoke("charge", {"body": {"order_id": "a"}})).payload == 1
        await h.rt.invoke("charge", {"body": {"order_id": "b"}})  # evicts "a" (1 item)
        await h.store.clear()
        assert (await h.rt.invoke("charge", {"body": {"order_id": "a"}})).payload == 3
        await h.clock.advance(60)  # cached records expire too
        assert (await h.rt.invoke("charge", {"body": {"order_id": "a"}})).payload == 4


async def test_response_hook_sees_the_stored_response_and_record(h: Harness) -> None:
    hooked: list[tuple[Any, IdempotencyRecord]] = []

    def hook(response: Any, record: IdempotencyRecord) -> Any:
        hooked.append((response, record))
        return {**response, "idempotent_replay": True}

    @h.rt.function
    @idempotent(h.store, config=order_config(response_hook=hook))
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> dict[str, Any]:
        return {"charged": True}

    async with h.rt:
        first = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
        again = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
    assert first.payload == {"charged": True}
    assert again.payload == {"charged": True, "idempotent_replay": True}
    assert hooked[0][0] == {"charged": True} and hooked[0][1].status == COMPLETED


async def test_a_response_that_is_not_json_fails_and_frees_the_key(h: Harness) -> None:
    @h.rt.function
    @idempotent(h.store, config=order_config())
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> Any:
        return {"when": object()}

    async with h.rt:
        r = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
    assert r.error["errorType"] == "IdempotencyPersistenceLayerError"
    assert h.stats().records == 0


# -- concurrent duplicates: exactly one effect ----------------------------------------------------
async def test_concurrent_duplicate_raises_already_in_progress_by_default(h: Harness) -> None:
    entered, gate = asyncio.Event(), asyncio.Event()

    @h.rt.function
    @idempotent(h.store, config=order_config())
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        h.effects.append(context.aws_request_id)
        entered.set()
        await gate.wait()
        return "charged"

    async with h.rt:
        first = asyncio.ensure_future(h.rt.invoke("charge", {"body": {"order_id": "o"}}))
        await entered.wait()
        second = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
        assert h.rt.statistics().functions["charge"].concurrent_executions == 1
        gate.set()
        done = await first
        third = await h.rt.invoke("charge", {"body": {"order_id": "o"}})
    assert second.error["errorType"] == IdempotencyAlreadyInProgressError.__name__
    assert done.payload == third.payload == "charged"
    assert len(h.effects) == 1
    stats = h.rt.statistics().functions["charge"].versions["$LATEST"]
    assert stats.cold_starts == 2  # the duplicate really ran on a second execution context


async def test_concurrent_duplicate_can_wait_for_the_first(h: Harness) -> None:
    entered, gate = asyncio.Event(), asyncio.Event()

    @h.rt.function
    @idempotent(h.store, config=order_config(on_in_progress="wait"))
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> dict[str, Any]:
        h.effects.append(context.aws_request_id)
        entered.set()
        await gate.wait()
        return {"charged_by": context.aws_request_id}

    async with h.rt:
        first = asyncio.ensure_future(h.rt.invoke("charge", {"body": {"order_id": "o"}}))
        await entered.wait()
        second = asyncio.ensure_future(h.rt.invoke("charge", {"body": {"order_id": "o"}}))
        await h.clock.settle()
        assert h.stats().waiters == 1 and not second.done()
        gate.set()
        a, b = await first, await second
    assert a.ok and b.ok and a.payload == b.payload == {"charged_by": a.request_id}
    assert h.effects == [a.request_id]


async def test_a_waiting_duplicate_runs_itself_when_the_first_fails(h: Harness) -> None:
    entered, gate = asyncio.Event(), asyncio.Event()

    @h.rt.function
    @idempotent(h.store, config=order_config(on_in_progress="wait"))
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        entered.set()
        await gate.wait()
        if not h.effects:
            h.effects.append("failed")
            raise RuntimeError("first attempt fails")
        h.effects.append(context.aws_request_id)
        return context.aws_request_id

    async with h.rt:
        first = asyncio.ensure_future(h.rt.invoke("charge", {"body": {"order_id": "o"}}))
        await entered.wait()
        second = asyncio.ensure_future(h.rt.invoke("charge", {"body": {"order_id": "o"}}))
        await h.clock.settle()
        gate.set()
        a, b = await first, await second
    assert a.error["errorType"] == "RuntimeError"
    assert b.payload == b.request_id and h.effects == ["failed", b.request_id]


async def test_a_waiting_duplicate_takes_over_when_the_first_times_out(h: Harness) -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()

    @h.rt.function(timeout=5)
    @idempotent(h.store, config=order_config(on_in_progress="wait"))
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        h.effects.append(context.aws_request_id)
        entered.set()
        if len(h.effects) == 1:
            await asyncio.Event().wait()  # the first one hangs until its deadline
        await gate.wait()
        return context.aws_request_id

    async with h.rt:
        first = asyncio.ensure_future(h.rt.invoke("charge", {"body": {"order_id": "o"}}))
        await entered.wait()
        await h.clock.advance(2)
        second = asyncio.ensure_future(h.rt.invoke("charge", {"body": {"order_id": "o"}}))
        await h.clock.advance(3)  # the first times out; its key is freed; the second takes it
        a = await first
        assert len(h.effects) == 2 and not second.done()
        gate.set()
        b = await second
    assert a.error["errorType"] == "Sandbox.Timedout"
    assert b.payload == b.request_id == h.effects[1]


async def test_a_waiting_duplicate_gives_up_when_its_own_time_is_up(h: Harness) -> None:
    """The holder (say, another process with a longer timeout) outlives the waiter: the waiter
    stops waiting at its own deadline and never runs the handler."""

    @h.rt.function(timeout=5)
    @idempotent(h.store, config=order_config(on_in_progress="wait", key_prefix="charge"))
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        h.effects.append(1)
        return "charged"

    async with h.rt:
        await h.rt.invoke("charge", {"body": {"order_id": "o"}})
        key = h.store.records()[0].key
        await h.store.delete(key)
        now = h.clock.time()
        await h.store.put_if_absent(IdempotencyRecord(
            key=key, status=INPROGRESS, expires_at=now + 3600, in_progress_until=now + 900))
        waiter = asyncio.ensure_future(h.rt.invoke("charge", {"body": {"order_id": "o"}}))
        await h.clock.advance(5)
        r = await waiter
    # Whichever comes first at the deadline, the runtime's timeout or the waiter's own check:
    assert r.error["errorType"] in ("Sandbox.Timedout", IdempotencyAlreadyInProgressError.__name__)
    assert h.effects == [1]
    assert h.stats().waiters == 0


class _ObservedStore(MemoryIdempotencyStore):
    """Records where ``wait`` runs and signals when a duplicate starts waiting."""

    def __init__(self, clock: al.VirtualClock) -> None:
        super().__init__(clock=clock)
        self.waiting = asyncio.Event()
        self.wait_threads: list[str] = []

    async def wait(self, key: str, until: float) -> None:
        self.wait_threads.append(threading.current_thread().name)
        self.waiting.set()
        await super().wait(key, until)


async def test_plain_def_concurrent_duplicates_wait_on_the_runtime_loop() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    store = _ObservedStore(clock)
    entered = asyncio.Event()
    gate = threading.Event()
    loop = asyncio.get_running_loop()
    effects: list[str] = []

    @rt.function
    @idempotent(store, config=order_config(on_in_progress="wait"))
    def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        effects.append(context.aws_request_id)
        loop.call_soon_threadsafe(entered.set)
        gate.wait()  # released by the test, never by time
        return context.aws_request_id

    async with rt:
        first = asyncio.ensure_future(rt.invoke("charge", {"body": {"order_id": "o"}}))
        await entered.wait()
        second = asyncio.ensure_future(rt.invoke("charge", {"body": {"order_id": "o"}}))
        await store.waiting.wait()
        gate.set()
        a, b = await first, await second
    assert a.ok and b.ok and a.payload == b.payload == a.request_id
    assert effects == [a.request_id]
    assert store.wait_threads == [threading.current_thread().name]  # the runtime's loop


def test_a_plain_def_handler_called_directly_uses_a_private_loop() -> None:
    store = MemoryIdempotencyStore()
    calls: list[int] = []

    @idempotent(store, config=IdempotencyConfig(event_key_jmespath="id"))
    def handler(event: dict[str, Any], context: Any) -> int:
        calls.append(1)
        return len(calls)

    assert handler({"id": 1}, None) == 1
    assert handler({"id": 1}, None) == 1
    assert handler({"id": 2}, None) == 2


async def test_a_plain_def_handler_called_on_a_running_loop_is_refused() -> None:
    @idempotent(MemoryIdempotencyStore(), config=IdempotencyConfig(event_key_jmespath="id"))
    def handler(event: dict[str, Any], context: Any) -> int:
        return 1

    with pytest.raises(RuntimeError, match="would block that loop"):
        handler({"id": 1}, None)


# -- key expressions and configuration -----------------------------------------------------------
EVENT = {
    "body": {"order_id": "o-1", "items": [{"sku": "a"}, {"sku": "b"}]},
    "Records": [{"messageId": "m-1", "body": '{"order_id": "o-9"}', "data": "eyJrIjogMX0="}],
    "headers": {"Idempotency-Key": "hdr"},
    "detail-type": "Order Placed",
}


@pytest.mark.parametrize(("expression", "expected"), [
    ("body.order_id", "o-1"),
    ("Records[0].messageId", "m-1"),
    ("Records[-1].messageId", "m-1"),
    ("body.items[1].sku", "b"),
    ('headers."Idempotency-Key"', "hdr"),
    ('"detail-type"', "Order Placed"),
    ("[body.order_id, Records[0].messageId]", ["o-1", "m-1"]),
    ("powertools_json(Records[0].body).order_id", "o-9"),
    ("powertools_json(powertools_base64(Records[0].data)).k", 1),
    ("body.missing", None),
    ("body.order_id.deeper", None),
    ("Records[5].messageId", None),
    ("@", EVENT),
])
def test_key_expressions(expression: str, expected: Any) -> None:
    assert _compile_path(expression)(EVENT) == expected


@pytest.mark.parametrize("expression", ["", "body.", "body..x", "[0", "a[x]", "unknown_fn(a)",
                                        "a b", "a.[0]", "a;b"])
def test_bad_key_expressions_name_the_field(expression: str) -> None:
    with pytest.raises(ConfigError, match="event_key_jmespath") as info:
        IdempotencyConfig(event_key_jmespath=expression or " ")
    assert info.value.field == "event_key_jmespath"


@pytest.mark.parametrize(("options", "field"), [
    ({"expires_after_seconds": 0}, "expires_after_seconds"),
    ({"hash_function": "nope"}, "hash_function"),
    ({"on_in_progress": "block"}, "on_in_progress"),
    ({"local_cache_max_items": 0}, "local_cache_max_items"),
    ({"event_key_jmespath": "a", "event_key_function": lambda e: e}, "event_key_function"),
    ({"payload_validation_jmespath": "a..b"}, "payload_validation_jmespath"),
    ({"response_hook": 3}, "response_hook"),
    ({"key_prefix": ""}, "key_prefix"),
])
def test_bad_configuration_names_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        IdempotencyConfig(**options)
    assert info.value.field == field


def test_the_decorator_needs_a_store() -> None:
    with pytest.raises(ConfigError, match="persistence_store"):
        idempotent({})  # type: ignore[arg-type]


# Powertools for AWS Lambda (Python) 3.x: IdempotencyConfig's parameters and the exceptions a
# handler's caller may see (aws_lambda_powertools/utilities/idempotency/{config,exceptions}.py).
POWERTOOLS_CONFIG = {"event_key_jmespath", "payload_validation_jmespath", "jmespath_options",
                     "raise_on_no_idempotency_key", "expires_after_seconds", "use_local_cache",
                     "local_cache_max_items", "hash_function", "lambda_context", "response_hook"}
POWERTOOLS_ERRORS = {"IdempotencyAlreadyInProgressError", "IdempotencyItemAlreadyExistsError",
                     "IdempotencyKeyError", "IdempotencyValidationError",
                     "IdempotencyInconsistentStateError", "IdempotencyPersistenceLayerError"}


def test_names_match_powertools() -> None:
    import asynclambda.idempotency as ours

    assert set(ours.__all__) >= POWERTOOLS_ERRORS
    # jmespath_options (custom JMESPath functions) and lambda_context (the decorator has the
    # context) are the only ones we do without.
    missing = POWERTOOLS_CONFIG - set(IdempotencyConfig.__struct_fields__)
    assert missing == {"jmespath_options", "lambda_context"}
    defaults = IdempotencyConfig()
    assert (defaults.expires_after_seconds, defaults.local_cache_max_items, defaults.hash_function,
            defaults.raise_on_no_idempotency_key, defaults.use_local_cache) == \
        (3600, 256, "md5", False, False)


async def test_a_custom_store_only_needs_four_methods() -> None:
    """A dict-backed store without ``wait``: the base class polls on the store's clock."""

    class DictStore(IdempotencyStore):
        def __init__(self, clock: al.VirtualClock) -> None:
            super().__init__(clock=clock)
            self.records: dict[str, IdempotencyRecord] = {}

        async def get(self, key: str) -> IdempotencyRecord | None:
            r = self.records.get(key)
            return r if r is not None and r.is_live(self.clock.time()) else None

        async def put_if_absent(self, record: IdempotencyRecord) -> None:
            if await self.get(record.key) is not None:
                raise IdempotencyItemAlreadyExistsError()
            self.records[record.key] = record

        async def complete(self, record: IdempotencyRecord) -> None:
            self.records[record.key] = record

        async def delete(self, key: str) -> None:
            self.records.pop(key, None)

    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    store = DictStore(clock)
    entered, gate = asyncio.Event(), asyncio.Event()
    effects: list[int] = []

    @rt.function
    @idempotent(store, config=order_config(on_in_progress="wait"))
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> int:
        effects.append(1)
        entered.set()
        await gate.wait()
        return 42

    async with rt:
        first = asyncio.ensure_future(rt.invoke("charge", {"body": {"order_id": "o"}}))
        await entered.wait()
        second = asyncio.ensure_future(rt.invoke("charge", {"body": {"order_id": "o"}}))
        await clock.advance(0.2)  # the duplicate polls every 0.05 s of store time
        gate.set()
        await clock.advance(0.1)
        a, b = await first, await second
    assert a.payload == b.payload == 42 and effects == [1]


class _FailingDeleteStore(MemoryIdempotencyStore):
    async def delete(self, key: str) -> None:
        raise ConnectionError("store unreachable")


async def test_a_store_failure_while_unwinding_a_handler_error_is_reported() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    store = _FailingDeleteStore(clock=clock)

    @rt.function
    @idempotent(store, config=order_config())
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        raise ValueError("declined")

    async with rt:
        r = await rt.invoke("charge", {"body": {"order_id": "o"}})
    assert r.error["errorType"] == "IdempotencyPersistenceLayerError"
    assert "Failed to delete record from idempotency store" in r.error["errorMessage"]


async def test_a_store_failure_never_hides_a_timeout() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    store = _FailingDeleteStore(clock=clock)

    @rt.function(timeout=1)
    @idempotent(store, config=order_config())
    async def charge(event: dict[str, Any], context: al.LambdaContext) -> str:
        await asyncio.Event().wait()
        return "never"

    async with rt:
        task = asyncio.ensure_future(rt.invoke("charge", {"body": {"order_id": "o"}}))
        await clock.advance(1)
        r = await task
    assert r.error["errorType"] == "Sandbox.Timedout"
    # Not deleted, but its in-progress expiry was the invocation's deadline: the key is free.
    assert store.statistics().deletions == 0 and store.records() == []
