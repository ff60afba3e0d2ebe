"""Conformance suites: the behaviour every queue, stream and checkpoint backend must share.

Subclass a suite in a test module, say how to build the backend, and inherit its tests::

    from asynclambda.testing.conformance import QueueBackendConformance

    class TestRedisQueues(QueueBackendConformance):
        def make_backend(self, clock):
            return RedisQueueBackend(url="redis://localhost", clock=clock)  # an async context manager

``make_backend(clock)`` returns an async context manager yielding the backend (every backend is
one). Each test gets a fresh :class:`~asynclambda.clock.VirtualClock` and uses fresh, unique queue
and stream names, so a broker backend may share one server between tests.

**Time.** The suites drive time with ``await clock.advance(seconds)``, so minutes of visibility
timeouts, retention and deduplication windows take milliseconds. That needs a backend that reads
time (visibility, delay, retention, deduplication, long-poll waits, iterator age) through the
clock it is given. A backend that cannot (a broker that keeps its own time) sets
``reads_injected_clock = False``: tests that need time to pass then really sleep when they need at
most ``max_real_sleep`` seconds (default 0: skip them), and skip otherwise. The time-driven tests
use short durations (1-3 s) where SQS's ranges allow it, so ``max_real_sleep = 5`` runs most of
them against a real broker.

The suites use ``pytest.mark.anyio`` and define their own ``anyio_backend`` fixture (asyncio).
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar

import anyio
import pytest

from asynclambda.clock import VirtualClock
from asynclambda.errors import ConfigError
from asynclambda.sources.checkpoints import CheckpointRegressionError, CheckpointStore
from asynclambda.sources.queue import (
    EmptyBatchRequest,
    InvalidMessageContents,
    InvalidParameterValue,
    Message,
    MessageAttributeValue,
    MessageNotInflight,
    MessageTooLong,
    MissingParameter,
    QueueBackend,
    QueueConfig,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
    RedrivePolicy,
    SendBatchEntry,
    TooManyEntriesInBatchRequest,
)
from asynclambda.sources.stream import (
    HASH_KEY_SPACE,
    ExpiredIteratorException,
    InvalidArgumentException,
    PutRecordsEntry,
    ResourceInUseException,
    StreamBackend,
    StreamConfig,
    StreamNotFound,
    StreamRecord,
    hash_key_for,
)

__all__ = ["CheckpointStoreConformance", "QueueBackendConformance", "StreamBackendConformance"]

_GUARD = 30.0  # real seconds: a broken backend fails the test instead of hanging it


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class _TimeDriven:
    """Capability flags and the time helper shared by the suites."""

    #: The backend reads time through the clock passed to ``make_backend``.
    reads_injected_clock: ClassVar[bool] = True
    #: Without that: the longest real sleep a test may take instead of skipping.
    max_real_sleep: ClassVar[float] = 0.0

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def clock(self) -> VirtualClock:
        return VirtualClock()

    async def advance(self, clock: VirtualClock, seconds: float) -> None:
        """Let ``seconds`` pass: virtually, for real (if short enough), or skip the test."""
        if self.reads_injected_clock:
            await clock.advance(seconds)
        elif seconds <= self.max_real_sleep:
            await anyio.sleep(seconds)
        else:
            pytest.skip(f"needs {seconds} s to pass and the backend does not read the injected clock")


async def _in_background(call: Callable[[], Awaitable[Any]], then: Callable[[], Awaitable[None]]) -> Any:
    """Run ``call`` in a task while ``then`` runs; return ``call``'s result."""
    result: list[Any] = []

    async def run() -> None:
        result.append(await call())

    try:
        with anyio.fail_after(_GUARD):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await then()
    except BaseExceptionGroup as group:  # surface a lone error as itself, for pytest.raises
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    return result[0]


