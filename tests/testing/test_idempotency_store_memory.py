"""The in-memory idempotency store passes the store conformance suite, with its own ``wait`` and
with the base class's polling one; and it is safe to use from many threads at once."""

from __future__ import annotations

import asyncio
import threading
from contextlib import AbstractAsyncContextManager

import pytest

from asynclambda.clock import VirtualClock
from asynclambda.idempotency import (
    INPROGRESS,
    IdempotencyItemAlreadyExistsError,
    IdempotencyRecord,
    IdempotencyStore,
    MemoryIdempotencyStore,
)
from asynclambda.testing import IdempotencyStoreConformance


class TestMemoryIdempotencyStore(IdempotencyStoreConformance):
    def make_store(self, clock: VirtualClock) -> AbstractAsyncContextManager[IdempotencyStore]:
        return MemoryIdempotencyStore(clock=clock)


class _PollingMemoryStore(MemoryIdempotencyStore):
    async def wait(self, key: str, until: float) -> None:
        await IdempotencyStore.wait(self, key, until)


class TestBaseClassPollingWait(IdempotencyStoreConformance):
    def make_store(self, clock: VirtualClock) -> AbstractAsyncContextManager[IdempotencyStore]:
        return _PollingMemoryStore(clock=clock)


def test_puts_from_many_threads_let_exactly_one_win() -> None:
    store = MemoryIdempotencyStore()
    barrier = threading.Barrier(8)
    wins: list[int] = []

    def put(i: int) -> None:
        record = IdempotencyRecord(key="k", status=INPROGRESS, expires_at=store.clock.time() + 60)
        barrier.wait()
        try:
            asyncio.run(store.put_if_absent(record))
        except IdempotencyItemAlreadyExistsError:
            return
        wins.append(i)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    stats = store.statistics()
    assert (stats.acquired, stats.conflicts, stats.records) == (1, 7, 1)


@pytest.mark.anyio
async def test_the_plugin_fixture_is_a_memory_store_on_the_virtual_clock(
        idempotency_store: MemoryIdempotencyStore, virtual_clock: VirtualClock) -> None:
    assert isinstance(idempotency_store, MemoryIdempotencyStore)
    assert idempotency_store.clock is virtual_clock
    await idempotency_store.put_if_absent(IdempotencyRecord(
        key="k", status=INPROGRESS, expires_at=virtual_clock.time() + 10))
    await virtual_clock.advance(10)
    assert await idempotency_store.get("k") is None
    assert idempotency_store.records() == []
