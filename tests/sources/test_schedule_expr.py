"""EventBridge Scheduler expressions: AWS's documented examples, every bad input, and properties.

The properties check the engine against references written here from the AWS definitions (not
from the module): a minute-by-minute scan of the wall clock in zones with DST (including Lord
Howe's 30-minute shift), the US DST calendar, and croniter for the syntax both share.
"""

from __future__ import annotations

import calendar
import functools
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from asynclambda.errors import ConfigError
from asynclambda.sources.schedule_expr import (
    AtExpression,
    CronExpression,
    RateExpression,
    ScheduleExpression,
    flexible_delay,
    parse_schedule,
)

NEW_YORK = ZoneInfo("America/New_York")
DST_ZONES = ("America/New_York", "Europe/London", "Australia/Lord_Howe")


def utc(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def fires(schedule: ScheduleExpression, after: datetime, count: int) -> list[datetime | None]:
    out: list[datetime | None] = []
    current: datetime | None = after
    for _ in range(count):
        current = schedule.next_fire(current) if current is not None else None
        out.append(current)
    return out


# ---------------------------------------------------------------------------------------------
# AWS's documented examples (EventBridge cron reference and Scheduler user guide), in UTC.
# 2024-02-10 is a Saturday.

SATURDAY_NOON = utc(2024, 2, 10, 12, 0)

AWS_EXAMPLES = [
    # 10:00 every day
    ("cron(0 10 * * ? *)", SATURDAY_NOON, [utc(2024, 2, 11, 10), utc(2024, 2, 12, 10)]),
    # 12:15 every day
    ("cron(15 12 * * ? *)", SATURDAY_NOON, [utc(2024, 2, 10, 12, 15), utc(2024, 2, 11, 12, 15)]),
    # 18:00 Monday to Friday
    ("cron(0 18 ? * MON-FRI *)", SATURDAY_NOON, [utc(2024, 2, 12, 18), utc(2024, 2, 13, 18)]),
    # 08:00 on the first day of every month
    ("cron(0 8 1 * ? *)", SATURDAY_NOON, [utc(2024, 3, 1, 8), utc(2024, 4, 1, 8)]),
    # every 15 minutes
    (
        "cron(0/15 * * * ? *)",
        SATURDAY_NOON,
        [
            utc(2024, 2, 10, 12, 15),
            utc(2024, 2, 10, 12, 30),
            utc(2024, 2, 10, 12, 45),
            utc(2024, 2, 10, 13, 0),
        ],
    ),
    # every 10 minutes Monday to Friday
    (
        "cron(0/10 * ? * MON-FRI *)",
        SATURDAY_NOON,
        [utc(2024, 2, 12, 0, 0), utc(2024, 2, 12, 0, 10)],
    ),
    # every 5 minutes Monday to Friday between 08:00 and 17:55
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        SATURDAY_NOON,
        [utc(2024, 2, 12, 8, 0), utc(2024, 2, 12, 8, 5)],
    ),
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        utc(2024, 2, 12, 17, 50),
        [utc(2024, 2, 12, 17, 55), utc(2024, 2, 13, 8, 0)],
    ),
    # 09:00 on the first Monday of every month (Mar 1 2024 is a Friday, Apr 1 a Monday)
    ("cron(0 9 ? * 2#1 *)", SATURDAY_NOON, [utc(2024, 3, 4, 9), utc(2024, 4, 1, 9)]),
    # the last day of every month (2024 is a leap year)
    ("cron(0 0 L * ? *)", SATURDAY_NOON, [utc(2024, 2, 29), utc(2024, 3, 31), utc(2024, 4, 30)]),
    # the last Friday of every month
    ("cron(0 0 ? * 6L *)", SATURDAY_NOON, [utc(2024, 2, 23), utc(2024, 3, 29), utc(2024, 4, 26)]),
    # 10:15 on the last Friday of every month in 2022-2023: the year range runs out
    ("cron(15 10 ? * 6L 2022-2023)", utc(2023, 11, 30), [utc(2023, 12, 29, 10, 15), None]),
    # the weekday nearest the 15th: Thu Feb 15, Fri Mar 15
    ("cron(0 12 15W * ? *)", SATURDAY_NOON, [utc(2024, 2, 15, 12), utc(2024, 3, 15, 12)]),
    # Sat Jun 15 -> Fri 14; Sun Sep 15 -> Mon 16
    ("cron(0 12 15W * ? *)", utc(2024, 5, 20), [utc(2024, 6, 14, 12), utc(2024, 7, 15, 12)]),
    ("cron(0 12 15W * ? *)", utc(2024, 9, 1), [utc(2024, 9, 16, 12)]),
]


@pytest.mark.parametrize(("expression", "after", "expected"), AWS_EXAMPLES)
def test_aws_examples(expression: str, after: datetime, expected: list[datetime | None]) -> None:
    assert fires(parse_schedule(expression), after, len(expected)) == expected


