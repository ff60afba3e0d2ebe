"""Pure decisions of the asynchronous invocation policy: no I/O, no clock, just arithmetic.

Lambda's rules for asynchronous invocation: a function error (timeouts included) is retried
``maximum_retry_attempts`` times (0-2), one minute before the first retry and two minutes before
the second; throttles and system errors are retried with exponential backoff from 1 s up to
5 minutes, without using up attempts, until the event is ``maximum_event_age`` old. An event whose
age reaches the maximum is not invoked again (``EventAgeExceeded``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FUNCTION_ERROR_DELAYS",
    "THROTTLE_BACKOFF_MAX",
    "Decision",
    "after_function_error",
    "after_throttle",
    "age_exceeded",
    "throttle_delay",
]

#: Seconds Lambda waits before the first and the second retry of a function error.
FUNCTION_ERROR_DELAYS = (60.0, 120.0)
#: Throttle / system-error backoff: 1 s doubling up to 5 minutes.
THROTTLE_BACKOFF_START = 1.0
THROTTLE_BACKOFF_MAX = 300.0


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do next with an event: retry at ``at`` (wall seconds), or stop with ``condition``."""

    action: Literal["retry", "stop"]
    at: float = 0.0
    condition: Literal["", "RetriesExhausted", "EventAgeExceeded"] = ""


def age_exceeded(enqueued_at: float, now: float, maximum_event_age: float) -> bool:
    """True once the event is ``maximum_event_age`` seconds old or older."""
    return now - enqueued_at >= maximum_event_age


def after_function_error(*, attempts: int, maximum_retry_attempts: int, enqueued_at: float,
                         now: float, maximum_event_age: float,
                         requested_delay: float | None = None) -> Decision:
    """After ``attempts`` invocations that all failed: retry (when) or stop (why).

    ``requested_delay`` is a handler's ``Retry(delay=...)``; it replaces the policy's delay but
    not its bounds. A retry that would fall after the event's expiry is scheduled *at* the expiry,
    where the event is found too old (``EventAgeExceeded``), as Lambda reports it.
    """
    if attempts > maximum_retry_attempts:
        return Decision("stop", condition="RetriesExhausted")
    if age_exceeded(enqueued_at, now, maximum_event_age):
        return Decision("stop", condition="EventAgeExceeded")
    if requested_delay is not None:
        delay = requested_delay
    else:
        delay = FUNCTION_ERROR_DELAYS[min(attempts, len(FUNCTION_ERROR_DELAYS)) - 1]
    return Decision("retry", at=min(now + delay, enqueued_at + maximum_event_age))


def throttle_delay(throttles: int) -> float:
    """Backoff before retrying after the ``throttles``-th throttle (1, 2, 4 ... 300 s)."""
    if throttles < 1:
        return THROTTLE_BACKOFF_START
    return min(THROTTLE_BACKOFF_START * 2.0 ** (throttles - 1), THROTTLE_BACKOFF_MAX)


def after_throttle(*, throttles: int, enqueued_at: float, now: float,
                   maximum_event_age: float) -> Decision:
    """After the ``throttles``-th throttle or system error: retry with backoff, until too old."""
    if age_exceeded(enqueued_at, now, maximum_event_age):
        return Decision("stop", condition="EventAgeExceeded")
    return Decision("retry", at=min(now + throttle_delay(throttles),
                                    enqueued_at + maximum_event_age))
