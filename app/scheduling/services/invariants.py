"""The meeting invariants: facts read from the database for many meetings at once, judged by
rules.meeting_problems; the savepoint every writer changes a meeting in; the refusals and flags in words.
They flush, never commit."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from app.accounts import rules as eligibility
from app.accounts.models import RoleAssignment, TrainingRecord, User
from app.accounts.services import problem_text
from app.errors import Conflict, DomainError
from app.extensions import db
from app.programme.models import Group, Membership
from app.scheduling import rules
from app.scheduling.models import BOOKING_CONSTRAINT, Meeting, MeetingLeader
from app.timeutil import local_date, local_zone, to_utc


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


@dataclass(frozen=True)
class Booking:
    """What the invariants read of a meeting: its id, group, status, times and leaders ((user id, role), ...).

    Pages that judge many meetings build these from plain rows (no ORM objects); writers from the Meeting they
    changed (`Booking.of`), as the session holds it after the flush."""

    id: int
    group_id: int
    status: str
    starts_at: datetime
    ends_at: datetime
    leaders: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, meeting: Meeting) -> Booking:
        return cls(meeting.id, meeting.group_id, meeting.status, meeting.starts_at, meeting.ends_at,
                   tuple((ml.user_id, ml.role) for ml in meeting.leaders))


def problems_for(meetings: Sequence[Meeting]) -> dict[int, list[rules.Problem]]:
    """Every invariant each meeting breaks (rules.meeting_problems), keyed by meeting id; empty lists for none.

    The facts are read for the whole list at once in at most four statements (people, training records,
    memberships, overlapping bookings), whatever the number of meetings: pages flag a page of meetings, writers
    check the one meeting they changed after flushing it. Changes must be flushed first.
    """
    return judge([Booking.of(m) for m in meetings])


def _among(column, ids: Sequence[int]):
    """`column IN ids`; on PostgreSQL `column = ANY(:array)`, one parameter however many ids (thousands of
    meetings or people cost the driver and the planner far less than thousands of parameters)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.literal(list(ids), type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(list(ids))


among = _among  # for the queries that read many meetings by id (scheduling.queries)


def judge(bookings: Sequence[Booking]) -> dict[int, list[rules.Problem]]:
    """problems_for over Bookings: the same facts, the same four statements at most."""
    result: dict[int, list[rules.Problem]] = {b.id: [] for b in bookings}
    live = [b for b in bookings if b.status in rules.LIVE_STATUSES]
    user_ids = sorted({uid for b in live for uid, _role in b.leaders})
    of_users, of_groups = user_ids, sorted({b.group_id for b in live})
    people: dict[int, tuple[bool, bool]] = {}
    records: dict[int, list[eligibility.Training]] = {uid: [] for uid in user_ids}
    memberships: dict[tuple[int, int], list[tuple[date, date | None]]] = {}
    overlapping: set[tuple[int, int]] = set()
    if user_ids:
        holds_role = sa.exists().where(RoleAssignment.user_id == User.id, RoleAssignment.role == "leader")
        people = {
            uid: (bool(active), bool(leader))
            for uid, active, leader in db.session.execute(
                sa.select(User.id, User.active, holds_role).where(_among(User.id, of_users))
            )
        }
        for uid, level, completed_on, valid_until, verified_at in db.session.execute(
            sa.select(TrainingRecord.user_id, TrainingRecord.level, TrainingRecord.completed_on,
                      TrainingRecord.valid_until, TrainingRecord.verified_at)
            .where(_among(TrainingRecord.user_id, of_users))
        ):
            records.setdefault(uid, []).append(
                eligibility.Training(level, completed_on, valid_until, verified_at is not None))
        for gid, uid, joined_on, left_on in db.session.execute(
            sa.select(Membership.group_id, Membership.user_id, Membership.joined_on, Membership.left_on)
            .where(_among(Membership.user_id, of_users), _among(Membership.group_id, of_groups))
        ):
            memberships.setdefault((gid, uid), []).append((joined_on, left_on))
        overlapping = _overlapping_bookings([b for b in live if b.leaders])
    zone = local_zone()
    for booking in live:
        day = local_date(booking.starts_at, zone)
        facts = [
            rules.LeaderFacts(
                user_id=uid, role=role, active=people.get(uid, (False, False))[0],
                records=tuple(records.get(uid, ())),
                holds_leader_role=people.get(uid, (False, False))[1],
                member_of_group=any(rules.membership_covers(joined, left, day)
                                    for joined, left in memberships.get((booking.group_id, uid), ())),
                overlapping=(booking.id, uid) in overlapping,
            )
            for uid, role in booking.leaders
        ]
        result[booking.id] = rules.meeting_problems(booking.status, day, facts)
    return result


def _overlapping_bookings(bookings: Sequence[Booking]) -> set[tuple[int, int]]:
    """(meeting id, user id) pairs: the user leads that meeting and another live one overlapping it (one query).

    Both sides are read from the live bookings between the earliest start and the latest end of these meetings
    (an index range on meetings.starts_at): an overlapping meeting starts before the latest end and, lasting at
    most 480 minutes (the services refuse longer), less than a day before the earliest start. Joining each
    leader's whole history instead costs hundreds of rows per leader.
    """
    if not bookings:
        return set()
    earliest, latest = min(b.starts_at for b in bookings), max(b.ends_at for b in bookings)
    query = _overlap_query(db.session.get_bind().dialect.name)
    params = {"latest": latest, "after": earliest - timedelta(days=1), "ids": [b.id for b in bookings]}
    return {(mid, uid) for mid, uid in db.session.execute(query, params)}


_OVERLAP_QUERIES: dict[str, sa.Select] = {}


def _overlap_query(dialect: str) -> sa.Select:
    """_overlapping_bookings' statement, built once per dialect with bind parameters (:latest, :after, :ids):
    building and keying the aliased self-join anew on every check cost more than running it."""
    query = _OVERLAP_QUERIES.get(dialect)
    if query is None:
        meetings, leaders = Meeting.__table__, MeetingLeader.__table__
        window = (
            sa.select(leaders.c.meeting_id, leaders.c.user_id, meetings.c.starts_at, meetings.c.ends_at)
            .join(meetings, meetings.c.id == leaders.c.meeting_id)
            .where(meetings.c.status != "cancelled", meetings.c.starts_at < sa.bindparam("latest"),
                   meetings.c.starts_at > sa.bindparam("after"))
            .cte("window")
        )
        mine, theirs = window.alias("mine"), window.alias("theirs")
        if dialect == "postgresql":  # as _among: one array parameter however many meetings
            among = mine.c.meeting_id == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.Integer)))
        else:
            among = mine.c.meeting_id.in_(sa.bindparam("ids", expanding=True))
        query = (
            sa.select(mine.c.meeting_id, mine.c.user_id)
            .join(theirs, sa.and_(theirs.c.user_id == mine.c.user_id, theirs.c.meeting_id != mine.c.meeting_id,
                                  theirs.c.starts_at < mine.c.ends_at,
                                  theirs.c.ends_at > mine.c.starts_at))  # overlaps
            .where(among)
            .distinct()
        )
        _OVERLAP_QUERIES[dialect] = query
    return query


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