MORE_CRON = [
    # W never leaves the month: Sat Jun 1 -> Mon Jun 3; Sun Sep 1 -> Mon Sep 2
    ("cron(0 0 1W * ? *)", utc(2024, 5, 2), [utc(2024, 6, 3), utc(2024, 7, 1)]),
    ("cron(0 0 1W * ? *)", utc(2024, 8, 2), [utc(2024, 9, 2)]),
    # Sun Jun 30 is the last day -> Fri Jun 28
    ("cron(0 0 30W * ? *)", utc(2024, 6, 1), [utc(2024, 6, 28)]),
    # a day the month lacks never fires, W or not: no April 31st
    ("cron(0 12 31W * ? *)", utc(2024, 4, 1), [utc(2024, 5, 31, 12)]),
    ("cron(0 12 31 * ? *)", utc(2024, 4, 1), [utc(2024, 5, 31, 12), utc(2024, 7, 31, 12)]),
    # LW: the last weekday (Sun Mar 31 -> Fri 29; Sat Aug 31 -> Fri 30)
    ("cron(0 0 LW * ? *)", utc(2024, 3, 1), [utc(2024, 3, 29), utc(2024, 4, 30), utc(2024, 5, 31)]),
    ("cron(0 0 LW * ? *)", utc(2024, 8, 1), [utc(2024, 8, 30)]),
    # 1 = SUNDAY in AWS's numbering, 7 = SATURDAY
    ("cron(0 0 ? * 1 *)", SATURDAY_NOON, [utc(2024, 2, 11), utc(2024, 2, 18)]),
    ("cron(0 0 ? * 7 *)", SATURDAY_NOON, [utc(2024, 2, 17)]),
    ("cron(0 0 ? * SUN *)", SATURDAY_NOON, [utc(2024, 2, 11)]),
    ("cron(0 0 ? * 2-6 *)", SATURDAY_NOON, [utc(2024, 2, 12), utc(2024, 2, 13)]),
    # L alone in day-of-week: the last day of the week, Saturday
    ("cron(0 0 ? * L *)", SATURDAY_NOON, [utc(2024, 2, 17), utc(2024, 2, 24)]),
    # the fifth Tuesday: April 30 2024
    ("cron(0 0 ? * 3#5 *)", utc(2024, 3, 1), [utc(2024, 4, 30)]),
    ("cron(0 0 ? * TUE#5 *)", utc(2024, 3, 1), [utc(2024, 4, 30)]),
    ("cron(0 0 ? * FRIL *)", SATURDAY_NOON, [utc(2024, 2, 23)]),
    # a wrapping range, names in any case
    (
        "cron(0 0 ? * fri-mon *)",
        SATURDAY_NOON,
        [utc(2024, 2, 11), utc(2024, 2, 12), utc(2024, 2, 16), utc(2024, 2, 17)],
    ),
    (
        "cron(0 22-1 * * ? *)",
        SATURDAY_NOON,
        [
            utc(2024, 2, 10, 22),
            utc(2024, 2, 10, 23),
            utc(2024, 2, 11, 0),
            utc(2024, 2, 11, 1),
            utc(2024, 2, 11, 22),
        ],
    ),
    ("cron(0 0 1 NOV-FEB ? *)", SATURDAY_NOON, [utc(2024, 11, 1), utc(2024, 12, 1)]),
    ("cron(0 0 1 jan,Jul ? *)", SATURDAY_NOON, [utc(2024, 7, 1), utc(2025, 1, 1)]),
    # increments: a/n runs from a to the field's end; a-b/n; */n
    (
        "cron(1/10 10 * * ? *)",
        SATURDAY_NOON,
        [utc(2024, 2, 11, 10, 1), utc(2024, 2, 11, 10, 11), utc(2024, 2, 11, 10, 21)],
    ),
    (
        "cron(10-50/20 10 * * ? *)",
        SATURDAY_NOON,
        [
            utc(2024, 2, 11, 10, 10),
            utc(2024, 2, 11, 10, 30),
            utc(2024, 2, 11, 10, 50),
            utc(2024, 2, 12, 10, 10),
        ],
    ),
    ("cron(*/20 10 * * ? *)", SATURDAY_NOON, [utc(2024, 2, 11, 10, 0), utc(2024, 2, 11, 10, 20)]),
    ("cron(0 0 1/10 * ? *)", SATURDAY_NOON, [utc(2024, 2, 11), utc(2024, 2, 21), utc(2024, 3, 1)]),
    ("cron(0 0 1 1 ? 2025/5)", SATURDAY_NOON, [utc(2025, 1, 1), utc(2030, 1, 1)]),
    ("cron(0 0 1 1 ? 2030,2026)", SATURDAY_NOON, [utc(2026, 1, 1), utc(2030, 1, 1), None]),
    # leap days; a date that never exists; the last year AWS allows
    ("cron(0 0 29 2 ? *)", utc(2024, 3, 1), [utc(2028, 2, 29)]),
    ("cron(0 0 30 2 ? *)", SATURDAY_NOON, [None]),
    ("cron(59 23 31 12 ? 2199)", SATURDAY_NOON, [utc(2199, 12, 31, 23, 59), None]),
    ("cron(0 0 1 1 ? 1970-2000)", SATURDAY_NOON, [None]),
    # fields separated by any white space
    ("cron(0  10\t* * ? *)", SATURDAY_NOON, [utc(2024, 2, 11, 10)]),
]


@pytest.mark.parametrize(("expression", "after", "expected"), MORE_CRON)
def test_cron_syntax(expression: str, after: datetime, expected: list[datetime | None]) -> None:
    assert fires(parse_schedule(expression), after, len(expected)) == expected


def test_next_fire_is_strictly_after_and_ignores_seconds_of_after() -> None:
    every_minute = parse_schedule("cron(* * * * ? *)")
    assert every_minute.next_fire(utc(2024, 1, 1, 10, 0)) == utc(2024, 1, 1, 10, 1)
    assert every_minute.next_fire(utc(2024, 1, 1, 9, 59, 59, 999999)) == utc(2024, 1, 1, 10, 0)
    assert every_minute.next_fire(datetime(2024, 1, 1, 5, 0, 30, tzinfo=NEW_YORK)) == utc(
        2024, 1, 1, 10, 1
    )


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_instants_far_outside_the_year_range(zone: str) -> None:
    every_minute = parse_schedule("cron(* * * * ? *)", timezone=zone)
    assert every_minute.next_fire(datetime.min.replace(tzinfo=UTC)) is not None
    assert every_minute.next_fire(datetime.max.replace(tzinfo=UTC)) is None
    assert parse_schedule("rate(1 day)").next_fire(datetime.max.replace(tzinfo=UTC)) is None