# ---------------------------------------------------------------------------------------------
class QueueBackendConformance(_TimeDriven):
    """SQS semantics every :class:`~asynclambda.sources.queue.QueueBackend` must show."""

    def make_backend(self, clock: VirtualClock) -> AbstractAsyncContextManager[QueueBackend]:
        """Return an async context manager yielding a fresh backend that uses ``clock``."""
        raise NotImplementedError

    @pytest.fixture
    async def backend(self, clock: VirtualClock, anyio_backend: str) -> AsyncIterator[QueueBackend]:
        async with self.make_backend(clock) as backend:
            yield backend

    async def new_queue(self, backend: QueueBackend, *, fifo: bool = False, **options: Any) -> str:
        """Create a queue with a unique name and the given ``QueueConfig`` options."""
        name = _unique("q") + (".fifo" if fifo else "")
        await backend.create_queue(QueueConfig(name, fifo=fifo, **options))
        return name

    async def receive_one(self, backend: QueueBackend, queue: str, **options: Any) -> Message:
        messages = await backend.receive(queue, **options)
        assert len(messages) == 1, messages
        return messages[0]

    # -- basics ---------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_send_receive_delete(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend)
        sent = await backend.send(queue, "hello")
        message = await self.receive_one(backend, queue)
        assert (message.message_id, message.body) == (sent.message_id, "hello")
        assert message.md5_of_body == sent.md5_of_message_body == _md5("hello")
        assert message.receive_count == 1
        for name in ("SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"):
            assert name in message.attributes
        await backend.delete(queue, message.receipt_handle)
        assert await backend.receive(queue) == []
        stats = await backend.statistics(queue)
        assert (stats.sent, stats.received, stats.deleted, stats.in_queue) == (1, 1, 1, 0)

    @pytest.mark.anyio
    async def test_receive_from_an_empty_queue_returns_nothing(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend)
        assert await backend.receive(queue, max_messages=10, wait_time=0) == []

    @pytest.mark.anyio
    async def test_unknown_queue_does_not_exist(self, backend: QueueBackend) -> None:
        with pytest.raises(QueueDoesNotExist):
            await backend.send("no-such-queue", "x")
        with pytest.raises(QueueDoesNotExist):
            await backend.receive("no-such-queue")
        with pytest.raises(QueueDoesNotExist):
            await backend.statistics("no-such-queue")

    @pytest.mark.anyio
    async def test_create_is_idempotent_but_refuses_a_different_config(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend, visibility_timeout=5)
        await backend.create_queue(QueueConfig(queue, visibility_timeout=5))
        with pytest.raises(QueueNameExists):
            await backend.create_queue(QueueConfig(queue, visibility_timeout=6))
        assert (await backend.get_queue_config(queue)).visibility_timeout == 5

    @pytest.mark.anyio
    async def test_delete_queue(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend)
        await backend.send(queue, "x")
        await backend.delete_queue(queue)
        with pytest.raises(QueueDoesNotExist):
            await backend.receive(queue)

    @pytest.mark.anyio
    async def test_message_attributes_round_trip_with_sqs_md5(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend)
        attributes: dict[str, MessageAttributeValue] = {
            "attribName1": MessageAttributeValue("String", string_value="attribValue 1"),
            "customNumberTypeAttrib": MessageAttributeValue(
                "Number.float", string_value="4563442423554324324264524243.32543234"),
            "binaryAttribute": MessageAttributeValue("Binary", binary_value=b"Hello binary world!"),
        }
        sent = await backend.send(queue, "body", message_attributes=attributes)
        # Digests published with AWS's algorithm (npm package aws-md5-of-message-attributes).
        assert sent.md5_of_message_attributes == "c932db14a896c663f83c260297d594ff"
        message = await self.receive_one(backend, queue)
        assert message.message_attributes == attributes
        assert message.md5_of_message_attributes == "c932db14a896c663f83c260297d594ff"
        single = await backend.send(queue, "b", message_attributes={
            "attribName1": {"DataType": "String", "StringValue": "attribValue 1"}})
        assert single.md5_of_message_attributes == "19e27d4e946b072f3f58da80d94fd778"

    @pytest.mark.anyio
    async def test_invalid_messages_are_rejected(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend, maximum_message_size=1024)
        with pytest.raises(MessageTooLong):
            await backend.send(queue, "x" * 1025)
        with pytest.raises(InvalidMessageContents):
            await backend.send(queue, "bad \x00 byte")
        with pytest.raises(InvalidParameterValue):
            await backend.send(queue, "")
        with pytest.raises(InvalidParameterValue):
            await backend.send(queue, "x", message_attributes={"AWS.reserved": {"DataType": "String",
                                                                                "StringValue": "v"}})
        assert (await backend.statistics(queue)).sent == 0

    @pytest.mark.anyio
    async def test_max_messages_bounds(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend)
        for i in range(25):
            await backend.send(queue, f"m{i}")
        with pytest.raises(InvalidParameterValue):
            await backend.receive(queue, max_messages=11)
        with pytest.raises(InvalidParameterValue):
            await backend.receive(queue, max_messages=0)
        assert len(await backend.receive(queue, max_messages=10)) == 10
        assert len(await backend.receive(queue, max_messages=20, extended_batch=True)) == 15

    # -- visibility -----------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_message_reappears_after_visibility_timeout(self, backend: QueueBackend,
                                                               clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, visibility_timeout=2)
        await backend.send(queue, "again")
        first = await self.receive_one(backend, queue)
        await self.advance(clock, 1)
        assert await backend.receive(queue) == []
        stats = await backend.statistics(queue)
        assert (stats.approximate_number_of_messages, stats.approximate_number_of_messages_not_visible) == (0, 1)
        await self.advance(clock, 1)
        second = await self.receive_one(backend, queue)
        assert second.message_id == first.message_id
        assert second.receive_count == 2
        assert second.receipt_handle != first.receipt_handle

    @pytest.mark.anyio
    async def test_receive_visibility_timeout_overrides_the_queue_default(
            self, backend: QueueBackend, clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, visibility_timeout=30)
        await backend.send(queue, "short")
        await self.receive_one(backend, queue, visibility_timeout=1)
        await self.advance(clock, 1)
        assert (await self.receive_one(backend, queue)).receive_count == 2

    @pytest.mark.anyio
    async def test_change_visibility_to_zero_makes_the_message_visible_at_once(
            self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend, visibility_timeout=30)
        await backend.send(queue, "retry me")
        first = await self.receive_one(backend, queue)
        await backend.change_visibility(queue, first.receipt_handle, 0)
        again = await self.receive_one(backend, queue)
        assert (again.message_id, again.receive_count) == (first.message_id, 2)

    @pytest.mark.anyio
    async def test_change_visibility_extends_the_time_in_flight(self, backend: QueueBackend,
                                                                 clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, visibility_timeout=2)
        await backend.send(queue, "slow")
        message = await self.receive_one(backend, queue)
        await self.advance(clock, 1)
        await backend.change_visibility(queue, message.receipt_handle, 3)
        await self.advance(clock, 2)
        assert await backend.receive(queue) == []
        await self.advance(clock, 1)
        assert (await self.receive_one(backend, queue)).receive_count == 2

    @pytest.mark.anyio
    async def test_change_visibility_after_the_timeout_ended_fails(self, backend: QueueBackend,
                                                                   clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, visibility_timeout=1)
        await backend.send(queue, "late")
        message = await self.receive_one(backend, queue)
        await self.advance(clock, 1)
        with pytest.raises(MessageNotInflight):
            await backend.change_visibility(queue, message.receipt_handle, 10)

    @pytest.mark.anyio
    async def test_superseded_receipt_handle_does_not_delete(self, backend: QueueBackend,
                                                             clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, visibility_timeout=1)
        await backend.send(queue, "contested")
        old = await self.receive_one(backend, queue)
        await self.advance(clock, 1)
        new = await self.receive_one(backend, queue)
        await backend.delete(queue, old.receipt_handle)  # succeeds, as SQS documents
        assert (await backend.statistics(queue)).approximate_number_of_messages_not_visible == 1
        await backend.delete(queue, new.receipt_handle)
        assert (await backend.statistics(queue)).in_queue == 0

    @pytest.mark.anyio
    async def test_foreign_receipt_handles_are_invalid(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend)
        other = await self.new_queue(backend)
        await backend.send(other, "x")
        message = await self.receive_one(backend, other)
        with pytest.raises(ReceiptHandleIsInvalid):
            await backend.delete(queue, "not-a-receipt-handle")
        with pytest.raises(ReceiptHandleIsInvalid):
            await backend.delete(queue, message.receipt_handle)

    @pytest.mark.anyio
    async def test_delete_is_idempotent(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend)
        await backend.send(queue, "once")
        message = await self.receive_one(backend, queue)
        await backend.delete(queue, message.receipt_handle)
        await backend.delete(queue, message.receipt_handle)
        assert (await backend.statistics(queue)).deleted == 1

    # -- dead-letter queues ---------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_redrive_to_the_dead_letter_queue_after_max_receive_count(
            self, backend: QueueBackend, clock: VirtualClock) -> None:
        dlq = await self.new_queue(backend)
        queue = await self.new_queue(backend, visibility_timeout=1,
                                     redrive_policy=RedrivePolicy(dlq, max_receive_count=2))
        sent = await backend.send(queue, "poison", message_attributes={
            "kind": {"DataType": "String", "StringValue": "bad"}})
        for count in (1, 2):
            assert (await self.receive_one(backend, queue)).receive_count == count
            await self.advance(clock, 1)
        assert await backend.receive(queue) == []
        dead = await self.receive_one(backend, dlq)
        assert (dead.message_id, dead.body) == (sent.message_id, "poison")
        assert dead.message_attributes["kind"].string_value == "bad"
        source, target = await backend.statistics(queue), await backend.statistics(dlq)
        assert (source.redriven_to_dlq, source.in_queue) == (1, 0)
        assert target.redriven_in == 1

    @pytest.mark.anyio
    async def test_redrive_policy_needs_an_existing_dead_letter_queue_of_the_same_type(
            self, backend: QueueBackend) -> None:
        with pytest.raises(ConfigError):
            await self.new_queue(backend, redrive_policy=RedrivePolicy(_unique("missing")))
        fifo_dlq = await self.new_queue(backend, fifo=True)
        with pytest.raises(ConfigError):
            await self.new_queue(backend, redrive_policy=RedrivePolicy(fifo_dlq))

    # -- delay, long polling, retention, purge ----------------------------------------------------
    @pytest.mark.anyio
    async def test_delay_queue_hides_new_messages(self, backend: QueueBackend, clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, delay_seconds=2)
        await backend.send(queue, "later")
        assert await backend.receive(queue) == []
        assert (await backend.statistics(queue)).approximate_number_of_messages_delayed == 1
        await self.advance(clock, 2)
        assert (await self.receive_one(backend, queue)).body == "later"

    @pytest.mark.anyio
    async def test_per_message_delay_overrides_the_queue_delay(self, backend: QueueBackend,
                                                               clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, delay_seconds=3)
        await backend.send(queue, "now", delay_seconds=0)
        await backend.send(queue, "soon", delay_seconds=1)
        assert (await self.receive_one(backend, queue)).body == "now"
        await self.advance(clock, 1)
        assert (await self.receive_one(backend, queue)).body == "soon"

    @pytest.mark.anyio
    async def test_long_polling_wakes_on_send(self, backend: QueueBackend, clock: VirtualClock) -> None:
        queue = await self.new_queue(backend)

        async def send_later() -> None:
            await self.advance(clock, 1)
            await backend.send(queue, "wake")

        got = await _in_background(lambda: backend.receive(queue, wait_time=10), send_later)
        assert [m.body for m in got] == ["wake"]
        if self.reads_injected_clock:
            assert clock.now() == 1  # returned at once, not at the end of the wait

    @pytest.mark.anyio
    async def test_long_polling_returns_nothing_after_the_wait_time(
            self, backend: QueueBackend, clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, receive_wait_time=2)
        got = await _in_background(lambda: backend.receive(queue), lambda: self.advance(clock, 2))
        assert got == []

    @pytest.mark.anyio
    async def test_long_polling_wakes_when_a_visibility_timeout_ends(
            self, backend: QueueBackend, clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, visibility_timeout=2)
        await backend.send(queue, "comeback")
        await self.receive_one(backend, queue)
        got = await _in_background(lambda: backend.receive(queue, wait_time=10),
                                   lambda: self.advance(clock, 2))
        assert [(m.body, m.receive_count) for m in got] == [("comeback", 2)]

    @pytest.mark.anyio
    async def test_deleting_a_queue_ends_waiting_receives(self, backend: QueueBackend,
                                                          clock: VirtualClock) -> None:
        queue = await self.new_queue(backend)

        async def delete_later() -> None:
            await self.advance(clock, 1)
            await backend.delete_queue(queue)

        with pytest.raises(QueueDoesNotExist):
            await _in_background(lambda: backend.receive(queue, wait_time=10), delete_later)

    @pytest.mark.anyio
    async def test_messages_expire_after_the_retention_period(self, backend: QueueBackend,
                                                              clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, message_retention_period=60, visibility_timeout=10)
        await backend.send(queue, "in flight")
        await backend.send(queue, "visible")
        await self.receive_one(backend, queue)
        await self.advance(clock, 59)
        assert (await backend.statistics(queue)).in_queue == 2
        await self.advance(clock, 1)
        stats = await backend.statistics(queue)
        assert (stats.expired, stats.in_queue) == (2, 0)
        assert await backend.receive(queue) == []

    @pytest.mark.anyio
    async def test_purge_removes_every_message(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend, delay_seconds=0)
        for body in ("a", "b", "c"):
            await backend.send(queue, body)
        await self.receive_one(backend, queue)
        await backend.send(queue, "d", delay_seconds=5)
        await backend.purge(queue)
        stats = await backend.statistics(queue)
        assert (stats.purged, stats.in_queue) == (4, 0)
        assert await backend.receive(queue) == []

    @pytest.mark.anyio
    async def test_statistics_account_for_every_message(self, backend: QueueBackend,
                                                        clock: VirtualClock) -> None:
        dlq = await self.new_queue(backend)
        queue = await self.new_queue(backend, visibility_timeout=1,
                                     redrive_policy=RedrivePolicy(dlq, max_receive_count=1))
        for i in range(6):
            await backend.send(queue, f"m{i}", delay_seconds=2 if i == 5 else 0)
        received = await backend.receive(queue, max_messages=3)
        await backend.delete(queue, received[0].receipt_handle)
        await self.advance(clock, 1)  # two messages redriven
        s = await backend.statistics(queue)
        assert (s.sent, s.deleted, s.redriven_to_dlq, s.approximate_number_of_messages,
                s.approximate_number_of_messages_delayed) == (6, 1, 2, 2, 1)
        assert s.sent + s.redriven_in == (s.in_queue + s.deleted + s.redriven_to_dlq + s.expired
                                          + s.purged)

    # -- batches --------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_send_batch_and_delete_batch(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend)
        entries = [SendBatchEntry(f"e{i}", f"body {i}") for i in range(3)]
        entries.append(SendBatchEntry("bad", ""))
        result = await backend.send_batch(queue, entries)
        assert sorted(result.successful) == ["e0", "e1", "e2"]
        assert list(result.failed) == ["bad"]
        with pytest.raises(TooManyEntriesInBatchRequest):
            await backend.send_batch(queue, [SendBatchEntry(f"x{i}", "x") for i in range(11)])
        with pytest.raises(EmptyBatchRequest):
            await backend.send_batch(queue, [])
        messages = await backend.receive(queue, max_messages=10)
        deleted = await backend.delete_batch(queue, [m.receipt_handle for m in messages] + ["bogus"])
        assert len(deleted.successful) == 3
        assert list(deleted.failed) == ["bogus"]
        assert (await backend.statistics(queue)).in_queue == 0

    # -- FIFO -----------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_fifo_keeps_group_order_and_blocks_a_group_in_flight(
            self, backend: QueueBackend, clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, fifo=True, visibility_timeout=2)
        for i in range(3):
            await backend.send(queue, f"g{i}", group_id="g", deduplication_id=f"d{i}")
        first = await self.receive_one(backend, queue)
        assert first.body == "g0"
        assert first.group_id == "g"
        assert await backend.receive(queue, max_messages=10) == []  # the group is blocked
        await self.advance(clock, 2)
        again = await self.receive_one(backend, queue)
        assert (again.body, again.receive_count) == ("g0", 2)  # still first: order is kept
        await backend.delete(queue, again.receipt_handle)
        bodies = [m.body for m in await backend.receive(queue, max_messages=10)]
        assert bodies == ["g1", "g2"]

    @pytest.mark.anyio
    async def test_fifo_groups_are_independent(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend, fifo=True, content_based_deduplication=True)
        for group in ("a", "b"):
            for i in range(2):
                await backend.send(queue, f"{group}{i}", group_id=group)
        a0 = await self.receive_one(backend, queue)
        b0 = await self.receive_one(backend, queue)
        assert (a0.body, b0.body) == ("a0", "b0")
        assert await backend.receive(queue) == []
        await backend.delete(queue, b0.receipt_handle)
        assert (await self.receive_one(backend, queue)).body == "b1"

    @pytest.mark.anyio
    async def test_fifo_batch_holds_several_messages_of_a_group_in_order(
            self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend, fifo=True, content_based_deduplication=True)
        for i in range(4):
            await backend.send(queue, f"x{i}", group_id="x")
        await backend.send(queue, "y0", group_id="y")
        messages = await backend.receive(queue, max_messages=10)
        by_group: dict[str | None, list[str]] = {}
        for message in messages:
            by_group.setdefault(message.group_id, []).append(message.body)
        assert by_group == {"x": ["x0", "x1", "x2", "x3"], "y": ["y0"]}
        sequence = [int(m.attributes["SequenceNumber"]) for m in messages if m.group_id == "x"]
        assert sequence == sorted(sequence)

    @pytest.mark.anyio
    async def test_fifo_deduplicates_within_five_minutes(self, backend: QueueBackend,
                                                         clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, fifo=True)
        original = await backend.send(queue, "pay", group_id="g", deduplication_id="order-1")
        await self.advance(clock, 299)
        duplicate = await backend.send(queue, "pay", group_id="g", deduplication_id="order-1")
        assert duplicate.message_id == original.message_id
        stats = await backend.statistics(queue)
        assert (stats.sent, stats.deduplicated, stats.approximate_number_of_messages) == (1, 1, 1)
        await self.advance(clock, 1)
        fresh = await backend.send(queue, "pay", group_id="g", deduplication_id="order-1")
        assert fresh.message_id != original.message_id
        assert (await backend.statistics(queue)).approximate_number_of_messages == 2

    @pytest.mark.anyio
    async def test_fifo_content_based_deduplication(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend, fifo=True, content_based_deduplication=True)
        first = await backend.send(queue, "same", group_id="a")
        second = await backend.send(queue, "same", group_id="b")
        third = await backend.send(queue, "same", group_id="a", deduplication_id="explicit")
        assert second.message_id == first.message_id
        assert third.message_id != first.message_id

    @pytest.mark.anyio
    async def test_fifo_requires_group_and_deduplication_ids(self, backend: QueueBackend) -> None:
        queue = await self.new_queue(backend, fifo=True)
        with pytest.raises(MissingParameter):
            await backend.send(queue, "x", deduplication_id="d")
        with pytest.raises(MissingParameter):
            await backend.send(queue, "x", group_id="g")
        with pytest.raises(InvalidParameterValue):
            await backend.send(queue, "x", group_id="g", deduplication_id="d", delay_seconds=5)

    @pytest.mark.anyio
    async def test_fifo_rejects_a_receipt_handle_after_its_visibility_timeout(
            self, backend: QueueBackend, clock: VirtualClock) -> None:
        queue = await self.new_queue(backend, fifo=True, visibility_timeout=1,
                                     content_based_deduplication=True)
        await backend.send(queue, "x", group_id="g")
        message = await self.receive_one(backend, queue)
        await self.advance(clock, 1)
        with pytest.raises(InvalidParameterValue):
            await backend.delete(queue, message.receipt_handle)
        assert (await backend.statistics(queue)).approximate_number_of_messages == 1


