"""The per-shard state of a stream mapping: records in flight, lanes, wake-up signals.

Private to :mod:`asynclambda.sources.stream_mapping`; kept apart so that module reads as the
algorithm (reading, batching, retrying, checkpointing) and this one as its data.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

import anyio

from asynclambda.sources.stream import StreamRecord

if TYPE_CHECKING:
    from asynclambda.types import Clock

__all__ = ["Final", "Lane", "Rec", "Shard", "Signal"]


class Rec:
    """A record read from a shard, until it is done (processed, filtered out or discarded)."""

    __slots__ = ("arn", "done", "invokes", "raw", "record", "window")

    def __init__(self, record: StreamRecord, raw: bytes, arn: str) -> None:
        self.record = record
        self.raw = raw
        self.arn = arn
        self.done = False
        self.window = 0.0
        self.invokes = 0  # invocations that included this record (approximateInvokeCount)


class Signal:
    """A level-triggered wake-up: waiters re-check their conditions after every wake."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, clock: Clock, deadline: float | None = None) -> None:
        event = self._event
        timer = clock.call_at(deadline, event.set) if deadline is not None else None
        try:
            await event.wait()
        finally:
            if timer is not None:
                timer.cancel()
            event.clear()


class Lane:
    __slots__ = ("index", "queue", "signal", "since", "state", "window")

    def __init__(self, index: int) -> None:
        self.index = index
        self.queue: deque[Rec] = deque()
        self.signal = Signal()
        self.since = 0.0  # clock.now() when the oldest waiting record arrived in the lane
        self.window: tuple[float, float] | None = None  # the open tumbling window
        self.state: dict[str, Any] = {}


class Shard:
    __slots__ = ("arn", "caught_up_at", "checkpoint", "id", "iterator", "kick", "lanes",
                 "last_read", "lock", "outstanding", "space")

    def __init__(self, shard_id: str, iterator: str, checkpoint: str | None, lanes: int,
                 arn: str) -> None:
        self.id = shard_id
        self.iterator = iterator
        self.checkpoint = checkpoint
        self.last_read: str | None = None
        self.outstanding: deque[Rec] = deque()
        self.lanes = [Lane(i) for i in range(lanes)]
        self.space = Signal()
        self.caught_up_at = float("-inf")
        self.kick: anyio.CancelScope | None = None
        self.lock = asyncio.Lock()
        self.arn = arn


class Final:
    """Marks a tumbling window's final invocation in a lane's batch sequence."""

    __slots__ = ("early",)

    def __init__(self, early: bool = False) -> None:
        self.early = early