def test_fires_between_is_open_at_start_and_closed_at_end() -> None:
    hourly = parse_schedule("cron(0 * * * ? *)")
    got = list(hourly.fires_between(utc(2024, 1, 1, 10), utc(2024, 1, 1, 13)))
    assert got == [utc(2024, 1, 1, 11), utc(2024, 1, 1, 12), utc(2024, 1, 1, 13)]
    assert list(hourly.fires_between(utc(2024, 1, 1, 10), utc(2024, 1, 1, 10, 59))) == []


def test_cron_start_and_end_are_inclusive_bounds() -> None:
    hourly = parse_schedule("cron(0 * * * ? *)", start=utc(2024, 1, 1, 12), end=utc(2024, 1, 1, 14))
    assert list(hourly.fires_between(utc(2024, 1, 1), utc(2024, 1, 2))) == [
        utc(2024, 1, 1, 12),
        utc(2024, 1, 1, 13),
        utc(2024, 1, 1, 14),
    ]


def test_cron_in_a_zone_reads_the_local_wall_clock() -> None:
    schedule = parse_schedule("cron(0 9 ? * MON-FRI *)", timezone="America/New_York")
    assert isinstance(schedule, CronExpression)
    # 09:00 EST is 14:00 UTC in February, 13:00 UTC in July
    assert schedule.next_fire(SATURDAY_NOON) == utc(2024, 2, 12, 14)
    assert schedule.next_fire(utc(2024, 7, 6)) == utc(2024, 7, 8, 13)
    assert schedule.matches(utc(2024, 2, 12, 14))
    assert schedule.matches(datetime(2024, 2, 12, 9, 0))  # naive: a wall-clock time
    assert not schedule.matches(utc(2024, 2, 12, 9))


# ---------------------------------------------------------------------------------------------
# Daylight saving time (AWS: skipped in the spring gap, once in the fall overlap)


def test_dst_spring_forward_skips_the_missing_time() -> None:
    daily = parse_schedule("cron(30 2 * * ? *)", timezone="America/New_York")
    # 2024-03-10: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day
    assert list(daily.fires_between(utc(2024, 3, 8), utc(2024, 3, 12))) == [
        utc(2024, 3, 8, 7, 30),
        utc(2024, 3, 9, 7, 30),
        utc(2024, 3, 11, 6, 30),
    ]


def test_dst_fall_back_fires_once_at_the_first_occurrence() -> None:
    daily = parse_schedule("cron(30 1 * * ? *)", timezone="America/New_York")
    # 2024-11-03: 01:00-01:59 happens twice (EDT, then EST)
    assert list(daily.fires_between(utc(2024, 11, 2), utc(2024, 11, 5))) == [
        utc(2024, 11, 2, 5, 30),
        utc(2024, 11, 3, 5, 30),
        utc(2024, 11, 4, 6, 30),
    ]
    quarterly = parse_schedule("cron(0/15 * * * ? *)", timezone="America/New_York")
    assert list(quarterly.fires_between(utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 7, 15))) == [
        utc(2024, 11, 3, 5, 45),
        utc(2024, 11, 3, 7, 0),
        utc(2024, 11, 3, 7, 15),
    ]
    # asked from inside the second 01:xx hour, the next fire is after it
    assert quarterly.next_fire(utc(2024, 11, 3, 6, 20)) == utc(2024, 11, 3, 7, 0)


def test_dst_lord_howe_half_hour_shift() -> None:
    # Australia/Lord_Howe, 2024-04-07: 02:00 (+11) falls back to 01:30 (+10:30)
    every_ten = parse_schedule("cron(0/10 1-2 * * ? *)", timezone="Australia/Lord_Howe")
    got = list(every_ten.fires_between(utc(2024, 4, 6, 14, 25), utc(2024, 4, 6, 15, 45)))
    assert got == [
        utc(2024, 4, 6, 14, 30),
        utc(2024, 4, 6, 14, 40),
        utc(2024, 4, 6, 14, 50),
        utc(2024, 4, 6, 15, 30),
        utc(2024, 4, 6, 15, 40),  # 02:00 and 02:10 at +10:30
    ]


# ---------------------------------------------------------------------------------------------
# rate() and at()


def test_rate_fires_from_its_start_anchor() -> None:
    rate = parse_schedule("rate(5 minutes)", start=utc(2024, 1, 1, 0, 2))
    assert isinstance(rate, RateExpression)
    assert rate.period == timedelta(minutes=5)
    assert rate.next_fire(utc(2023, 12, 31)) == utc(2024, 1, 1, 0, 2)  # the start itself
    assert rate.next_fire(utc(2024, 1, 1, 0, 2)) == utc(2024, 1, 1, 0, 7)
    assert rate.next_fire(utc(2024, 1, 1, 0, 9, 59)) == utc(2024, 1, 1, 0, 12)


def test_rate_without_start_is_anchored_where_it_is_asked() -> None:
    rate = parse_schedule("rate(2 hours)")
    assert rate.next_fire(utc(2024, 1, 1, 0, 30)) == utc(2024, 1, 1, 2, 30)


