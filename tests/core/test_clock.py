"""Injected time: VirtualClock's semantics (what every other test relies on) and RealClock basics."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import spawn

import asynclambda as al
from asynclambda.clock import DEFAULT_VIRTUAL_EPOCH

pytestmark = pytest.mark.anyio


# -- VirtualClock -------------------------------------------------------------------------------

def test_virtual_clock_starts_where_told_and_wall_time_moves_with_it() -> None:
    clock = al.VirtualClock()
    assert clock.now() == 0.0
    assert clock.time() == DEFAULT_VIRTUAL_EPOCH == 1_767_225_600.0  # 2026-01-01T00:00:00Z
    other = al.VirtualClock(5.0, epoch=1000.0)
    assert (other.now(), other.time()) == (5.0, 1005.0)


async def test_time_moves_with_now() -> None:
    clock = al.VirtualClock(epoch=1000.0)
    await clock.advance(2.5)
    assert (clock.now(), clock.time()) == (2.5, 1002.5)
    await clock.advance_to(10)
    assert (clock.now(), clock.time()) == (10.0, 1010.0)


def test_clocks_satisfy_the_clock_protocol() -> None:
    assert isinstance(al.VirtualClock(), al.Clock)
    assert isinstance(al.RealClock(), al.Clock)


async def test_advance_runs_due_timers_in_deadline_order_at_their_own_time() -> None:
    clock = al.VirtualClock()
    ran: list[tuple[str, float]] = []
    for name, when in [("c", 3.0), ("a", 1.0), ("late", 10.0), ("b", 2.0)]:
        clock.call_at(when, lambda name=name: ran.append((name, clock.now())))
    await clock.advance(5)
    assert ran == [("a", 1.0), ("b", 2.0), ("c", 3.0)]  # each saw now() == its deadline
    assert clock.now() == 5.0 and clock.pending() == 1
    assert clock.next_deadline() == 10.0


async def test_timers_due_at_the_same_instant_run_in_the_order_they_were_armed() -> None:
    clock = al.VirtualClock()
    ran: list[int] = []
    for i in range(5):
        clock.call_at(1.0, lambda i=i: ran.append(i))
    await clock.advance(1)
    assert ran == [0, 1, 2, 3, 4]


async def test_a_timer_due_exactly_at_the_target_runs() -> None:
    clock = al.VirtualClock()
    ran: list[str] = []
    clock.call_at(2.0, lambda: ran.append("on time"))
    await clock.advance(1.999)
    assert ran == []
    await clock.advance(0.001)
    assert ran == ["on time"]


async def test_timers_armed_by_woken_tasks_run_within_the_same_advance() -> None:
    clock = al.VirtualClock()
    wakeups: list[float] = []

    async def ticker() -> None:
        for _ in range(3):
            await clock.sleep(1)  # each sleep arms its timer only after the last one fired
            wakeups.append(clock.now())

    task = spawn(ticker())
    await clock.advance(2.5)
    assert wakeups == [1.0, 2.0]
    await clock.advance(0.5)
    assert wakeups == [1.0, 2.0, 3.0]
    await task


async def test_cancelled_timer_never_runs() -> None:
    clock = al.VirtualClock()
    ran: list[str] = []
    handle = clock.call_at(1.0, lambda: ran.append("cancelled"))
    clock.call_at(2.0, lambda: ran.append("kept"))
    handle.cancel()
    assert handle.cancelled() and clock.pending() == 1
    assert clock.next_deadline() == 2.0
    await clock.advance(5)
    assert ran == ["kept"]
    handle.cancel()  # cancelling twice is harmless


async def test_cancelling_a_sleeping_task_removes_its_timer() -> None:
    clock = al.VirtualClock()
    task = spawn(clock.sleep(30))
    await clock.settle()
    assert clock.pending() == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending() == 0


async def test_timer_in_the_past_runs_without_moving_time_backwards() -> None:
    clock = al.VirtualClock(10.0)
    seen: list[float] = []
    clock.call_at(3.0, lambda: seen.append(clock.now()))
    await clock.advance(0)
    assert seen == [10.0] and clock.now() == 10.0


async def test_sleep_until_in_the_past_returns_at_once() -> None:
    clock = al.VirtualClock(10.0)
    await clock.sleep_until(5.0)
    await clock.sleep_until(10.0)
    await clock.sleep(0)
    await clock.sleep(-1)
    assert clock.now() == 10.0 and clock.pending() == 0


async def test_sleep_returns_only_when_virtual_time_reaches_it() -> None:
    clock = al.VirtualClock()
    task = spawn(clock.sleep_until(4.0))
    await clock.advance(3.9)
    assert not task.done()
    await clock.advance(0.1)
    assert task.done()
    await task


async def test_negative_advance_is_an_error() -> None:
    clock = al.VirtualClock(1.0)
    with pytest.raises(ValueError, match=r"cannot move time backwards \(seconds=-0.5\)"):
        await clock.advance(-0.5)
    assert clock.now() == 1.0


async def test_advance_to_next_jumps_to_the_next_timer_only() -> None:
    clock = al.VirtualClock()
    ran: list[str] = []
    clock.call_at(7.0, lambda: ran.append("a"))
    clock.call_at(7.0, lambda: ran.append("b"))
    clock.call_at(9.0, lambda: ran.append("c"))
    assert await clock.advance_to_next() is True
    assert ran == ["a", "b"] and clock.now() == 7.0
    assert await clock.advance_to_next() is True
    assert ran == ["a", "b", "c"] and clock.now() == 9.0
    assert await clock.advance_to_next() is False
    assert clock.now() == 9.0


async def test_advance_to_next_sees_timers_armed_by_runnable_tasks() -> None:
    clock = al.VirtualClock()
    task = spawn(clock.sleep(3))  # not started yet: its timer is armed during the settle
    assert await clock.advance_to_next() is True
    assert clock.now() == 3.0
    await task


async def test_run_until_idle_runs_every_timer_and_counts_jumps() -> None:
    clock = al.VirtualClock()

    async def chain() -> None:
        for _ in range(4):
            await clock.sleep(10)

    task = spawn(chain())
    assert await clock.run_until_idle() == 4
    assert clock.now() == 40.0 and task.done()


async def test_run_until_idle_with_until_stops_there() -> None:
    clock = al.VirtualClock()
    ran: list[float] = []

    def periodic() -> None:
        ran.append(clock.now())
        clock.call_at(clock.now() + 1, periodic)

    clock.call_at(1.0, periodic)
    steps = await clock.run_until_idle(until=3.5)
    assert ran == [1.0, 2.0, 3.0] and steps == 3
    assert clock.now() == 3.5  # time moved on to ``until`` after the last timer
    assert clock.next_deadline() == 4.0


async def test_run_until_idle_guards_against_endless_timers() -> None:
    clock = al.VirtualClock()

    def periodic() -> None:
        clock.call_at(clock.now() + 1, periodic)

    clock.call_at(1.0, periodic)
    with pytest.raises(RuntimeError, match=r"still 1 timer\(s\) after 25 jumps; pass until="):
        await clock.run_until_idle(max_steps=25)
    assert clock.now() == 25.0


async def test_run_until_idle_without_timers_returns_zero() -> None:
    clock = al.VirtualClock(3.0)
    assert await clock.run_until_idle() == 0
    assert await clock.run_until_idle(until=8.0) == 0
    assert clock.now() == 8.0


async def test_settle_runs_every_runnable_task_until_blocked() -> None:
    clock = al.VirtualClock()
    steps: list[int] = []

    async def busy() -> None:
        for i in range(100):
            steps.append(i)
            await asyncio.sleep(0)

    task = spawn(busy())
    await clock.settle()
    assert len(steps) == 100 and task.done()
    assert clock.now() == 0.0  # settling never moves time


def test_repr_shows_time_and_pending_timers() -> None:
    clock = al.VirtualClock(2.0)
    clock.call_at(3.0, lambda: None)
    assert repr(clock) == "VirtualClock(now=2.0, pending=1)"


# -- RealClock ----------------------------------------------------------------------------------

def test_real_clock_readings_are_monotonic_and_wall_time() -> None:
    clock = al.RealClock()
    a, b = clock.now(), clock.now()
    assert b >= a
    assert abs(clock.time() - time.time()) < 5
    assert repr(clock) == "RealClock()"


async def test_real_clock_call_at_in_the_past_runs_on_the_next_loop_turn() -> None:
    clock = al.RealClock()
    ran = asyncio.Event()
    handle = clock.call_at(clock.now() - 1, ran.set)
    assert handle.when < clock.now()
    await asyncio.wait_for(ran.wait(), 5)


async def test_real_clock_cancelled_timer_never_runs() -> None:
    clock = al.RealClock()
    ran: list[str] = []
    handle = clock.call_at(clock.now(), lambda: ran.append("x"))
    handle.cancel()
    for _ in range(5):
        await asyncio.sleep(0)
    assert ran == [] and handle.cancelled()


async def test_real_clock_sleep_in_the_past_returns_at_once() -> None:
    clock = al.RealClock()
    await clock.sleep(-1)
    await clock.sleep_until(clock.now() - 10)


async def test_real_clock_sleep_and_timer_wait_real_time() -> None:
    clock = al.RealClock()
    fired = asyncio.Event()
    start = clock.now()
    clock.call_at(start + 0.001, fired.set)
    await clock.sleep(0.001)  # one of two tiny real waits in this file
    assert clock.now() - start >= 0.001 - 1e-6  # asyncio may fire 1 clock tick early
    await asyncio.wait_for(fired.wait(), 5)


async def test_real_clock_sleep_until_waits_for_the_deadline() -> None:
    clock = al.RealClock()
    deadline = clock.now() + 0.001
    await clock.sleep_until(deadline)
    assert clock.now() >= deadline - 1e-6
