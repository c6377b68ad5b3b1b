"""Scheduling operations: series, extension, extra meetings, changes, leader assignment. They flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app.accounts import rules as eligibility
from app.accounts.models import TrainingRecord, User
from app.accounts.services import problem_text
from app.audit.services import record_action
from app.errors import Conflict, DomainError, NotAllowed
from app.extensions import db
from app.programme.models import Group, Membership
from app.scheduling import rules
from app.scheduling.holidays import ChinaCalendar
from app.scheduling.models import HolidayException, HolidayYear, Meeting, MeetingLeader, Schedule
from app.timeutil import local_zone

MAX_PERIOD_DAYS = 3 * 366  # one generation covers at most three years


# --- time ------------------------------------------------------------------------------------

def to_utc(day: date, at: time) -> datetime:
    """A local date and time (deployment timezone) as naive UTC."""
    local = datetime.combine(day, at, tzinfo=local_zone())
    return local.astimezone(UTC).replace(tzinfo=None)


def to_local(moment: datetime) -> datetime:
    """Naive UTC as an aware datetime in the deployment's timezone."""
    return moment.replace(tzinfo=UTC).astimezone(local_zone())


def local_date(moment: datetime) -> date:
    return to_local(moment).date()


# --- the series ------------------------------------------------------------------------------

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
    until = _add_months(start, months) - timedelta(days=1)
    return generate_meetings(actor, group, start, until)


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    import calendar

    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- single meetings -------------------------------------------------------------------------

def _check_meeting_fields(duration_minutes: int, mode: str) -> None:
    if not isinstance(duration_minutes, int) or not 15 <= duration_minutes <= 480:
        raise DomainError(_("Duration must be between 15 and 480 minutes."), field="duration_minutes")
    if mode not in ("onsite", "online", "hybrid"):
        raise DomainError(_("Unknown meeting mode."), field="mode")


def add_extra_meeting(
    actor: User | None, group: Group, *, day: date, at: time, duration_minutes: int | None = None,
    mode: str | None = None, location: str | None = None, video_link: str | None = None,
) -> Meeting:
    """A one-off meeting outside the rule. Raises DomainError for bad values."""
    duration_minutes = duration_minutes or group.duration_minutes
    mode = mode or group.mode
    _check_meeting_fields(duration_minutes, mode)
    starts_at = to_utc(day, at)
    meeting = Meeting(
        group_id=group.id, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=duration_minutes), mode=mode,
        location=location if location is not None else group.location,
        video_link=video_link if video_link is not None else group.video_link, edited=True,
    )
    db.session.add(meeting)
    db.session.flush()
    record_action(actor, "meeting_added", meeting, group_id=group.id, starts_at=starts_at)
    return meeting


def _require_scheduled(meeting: Meeting) -> None:
    if meeting.status != "scheduled":
        raise Conflict(_("Only a scheduled meeting can be changed this way; this one is %(status)s.",
                         status=status_label(meeting.status)))


def status_label(status: str) -> str:
    return {"scheduled": _("scheduled"), "held": _("held"), "cancelled": _("cancelled")}.get(status, status)


def reschedule_meeting(
    actor: User | None, meeting: Meeting, *, day: date, at: time, duration_minutes: int, reason: str,
    mode: str | None = None, location: str | None = None, video_link: str | None = None,
) -> None:
    """Move or change one meeting, with a reason members will see. Its leaders must stay free at the new time.

    Raises Conflict when the meeting is not scheduled or a leader would clash, DomainError for bad values.
    """
    _require_scheduled(meeting)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give a reason: members will see it."), field="reason")
    mode = mode or meeting.mode
    _check_meeting_fields(duration_minutes, mode)
    starts_at = to_utc(day, at)
    ends_at = starts_at + timedelta(minutes=duration_minutes)
    for ml in meeting.leaders:
        if find_overlap(ml.user_id, starts_at, ends_at, exclude_meeting_id=meeting.id) is not None:
            raise Conflict(_("%(name)s is assigned to another meeting at that time.", name=ml.user.name),
                           field="day")
    before = meeting.starts_at
    meeting.starts_at, meeting.ends_at, meeting.mode = starts_at, ends_at, mode
    if location is not None:
        meeting.location = location or None
    if video_link is not None:
        meeting.video_link = video_link or None
    meeting.change_reason = reason[:500]
    meeting.edited = True
    meeting.sequence += 1
    db.session.flush()
    record_action(actor, "meeting_rescheduled", meeting, before=before, after=starts_at, reason=reason[:500])


