"""Per-key concurrency of one: at most one batch in flight per key, different keys in parallel.

Every event source mapping needs the same guarantee under a different name: an SQS FIFO queue's
*message groups*, a stream's *shards*, and with a parallelization factor the *partition keys*
inside a shard. :class:`KeyedLimiter` is that guarantee, built once:

* a **hold** names a set of keys (possibly empty) and is granted only when none of its keys is
  held by another hold, and fewer than ``limit`` holds are active (the mapping's concurrency cap,
  e.g. SQS ``maximum_concurrency``);
* waiters are served **in arrival order per key**: a later request never overtakes an earlier one
  that wants one of the same keys, so work submitted in order for a key runs in that order; a
  request whose keys are all free may overtake earlier requests for *other* keys;
* a hold is released exactly once (``release()`` or leaving ``async with``), also when the task
  holding it is cancelled.

:func:`lane_for` maps a partition key to one of ``n`` lanes with a stable hash (Python's own
``hash`` of a ``str`` changes between processes), which is how a shard is split into
``parallelization_factor`` ordered sub-streams.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from collections.abc import AsyncIterator, Hashable, Iterable
from contextlib import asynccontextmanager, suppress

import msgspec

from asynclambda.errors import ConfigError

__all__ = ["Hold", "KeyedLimiter", "KeyedStatistics", "lane_for"]


def lane_for(key: str, lanes: int) -> int:
    """The lane (``0 .. lanes-1``) of ``key``: CRC-32 of its UTF-8 bytes, modulo ``lanes``."""
    if lanes <= 1:
        return 0
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % lanes


class KeyedStatistics(msgspec.Struct, frozen=True):
    """A snapshot: active holds, keys held, waiting requests, holds granted so far."""

    active: int
    keys_held: int
    waiting: int
    granted: int
    limit: int | None


class Hold:
    """A granted hold on a set of keys; :meth:`release` gives them back (idempotent)."""

    __slots__ = ("_limiter", "keys", "released")

    def __init__(self, limiter: KeyedLimiter, keys: frozenset[Hashable]) -> None:
        self._limiter = limiter
        self.keys = keys
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._limiter._release(self)

    def __repr__(self) -> str:
        state = "released" if self.released else "held"
        return f"<Hold {state} keys={sorted(map(repr, self.keys))}>"


class _Waiter:
    __slots__ = ("future", "keys")

    def __init__(self, keys: frozenset[Hashable], future: asyncio.Future[Hold]) -> None:
        self.keys = keys
        self.future = future


class KeyedLimiter:
    """At most one hold per key and at most ``limit`` holds at once (``None``: no cap).

    ``limit`` may be changed while holds are active (a lower limit only delays new grants).
    """

    def __init__(self, limit: int | None = None) -> None:
        self._limit = self._check(limit)
        self._held: set[Hashable] = set()
        self._active = 0
        self._waiters: deque[_Waiter] = deque()
        self._granted = 0

    @staticmethod
    def _check(limit: int | None) -> int | None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise ConfigError("limit", limit, "must be a positive integer or None")
        return limit

    @property
    def limit(self) -> int | None:
        return self._limit

    @limit.setter
    def limit(self, value: int | None) -> None:
        self._limit = self._check(value)
        self._grant()

    @property
    def active(self) -> int:
        """Holds currently granted and not released."""
        return self._active

    def _has_room(self) -> bool:
        return self._limit is None or self._active < self._limit

    def available(self) -> bool:
        """True when a hold on keys nobody holds or waits for would be granted at once."""
        return self._has_room() and not self._waiters

    async def wait_available(self) -> None:
        """Return once :meth:`available` (a poller calls this before taking more work)."""
        while not self.available():
            # Wait for any release: cheap, because releases are what change availability.
            fut: asyncio.Future[Hold] = asyncio.get_running_loop().create_future()
            waiter = _Waiter(frozenset(), fut)
            self._waiters.append(waiter)
            self._grant()
            hold = await self._wait(waiter)
            hold.release()

    def try_acquire(self, keys: Iterable[Hashable] = ()) -> Hold | None:
        """A hold on ``keys`` if it can be granted now without overtaking anyone, else ``None``."""
        wanted = frozenset(keys)
        if not self._has_room() or not wanted.isdisjoint(self._held):
            return None
        for waiter in self._waiters:
            if not wanted.isdisjoint(waiter.keys):
                return None
        return self._grant_to(wanted)

    async def acquire(self, keys: Iterable[Hashable] = ()) -> Hold:
        """Wait for a hold on ``keys`` (in arrival order per key)."""
        hold = self.try_acquire(keys)
        if hold is not None:
            return hold
        fut: asyncio.Future[Hold] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(frozenset(keys), fut)
        self._waiters.append(waiter)
        self._grant()
        return await self._wait(waiter)

    async def _wait(self, waiter: _Waiter) -> Hold:
        try:
            return await waiter.future
        except BaseException:
            if waiter.future.done() and not waiter.future.cancelled():
                waiter.future.result().release()  # granted as we were cancelled: give it back
            else:
                with suppress(ValueError):
                    self._waiters.remove(waiter)
                self._grant()  # our place may have blocked someone behind us
            raise

    @asynccontextmanager
    async def hold(self, keys: Iterable[Hashable] = ()) -> AsyncIterator[Hold]:
        """``async with limiter.hold(keys):`` run one batch for those keys."""
        held = await self.acquire(keys)
        try:
            yield held
        finally:
            held.release()

    def _grant_to(self, keys: frozenset[Hashable]) -> Hold:
        self._held.update(keys)
        self._active += 1
        self._granted += 1
        return Hold(self, keys)

    def _release(self, hold: Hold) -> None:
        self._held.difference_update(hold.keys)
        self._active -= 1
        self._grant()

    def _grant(self) -> None:
        """Grant waiters in arrival order; a waiter blocks later ones that share a key with it."""
        if not self._waiters:
            return  # (every release calls this: no new deque when nobody waits)
        blocked: set[Hashable] = set()
        kept: deque[_Waiter] = deque()
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if waiter.future.done():
                continue
            if (self._has_room() and waiter.keys.isdisjoint(self._held)
                    and waiter.keys.isdisjoint(blocked)):
                waiter.future.set_result(self._grant_to(waiter.keys))
            else:
                blocked.update(waiter.keys)
                kept.append(waiter)
        self._waiters = kept

    def statistics(self) -> KeyedStatistics:
        return KeyedStatistics(self._active, len(self._held),
                               sum(1 for w in self._waiters if not w.future.done()),
                               self._granted, self._limit)

    def __repr__(self) -> str:
        return f"<KeyedLimiter active={self._active} limit={self._limit} waiting={len(self._waiters)}>"
