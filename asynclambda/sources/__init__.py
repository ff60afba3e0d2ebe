"""Event sources (queues, streams, schedules) and the event source mappings that poll them.

Backends hold the data (:mod:`~asynclambda.sources.queue`, :mod:`~asynclambda.sources.stream`,
with in-memory implementations); *mappings* are the pollers between a source and a function,
runtime components with Lambda's options and defaults; a :class:`Schedule` invokes a function on
time. ::

    from asynclambda.sources import MemoryQueueBackend, QueueConfig, QueueEventSourceMapping

    queues = MemoryQueueBackend(clock=rt.clock)
    await queues.create_queue(QueueConfig("jobs"))
    QueueEventSourceMapping(rt, function_name="worker", queue="jobs", backend=queues)
"""

from __future__ import annotations

from .batch_response import BatchOutcome, read_batch_response
from .checkpoints import CheckpointStore, MemoryCheckpointStore
from .filters import FilterCriteria
from .keyed import Hold, KeyedLimiter, KeyedStatistics, lane_for
from .mapping import EventSourceMapping, MappingStatistics
from .memory_queue import MemoryQueueBackend
from .memory_stream import MemoryStreamBackend
from .memory_table import MemoryTable
from .queue import QueueBackend, QueueConfig, RedrivePolicy
from .queue_mapping import QueueEventSourceMapping, QueueMappingConfig, sqs_record
from .schedule import (
    MemoryScheduleStore,
    RetryPolicy,
    Schedule,
    ScheduleConfig,
    ScheduleRecord,
    ScheduleStatistics,
    ScheduleStore,
)
from .stream import StreamBackend, StreamConfig
from .stream_mapping import StreamEventSourceMapping, StreamMappingConfig

__all__ = [
    "BatchOutcome",
    "CheckpointStore",
    "EventSourceMapping",
    "FilterCriteria",
    "Hold",
    "KeyedLimiter",
    "KeyedStatistics",
    "MappingStatistics",
    "MemoryCheckpointStore",
    "MemoryQueueBackend",
    "MemoryScheduleStore",
    "MemoryStreamBackend",
    "MemoryTable",
    "QueueBackend",
    "QueueConfig",
    "QueueEventSourceMapping",
    "QueueMappingConfig",
    "RedrivePolicy",
    "RetryPolicy",
    "Schedule",
    "ScheduleConfig",
    "ScheduleRecord",
    "ScheduleStatistics",
    "ScheduleStore",
    "StreamBackend",
    "StreamConfig",
    "StreamEventSourceMapping",
    "StreamMappingConfig",
    "lane_for",
    "read_batch_response",
    "sqs_record",
]
