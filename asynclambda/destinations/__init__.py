"""Destinations: where outcomes go (on-success / on-failure records, dead-letter messages).

A destination is anything with ``async def deliver(record) -> None`` (:class:`Destination`). The
kinds that ship here:

* :class:`CallableDestination`: a plain async (or sync) callable you pass in.
* :class:`RecordingDestination`: keeps every record in a list (tests, demos).
* :class:`QueueDestination`: sends the record as a JSON message to a queue of a
  :class:`~asynclambda.sources.queue.QueueBackend` (in-memory or broker-backed).
* :class:`FunctionDestination`: invokes another function asynchronously with the record.

:func:`as_destination` turns what a user configures (one of the above, a callable, or a string
``"function:NAME"`` / a function ARN) into a destination, failing at registration time, not at
failure time, when the target is unknown.
"""

from __future__ import annotations

from .base import (
    CallableDestination,
    Destination,
    FunctionDestination,
    QueueDestination,
    RecordingDestination,
    as_destination,
)

__all__ = [
    "CallableDestination",
    "Destination",
    "FunctionDestination",
    "QueueDestination",
    "RecordingDestination",
    "as_destination",
]
