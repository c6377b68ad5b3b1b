"""Read-only aggregates over meetings: portfolios, certificates, timelines, attendance, feedback rounds.

Every function runs a fixed number of SQL statements whatever the number of meetings: counts and sums
are GROUP BY queries, related rows are eager-loaded. A held meeting always has its record
(services.record_meeting writes both), so "held" here means status held joined to its record.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_sqlalchemy.pagination import Pagination

from app.accounts.models import User
from app.extensions import db
from app.feedback.models import FeedbackRound, RoundMeeting
from app.feedback.services import rounds as feedback
from app.meetings import rules
from app.meetings.models import Attendance, MeetingRecord, Supervision
from app.pagination import paginate
from app.programme.models import Group, Organisation
from app.scheduling.models import Meeting, MeetingLeader
from app.timeutil import local_date

HELD = "held"
PRESENT = "present"


def _present_counts(*where):
    """Per meeting: members present and members recorded (a record gives every expected member a status)."""
    return (
        sa.select(
            Attendance.meeting_id.label("meeting_id"),
            sa.func.sum(sa.case((Attendance.status == PRESENT, 1), else_=0)).label("present"),
            sa.func.count(Attendance.id).label("expected"),
        )
        .where(*where)
        .group_by(Attendance.meeting_id)
    )


def _in_period(column, since: datetime | None, before: datetime | None) -> list:
    """Conditions keeping a naive-UTC column within [since, before) (either end open)."""
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if before is not None:
        conditions.append(column < before)
    return conditions


# --- a leader's portfolio --------------------------------------------------------------------

@dataclass
class LedMeeting:
    """A held meeting the leader led or co-led."""

    meeting_id: int
    started_at: datetime  # naive UTC
    group_id: int
    group_name: str
    role: str  # lead | co_lead
    minutes: int
    present: int
    with_whom: list[str] = field(default_factory=list)


@dataclass
class SupervisionRow:
    """Supervision received (its private note is never part of the portfolio)."""

    held_on: date
    supervisor: str
    minutes: int


@dataclass
class Portfolio:
    """What accreditation bodies ask of a leader: meetings led and co-led, hours, supervision."""

    meetings: list[LedMeeting]
    led: int
    co_led: int
    meeting_minutes: int
    supervisions: list[SupervisionRow]
    supervision_minutes: int

    @property
    def meeting_count(self) -> int:
        return self.led + self.co_led


def has_led(user_id: int) -> bool:
    """Whether the user was ever assigned to lead or co-lead a meeting."""
    return bool(db.session.scalar(sa.select(sa.exists().where(MeetingLeader.user_id == user_id))))


def portfolio(user: User, since: datetime | None = None, before: datetime | None = None) -> Portfolio:
    """The leader's held meetings (newest first) with co-leaders and attendance, totals, and supervision.

    `since` and `before` (naive UTC, local midnights as `local_period_bounds` gives them) limit meetings by
    their actual start and supervision by its local day: [local date of since, local date of before).
    """
    in_period = _in_period(MeetingRecord.started_at, since, before)
    mine = (
        sa.select(MeetingLeader.meeting_id)
        .join(Meeting, Meeting.id == MeetingLeader.meeting_id)
        .join(MeetingRecord, MeetingRecord.meeting_id == Meeting.id)
        .where(MeetingLeader.user_id == user.id, Meeting.status == HELD, *in_period)
    )
    counts = _present_counts(Attendance.meeting_id.in_(mine)).subquery()
    rows = db.session.execute(
        sa.select(
            Meeting.id, MeetingRecord.started_at, Group.id, Group.name, MeetingLeader.role,
            MeetingRecord.duration_minutes, sa.func.coalesce(counts.c.present, 0),
        )
        .select_from(MeetingLeader)
        .join(Meeting, Meeting.id == MeetingLeader.meeting_id)
        .join(MeetingRecord, MeetingRecord.meeting_id == Meeting.id)
        .join(Group, Group.id == Meeting.group_id)
        .outerjoin(counts, counts.c.meeting_id == Meeting.id)
        .where(MeetingLeader.user_id == user.id, Meeting.status == HELD, *in_period)
        .order_by(MeetingRecord.started_at.desc(), Meeting.id.desc())
    ).all()
    meetings = [LedMeeting(*row) for row in rows]

    others = defaultdict(list)
    for meeting_id, name in db.session.execute(
        sa.select(MeetingLeader.meeting_id, User.name)
        .join(User, User.id == MeetingLeader.user_id)
        .where(MeetingLeader.meeting_id.in_(mine), MeetingLeader.user_id != user.id)
        .order_by(MeetingLeader.meeting_id, User.name)
    ):
        others[meeting_id].append(name)
    for item in meetings:
        item.with_whom = others.get(item.meeting_id, [])

    totals = {role: (n, minutes or 0) for role, n, minutes in db.session.execute(
        sa.select(MeetingLeader.role, sa.func.count(), sa.func.sum(MeetingRecord.duration_minutes))
        .join(Meeting, Meeting.id == MeetingLeader.meeting_id)
        .join(MeetingRecord, MeetingRecord.meeting_id == Meeting.id)
        .where(MeetingLeader.user_id == user.id, Meeting.status == HELD, *in_period)
        .group_by(MeetingLeader.role)
    )}

    # Supervision is kept by its local day: the bounds are local midnights, so their local dates bound it
    # (their UTC dates are a day early east of Greenwich: 1 April 00:00 in Beijing is 31 March in UTC).
    supervision_period = []
    if since is not None:
        supervision_period.append(Supervision.held_on >= local_date(since))
    if before is not None:
        supervision_period.append(Supervision.held_on < local_date(before))
    supervisions = [
        SupervisionRow(*row) for row in db.session.execute(
            sa.select(Supervision.held_on, Supervision.supervisor, Supervision.minutes)
            .where(Supervision.leader_id == user.id, *supervision_period)
            .order_by(Supervision.held_on.desc(), Supervision.id.desc())
        )
    ]
    supervision_minutes = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Supervision.minutes), 0))
        .where(Supervision.leader_id == user.id, *supervision_period)
    )
    lead, co_lead = totals.get("lead", (0, 0)), totals.get("co_lead", (0, 0))
    return Portfolio(
        meetings=meetings, led=lead[0], co_led=co_lead[0], meeting_minutes=lead[1] + co_lead[1],
        supervisions=supervisions, supervision_minutes=int(supervision_minutes or 0),
    )


# --- a member's attendance certificate and history -------------------------------------------

@dataclass
class AttendedMeeting:
    """A held meeting the member was present at."""

    started_at: datetime  # naive UTC
    group_name: str
    organisation_id: int
    organisation_name: str
    minutes: int


@dataclass
class Attended:
    """The meetings a member attended in a period and their total length."""

    meetings: list[AttendedMeeting]
    total_minutes: int

    @property
    def organisations(self) -> dict[int, str]:
        """The organisations whose groups the member attended, in order of first meeting."""
        return {m.organisation_id: m.organisation_name for m in self.meetings}


def attended(user: User, since: datetime | None = None, before: datetime | None = None) -> Attended:
    """Held meetings the member was present at (oldest first) and their total minutes, in [since, before)."""
    where = (
        Attendance.user_id == user.id, Attendance.status == PRESENT, Meeting.status == HELD,
        *_in_period(MeetingRecord.started_at, since, before),
    )
    rows = db.session.execute(
        sa.select(MeetingRecord.started_at, Group.name, Organisation.id, Organisation.name,
                  MeetingRecord.duration_minutes)
        .select_from(Attendance)
        .join(Meeting, Meeting.id == Attendance.meeting_id)
        .join(MeetingRecord, MeetingRecord.meeting_id == Meeting.id)
        .join(Group, Group.id == Meeting.group_id)
        .join(Organisation, Organisation.id == Group.organisation_id)
        .where(*where)
        .order_by(MeetingRecord.started_at, Meeting.id)
    ).all()
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(MeetingRecord.duration_minutes), 0))
        .select_from(Attendance)
        .join(Meeting, Meeting.id == Attendance.meeting_id)
        .join(MeetingRecord, MeetingRecord.meeting_id == Meeting.id)
        .where(*where)
    )
    return Attended(meetings=[AttendedMeeting(*row) for row in rows], total_minutes=int(total or 0))


@dataclass
class AttendanceTotals:
    """A member's held meetings by their attendance status, and the minutes they were present."""

    by_status: dict[str, int]
    present_minutes: int

    @property
    def meetings(self) -> int:
        return sum(self.by_status.values())


