"""The hot paths of the memory backends and the mappings: each shortcut gives what the plain
code gave (ids, handles, encoded records, rounding), and the backends' bookkeeping stays bounded.
"""

from __future__ import annotations

import asyncio
import os
import random
import string
import struct
import sys
import uuid
from typing import Any

import msgspec
import pytest

import asynclambda as al
from asynclambda.clock import VirtualClock
from asynclambda.sources import MemoryQueueBackend, QueueConfig, QueueEventSourceMapping
from asynclambda.sources.mapping import run_shielded
from asynclambda.sources.memory_queue import _uuid4
from asynclambda.sources.queue import (
    InvalidMessageContents,
    Message,
    MessageAttributeValue,
    ReceiptHandleIsInvalid,
    RedrivePolicy,
    check_message_size,
    validate_body,
)
from asynclambda.sources.queue_mapping import _encoded_record, sqs_record
from asynclambda.sources.stream import StreamRecord
from asynclambda.sources.stream_records import (
    _round3,
    encoded_kinesis_record,
    kinesis_record,
    kinesis_record_tail,
)

_encode = msgspec.json.Encoder().encode
_CHARS = string.printable + "é\u2028\u0000\"\\/ü😀\x7f"


def _text(rnd: random.Random, low: int, high: int) -> str:
    return "".join(rnd.choice(_CHARS) for _ in range(rnd.randint(low, high)))


# -- ids and receipt handles ------------------------------------------------------------------------
def test_message_ids_are_random_version_4_uuids() -> None:
    ids = [_uuid4() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:2000]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # canonical: lowercase, 8-4-4-4-12
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, _uuid4().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert uuid.UUID(child).version == 4
    assert child != _uuid4()


@pytest.mark.anyio
async def test_receipt_handles_differ_per_message_and_per_receive() -> None:
    clock = VirtualClock()
    backend = MemoryQueueBackend(clock=clock)
    await backend.create_queue(QueueConfig("q", visibility_timeout=1))
    for i in range(20):
        await backend.send("q", f"m{i}")
    first = await backend.receive("q", max_messages=10)
    assert len({m.receipt_handle for m in first}) == 10
    await clock.advance(1)
    again = await backend.receive("q", max_messages=20, extended_batch=True)
    handles = {m.receipt_handle for m in first} | {m.receipt_handle for m in again}
    assert len(handles) == 30
    assert len({m.message_id for m in again}) == 20


@pytest.mark.anyio
async def test_deletes_by_current_stale_and_foreign_handles() -> None:
    clock = VirtualClock()
    backend = MemoryQueueBackend(clock=clock)
    await backend.create_queue(QueueConfig("q", visibility_timeout=1))
    await backend.create_queue(QueueConfig("other"))
    await backend.send("q", "x")
    old = (await backend.receive("q"))[0]
    await clock.advance(1)
    new = (await backend.receive("q"))[0]
    result = await backend.delete_batch("q", [old.receipt_handle])  # superseded: no delete
    assert result.successful == [old.receipt_handle]
    assert (await backend.statistics("q")).approximate_number_of_messages_not_visible == 1
    with pytest.raises(ReceiptHandleIsInvalid):
        await backend.delete("other", new.receipt_handle)
    with pytest.raises(ReceiptHandleIsInvalid):
        await backend.delete("q", ["not", "hashable"])  # type: ignore[arg-type]
    result = await backend.delete_batch("q", [new.receipt_handle, "bogus"])
    assert result.successful == [new.receipt_handle]
    assert result.failed["bogus"].code == "ReceiptHandleIsInvalid"
    assert (await backend.statistics("q")).deleted == 1
    await backend.delete("q", new.receipt_handle)  # gone: deletes are idempotent


@pytest.mark.anyio
async def test_delete_batch_goes_through_a_subclass_delete() -> None:
    seen: list[str] = []

    class Recording(MemoryQueueBackend):
        async def delete(self, queue: str, receipt_handle: str) -> None:
            seen.append(receipt_handle)
            await super().delete(queue, receipt_handle)

    backend = Recording(clock=VirtualClock())
    await backend.create_queue(QueueConfig("q"))
    await backend.send("q", "x")
    (message,) = await backend.receive("q")
    await backend.delete_batch("q", [message.receipt_handle])
    assert seen == [message.receipt_handle]


# -- bounded bookkeeping ---------------------------------------------------------------------------
@pytest.mark.anyio
async def test_deleted_messages_leave_no_expiry_or_visibility_entries_behind() -> None:
    clock = VirtualClock()
    backend = MemoryQueueBackend(clock=clock)
    await backend.create_queue(QueueConfig("q", visibility_timeout=60))
    for round_ in range(30):
        for i in range(100):
            await backend.send("q", f"{round_}-{i}")
        messages = await backend.receive("q", max_messages=100, extended_batch=True)
        # out of order, so stale entries are not only at the heads
        handles = [m.receipt_handle for m in messages]
        random.Random(round_).shuffle(handles)
        await backend.delete_batch("q", handles)
    q = backend._queues["q"]
    assert not q._messages and not q._handles
    assert len(q._expiry) + len(q._expiry_late) <= 300
    assert len(q._inflight) <= 300
    stats = await backend.statistics("q")
    assert (stats.sent, stats.deleted, stats.in_queue) == (3000, 3000, 0)


