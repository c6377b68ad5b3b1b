"""Scheduling operations: series, extension, extra meetings, changes, leader assignment. They flush, never commit."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app.accounts import rules as eligibility
from app.accounts.models import RoleAssignment, TrainingRecord, User
from app.accounts.services import problem_text
from app.audit.services import record_action
from app.errors import Conflict, DomainError, NotAllowed
from app.extensions import db
from app.programme.models import Group, Membership
from app.scheduling import rules
from app.scheduling.holidays import ChinaCalendar
from app.scheduling.models import BOOKING_CONSTRAINT, HolidayException, HolidayYear, Meeting, MeetingLeader, Schedule
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
    """The date of a naive-UTC moment in the deployment's timezone (the date every rule means)."""
    return to_local(moment).date()


def _check_deidentified(text: str | None, field_name: str) -> None:
    """The patient-identifier guard of meetings.services (imported when used: meetings builds on scheduling)."""
    from app.meetings.services import check_deidentified

    check_deidentified(text, field_name)


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


# --- the invariants: facts from the database, judged by rules.meeting_problems ---------------

class InvariantError(DomainError):
    """An operation would leave a meeting breaking one of its invariants (422); `rule` names it.

    `rule` is a problem code of scheduling.rules or accounts.rules (e.g. held_without_lead, training_expired,
    member_of_group); `problems` lists every code found for the person or meeting refused.
    """

    def __init__(self, message: str, rule: str, field: str | None = None, problems: Sequence[str] = ()):
        super().__init__(message, field=field)
        self.rule = rule
        self.problems = list(problems) or [rule]


class EligibilityError(InvariantError):
    """A leader would not be eligible for their role on the meeting's date; `problems` holds the rule codes."""

    def __init__(self, message: str, problems: list[str], field: str):
        super().__init__(message, problems[0], field=field, problems=problems)


class ClashError(Conflict):
    """A leader would be booked into two overlapping meetings (409); `rule` is overlapping_meeting."""

    rule = eligibility.OVERLAPPING_MEETING

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message, field=field)
        self.problems = [self.rule]


def _leader_rows(meetings: Sequence[Meeting]) -> list[tuple[int, int, str]]:
    """(meeting id, user id, role) of every leader of the meetings, as the session holds them."""
    return [(m.id, ml.user_id, ml.role) for m in meetings for ml in m.leaders]


def problems_for(meetings: Sequence[Meeting]) -> dict[int, list[rules.Problem]]:
    """Every invariant each meeting breaks (rules.meeting_problems), keyed by meeting id; empty lists for none.

    The facts are read for the whole list at once in at most four statements (people, training records,
    memberships, overlapping bookings), whatever the number of meetings: pages flag a page of meetings, writers
    check the one meeting they changed after flushing it. Changes must be flushed first.
    """
    result: dict[int, list[rules.Problem]] = {m.id: [] for m in meetings}
    live = [m for m in meetings if m.status in rules.LIVE_STATUSES]
    rows = _leader_rows(live)
    user_ids = sorted({uid for _mid, uid, _role in rows})
    people: dict[int, tuple[bool, bool]] = {}
    records: dict[int, list[eligibility.Training]] = {uid: [] for uid in user_ids}
    memberships: dict[tuple[int, int], list[tuple[date, date | None]]] = {}
    overlapping: set[tuple[int, int]] = set()
    if rows:
        holds_role = sa.exists().where(RoleAssignment.user_id == User.id, RoleAssignment.role == "leader")
        people = {
            uid: (bool(active), bool(leader))
            for uid, active, leader in db.session.execute(
                sa.select(User.id, User.active, holds_role).where(User.id.in_(user_ids))
            )
        }
        for uid, level, completed_on, valid_until, verified_at in db.session.execute(
            sa.select(TrainingRecord.user_id, TrainingRecord.level, TrainingRecord.completed_on,
                      TrainingRecord.valid_until, TrainingRecord.verified_at)
            .where(TrainingRecord.user_id.in_(user_ids))
        ):
            records[uid].append(eligibility.Training(level, completed_on, valid_until, verified_at is not None))
        for gid, uid, joined_on, left_on in db.session.execute(
            sa.select(Membership.group_id, Membership.user_id, Membership.joined_on, Membership.left_on)
            .where(Membership.user_id.in_(user_ids), Membership.group_id.in_(sorted({m.group_id for m in live})))
        ):
            memberships.setdefault((gid, uid), []).append((joined_on, left_on))
        overlapping = _overlapping_bookings([m.id for m in live])
    for meeting in live:
        day = local_date(meeting.starts_at)
        facts = [
            rules.LeaderFacts(
                user_id=ml.user_id, role=ml.role, active=people.get(ml.user_id, (False, False))[0],
                records=tuple(records.get(ml.user_id, ())),
                holds_leader_role=people.get(ml.user_id, (False, False))[1],
                member_of_group=any(rules.membership_covers(joined, left, day)
                                    for joined, left in memberships.get((meeting.group_id, ml.user_id), ())),
                overlapping=(meeting.id, ml.user_id) in overlapping,
            )
            for ml in meeting.leaders
        ]
        result[meeting.id] = rules.meeting_problems(meeting.status, day, facts)
    return result