def my_attendance(user: User, page: int) -> Pagination:
    """One page of the member's attendance at held meetings across groups, newest first."""
    so.configure_mappers()  # Attendance.meeting and Meeting.record are backrefs
    query = (
        sa.select(Attendance)
        .join(Meeting, Meeting.id == Attendance.meeting_id)
        .where(Attendance.user_id == user.id, Meeting.status == HELD)
        .options(so.contains_eager(Attendance.meeting).options(
            so.joinedload(Meeting.group), so.joinedload(Meeting.record),
        ))
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    )
    return paginate(query, page=page)


def attendance_totals(user: User) -> AttendanceTotals:
    """Counts of the member's held meetings per status, and minutes present."""
    by_status, present_minutes = {}, 0
    for status, n, minutes in db.session.execute(
        sa.select(Attendance.status, sa.func.count(), sa.func.sum(MeetingRecord.duration_minutes))
        .join(Meeting, Meeting.id == Attendance.meeting_id)
        .join(MeetingRecord, MeetingRecord.meeting_id == Meeting.id)
        .where(Attendance.user_id == user.id, Meeting.status == HELD)
        .group_by(Attendance.status)
    ):
        by_status[status] = n
        if status == PRESENT:
            present_minutes = int(minutes or 0)
    return AttendanceTotals(by_status=by_status, present_minutes=present_minutes)


