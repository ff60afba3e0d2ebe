"""Checking idempotency: does a handler's end state survive at-least-once delivery?

:func:`check_idempotent` delivers events to a handler twice over, through a real
:class:`~asynclambda.Runtime`: once cleanly (each event once, in order) and once under a fault
plan (duplicates, crashes between the side effect and the acknowledgement, reordering when
allowed), resetting the state before each run. If the two end states differ, it fails with a
counter-example that Hypothesis has shrunk to the fewest events and faults::

    balances = {}

    async def add_ten(event, context):              # not idempotent: a duplicate adds 10 again
        balances[event["account"]] = balances.get(event["account"], 0) + 10

    async def read_state():
        return dict(balances)

    async def reset_state():
        balances.clear()

    check_idempotent(add_ten, events=[{"account": "a"}],
                     read_state=read_state, reset_state=reset_state)
    # IdempotencyViolation: ... #0 -> #0 (duplicate) ... clean {'a': 10} ... faulty {'a': 20}

:class:`IdempotencyStoreConformance` is the suite every
:class:`~asynclambda.idempotency.IdempotencyStore` backend must pass.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import pprint
import reprlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

import anyio
import anyio.to_thread
import hypothesis
import pytest
from hypothesis import strategies as st

from asynclambda.clock import VirtualClock
from asynclambda.idempotency import (
    COMPLETED,
    INPROGRESS,
    IdempotencyItemAlreadyExistsError,
    IdempotencyRecord,
    IdempotencyStore,
)
from asynclambda.runtime import Runtime
from asynclambda.testing.strategies import DeliveryPlan, delivery_faults

__all__ = [
    "IdempotencyStoreConformance",
    "IdempotencyViolation",
    "check_idempotent",
    "check_idempotent_async",
]

#: The name the handler under test is registered under in each runtime.
FUNCTION_NAME: Final = "idempotency-subject"
#: How often the harness redelivers an acknowledged delivery that failed (Lambda's async retries).
MAX_REDELIVERIES: Final = 2

StateReader = Callable[[], Awaitable[Any]]
StateResetter = Callable[[], Awaitable[None]]
PlanFactory = Callable[[int], st.SearchStrategy[DeliveryPlan]]

_short = reprlib.Repr()
_short.maxstring = 120
_short.maxother = 120
_short.maxdict = _short.maxlist = 12


class IdempotencyViolation(AssertionError):
    """A handler's end state after a faulty delivery differs from a clean delivery's.

    Carries the (shrunk) counter-example: ``events``, the fault ``plan``, ``clean_state`` and
    ``faulty_state``.
    """

    def __init__(self, message: str, *, events: list[Any], plan: DeliveryPlan,
                 clean_state: Any, faulty_state: Any) -> None:
        super().__init__(message)
        self.events = events
        self.plan = plan
        self.clean_state = clean_state
        self.faulty_state = faulty_state


class _Example:
    """One drawn case: the events and how they are delivered (its repr is what Hypothesis
    prints as the falsifying example)."""

    __slots__ = ("events", "plan")

    def __init__(self, events: list[Any], plan: DeliveryPlan) -> None:
        self.events = events
        self.plan = plan

    def __repr__(self) -> str:
        return f"events={_short.repr(self.events)}, delivery: {self.plan.describe()}"


async def _call(fn: Callable[[], Any]) -> Any:
    out = fn()
    return await out if inspect.isawaitable(out) else out


def _error_text(result: Any) -> str:
    error = result.error or {}
    return f"{error.get('errorType', '?')}: {error.get('errorMessage', '')}"


class _Harness:
    def __init__(self, handler: Any, read_state: StateReader, reset_state: StateResetter,
                 runtime_factory: Callable[[], Runtime], function_config: Mapping[str, Any],
                 order_independent: bool, ordering_key: Callable[[Any], Hashable] | None) -> None:
        self.handler = handler
        self.read_state = read_state
        self.reset_state = reset_state
        self.runtime_factory = runtime_factory
        self.function_config = dict(function_config)
        self.order_independent = order_independent
        self.ordering_key = ordering_key

    async def deliver(self, events: list[Any], plan: DeliveryPlan, clean: bool) -> tuple[Any, list[str]]:
        """Reset the state, run ``plan`` through a fresh runtime, read the state."""
        await _call(self.reset_state)
        log: list[str] = []
        rt = self.runtime_factory()
        rt.add_function(FUNCTION_NAME, self.handler, **self.function_config)
        async with rt:
            for d in plan.deliveries:
                result = await rt.invoke(FUNCTION_NAME, events[d.index])
                if d.crash:  # it ran; its acknowledgement is lost: a later delivery follows
                    continue
                redeliveries = 0
                while result.function_error is not None:
                    if clean:
                        raise AssertionError(
                            f"the handler failed on the clean delivery of event #{d.index} "
                            f"({_short.repr(events[d.index])}): {_error_text(result)}")
                    log.append(f"#{d.index} failed: {_error_text(result)}")
                    if redeliveries == MAX_REDELIVERIES:
                        log.append(f"#{d.index} given up after {MAX_REDELIVERIES} redeliveries")
                        break
                    redeliveries += 1
                    result = await rt.invoke(FUNCTION_NAME, events[d.index])
        return await _call(self.read_state), log

    async def check(self, example: _Example) -> None:
        events, plan = example.events, example.plan
        if plan.reordered and not (self.order_independent or self.ordering_key is not None):
            raise ValueError(
                "the fault plan reorders events, but check_idempotent was not told that the "
                "events are order-independent (order_independent=True) or given an ordering_key")
        clean_state, _ = await self.deliver(events, DeliveryPlan.clean(len(events)), clean=True)
        faulty_state, log = await self.deliver(events, plan, clean=False)
        if faulty_state != clean_state:
            raise IdempotencyViolation(self.message(example, clean_state, faulty_state, log),
                                       events=events, plan=plan, clean_state=clean_state,
                                       faulty_state=faulty_state)

    def message(self, example: _Example, clean_state: Any, faulty_state: Any,
                log: list[str]) -> str:
        if self.order_independent:
            order = "events may arrive in any order (order_independent=True)"
        elif self.ordering_key is not None:
            order = "events with different ordering keys may overtake each other"
        else:
            order = "events arrive in order"
        lines = [
            "the handler is not idempotent: the state after a faulty delivery differs from the "
            "state after a clean one",
            f"events ({len(example.events)}):",
            *(f"  #{i}: {_short.repr(e)}" for i, e in enumerate(example.events)),
            f"faulty delivery: {example.plan.describe()}  ({order})",
            f"clean state (each event once, in order):\n{_indent(pprint.pformat(clean_state))}",
            f"faulty state:\n{_indent(pprint.pformat(faulty_state))}",
        ]
        if log:
            lines.append("failed deliveries during the faulty run:")
            lines.extend(f"  {line}" for line in log)
        return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def _default_runtime() -> Runtime:
    return Runtime(clock=VirtualClock())


def _digest(*parts: object) -> bytes:
    """Identifies one check in Hypothesis' example database (its saved failures replay first)."""
    names = [getattr(p, "__module__", "") + "." + getattr(p, "__qualname__", repr(p))
             if not isinstance(p, str) else p for p in parts]
    return hashlib.sha256("|".join(names).encode()).digest()


