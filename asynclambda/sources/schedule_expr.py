"""EventBridge Scheduler schedule expressions: ``rate(...)``, ``cron(...)`` and ``at(...)``.

Pure and synchronous: parse an expression once with :func:`parse_schedule`, then ask the result
for :meth:`~ScheduleExpression.next_fire` (the first fire strictly after an instant) or
:meth:`~ScheduleExpression.fires_between`. Every returned instant is an aware UTC ``datetime``;
``None`` means the schedule never fires again. Every invalid input raises
:class:`~asynclambda.errors.ConfigError` whose ``field`` names the part
(``schedule.cron.day-of-week``, ``schedule.rate.unit``, ``schedule.at``, ``schedule.timezone``...)
and whose ``value`` is the offending token.

Sources (AWS documentation):

* Schedule types, time zones and daylight saving time, EventBridge Scheduler User Guide:
  https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
* Cron fields and wildcards (``, - * / ? L W #``), EventBridge User Guide, "Cron expressions
  reference": https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html
* Rate expressions ("if the value is equal to 1, then the unit must be singular"):
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html
* Daylight saving time, AWS Knowledge Center:
  https://repost.aws/knowledge-center/eventbridge-scheduler-adjust-dst
* ``StartDate``/``EndDate``/``FlexibleTimeWindow``, Scheduler API ``CreateSchedule``:
  https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html

Syntax accepted
---------------
``rate(value unit)``
    ``value`` a positive integer; ``unit`` one of ``minute minutes hour hours day days``, singular
    for 1 and plural otherwise (``rate(1 hour)``, ``rate(5 hours)``), as the rate reference says.

``cron(minutes hours day-of-month month day-of-week year)``
    Six fields. Values: minutes 0-59, hours 0-23, day-of-month 1-31, month 1-12 or JAN-DEC,
    day-of-week 1-7 or SUN-SAT (**1 = Sunday**, Quartz numbering, not Unix's 0-6), year
    1970-2199. Every field takes ``,`` lists, ``a-b`` ranges and ``*``; ``/`` increments
    (``0/15``, ``*/15``, ``10-50/20``) everywhere except day-of-week, as AWS's wildcard table
    lists. Exactly one of day-of-month and day-of-week is ``?``. Day-of-month also takes ``L``
    (last day), ``nW`` (weekday nearest day n, never leaving the month) and ``LW`` (last weekday);
    day-of-week takes ``L`` (the last day of the week: Saturday), ``nL`` (last day n of the month,
    ``6L`` = last Friday) and ``n#k`` (k-th day n, ``2#1`` = first Monday, k 1-5). These special
    forms stand alone in their field (AWS: "3#1,6#3" is invalid). Names are case-insensitive.
    Where AWS's pages are silent we follow Quartz, whose syntax AWS's cron follows: ``LW`` is
    accepted; a range may wrap around (``FRI-MON``, ``22-2``) except in the year field; ``nW``
    for a day the month lacks (``31W`` in April) does not fire that month, like plain ``31``.

``at(yyyy-mm-ddThh:mm:ss)``
    A wall-clock time in the schedule's time zone.

Time zones and daylight saving time
-----------------------------------
Cron and at expressions are evaluated on the wall clock of the schedule's IANA time zone (default
UTC). AWS documents cron's DST behaviour (Knowledge Center page above): "When the time shifts
forward in Spring, your schedule invocation gets skipped if the cron expression falls on a
non-existent date and time. When the time shifts back in the Fall, your schedule runs only once
and doesn't repeat its invocation." So here:

* a matching wall-clock minute that does not exist (spring-forward gap) does not fire;
* a matching wall-clock minute that occurs twice (fall-back overlap) fires once, at its first
  occurrence (the earlier UTC instant, ``fold=0``; AWS does not say which, the first is what
  ``java.time`` and PEP 495 pick by default). ``cron(0/15 * * * ? *)`` in America/New_York thus
  fires at 01:45 EDT and next at 02:00 EST, 75 minutes later.

Rate expressions are absolute durations, unaffected by DST: "days represents a 24-hour duration
... the EventBridge Scheduler evaluates the rate expression 24 hours after the schedule's last
invocation" (same page). ``at()`` has no documented DST rule: an ambiguous time fires at its first
occurrence and a non-existent one at the instant PEP 495 / ``java.time.ZonedDateTime.of`` map it
to (moved later by the gap: ``02:30`` on a 02:00->03:00 day fires at 03:30).

Start and end
-------------
A rate schedule "starts after the start date" and "you use the StartDate property to set the first
occurrence of the schedule" (user guide), so rate fires are ``start + k * period`` for k >= 0. With
no ``start`` AWS "starts invoking immediately"; a pure engine does not know when the schedule was
created, so without ``start`` the rate is anchored at whatever instant ``next_fire`` is asked about
(``next_fire(t) == t + period``): pass the creation instant as ``start`` to reproduce AWS exactly.
For cron, ``start`` and ``end`` bound the fires (inclusive: invocations "might occur on, or after,
the StartDate" and "might stop on, or before, the EndDate"); ``at()`` ignores both, as
"EventBridge Scheduler ignores StartDate for one-time schedules" (``CreateSchedule``).

Why not croniter
----------------
The engine here is a small field matcher, not a wrapper of ``croniter`` (checked against 7.0):
its year field stops at 2099 (AWS: 2199); it has no ``LW``, no ``nL`` and no ``L`` in
day-of-week (its form is ``L5``); its ``W`` clamps days past the month's end (``31W`` fires on
April 30); and its time-zone arithmetic contradicts AWS's DST rule: ``30 2 * * *`` in
America/New_York fires at 03:00 on the spring-forward day instead of being skipped, and
``30 1 * * *`` fires twice on the fall-back day; it also reads a one-value range (``5-5``) as
``*``. Translating AWS syntax to croniter's would have kept only its plain minute/hour/day
iteration, which is the easy part. The tests use croniter as an independent oracle for the
syntax both share, evaluated in UTC.
"""