# --- a group's timeline and attendance statistics --------------------------------------------

@dataclass
class TimelineEntry:
    """A meeting of the timeline with its attendance and the feedback round it belongs to."""

    meeting: Meeting
    present: int | None = None
    expected: int | None = None
    round_id: int | None = None
    round_number: int | None = None


@dataclass
class Timeline:
    page: Pagination
    entries: list[TimelineEntry]


def timeline(group: Group, now: datetime, page: int) -> Timeline:
    """One page of the group's meetings that have started, newest first, with leaders, record and themes."""
    so.configure_mappers()  # Meeting.record and Meeting.themes are backrefs
    query = (
        sa.select(Meeting)
        .where(Meeting.group_id == group.id, Meeting.starts_at <= now)
        .options(
            so.selectinload(Meeting.leaders).joinedload(MeetingLeader.user),
            so.joinedload(Meeting.record).joinedload(MeetingRecord.presenter),
            so.selectinload(Meeting.themes),
        )
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    )
    result = paginate(query, page=page)
    entries = [TimelineEntry(meeting=m) for m in result.items]
    ids = [m.id for m in result.items]
    if ids:
        by_id = {e.meeting.id: e for e in entries}
        for meeting_id, present, expected in db.session.execute(_present_counts(Attendance.meeting_id.in_(ids))):
            by_id[meeting_id].present, by_id[meeting_id].expected = int(present or 0), expected
        for meeting_id, round_id, number in db.session.execute(
            sa.select(RoundMeeting.meeting_id, FeedbackRound.id, FeedbackRound.number)
            .join(FeedbackRound, FeedbackRound.id == RoundMeeting.round_id)
            .where(RoundMeeting.meeting_id.in_(ids))
        ):
            by_id[meeting_id].round_id, by_id[meeting_id].round_number = round_id, number
    return Timeline(page=result, entries=entries)


@dataclass
class MeetingRate:
    """Attendance at one held meeting."""

    meeting_id: int
    started_at: datetime
    present: int
    expected: int
    presenter: str | None

    @property
    def rate(self) -> float | None:
        return rules.attendance_rate(self.present, self.expected)


@dataclass
class AttendanceStats:
    """A group's attendance: per held meeting, overall, presenters, held and cancelled meetings."""

    meetings: list[MeetingRate]
    by_status: dict[str, int]
    present: int
    expected: int
    presenters: list[tuple[str, int]]  # (name, times presented), most often first

    @property
    def rate(self) -> float | None:
        """Overall rate: everyone present over everyone expected, across the held meetings."""
        return rules.attendance_rate(self.present, self.expected)

    @property
    def distinct_presenters(self) -> int:
        return len(self.presenters)