def test_rate_end_is_an_inclusive_bound() -> None:
    rate = parse_schedule("rate(1 day)", start=utc(2024, 1, 1), end=utc(2024, 1, 3))
    assert list(rate.fires_between(utc(2023, 1, 1), utc(2025, 1, 1))) == [
        utc(2024, 1, 1),
        utc(2024, 1, 2),
        utc(2024, 1, 3),
    ]


def test_rate_days_are_24_hours_across_dst() -> None:
    rate = parse_schedule(
        "rate(1 day)", timezone="America/New_York", start=datetime(2024, 3, 9, 9, tzinfo=NEW_YORK)
    )
    fire = rate.next_fire(utc(2024, 3, 9, 14))
    assert fire == utc(2024, 3, 10, 14)
    assert fire.astimezone(NEW_YORK).hour == 10  # 09:00 EST + 24 h is 10:00 EDT


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(90 minutes)", timedelta(minutes=90)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
    ],
)
def test_rate_units(expression: str, period: timedelta) -> None:
    rate = parse_schedule(expression)
    assert isinstance(rate, RateExpression)
    assert rate.period == period


def test_at_fires_once_in_its_zone() -> None:
    at = parse_schedule("at(2024-07-04T09:30:00)", timezone="America/New_York")
    assert isinstance(at, AtExpression)
    assert at.next_fire(utc(2024, 1, 1)) == utc(2024, 7, 4, 13, 30)
    assert at.next_fire(utc(2024, 7, 4, 13, 30)) is None
    assert list(at.fires_between(utc(2024, 1, 1), utc(2025, 1, 1))) == [utc(2024, 7, 4, 13, 30)]
    assert parse_schedule("at(2024-07-04T09:30:15)").next_fire(utc(2024, 1, 1)) == utc(
        2024, 7, 4, 9, 30, 15
    )


def test_at_ignores_start_and_end() -> None:
    at = parse_schedule("at(2024-07-04T09:30:00)", start=utc(2025, 1, 1), end=utc(2025, 2, 1))
    assert at.next_fire(utc(2024, 1, 1)) == utc(2024, 7, 4, 9, 30)


def test_at_in_dst_transitions() -> None:
    ambiguous = parse_schedule("at(2024-11-03T01:30:00)", timezone="America/New_York")
    assert ambiguous.next_fire(utc(2024, 1, 1)) == utc(2024, 11, 3, 5, 30)  # 01:30 EDT
    missing = parse_schedule("at(2024-03-10T02:30:00)", timezone="America/New_York")
    assert missing.next_fire(utc(2024, 1, 1)) == utc(2024, 3, 10, 7, 30)  # 03:30 EDT


def test_str_is_the_expression() -> None:
    assert str(parse_schedule("cron(0 10 * * ? *)")) == "cron(0 10 * * ? *)"


# ---------------------------------------------------------------------------------------------
# Every kind of bad input names its field and the offending token

