"""KeyedLimiter: one hold per key, arrival order per key, an overall cap; lane_for is stable."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mapping_helpers import run

from asynclambda.errors import ConfigError
from asynclambda.sources.keyed import KeyedLimiter, lane_for


def test_lane_for_is_stable_and_in_range() -> None:
    assert lane_for("user-1", 1) == 0
    lanes = {lane_for(f"k{i}", 4) for i in range(100)}
    assert lanes == {0, 1, 2, 3}
    assert lane_for("user-1", 7) == lane_for("user-1", 7)
    assert lane_for("user-1", 10) == 4  # CRC-32 based: the same in every process


def test_limit_is_validated() -> None:
    with pytest.raises(ConfigError, match="limit=0"):
        KeyedLimiter(0)
    limiter = KeyedLimiter()
    with pytest.raises(ConfigError):
        limiter.limit = -1


@pytest.mark.anyio
async def test_same_key_waits_other_keys_pass() -> None:
    limiter = KeyedLimiter()
    first = limiter.try_acquire({"a"})
    assert first is not None
    assert limiter.try_acquire({"a", "b"}) is None
    other = limiter.try_acquire({"b"})
    assert other is not None
    waiter = asyncio.ensure_future(limiter.acquire({"a"}))
    await asyncio.sleep(0)
    assert not waiter.done()
    first.release()
    first.release()  # idempotent
    hold = await waiter
    assert hold.keys == frozenset({"a"})
    assert limiter.statistics().active == 2


@pytest.mark.anyio
async def test_cancelled_waiter_does_not_leak_a_hold() -> None:
    limiter = KeyedLimiter(1)
    held = await limiter.acquire(["x"])
    waiter = asyncio.ensure_future(limiter.acquire(["y"]))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    held.release()
    assert limiter.statistics().active == 0
    assert limiter.statistics().waiting == 0
    async with limiter.hold(["y"]):
        assert limiter.active == 1


@pytest.mark.anyio
async def test_wait_available_respects_the_cap() -> None:
    limiter = KeyedLimiter(1)
    hold = limiter.try_acquire()
    assert hold is not None and not limiter.available()
    waiting = asyncio.ensure_future(limiter.wait_available())
    await asyncio.sleep(0)
    assert not waiting.done()
    hold.release()
    await waiting
    assert limiter.available()


@given(
    requests=st.lists(st.sets(st.sampled_from("abcde"), max_size=3), min_size=1, max_size=25),
    limit=st.one_of(st.none(), st.integers(1, 4)),
    durations=st.lists(st.integers(0, 3), min_size=25, max_size=25),
)
def test_holds_are_exclusive_per_key_ordered_per_key_and_capped(
        requests: list[set[str]], limit: int | None, durations: list[int]) -> None:
    async def body() -> None:
        limiter = KeyedLimiter(limit)
        active: set[int] = set()
        grant_order: list[int] = []
        peak = 0

        async def worker(i: int, keys: set[str]) -> None:
            nonlocal peak
            async with limiter.hold(keys):
                for j in active:
                    assert not (requests[j] & keys), "two holds share a key"
                active.add(i)
                peak = max(peak, len(active))
                grant_order.append(i)
                for _ in range(durations[i]):
                    await asyncio.sleep(0)
                active.discard(i)

        tasks = []
        for i, keys in enumerate(requests):
            tasks.append(asyncio.ensure_future(worker(i, keys)))
            await asyncio.sleep(0)  # arrival order is submission order
        await asyncio.gather(*tasks)
        if limit is not None:
            assert peak <= limit
        for key in "abcde":
            wanting = [i for i, keys in enumerate(requests) if key in keys]
            granted = [i for i in grant_order if key in requests[i]]
            assert granted == wanting, f"key {key} served out of arrival order"
        assert limiter.statistics().active == 0

    run(body)