def check_idempotent(
    handler: Any,
    *,
    events: Sequence[Any] | st.SearchStrategy[Sequence[Any]],
    read_state: StateReader,
    reset_state: StateResetter,
    order_independent: bool = False,
    ordering_key: Callable[[Any], Hashable] | None = None,
    faults: PlanFactory | None = None,
    settings: hypothesis.settings | None = None,
    runtime_factory: Callable[[], Runtime] | None = None,
    function_config: Mapping[str, Any] | None = None,
) -> None:
    """Fail if ``handler``'s end state under delivery faults differs from a clean delivery's.

    For each example Hypothesis draws the events (``events``: a strategy of lists, or one fixed
    list) and a fault plan for them, then on a fresh event loop:

    1. ``await reset_state()``; deliver each event once, in order (every delivery must succeed);
       ``clean = await read_state()``.
    2. ``await reset_state()``; deliver them by the plan; ``faulty = await read_state()``.
    3. ``faulty == clean``, else :class:`IdempotencyViolation` (an ``AssertionError``) with the
       shrunk events, the plan, and both states.

    Each run uses a new :class:`~asynclambda.Runtime` from ``runtime_factory`` (default: one on a
    ``VirtualClock`` that nobody advances, so no invocation times out) with the handler
    registered as ``"idempotency-subject"`` (``function_config``: ``add_function`` keywords);
    each delivery is ``await runtime.invoke(...)``. A *crash* delivery runs the handler (its side
    effects happen) and drops its acknowledgement, so the event is delivered again. An
    acknowledged delivery that fails is redelivered up to twice, then given up (as Lambda retries
    an async event, then sends it to a DLQ); only the end states are compared.

    **Order.** By default events keep their order and a duplicate or redelivery comes right after
    its event: the handler must tolerate repetition, not reordering. ``order_independent=True``
    claims more, that the end state does not depend on order either: the plan may also permute
    the deliveries, and the faulty state is still compared with the *in-order* clean state.
    ``ordering_key=lambda event: ...`` claims it for events of different keys only (partition
    keys, FIFO message groups): deliveries are permuted, then each key's order is restored.

    ``reset_state`` must reset everything the handler's effects depend on, its idempotency store
    included. ``read_state`` and ``reset_state`` are async callables (plain ones work too); they
    run on the example's event loop. ``faults(n_events)`` returns a strategy of plans (default
    :func:`~asynclambda.testing.strategies.delivery_faults`, reordering only when allowed).
    ``settings`` are Hypothesis settings (default: the current profile, without a deadline and
    without the explain phase).

    Call it from a plain (sync) test; from an ``async def`` test use
    :func:`check_idempotent_async`. Do not call it inside a ``@given`` test.
    """
    if order_independent and ordering_key is not None:
        raise ValueError("check_idempotent: give order_independent=True or an ordering_key, "
                         "not both")
    if ordering_key is not None and not callable(ordering_key):
        raise TypeError(f"check_idempotent: ordering_key={ordering_key!r} must be a callable "
                        "event -> key")
    for name, fn in (("read_state", read_state), ("reset_state", reset_state)):
        if not callable(fn):
            raise TypeError(f"check_idempotent: {name}={fn!r} must be an async callable")
    if isinstance(events, st.SearchStrategy):
        event_lists: st.SearchStrategy[Sequence[Any]] = events
    else:
        event_lists = st.just(list(events))
    reorder = order_independent or ordering_key is not None
    plans: PlanFactory = (faults if faults is not None
                          else functools.partial(delivery_faults, reorder=reorder))
    harness = _Harness(handler, read_state, reset_state, runtime_factory or _default_runtime,
                       function_config or {}, order_independent, ordering_key)

    @st.composite
    def examples(draw: st.DrawFn) -> _Example:
        drawn = list(draw(event_lists))
        plan = draw(plans(len(drawn)))
        if ordering_key is not None:
            plan = plan.respecting([ordering_key(e) for e in drawn])
        return _Example(drawn, plan)

    def check_one(example: _Example) -> None:
        asyncio.run(harness.check(example))

    check_one._hypothesis_internal_add_digest = _digest(  # type: ignore[attr-defined]
        handler, read_state, reset_state)
    test = hypothesis.given(examples())(check_one)
    test = (settings if settings is not None else _default_settings())(test)
    test()


