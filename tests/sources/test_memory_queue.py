"""MemoryQueueBackend: configuration checks, its own choices, and state machines against a model.

The shared SQS behaviour is in the conformance suite (test_conformance_memory.py); this file
holds what is specific to the in-memory backend and the Hypothesis properties.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import anyio
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from asynclambda.clock import VirtualClock
from asynclambda.errors import ConfigError
from asynclambda.sources.memory_queue import MemoryQueueBackend
from asynclambda.sources.queue import (
    InvalidParameterValue,
    MessageNotInflight,
    QueueConfig,
    QueueDoesNotExist,
    QueueStatistics,
    RedrivePolicy,
    md5_of_message_attributes,
)

T = TypeVar("T")


# -- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": "plain.fifo"}, "name"),
        ({"name": "orders", "fifo": True}, "name"),
        ({"visibility_timeout": -1}, "visibility_timeout"),
        ({"visibility_timeout": 43_201}, "visibility_timeout"),
        ({"message_retention_period": 59}, "message_retention_period"),
        ({"message_retention_period": 1_209_601}, "message_retention_period"),
        ({"delay_seconds": 901}, "delay_seconds"),
        ({"maximum_message_size": 1023}, "maximum_message_size"),
        ({"maximum_message_size": 1_048_577}, "maximum_message_size"),
        ({"receive_wait_time": 21}, "receive_wait_time"),
        ({"visibility_timeout": True}, "visibility_timeout"),
        ({"content_based_deduplication": True}, "content_based_deduplication"),
    ],
)
def test_queue_config_names_the_bad_field(options: dict[str, Any], field: str) -> None:
    options = {"name": "orders", **options}
    with pytest.raises(ConfigError) as info:
        QueueConfig(**options)
    assert info.value.field == field
    assert repr(options[field]) in str(info.value)


def test_queue_config_defaults_are_sqs_defaults() -> None:
    config = QueueConfig("orders")
    assert (config.visibility_timeout, config.message_retention_period, config.delay_seconds,
            config.maximum_message_size, config.receive_wait_time) == (30, 345_600, 0, 262_144, 0)
    assert QueueConfig("orders.fifo", fifo=True, content_based_deduplication=True).fifo


@pytest.mark.parametrize("count", [0, 1001, True, 2.5])
def test_redrive_policy_checks_max_receive_count(count: Any) -> None:
    with pytest.raises(ConfigError, match="max_receive_count"):
        RedrivePolicy("dlq", count)


def test_md5_of_message_attributes_without_attributes_is_none() -> None:
    assert md5_of_message_attributes({}) is None


# -- backend specifics ----------------------------------------------------------------------------
@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def backend(clock: VirtualClock) -> MemoryQueueBackend:
    return MemoryQueueBackend(clock=clock, sender_id="AIDAEXAMPLE")


@pytest.mark.anyio
async def test_one_timer_per_queue_however_many_messages_are_in_flight(
        backend: MemoryQueueBackend, clock: VirtualClock) -> None:
    await backend.create_queue(QueueConfig("q", visibility_timeout=10))
    for i in range(50):
        await backend.send("q", f"m{i}")
    await backend.receive("q", max_messages=50, extended_batch=True)
    assert clock.pending() == 1
    await clock.advance(10)
    assert (await backend.statistics("q")).approximate_number_of_messages == 50
    assert clock.pending() == 0


@pytest.mark.anyio
async def test_message_attributes_report_sender_and_dead_letter_source(
        backend: MemoryQueueBackend, clock: VirtualClock) -> None:
    await backend.create_queue(QueueConfig("dlq"))
    await backend.create_queue(QueueConfig("q", visibility_timeout=1,
                                           redrive_policy=RedrivePolicy("dlq", 1)))
    await backend.send("q", "x")
    first = (await backend.receive("q"))[0]
    await clock.advance(1)
    dead = (await backend.receive("dlq"))[0]
    assert dead.attributes["SenderId"] == "AIDAEXAMPLE"
    assert dead.attributes["DeadLetterQueueSourceArn"] == "arn:aws:sqs:us-east-1:000000000000:q"
    assert dead.receive_count == 2  # the receive history moves with the message
    assert dead.attributes["ApproximateFirstReceiveTimestamp"] == first.attributes[
        "ApproximateFirstReceiveTimestamp"]


@pytest.mark.anyio
async def test_standard_dead_letter_queue_keeps_the_original_enqueue_time(
        backend: MemoryQueueBackend, clock: VirtualClock) -> None:
    await backend.create_queue(QueueConfig("dlq", message_retention_period=100))
    await backend.create_queue(QueueConfig("q", visibility_timeout=60,
                                           redrive_policy=RedrivePolicy("dlq", 1)))
    await backend.send("q", "x")
    await backend.receive("q")
    await clock.advance(60)
    assert (await backend.statistics("dlq")).approximate_number_of_messages == 1
    await clock.advance(40)  # 100 s after the original send
    assert (await backend.statistics("dlq")).expired == 1


@pytest.mark.anyio
async def test_fifo_dead_letter_queue_resets_the_enqueue_time(
        backend: MemoryQueueBackend, clock: VirtualClock) -> None:
    await backend.create_queue(QueueConfig("dlq.fifo", fifo=True, message_retention_period=100))
    await backend.create_queue(QueueConfig("q.fifo", fifo=True, visibility_timeout=60,
                                           content_based_deduplication=True,
                                           redrive_policy=RedrivePolicy("dlq.fifo", 1)))
    await backend.send("q.fifo", "x", group_id="g")
    await backend.receive("q.fifo")
    await clock.advance(60)
    await clock.advance(99)
    assert (await backend.statistics("dlq.fifo")).approximate_number_of_messages == 1
    await clock.advance(1)
    assert (await backend.statistics("dlq.fifo")).expired == 1


@pytest.mark.anyio
async def test_message_expiring_while_in_flight_is_not_redriven(
        backend: MemoryQueueBackend, clock: VirtualClock) -> None:
    await backend.create_queue(QueueConfig("dlq"))
    await backend.create_queue(QueueConfig("q", message_retention_period=60, visibility_timeout=100,
                                           redrive_policy=RedrivePolicy("dlq", 1)))
    await backend.send("q", "x")
    await backend.receive("q")
    await clock.advance(200)
    stats = await backend.statistics("q")
    assert (stats.expired, stats.redriven_to_dlq) == (1, 0)


@pytest.mark.anyio
async def test_without_its_dead_letter_queue_a_message_stays(
        backend: MemoryQueueBackend, clock: VirtualClock) -> None:
    await backend.create_queue(QueueConfig("dlq"))
    await backend.create_queue(QueueConfig("q", visibility_timeout=1,
                                           redrive_policy=RedrivePolicy("dlq", 1)))
    await backend.send("q", "x")
    await backend.receive("q")
    await backend.delete_queue("dlq")
    await clock.advance(1)
    assert (await backend.receive("q"))[0].receive_count == 2


@pytest.mark.anyio
async def test_visibility_cannot_extend_past_twelve_hours(
        backend: MemoryQueueBackend, clock: VirtualClock) -> None:
    await backend.create_queue(QueueConfig("q", visibility_timeout=43_200))
    await backend.send("q", "x")
    message = (await backend.receive("q"))[0]
    await clock.advance(100)
    with pytest.raises(InvalidParameterValue, match="12 hours"):
        await backend.change_visibility("q", message.receipt_handle, 43_200)
    await backend.change_visibility("q", message.receipt_handle, 43_100)
    with pytest.raises(InvalidParameterValue):
        await backend.change_visibility("q", message.receipt_handle, -1)


@pytest.mark.anyio
async def test_standard_latest_handle_deletes_after_the_visibility_timeout(
        backend: MemoryQueueBackend, clock: VirtualClock) -> None:
    await backend.create_queue(QueueConfig("q", visibility_timeout=1))
    await backend.send("q", "x")
    message = (await backend.receive("q"))[0]
    await clock.advance(5)
    with pytest.raises(MessageNotInflight):
        await backend.change_visibility("q", message.receipt_handle, 5)
    await backend.delete("q", message.receipt_handle)
    assert (await backend.statistics("q")).deleted == 1


@pytest.mark.anyio
async def test_cancelled_waiter_passes_its_wake_up_on(backend: MemoryQueueBackend) -> None:
    await backend.create_queue(QueueConfig("q"))
    first = asyncio.create_task(backend.receive("q", wait_time=20))
    second = asyncio.create_task(backend.receive("q", wait_time=20))
    await asyncio.sleep(0)
    await backend.send("q", "only one")  # wakes the first waiter...
    first.cancel()  # ...which leaves before it can receive
    with anyio.fail_after(5):
        got = await second
    assert [m.body for m in got] == ["only one"]
    assert first.cancelled()


@pytest.mark.anyio
async def test_aclose_ends_waiting_receives_and_later_calls(backend: MemoryQueueBackend) -> None:
    await backend.create_queue(QueueConfig("q"))
    waiter = asyncio.create_task(backend.receive("q", wait_time=20))
    await asyncio.sleep(0)
    async with backend:
        pass
    with pytest.raises(QueueDoesNotExist):
        await waiter
    with pytest.raises(QueueDoesNotExist, match="closed"):
        await backend.send("q", "x")


@pytest.mark.anyio
async def test_standard_queue_accepts_a_group_id_without_ordering(backend: MemoryQueueBackend) -> None:
    await backend.create_queue(QueueConfig("q"))
    await backend.send("q", "a", group_id="tenant-1")
    await backend.send("q", "b", group_id="tenant-1")
    messages = await backend.receive("q", max_messages=10)
    assert [m.group_id for m in messages] == ["tenant-1", "tenant-1"]
    with pytest.raises(InvalidParameterValue):
        await backend.send("q", "c", deduplication_id="d")


# -- state machines against a reference model ---------------------------------------------------
class _Model:
    """What a queue should hold: one record per message, changed only as of its deadlines."""

    def __init__(self, retention: float, max_receives: int | None) -> None:
        self.retention = retention
        self.max_receives = max_receives
        self.now = 0.0
        self.messages: dict[str, dict[str, Any]] = {}
        self.counters = {"sent": 0, "received": 0, "deleted": 0, "redriven_to_dlq": 0,
                         "expired": 0, "purged": 0}

    def add(self, message_id: str, delay: float, group: str | None = None) -> None:
        self.messages[message_id] = {
            "state": "delayed" if delay > 0 else "visible", "at": self.now + delay,
            "expires": self.now + self.retention, "count": 0, "handle": None,
            "group": group, "seq": len(self.messages), "received_at": 0.0}
        self.counters["sent"] += 1

    def live(self) -> dict[str, dict[str, Any]]:
        return {k: m for k, m in self.messages.items() if m["state"] in ("delayed", "visible", "inflight")}

    def settle(self) -> None:
        for m in self.live().values():
            if m["state"] in ("delayed", "inflight") and m["at"] <= self.now:
                if m["expires"] <= m["at"]:
                    self._end(m, "expired")
                elif (m["state"] == "inflight" and self.max_receives is not None
                      and m["count"] >= self.max_receives):
                    self._end(m, "redriven_to_dlq")
                else:
                    m["state"] = "visible"
            if m["state"] in ("delayed", "visible", "inflight") and m["expires"] <= self.now:
                self._end(m, "expired")  # retention ends a message in any state

    def _end(self, m: dict[str, Any], how: str) -> None:
        m["state"] = how
        self.counters[how] += 1

    def count(self, state: str) -> int:
        return sum(1 for m in self.messages.values() if m["state"] == state)

    def check(self, stats: QueueStatistics) -> None:
        assert (stats.approximate_number_of_messages, stats.approximate_number_of_messages_not_visible,
                stats.approximate_number_of_messages_delayed) == (
            self.count("visible"), self.count("inflight"), self.count("delayed"))
        for name, value in self.counters.items():
            assert getattr(stats, name) == value, name


class _QueueMachine(RuleBasedStateMachine):
    """Shared plumbing: an event loop, a virtual clock and a backend living across steps."""

    fifo = False

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = VirtualClock()
        self.backend = MemoryQueueBackend(clock=self.clock)
        self.handles: list[tuple[str, str]] = []  # every (message id, receipt handle) issued
        self.sends = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def stats(self, queue: str) -> QueueStatistics:
        return self.run(self.backend.statistics(queue))

    @rule(seconds=st.sampled_from([0, 0.5, 1, 2, 3, 5, 10, 30]))
    def advance(self, seconds: float) -> None:
        self.run(self.clock.advance(seconds))
        self.model.now += seconds
        self.model.settle()

    def teardown(self) -> None:
        try:
            self.run(self.backend.aclose())
        finally:
            self.loop.close()

    model: _Model


class StandardQueueMachine(_QueueMachine):
    """Random sends, receives, deletes, visibility changes, purges and clock jumps on a standard
    queue with a redrive policy, checked step by step against :class:`_Model`."""

    def __init__(self) -> None:
        super().__init__()
        # A short retention and long visibility choices make messages expire in flight too.
        self.model = _Model(retention=60, max_receives=3)
        self.run(self.backend.create_queue(QueueConfig("dlq")))
        self.run(self.backend.create_queue(QueueConfig(
            "q", visibility_timeout=5, message_retention_period=60,
            redrive_policy=RedrivePolicy("dlq", 3))))

    @rule(delay=st.sampled_from([None, 0, 1, 4]))
    def send(self, delay: float | None) -> None:
        self.sends += 1
        result = self.run(self.backend.send("q", f"body {self.sends}", delay_seconds=delay))
        self.model.add(result.message_id, delay or 0)

    @rule(n=st.integers(1, 10), visibility=st.sampled_from([None, 0, 1, 3, 7, 40]))
    def receive(self, n: int, visibility: float | None) -> None:
        got = self.run(self.backend.receive("q", max_messages=n, visibility_timeout=visibility))
        visible = {k for k, m in self.model.messages.items() if m["state"] == "visible"}
        ids = [m.message_id for m in got]
        assert len(ids) == len(set(ids)) == min(n, len(visible))
        assert set(ids) <= visible  # delivered only while visible
        for message in got:
            m = self.model.messages[message.message_id]
            m.update(state="inflight", at=self.model.now + (5 if visibility is None else visibility),
                     handle=message.receipt_handle, received_at=self.model.now)
            m["count"] += 1
            assert message.receive_count == m["count"]
            self.handles.append((message.message_id, message.receipt_handle))
        self.model.counters["received"] += len(got)
        self.model.settle()  # a visibility of 0 ends at once

    @precondition(lambda self: self.handles)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        message_id, handle = data.draw(st.sampled_from(self.handles))
        self.run(self.backend.delete("q", handle))
        m = self.model.messages[message_id]
        if m["state"] in ("visible", "inflight", "delayed") and m["handle"] == handle:
            m["state"] = "deleted"
            self.model.counters["deleted"] += 1

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), timeout=st.sampled_from([0, 1, 6, 40]))
    def change_visibility(self, data: st.DataObject, timeout: float) -> None:
        message_id, handle = data.draw(st.sampled_from(self.handles))
        m = self.model.messages[message_id]
        current = m["state"] in ("visible", "inflight", "delayed") and m["handle"] == handle
        if not current:
            with pytest.raises(InvalidParameterValue):
                self.run(self.backend.change_visibility("q", handle, timeout))
        elif m["state"] != "inflight":
            with pytest.raises(MessageNotInflight):
                self.run(self.backend.change_visibility("q", handle, timeout))
        else:
            self.run(self.backend.change_visibility("q", handle, timeout))
            m["at"] = self.model.now + timeout
            self.model.settle()

    @rule()
    def purge(self) -> None:
        self.run(self.backend.purge("q"))
        for m in self.model.live().values():
            m["state"] = "purged"
            self.model.counters["purged"] += 1

    @invariant()
    def agrees_with_the_model(self) -> None:
        self.model.check(self.stats("q"))
        assert self.stats("dlq").redriven_in == self.model.counters["redriven_to_dlq"]

    def teardown(self) -> None:
        try:
            # Every message ends deleted, in the DLQ, expired or purged: nothing is lost.
            self.run(self.clock.advance(1000))
            self.model.now += 1000
            self.model.settle()
            stats = self.stats("q")
            self.model.check(stats)
            assert stats.in_queue == 0
            assert stats.sent == (stats.deleted + stats.redriven_to_dlq + stats.expired + stats.purged)
            assert self.stats("dlq").approximate_number_of_messages == stats.redriven_to_dlq
        finally:
            super().teardown()


class FifoQueueMachine(_QueueMachine):
    """Random traffic on a FIFO queue: a group's messages come out in order, as a prefix of the
    group, and never while one of the group's messages is in flight."""

    fifo = True

    def __init__(self) -> None:
        super().__init__()
        self.model = _Model(retention=345_600, max_receives=None)
        self.run(self.backend.create_queue(QueueConfig("q.fifo", fifo=True, visibility_timeout=5)))

    @rule(group=st.sampled_from("abc"))
    def send(self, group: str) -> None:
        self.sends += 1
        result = self.run(self.backend.send("q.fifo", f"body {self.sends}", group_id=group,
                                            deduplication_id=f"d{self.sends}"))
        self.model.add(result.message_id, 0, group)

    def _groups(self) -> dict[str, list[dict[str, Any]]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for message_id, m in sorted(self.model.live().items(), key=lambda kv: kv[1]["seq"]):
            groups.setdefault(m["group"], []).append({"id": message_id, **m})
        return groups

    @rule(n=st.integers(1, 10), visibility=st.sampled_from([None, 0, 2, 7]))
    def receive(self, n: int, visibility: float | None) -> None:
        groups = self._groups()
        got = self.run(self.backend.receive("q.fifo", max_messages=n, visibility_timeout=visibility))
        available = sum(len(ms) for ms in groups.values() if all(m["state"] == "visible" for m in ms))
        assert len(got) == min(n, available)
        returned: dict[str | None, list[str]] = {}
        for message in got:
            returned.setdefault(message.group_id, []).append(message.message_id)
        for group, ids in returned.items():
            assert group is not None
            members = groups[group]
            assert all(m["state"] == "visible" for m in members)  # the group was not blocked
            assert ids == [m["id"] for m in members[: len(ids)]]  # the oldest, in order
        for message in got:
            m = self.model.messages[message.message_id]
            m.update(state="inflight", at=self.model.now + (5 if visibility is None else visibility),
                     handle=message.receipt_handle)
            m["count"] += 1
            self.handles.append((message.message_id, message.receipt_handle))
        self.model.counters["received"] += len(got)
        self.model.settle()

    @precondition(lambda self: self.handles)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        message_id, handle = data.draw(st.sampled_from(self.handles))
        m = self.model.messages[message_id]
        if m["state"] not in ("visible", "inflight"):
            self.run(self.backend.delete("q.fifo", handle))  # already gone: succeeds
        elif m["handle"] != handle or m["state"] != "inflight":
            with pytest.raises(InvalidParameterValue):
                self.run(self.backend.delete("q.fifo", handle))
        else:
            self.run(self.backend.delete("q.fifo", handle))
            m["state"] = "deleted"
            self.model.counters["deleted"] += 1

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), timeout=st.sampled_from([0, 3]))
    def change_visibility(self, data: st.DataObject, timeout: float) -> None:
        message_id, handle = data.draw(st.sampled_from(self.handles))
        m = self.model.messages[message_id]
        if m["state"] == "inflight" and m["handle"] == handle:
            self.run(self.backend.change_visibility("q.fifo", handle, timeout))
            m["at"] = self.model.now + timeout
            self.model.settle()
        else:
            with pytest.raises((InvalidParameterValue, MessageNotInflight)):
                self.run(self.backend.change_visibility("q.fifo", handle, timeout))

    @invariant()
    def agrees_with_the_model(self) -> None:
        self.model.check(self.stats("q.fifo"))


TestStandardQueueMachine = StandardQueueMachine.TestCase
TestFifoQueueMachine = FifoQueueMachine.TestCase
