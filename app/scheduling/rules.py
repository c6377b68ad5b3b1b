"""Pure scheduling rules: recurrence, the holiday policy, overlaps, the meeting invariants. No Flask, no database."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from app.accounts import rules as eligibility

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


# --- the meeting invariants -------------------------------------------------------------------
#
# A meeting that is scheduled or held must satisfy, at every moment:
#   1. at most one lead and at most one co-lead, and never the same person in both roles;
#   2. exactly one lead once it is held (a scheduled meeting without a lead is allowed, but flagged);
#   3. every assigned leader eligible on the meeting's LOCAL date under DOMAIN.md's rule (accounts.rules):
#      active, verified training of a qualifying level in force that day;
#   4. a co-lead who is only a leader in training beside a lead who is a leader or training leader that day;
#   5. no leader in two overlapping scheduled/held meetings;
#   6. no leader a member of the meeting's group on its date;
#   7. every assigned leader holds the leader role (without it they cannot open the pages of the meeting
#      they lead).
# A cancelled meeting is bound by none of them. Operations on a meeting (assigning, rescheduling, adding,
# recording as held) are refused when the meeting would break any of them, except that a scheduled meeting may
# still lack a lead; operations on people (training records, the leader role, deactivation) keep their data and
# leave the affected meetings flagged (3, 4 and 7 can then fail); operations on memberships and standing leaders
# are refused when they would break 6.

LIVE_STATUSES = ("scheduled", "held")

NO_LEAD = "no_lead"  # a scheduled meeting with no lead yet: allowed, flagged
HELD_WITHOUT_LEAD = "held_without_lead"
TOO_MANY_LEADS = "too_many_leads"
TOO_MANY_CO_LEADS = "too_many_co_leads"
SAME_PERSON_TWICE = "same_person_twice"
NO_LEADER_ROLE = "no_leader_role"

#: The problems that may stand on a meeting (shown as a flag, not refused) when nothing else is wrong.
ALLOWED_ON_SCHEDULED = frozenset({NO_LEAD})


def may_record_as_held(starts_at: datetime, now: datetime) -> bool:
    """A meeting cannot be recorded as held before its start time (both naive UTC)."""
    return starts_at <= now


@dataclass(frozen=True)
class LeaderFacts:
    """What the invariants read about one assigned leader of a meeting, gathered for its local date."""

    user_id: int
    role: str  # lead | co_lead
    active: bool
    records: tuple  # the person's training records (anything with level, completed_on, valid_until, verified)
    holds_leader_role: bool
    member_of_group: bool  # a member of the meeting's group on its local date
    overlapping: bool  # also assigned to another scheduled or held meeting whose time overlaps this one


@dataclass(frozen=True)
class Problem:
    """One broken invariant of a meeting: its code, and the leader it concerns (None: the meeting itself).

    Codes: the meeting-level ones above, or an eligibility code of accounts.rules (inactive, training_expired,
    member_of_group, overlapping_meeting, trainee_needs_qualified_lead, ...) for the leader named.
    """

    code: str
    role: str | None = None
    user_id: int | None = None


def meeting_problems(status: str, on: date, leaders: Iterable[LeaderFacts]) -> list[Problem]:
    """Every invariant the meeting breaks (empty: none), for a meeting of `status` on the local date `on`.

    A cancelled meeting breaks none. A leader's eligibility is judged by accounts.rules.eligibility_problems
    for their role on `on`; a co-lead is judged beside the lead's best level that day (a trainee co-lead with no
    qualified lead is TRAINEE_NEEDS_QUALIFIED_LEAD). Pure: the facts are gathered by the caller.
    """
    if status not in LIVE_STATUSES:
        return []
    leaders = list(leaders)
    problems: list[Problem] = []
    leads = [leader for leader in leaders if leader.role == eligibility.LEAD]
    co_leads = [leader for leader in leaders if leader.role == eligibility.CO_LEAD]
    if not leads:
        problems.append(Problem(HELD_WITHOUT_LEAD if status == "held" else NO_LEAD))
    if len(leads) > 1:
        problems.append(Problem(TOO_MANY_LEADS))
    if len(co_leads) > 1:
        problems.append(Problem(TOO_MANY_CO_LEADS))
    if len({leader.user_id for leader in leaders}) != len(leaders):
        problems.append(Problem(SAME_PERSON_TWICE))
    lead_level = eligibility.best_level_on(leads[0].records, on) if leads else None
    for leader in leaders:
        if leader.role not in eligibility.ASSIGNMENT_ROLES:
            problems.append(Problem(eligibility.UNKNOWN_ROLE, leader.role, leader.user_id))
            continue
        codes = eligibility.eligibility_problems(
            active=leader.active, records=leader.records, on=on, as_role=leader.role,
            is_member_of_group=leader.member_of_group, has_overlapping_meeting=leader.overlapping,
            lead_level=lead_level if leader.role == eligibility.CO_LEAD else eligibility.UNKNOWN_LEAD,
        )
        if not leader.holds_leader_role:
            codes.append(NO_LEADER_ROLE)
        problems.extend(Problem(code, leader.role, leader.user_id) for code in codes)
    return problems


def blocking(status: str, problems: Iterable[Problem]) -> list[Problem]:
    """The problems an operation on the meeting itself must refuse: all but a scheduled meeting's missing lead."""
    return [p for p in problems if not (status == "scheduled" and p.code in ALLOWED_ON_SCHEDULED)]


def membership_covers(joined_on: date, left_on: date | None, on: date) -> bool:
    """True when a membership from `joined_on` to `left_on` (included; None: open) covers the date."""
    return joined_on <= on and (left_on is None or left_on >= on)
