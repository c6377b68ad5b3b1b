"""Read-only queries for the scheduling pages and the home page: meeting lists, highlights, people to choose."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_sqlalchemy.pagination import Pagination

from app.accounts import rules as eligibility
from app.accounts.models import RoleAssignment, TrainingRecord, User
from app.extensions import db
from app.pagination import paginate
from app.programme.models import Group, Membership
from app.scheduling import rules
from app.scheduling.holidays import ChinaCalendar, library_knows_year
from app.scheduling.models import HolidayException, HolidayYear, Meeting, MeetingLeader
from app.scheduling.services import MAX_PERIOD_DAYS, Booking, judge, problem_messages, problems_for, rule_of
from app.scheduling.services.invariants import among as among_ids

UPCOMING = "upcoming"
PAST = "past"
HIGHLIGHT_DAYS = 60
RUNNING_FOR_AT_MOST = timedelta(days=2)  # longer than any meeting (a group's meetings last at most 8 hours)
HIGHLIGHT_LIMIT = 50


MAX_PAGE = 100_000  # a larger page number would overflow the database's OFFSET


def _paginate(query, page: int) -> Pagination:
    return paginate(query, page=min(max(page, 1), MAX_PAGE))


def show_of(asked: str | None) -> str:
    """Which meetings a list shows for the ?show= argument: PAST when asked, else UPCOMING (the default)."""
    return PAST if asked == PAST else UPCOMING


def _in_time(query, show: str, now: datetime):
    """Upcoming meetings (not yet over) soonest first, or past ones latest first."""
    if show == PAST:
        return query.where(Meeting.ends_at < now).order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    # The bound on starts_at (no meeting lasts two days) lets the index on starts_at skip ten years of past
    # meetings instead of reading them all to find those not over yet.
    return query.where(Meeting.ends_at >= now, Meeting.starts_at >= now - RUNNING_FOR_AT_MOST).order_by(
        Meeting.starts_at, Meeting.id)


def group_meetings(group: Group, show: str, now: datetime, page: int = 1) -> Pagination:
    """One page of the group's meetings, upcoming or past; leaders come with them (selectin)."""
    query = sa.select(Meeting).where(Meeting.group_id == group.id)
    return _paginate(_in_time(query, show, now), page)


def skipped_dates(group: Group, start: date, until: date) -> list[rules.PlannedDate]:
    """Dates the group's rule names between start and until that the holiday policy left without a meeting.

    Only up to the date meetings were generated to; dates that have a meeting anyway are left out.
    """
    schedule = group.schedule
    if schedule is None or schedule.generated_until is None:
        return []
    until = min(until, schedule.generated_until, start + timedelta(days=MAX_PERIOD_DAYS))
    if until < start:
        return []
    calendar = ChinaCalendar.load(start, until)
    skipped = [p for p in rules.plan(rule_of(schedule), start, until, schedule.holiday_policy, calendar).dates
               if p.skipped]
    if not skipped:
        return []
    have = set(db.session.scalars(
        sa.select(Meeting.rule_date).where(Meeting.group_id == group.id,
                                           Meeting.rule_date.in_([p.nominal for p in skipped]))
    ))
    return [p for p in skipped if p.nominal not in have]


def _mine(user: User):
    """Meetings the user leads or co-leads, and meetings of the groups they are a current member of."""
    member_of = sa.select(Membership.group_id).where(Membership.user_id == user.id, Membership.left_on.is_(None))
    # One set of ids from the user's own rows (their groups' meetings by the group index, their bookings by the
    # user index), not an OR of two subqueries: with the OR, PostgreSQL walked every group's upcoming meetings in
    # time order to find the user's few (6,000 rows at city scale for a member's home).
    mine = sa.union(
        sa.select(Meeting.id).where(Meeting.group_id.in_(member_of)),
        sa.select(MeetingLeader.meeting_id).where(MeetingLeader.user_id == user.id),
    )
    return sa.select(Meeting).where(Meeting.id.in_(mine)).options(so.joinedload(Meeting.group))