def cancel_meeting(actor: User | None, meeting: Meeting, reason: str) -> None:
    """Cancel a scheduled meeting with a reason; calendars show it as cancelled. Raises Conflict/DomainError."""
    _require_scheduled(meeting)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give a reason: members will see it."), field="reason")
    meeting.status = "cancelled"
    meeting.cancel_reason = reason[:500]
    meeting.edited = True
    meeting.sequence += 1
    db.session.flush()
    record_action(actor, "meeting_cancelled", meeting, reason=reason[:500])


# --- leaders ---------------------------------------------------------------------------------

def find_overlap(user_id: int, starts_at: datetime, ends_at: datetime, exclude_meeting_id: int | None = None):
    """Another live (not cancelled) meeting the user leads or co-leads that overlaps the time range."""
    query = (
        sa.select(Meeting)
        .join(MeetingLeader, MeetingLeader.meeting_id == Meeting.id)
        .where(
            MeetingLeader.user_id == user_id,
            Meeting.status != "cancelled",
            Meeting.starts_at < ends_at,
            Meeting.ends_at > starts_at,
        )
        .limit(1)
    )
    if exclude_meeting_id is not None:
        query = query.where(Meeting.id != exclude_meeting_id)
    return db.session.scalar(query)


def is_member_on(group_id: int, user_id: int, day: date) -> bool:
    return db.session.scalar(
        sa.select(Membership.id).where(
            Membership.group_id == group_id, Membership.user_id == user_id, Membership.joined_on <= day,
            sa.or_(Membership.left_on.is_(None), Membership.left_on >= day),
        ).limit(1)
    ) is not None


def leader_problems(meeting: Meeting, user: User, as_role: str, lead: User | None = None) -> list[str]:
    """Every eligibility problem code for the user in the role on this meeting (empty: eligible)."""
    day = local_date(meeting.starts_at)
    lead_level = eligibility.UNKNOWN_LEAD
    if as_role == eligibility.CO_LEAD:
        lead_level = eligibility.best_level_on(lead.training_records, day) if lead is not None else None
    return eligibility.eligibility_problems(
        active=user.active,
        records=user.training_records,
        on=day,
        as_role=as_role,
        is_member_of_group=is_member_on(meeting.group_id, user.id, day),
        has_overlapping_meeting=find_overlap(user.id, meeting.starts_at, meeting.ends_at, meeting.id) is not None,
        lead_level=lead_level,
    )


class EligibilityError(DomainError):
    """An assignment breaks a leader-eligibility rule; `problems` holds the rule codes."""

    def __init__(self, message: str, problems: list[str], field: str):
        super().__init__(message, field=field)
        self.problems = problems


class ClashError(Conflict):
    """An assignment would book a leader into two overlapping meetings."""


def _refuse(user: User, role: str, problems: list[str]) -> None:
    role_name = _("lead") if role == eligibility.LEAD else _("co-lead")
    reasons = " ".join(problem_text(p) for p in problems)
    message = _("%(name)s cannot be %(role)s of this meeting: %(reasons)s", name=user.name, role=role_name,
                reasons=reasons)
    field = "lead_id" if role == eligibility.LEAD else "co_lead_id"
    if problems == [eligibility.OVERLAPPING_MEETING]:
        raise ClashError(message, field=field)
    raise EligibilityError(message, problems, field)