def _overlapping_bookings(meeting_ids: list[int]) -> set[tuple[int, int]]:
    """(meeting id, user id) pairs: the user leads that meeting and another live one overlapping it (one query)."""
    if not meeting_ids:
        return set()
    this, other = so.aliased(Meeting), so.aliased(Meeting)
    mine, theirs = so.aliased(MeetingLeader), so.aliased(MeetingLeader)
    query = (
        sa.select(mine.meeting_id, mine.user_id)
        .join(this, this.id == mine.meeting_id)
        .join(theirs, sa.and_(theirs.user_id == mine.user_id, theirs.meeting_id != mine.meeting_id))
        .join(other, other.id == theirs.meeting_id)
        .where(mine.meeting_id.in_(meeting_ids), other.status != "cancelled",
               other.starts_at < this.ends_at, other.ends_at > this.starts_at)  # rules.overlaps, in SQL
        .distinct()
    )
    return {(mid, uid) for mid, uid in db.session.execute(query)}


def meeting_problems(meeting: Meeting) -> list[rules.Problem]:
    """Every invariant the meeting breaks (empty: none) — the one check every writer calls after flushing."""
    return problems_for([meeting])[meeting.id]


def lock_people(user_ids: Iterable[int | None]) -> None:
    """Serialise operations that make people leaders or members (PostgreSQL: their users rows, in id order).

    Taken first by assigning leaders, rescheduling, recording as held and adding a member, so a person assigned
    as lead of a group's meeting and added as its member at the same moment is judged one after the other.
    FOR NO KEY UPDATE: it waits for another such lock but not for rows that merely reference the person.
    SQLite needs nothing: its writers take the database's write lock when they begin (BEGIN IMMEDIATE).
    """
    ids = sorted({uid for uid in user_ids if uid is not None})
    if ids and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            sa.select(User.id).where(User.id.in_(ids)).order_by(User.id).with_for_update(key_share=True)
        ).all()


def _booking_clash_user(error: IntegrityError) -> int | None | bool:
    """The user id named by a violation of the booking exclusion constraint; False for any other error."""
    diag = getattr(getattr(error, "orig", None), "diag", None)
    if diag is None or getattr(diag, "constraint_name", None) != BOOKING_CONSTRAINT:
        return False
    found = re.search(r"\(user_id, [^)]*\)\)?=\((\d+),", getattr(diag, "message_detail", "") or "")
    return int(found.group(1)) if found else None