def _default_settings() -> hypothesis.settings:
    """The current profile without a deadline (each example starts two runtimes) and without
    the explain phase (it varies parts of one drawn value; our counter-example already says
    which events and faults matter)."""
    current = hypothesis.settings()
    return hypothesis.settings(current, deadline=None,
                               phases=[p for p in current.phases
                                       if p is not hypothesis.Phase.explain])


async def check_idempotent_async(
    handler: Any,
    *,
    events: Sequence[Any] | st.SearchStrategy[Sequence[Any]],
    read_state: StateReader,
    reset_state: StateResetter,
    order_independent: bool = False,
    ordering_key: Callable[[Any], Hashable] | None = None,
    faults: PlanFactory | None = None,
    settings: hypothesis.settings | None = None,
    runtime_factory: Callable[[], Runtime] | None = None,
    function_config: Mapping[str, Any] | None = None,
) -> None:
    """:func:`check_idempotent` for ``async def`` tests: it runs in a worker thread (each
    example still on its own event loop there), so the test's loop is not blocked."""
    await anyio.to_thread.run_sync(functools.partial(
        check_idempotent, handler, events=events, read_state=read_state,
        reset_state=reset_state, order_independent=order_independent,
        ordering_key=ordering_key, faults=faults, settings=settings,
        runtime_factory=runtime_factory, function_config=function_config))