@pytest.mark.anyio
async def test_expiry_order_merges_redriven_messages_with_sent_ones() -> None:
    clock = VirtualClock()
    backend = MemoryQueueBackend(clock=clock)
    await backend.create_queue(QueueConfig("dlq", message_retention_period=100))
    await backend.create_queue(QueueConfig("q", visibility_timeout=10, message_retention_period=100,
                                           redrive_policy=RedrivePolicy("dlq", 1)))
    await backend.send("q", "early")  # at 0: expires at 100 in the dead-letter queue too
    await backend.receive("q")
    await clock.advance(5)
    await backend.send("dlq", "late")  # at 5: expires at 105
    await clock.advance(5)  # "early" moves to the dead-letter queue, out of expiry order
    assert (await backend.statistics("dlq")).approximate_number_of_messages == 2
    await clock.advance(90)
    stats = await backend.statistics("dlq")
    assert (stats.expired, stats.approximate_number_of_messages) == (1, 1)
    (left,) = await backend.receive("dlq")
    assert left.body == "late"
    await clock.advance(5)
    assert (await backend.statistics("dlq")).expired == 2  # in flight or not, retention ends it


# -- validation shortcuts --------------------------------------------------------------------------
@pytest.mark.parametrize("body", ["x", " ~", "\x7f", "tab\there", "é", "\ue000", "😀"])
def test_allowed_bodies_pass(body: str) -> None:
    validate_body(body)


@pytest.mark.parametrize("body", ["\x00", "a\x1fb", "\x0b", "\ud800", "\ufffe"])
def test_bodies_outside_sqs_characters_are_refused(body: str) -> None:
    with pytest.raises(InvalidMessageContents):
        validate_body(body)


def test_message_size_counts_utf8_bytes() -> None:
    check_message_size("x" * 1024, {}, 1024)
    check_message_size("é" * 512, {}, 1024)
    with pytest.raises(ValueError, match="1026 bytes"):
        check_message_size("é" * 513, {}, 1024)


# -- encoded records -------------------------------------------------------------------------------
def test_sqs_records_encode_as_their_dict_does() -> None:
    rnd = random.Random(7)
    for _ in range(2000):
        attributes: dict[str, MessageAttributeValue] = {}
        for _ in range(rnd.randint(0, 3)):
            if rnd.random() < 0.5:
                attributes[_text(rnd, 1, 5)] = MessageAttributeValue("String", _text(rnd, 1, 10))
            else:
                attributes[_text(rnd, 1, 5)] = MessageAttributeValue(
                    "Binary", binary_value=rnd.randbytes(rnd.randint(1, 9)))
        message = Message(_text(rnd, 1, 40), _text(rnd, 1, 40), _text(rnd, 1, 60),
                          {_text(rnd, 1, 9): _text(rnd, 0, 9) for _ in range(rnd.randint(0, 5))},
                          attributes, _text(rnd, 32, 32), rnd.choice([None, _text(rnd, 32, 32)]))
        arn, region = _text(rnd, 1, 30), _text(rnd, 1, 9)
        assert _encoded_record(message, arn, region) == _encode(sqs_record(message, arn, region))


def test_kinesis_records_encode_as_their_dict_does() -> None:
    rnd = random.Random(11)
    for _ in range(5000):
        arrival = rnd.choice([rnd.uniform(0, 5e9), rnd.uniform(1.6e9, 1.9e9), 0.0, -0.0, 1e300,
                              rnd.uniform(-10, 10), float(rnd.randint(0, 2**31))])
        record = StreamRecord(_text(rnd, 1, 60), arrival, rnd.randbytes(rnd.randint(0, 40)),
                              _text(rnd, 1, 20), _text(rnd, 1, 30), rnd.choice([None, "12"]))
        arn, region, identity = _text(rnd, 1, 30), _text(rnd, 1, 9), _text(rnd, 1, 30)
        tail = kinesis_record_tail(arn=arn, region=region, identity_arn=identity)
        expected = _encode(kinesis_record(record, arn=arn, region=region, identity_arn=identity))
        assert encoded_kinesis_record(record, tail) == expected


def _neighbours(value: float) -> list[float]:
    bits = struct.unpack("<q", struct.pack("<d", value))[0]
    return [struct.unpack("<d", struct.pack("<q", bits + d))[0] for d in (-2, -1, 0, 1, 2)]