@contextmanager
def keeping_invariants(meeting: Meeting, *, field: str, context: str, people: Iterable[int | None] = (),
                       tolerate_existing: bool = False) -> Iterator[None]:
    """Run a change of the meeting in a savepoint; refuse it (rolled back, nothing else lost) when the meeting
    then breaks an invariant — all but a scheduled meeting's missing lead.

    `context` (assign, reschedule, record, add) chooses the wording; `people` are locked first (lock_people),
    with the meeting's current leaders. `tolerate_existing` refuses only problems the change brings: a held
    meeting whose lead has since left or lost the training (kept and flagged) can still have its record
    corrected, while nothing may make it worse. Raises InvariantError / EligibilityError (422) or ClashError
    (409), also when PostgreSQL's exclusion constraint catches a double booking made at the same moment elsewhere.
    """
    lock_people([*people, *(ml.user_id for ml in meeting.leaders)])
    existing = set(rules.blocking(meeting.status, meeting_problems(meeting))) if tolerate_existing else set()
    try:
        with db.session.begin_nested():
            yield
            db.session.flush()
            problems = [p for p in rules.blocking(meeting.status, meeting_problems(meeting)) if p not in existing]
            if problems:
                raise refusal(meeting, problems, field=field, context=context)
    except IntegrityError as error:
        user_id = _booking_clash_user(error)
        if user_id is False:
            raise
        person = db.session.get(User, user_id) if user_id else None
        name = person.name if person else _("A leader of this meeting")
        raise _clash(name, context, field) from None


def _clash(name: str, context: str, field: str) -> ClashError:
    if context == "assign":
        return ClashError(_("%(name)s cannot be %(role)s of this meeting: %(reasons)s", name=name,
                            role=_("lead") if field == "lead_id" else _("co-lead"),
                            reasons=problem_text(eligibility.OVERLAPPING_MEETING)), field=field)
    return ClashError(_("%(name)s is assigned to another meeting at that time.", name=name), field=field)


def refusal(meeting: Meeting, problems: Sequence[rules.Problem], *, field: str, context: str) -> DomainError:
    """The error that refuses an operation leaving the meeting with these problems, naming the first rule broken.

    A meeting-level problem comes first (held without a lead, two leads...), then the lead's, then the co-lead's.
    In the assign context the field is the role's (lead_id / co_lead_id).
    """
    meeting_level = [p for p in problems if p.user_id is None]
    if meeting_level:
        code = meeting_level[0].code
        texts = {
            rules.HELD_WITHOUT_LEAD: _("Recording a meeting as held requires an eligible lead on that date."),
            rules.NO_LEAD: _("Every meeting has exactly one lead: choose one."),
            rules.TOO_MANY_LEADS: _("A meeting has exactly one lead."),
            rules.TOO_MANY_CO_LEADS: _("A meeting has at most one co-lead."),
            rules.SAME_PERSON_TWICE: _("The lead and the co-lead must be two different people."),
        }
        return InvariantError(texts.get(code, code), code, field=field)
    names = {ml.user_id: ml.user.name for ml in meeting.leaders}
    ordered = sorted(problems, key=lambda p: (p.role != eligibility.LEAD, p.role or "", p.user_id or 0))
    first = ordered[0]
    codes = [p.code for p in ordered if p.user_id == first.user_id and p.role == first.role]
    name = names.get(first.user_id, "?")
    target = ("lead_id" if first.role == eligibility.LEAD else "co_lead_id") if context == "assign" else field
    if codes == [eligibility.OVERLAPPING_MEETING]:
        return _clash(name, context, target)
    role_name = _("lead") if first.role == eligibility.LEAD else _("co-lead")
    reasons = " ".join(leader_problem_text(code) for code in codes)
    if context == "assign":
        message = _("%(name)s cannot be %(role)s of this meeting: %(reasons)s", name=name, role=role_name,
                    reasons=reasons)
    else:
        message = _("%(name)s cannot be %(role)s of this meeting on %(date)s: %(reasons)s", name=name,
                    role=role_name, date=format_date(local_date(meeting.starts_at), "medium"), reasons=reasons)
    if context == "record":
        message = _("Recording a meeting as held requires eligible leaders on that date. %(detail)s",
                    detail=message)
    return EligibilityError(message, codes, target)


def leader_problem_text(code: str) -> str:
    """A sentence for a leader's problem code: the eligibility texts of accounts, and the leader role."""
    if code == rules.NO_LEADER_ROLE:
        return _("They do not hold the leader role, so they cannot open the meeting's pages.")
    return problem_text(code)


