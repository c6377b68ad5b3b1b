"""The series: a group's recurrence rule, generating its meetings from it, extending them. They flush, never commit."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, time, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.audit.services import record_action
from app.errors import DomainError
from app.extensions import db
from app.programme.models import Group
from app.scheduling import rules
from app.scheduling.holidays import ChinaCalendar
from app.scheduling.models import Meeting, Schedule
from app.timeutil import to_utc

MAX_PERIOD_DAYS = 3 * 366  # one generation covers at most three years


def save_schedule(
    actor: User | None,
    group: Group,
    *,
    kind: str,
    weekday: int,
    weeks: list[int] | tuple[int, ...] = (),
    start_on: date | None = None,
    start_time: time,
    holiday_policy: str = rules.MOVE,
) -> Schedule:
    """Set the group's recurrence rule. Raises DomainError naming the field that is wrong."""
    rule = rules.Rule(kind=kind, weekday=weekday, weeks=tuple(weeks), start=start_on)
    problems = rules.rule_problems(rule)
    messages = {
        "kind": _("Choose how the meetings repeat."),
        "weekday": _("Choose a weekday."),
        "weeks": _("Choose one or more weeks of the month (1st to 4th, or last), each once."),
        "start": _("A fortnightly series needs a first date."),
    }
    if problems:
        raise DomainError(messages[problems[0]], field=problems[0])
    if holiday_policy not in rules.HOLIDAY_POLICIES:
        raise DomainError(_("Choose what happens on holidays."), field="holiday_policy")
    schedule = group.schedule or Schedule(group=group)
    schedule.kind = kind
    schedule.weekday = weekday
    schedule.weeks = ",".join(str(w) for w in weeks) if kind == rules.NTH_WEEKDAY else ""
    schedule.start_on = start_on if kind == rules.BIWEEKLY else None
    schedule.start_time = start_time
    schedule.holiday_policy = holiday_policy
    db.session.add(schedule)
    db.session.flush()
    record_action(actor, "schedule_saved", group, kind=kind, weekday=weekday, weeks=list(weeks),
                  start_on=start_on, start_time=start_time.strftime("%H:%M"), holiday_policy=holiday_policy)
    return schedule


def rule_of(schedule: Schedule) -> rules.Rule:
    """The stored schedule as the pure rule the recurrence engine (rules.plan) reads."""
    return rules.Rule(kind=schedule.kind, weekday=schedule.weekday, weeks=schedule.week_list, start=schedule.start_on)


@dataclass
class Generated:
    """What a generation did: the meetings created, the plan with moved and skipped dates, warnings."""

    created: list[Meeting] = field(default_factory=list)
    kept: int = 0
    plan: rules.Plan = field(default_factory=rules.Plan)
    years_without_schedule: list[int] = field(default_factory=list)


def _check_period(start: date, until: date) -> None:
    if until < start:
        raise DomainError(_("The end of the period must not be before its start."), field="until")
    if (until - start).days > MAX_PERIOD_DAYS:
        raise DomainError(_("Generate at most three years at a time."), field="until")


def generate_meetings(actor: User | None, group: Group, start: date, until: date) -> Generated:
    """Create the meetings the group's rule gives between start and until (local dates, both included).

    Meetings that already exist for a rule date are never touched (edited, recorded or cancelled
    ones included) and never duplicated: the database's unique (group, rule date) decides.
    Past periods are allowed (history brought in from paper). Raises DomainError without a rule.
    """
    schedule = group.schedule
    if schedule is None:
        raise DomainError(_("Set the group's schedule rule first."), field="kind")
    _check_period(start, until)
    calendar = ChinaCalendar.load(start, until)
    result = Generated(years_without_schedule=calendar.years_without_schedule(start, until))
    result.plan = rules.plan(rule_of(schedule), start, until, schedule.holiday_policy, calendar)
    existing = set(
        db.session.scalars(
            sa.select(Meeting.rule_date).where(Meeting.group_id == group.id, Meeting.rule_date.between(start, until))
        )
    )
    for planned in result.plan.dates:
        if planned.actual is None:
            continue
        if planned.nominal in existing:
            result.kept += 1
            continue
        starts_at = to_utc(planned.actual, schedule.start_time)
        meeting = Meeting(
            group_id=group.id, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=group.duration_minutes),
            mode=group.mode, location=group.location, video_link=group.video_link, rule_date=planned.nominal,
            holiday_note=planned.holiday if planned.moved or planned.holiday else None,
        )
        try:
            with db.session.begin_nested():
                db.session.add(meeting)
                db.session.flush()
        except IntegrityError:  # another request created the same rule date first
            result.kept += 1
            continue
        result.created.append(meeting)
    if schedule.generated_until is None or until > schedule.generated_until:
        schedule.generated_until = until
    db.session.flush()
    record_action(actor, "meetings_generated", group, start=start, until=until, created=len(result.created))
    return result


def extend_schedule(actor: User | None, group: Group, months: int, today: date) -> Generated:
    """Generate from the day after the last generated date (or today) for `months` more months."""
    if not 1 <= months <= 24:
        raise DomainError(_("Extend by 1 to 24 months."), field="months")
    schedule = group.schedule
    if schedule is None:
        raise DomainError(_("Set the group's schedule rule first."), field="kind")
    start = max(today, (schedule.generated_until or today - timedelta(days=1)) + timedelta(days=1))
    until = add_months(start, months) - timedelta(days=1)
    return generate_meetings(actor, group, start, until)




def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def default_period(today: date, months: int = 6) -> tuple[date, date]:
    """The period a generation offers by default: today and the next `months` months (last day included)."""
    return today, add_months(today, months) - timedelta(days=1)