def my_meetings(user: User, show: str, now: datetime, page: int = 1) -> Pagination:
    """One page of the user's meetings across groups, upcoming first; cancelled and changed ones included."""
    return _paginate(_in_time(_mine(user), show, now), page)


def my_upcoming(user: User, now: datetime, limit: int = 5) -> list[Meeting]:
    """The user's next few meetings across groups (cancelled ones too, so a change is seen)."""
    # The home page shows each meeting's time, status and notes, not its leaders: they are not loaded.
    query = _in_time(_mine(user), UPCOMING, now).limit(limit).options(so.lazyload(Meeting.leaders))
    return list(db.session.scalars(query))


@dataclass
class FlaggedMeeting:
    """An upcoming meeting that breaks an invariant, with the problems as sentences naming the leader."""

    meeting: Meeting
    problems: list[rules.Problem]
    messages: list[str]


@dataclass
class Highlights:
    """What a coordinator should act on soon: meetings without a lead, and meetings flagged by the invariants
    (a lead no longer eligible on the date, a co-lead in training without a qualified lead, ...)."""

    without_lead: list[Meeting] = field(default_factory=list)
    flagged: list[FlaggedMeeting] = field(default_factory=list)


def _soon(scope: int | None, now: datetime):
    query = (
        sa.select(Meeting)
        .join(Meeting.group)
        .where(
            Meeting.status == "scheduled",
            Meeting.starts_at >= now,
            Meeting.starts_at < now + timedelta(days=HIGHLIGHT_DAYS),
        )
        .options(so.contains_eager(Meeting.group))
        .order_by(Meeting.starts_at, Meeting.id)
    )
    return query.where(Group.organisation_id == scope) if scope is not None else query


def bookings_of(query, *, leaderless: bool = False) -> list[Booking]:
    """The meetings of `query` (a select of Meeting) as Bookings with their leaders, in its order (one statement):
    for scheduling.services.judge, without ORM objects. Meetings without any leader only with `leaderless`."""
    soon = query.subquery("soon")
    bookings: dict[int, Booking] = {}
    leaders: dict[int, list[tuple[int, str]]] = {}
    for mid, gid, status, starts, ends, user_id, role in db.session.execute(
        sa.select(soon.c.id, soon.c.group_id, soon.c.status, soon.c.starts_at, soon.c.ends_at,
                  MeetingLeader.user_id, MeetingLeader.role)
        .join(MeetingLeader, MeetingLeader.meeting_id == soon.c.id, isouter=leaderless)
        .order_by(soon.c.starts_at, soon.c.id, MeetingLeader.id)
    ):
        bookings.setdefault(mid, Booking(mid, gid, status, starts, ends, ()))
        leaders.setdefault(mid, [])
        if user_id is not None:
            leaders[mid].append((user_id, role))
    return [Booking(b.id, b.group_id, b.status, b.starts_at, b.ends_at, tuple(leaders[b.id]))
            for b in bookings.values()]


