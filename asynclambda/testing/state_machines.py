"""Hypothesis state machines that hold the real runtime against a reference model.

:class:`AsyncInvocationMachine` drives a real :class:`~asynclambda.Runtime` (virtual clock) and
:class:`~asynclambda.testing.retry_model.RetryPolicyModel` with the same event invokes, handler
outcomes (success, error, timeout, ``Retry``), reserved concurrency 0 and clock advances, and checks after
every step that they agree on: each event's invocations (times and attempt numbers), the
destination records (condition, invoke count, payload, timestamp), the dead-letter messages, and
the statistics; at the end, that every accepted event ended in exactly one of success, the
failure path or a counted drop. Use it in a test module::

    from asynclambda.testing.state_machines import AsyncInvocationMachine

    TestAsyncInvocation = AsyncInvocationMachine.TestCase
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from asynclambda.clock import VirtualClock
from asynclambda.destinations import RecordingDestination
from asynclambda.runtime import Runtime
from asynclambda.signals import Retry
from asynclambda.testing.driver import RuntimeDriver
from asynclambda.testing.retry_model import ModelOutcome, RetryPolicyModel

__all__ = ["AsyncInvocationMachine"]

_OUTCOMES: tuple[ModelOutcome, ...] = ("ok", "error", "timeout", "retry")
_TIMEOUT = 1.0
_RETRY_DELAY = 7.0


class AsyncInvocationMachine(RuleBasedStateMachine):
    """Real runtime vs. reference model of the asynchronous retry policy."""

    def __init__(self) -> None:
        super().__init__()
        self.driver: RuntimeDriver | None = None
        self.model: RetryPolicyModel | None = None
        self.schedules: dict[int, tuple[ModelOutcome, ...]] = {}
        self.seen: dict[int, list[tuple[float, int]]] = {}
        self.next_id = 0

    @initialize(max_retries=st.integers(0, 2),
                max_age=st.sampled_from([60, 90, 200, 600, 21_600]),
                on_success=st.booleans(), on_failure=st.booleans(), dlq=st.booleans())
    def start(self, max_retries: int, max_age: int, on_success: bool, on_failure: bool,
              dlq: bool) -> None:
        self.clock = VirtualClock()
        self.successes = RecordingDestination("success") if on_success else None
        self.failures = RecordingDestination("failure") if on_failure else None
        self.dead_letters = RecordingDestination("dlq") if dlq else None
        self.model = RetryPolicyModel(max_retries=max_retries, max_age=max_age,
                                      timeout=_TIMEOUT, retry_delay=_RETRY_DELAY,
                                      failure_path=on_failure or dlq)

        def make() -> Runtime:
            rt = Runtime(clock=self.clock)
            rt.add_function("fn", self._handler, timeout=_TIMEOUT,
                            maximum_retry_attempts=max_retries, maximum_event_age=max_age,
                            on_success=self.successes, on_failure=self.failures,
                            dead_letter_queue=self.dead_letters)
            return rt

        self.driver = RuntimeDriver(make)

    async def _handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        event_id = event["id"]
        self.seen.setdefault(event_id, []).append((self.clock.now(), context.attempt))
        schedule = self.schedules[event_id]
        outcome = schedule[context.attempt - 1] if context.attempt <= len(schedule) else "ok"
        if outcome == "error":
            raise ValueError(f"event {event_id} failed on attempt {context.attempt}")
        if outcome == "timeout":
            await self.clock.sleep(_TIMEOUT * 10)
        if outcome == "retry":
            raise Retry(delay=_RETRY_DELAY)
        return {"id": event_id, "attempt": context.attempt}

    # -- rules ----------------------------------------------------------------------------------
    @rule(schedule=st.lists(st.sampled_from(_OUTCOMES), max_size=4).map(tuple))
    def invoke(self, schedule: tuple[ModelOutcome, ...]) -> None:
        assert self.driver is not None
        assert self.model is not None
        event_id = self.next_id
        self.next_id += 1
        self.schedules[event_id] = schedule
        result = self.driver.run(
            lambda rt: rt.invoke("fn", {"id": event_id}, invocation_type="Event"))
        assert result.status_code == 202
        # Due at once: let the runtime run it now (no time passes), as the model does.
        now = self.clock.now()
        self.driver.run(lambda rt: self.clock.advance_to(now))
        self.model.invoke(event_id, now, schedule)
        self.model.advance(now)

    @rule(seconds=st.sampled_from([0.5, 1.0, 5.0, 7.0, 30.0, 59.0, 60.0, 61.0, 120.0, 121.0,
                                   300.0, 1000.0, 3600.0]))
    def advance(self, seconds: float) -> None:
        assert self.driver is not None
        assert self.model is not None
        target = self.clock.now() + seconds
        self.driver.run(lambda rt: self.clock.advance_to(target))
        self.model.advance(target)

    @rule()
    def toggle_reserved_concurrency_zero(self) -> None:
        """Reserved concurrency 0 throttles every invocation until it is lifted again; Lambda
        sends asynchronous events that meet it straight to the failure path, without retries."""
        assert self.driver is not None
        assert self.model is not None
        self.model.disabled = not self.model.disabled
        reserved = 0 if self.model.disabled else None

        async def apply(rt: Runtime) -> None:
            rt.put_function_concurrency("fn", reserved)

        self.driver.run(apply)

    @precondition(lambda self: self.model is not None and self.model.next_due() is not None)
    @rule()
    def advance_to_next_due(self) -> None:
        assert self.driver is not None
        assert self.model is not None
        due = self.model.next_due()
        assert due is not None
        self.driver.run(lambda rt: self.clock.advance_to(max(due, self.clock.now())))
        self.model.advance(max(due, self.clock.now()))

    # -- agreement ------------------------------------------------------------------------------
    @invariant()
    def agree(self) -> None:
        if self.driver is None or self.model is None:
            return
        model = self.model
        for event_id, event in model.events.items():
            assert self.seen.get(event_id, []) == event.invocations, (
                f"event {event_id}: runtime invoked at {self.seen.get(event_id, [])}, "
                f"model expects {event.invocations}")
        expected_success = sorted((r.event_id, r.invoke_count, round(r.at, 3))
                                  for r in model.records if r.condition == "Success")
        expected_failure = sorted((r.event_id, r.condition, r.invoke_count, round(r.at, 3))
                                  for r in model.records if r.condition != "Success")
        if self.successes is not None:
            got = sorted((r["requestPayload"]["id"], r["requestContext"]["approximateInvokeCount"],
                          _seconds(r["timestamp"], self.clock)) for r in self.successes.records)
            assert got == expected_success
            for r in self.successes.records:
                assert r["requestContext"]["condition"] == "Success"
        if self.failures is not None:
            got_f = sorted((r["requestPayload"]["id"], r["requestContext"]["condition"],
                            r["requestContext"]["approximateInvokeCount"],
                            _seconds(r["timestamp"], self.clock))
                           for r in self.failures.records)
            assert got_f == expected_failure
        if self.dead_letters is not None:
            got_d = sorted(r["body"]["id"] for r in self.dead_letters.records)
            assert got_d == sorted(r[0] for r in expected_failure)
            for r in self.dead_letters.records:
                assert set(r["messageAttributes"]) == {"RequestID", "ErrorCode", "ErrorMessage"}
        stats = self.driver.runtime.statistics().functions["fn"].async_invocations
        assert stats.received == len(model.events)
        assert stats.succeeded == model.count("succeeded")
        assert stats.failed == model.count("failed")
        assert stats.dropped == model.count("dropped")
        assert stats.retries == model.retries
        assert stats.throttle_retries == model.throttle_retries
        assert stats.queued + stats.in_flight == model.count("queued")

    def teardown(self) -> None:
        if self.driver is None or self.model is None:
            return
        model = self.model
        try:
            if model.disabled:
                self.toggle_reserved_concurrency_zero()
            # Run everything to its end: every accepted event ends exactly once.
            while (due := model.next_due()) is not None:
                target = max(due, self.clock.now())
                self.driver.run(lambda rt, t=target: self.clock.advance_to(t))  # type: ignore[misc]
                model.advance(target)
            self.agree()
            stats = self.driver.runtime.statistics().functions["fn"].async_invocations
            assert stats.succeeded + stats.failed + stats.dropped == stats.received
            assert stats.queued == 0
            assert stats.in_flight == 0
            ends = [r.event_id for r in model.records]
            assert sorted(ends) == sorted(model.events), "an event ended twice or never"
        finally:
            self.driver.close()


def _seconds(timestamp: str, clock: VirtualClock) -> float:
    """A record's ISO timestamp as a virtual-clock reading (``now()`` seconds)."""
    import datetime as dt

    parsed = dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return round(parsed.timestamp() - (clock.time() - clock.now()), 3)