def problem_message(problem: rules.Problem, name: str | None = None) -> str:
    """A problem of a meeting as a short sentence for its schedule, the coordinator's home page and the API.

    "Lead no longer eligible on this date: Leader Li. The training is no longer valid on this date."
    """
    meeting_level = {
        rules.NO_LEAD: _("No lead yet."),
        rules.HELD_WITHOUT_LEAD: _("Held without a lead."),
        rules.TOO_MANY_LEADS: _("More than one lead."),
        rules.TOO_MANY_CO_LEADS: _("More than one co-lead."),
        rules.SAME_PERSON_TWICE: _("The same person is lead and co-lead."),
    }
    if problem.user_id is None:
        return meeting_level.get(problem.code, problem.code)
    lead = problem.role == eligibility.LEAD
    if problem.code == eligibility.MEMBER_OF_GROUP:
        headline = _("Lead is a member of the group on this date") if lead else _(
            "Co-lead is a member of the group on this date")
    elif problem.code == eligibility.OVERLAPPING_MEETING:
        headline = _("Lead is booked into an overlapping meeting") if lead else _(
            "Co-lead is booked into an overlapping meeting")
    elif problem.code == eligibility.TRAINEE_NEEDS_QUALIFIED_LEAD:
        headline = _("Co-lead in training without a qualified lead")
    else:
        headline = _("Lead no longer eligible on this date") if lead else _(
            "Co-lead no longer eligible on this date")
    return _("%(headline)s: %(name)s. %(reason)s", headline=headline, name=name or "?",
             reason=leader_problem_text(problem.code))


def problem_messages(meeting: Meeting, problems: Sequence[rules.Problem]) -> list[str]:
    """The meeting's problems as sentences, each naming its leader (leaders as the meeting holds them)."""
    names = {ml.user_id: ml.user.name for ml in meeting.leaders}
    return [problem_message(p, names.get(p.user_id)) for p in problems]


@dataclass
class Flagged:
    """An upcoming meeting that breaks an invariant, with its problems (for the coordinator's home page)."""

    meeting: Meeting
    problems: list[rules.Problem]


def flagged_meetings_of(user_id: int, now: datetime) -> list[Flagged]:
    """The person's scheduled meetings from `now` on (as lead or co-lead) that break an invariant, soonest first.

    Called after a change that keeps its data and flags instead of refusing (a training record edited,
    un-verified or deleted, the leader role removed, a deactivation), to say how many meetings it affected.
    """
    meetings = db.session.scalars(
        sa.select(Meeting)
        .where(Meeting.status == "scheduled", Meeting.starts_at >= now,
               Meeting.id.in_(sa.select(MeetingLeader.meeting_id).where(MeetingLeader.user_id == user_id)))
        .order_by(Meeting.starts_at, Meeting.id)
    ).all()
    found = problems_for(meetings)
    return [Flagged(m, found[m.id]) for m in meetings if rules.blocking(m.status, found[m.id])]


