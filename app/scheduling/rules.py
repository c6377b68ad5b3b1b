"""Pure scheduling rules: recurrence, the holiday policy, overlaps. No Flask, no database; dates passed in."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

NTH_WEEKDAY = "nth_weekday"
BIWEEKLY = "biweekly"
RULE_KINDS = (NTH_WEEKDAY, BIWEEKLY)

MOVE = "move"
SKIP = "skip"
KEEP = "keep"
HOLIDAY_POLICIES = (MOVE, SKIP, KEEP)

LAST_WEEK = -1  # "the last <weekday> of the month"


class HolidayCalendar(Protocol):
    """What the rules need to know about days: statutory holidays and working days."""

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name when the day is a statutory holiday (a day off), else None."""

    def is_working_day(self, day: date) -> bool:
        """True on a working day, make-up working days (调休) included."""


@dataclass(frozen=True)
class Rule:
    """A group's recurrence: the n-th weekdays of each month, or every two weeks from a start date.

    weekday: 0 = Monday ... 6 = Sunday. weeks: for nth_weekday, 1..4 or -1 (last). start: for biweekly.
    """

    kind: str
    weekday: int
    weeks: tuple[int, ...] = ()
    start: date | None = None


@dataclass(frozen=True)
class PlannedDate:
    """One date the rule gives: where the meeting goes (None when skipped) and why it moved or was skipped."""

    nominal: date
    actual: date | None
    holiday: str | None = None

    @property
    def moved(self) -> bool:
        return self.actual is not None and self.actual != self.nominal

    @property
    def skipped(self) -> bool:
        return self.actual is None


@dataclass
class Plan:
    """The result of applying a rule to a period."""

    dates: list[PlannedDate] = field(default_factory=list)

    @property
    def meeting_dates(self) -> list[date]:
        return [p.actual for p in self.dates if p.actual is not None]


def rule_problems(rule: Rule) -> list[str]:
    """What is wrong with a rule (empty: it is usable). Codes: weekday, weeks, start, kind."""
    problems = []
    if rule.kind not in RULE_KINDS:
        problems.append("kind")
    if not isinstance(rule.weekday, int) or not 0 <= rule.weekday <= 6:
        problems.append("weekday")
    if rule.kind == NTH_WEEKDAY and (
        not rule.weeks or len(set(rule.weeks)) != len(rule.weeks)
        or any(w not in (1, 2, 3, 4, LAST_WEEK) for w in rule.weeks)
    ):
        problems.append("weeks")
    if rule.kind == BIWEEKLY and rule.start is None:
        problems.append("start")
    return problems


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1..4, or -1 for last) given weekday of a month."""
    days = [d for d in calendar.Calendar().itermonthdates(year, month) if d.month == month and d.weekday() == weekday]
    return days[-1] if n == LAST_WEEK else days[n - 1]


def _months(start: date, end: date) -> Iterator[tuple[int, int]]:
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def nominal_dates(rule: Rule, start: date, end: date) -> list[date]:
    """Every date the rule names between start and end (both included), before any holiday policy.

    Raises ValueError for an unusable rule.
    """
    if rule_problems(rule):
        raise ValueError(f"unusable rule: {rule_problems(rule)}")
    found: set[date] = set()
    if rule.kind == NTH_WEEKDAY:
        for year, month in _months(start, end):
            for n in rule.weeks:
                found.add(nth_weekday(year, month, rule.weekday, n))
    else:
        anchor = rule.start + timedelta(days=(rule.weekday - rule.start.weekday()) % 7)
        if start > anchor:
            steps = (start - anchor).days // 14
            anchor += timedelta(days=14 * steps)
        day = anchor
        while day <= end:
            found.add(day)
            day += timedelta(days=14)
    return sorted(d for d in found if start <= d <= end)


def _same_month_candidates(day: date, step: int) -> Iterator[date]:
    current = day + timedelta(days=step)
    while current.month == day.month:
        yield current
        current += timedelta(days=step)


def place(nominal: date, policy: str, cal: HolidayCalendar, taken: Iterable[date] = ()) -> PlannedDate:
    """Apply the holiday policy to one nominal date.

    keep: stays on the holiday; skip: no meeting; move: the next working day of the same month that
    no other meeting of the series takes, else the closest earlier one; when the month has none, the
    date is skipped. Raises ValueError for an unknown policy.
    """
    if policy not in HOLIDAY_POLICIES:
        raise ValueError(f"unknown holiday policy {policy!r}")
    name = cal.holiday_name(nominal)
    if name is None or policy == KEEP:
        return PlannedDate(nominal, nominal, name)
    if policy == SKIP:
        return PlannedDate(nominal, None, name)
    taken = set(taken)
    for step in (1, -1):
        for day in _same_month_candidates(nominal, step):
            if day not in taken and cal.is_working_day(day) and cal.holiday_name(day) is None:
                return PlannedDate(nominal, day, name)
    return PlannedDate(nominal, None, name)


def plan(rule: Rule, start: date, end: date, policy: str, cal: HolidayCalendar) -> Plan:
    """The meetings a rule gives for a period under a holiday policy, each with why it moved or was skipped."""
    nominals = nominal_dates(rule, start, end)
    taken = {d for d in nominals if cal.holiday_name(d) is None}
    result = Plan()
    for nominal in nominals:
        placed = place(nominal, policy, cal, taken - {nominal})
        if placed.actual is not None:
            taken.add(placed.actual)
        result.dates.append(placed)
    return result


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """True when two time ranges share more than an instant (touching ends do not overlap)."""
    return a_start < b_end and b_start < a_end


def fairness_key(meetings_led_recently: int, name: str) -> tuple[int, str]:
    """Sort key for suggesting leaders: fewest meetings led in the last 90 days first, then by name."""
    return (meetings_led_recently, name.casefold())