def coordinator_highlights(scope: int | None, now: datetime, among: Collection[int] | None = None) -> Highlights:
    """Scheduled meetings of the next 60 days (of the scope's organisation) with no lead, or breaking any other
    invariant of scheduling.rules (judged by scheduling.services.judge: a lead or co-lead not eligible on
    the meeting's local date, deactivated, without the leader role, a member of the group, booked twice...).

    A fixed number of statements whatever the number of meetings: the meetings with a lead are judged from plain
    rows (thousands at city scale), and only the flagged ones shown (at most HIGHLIGHT_LIMIT) are loaded whole
    (with `among`, one batch of candidates unless most of the first were fixed since the signals were stored).
    `among`, when given, holds the only meetings that may be flagged (the stored signals of app.trends.signals
    name them): only those are judged, again (soonest first, 2 × HIGHLIGHT_LIMIT at a time, until the list is full),
    so none is shown that no longer breaks an invariant.
    """
    result = Highlights()
    has_lead = sa.exists().where(MeetingLeader.meeting_id == Meeting.id, MeetingLeader.role == eligibility.LEAD)
    result.without_lead = list(db.session.scalars(_soon(scope, now).where(~has_lead).limit(HIGHLIGHT_LIMIT)))
    soon = _soon(scope, now).where(has_lead)
    step = None  # every meeting of the window at once
    if among is not None:
        if not among:
            return result
        # Candidates, soonest first, a few at a time: most still break an invariant, so the first batch
        # usually fills the list, however many the signals flag.
        soon, step = soon.where(among_ids(Meeting.id, sorted(among))), 2 * HIGHLIGHT_LIMIT
    flagged: dict[int, list[rules.Problem]] = {}
    offset = 0
    while True:
        ordered = bookings_of(soon if step is None else soon.limit(step).offset(offset))
        found = judge(ordered)
        for booking in ordered:
            problems = [p for p in found[booking.id] if p.code != rules.NO_LEAD]
            if problems:
                flagged[booking.id] = problems
                if len(flagged) >= HIGHLIGHT_LIMIT:
                    break
        if step is None or len(flagged) >= HIGHLIGHT_LIMIT or len(ordered) < step:
            break
        offset += step
    if flagged:
        meetings = db.session.scalars(
            sa.select(Meeting).where(Meeting.id.in_(list(flagged)))
            .options(so.joinedload(Meeting.group), so.selectinload(Meeting.leaders).joinedload(MeetingLeader.user))
            .order_by(Meeting.starts_at, Meeting.id)
        ).all()
        result.flagged = [FlaggedMeeting(m, flagged[m.id], problem_messages(m, flagged[m.id])) for m in meetings]
    return result


def meeting_flags(meetings) -> dict[int, list[str]]:
    """For the scheduled meetings among these: the invariants each breaks now, as sentences ("Lead no longer
    eligible on this date: ..."), in a fixed number of queries. A missing lead is left to the leaders' column."""
    scheduled = [m for m in meetings if m.status == "scheduled"]
    found = problems_for(scheduled)
    flagged = {m.id: [p for p in found[m.id] if p.code != rules.NO_LEAD] for m in scheduled}
    return {m.id: problem_messages(m, flagged[m.id]) for m in scheduled if flagged[m.id]}


def leader_choices(include_ids: tuple[int, ...] = ()) -> list[User]:
    """People who may be offered as lead or co-lead: active with the leader role or a training record.

    `include_ids` adds people already assigned (so a form shows them even when they no longer qualify).
    Eligibility itself is checked when assigning.
    """
    holds_role = sa.exists().where(RoleAssignment.user_id == User.id, RoleAssignment.role == "leader")
    trained = sa.exists().where(TrainingRecord.user_id == User.id)
    condition = sa.and_(User.active.is_(True), sa.or_(holds_role, trained))
    if include_ids:
        condition = sa.or_(condition, User.id.in_(include_ids))
    return list(db.session.scalars(sa.select(User).where(condition).order_by(User.name, User.id)))


def exceptions_of_year(year: int) -> list[HolidayException]:
    """The days coordinators set by hand in a year, in date order."""
    return list(db.session.scalars(
        sa.select(HolidayException)
        .where(HolidayException.day.between(date(year, 1, 1), date(year, 12, 31)))
        .order_by(HolidayException.day)
    ))


@dataclass
class YearStatus:
    """Whether the app holds a year's official holiday schedule, and where from."""

    year: int
    has_official_schedule: bool
    in_library: bool
    confirmed: HolidayYear | None


def year_statuses(years: list[int]) -> list[YearStatus]:
    """For each year: whether the calendar has its official schedule, from the library or a coordinator."""
    confirmed = {
        y.year: y for y in db.session.scalars(sa.select(HolidayYear).where(HolidayYear.year.in_(years)))
    }
    calendar = ChinaCalendar(confirmed_years=set(confirmed))
    return [
        YearStatus(y, calendar.has_official_schedule(y), library_knows_year(y), confirmed.get(y)) for y in years
    ]