def assign_leaders(actor: User | None, meeting: Meeting, lead: User | None, co_lead: User | None = None) -> None:
    """Make `lead` the meeting's lead and `co_lead` its co-lead (None removes the co-lead).

    Raises EligibilityError (a rule of DOMAIN.md) or ClashError (overlapping meeting), naming the rule.
    """
    if meeting.status == "cancelled":
        raise Conflict(_("A cancelled meeting takes no leaders."))
    if lead is None:
        raise DomainError(_("Every meeting has exactly one lead: choose one."), field="lead_id")
    if co_lead is not None and co_lead.id == lead.id:
        raise DomainError(_("The lead and the co-lead must be two different people."), field="co_lead_id")
    for user, role in ((lead, eligibility.LEAD), (co_lead, eligibility.CO_LEAD)):
        if user is None:
            continue
        problems = leader_problems(meeting, user, role, lead=lead)
        if problems:
            _refuse(user, role, problems)
    before = {ml.role: ml.user_id for ml in meeting.leaders}
    wanted = {eligibility.LEAD: lead, eligibility.CO_LEAD: co_lead}
    for ml in list(meeting.leaders):
        if wanted.get(ml.role) is None or wanted[ml.role].id != ml.user_id:
            meeting.leaders.remove(ml)
    db.session.flush()
    have = {ml.role for ml in meeting.leaders}
    for role, user in wanted.items():
        if user is not None and role not in have:
            meeting.leaders.append(MeetingLeader(user_id=user.id, role=role))
    after = {role: (user.id if user else None) for role, user in wanted.items()}
    if before != {k: v for k, v in after.items() if v is not None}:
        meeting.sequence += 1
    db.session.flush()
    record_action(actor, "leaders_assigned", meeting, lead_id=lead.id, co_lead_id=co_lead.id if co_lead else None)


@dataclass
class SeriesAssignment:
    """The outcome of assigning one person to a whole series."""

    assigned: list[Meeting] = field(default_factory=list)
    refused: list[tuple[Meeting, str]] = field(default_factory=list)


def assign_series(actor: User | None, group: Group, user: User, role: str, since: datetime) -> SeriesAssignment:
    """Assign the user as lead or co-lead to every scheduled meeting of the group from `since` on.

    Each meeting that cannot take them is listed with the reason; the others are assigned.
    """
    if role not in eligibility.ASSIGNMENT_ROLES:
        raise DomainError(_("Choose lead or co-lead."), field="role")
    result = SeriesAssignment()
    meetings = db.session.scalars(
        sa.select(Meeting)
        .where(Meeting.group_id == group.id, Meeting.status == "scheduled", Meeting.starts_at >= since)
        .order_by(Meeting.starts_at)
    ).all()
    for meeting in meetings:
        lead = user if role == eligibility.LEAD else meeting.lead
        co_lead = user if role == eligibility.CO_LEAD else meeting.co_lead
        if co_lead is not None and lead is not None and co_lead.id == lead.id:
            co_lead = None if role == eligibility.LEAD else co_lead
        try:
            with db.session.begin_nested():
                if lead is None:
                    raise DomainError(_("It has no lead yet: assign a lead first."))
                assign_leaders(actor, meeting, lead, co_lead)
        except DomainError as exc:
            result.refused.append((meeting, exc.message))
        else:
            result.assigned.append(meeting)
    return result


@dataclass
class Suggestion:
    """An eligible, free leader for a meeting and how many meetings they led in the last 90 days."""

    user: User
    led_recently: int


def suggest_leaders(meeting: Meeting, as_role: str, now: datetime) -> list[Suggestion]:
    """Eligible leaders free at the meeting's time, fairest first (fewest meetings led in the last 90 days)."""
    candidates = db.session.scalars(
        sa.select(User)
        .join(TrainingRecord, TrainingRecord.user_id == User.id)
        .where(User.active.is_(True), TrainingRecord.verified_at.is_not(None))
        .options(so.selectinload(User.training_records))
        .distinct()
    ).all()
    counts = dict(
        db.session.execute(
            sa.select(MeetingLeader.user_id, sa.func.count(MeetingLeader.id))
            .join(Meeting, Meeting.id == MeetingLeader.meeting_id)
            .where(
                MeetingLeader.role == eligibility.LEAD,
                Meeting.status != "cancelled",
                Meeting.starts_at >= now - timedelta(days=90),
                Meeting.starts_at <= now,
            )
            .group_by(MeetingLeader.user_id)
        ).all()
    )
    lead = meeting.lead
    found = [
        Suggestion(user, counts.get(user.id, 0))
        for user in candidates
        if (lead is None or as_role == eligibility.LEAD or user.id != lead.id)
        and not leader_problems(meeting, user, as_role, lead=lead)
    ]
    return sorted(found, key=lambda s: rules.fairness_key(s.led_recently, s.user.name))