# ---------------------------------------------------------------------------------------------
class IdempotencyStoreConformance:
    """What every :class:`~asynclambda.idempotency.IdempotencyStore` must do.

    Subclass it in a test module and say how to build the store::

        class TestRedisIdempotencyStore(IdempotencyStoreConformance):
            def make_store(self, clock):
                return RedisIdempotencyStore(url="redis://localhost", clock=clock)

    ``make_store(clock)`` returns an async context manager yielding a store that reads time
    from ``clock`` (a fresh :class:`~asynclambda.clock.VirtualClock` per test; every store is
    one, :class:`IdempotencyStore` supplies ``__aenter__``). Keys are unique per test, so a
    broker-backed store may share one server between tests.
    """

    def make_store(self, clock: VirtualClock) -> AbstractAsyncContextManager[IdempotencyStore]:
        """Return an async context manager yielding a fresh store that uses ``clock``."""
        raise NotImplementedError

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def clock(self) -> VirtualClock:
        return VirtualClock()

    @pytest.fixture
    async def store(self, clock: VirtualClock, anyio_backend: str
                    ) -> AsyncIterator[IdempotencyStore]:
        async with self.make_store(clock) as store:
            yield store

    @pytest.fixture
    def key(self) -> str:
        return f"conformance.handler#{uuid.uuid4().hex}"

    @staticmethod
    def in_progress(key: str, clock: VirtualClock, *, ttl: float = 3600.0,
                    in_progress_for: float | None = 30.0) -> IdempotencyRecord:
        now = clock.time()
        return IdempotencyRecord(key=key, status=INPROGRESS, expires_at=now + ttl,
                                 in_progress_until=(now + in_progress_for
                                                    if in_progress_for is not None else None),
                                 payload_hash="h")

    @staticmethod
    def completed(key: str, clock: VirtualClock, *, ttl: float = 3600.0,
                  response: bytes = b'{"ok":true}') -> IdempotencyRecord:
        return IdempotencyRecord(key=key, status=COMPLETED, expires_at=clock.time() + ttl,
                                 response=response, payload_hash="h")

    @pytest.mark.anyio
    async def test_unknown_key_has_no_record(self, store: IdempotencyStore, key: str) -> None:
        assert await store.get(key) is None

    @pytest.mark.anyio
    async def test_put_then_get(self, store: IdempotencyStore, key: str,
                                clock: VirtualClock) -> None:
        record = self.in_progress(key, clock)
        await store.put_if_absent(record)
        assert await store.get(key) == record

    @pytest.mark.anyio
    async def test_second_put_of_a_live_key_fails(self, store: IdempotencyStore, key: str,
                                                  clock: VirtualClock) -> None:
        first = self.in_progress(key, clock)
        await store.put_if_absent(first)
        with pytest.raises(IdempotencyItemAlreadyExistsError) as info:
            await store.put_if_absent(self.in_progress(key, clock))
        assert info.value.old_record in (None, first)
        assert await store.get(key) == first

    @pytest.mark.anyio
    async def test_concurrent_puts_let_exactly_one_win(self, store: IdempotencyStore, key: str,
                                                       clock: VirtualClock) -> None:
        wins: list[int] = []

        async def put(i: int) -> None:
            try:
                await store.put_if_absent(self.in_progress(key, clock))
            except IdempotencyItemAlreadyExistsError:
                return
            wins.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(put, i)
        assert len(wins) == 1

    @pytest.mark.anyio
    async def test_complete_stores_the_response(self, store: IdempotencyStore, key: str,
                                                clock: VirtualClock) -> None:
        await store.put_if_absent(self.in_progress(key, clock))
        done = self.completed(key, clock, response=b'{"balance":20}')
        await store.complete(done)
        got = await store.get(key)
        assert got is not None
        assert (got.status, got.response, got.payload_hash) == (COMPLETED, b'{"balance":20}', "h")
        with pytest.raises(IdempotencyItemAlreadyExistsError):
            await store.put_if_absent(self.in_progress(key, clock))

    @pytest.mark.anyio
    async def test_delete_frees_the_key(self, store: IdempotencyStore, key: str,
                                        clock: VirtualClock) -> None:
        await store.put_if_absent(self.in_progress(key, clock))
        await store.delete(key)
        assert await store.get(key) is None
        await store.put_if_absent(self.in_progress(key, clock))
        await store.delete(key)
        await store.delete(key)  # deleting nothing is fine

    @pytest.mark.anyio
    async def test_expired_records_are_gone(self, store: IdempotencyStore, key: str,
                                            clock: VirtualClock) -> None:
        await store.put_if_absent(self.in_progress(key, clock))
        await store.complete(self.completed(key, clock, ttl=60))
        await clock.advance(59)
        assert await store.get(key) is not None
        await clock.advance(1)
        assert await store.get(key) is None
        await store.put_if_absent(self.in_progress(key, clock))  # the key is free again

    @pytest.mark.anyio
    async def test_abandoned_in_progress_records_are_replaced(
            self, store: IdempotencyStore, key: str, clock: VirtualClock) -> None:
        await store.put_if_absent(self.in_progress(key, clock, in_progress_for=3))
        await clock.advance(2)
        with pytest.raises(IdempotencyItemAlreadyExistsError):
            await store.put_if_absent(self.in_progress(key, clock))
        await clock.advance(1)
        assert await store.get(key) is None
        retry = self.in_progress(key, clock)
        await store.put_if_absent(retry)
        assert await store.get(key) == retry

    @pytest.mark.anyio
    async def test_in_progress_without_a_limit_lasts_until_expiry(
            self, store: IdempotencyStore, key: str, clock: VirtualClock) -> None:
        await store.put_if_absent(self.in_progress(key, clock, ttl=100, in_progress_for=None))
        await clock.advance(99)
        assert await store.get(key) is not None
        await clock.advance(1)
        assert await store.get(key) is None

    @pytest.mark.anyio
    async def test_keys_are_independent(self, store: IdempotencyStore, key: str,
                                        clock: VirtualClock) -> None:
        await store.put_if_absent(self.in_progress(key, clock))
        other = key + "-other"
        await store.put_if_absent(self.in_progress(other, clock))
        await store.delete(key)
        assert await store.get(key) is None
        assert await store.get(other) is not None

    @pytest.mark.anyio
    async def test_wait_returns_when_the_record_completes(
            self, store: IdempotencyStore, key: str, clock: VirtualClock) -> None:
        await store.put_if_absent(self.in_progress(key, clock))
        returned = anyio.Event()

        async def waiter() -> None:
            await store.wait(key, clock.time() + 30)
            returned.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await clock.settle()
            await store.complete(self.completed(key, clock))
            # A polling store may need some of its clock's time to notice.
            with anyio.fail_after(10):
                while not returned.is_set():
                    await clock.advance(0.05)
        assert clock.now() < 30

    @pytest.mark.anyio
    async def test_wait_returns_at_until(self, store: IdempotencyStore, key: str,
                                         clock: VirtualClock) -> None:
        await store.put_if_absent(self.in_progress(key, clock, in_progress_for=None))
        returned = anyio.Event()

        async def waiter() -> None:
            await store.wait(key, clock.time() + 5)
            returned.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await clock.advance(4.9)
            assert not returned.is_set()
            await clock.advance(0.2)
            with anyio.fail_after(10):
                await returned.wait()

    @pytest.mark.anyio
    async def test_wait_on_a_free_key_returns_at_once(self, store: IdempotencyStore,
                                                      key: str, clock: VirtualClock) -> None:
        with anyio.fail_after(10):
            await store.wait(key, clock.time() + 3600)
