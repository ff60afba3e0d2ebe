"""MemoryStreamBackend, MemoryTable and MemoryCheckpointStore: specifics and properties.

The shared Kinesis behaviour is in the conformance suite (test_conformance_memory.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from decimal import Decimal
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynclambda.clock import VirtualClock
from asynclambda.errors import ConfigError
from asynclambda.sources.checkpoints import CheckpointRegressionError, MemoryCheckpointStore
from asynclambda.sources.memory_stream import MemoryStreamBackend
from asynclambda.sources.memory_table import (
    MemoryTable,
    ValidationException,
    _to_typed,
    decode_change_record,
)
from asynclambda.sources.stream import (
    ExpiredIteratorException,
    InvalidArgumentException,
    StreamBackend,
    StreamConfig,
    StreamNotFound,
    StreamRecord,
    even_hash_key_ranges,
    format_sequence_number,
)


# -- configuration and routing ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "bad name"}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"shard_count": 0}, "shard_count"),
        ({"shard_count": 1.5}, "shard_count"),
        ({"retention_period_hours": 23}, "retention_period_hours"),
        ({"retention_period_hours": 8761}, "retention_period_hours"),
    ],
)
def test_stream_config_names_the_bad_field(options: dict[str, Any], field: str) -> None:
    options = {"name": "clicks", **options}
    with pytest.raises(ConfigError) as info:
        StreamConfig(**options)
    assert info.value.field == field


def test_hash_key_ranges_match_kinesis_for_three_shards() -> None:
    # The ranges CreateStream gives a 3-shard stream.
    assert even_hash_key_ranges(3) == [
        (0, 113427455640312821154458202477256070484),
        (113427455640312821154458202477256070485, 226854911280625642308916404954512140969),
        (226854911280625642308916404954512140970, 340282366920938463463374607431768211455),
    ]


def test_sequence_numbers_have_kinesis_length() -> None:
    first, later = format_sequence_number(1), format_sequence_number(10**12)
    assert len(first) == len(later) == 56
    assert first < later
    assert first.startswith("49")


# -- backend specifics ----------------------------------------------------------------------------
@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def streams(clock: VirtualClock) -> MemoryStreamBackend:
    return MemoryStreamBackend(clock=clock)


async def _read_all(backend: StreamBackend, stream: str, shard_id: str) -> list[StreamRecord]:
    iterator = await backend.get_shard_iterator(stream, shard_id, "TRIM_HORIZON")
    records: list[StreamRecord] = []
    while True:
        page = await backend.get_records(iterator, limit=10_000)
        if not page.records:
            return records
        records += page.records
        assert page.next_shard_iterator is not None
        iterator = page.next_shard_iterator


@pytest.mark.anyio
async def test_sequence_numbers_must_belong_to_the_shard(streams: MemoryStreamBackend) -> None:
    await streams.create_stream(StreamConfig("s", 2))
    first = await streams.put_record("s", b"x", "k", explicit_hash_key="0")
    other = "shardId-000000000001"
    with pytest.raises(InvalidArgumentException, match="did not come from shard"):
        await streams.get_shard_iterator("s", other, "AT_SEQUENCE_NUMBER",
                                         sequence_number=first.sequence_number)
    with pytest.raises(InvalidArgumentException, match="not issued"):
        await streams.get_shard_iterator("s", first.shard_id, "AFTER_SEQUENCE_NUMBER",
                                         sequence_number=format_sequence_number(99))
    with pytest.raises(InvalidArgumentException):
        await streams.get_shard_iterator("s", first.shard_id, "AT_TIMESTAMP")
    with pytest.raises(InvalidArgumentException):
        await streams.get_shard_iterator("s", first.shard_id, "SOMEWHERE")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_iterator_of_a_recreated_stream_is_expired(streams: MemoryStreamBackend) -> None:
    await streams.create_stream(StreamConfig("s"))
    iterator = await streams.get_shard_iterator("s", "shardId-000000000000", "TRIM_HORIZON")
    await streams.delete_stream("s")
    await streams.create_stream(StreamConfig("s"))
    with pytest.raises(ExpiredIteratorException):
        await streams.get_records(iterator)


@pytest.mark.anyio
async def test_iterator_expiry_can_be_turned_off(clock: VirtualClock) -> None:
    backend = MemoryStreamBackend(clock=clock, iterator_ttl=None)
    await backend.create_stream(StreamConfig("s"))
    iterator = await backend.get_shard_iterator("s", "shardId-000000000000", "TRIM_HORIZON")
    await clock.advance(3600)
    assert (await backend.get_records(iterator)).records == []


@pytest.mark.anyio
async def test_get_records_stops_near_ten_mebibytes(streams: MemoryStreamBackend) -> None:
    await streams.create_stream(StreamConfig("s"))
    blob = b"x" * 1_000_000
    for _ in range(11):
        await streams.put_record("s", blob, "k")
    iterator = await streams.get_shard_iterator("s", "shardId-000000000000", "TRIM_HORIZON")
    page = await streams.get_records(iterator, limit=100)
    assert len(page.records) == 10
    assert page.millis_behind_latest == 0


@pytest.mark.anyio
async def test_trimming_many_records_keeps_reads_right(streams: MemoryStreamBackend,
                                                       clock: VirtualClock) -> None:
    await streams.create_stream(StreamConfig("s"))
    for i in range(3000):
        await streams.put_record("s", str(i).encode(), "k")
    await clock.advance(3600)
    for i in range(3000, 3010):
        await streams.put_record("s", str(i).encode(), "k")
    await clock.advance(23 * 3600)
    records = await _read_all(streams, "s", "shardId-000000000000")
    assert [int(r.data) for r in records] == list(range(3000, 3010))
    stats = await streams.statistics("s")
    assert (stats.records_trimmed, stats.records_retained) == (3000, 10)


@pytest.mark.anyio
async def test_deleting_a_stream_ends_waits(streams: MemoryStreamBackend) -> None:
    await streams.create_stream(StreamConfig("s"))
    iterator = await streams.get_shard_iterator("s", "shardId-000000000000", "LATEST")
    waiter = asyncio.create_task(streams.wait_for_records(iterator, timeout=60))
    await asyncio.sleep(0)
    await streams.delete_stream("s")
    with pytest.raises(StreamNotFound):
        await waiter


class _PollingStreams(MemoryStreamBackend):
    """The base class's polling ``wait_for_records``, on the memory backend."""

    wait_for_records = StreamBackend.wait_for_records