from __future__ import annotations

import bisect
import calendar
import math
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asynclambda.errors import ConfigError

__all__ = [
    "AtExpression",
    "CronExpression",
    "DayRule",
    "DaysOfMonth",
    "DaysOfWeek",
    "LastDayOfMonth",
    "LastWeekdayOfMonth",
    "NearestWeekday",
    "NthWeekdayOfMonth",
    "RateExpression",
    "ScheduleExpression",
    "flexible_delay",
    "parse_schedule",
]

_ONE_DAY = timedelta(days=1)
# Instants safely outside the cron year field (1970-2199) in every zone's local time.
_BEFORE_1970 = datetime(1969, 12, 30, tzinfo=UTC)
_AFTER_2199 = datetime(2200, 1, 2, tzinfo=UTC)
_EXPRESSION_FIELD = "schedule_expression"
_KINDS = (
    "rate(value unit), cron(minutes hours day-of-month month day-of-week year) "
    "or at(yyyy-mm-ddThh:mm:ss)"
)
_WRAPPER_RE = re.compile(r"^(rate|cron|at)\((.*)\)$", re.DOTALL)


# ---------------------------------------------------------------------------------------------
# The expressions


@dataclass(frozen=True, slots=True)
class ScheduleExpression(ABC):
    """A parsed schedule expression, evaluated in a time zone; made by :func:`parse_schedule`.

    ``expression`` is the text it was parsed from; ``tz`` the zone its wall-clock times are read in.
    """

    expression: str
    tz: tzinfo

    @abstractmethod
    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire time strictly after the aware instant ``after``, as an aware UTC datetime.

        ``None`` when the schedule never fires again.
        """

    def fires_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Every fire time ``t`` with ``start < t <= end`` (aware UTC datetimes), in order.

        The interval is open at ``start`` like :meth:`next_fire`, so consecutive windows
        ``(a, b]``, ``(b, c]`` never yield a fire twice (catching up on missed fires).
        """
        end_utc = _as_utc("end", end)
        fire = self.next_fire(_as_utc("start", start))
        while fire is not None and fire <= end_utc:
            yield fire
            fire = self.next_fire(fire)

    def __str__(self) -> str:
        return self.expression