def check_can_schedule(user: User, group: Group) -> None:
    """Raise NotAllowed unless the user is a coordinator for the group or one of its leaders."""
    from app.permissions import can_access_group

    if not can_access_group(user, group, "lead"):
        raise NotAllowed(_("Only the group's leaders and coordinators schedule its meetings."))


# --- periods ---------------------------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    return _add_months(day, months)


def default_period(today: date, months: int = 6) -> tuple[date, date]:
    """The period a generation offers by default: today and the next `months` months (last day included)."""
    return today, add_months(today, months) - timedelta(days=1)


# --- holiday exceptions ----------------------------------------------------------------------

EXCEPTION_KINDS = ("holiday", "workday")
FIRST_YEAR, LAST_YEAR = 2000, 2100  # the years the calendar pages and services accept


def _check_year(year: int, field_name: str) -> None:
    if not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise DomainError(_("Choose a year from %(first)s to %(last)s.", first=FIRST_YEAR, last=LAST_YEAR),
                          field=field_name)


def add_exception(actor: User | None, *, day: date, kind: str, name: str) -> HolidayException:
    """Record a day set by hand: an extra day off (holiday) or a make-up working day (workday, 调休).

    It overrides the holidays library for that day in every later generation; meetings already
    generated stay as they are. Raises DomainError for a bad kind or name, Conflict when the day
    already has an exception.
    """
    _check_year(day.year, "day")
    if kind not in EXCEPTION_KINDS:
        raise DomainError(_("Choose a day off or a working day."), field="kind")
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the day a name, e.g. “National Day” or “调休”."), field="name")
    if len(name) > 200:
        raise DomainError(_("Use at most 200 characters."), field="name")
    if db.session.scalar(sa.select(HolidayException.id).where(HolidayException.day == day)) is not None:
        raise Conflict(_("This day already has an exception; delete it first to change it."), field="day")
    exception = HolidayException(day=day, kind=kind, name=name, created_by_id=getattr(actor, "id", None))
    try:
        with db.session.begin_nested():
            db.session.add(exception)
            db.session.flush()
    except IntegrityError:  # another coordinator added the same day at the same moment
        raise Conflict(_("This day already has an exception; delete it first to change it."), field="day") from None
    record_action(actor, "holiday_exception_added", exception, day=day, kind=kind, name=name)
    return exception


def delete_exception(actor: User | None, exception: HolidayException) -> None:
    """Remove a day set by hand; the library's answer for that day applies again to later generations."""
    detail = {"day": exception.day, "kind": exception.kind, "name": exception.name}
    record_action(actor, "holiday_exception_deleted", exception, **detail)
    db.session.delete(exception)
    db.session.flush()


def confirm_year(actor: User | None, year: int) -> HolidayYear:
    """Mark a year's official holiday schedule as entered (its exception days are complete).

    Generating into the year no longer warns. Confirming a confirmed year changes nothing.
    Raises DomainError for a year outside the supported range.
    """
    _check_year(year, "year")
    existing = db.session.get(HolidayYear, year)
    if existing is not None:
        return existing
    confirmed = HolidayYear(year=year, confirmed_by_id=getattr(actor, "id", None))
    try:
        with db.session.begin_nested():
            db.session.add(confirmed)
            db.session.flush()
    except IntegrityError:  # confirmed by someone else at the same moment: the same outcome
        return db.session.get(HolidayYear, year)
    record_action(actor, "holiday_year_confirmed", confirmed, year=year)
    return confirmed