@pytest.mark.anyio
async def test_default_wait_for_records_polls_on_the_clock(clock: VirtualClock) -> None:
    backend = _PollingStreams(clock=clock)
    await backend.create_stream(StreamConfig("s"))
    iterator = await backend.get_shard_iterator("s", "shardId-000000000000", "LATEST")
    waiter = asyncio.create_task(backend.wait_for_records(iterator, timeout=10))
    await clock.advance(2)
    assert not waiter.done()
    await backend.put_record("s", b"x", "k")
    await clock.advance(1)
    with anyio.fail_after(5):
        assert await waiter is True
    late = asyncio.create_task(backend.wait_for_records(iterator, timeout=0))
    assert await late is True
    empty_iterator = await backend.get_shard_iterator("s", "shardId-000000000000", "LATEST")
    waiter = asyncio.create_task(backend.wait_for_records(empty_iterator, timeout=3))
    await clock.advance(3)
    assert await waiter is False


# -- property: routing, order, retention ----------------------------------------------------------
_operations = st.lists(
    st.one_of(st.tuples(st.just("put"), st.integers(0, 7)),
              st.tuples(st.just("advance"), st.sampled_from([1.0, 60.0, 3600.0, 6 * 3600.0]))),
    max_size=60,
)


@given(shard_count=st.integers(1, 4), operations=_operations)
def test_reading_from_trim_horizon_yields_every_live_record_in_put_order(
        shard_count: int, operations: list[tuple[str, Any]]) -> None:
    async def scenario() -> None:
        clock = VirtualClock()
        backend = MemoryStreamBackend(clock=clock, iterator_ttl=None)
        await backend.create_stream(StreamConfig("s", shard_count))
        put: list[tuple[str, bytes, float]] = []  # partition key, data, arrival
        for kind, arg in operations:
            if kind == "put":
                data = f"{len(put)}".encode()
                await backend.put_record("s", data, f"key-{arg}")
                put.append((f"key-{arg}", data, clock.now()))
            else:
                await clock.advance(arg)
        live = [(key, data) for key, data, at in put if at + 24 * 3600 > clock.now()]
        read: list[StreamRecord] = []
        for shard in await backend.list_shards("s"):
            records = await _read_all(backend, "s", shard.shard_id)
            numbers = [int(r.sequence_number) for r in records]
            assert numbers == sorted(set(numbers))  # sequence order within the shard
            read += records
        assert sorted((r.partition_key, r.data) for r in read) == sorted(live)
        for key in {key for key, _ in live}:
            mine = sorted((r for r in read if r.partition_key == key), key=lambda r: int(r.sequence_number))
            assert [r.data for r in mine] == [d for k, d in live if k == key]  # put order per key
            assert len({r.shard_id for r in mine}) == 1  # one shard per key

    asyncio.run(scenario())