@dataclass(frozen=True, slots=True)
class RateExpression(ScheduleExpression):
    """``rate(value unit)``: fires every ``period``, at ``start + k * period`` (k >= 0) in UTC.

    Without ``start`` the rate is anchored at the instant asked about: ``next_fire(t)`` is
    ``t + period``. ``end`` (inclusive) bounds the fires.
    """

    value: int
    unit: str
    start: datetime | None = None
    end: datetime | None = None

    @property
    def period(self) -> timedelta:
        """The interval between fires (an absolute duration: a day is 24 hours, DST or not)."""
        return timedelta(**{self.unit + "s": self.value})

    def next_fire(self, after: datetime) -> datetime | None:
        after_utc = _as_utc("after", after)
        period = self.period
        try:
            if self.start is None:
                fire = after_utc + period
            elif after_utc < self.start:
                fire = self.start
            else:
                fire = self.start + ((after_utc - self.start) // period + 1) * period
        except OverflowError:
            return None
        if self.end is not None and fire > self.end:
            return None
        return fire


@dataclass(frozen=True, slots=True)
class AtExpression(ScheduleExpression):
    """``at(yyyy-mm-ddThh:mm:ss)``: fires once, at ``local`` on the wall clock of ``tz``.

    ``when`` is that instant in UTC (an ambiguous local time is its first occurrence; a
    non-existent one is moved later by the DST gap).
    """

    local: datetime
    when: datetime = field(init=False)

    def __post_init__(self) -> None:
        fire = self.local.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        object.__setattr__(self, "when", fire)

    def next_fire(self, after: datetime) -> datetime | None:
        return self.when if self.when > _as_utc("after", after) else None


@dataclass(frozen=True, slots=True)
class CronExpression(ScheduleExpression):
    """``cron(minutes hours day-of-month month day-of-week year)`` on the wall clock of ``tz``.

    The parsed fields are sorted tuples of the values they allow (``day_of_week`` in AWS's
    numbering, 1 = Sunday); ``day_rule`` is the day-of-month or day-of-week condition, whichever
    is not ``?``. ``start``/``end`` (inclusive) bound the fires.
    """

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    day_rule: DayRule
    start: datetime | None = None
    end: datetime | None = None
    _times: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        times = tuple(h * 60 + m for h in self.hours for m in self.minutes)
        object.__setattr__(self, "_times", times)

    def matches(self, when: datetime) -> bool:
        """Whether the wall-clock minute of ``when`` satisfies every field (seconds are ignored).

        An aware ``when`` is first converted to the schedule's zone; a naive one is read as a
        wall-clock time there. Matching is about fields only: a matching minute that falls in a
        DST overlap fires only at its first occurrence (see :meth:`next_fire`).
        """
        if when.tzinfo is not None:
            when = when.astimezone(self.tz)
        return (
            when.minute in self.minutes
            and when.hour in self.hours
            and self._day_matches(when.date())
        )

    def next_fire(self, after: datetime) -> datetime | None:
        """The first matching wall-clock minute strictly after ``after``, as a UTC instant.

        Minutes skipped by a spring-forward gap never fire; minutes repeated by a fall-back
        overlap fire at their first occurrence only. ``None`` once the year field (or ``end``)
        is exhausted, or if the fields can never match (``cron(0 0 30 2 ? *)``).
        """
        floor = max(_as_utc("after", after), _BEFORE_1970)
        if self.start is not None and floor < self.start:
            floor = self.start - timedelta(microseconds=1)
        if floor >= _AFTER_2199:
            return None
        local = floor.astimezone(self.tz).replace(tzinfo=None)
        # Fires are the fold=0 instants of matching wall-clock minutes, and that mapping is
        # monotonic, so no wall-clock minute before the local time of ``floor`` can come after it.
        day: date | None = local.date()
        first = bisect.bisect_left(self._times, local.hour * 60 + local.minute)
        while (day := self._next_day(day)) is not None:
            start_at = first if day == local.date() else 0
            for minute_of_day in self._times[start_at:]:
                wall = datetime.combine(day, time(minute_of_day // 60, minute_of_day % 60))
                fire = _wall_to_utc(wall, self.tz)
                if fire is not None and fire > floor:
                    return None if self.end is not None and fire > self.end else fire
            day = day + _ONE_DAY if day < date(self.years[-1], 12, 31) else None
        return None

    def _day_matches(self, day: date) -> bool:
        return day.year in self.years and day.month in self.months and self.day_rule.matches(day)

    def _next_day(self, day: date | None) -> date | None:
        """The first day on or after ``day`` whose year, month and day fields match."""
        while day is not None:
            if day.year not in self.years:
                i = bisect.bisect_right(self.years, day.year)
                day = date(self.years[i], 1, 1) if i < len(self.years) else None
            elif day.month not in self.months:
                day = (
                    date(day.year, day.month + 1, 1) if day.month < 12 else date(day.year + 1, 1, 1)
                )
            elif self.day_rule.matches(day):
                return day
            else:
                day = day + _ONE_DAY if day < date(self.years[-1], 12, 31) else None
        return None


# ---------------------------------------------------------------------------------------------
# Day rules: the day-of-month or day-of-week condition of a cron expression


class DayRule(ABC):
    """The day condition of a cron expression (the one of day-of-month/day-of-week not ``?``)."""

    __slots__ = ()

    @abstractmethod
    def matches(self, day: date) -> bool:
        """Whether ``day`` satisfies the rule."""


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _aws_weekday(day: date) -> int:
    """AWS's day-of-week number: 1 = Sunday ... 7 = Saturday."""
    return day.isoweekday() % 7 + 1


@dataclass(frozen=True, slots=True)
class DaysOfMonth(DayRule):
    """Day-of-month values (``1,15``, ``1-10/3``, ``*``); a day the month lacks never matches."""

    days: tuple[int, ...]

    def matches(self, day: date) -> bool:
        return day.day in self.days


@dataclass(frozen=True, slots=True)
class LastDayOfMonth(DayRule):
    """Day-of-month ``L``: the last day of the month."""

    def matches(self, day: date) -> bool:
        return day.day == _last_day(day)


@dataclass(frozen=True, slots=True)
class NearestWeekday(DayRule):
    """Day-of-month ``nW`` (Monday-Friday nearest day n, within the month) or ``LW`` (n = None).

    ``1W`` on a Saturday is Monday the 3rd; ``nW`` for a day the month lacks never matches.
    """

    day: int | None

    def matches(self, day: date) -> bool:
        last = _last_day(day)
        n = last if self.day is None else self.day
        if n > last:
            return False
        weekday = calendar.weekday(day.year, day.month, n)  # Monday = 0
        if weekday == 5:  # Saturday: the Friday before, or Monday the 3rd if n is the 1st
            n = n - 1 if n > 1 else n + 2
        elif weekday == 6:  # Sunday: the Monday after, or the Friday before at the month's end
            n = n + 1 if n < last else n - 2
        return day.day == n


@dataclass(frozen=True, slots=True)
class DaysOfWeek(DayRule):
    """Day-of-week values in AWS numbering (1 = Sunday): ``MON-FRI``, ``2,4``, ``*``, ``L`` (7)."""

    days: tuple[int, ...]

    def matches(self, day: date) -> bool:
        return _aws_weekday(day) in self.days


@dataclass(frozen=True, slots=True)
class LastWeekdayOfMonth(DayRule):
    """Day-of-week ``nL``: the last day n of the month (``6L`` = the last Friday)."""

    weekday: int

    def matches(self, day: date) -> bool:
        return _aws_weekday(day) == self.weekday and day.day + 7 > _last_day(day)


@dataclass(frozen=True, slots=True)
class NthWeekdayOfMonth(DayRule):
    """Day-of-week ``n#k``: the k-th day n of the month (``2#1`` = the first Monday)."""

    weekday: int
    nth: int

    def matches(self, day: date) -> bool:
        return _aws_weekday(day) == self.weekday and (day.day - 1) // 7 + 1 == self.nth


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_schedule(
    expression: str,
    *,
    timezone: str | tzinfo = "UTC",
    start: datetime | None = None,
    end: datetime | None = None,
) -> ScheduleExpression:
    """Parse an EventBridge Scheduler expression: ``rate(...)``, ``cron(...)`` or ``at(...)``.

    ``timezone`` is an IANA name (``"America/New_York"``; AWS's ``ScheduleExpressionTimezone``)
    or a ``tzinfo``. ``start``/``end`` are aware datetimes (AWS's ``StartDate``/``EndDate``):
    the anchor and bound of a rate, the bounds of a cron, ignored by ``at()``.

    Raises :class:`~asynclambda.errors.ConfigError` naming the bad part, e.g.
    ``invalid schedule.cron.day-of-week='8': must be 1-7 or SUN-SAT``.
    """
    if not isinstance(expression, str):
        raise ConfigError(_EXPRESSION_FIELD, expression, f"must be a string: {_KINDS}")
    tz = _zone(timezone)
    start_utc = None if start is None else _as_utc("schedule.start_date", start)
    end_utc = None if end is None else _as_utc("schedule.end_date", end)
    if start_utc is not None and end_utc is not None and end_utc < start_utc:
        raise ConfigError("schedule.end_date", end, f"must not be before start_date {start}")
    match = _WRAPPER_RE.match(expression)
    if match is None:
        raise ConfigError(_EXPRESSION_FIELD, expression, f"must be {_KINDS}")
    kind, body = match.groups()
    if kind == "rate":
        value, unit = _parse_rate(body)
        return RateExpression(expression, tz, value, unit, start_utc, end_utc)
    if kind == "at":
        try:
            return AtExpression(expression, tz, _parse_at(body))
        except OverflowError:
            raise ConfigError("schedule.at", body, "is out of range in that time zone") from None
    minutes, hours, months, years, rule = _parse_cron(body)
    return CronExpression(expression, tz, minutes, hours, months, years, rule, start_utc, end_utc)


def flexible_delay(window_minutes: int, rng: random.Random) -> float:
    """A random delay in seconds, in ``[0, window_minutes * 60)``, for a flexible time window.

    EventBridge Scheduler invokes a schedule with ``FlexibleTimeWindow`` mode ``FLEXIBLE``
    somewhere within ``MaximumWindowInMinutes`` (1-1440) after its scheduled time. ``rng`` is
    injected so tests and the runtime share one seeded source of randomness.
    """
    if (
        isinstance(window_minutes, bool)
        or not isinstance(window_minutes, int)
        or not (1 <= window_minutes <= 1440)
    ):
        raise ConfigError(
            "flexible_time_window.maximum_window_in_minutes",
            window_minutes,
            "must be an integer from 1 to 1440",
        )
    limit = window_minutes * 60.0
    delay = rng.random() * limit
    # random() < 1, but the product can round up to the limit itself.
    return delay if delay < limit else math.nextafter(limit, 0.0)


def _zone(value: str | tzinfo) -> tzinfo:
    if isinstance(value, tzinfo):
        return value
    if not isinstance(value, str) or not value:
        raise ConfigError("schedule.timezone", value, "must be an IANA time zone name")
    if value == "UTC":
        return UTC
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            "schedule.timezone",
            value,
            "unknown IANA time zone name (e.g. 'America/New_York'; install tzdata if the "
            "system has no time zone database)",
        ) from None


def _as_utc(name: str, when: datetime) -> datetime:
    if not isinstance(when, datetime) or when.utcoffset() is None:
        raise ConfigError(name, when, "must be a timezone-aware datetime")
    return when.astimezone(UTC)


def _wall_to_utc(wall: datetime, tz: tzinfo) -> datetime | None:
    """The first UTC instant showing ``wall`` on the clock of ``tz``; ``None`` if none does."""
    fire = wall.replace(tzinfo=tz).astimezone(UTC)
    return fire if fire.astimezone(tz).replace(tzinfo=None) == wall else None


_RATE_UNITS = {
    "minute": "minute",
    "minutes": "minute",
    "hour": "hour",
    "hours": "hour",
    "day": "day",
    "days": "day",
}


def _parse_rate(body: str) -> tuple[int, str]:
    parts = body.split()
    if len(parts) != 2:
        raise ConfigError("schedule.rate", body, "must be 'value unit', e.g. rate(5 minutes)")
    value_text, unit_text = parts
    if not value_text.isascii() or not value_text.isdigit() or int(value_text) == 0:
        raise ConfigError("schedule.rate.value", value_text, "must be a positive integer")
    value = int(value_text)
    unit = _RATE_UNITS.get(unit_text)
    if unit is None:
        raise ConfigError(
            "schedule.rate.unit", unit_text, "must be minute, minutes, hour, hours, day or days"
        )
    if value == 1 and unit_text != unit:
        raise ConfigError(
            "schedule.rate.unit", unit_text, f"use the singular with 1: write rate(1 {unit})"
        )
    if value != 1 and unit_text == unit:
        raise ConfigError(
            "schedule.rate.unit",
            unit_text,
            f"use the plural with values other than 1: write rate({value} {unit}s)",
        )
    try:
        timedelta(**{unit + "s": value})
    except OverflowError:
        raise ConfigError("schedule.rate.value", value_text, "is too large") from None
    return value, unit


_AT_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$", re.ASCII)


def _parse_at(body: str) -> datetime:
    match = _AT_RE.match(body)
    if match is None:
        raise ConfigError(
            "schedule.at", body, "must be yyyy-mm-ddThh:mm:ss, e.g. at(2030-01-31T09:30:00)"
        )
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise ConfigError("schedule.at", body, f"is not a valid date and time ({exc})") from None


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] is value low + i
    increments: bool = True
    wraps: bool = True

    @property
    def error_field(self) -> str:
        return f"schedule.cron.{self.name}"

    @property
    def allowed(self) -> str:
        text = f"{self.low}-{self.high}"
        return f"{text} or {self.names[0]}-{self.names[-1]}" if self.names else text


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field(
    "month",
    1,
    12,
    names=("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
)
_DAY_OF_WEEK = _Field(
    "day-of-week", 1, 7, names=("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), increments=False
)
_YEAR = _Field("year", 1970, 2199, wraps=False)
_CRON_FIELDS = "minutes hours day-of-month month day-of-week year"

_ELEMENT_RE = re.compile(
    r"^(?:(?P<star>\*)|(?P<first>[0-9A-Za-z]+)(?:-(?P<last>[0-9A-Za-z]+))?)(?:/(?P<step>.*))?$",
    re.ASCII,
)
_DOM_SPECIAL_RE = re.compile(r"^(?:L|LW|(?P<day>\d+)W)$", re.ASCII | re.IGNORECASE)
_DOW_LAST_RE = re.compile(r"^(?P<day>[0-9A-Za-z]+?)L$", re.ASCII | re.IGNORECASE)
_DOW_NTH_RE = re.compile(r"^(?P<day>[0-9A-Za-z]+)#(?P<nth>.*)$", re.ASCII)


def _parse_cron(
    body: str,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...], DayRule]:
    parts = body.split()
    if len(parts) != 6:
        raise ConfigError(
            "schedule.cron", body, f"needs 6 fields ({_CRON_FIELDS}), got {len(parts)}"
        )
    minute_text, hour_text, dom_text, month_text, dow_text, year_text = parts
    minutes = _parse_values(_MINUTES, minute_text)
    hours = _parse_values(_HOURS, hour_text)
    months = _parse_values(_MONTH, month_text)
    years = _parse_values(_YEAR, year_text)
    dom = None if dom_text == "?" else _parse_day_of_month(dom_text)
    dow = None if dow_text == "?" else _parse_day_of_week(dow_text)
    if dom is None and dow is None:
        raise ConfigError(
            "schedule.cron.day-of-month",
            "?",
            "day-of-month and day-of-week can't both be '?': set one of them",
        )
    if dom is not None and dow is not None:
        # Blame the field the user probably did not mean to set: a '*' if there is one.
        if dom_text == "*":
            raise ConfigError(
                "schedule.cron.day-of-month",
                dom_text,
                f"must be '?' when day-of-week is set ({dow_text}): AWS needs one of "
                "day-of-month and day-of-week to be '?'",
            )
        raise ConfigError(
            "schedule.cron.day-of-week",
            dow_text,
            f"must be '?' when day-of-month is set ({dom_text}): AWS needs one of "
            "day-of-month and day-of-week to be '?'",
        )
    rule = dom if dom is not None else dow
    assert rule is not None  # the checks above leave exactly one of them set
    return minutes, hours, months, years, rule


def _parse_day_of_month(text: str) -> DayRule:
    special = _DOM_SPECIAL_RE.match(text)
    if special is not None:
        if special["day"] is None:
            return LastDayOfMonth() if text.upper() == "L" else NearestWeekday(None)
        day = int(special["day"])
        if not 1 <= day <= 31:
            raise ConfigError(_DAY_OF_MONTH.error_field, special["day"], "must be 1-31 before 'W'")
        return NearestWeekday(day)
    if "," in text:
        for element in text.split(","):
            if _DOM_SPECIAL_RE.match(element) or element == "?":
                raise ConfigError(
                    _DAY_OF_MONTH.error_field,
                    element,
                    "'L', 'W' and '?' must stand alone in day-of-month, not in a list",
                )
    return DaysOfMonth(_parse_values(_DAY_OF_MONTH, text))


def _parse_day_of_week(text: str) -> DayRule:
    if "#" in text:
        if "," in text:
            raise ConfigError(
                _DAY_OF_WEEK.error_field,
                text,
                "a '#' expression must be the only one in day-of-week (e.g. 3#2)",
            )
        nth = _DOW_NTH_RE.match(text)
        if nth is None:
            raise ConfigError(_DAY_OF_WEEK.error_field, text, "must be day#k, e.g. 3#2 or TUE#2")
        k = nth["nth"]
        if not (k.isascii() and k.isdigit() and 1 <= int(k) <= 5):
            raise ConfigError(_DAY_OF_WEEK.error_field, k, "must be 1-5 after '#'")
        return NthWeekdayOfMonth(_parse_value(_DAY_OF_WEEK, nth["day"]), int(k))
    if text.upper() == "L":
        return DaysOfWeek((7,))
    last = _DOW_LAST_RE.match(text)
    if last is not None and "," not in text and "-" not in text:
        return LastWeekdayOfMonth(_parse_value(_DAY_OF_WEEK, last["day"]))
    for element in text.split(","):
        if element == "?" or element.upper().endswith("L"):
            raise ConfigError(
                _DAY_OF_WEEK.error_field,
                element,
                "'L' and '?' must stand alone in day-of-week, not in a list or range",
            )
    return DaysOfWeek(_parse_values(_DAY_OF_WEEK, text))


def _parse_values(spec: _Field, text: str) -> tuple[int, ...]:
    """The sorted values a comma list of ``*``, ``a``, ``a-b`` and ``/n`` elements allows."""
    values: set[int] = set()
    for element in text.split(","):
        values.update(_parse_element(spec, element))
    return tuple(sorted(values))


def _parse_element(spec: _Field, element: str) -> list[int]:
    if element == "?":
        raise ConfigError(
            spec.error_field, element, "'?' is only allowed in day-of-month or day-of-week"
        )
    if spec not in (_DAY_OF_MONTH, _DAY_OF_WEEK) and _has_special(spec, element):
        raise ConfigError(
            spec.error_field,
            element,
            "'L', 'W' and '#' are only allowed in day-of-month and day-of-week",
        )
    match = _ELEMENT_RE.match(element)
    if match is None:
        raise ConfigError(
            spec.error_field,
            element,
            f"must be a value ({spec.allowed}), a range a-b, '*', or an increment a/n, "
            "separated by single commas",
        )
    step_text = match["step"]
    if step_text is not None and not spec.increments:
        raise ConfigError(
            spec.error_field, element, f"'/' increments are not allowed in {spec.name}"
        )
    step = 1
    if step_text is not None:
        span = spec.high - spec.low + 1
        if not (step_text.isascii() and step_text.isdigit() and 1 <= int(step_text) <= span):
            raise ConfigError(
                spec.error_field, step_text, f"increment after '/' must be an integer 1-{span}"
            )
        step = int(step_text)
    if match["star"]:
        return list(range(spec.low, spec.high + 1, step))
    first = _parse_value(spec, match["first"])
    if match["last"] is None:
        # 'a/n' runs from a to the end of the field (AWS: 1/10 is minute 1, 11, 21, ...).
        return list(range(first, spec.high + 1, step)) if step_text is not None else [first]
    last = _parse_value(spec, match["last"])
    if last >= first:
        return list(range(first, last + 1, step))
    if not spec.wraps:
        raise ConfigError(
            spec.error_field, element, f"a {spec.name} range must go from low to high"
        )
    # A wrapping range (FRI-MON, 22-2) runs through the end of the field and on from its start.
    span = spec.high - spec.low + 1
    length = last + span - first + 1
    return [spec.low + (first - spec.low + i) % span for i in range(0, length, step)]


def _has_special(spec: _Field, element: str) -> bool:
    """Whether ``element`` uses ``L``, ``W`` or ``#`` (outside of names such as JUL)."""
    text = element.upper()
    for name in spec.names:
        text = text.replace(name, "")
    return any(c in text for c in "LW#")


def _parse_value(spec: _Field, token: str) -> int:
    upper = token.upper()
    if upper in spec.names:
        return spec.low + spec.names.index(upper)
    if token.isascii() and token.isdigit() and spec.low <= int(token) <= spec.high:
        return int(token)
    raise ConfigError(spec.error_field, token, f"must be {spec.allowed}")
