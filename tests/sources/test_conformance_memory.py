"""The conformance suites against the in-memory backends (the reference implementations)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from asynclambda.clock import VirtualClock
from asynclambda.sources.checkpoints import CheckpointStore, MemoryCheckpointStore
from asynclambda.sources.memory_queue import MemoryQueueBackend
from asynclambda.sources.memory_stream import MemoryStreamBackend
from asynclambda.sources.queue import QueueBackend
from asynclambda.sources.stream import StreamBackend
from asynclambda.testing.conformance import (
    CheckpointStoreConformance,
    QueueBackendConformance,
    StreamBackendConformance,
)


class TestMemoryQueueBackend(QueueBackendConformance):
    def make_backend(self, clock: VirtualClock) -> AbstractAsyncContextManager[QueueBackend]:
        return MemoryQueueBackend(clock=clock)


class TestMemoryStreamBackend(StreamBackendConformance):
    def make_backend(self, clock: VirtualClock) -> AbstractAsyncContextManager[StreamBackend]:
        return MemoryStreamBackend(clock=clock)


class TestMemoryCheckpointStore(CheckpointStoreConformance):
    def make_store(self) -> AbstractAsyncContextManager[CheckpointStore]:
        return MemoryCheckpointStore()
