"""A small, independent reference model of Lambda's asynchronous invocation policy.

It is written from Lambda's documented retry rules, not from the runtime's code, so the state machine in
:mod:`asynclambda.testing.state_machines` can hold the two against each other: the same invokes,
outcomes and clock advances must give the same invocations, records and counts.

Rules modelled: function errors (timeouts included) retried after 60 s then 120 s, up to
``max_retries``; a handler's ``Retry(delay)`` replaces that delay; throttles retried after
1, 2, 4 ... 300 s without using attempts; while the function's reserved concurrency is 0
(``disabled``) an event goes straight to the failure path (``RetriesExhausted``) at its next
attempt, without retries, as on Lambda; an event is never invoked again once it is ``max_age``
old, and a retry that would fall later is due at the expiry; at the end: success, the failure
path (when an on-failure destination or a dead-letter queue exists), or a drop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ModelEvent", "ModelOutcome", "ModelRecord", "RetryPolicyModel"]

ModelOutcome = Literal["ok", "error", "timeout", "retry"]


@dataclass
class ModelRecord:
    """What the model expects a destination to receive."""

    event_id: int
    condition: str
    invoke_count: int
    at: float


@dataclass
class ModelEvent:
    event_id: int
    enqueued: float
    schedule: tuple[ModelOutcome, ...]
    due: float
    seq: int
    attempts: int = 0
    throttles: int = 0
    running: bool = False
    state: Literal["queued", "succeeded", "failed", "dropped"] = "queued"
    invocations: list[tuple[float, int]] = field(default_factory=list)

    def outcome(self, attempt: int) -> ModelOutcome:
        return self.schedule[attempt - 1] if attempt <= len(self.schedule) else "ok"


@dataclass
class RetryPolicyModel:
    max_retries: int
    max_age: float
    timeout: float
    retry_delay: float
    failure_path: bool
    events: dict[int, ModelEvent] = field(default_factory=dict)
    records: list[ModelRecord] = field(default_factory=list)
    retries: int = 0
    throttle_retries: int = 0
    throttled: bool = False
    disabled: bool = False
    _seq: int = 0

    def invoke(self, event_id: int, now: float, schedule: tuple[ModelOutcome, ...]) -> None:
        self._seq += 1
        self.events[event_id] = ModelEvent(event_id, now, schedule, due=now, seq=self._seq)

    def advance(self, target: float) -> None:
        """Process every event that falls due up to ``target``, in time order."""
        while True:
            queued = [e for e in self.events.values()
                      if e.state == "queued" and e.due <= target]
            if not queued:
                return
            event = min(queued, key=lambda e: (e.due, e.seq))
            self._step(event, event.due)

    def _step(self, e: ModelEvent, now: float) -> None:
        if e.running:  # an attempt that takes time (a timeout) ends now
            e.running = False
            self._resolve(e, "timeout", now)
            return
        expiry = e.enqueued + self.max_age
        if now >= expiry:
            self._end(e, "EventAgeExceeded", now)
            return
        if self.disabled:
            self._end(e, "RetriesExhausted", now)
            return
        if self.throttled:
            e.throttles += 1
            self.throttle_retries += 1
            self._requeue(e, min(now + min(2.0 ** (e.throttles - 1), 300.0), expiry))
            return
        e.attempts += 1
        e.invocations.append((now, e.attempts))
        outcome = e.outcome(e.attempts)
        if outcome == "timeout":
            e.running = True  # in flight until the deadline
            self._requeue(e, now + self.timeout)
            return
        self._resolve(e, outcome, now)

    def _resolve(self, e: ModelEvent, outcome: ModelOutcome, end: float) -> None:
        expiry = e.enqueued + self.max_age
        if outcome == "ok":
            self._end(e, "Success", end)
            return
        if e.attempts > self.max_retries:
            self._end(e, "RetriesExhausted", end)
            return
        if end >= expiry:
            self._end(e, "EventAgeExceeded", end)
            return
        delay = self.retry_delay if outcome == "retry" else 60.0 if e.attempts == 1 else 120.0
        self.retries += 1
        self._requeue(e, min(end + delay, expiry))

    def _requeue(self, e: ModelEvent, at: float) -> None:
        self._seq += 1
        e.due = at
        e.seq = self._seq

    def _end(self, e: ModelEvent, condition: str, at: float) -> None:
        if condition == "Success":
            e.state = "succeeded"
        elif self.failure_path:
            e.state = "failed"
        else:
            e.state = "dropped"
        self.records.append(ModelRecord(e.event_id, condition, e.attempts, at))

    def count(self, state: str) -> int:
        return sum(1 for e in self.events.values() if e.state == state)

    def next_due(self) -> float | None:
        dues = [e.due for e in self.events.values() if e.state == "queued"]
        return min(dues) if dues else None