# ---------------------------------------------------------------------------------------------
class StreamBackendConformance(_TimeDriven):
    """Kinesis semantics every :class:`~asynclambda.sources.stream.StreamBackend` must show."""

    def make_backend(self, clock: VirtualClock) -> AbstractAsyncContextManager[StreamBackend]:
        """Return an async context manager yielding a fresh backend that uses ``clock``."""
        raise NotImplementedError

    @pytest.fixture
    async def backend(self, clock: VirtualClock, anyio_backend: str) -> AsyncIterator[StreamBackend]:
        async with self.make_backend(clock) as backend:
            yield backend

    async def new_stream(self, backend: StreamBackend, shard_count: int = 1, **options: Any) -> str:
        name = _unique("s")
        await backend.create_stream(StreamConfig(name, shard_count, **options))
        return name

    async def read_all(self, backend: StreamBackend, stream: str, shard_id: str,
                       iterator_type: Any = "TRIM_HORIZON", **options: Any) -> list[StreamRecord]:
        iterator = await backend.get_shard_iterator(stream, shard_id, iterator_type, **options)
        records: list[StreamRecord] = []
        while True:
            page = await backend.get_records(iterator, limit=1000)
            if not page.records:
                return records
            records.extend(page.records)
            assert page.next_shard_iterator is not None
            iterator = page.next_shard_iterator

    # -- shards and routing -----------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_shards_split_the_hash_key_space_evenly(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend, 3)
        shards = await backend.list_shards(stream)
        assert [s.shard_id for s in shards] == [f"shardId-00000000000{i}" for i in range(3)]
        assert shards[0].hash_key_range[0] == 0
        assert shards[-1].hash_key_range[1] == HASH_KEY_SPACE - 1
        for left, right in itertools.pairwise(shards):
            assert left.hash_key_range[1] + 1 == right.hash_key_range[0]
        sizes = [s.hash_key_range[1] - s.hash_key_range[0] + 1 for s in shards]
        assert max(sizes) - min(sizes) <= 3

    @pytest.mark.anyio
    async def test_partition_keys_route_by_md5_hash_range(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend, 4)
        shards = await backend.list_shards(stream)
        for i in range(40):
            key = f"user-{i}"
            result = await backend.put_record(stream, b"x", key)
            again = await backend.put_record(stream, b"y", key)
            (low, high), = [s.hash_key_range for s in shards if s.shard_id == result.shard_id]
            assert low <= hash_key_for(key) <= high
            assert again.shard_id == result.shard_id

    @pytest.mark.anyio
    async def test_explicit_hash_key_overrides_the_partition_key(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend, 2)
        last = await backend.put_record(stream, b"x", "k", explicit_hash_key=str(HASH_KEY_SPACE - 1))
        first = await backend.put_record(stream, b"x", "k", explicit_hash_key="0")
        assert (first.shard_id, last.shard_id) == ("shardId-000000000000", "shardId-000000000001")
        with pytest.raises(InvalidArgumentException):
            await backend.put_record(stream, b"x", "k", explicit_hash_key=str(HASH_KEY_SPACE))

    @pytest.mark.anyio
    async def test_sequence_numbers_increase_per_shard_as_numbers_and_strings(
            self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend, 2)
        per_shard: dict[str, list[str]] = {}
        for i in range(30):
            result = await backend.put_record(stream, b"d", f"k{i % 7}")
            per_shard.setdefault(result.shard_id, []).append(result.sequence_number)
        for numbers in per_shard.values():
            assert [int(n) for n in numbers] == sorted({int(n) for n in numbers})
            assert numbers == sorted(set(numbers))
            assert len({len(n) for n in numbers}) == 1
            assert numbers[0].isdecimal()

    # -- iterators ------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_trim_horizon_reads_every_record_in_order(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend)
        puts = [await backend.put_record(stream, f"r{i}".encode(), "k") for i in range(5)]
        records = await self.read_all(backend, stream, puts[0].shard_id)
        assert [r.data for r in records] == [f"r{i}".encode() for i in range(5)]
        assert [r.sequence_number for r in records] == [p.sequence_number for p in puts]
        assert all(r.partition_key == "k" and r.shard_id == puts[0].shard_id for r in records)

    @pytest.mark.anyio
    async def test_latest_reads_only_new_records(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend)
        old = await backend.put_record(stream, b"old", "k")
        iterator = await backend.get_shard_iterator(stream, old.shard_id, "LATEST")
        assert (await backend.get_records(iterator)).records == []
        await backend.put_record(stream, b"new", "k")
        assert [r.data for r in (await backend.get_records(iterator)).records] == [b"new"]

    @pytest.mark.anyio
    async def test_at_and_after_sequence_number(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend)
        puts = [await backend.put_record(stream, f"r{i}".encode(), "k") for i in range(4)]
        shard = puts[0].shard_id
        at = await self.read_all(backend, stream, shard, "AT_SEQUENCE_NUMBER",
                                 sequence_number=puts[2].sequence_number)
        after = await self.read_all(backend, stream, shard, "AFTER_SEQUENCE_NUMBER",
                                    sequence_number=puts[2].sequence_number)
        assert [r.data for r in at] == [b"r2", b"r3"]
        assert [r.data for r in after] == [b"r3"]
        with pytest.raises(InvalidArgumentException):
            await backend.get_shard_iterator(stream, shard, "AT_SEQUENCE_NUMBER", sequence_number="x")
        with pytest.raises(InvalidArgumentException):
            await backend.get_shard_iterator(stream, shard, "AT_SEQUENCE_NUMBER")

    @pytest.mark.anyio
    async def test_at_timestamp(self, backend: StreamBackend, clock: VirtualClock) -> None:
        stream = await self.new_stream(backend)
        first = await backend.put_record(stream, b"early", "k")
        await self.advance(clock, 2)
        await backend.put_record(stream, b"late", "k")
        records = await self.read_all(backend, stream, first.shard_id)
        late_at = records[1].approximate_arrival_timestamp
        assert late_at > records[0].approximate_arrival_timestamp
        found = await self.read_all(backend, stream, first.shard_id, "AT_TIMESTAMP", timestamp=late_at)
        assert [r.data for r in found] == [b"late"]
        everything = await self.read_all(backend, stream, first.shard_id, "AT_TIMESTAMP", timestamp=0.0)
        assert len(everything) == 2

    @pytest.mark.anyio
    async def test_get_records_pages_by_limit(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend)
        put = await backend.put_records(stream, [PutRecordsEntry(bytes([i]), "k") for i in range(7)])
        iterator = await backend.get_shard_iterator(stream, put[0].shard_id, "TRIM_HORIZON")
        sizes = []
        while True:
            page = await backend.get_records(iterator, limit=3)
            if not page.records:
                break
            sizes.append(len(page.records))
            assert page.next_shard_iterator is not None
            iterator = page.next_shard_iterator
        assert sizes == [3, 3, 1]
        for bad in (0, 10_001):
            with pytest.raises(InvalidArgumentException):
                await backend.get_records(iterator, limit=bad)

    @pytest.mark.anyio
    async def test_an_iterator_can_be_read_again(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend)
        put = await backend.put_record(stream, b"same", "k")
        iterator = await backend.get_shard_iterator(stream, put.shard_id, "TRIM_HORIZON")
        first, second = await backend.get_records(iterator), await backend.get_records(iterator)
        assert first.records == second.records == (await backend.get_records(iterator)).records

    @pytest.mark.anyio
    async def test_millis_behind_latest(self, backend: StreamBackend, clock: VirtualClock) -> None:
        stream = await self.new_stream(backend)
        put = await backend.put_record(stream, b"a", "k")
        await backend.put_record(stream, b"b", "k")
        await self.advance(clock, 2)
        iterator = await backend.get_shard_iterator(stream, put.shard_id, "TRIM_HORIZON")
        page = await backend.get_records(iterator, limit=1)
        assert page.millis_behind_latest >= 1000
        if self.reads_injected_clock:
            assert page.millis_behind_latest == 2000
        assert page.next_shard_iterator is not None
        assert (await backend.get_records(page.next_shard_iterator)).millis_behind_latest == 0

    @pytest.mark.anyio
    async def test_iterators_expire_after_five_minutes(self, backend: StreamBackend,
                                                       clock: VirtualClock) -> None:
        stream = await self.new_stream(backend)
        put = await backend.put_record(stream, b"a", "k")
        iterator = await backend.get_shard_iterator(stream, put.shard_id, "TRIM_HORIZON")
        await self.advance(clock, 299)
        page = await backend.get_records(iterator)
        await self.advance(clock, 1)
        with pytest.raises(ExpiredIteratorException):
            await backend.get_records(iterator)
        assert page.next_shard_iterator is not None
        assert (await backend.get_records(page.next_shard_iterator)).records == []

    @pytest.mark.anyio
    async def test_a_malformed_iterator_is_an_invalid_argument(self, backend: StreamBackend) -> None:
        with pytest.raises(InvalidArgumentException):
            await backend.get_records("definitely not an iterator")

    # -- retention ------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_records_older_than_retention_are_trimmed(self, backend: StreamBackend,
                                                            clock: VirtualClock) -> None:
        stream = await self.new_stream(backend, retention_period_hours=24)
        put = await backend.put_record(stream, b"old", "k")
        await self.advance(clock, 12 * 3600)
        await backend.put_record(stream, b"new", "k")
        await self.advance(clock, 12 * 3600)
        assert [r.data for r in await self.read_all(backend, stream, put.shard_id)] == [b"new"]
        stats = await backend.statistics(stream)
        assert (stats.records_put, stats.records_retained, stats.records_trimmed) == (2, 1, 1)

    @pytest.mark.anyio
    async def test_a_position_in_trimmed_data_reads_from_the_trim_horizon(
            self, backend: StreamBackend, clock: VirtualClock) -> None:
        stream = await self.new_stream(backend, retention_period_hours=24)
        first = await backend.put_record(stream, b"gone", "k")
        await self.advance(clock, 12 * 3600)
        await backend.put_record(stream, b"kept", "k")
        await self.advance(clock, 12 * 3600 - 1)
        iterator = await backend.get_shard_iterator(stream, first.shard_id, "AT_SEQUENCE_NUMBER",
                                                    sequence_number=first.sequence_number)
        await self.advance(clock, 1)  # "gone" is trimmed under the iterator
        assert [r.data for r in (await backend.get_records(iterator)).records] == [b"kept"]
        late = await self.read_all(backend, stream, first.shard_id, "AT_SEQUENCE_NUMBER",
                                   sequence_number=first.sequence_number)
        assert [r.data for r in late] == [b"kept"]

    # -- waiting --------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_wait_for_records_wakes_on_put(self, backend: StreamBackend, clock: VirtualClock) -> None:
        stream = await self.new_stream(backend)
        (shard,) = await backend.list_shards(stream)
        iterator = await backend.get_shard_iterator(stream, shard.shard_id, "LATEST")

        async def put_later() -> None:
            await self.advance(clock, 1)
            await backend.put_record(stream, b"hello", "k")

        assert await _in_background(lambda: backend.wait_for_records(iterator, timeout=30), put_later)
        assert [r.data for r in (await backend.get_records(iterator)).records] == [b"hello"]
        if self.reads_injected_clock:
            assert clock.now() == 1

    @pytest.mark.anyio
    async def test_wait_for_records_times_out(self, backend: StreamBackend, clock: VirtualClock) -> None:
        stream = await self.new_stream(backend)
        (shard,) = await backend.list_shards(stream)
        iterator = await backend.get_shard_iterator(stream, shard.shard_id, "LATEST")
        woke = await _in_background(lambda: backend.wait_for_records(iterator, timeout=2),
                                    lambda: self.advance(clock, 2))
        assert woke is False

    @pytest.mark.anyio
    async def test_wait_for_records_returns_at_once_when_records_wait(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend)
        put = await backend.put_record(stream, b"ready", "k")
        iterator = await backend.get_shard_iterator(stream, put.shard_id, "TRIM_HORIZON")
        with anyio.fail_after(_GUARD):
            assert await backend.wait_for_records(iterator, timeout=60) is True

    # -- errors and bookkeeping -------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_unknown_streams_and_shards_are_not_found(self, backend: StreamBackend) -> None:
        with pytest.raises(StreamNotFound):
            await backend.put_record("no-such-stream", b"x", "k")
        stream = await self.new_stream(backend)
        with pytest.raises(StreamNotFound):
            await backend.get_shard_iterator(stream, "shardId-000000000999", "TRIM_HORIZON")

    @pytest.mark.anyio
    async def test_invalid_puts_are_rejected(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend)
        for data, key in ((b"x", ""), (b"x", "k" * 257), (b"x" * (1024 * 1024), "k")):
            with pytest.raises(InvalidArgumentException):
                await backend.put_record(stream, data, key)
        with pytest.raises(InvalidArgumentException):
            await backend.put_records(stream, [PutRecordsEntry(b"ok", "k"), PutRecordsEntry(b"x", "")])
        assert (await backend.statistics(stream)).records_put == 0

    @pytest.mark.anyio
    async def test_put_records_returns_results_in_entry_order(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend, 3)
        entries = [PutRecordsEntry(f"{i}".encode(), f"key-{i}") for i in range(12)]
        results = await backend.put_records(stream, entries)
        assert len(results) == 12
        for entry, result in zip(entries, results, strict=True):
            records = await self.read_all(backend, stream, result.shard_id, "AT_SEQUENCE_NUMBER",
                                          sequence_number=result.sequence_number)
            assert records[0].data == entry.data

    @pytest.mark.anyio
    async def test_create_and_delete_streams(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend)
        with pytest.raises(ResourceInUseException):
            await backend.create_stream(StreamConfig(stream))
        await backend.delete_stream(stream)
        with pytest.raises(StreamNotFound):
            await backend.list_shards(stream)

    @pytest.mark.anyio
    async def test_statistics_count_records_per_shard(self, backend: StreamBackend) -> None:
        stream = await self.new_stream(backend, 2)
        results = [await backend.put_record(stream, b"abc", f"k{i}") for i in range(10)]
        stats = await backend.statistics(stream)
        assert (stats.shard_count, stats.records_put, stats.records_retained) == (2, 10, 10)
        assert stats.bytes_retained == 30
        for shard_id, count in stats.retained_per_shard.items():
            assert count == sum(1 for r in results if r.shard_id == shard_id)