BAD_EXPRESSIONS = [
    ("every(5 minutes)", "schedule_expression", "every(5 minutes)"),
    ("CRON(0 10 * * ? *)", "schedule_expression", "CRON(0 10 * * ? *)"),
    ("cron 0 10 * * ? *", "schedule_expression", "cron 0 10 * * ? *"),
    ("", "schedule_expression", ""),
    ("cron(0 10 * * ?)", "schedule.cron", "0 10 * * ?"),
    ("cron(0 0 10 * * ? *)", "schedule.cron", "0 0 10 * * ? *"),
    ("cron(60 10 * * ? *)", "schedule.cron.minutes", "60"),
    ("cron(-1 10 * * ? *)", "schedule.cron.minutes", "-1"),
    ("cron(1,,2 10 * * ? *)", "schedule.cron.minutes", ""),
    ("cron(0/0 10 * * ? *)", "schedule.cron.minutes", "0"),
    ("cron(0/61 10 * * ? *)", "schedule.cron.minutes", "61"),
    ("cron(0/x 10 * * ? *)", "schedule.cron.minutes", "x"),
    ("cron(? 10 * * ? *)", "schedule.cron.minutes", "?"),
    ("cron(L 10 * * ? *)", "schedule.cron.minutes", "L"),
    ("cron(0 24 * * ? *)", "schedule.cron.hours", "24"),
    ("cron(0 MON * * ? *)", "schedule.cron.hours", "MON"),
    ("cron(0 10 32 * ? *)", "schedule.cron.day-of-month", "32"),
    ("cron(0 10 0 * ? *)", "schedule.cron.day-of-month", "0"),
    ("cron(0 10 32W * ? *)", "schedule.cron.day-of-month", "32"),
    ("cron(0 10 1,L * ? *)", "schedule.cron.day-of-month", "L"),
    ("cron(0 10 15W,20 * ? *)", "schedule.cron.day-of-month", "15W"),
    ("cron(0 10 1#2 * ? *)", "schedule.cron.day-of-month", "1#2"),
    ("cron(0 10 * 13 ? *)", "schedule.cron.month", "13"),
    ("cron(0 10 * 0 ? *)", "schedule.cron.month", "0"),
    ("cron(0 10 * FOO ? *)", "schedule.cron.month", "FOO"),
    ("cron(0 10 * MON ? *)", "schedule.cron.month", "MON"),
    ("cron(0 10 ? * 8 *)", "schedule.cron.day-of-week", "8"),
    ("cron(0 10 ? * 0 *)", "schedule.cron.day-of-week", "0"),
    ("cron(0 10 ? * 1-8 *)", "schedule.cron.day-of-week", "8"),
    ("cron(0 10 ? * SUNDAY *)", "schedule.cron.day-of-week", "SUNDAY"),
    ("cron(0 10 ? * MON/2 *)", "schedule.cron.day-of-week", "MON/2"),
    ("cron(0 10 ? * 3#6 *)", "schedule.cron.day-of-week", "6"),
    ("cron(0 10 ? * 3#0 *)", "schedule.cron.day-of-week", "0"),
    ("cron(0 10 ? * 8#1 *)", "schedule.cron.day-of-week", "8"),
    ("cron(0 10 ? * 3#1,6#3 *)", "schedule.cron.day-of-week", "3#1,6#3"),
    ("cron(0 10 ? * 9L *)", "schedule.cron.day-of-week", "9"),
    ("cron(0 10 ? * MON,L *)", "schedule.cron.day-of-week", "L"),
    ("cron(0 10 ? * 2W *)", "schedule.cron.day-of-week", "2W"),
    ("cron(0 10 * * ? 1969)", "schedule.cron.year", "1969"),
    ("cron(0 10 * * ? 2200)", "schedule.cron.year", "2200"),
    ("cron(0 10 * * ? 2030-2025)", "schedule.cron.year", "2030-2025"),
    ("cron(0 10 * * ? ?)", "schedule.cron.year", "?"),
    # exactly one of day-of-month and day-of-week is '?'
    ("cron(0 10 * * MON *)", "schedule.cron.day-of-month", "*"),
    ("cron(0 10 1 * MON *)", "schedule.cron.day-of-week", "MON"),
    ("cron(0 10 1 * * *)", "schedule.cron.day-of-week", "*"),
    ("cron(0 10 ? * ? *)", "schedule.cron.day-of-month", "?"),
    # rate(value unit)
    ("rate(0 minutes)", "schedule.rate.value", "0"),
    ("rate(-5 minutes)", "schedule.rate.value", "-5"),
    ("rate(1.5 hours)", "schedule.rate.value", "1.5"),
    ("rate(five minutes)", "schedule.rate.value", "five"),
    ("rate(99999999999 days)", "schedule.rate.value", "99999999999"),
    ("rate(5 seconds)", "schedule.rate.unit", "seconds"),
    ("rate(5 Minutes)", "schedule.rate.unit", "Minutes"),
    ("rate(1 minutes)", "schedule.rate.unit", "minutes"),
    ("rate(1 hours)", "schedule.rate.unit", "hours"),
    ("rate(5 minute)", "schedule.rate.unit", "minute"),
    ("rate(2 day)", "schedule.rate.unit", "day"),
    ("rate(5)", "schedule.rate", "5"),
    ("rate(5 minutes please)", "schedule.rate", "5 minutes please"),
    # at(yyyy-mm-ddThh:mm:ss)
    ("at(2024-02-30T10:00:00)", "schedule.at", "2024-02-30T10:00:00"),
    ("at(2024-02-10T24:00:00)", "schedule.at", "2024-02-10T24:00:00"),
    ("at(2024-02-10 10:00:00)", "schedule.at", "2024-02-10 10:00:00"),
    ("at(2024-02-10T10:00)", "schedule.at", "2024-02-10T10:00"),
    ("at(2024-02-10T10:00:00Z)", "schedule.at", "2024-02-10T10:00:00Z"),
]


def test_at_out_of_range_in_its_zone() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_schedule("at(9999-12-31T23:00:00)", timezone="America/New_York")
    assert (caught.value.field, caught.value.value) == ("schedule.at", "9999-12-31T23:00:00")


@pytest.mark.parametrize(("expression", "field", "value"), BAD_EXPRESSIONS)
def test_bad_expressions_name_field_and_token(expression: str, field: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_schedule(expression)
    assert (caught.value.field, caught.value.value) == (field, value)
    assert field in str(caught.value)
    assert repr(value) in str(caught.value)


def test_errors_say_what_to_write() -> None:
    with pytest.raises(ConfigError, match=r"write rate\(1 minute\)"):
        parse_schedule("rate(1 minutes)")
    with pytest.raises(ConfigError, match=r"write rate\(5 hours\)"):
        parse_schedule("rate(5 hour)")
    with pytest.raises(ConfigError, match="must be 1-7 or SUN-SAT"):
        parse_schedule("cron(0 10 ? * 8 *)")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "America", "../etc/passwd", "", "utc"])