def check_membership(group: Group, user: User, joined_on: date) -> None:
    """Refuse a membership of the group from `joined_on` while the person leads a scheduled or held meeting of the
    group on a date it would cover (its local date on or after `joined_on`).

    Call after the membership is flushed (programme.services.add_member does, in a savepoint).
    Raises InvariantError (rule member_of_group) naming the first such meeting.
    """
    meetings = db.session.scalars(
        sa.select(Meeting)
        .where(Meeting.group_id == group.id, Meeting.status.in_(rules.LIVE_STATUSES),
               Meeting.starts_at >= to_utc(joined_on, time(0)),
               Meeting.id.in_(sa.select(MeetingLeader.meeting_id).where(MeetingLeader.user_id == user.id)))
        .order_by(Meeting.starts_at, Meeting.id)
    ).all()
    found = problems_for(meetings)
    for meeting in meetings:
        if any(p.code == eligibility.MEMBER_OF_GROUP and p.user_id == user.id for p in found[meeting.id]):
            raise InvariantError(
                _("%(name)s leads this group's meeting of %(date)s, so cannot be a member of it from %(joined)s: "
                  "a person never leads a group they are a member of.", name=user.name,
                  date=format_date(local_date(meeting.starts_at), "medium"), joined=format_date(joined_on, "medium")),
                eligibility.MEMBER_OF_GROUP, field="user_id",
            )


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
    """A one-off meeting outside the rule, with no leaders yet (flagged "no lead yet" until they are assigned).

    Raises DomainError for bad values; the invariants are checked like every writer's (keeping_invariants).
    """
    duration_minutes = duration_minutes or group.duration_minutes
    mode = mode or group.mode
    _check_meeting_fields(duration_minutes, mode)
    starts_at = to_utc(day, at)
    meeting = Meeting(
        group_id=group.id, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=duration_minutes), mode=mode,
        location=location if location is not None else group.location,
        video_link=video_link if video_link is not None else group.video_link, edited=True,
    )
    with keeping_invariants(meeting, field="day", context="add"):
        db.session.add(meeting)
    record_action(actor, "meeting_added", meeting, group_id=group.id, starts_at=starts_at)
    return meeting


def _require_scheduled(meeting: Meeting) -> None:
    if meeting.status != "scheduled":
        raise Conflict(_("Only a scheduled meeting can be changed this way; this one is %(status)s.",
                         status=status_label(meeting.status)))


def status_label(status: str) -> str:
    return {"scheduled": _("scheduled"), "held": _("held"), "cancelled": _("cancelled")}.get(status, status)


def _reason(reason: str | None) -> str:
    """A reason members will see: given, without patient identifiers, kept to 500 characters. Raises DomainError."""
    reason = (reason or "").strip()[:500]
    if not reason:
        raise DomainError(_("Give a reason: members will see it."), field="reason")
    _check_deidentified(reason, "reason")
    return reason


def reschedule_meeting(
    actor: User | None, meeting: Meeting, *, day: date, at: time, duration_minutes: int, reason: str,
    mode: str | None = None, location: str | None = None, video_link: str | None = None,
) -> None:
    """Move or change one meeting, with a reason members will see (checked for patient identifiers).

    Its leaders must stay eligible on the new local date and free at the new time (every invariant is checked
    again). Raises Conflict when the meeting is not scheduled, ClashError (409) when a leader would be booked
    twice, EligibilityError (422) when a leader is not eligible on the new date, DomainError for bad values.
    """
    _require_scheduled(meeting)
    reason = _reason(reason)
    mode = mode or meeting.mode
    _check_meeting_fields(duration_minutes, mode)
    starts_at = to_utc(day, at)
    ends_at = starts_at + timedelta(minutes=duration_minutes)
    before = meeting.starts_at
    with keeping_invariants(meeting, field="day", context="reschedule"):
        meeting.starts_at, meeting.ends_at, meeting.mode = starts_at, ends_at, mode
        if location is not None:
            meeting.location = location or None
        if video_link is not None:
            meeting.video_link = video_link or None
        meeting.change_reason = reason
        meeting.edited = True
        meeting.sequence += 1
    record_action(actor, "meeting_rescheduled", meeting, before=before, after=starts_at, reason=reason)


def cancel_meeting(actor: User | None, meeting: Meeting, reason: str) -> None:
    """Cancel a scheduled meeting with a reason members will see (checked for patient identifiers); calendars show
    it as cancelled. A cancelled meeting is bound by no invariant. Raises Conflict/DomainError."""
    _require_scheduled(meeting)
    reason = _reason(reason)
    meeting.status = "cancelled"
    meeting.cancel_reason = reason
    meeting.edited = True
    meeting.sequence += 1
    db.session.flush()
    record_action(actor, "meeting_cancelled", meeting, reason=reason)


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