# -- MemoryTable -----------------------------------------------------------------------------------
def test_to_typed_covers_dynamodb_types() -> None:
    value = {"s": "x", "i": 3, "f": 0.1, "d": Decimal("1.50"), "t": True, "n": None, "b": b"\x00\x01",
             "l": [1, "a"], "m": {"k": False}, "ss": {"b", "a"}, "ns": {2, 1.5}, "bs": {b"z"}}
    assert _to_typed(value) == {"M": {
        "s": {"S": "x"}, "i": {"N": "3"}, "f": {"N": "0.1"}, "d": {"N": "1.50"}, "t": {"BOOL": True},
        "n": {"NULL": True}, "b": {"B": base64.b64encode(b"\x00\x01").decode()},
        "l": {"L": [{"N": "1"}, {"S": "a"}]}, "m": {"M": {"k": {"BOOL": False}}},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1.5", "2"]}, "bs": {"BS": ["eg=="]}}}


@pytest.mark.parametrize("bad", [set(), {1, "a"}, float("nan"), object(), {1: "x"}])
def test_to_typed_refuses_what_dynamodb_refuses(bad: Any) -> None:
    with pytest.raises(ValidationException):
        _to_typed(bad)


async def _changes(streams: MemoryStreamBackend, stream: str) -> list[dict[str, Any]]:
    out = []
    for shard in await streams.list_shards(stream):
        out += [decode_change_record(r) for r in await _read_all(streams, stream, shard.shard_id)]
    return sorted(out, key=lambda c: c["dynamodb"]["SequenceNumber"])


@pytest.mark.anyio
async def test_table_writes_stream_insert_modify_remove(streams: MemoryStreamBackend,
                                                        clock: VirtualClock) -> None:
    table = await MemoryTable.create("orders", partition_key="id", streams=streams)
    assert await table.put_item({"id": "o1", "total": 5}) is None
    await table.put_item({"id": "o1", "total": 5})  # no change: no record
    assert (await table.update_item({"id": "o1"}, {"total": 7}))["total"] == 7
    assert await table.delete_item({"id": "o1"}) == {"id": "o1", "total": 7}
    assert await table.delete_item({"id": "o1"}) is None  # nothing to delete: no record
    changes = await _changes(streams, "orders")
    assert [c["eventName"] for c in changes] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = (c["dynamodb"] for c in changes)
    assert insert["Keys"] == {"id": {"S": "o1"}}
    assert "OldImage" not in insert
    assert modify["OldImage"]["total"] == {"N": "5"}
    assert modify["NewImage"]["total"] == {"N": "7"}
    assert "NewImage" not in remove
    assert remove["OldImage"]["total"] == {"N": "7"}
    assert insert["ApproximateCreationDateTime"] == int(clock.time())
    assert all(c["eventSource"] == "aws:dynamodb" and c["dynamodb"]["SizeBytes"] > 0 for c in changes)
    assert len(table) == 0


@pytest.mark.parametrize(
    ("view", "images"),
    [("KEYS_ONLY", set()), ("NEW_IMAGE", {"NewImage"}), ("OLD_IMAGE", {"OldImage"}),
     ("NEW_AND_OLD_IMAGES", {"NewImage", "OldImage"})],
)
@pytest.mark.anyio
async def test_stream_view_type_selects_images(streams: MemoryStreamBackend, view: Any,
                                               images: set[str]) -> None:
    table = await MemoryTable.create("t-view", partition_key="pk", sort_key="sk", streams=streams,
                                     stream_view_type=view)
    await table.put_item({"pk": "a", "sk": 1, "v": 1})
    await table.put_item({"pk": "a", "sk": 1, "v": 2})
    modify = (await _changes(streams, "t-view"))[1]["dynamodb"]
    assert modify["StreamViewType"] == view
    assert modify["Keys"] == {"pk": {"S": "a"}, "sk": {"N": "1"}}
    assert {"NewImage", "OldImage"} & modify.keys() == images


@pytest.mark.anyio
async def test_changes_of_one_item_share_a_shard(streams: MemoryStreamBackend) -> None:
    table = await MemoryTable.create("users", partition_key="user", sort_key="n", streams=streams,
                                     shard_count=4)
    for i in range(20):
        await table.put_item({"user": f"u{i % 5}", "n": i})
    by_user: dict[str, set[str]] = {}
    for shard in await streams.list_shards("users"):
        for record in await _read_all(streams, "users", shard.shard_id):
            user = decode_change_record(record)["dynamodb"]["Keys"]["user"]["S"]
            by_user.setdefault(user, set()).add(record.shard_id)
            assert record.partition_key == hashlib.md5(
                f'{{"S":"{user}"}}'.encode(), usedforsecurity=False).hexdigest()
    assert len(by_user) == 5
    assert all(len(shards) == 1 for shards in by_user.values())


@pytest.mark.anyio
async def test_table_validates_keys_and_values(streams: MemoryStreamBackend) -> None:
    table = await MemoryTable.create("strict", partition_key="id", streams=streams)
    for bad in ({"x": 1}, {"id": True}, {"id": ["a"]}, {"id": "a", "v": object()}):
        with pytest.raises(ValidationException):
            await table.put_item(bad)
    with pytest.raises(ValidationException):
        await table.update_item({"id": "a"}, {"id": "b"})
    assert len(table) == 0
    assert (await streams.statistics("strict")).records_put == 0
    with pytest.raises(ConfigError):
        MemoryTable("x", partition_key="id")
    with pytest.raises(ConfigError):
        MemoryTable("fine", partition_key="id", stream_view_type="ALL")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_table_without_a_stream_is_just_a_table() -> None:
    table = MemoryTable("plain", partition_key="id")
    numbers = [1]
    await table.put_item({"id": "a", "nested": {"n": numbers}})
    numbers.append(2)  # the table holds its own copy
    assert table.get_item({"id": "a"}) == {"id": "a", "nested": {"n": [1]}}
    assert table.scan() == [{"id": "a", "nested": {"n": [1]}}]


# -- MemoryCheckpointStore ---------------------------------------------------------------------------
@pytest.mark.anyio
async def test_checkpoint_statistics_count_moves_and_refusals() -> None:
    async with MemoryCheckpointStore() as store:
        await store.set("m", "s", "5")
        await store.set("m", "s", "5")
        await store.set("m", "s", "6")
        with pytest.raises(CheckpointRegressionError, match="from 6 to 4"):
            await store.set("m", "s", "4")
        assert store.statistics().advanced == 2
        assert (store.statistics().checkpoints, store.statistics().rejected) == (1, 1)