def attendance_stats(group: Group) -> AttendanceStats:
    """Attendance per held meeting (newest first), overall rate, presenters, and meetings by status."""
    by_status = dict(db.session.execute(
        sa.select(Meeting.status, sa.func.count()).where(Meeting.group_id == group.id).group_by(Meeting.status)
    ).all())
    held = (Meeting.group_id == group.id, Meeting.status == HELD)
    present = sa.func.sum(sa.case((Attendance.status == PRESENT, 1), else_=0))
    meetings = [
        MeetingRate(meeting_id, started_at, int(n_present or 0), expected, presenter)
        for meeting_id, started_at, n_present, expected, presenter in db.session.execute(
            sa.select(Meeting.id, MeetingRecord.started_at, present, sa.func.count(Attendance.id), User.name)
            .join(MeetingRecord, MeetingRecord.meeting_id == Meeting.id)
            .outerjoin(Attendance, Attendance.meeting_id == Meeting.id)
            .outerjoin(User, User.id == MeetingRecord.presenter_id)
            .where(*held)
            .group_by(Meeting.id, MeetingRecord.started_at, User.name)
            .order_by(MeetingRecord.started_at.desc(), Meeting.id.desc())
        )
    ]
    total_present, total_expected = db.session.execute(
        sa.select(present, sa.func.count(Attendance.id))
        .select_from(Attendance)
        .join(Meeting, Meeting.id == Attendance.meeting_id)
        .join(MeetingRecord, MeetingRecord.meeting_id == Meeting.id)
        .where(*held)
    ).one()
    presenters = [
        (name, n) for name, n in db.session.execute(
            sa.select(User.name, sa.func.count())
            .select_from(MeetingRecord)
            .join(Meeting, Meeting.id == MeetingRecord.meeting_id)
            .join(User, User.id == MeetingRecord.presenter_id)
            .where(*held)
            .group_by(User.id, User.name)
            .order_by(sa.func.count().desc(), User.name)
        )
    ]
    return AttendanceStats(meetings=meetings, by_status=by_status, present=int(total_present or 0),
                           expected=int(total_expected or 0), presenters=presenters)


# --- feedback rounds of a group --------------------------------------------------------------

@dataclass
class CoveredMeeting:
    """A meeting a round covers, with its status now (a correction may have cancelled it)."""

    meeting_id: int
    starts_at: datetime
    status: str


@dataclass
class RoundSummary:
    """A round as its group's leaders and coordinators see it."""

    round: FeedbackRound
    meetings: list[CoveredMeeting]
    eligible: int
    responses: int
    corrected: list[CoveredMeeting]


def group_rounds(group: Group) -> list[FeedbackRound]:
    """The group's feedback rounds, newest first."""
    return list(db.session.scalars(
        sa.select(FeedbackRound).where(FeedbackRound.group_id == group.id).order_by(FeedbackRound.number.desc())
    ))


def round_summaries(rounds: list[FeedbackRound]) -> list[RoundSummary]:
    """Covered meetings, eligible members, responses so far and corrections for each round."""
    ids = [r.id for r in rounds]
    if not ids:
        return []
    covered = defaultdict(list)
    for round_id, meeting_id, starts_at, status in db.session.execute(
        sa.select(RoundMeeting.round_id, Meeting.id, Meeting.starts_at, Meeting.status)
        .join(Meeting, Meeting.id == RoundMeeting.meeting_id)
        .where(RoundMeeting.round_id.in_(ids))
        .order_by(Meeting.starts_at, Meeting.id)
    ):
        covered[round_id].append(CoveredMeeting(meeting_id, starts_at, status))
    eligible = defaultdict(list)
    for round_id, user_id in db.session.execute(
        sa.select(RoundMeeting.round_id, Attendance.user_id)
        .join(Attendance, Attendance.meeting_id == RoundMeeting.meeting_id)
        .where(RoundMeeting.round_id.in_(ids), Attendance.status == PRESENT)
        .distinct()
    ):
        eligible[round_id].append(user_id)
    everyone = {uid for uids in eligible.values() for uid in uids}
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(everyone)))} if everyone else {}
    summaries = []
    for feedback_round in rounds:
        meetings = covered.get(feedback_round.id, [])
        corrected_ids = set(feedback.corrected_meeting_ids(feedback_round))
        people = [users[uid] for uid in eligible.get(feedback_round.id, [])]
        summaries.append(RoundSummary(
            round=feedback_round, meetings=meetings, eligible=len(people),
            responses=sum(1 for person in people if feedback.has_responded(feedback_round, person)),
            corrected=[m for m in meetings if m.meeting_id in corrected_ids],
        ))
    return summaries
