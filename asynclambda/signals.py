"""Control signals a handler raises to instruct the runtime (not errors; named for the instruction).

``Retry`` is an asynclambda extension: in an asynchronous (``Event``) invocation, ``raise
Retry(delay=30)`` fails this attempt and asks for the next one sooner or later than Lambda's
policy would (1 minute, then 2 minutes), still bounded by ``maximum_retry_attempts`` and
``maximum_event_age``. In a synchronous invocation it is an ordinary function error.
"""

from __future__ import annotations

import math

__all__ = ["Retry"]


class Retry(Exception):
    """Fail this attempt and retry after ``delay`` seconds (``None``: the policy's delay)."""

    def __init__(self, delay: float | None = None, reason: str = "") -> None:
        if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float)
                                  or not math.isfinite(delay) or delay < 0):
            raise ValueError(f"invalid Retry(delay={delay!r}): must be seconds >= 0 or None")
        self.delay = None if delay is None else float(delay)
        self.reason = reason
        super().__init__(reason or (f"retry requested in {delay:g} s" if delay is not None
                                    else "retry requested"))