def test_bad_timezone(zone: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_schedule("rate(1 hour)", timezone=zone)
    assert (caught.value.field, caught.value.value) == ("schedule.timezone", zone)


def test_bad_start_end_and_instants() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_schedule("rate(1 hour)", start=datetime(2024, 1, 1))
    assert caught.value.field == "schedule.start_date"
    with pytest.raises(ConfigError) as caught:
        parse_schedule("rate(1 hour)", start=utc(2024, 2, 1), end=utc(2024, 1, 1))
    assert caught.value.field == "schedule.end_date"
    with pytest.raises(ConfigError) as caught:
        parse_schedule("cron(0 10 * * ? *)").next_fire(datetime(2024, 1, 1))
    assert caught.value.field == "after"
    with pytest.raises(ConfigError) as caught:
        parse_schedule(None)  # type: ignore[arg-type]
    assert caught.value.field == "schedule_expression"


# ---------------------------------------------------------------------------------------------
# flexible_time_window


@pytest.mark.parametrize("window", [0, 1441, -5, True, 1.5, "10"])
def test_flexible_delay_rejects_bad_windows(window: object) -> None:
    with pytest.raises(ConfigError) as caught:
        flexible_delay(window, random.Random(0))  # type: ignore[arg-type]
    assert caught.value.field == "flexible_time_window.maximum_window_in_minutes"


@given(window=st.integers(1, 1440), seed=st.integers(0, 2**32))
def test_flexible_delay_is_within_the_window(window: int, seed: int) -> None:
    rng = random.Random(seed)
    delays = [flexible_delay(window, rng) for _ in range(20)]
    assert all(0.0 <= d < window * 60 for d in delays)
    replay = random.Random(seed)
    assert delays == [flexible_delay(window, replay) for _ in range(20)]  # deterministic per seed


def test_flexible_delay_never_reaches_the_window_end() -> None:
    class AlmostOne(random.Random):
        def random(self) -> float:
            return 1.0 - 2.0**-53

    for window in range(1, 1441):
        assert flexible_delay(window, AlmostOne()) < window * 60


# ---------------------------------------------------------------------------------------------
# A reference model for the properties: cron expressions generated with their meaning


def aws_weekday(day: date) -> int:
    """1 = Sunday ... 7 = Saturday, computed differently from the module on purpose."""
    return (day.weekday() + 1) % 7 + 1


def month_days(day: date) -> list[date]:
    return [
        date(day.year, day.month, d)
        for d in range(1, calendar.monthrange(day.year, day.month)[1] + 1)
    ]


def nearest_weekday(day: date, n: int | None) -> int | None:
    days = month_days(day)
    target = len(days) if n is None else n
    if target > len(days):
        return None
    weekdays = [d.day for d in days if d.weekday() < 5]
    return min(weekdays, key=lambda d: (abs(d - target), d))


@dataclass(frozen=True)
class Spec:
    """A generated cron expression, the meaning of its fields, and croniter's spelling of it."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int] | None
    day: Callable[[date], bool]
    croniter_text: str | None

    def matches(self, local: datetime) -> bool:
        return (
            local.minute in self.minutes
            and local.hour in self.hours
            and local.month in self.months
            and (self.years is None or local.year in self.years)
            and self.day(local.date())
        )


@st.composite
def numeric_field(
    draw: st.DrawFn,
    low: int,
    high: int,
    names: tuple[str, ...] = (),
    step: bool = True,
    wrap: bool = True,
    croniter_shift: int = 0,
    picks: tuple[int, int] | None = None,
) -> tuple[str, frozenset[int], str | None]:
    """(text, values, croniter text or None) for a field of plain values from low to high.

    ``picks`` narrows the values drawn (not the field's bounds, which '*' and '/' run over).
    """

    def spell(v: int) -> str:
        if not names or not draw(st.booleans()):
            return str(v)
        name = names[v - low]
        return draw(st.sampled_from([name, name.lower(), name.title()]))

    text, values, cron = draw(_field_forms(low, high, spell, step, wrap, croniter_shift, picks))
    if cron is not None and len(values) == 1:
        # croniter 7.0 reads a one-value range ("5-5", "12-12/1") as "*": spell it "5" for it
        cron = str(next(iter(values)) + croniter_shift)
    return text, values, cron


@st.composite
def _field_forms(
    draw: st.DrawFn,
    low: int,
    high: int,
    spell: Callable[[int], str],
    step: bool,
    wrap: bool,
    croniter_shift: int,
    picks: tuple[int, int] | None,
) -> tuple[str, frozenset[int], str | None]:
    def cron_spell(v: int) -> str:
        return str(v + croniter_shift)

    everything = range(low, high + 1)
    kinds = ["star", "one", "list", "range"] + (["step", "star_step", "range_step"] if step else [])
    kind = draw(st.sampled_from(kinds))
    value = st.integers(*(picks or (low, high)))
    max_step = high - low + 1 if picks is None else picks[1] - picks[0] + 1
    if kind == "star":
        return "*", frozenset(everything), "*"
    if kind == "one":
        v = draw(value)
        return spell(v), frozenset({v}), cron_spell(v)
    if kind == "list":
        vs = draw(st.lists(value, min_size=1, max_size=4, unique=True))
        return ",".join(map(spell, vs)), frozenset(vs), ",".join(map(cron_spell, vs))
    if kind in ("star_step", "step"):
        n = draw(st.integers(1, max_step))
        a = low if kind == "star_step" else draw(value)
        head = "*" if kind == "star_step" else spell(a)
        return (
            f"{head}/{n}",
            frozenset(range(a, high + 1, n)),
            f"{cron_spell(a)}-{cron_spell(high)}/{n}",
        )
    a, b = draw(value), draw(value)
    n = draw(st.integers(1, max_step)) if kind == "range_step" else 1
    suffix = f"/{n}" if kind == "range_step" else ""
    if a <= b:
        values = frozenset(range(a, b + 1, n))
        return f"{spell(a)}-{spell(b)}{suffix}", values, f"{cron_spell(a)}-{cron_spell(b)}{suffix}"
    if not wrap:
        return f"{spell(b)}-{spell(a)}{suffix}", frozenset(range(b, a + 1, n)), None
    span = high - low + 1
    cycle = [low + (a - low + i) % span for i in range(b + span - a + 1)]
    return f"{spell(a)}-{spell(b)}{suffix}", frozenset(cycle[::n]), None


MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@st.composite
def day_rule(draw: st.DrawFn) -> tuple[str, str, Callable[[date], bool], str | None]:
    """(day-of-month text, day-of-week text, reference predicate, croniter 'dom dow' or None)."""
    kind = draw(st.sampled_from(["dom", "L", "LW", "W", "dow", "dowL", "nL", "nth"]))
    if kind == "dom":
        text, days, cron = draw(numeric_field(1, 31))
        return text, "?", (lambda d: d.day in days), f"{cron} *" if cron else None
    if kind == "L":
        return "L", "?", (lambda d: d.day == len(month_days(d))), "L *"
    if kind in ("LW", "W"):
        n = None if kind == "LW" else draw(st.integers(1, 31))
        text = "LW" if n is None else f"{n}W"
        # croniter spells W alike but clamps days past the month's end, and has no LW
        cron = f"{n}W *" if n is not None and n <= 28 else None
        return text, "?", (lambda d: d.day == nearest_weekday(d, n)), cron
    day = draw(st.integers(1, 7))
    name = draw(st.sampled_from([str(day), DAY_NAMES[day - 1]]))
    if kind == "dow":
        text, days, cron = draw(numeric_field(1, 7, DAY_NAMES, step=False, croniter_shift=-1))
        return "?", text, (lambda d: aws_weekday(d) in days), f"* {cron}" if cron else None
    if kind == "dowL":
        return "?", "L", (lambda d: aws_weekday(d) == 7), "* 6"
    if kind == "nL":
        return (
            "?",
            f"{name}L",
            (lambda d: aws_weekday(d) == day and d.day + 7 > len(month_days(d))),
            f"* L{day - 1}",
        )
    k = draw(st.integers(1, 5))
    return (
        "?",
        f"{name}#{k}",
        (lambda d: [x.day for x in month_days(d) if aws_weekday(x) == day][k - 1 : k] == [d.day]),
        f"* {day - 1}#{k}",
    )


@st.composite
def cron_specs(draw: st.DrawFn, dense: bool = False) -> Spec:
    """Cron expressions; ``dense`` ones fire within days, mostly in the small hours (0-3) when
    the DST transitions of America/New_York, Europe/London and Australia/Lord_Howe happen."""
    minute_text, minutes, cron_min = draw(numeric_field(0, 59))
    hour_text, hours, cron_hour = draw(numeric_field(0, 23, picks=(0, 3) if dense else None))
    month_text, months, cron_month = draw(numeric_field(1, 12, MONTH_NAMES))
    if dense:
        month_text, months, cron_month = "*", frozenset(range(1, 13)), "*"
        if draw(st.booleans()):  # one small hour: a gap or overlap hour, or a neighbour
            hour = draw(st.integers(0, 3))
            hour_text, hours, cron_hour = str(hour), frozenset({hour}), str(hour)
    dom, dow, day, cron_days = draw(day_rule())
    if dense and draw(st.booleans()):  # every day, so that the DST transition day is in play
        dom, dow = draw(st.sampled_from([("*", "?"), ("?", "*")]))
        day, cron_days = (lambda d: True), "* *"
    years: frozenset[int] | None = None
    year_text = "*"
    if not dense and draw(st.booleans()):
        year_text, years, _ = draw(numeric_field(1970, 2199, wrap=False, picks=(2019, 2032)))
        if year_text == "*":
            years = None
    text = f"cron({minute_text} {hour_text} {dom} {month_text} {dow} {year_text})"
    pieces = (cron_min, cron_hour, cron_month, cron_days)
    croniter_text = None
    if years is None and all(p is not None for p in pieces):
        dom_c, dow_c = str(cron_days).split()
        croniter_text = f"{cron_min} {cron_hour} {dom_c} {cron_month} {dow_c}"
    return Spec(text, minutes, hours, months, years, day, croniter_text)


instants = st.datetimes(
    min_value=datetime(2019, 6, 1), max_value=datetime(2031, 6, 1), timezones=st.just(UTC)
)


@functools.cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """UTC instants in 2019-2031 where the zone's UTC offset changes (found by bisection)."""
    zone = ZoneInfo(zone_name)
    found = []
    t = utc(2019, 1, 1)
    while t < utc(2032, 1, 1):
        nxt = t + timedelta(days=1)
        if t.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            lo, hi = t, nxt
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi.replace(second=0, microsecond=0))
        t = nxt
    return tuple(found)


@st.composite
def dst_windows(draw: st.DrawFn) -> tuple[str, datetime, datetime]:
    """(zone, start, end): a window of up to two days, usually holding a DST transition."""
    zone = draw(st.sampled_from(DST_ZONES))
    if draw(st.integers(0, 3)):
        center = draw(st.sampled_from(transitions(zone)))
        start = center - timedelta(minutes=draw(st.integers(1, 24 * 60)))
        length = draw(st.integers(24 * 60, 48 * 60))
    else:
        start = draw(instants)
        length = draw(st.integers(30, 48 * 60))
    start = start.replace(second=draw(st.sampled_from([0, 0, 30])), microsecond=0)
    return zone, start, start + timedelta(minutes=length)


# ---------------------------------------------------------------------------------------------
# Properties


@st.composite
def zones_and_instants(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and an instant, often shortly before one of the zone's DST transitions."""
    zone = draw(st.sampled_from(("UTC", "Asia/Kolkata", *DST_ZONES)))
    if zone in DST_ZONES and draw(st.booleans()):
        center = draw(st.sampled_from(transitions(zone)))
        return zone, center - timedelta(seconds=draw(st.integers(0, 3 * 86400)))
    return zone, draw(instants)


@given(spec=cron_specs(), zone_after=zones_and_instants())
def test_next_fire_increases_and_matches_the_fields(
    spec: Spec, zone_after: tuple[str, datetime]
) -> None:
    zone, after = zone_after
    schedule = parse_schedule(spec.text, timezone=zone)
    assert isinstance(schedule, CronExpression)
    tz = ZoneInfo(zone)
    previous = after
    for _ in range(4):
        fire = schedule.next_fire(previous)
        if fire is None:
            break
        assert fire.tzinfo is UTC
        assert fire > previous
        local = fire.astimezone(tz)
        assert (local.second, local.microsecond) == (0, 0)
        assert spec.matches(local), (spec.text, local)
        assert schedule.matches(fire)
        assert local.fold == 0  # a repeated wall-clock minute fires at its first occurrence
        previous = fire


@settings(max_examples=40)
@given(spec=cron_specs(dense=True), window=dst_windows())
def test_no_matching_minute_is_skipped(spec: Spec, window: tuple[str, datetime, datetime]) -> None:
    """Brute force: every UTC minute in the window whose wall-clock time matches (first
    occurrence only) is a fire, and nothing else is."""
    zone, start, end = window
    schedule = parse_schedule(spec.text, timezone=zone)
    assert list(schedule.fires_between(start, end)) == scan(spec.matches, zone, start, end)


def scan(
    matches: Callable[[datetime], bool], zone: str, start: datetime, end: datetime
) -> list[datetime]:
    """The UTC minutes in (start, end] whose wall-clock time matches, first occurrence only."""
    tz = ZoneInfo(zone)
    found = []
    t = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t <= end:
        local = t.astimezone(tz)
        if local.fold == 0 and matches(local):
            found.append(t)
        t += timedelta(minutes=1)
    return found


@settings(max_examples=40)
@given(
    zone=st.sampled_from(DST_ZONES),
    data=st.data(),
    minute=st.integers(0, 59),
    hours=st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True),
)
def test_small_hours_across_every_dst_transition(
    zone: str, data: st.DataObject, minute: int, hours: list[int]
) -> None:
    """A daily cron in the hours where the three zones change their clocks, over a day either
    side of a transition, against the minute-by-minute scan."""
    center = data.draw(st.sampled_from(transitions(zone)))
    text = f"cron({minute} {','.join(map(str, hours))} * * ? *)"
    start, end = center - timedelta(days=1), center + timedelta(days=1)
    got = list(parse_schedule(text, timezone=zone).fires_between(start, end))
    assert got == scan(lambda t: t.minute == minute and t.hour in hours, zone, start, end)


def us_dst_days(year: int) -> tuple[date, date]:
    """US rules since 2007: the second Sunday of March and the first Sunday of November."""
    march = [d for d in range(1, 15) if date(year, 3, d).weekday() == 6][1]
    november = next(d for d in range(1, 8) if date(year, 11, d).weekday() == 6)
    return date(year, 3, march), date(year, 11, november)


@given(year=st.integers(2008, 2037))
def test_daily_0230_new_york_follows_the_aws_dst_rule(year: int) -> None:
    spring, fall = us_dst_days(year)
    daily = parse_schedule("cron(30 2 * * ? *)", timezone="America/New_York")
    got = list(daily.fires_between(utc(year, 3, 1), utc(year, 4, 1)))
    expected = [
        utc(year, 3, d, 7 if d < spring.day else 6, 30) for d in range(1, 32) if d != spring.day
    ]
    assert got == expected  # the skipped 02:30 does not fire at all, not even at 03:00
    got = list(daily.fires_between(utc(year, 10, 31, 12), utc(year, 11, 30, 12)))
    expected = [utc(year, 11, d, 6 if d < fall.day else 7, 30) for d in range(1, 31)]
    assert got == expected  # 02:30 happens once on the fall-back day, so it fires once
    once = parse_schedule("cron(30 1 * * ? *)", timezone="America/New_York")
    got = list(once.fires_between(utc(year, 11, fall.day), utc(year, 11, fall.day + 1)))
    assert got == [utc(year, 11, fall.day, 5, 30)]  # 01:30 EDT only, not 01:30 EST again


@given(
    value=st.integers(1, 180),
    unit=st.sampled_from(["minute", "hour", "day"]),
    window=dst_windows(),
    offset=st.integers(0, 10**6),
)
def test_rate_fires_are_exactly_one_period_apart_in_utc(
    value: int, unit: str, window: tuple[str, datetime, datetime], offset: int
) -> None:
    zone, start, end = window
    plural = unit if value == 1 else unit + "s"
    anchor = start - timedelta(seconds=offset)
    rate = parse_schedule(f"rate({value} {plural})", timezone=zone, start=anchor)
    period = timedelta(**{unit + "s": value})
    got = list(rate.fires_between(start, end + 3 * period))
    assert len(got) >= 3
    assert all(b - a == period for a, b in itertools.pairwise(got))
    assert got[0] > start >= got[0] - period
    assert (got[0] - anchor) % period == timedelta(0)


@given(
    spec=cron_specs(),
    after=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
)
def test_agrees_with_croniter_in_utc(spec: Spec, after: datetime) -> None:
    """croniter (a well-kept implementation of the syntax both share) as an oracle, in UTC,
    where its DST handling does not come into play."""
    croniter_module = pytest.importorskip("croniter")
    assume(spec.croniter_text is not None)
    schedule = parse_schedule(spec.text)
    itr = croniter_module.croniter(
        spec.croniter_text, after.replace(tzinfo=None), max_years_between_matches=200
    )
    expected: list[datetime | None] = []
    try:
        for _ in range(3):
            naive = itr.get_next(datetime)
            if naive.year > 2199:  # past AWS's last year: no more fires
                expected.append(None)
                break
            expected.append(naive.replace(tzinfo=UTC))
    except croniter_module.CroniterBadDateError:  # nothing at all within 200 years
        expected.append(None)
    assert fires(schedule, after, len(expected)) == expected
