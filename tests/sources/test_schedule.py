"""Schedules: exact fire instants (DST included) on virtual time, flexible windows, retries and
the dead-letter queue, overlap and catch-up policies, the event shapes, bad input."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mapping_helpers import run

import asynclambda as al
from asynclambda.destinations import QueueDestination, RecordingDestination
from asynclambda.events import ScheduledEvent
from asynclambda.sources import (
    MemoryQueueBackend,
    MemoryScheduleStore,
    QueueConfig,
    RetryPolicy,
    Schedule,
)
from asynclambda.sources.schedule_expr import parse_schedule

pytestmark = pytest.mark.anyio

UTC = dt.UTC


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def make(start: str = "2026-01-01T00:00:00+00:00") -> tuple[al.Runtime, al.VirtualClock,
                                                             list[tuple[float, Any]]]:
    clock = al.VirtualClock(epoch=at(start))
    rt = al.Runtime(clock=clock)
    calls: list[tuple[float, Any]] = []

    @rt.function
    async def job(event: Any, context: al.LambdaContext) -> dict[str, Any]:
        calls.append((clock.time(), event))
        return {}

    return rt, clock, calls


@pytest.mark.parametrize(("expression", "zone", "start", "hours", "expected"), [
    # Spring forward in New York (2026-03-08 02:00 -> 03:00): 02:30 does not exist that day.
    ("cron(30 2 * * ? *)", "America/New_York", "2026-03-07T00:00:00+00:00", 72,
     ["2026-03-07T07:30:00+00:00", "2026-03-09T06:30:00+00:00"]),
    # Fall back (2026-11-01 02:00 -> 01:00): 01:30 happens twice and fires once, the first time.
    ("cron(30 1 * * ? *)", "America/New_York", "2026-10-31T12:00:00+00:00", 48,
     ["2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"]),
    # Quarter-hourly across the fall-back hour: 01:45 EDT, then 01:00 EST is skipped (repeated).
    ("cron(0/15 1 1 11 ? 2026)", "America/New_York", "2026-11-01T04:00:00+00:00", 4,
     ["2026-11-01T05:00:00+00:00", "2026-11-01T05:15:00+00:00", "2026-11-01T05:30:00+00:00",
      "2026-11-01T05:45:00+00:00"]),
    # Rates are absolute: 24-hour days, DST or not.
    ("rate(1 day)", "Europe/Berlin", "2026-03-28T12:00:00+00:00", 49,
     ["2026-03-28T12:00:00+00:00", "2026-03-29T12:00:00+00:00", "2026-03-30T12:00:00+00:00"]),
    ("at(2026-03-29T02:30:00)", "Europe/Berlin", "2026-03-28T00:00:00+00:00", 48,
     ["2026-03-29T01:30:00+00:00"]),
])
async def test_fires_at_the_exact_instants_across_dst(expression: str, zone: str, start: str,
                                                      hours: int, expected: list[str]) -> None:
    rt, clock, calls = make(start)
    schedule = Schedule(rt, name="s", expression=expression, function_name="job", timezone=zone)
    async with rt:
        await clock.advance(hours * 3600)
        if expression.startswith("at("):
            assert schedule.state == "Completed"
    assert [t for t, _ in calls] == [at(e) for e in expected]


@given(
    minutes=st.sets(st.sampled_from([0, 15, 30, 45]), min_size=1),
    hours=st.sets(st.integers(0, 4), min_size=1, max_size=3),
    zone=st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Sydney", "UTC"]),
    day=st.sampled_from(["2026-03-07", "2026-03-28", "2026-04-04", "2026-10-24", "2026-10-31"]),
)
def test_cron_fires_match_the_expression_on_virtual_time(minutes: set[int], hours: set[int],
                                                         zone: str, day: str) -> None:
    expression = (f"cron({','.join(map(str, sorted(minutes)))} "
                  f"{','.join(map(str, sorted(hours)))} * * ? *)")
    start = dt.datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone))

    async def body() -> None:
        rt, clock, calls = make(start.astimezone(UTC).isoformat())
        Schedule(rt, name="p", expression=expression, function_name="job", timezone=zone)
        async with rt:
            await clock.advance(3 * 86_400)
        expected = parse_schedule(expression, timezone=zone).fires_between(
            start, start.astimezone(UTC) + dt.timedelta(days=3))
        assert [t for t, _ in calls] == [f.timestamp() for f in expected]

    run(body)


async def test_rate_with_start_fires_on_its_grid_and_stops_at_end() -> None:
    rt, clock, calls = make()
    Schedule(rt, name="r", expression="rate(10 minutes)", function_name="job",
             start=dt.datetime(2025, 12, 31, 23, 55, tzinfo=UTC),
             end=dt.datetime(2026, 1, 1, 0, 30, tzinfo=UTC))
    async with rt:
        await clock.advance(3600)
    assert [t - clock.time() + 3600 for t, _ in calls] == [300.0, 900.0, 1500.0]


async def test_input_and_context_attributes() -> None:
    rt, clock, calls = make()
    schedule = Schedule(
        rt, name="ctx", expression="rate(1 hour)", function_name="job",
        input='{"arn": "<aws.scheduler.schedule-arn>", "at": "<aws.scheduler.scheduled-time>",'
              ' "try": "<aws.scheduler.attempt-number>", "id": "<aws.scheduler.execution-id>"}')
    async with rt:
        await clock.advance(1)
    (_, event), = calls
    assert event["arn"] == schedule.arn() == \
        "arn:aws:scheduler:us-east-1:000000000000:schedule/default/ctx"
    assert event["at"] == "2026-01-01T00:00:00Z"
    assert event["try"] == "1"
    assert len(event["id"]) == 36


async def test_classic_scheduled_event_shape() -> None:
    rt, clock, calls = make()
    Schedule(rt, name="nightly", expression="cron(0 * * * ? *)", function_name="job",
             event_format="scheduled_event")
    async with rt:
        await clock.advance(3600)
    (_, event), = calls
    typed = msgspec.convert(event, ScheduledEvent)
    assert typed.detail_type == "Scheduled Event" and typed.source == "aws.events"
    assert event["time"] == "2026-01-01T01:00:00Z"
    assert event["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/nightly"]
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region",
                          "resources", "detail"}


async def test_flexible_window_delays_within_the_window_reproducibly() -> None:
    times = []
    for _ in range(2):
        rt, clock, calls = make()
        Schedule(rt, name="flex", expression="cron(0 * * * ? *)", function_name="job",
                 flexible_window=15, rng=random.Random(7))
        async with rt:
            await clock.advance(5 * 3600 + 15 * 60)
        times.append([t for t, _ in calls])
    assert times[0] == times[1] and len(times[0]) == 5
    base = at("2026-01-01T00:00:00+00:00")
    for hour, t in enumerate(times[0], start=1):
        assert 0 <= t - (base + hour * 3600) < 15 * 60


async def test_retries_then_dead_letter_queue_with_schedulers_attributes() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    attempts: list[float] = []

    @rt.function
    async def flaky(event: Any, context: al.LambdaContext) -> None:
        attempts.append(clock.now())
        raise ConnectionError("downstream is down")

    queues = MemoryQueueBackend(clock=clock)
    await queues.create_queue(QueueConfig("schedule-dlq"))
    schedule = Schedule(rt, name="flaky", expression="at(2026-01-01T00:10:00)",
                        function_name="flaky", input={"job": 1},
                        retry_policy=RetryPolicy(maximum_retry_attempts=3),
                        dead_letter=QueueDestination(queues, "schedule-dlq"),
                        # Waiting for the function makes its error the scheduler's to retry.
                        invocation_type="RequestResponse")
    async with rt:
        await clock.advance(3600)
        (message,) = await queues.receive("schedule-dlq")
    assert len(attempts) == 4
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert all(0.5 * 2**i <= g <= 2**i for i, g in enumerate(gaps))  # jittered exponential
    assert json.loads(message.body) == {"job": 1}
    attributes = {k: v.string_value for k, v in message.message_attributes.items()}
    assert attributes["ERROR_CODE"] == "ConnectionError"
    assert attributes["ERROR_MESSAGE"] == "downstream is down"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "3"
    assert attributes["SCHEDULED_TIME"] == "2026-01-01T00:10:00Z"
    assert attributes["SCHEDULE_ARN"] == schedule.arn()
    assert attributes["TARGET_ARN"] == "arn:aws:lambda:us-east-1:000000000000:function:flaky"
    assert set(attributes) == {"ERROR_CODE", "ERROR_MESSAGE", "EXECUTION_ID",
                               "EXHAUSTED_RETRY_CONDITION", "IS_PAYLOAD_TRUNCATED",
                               "RETRY_ATTEMPTS", "SCHEDULED_TIME", "SCHEDULE_ARN", "TARGET_ARN"}
    stats = schedule.statistics()
    assert (stats.invocations, stats.retries, stats.dead_lettered, stats.failed) == (4, 3, 1, 1)


async def test_maximum_event_age_ends_retries_and_no_dlq_means_dropped() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)

    @rt.function(reserved_concurrency=0)
    async def throttled(event: Any, context: al.LambdaContext) -> None: ...

    recording = RecordingDestination()
    kept = Schedule(rt, name="kept", expression="at(2026-01-01T00:00:01)",
                    function_name="throttled", dead_letter=recording,
                    retry_policy=RetryPolicy(maximum_event_age=60),
                    invocation_type="RequestResponse")
    dropped = Schedule(rt, name="dropped", expression="at(2026-01-01T00:00:01)",
                       function_name="throttled", retry_policy=RetryPolicy(maximum_event_age=60),
                       invocation_type="RequestResponse")
    async with rt:
        await clock.advance(3600)
    (record,) = recording.records
    assert record["attributes"]["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert record["attributes"]["ERROR_CODE"] == "TooManyRequestsException"
    assert record["body"] == {}
    assert dropped.statistics().dropped == 1
    assert kept.statistics().invocations == 0  # throttles never reached the function


async def test_schedules_invoke_asynchronously_by_default_as_eventbridge_scheduler_does() -> None:
    # AWS: EventBridge Scheduler invokes Lambda with InvocationType=Event, so a function error is
    # retried by the function's asynchronous policy (2 retries), not by the scheduler's 185.
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    attempts: list[int] = []
    failures = RecordingDestination()

    @rt.function(on_failure=failures)
    async def flaky(event: Any, context: al.LambdaContext) -> None:
        attempts.append(context.attempt)
        raise ConnectionError("downstream is down")

    schedule = Schedule(rt, name="async", expression="at(2026-01-01T00:10:00)",
                        function_name="flaky")
    assert schedule.config.invocation_type == "Event"
    async with rt:
        await clock.advance(3600)
        await rt.wait_idle()
    assert attempts == [1, 2, 3]
    stats = schedule.statistics()
    assert (stats.invocations, stats.succeeded, stats.retries, stats.failed) == (1, 1, 0, 0)
    (record,) = failures.records
    assert record["requestContext"]["condition"] == "RetriesExhausted"


@pytest.mark.parametrize(("overlap", "expected_calls", "skipped", "buffered"), [
    ("allow", 6, 0, 0),
    ("skip", 2, 4, 0),  # 0 runs to 250; 60..240 skipped; 300 runs
    ("buffer_one", 2, 3, 2),  # 60 waits for 0 and runs at 250; 120..240 skipped; 300 waits
])
async def test_overlap_policies(overlap: str, expected_calls: int, skipped: int,
                                buffered: int) -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    starts: list[float] = []

    @rt.function(timeout=900)
    async def slow(event: Any, context: al.LambdaContext) -> None:
        starts.append(clock.now())
        await clock.sleep(250)  # longer than the 1-minute period

    # Overlap sees the invocation itself in flight only when the schedule waits for it.
    schedule = Schedule(rt, name="o", expression="rate(1 minute)", function_name="slow",
                        overlap=overlap,  # type: ignore[arg-type]
                        invocation_type="RequestResponse")
    async with rt:
        await clock.advance(330)
        stats = schedule.statistics()
        assert len(starts) == expected_calls
        await schedule.disable()
        await clock.advance(600)  # let the invocations in flight finish
    assert stats.fires == 6
    assert (stats.skipped, stats.buffered) == (skipped, buffered)
    # A fire still waiting when the schedule stopped is given up and counted, never lost.
    assert schedule.statistics().abandoned == (1 if overlap == "buffer_one" else 0)


@pytest.mark.parametrize(("policy", "replayed"), [("none", 0), ("latest", 1), ("all", 3)])
async def test_catch_up_of_fires_missed_while_stopped(policy: str, replayed: int) -> None:
    store = MemoryScheduleStore()
    clock = al.VirtualClock()
    seen: list[str] = []
    for round_ in range(2):
        rt = al.Runtime(clock=clock)

        @rt.function
        async def job(event: dict[str, Any], context: al.LambdaContext) -> None:
            seen.append(event["time"])

        schedule = Schedule(rt, name="hourly", expression="cron(0 * * * ? *)",
                            function_name="job", store=store, event_format="scheduled_event",
                            catch_up=policy)  # type: ignore[arg-type]
        async with rt:
            await clock.advance(3600 * (1 if round_ else 2) + 1)
        if not round_:
            assert seen == ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"]
            await clock.advance(3 * 3600)  # stopped: fires at 03:00, 04:00, 05:00 are missed
    assert len(seen) == 2 + replayed + 1
    assert seen[-1] == "2026-01-01T06:00:00Z"
    assert schedule.statistics().caught_up == replayed
    if policy == "latest":
        assert seen[2] == "2026-01-01T05:00:00Z"


async def test_a_rate_without_start_keeps_its_phase_across_restarts() -> None:
    store = MemoryScheduleStore()
    clock = al.VirtualClock()
    fired: list[float] = []
    for _ in range(2):
        rt = al.Runtime(clock=clock)

        @rt.function
        async def job(event: Any, context: al.LambdaContext) -> None:
            fired.append(clock.now())

        Schedule(rt, name="r", expression="rate(7 minutes)", function_name="job", store=store)
        async with rt:
            await clock.advance(900)
        await clock.advance(100)
    assert fired == [0.0, 420.0, 840.0, 1260.0, 1680.0]


async def test_disable_enable_update() -> None:
    rt, clock, calls = make()
    schedule = Schedule(rt, name="u", expression="cron(0 * * * ? *)", function_name="job")
    async with rt:
        await clock.advance(3600)
        await schedule.disable()
        assert schedule.state == "DISABLED"
        await clock.advance(3600)
        await schedule.enable()
        await schedule.update(expression="cron(30 * * * ? *)")
        with pytest.raises(al.ConfigError) as info:
            await schedule.update(expression="cron(61 * * * ? *)")
        assert info.value.field == "schedule.cron.minutes"
        await clock.advance(3600)
    assert [dt.datetime.fromtimestamp(t, UTC).strftime("%H:%M") for t, _ in calls] == \
        ["01:00", "02:30"]
    assert schedule.state == "Deleted"


@pytest.mark.parametrize(("options", "field"), [
    ({"expression": "cron(0 12 * * 8 *)"}, "schedule.cron.day-of-week"),
    ({"expression": "cron(0 12 ? * ? *)"}, "schedule.cron.day-of-month"),
    ({"expression": "cron(60 * * * ? *)"}, "schedule.cron.minutes"),
    ({"expression": "rate(0 minutes)"}, "schedule.rate.value"),
    ({"expression": "rate(1 minutes)"}, "schedule.rate.unit"),
    ({"expression": "rate(5 weeks)"}, "schedule.rate.unit"),
    ({"expression": "at(2026-13-01T00:00:00)"}, "schedule.at"),
    ({"expression": "every day"}, "schedule_expression"),
    ({"timezone": "Mars/Olympus"}, "schedule.timezone"),
    ({"flexible_window": 0}, "flexible_window"),
    ({"flexible_window": 1441}, "flexible_window"),
    ({"retry_policy": RetryPolicy}, "retry_policy"),
    ({"overlap": "queue"}, "overlap"),
    ({"catch_up": "some"}, "catch_up"),
    ({"event_format": "cloudevents"}, "event_format"),
    ({"input": "{not json"}, "input"),
    ({"input": object()}, "input"),
    ({"name": "has space"}, "name"),
    ({"start": dt.datetime(2026, 1, 1)}, "start"),
    ({"dead_letter": 5}, "dead_letter"),
    ({"enabled": "yes"}, "enabled"),
    ({"priority": 1}, "priority"),
])
async def test_bad_schedule_options_name_the_field(options: dict[str, Any], field: str) -> None:
    kwargs: dict[str, Any] = {"name": "s", "expression": "rate(1 hour)", **options}
    with pytest.raises(al.ConfigError) as info:
        Schedule(function_name="job", **kwargs)
    assert info.value.field.startswith(field), info.value


@pytest.mark.parametrize(("options", "field", "value"), [
    ({"maximum_retry_attempts": 186}, "retry_policy.maximum_retry_attempts", 186),
    ({"maximum_retry_attempts": -1}, "retry_policy.maximum_retry_attempts", -1),
    ({"maximum_event_age": 59}, "retry_policy.maximum_event_age", 59),
    ({"maximum_event_age": 86_401}, "retry_policy.maximum_event_age", 86_401),
])
def test_retry_policy_ranges(options: dict[str, Any], field: str, value: Any) -> None:
    with pytest.raises(al.ConfigError) as info:
        RetryPolicy(**options)
    assert (info.value.field, info.value.value) == (field, value)
    assert RetryPolicy() == RetryPolicy(185, 86_400)


async def test_unknown_target_function_fails_at_start() -> None:
    rt = al.Runtime(clock=al.VirtualClock())
    Schedule(rt, name="s", expression="rate(1 hour)", function_name="missing")
    with pytest.raises(al.ConfigError, match="function_name='missing'"):
        await rt.start()
