"""Injected time: a real clock and a virtual clock for tests.

Every timer in asynclambda (keep-alive reaping, invocation deadlines, retry backoff, event age,
visibility timeouts, schedules) reads a :class:`~asynclambda.types.Clock`. Production code uses
:class:`RealClock`; tests use :class:`VirtualClock`, whose time only moves when the test says so
(:meth:`VirtualClock.advance`), so six hours of retry policy run in milliseconds and nothing sleeps.

Two readings: ``now()`` is monotonic seconds (deadlines, durations, timers) and ``time()`` is wall
clock seconds since the epoch (timestamps in records and events). On the virtual clock both move
together.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
import time as _time
from collections.abc import AsyncIterator, Callable
from typing import Any

__all__ = ["RealClock", "TimerHandle", "VirtualClock", "thread_work"]


class _ThreadWork:
    """Process-wide registry of jobs running on threads (plain ``def`` handlers' threads).

    ``VirtualClock`` cannot see work on threads by watching the event loop; before it moves time
    it waits (in real time, bounded) for these jobs, so a plain handler that finishes in a few
    real milliseconds is not overtaken by a virtual deadline.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self.pending: set[int] = set()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def begin(self) -> int:
        with self._lock:
            token = next(self._ids)
            self.pending.add(token)
            return token

    def end(self, token: int) -> None:
        with self._lock:
            self.pending.discard(token)
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(_resolve, fut)

    async def wait_changed(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._waiters.append((loop, fut))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fut, timeout)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


#: Jobs running on execution contexts' threads (see :class:`VirtualClock`).
thread_work = _ThreadWork()


class TimerHandle:
    """A scheduled callback that can be cancelled (what ``Clock.call_at`` returns)."""

    __slots__ = ("_callback", "_cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], Any]) -> None:
        self.when = when
        self._callback: Callable[[], Any] | None = callback
        self._cancelled = False

    def cancel(self) -> None:
        """Stop the callback from running; a no-op once it ran."""
        self._cancelled = True
        self._callback = None

    def cancelled(self) -> bool:
        return self._cancelled

    def _run(self) -> None:
        cb = self._callback
        self._callback = None
        if cb is not None and not self._cancelled:
            cb()


class _AsyncioTimer:
    __slots__ = ("_handle", "when")

    def __init__(self, when: float, handle: asyncio.TimerHandle) -> None:
        self.when = when
        self._handle = handle

    def cancel(self) -> None:
        self._handle.cancel()

    def cancelled(self) -> bool:
        return self._handle.cancelled()


class RealClock:
    """Wall time and the running event loop's timers.

    ``now()`` is ``time.monotonic()`` (nanosecond resolution; uvloop's ``loop.time()`` is cached
    per loop iteration at millisecond resolution, too coarse for durations), and timers go through
    ``loop.call_later`` so they cost what asyncio's own timers cost.
    """

    __slots__ = ()

    now = staticmethod(_time.monotonic)
    time = staticmethod(_time.time)

    def call_at(self, when: float, callback: Callable[[], Any]) -> _AsyncioTimer:
        """Run ``callback`` on the running loop once ``now() >= when``."""
        loop = asyncio.get_running_loop()
        delay = when - _time.monotonic()
        return _AsyncioTimer(when, loop.call_later(delay if delay > 0 else 0, callback))

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - _time.monotonic()
        await asyncio.sleep(delay if delay > 0 else 0)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds if seconds > 0 else 0)

    def __repr__(self) -> str:
        return "RealClock()"


# 2026-01-01T00:00:00Z: a fixed, recognisable wall-clock origin for virtual time.
DEFAULT_VIRTUAL_EPOCH = 1_767_225_600.0


class VirtualClock:
    """A clock whose time moves only when told to, for tests.

    ``await clock.advance(60)`` runs, in deadline order, every timer due in the next 60 seconds,
    letting the event loop settle (every task that can run, runs) after each one, so a task woken
    by a timer can schedule the next timer inside the same advance. Nothing really sleeps.

    ``await clock.advance_to_next()`` jumps straight to the next timer (returns ``False`` if none);
    ``await clock.run_until_idle()`` jumps from timer to timer until nothing is scheduled (bounded).
    ``await clock.settle()`` only lets the loop run until every task is blocked.

    Work running on execution contexts' threads (plain ``def`` handlers) is waited for, in real
    time, up to ``thread_wait`` seconds before time moves; a job still running after that is
    treated as stuck (a test of an overrunning handler) and not waited for again.
    """

    def __init__(self, start: float = 0.0, *, epoch: float = DEFAULT_VIRTUAL_EPOCH,
                 thread_wait: float = 1.0) -> None:
        self._now = float(start)
        self._epoch = float(epoch)
        self.thread_wait = thread_wait
        self._stuck: set[int] = set()
        self._timer_added: asyncio.Event | None = None
        self._timers: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()

    # -- readings ---------------------------------------------------------------------------
    def now(self) -> float:
        return self._now

    def time(self) -> float:
        return self._epoch + self._now

    # -- timers -----------------------------------------------------------------------------
    def call_at(self, when: float, callback: Callable[[], Any]) -> TimerHandle:
        """Run ``callback`` once virtual time reaches ``when``."""
        handle = TimerHandle(when, callback)
        heapq.heappush(self._timers, (when, next(self._seq), handle))
        if self._timer_added is not None:
            self._timer_added.set()
        return handle

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        handle = self.call_at(deadline, wake)
        try:
            await fut
        finally:
            handle.cancel()

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + seconds)

    def next_deadline(self) -> float | None:
        """When the earliest live timer is due, or ``None``."""
        self._drop_cancelled()
        return self._timers[0][0] if self._timers else None

    def pending(self) -> int:
        """How many live timers are scheduled."""
        return sum(1 for _, _, h in self._timers if not h.cancelled())

    # -- moving time ------------------------------------------------------------------------
    async def settle(self) -> None:
        """Let the event loop run until every task is blocked (or a generous bound is hit).

        On the default asyncio loop this watches the loop's ready queue; on other loops (uvloop)
        it yields a fixed number of times. Work running on threads is not waited for.
        """
        await self._settle_loop()
        while True:
            waiting = thread_work.pending - self._stuck
            if not waiting:
                return
            deadline = _time.monotonic() + self.thread_wait
            while waiting and _time.monotonic() < deadline:
                await thread_work.wait_changed(deadline - _time.monotonic())
                await self._settle_loop()
                waiting = thread_work.pending - self._stuck
            if waiting:
                self._stuck |= waiting  # still running: stuck on purpose; don't wait again
                return

    async def _settle_loop(self) -> None:
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)
        if ready is None:
            for _ in range(200):
                await asyncio.sleep(0)
            return
        quiet = 0
        for _ in range(100_000):
            await asyncio.sleep(0)
            if ready:
                quiet = 0
            else:
                quiet += 1
                if quiet >= 2:
                    return

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running every timer that falls due on the way."""
        if seconds < 0:
            raise ValueError(f"cannot move time backwards (seconds={seconds!r})")
        await self.advance_to(self._now + seconds)

    async def advance_to(self, target: float) -> None:
        """Move time forward to ``target`` (absolute ``now()`` reading)."""
        await self.settle()
        while True:
            self._drop_cancelled()
            if not self._timers or self._timers[0][0] > target:
                break
            when, _, handle = heapq.heappop(self._timers)
            if when > self._now:
                self._now = when
            handle._run()
            await self.settle()
        if target > self._now:
            self._now = target
        await self.settle()

    async def advance_to_next(self) -> bool:
        """Jump to the next timer and run it (and any due at the same instant)."""
        await self.settle()  # work that is runnable now may still arm a sooner timer
        nxt = self.next_deadline()
        if nxt is None:
            await self.settle()
            return False
        await self.advance_to(max(nxt, self._now))
        return True

    async def run_until_idle(self, *, max_steps: int = 100_000, until: float | None = None) -> int:
        """Jump from timer to timer until none is left (or ``until`` is reached).

        Returns the number of jumps. Raises ``RuntimeError`` after ``max_steps`` jumps, which
        means something re-arms a timer forever (a periodic task) and ``until`` should be given.
        """
        steps = 0
        while True:
            await self.settle()  # work that is runnable now may still arm a sooner timer
            nxt = self.next_deadline()
            if nxt is None or (until is not None and nxt > until):
                if until is not None and until > self._now:
                    await self.advance_to(until)
                else:
                    await self.settle()
                return steps
            await self.advance_to(max(nxt, self._now))
            steps += 1
            if steps >= max_steps:
                raise RuntimeError(
                    f"run_until_idle: still {self.pending()} timer(s) after {steps} jumps; "
                    "pass until=... for periodic timers"
                )

    @contextlib.asynccontextmanager
    async def autojump(self) -> AsyncIterator[VirtualClock]:
        """Within this block, whenever every task is blocked, jump to the next timer.

        Like trio's ``MockClock(autojump_threshold=0)``: code that waits on this clock finishes
        without anyone calling :meth:`advance` (handy to close a runtime whose in-flight work
        waits on virtual time). Tasks waiting on real time or I/O do not stop the jumps.
        """
        task = asyncio.get_running_loop().create_task(self._autojump())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _autojump(self) -> None:
        while True:
            await self.settle()
            if self.next_deadline() is None:
                self._timer_added = asyncio.Event()
                try:
                    await self._timer_added.wait()
                finally:
                    self._timer_added = None
                continue
            await self.advance_to_next()

    def _drop_cancelled(self) -> None:
        timers = self._timers
        while timers and timers[0][2].cancelled():
            heapq.heappop(timers)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r}, pending={self.pending()})"