def assign_leaders(actor: User | None, meeting: Meeting, lead: User | None, co_lead: User | None = None) -> None:
    """Make `lead` the meeting's lead and `co_lead` its co-lead (None removes the co-lead).

    Every invariant of the meeting is checked on the result (keeping_invariants). Raises EligibilityError (a rule
    of DOMAIN.md, 422) or ClashError (overlapping meeting, 409), naming the rule; Conflict for a cancelled meeting.
    """
    if meeting.status == "cancelled":
        raise Conflict(_("A cancelled meeting takes no leaders."))
    if lead is None:
        raise DomainError(_("Every meeting has exactly one lead: choose one."), field="lead_id")
    if co_lead is not None and co_lead.id == lead.id:
        raise DomainError(_("The lead and the co-lead must be two different people."), field="co_lead_id")
    before = {ml.role: ml.user_id for ml in meeting.leaders}
    wanted = {eligibility.LEAD: lead, eligibility.CO_LEAD: co_lead}
    with keeping_invariants(meeting, field="lead_id", context="assign", people=[lead.id, getattr(co_lead, "id", None)]):
        for ml in list(meeting.leaders):
            if wanted.get(ml.role) is None or wanted[ml.role].id != ml.user_id:
                meeting.leaders.remove(ml)
        db.session.flush()
        have = {ml.role for ml in meeting.leaders}
        for role, user in wanted.items():
            if user is not None and role not in have:
                meeting.leaders.append(MeetingLeader(user_id=user.id, role=role, user=user))
        after = {role: (user.id if user else None) for role, user in wanted.items()}
        if before != {k: v for k, v in after.items() if v is not None}:
            meeting.sequence += 1
    record_action(actor, "leaders_assigned", meeting, lead_id=lead.id, co_lead_id=co_lead.id if co_lead else None)


@dataclass
class SeriesAssignment:
    """The outcome of assigning one person to a whole series."""

    assigned: list[Meeting] = field(default_factory=list)
    refused: list[tuple[Meeting, str]] = field(default_factory=list)


def assign_series(actor: User | None, group: Group, user: User, role: str, since: datetime) -> SeriesAssignment:
    """Assign the user as lead or co-lead to every scheduled meeting of the group from `since` on.

    Each meeting that cannot take them is listed with the reason (the rule it would break); the others are
    assigned, each through assign_leaders.
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
        if lead is None:
            result.refused.append((meeting, _("It has no lead yet: assign a lead first.")))
            continue
        try:
            assign_leaders(actor, meeting, lead, co_lead)  # each in a savepoint of its own
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
    """Eligible leaders free at the meeting's time, fairest first (fewest meetings led in the last 90 days).

    Judged by the same rule as assigning (rules.meeting_problems), in a fixed number of statements.
    """
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
    day = local_date(meeting.starts_at)
    members = set(db.session.scalars(
        sa.select(Membership.user_id).where(
            Membership.group_id == meeting.group_id, Membership.joined_on <= day,
            sa.or_(Membership.left_on.is_(None), Membership.left_on >= day),
        )
    ))
    busy = set(db.session.scalars(
        sa.select(MeetingLeader.user_id).join(Meeting, Meeting.id == MeetingLeader.meeting_id).where(
            Meeting.id != meeting.id, Meeting.status != "cancelled",
            Meeting.starts_at < meeting.ends_at, Meeting.ends_at > meeting.starts_at,
        )
    ))
    lead = meeting.lead

    def facts(user: User, role: str) -> rules.LeaderFacts:
        return rules.LeaderFacts(
            user_id=user.id, role=role, active=user.active, records=tuple(user.training_records),
            holds_leader_role=user.has_role("leader"), member_of_group=user.id in members,
            overlapping=user.id in busy,
        )

    found = []
    for user in candidates:
        if as_role == eligibility.LEAD:
            leaders = [facts(user, eligibility.LEAD)]
        elif lead is None:  # judged alone: a leader in training needs a qualified lead first
            leaders = [facts(user, eligibility.CO_LEAD)]
        elif user.id == lead.id:
            continue
        else:
            leaders = [facts(lead, eligibility.LEAD), facts(user, eligibility.CO_LEAD)]
        if not any(p.user_id == user.id for p in rules.meeting_problems("scheduled", day, leaders)):
            found.append(Suggestion(user, counts.get(user.id, 0)))
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