# ---------------------------------------------------------------------------------------------
class CheckpointStoreConformance:
    """What every :class:`~asynclambda.sources.checkpoints.CheckpointStore` must do."""

    def make_store(self) -> AbstractAsyncContextManager[CheckpointStore]:
        """Return an async context manager yielding a fresh store."""
        raise NotImplementedError

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    async def store(self, anyio_backend: str) -> AsyncIterator[CheckpointStore]:
        async with self.make_store() as store:
            yield store

    @pytest.fixture
    def mapping(self) -> str:
        return _unique("mapping")

    @pytest.mark.anyio
    async def test_unknown_checkpoint_is_none(self, store: CheckpointStore, mapping: str) -> None:
        assert await store.get(mapping, "shardId-000000000000") is None

    @pytest.mark.anyio
    async def test_checkpoints_move_forward(self, store: CheckpointStore, mapping: str) -> None:
        await store.set(mapping, "shard", "100")
        await store.set(mapping, "shard", "100")  # the same again is fine
        await store.set(mapping, "shard", "250")
        assert await store.get(mapping, "shard") == "250"

    @pytest.mark.anyio
    async def test_checkpoints_never_move_back(self, store: CheckpointStore, mapping: str) -> None:
        await store.set(mapping, "shard", "250")
        with pytest.raises(CheckpointRegressionError):
            await store.set(mapping, "shard", "249")
        assert await store.get(mapping, "shard") == "250"

    @pytest.mark.anyio
    async def test_checkpoints_compare_as_numbers(self, store: CheckpointStore, mapping: str) -> None:
        await store.set(mapping, "shard", "9")
        await store.set(mapping, "shard", "10")
        with pytest.raises(CheckpointRegressionError):
            await store.set(mapping, "shard", "9")

    @pytest.mark.anyio
    async def test_checkpoints_are_kept_per_mapping_and_shard(self, store: CheckpointStore,
                                                              mapping: str) -> None:
        other = _unique("mapping")
        await store.set(mapping, "a", "5")
        await store.set(mapping, "b", "7")
        await store.set(other, "a", "1")
        assert [await store.get(mapping, "a"), await store.get(mapping, "b"),
                await store.get(other, "a"), await store.get(other, "b")] == ["5", "7", "1", None]

    @pytest.mark.anyio
    async def test_malformed_sequence_numbers_are_rejected(self, store: CheckpointStore,
                                                           mapping: str) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 - InvalidArgumentException is a ValueError
            await store.set(mapping, "shard", "12a")