def test_round3_is_round_to_milliseconds() -> None:
    rnd = random.Random(3)
    values = [rnd.uniform(0, 4.2e9) for _ in range(100_000)]
    values += [rnd.uniform(1.6e9, 1.9e9) for _ in range(100_000)]
    for _ in range(20_000):  # around the half-millisecond ties, bit by bit
        values += _neighbours((rnd.randint(1_600_000_000_000, 1_900_000_000_000) + 0.5) / 1000)
    values += [0.0, -0.0, 5e-324, 0.0005, 0.0015, 3.9999999e9, 4e9, 5e9, -1.5, float("inf"),
               sys.float_info.max, float("nan")]
    for value in values:
        assert repr(_round3(value)) == repr(round(value, 3)), value


# -- the queue mapping's batch workers --------------------------------------------------------------
@pytest.mark.anyio
async def test_queue_mapping_workers_end_with_intake_and_come_back_with_it() -> None:
    from mapping_helpers import run_until

    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    queues = MemoryQueueBackend(clock=clock)
    await queues.create_queue(QueueConfig("jobs"))
    seen: list[int] = []

    @rt.function
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        seen.extend(int(r["body"]) for r in event["Records"])

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      batch_size=3, maximum_concurrency=2)
    async with rt:
        for i in range(30):
            await queues.send("jobs", str(i))
        await run_until(clock, lambda: len(seen) == 30)
        await mapping.disable()
        await mapping.wait_stopped()  # idle workers ended with intake
        for i in range(30, 40):
            await queues.send("jobs", str(i))
        await mapping.enable()
        await run_until(clock, lambda: len(seen) == 40)
        stats = mapping.statistics()
    assert sorted(seen) == list(range(40))
    assert (stats.succeeded, stats.failed, stats.in_flight) == (40, 0, 0)
    assert (await queues.statistics("jobs")).in_queue == 0


@pytest.mark.anyio
async def test_queue_mapping_bursts_run_concurrently_and_workers_wind_down() -> None:
    from mapping_helpers import run_until

    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    queues = MemoryQueueBackend(clock=clock)
    await queues.create_queue(QueueConfig("jobs"))
    release = asyncio.Event()
    running: list[int] = []
    done: list[int] = []

    @rt.function(timeout=25)
    async def worker(event: dict[str, Any], context: al.LambdaContext) -> None:
        running.append(1)
        await release.wait()
        done.extend(int(r["body"]) for r in event["Records"])

    mapping = QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues,
                                      batch_size=2)
    async with rt:
        start = clock.now()
        for i in range(100):
            await queues.send("jobs", str(i))
        await run_until(clock, lambda: len(running) == 50)  # every batch in flight at once
        assert mapping.statistics().in_flight == 50
        # Lambda's SQS scaling: 5 batches at first, then 300 more per minute (45 more: 9 s).
        assert clock.now() - start >= 45 * 0.2 - 1e-9
        release.set()
        await run_until(clock, lambda: len(done) == 100)
        for i in range(100, 110):  # the workers left waiting take the next batches
            await queues.send("jobs", str(i))
        await run_until(clock, lambda: len(done) == 110)
        await mapping.disable()
        await mapping.wait_stopped()
    assert sorted(done) == list(range(110))
    assert mapping.statistics().succeeded == 110


# -- run_shielded ------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_run_shielded_returns_what_the_coroutine_returns() -> None:
    async def at_once() -> int:
        return 1

    async def later() -> int:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return 2

    assert await run_shielded(at_once()) == 1
    assert await run_shielded(later()) == 2


@pytest.mark.anyio
async def test_run_shielded_raises_what_the_coroutine_raises() -> None:
    async def at_once() -> None:
        raise KeyError("now")

    async def later() -> None:
        await asyncio.sleep(0)
        raise KeyError("later")

    with pytest.raises(KeyError, match="now"):
        await run_shielded(at_once())
    with pytest.raises(KeyError, match="later"):
        await run_shielded(later())


@pytest.mark.anyio
async def test_run_shielded_finishes_a_suspended_coroutine_through_a_cancellation() -> None:
    import anyio
    import anyio.lowlevel

    finished: list[str] = []
    started = anyio.Event()
    go_on = asyncio.Event()

    async def write() -> None:
        started.set()
        await go_on.wait()  # suspended here when the cancellation comes
        await asyncio.sleep(0)
        finished.append("written")

    async def body() -> None:
        await run_shielded(write())
        finished.append("after")  # no checkpoint yet: the cancellation lands at the next one
        await anyio.lowlevel.checkpoint()
        finished.append("unreachable")

    async with anyio.create_task_group() as tg:
        tg.start_soon(body)
        await started.wait()
        asyncio.get_running_loop().call_soon(go_on.set)  # (this task is cancelled too)
        tg.cancel_scope.cancel()
    assert finished == ["written", "after"]
