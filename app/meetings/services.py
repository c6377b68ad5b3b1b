"""Recording meetings, leader notes, supervision, phase plans. They flush, never commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.audit.services import record_action
from app.errors import Conflict, DomainError, NotAllowed
from app.extensions import db
from app.feedback.models import FeedbackRound, RoundMeeting
from app.feedback.services import rounds as feedback
from app.meetings import identifiers, rules
from app.meetings.models import (
    ATTENDANCE,
    NOTE_KINDS,
    Attendance,
    FacilitationPlan,
    LeaderNote,
    LiveState,
    MeetingRecord,
    Supervision,
    Theme,
)
from app.programme.models import Group, Membership
from app.programme.queries import membership_on
from app.scheduling.models import Meeting
from app.scheduling.services import ClashError, InvariantError, keeping_invariants
from app.timeutil import local_date, to_utc

SUMMARY_MAX = 4000


@dataclass
class Recorded:
    """What recording did: the rounds it opened (normally none or one) and whether it corrected a record."""

    opened_rounds: list[FeedbackRound] = field(default_factory=list)
    corrected: bool = False


# --- guards ----------------------------------------------------------------------------------

def identifier_message(text: str | None) -> str | None:
    """A translated sentence naming what to remove when the text holds patient identifiers, else None."""
    findings = identifiers.find_identifiers(text)
    if not findings:
        return None
    names = {
        identifiers.RESIDENT_ID: _("a resident ID number"),
        identifiers.MOBILE: _("a mobile number"),
        identifiers.RECORD_NUMBER: _("a medical record, admission or outpatient number"),
        identifiers.BED: _("a bed number"),
        identifiers.BIRTH_DATE: _("a date of birth"),
    }
    parts = [f"{names.get(f.kind, _('a patient identifier'))} (“{f.text}”)" for f in findings]
    return _("Records hold no patient identifiers. Remove %(what)s.", what=_(", ").join(parts))


def check_deidentified(text: str | None, field_name: str) -> None:
    """Raise DomainError naming what to remove when the text looks like it holds a patient identifier."""
    message = identifier_message(text)
    if message:
        raise DomainError(message, field=field_name)


def _lock_group(group_id: int) -> None:
    """Serialise records of one group: on PostgreSQL lock its row (SQLite writers already hold the lock)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(Group.id).where(Group.id == group_id).with_for_update())


def current_members(group_id: int, day: date) -> list[User]:
    """Members of the group on that day, by name."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.group_id == group_id, membership_on(day))
            .order_by(User.name)
        )
    )


class Member(NamedTuple):
    """A member as the record form and its checks need them: id and name, read as a plain row."""

    id: int
    name: str


def members_on(group_id: int, day: date) -> list[Member]:
    """current_members as plain (id, name) rows: one statement, no User objects (nor their roles) loaded."""
    return [
        Member(uid, name)
        for uid, name in db.session.execute(
            sa.select(User.id, User.name)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.group_id == group_id, membership_on(day))
            .order_by(User.name)
        )
    ]


# --- recording -------------------------------------------------------------------------------

def record_meeting(
    actor: User | None,
    meeting: Meeting,
    *,
    status: str,
    now: datetime,
    started_on: date | None = None,
    started_at: time | None = None,
    duration_minutes: int | None = None,
    mode: str | None = None,
    attendance: dict[int, str] | None = None,
    guest_count: int = 0,
    presenter_id: int | None = None,
    theme_ids: list[int] | None = None,
    summary: str | None = None,
    cancel_reason: str | None = None,
) -> Recorded:
    """Record a meeting as held (with attendance, presenter, themes, summary) or cancelled (with a reason).

    Recording again corrects the record (audited with what changed). A held record that completes a
    set of `feedback_interval` uncovered held meetings opens the group's next feedback round in this
    same transaction. Raises DomainError (field named) for anything invalid, Conflict for a held
    record before the meeting's start. Held, the meeting must keep every invariant of scheduling.rules
    (checked through scheduling.services.keeping_invariants): InvariantError (rule held_without_lead) without
    a lead, EligibilityError when a leader is not eligible on its local date, ClashError (409) when a leader
    is in another live meeting at that time (a cancelled meeting corrected back to held included).
    Cancel reasons are checked for patient identifiers.
    """
    if status not in ("held", "cancelled"):
        raise DomainError(_("Choose held or cancelled."), field="status")
    _lock_group(meeting.group_id)
    # The session holds objects weakly: refreshing the meeting drops its leader rows, and a leader nobody else
    # holds (a co-lead; the signed-in lead is held by the request) would be loaded again with its roles —
    # a statement count that depended on who leads. Holding them keeps it the same for every meeting.
    held_leaders = [ml.user for ml in meeting.leaders]
    db.session.refresh(meeting)
    del held_leaders
    group = meeting.group
    was = meeting.status
    before = _snapshot(meeting)
    result = Recorded(corrected=was != "scheduled")  # recording a held or cancelled meeting again corrects it

    if status == "cancelled":
        reason = (cancel_reason or "").strip()
        if not reason:
            raise DomainError(_("Give the reason the meeting did not take place."), field="cancel_reason")
        check_deidentified(reason, "cancel_reason")
        meeting.record_cancelled(reason[:500])
        if was == "held":
            round_meeting = db.session.scalar(sa.select(RoundMeeting).where(RoundMeeting.meeting_id == meeting.id))
            if round_meeting is not None:
                feedback.mark_correction(round_meeting.round, meeting)
    else:
        meeting.require_started(now)  # a meeting not yet begun is refused before anything sent is read
        # Held, the meeting must keep every invariant on its local date: an eligible lead, leaders free of
        # other live meetings at that time (a cancelled meeting corrected back to held included), none a member.
        # Correcting the record of a meeting already held (attendance, summary) changes neither its leaders nor
        # its time: a problem it had before (its lead has since left) does not block the correction.
        def change() -> None:
            _record_held(meeting, group, started_on, started_at, duration_minutes, mode, attendance or {},
                         guest_count, presenter_id, theme_ids or [], summary, actor)
            meeting.record_held(now)

        _held_keeping_invariants(meeting, change, correcting=was == "held")
    db.session.flush()
    after = _snapshot(meeting)
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    record_action(actor, "meeting_corrected" if result.corrected else "meeting_recorded", meeting,
                  status=status, changes=changes if result.corrected else None)
    if meeting.status == "held":
        result.opened_rounds = feedback.open_due_rounds(actor, group, now)
    return result


def _held_keeping_invariants(meeting: Meeting, change: Callable[[], None], *, correcting: bool) -> None:
    """Make `change` (recording the meeting as held) in keeping_invariants, with the record's wording.

    A correction of a held record tolerates the problems the meeting had before the change (its lead has since
    left) and refuses only those the change brings, which takes reading the invariants' facts twice, before and
    after. When the meeting breaks no invariant after the change there is nothing to tolerate, so a correction
    is first made strictly (facts read once, after the change); only when that is refused (its savepoint rolled
    back, nothing kept) is it made again from the start with the before-and-after check. Every record is thus
    judged after its change, and a correction is kept exactly when the tolerant check alone would keep it.
    """
    if correcting:
        try:
            with keeping_invariants(meeting, field="status", context="record"):
                change()
            return
        except (InvariantError, ClashError):
            pass  # a problem after the change: judged again below, tolerating what the meeting already broke
    with keeping_invariants(meeting, field="status", context="record", tolerate_existing=correcting):
        change()


def _record_held(meeting, group, started_on, started_at, duration_minutes, mode, attendance, guest_count,
                 presenter_id, theme_ids, summary, actor) -> None:
    duration_minutes = duration_minutes or meeting.duration_minutes
    if not isinstance(duration_minutes, int) or not 5 <= duration_minutes <= 600:
        raise DomainError(_("Duration must be between 5 and 600 minutes."), field="duration_minutes")
    mode = mode or meeting.mode
    if mode not in ("onsite", "online", "hybrid"):
        raise DomainError(_("Unknown meeting mode."), field="mode")
    if not isinstance(guest_count, int) or not 0 <= guest_count <= 50:
        raise DomainError(_("Guests must be between 0 and 50."), field="guest_count")
    started = meeting.starts_at
    if started_on is not None and started_at is not None:
        started = to_utc(started_on, started_at)
    day = local_date(meeting.starts_at)
    members = {u.id: u for u in members_on(group.id, day)}
    unknown = [uid for uid in attendance if uid not in members]
    if unknown:
        raise DomainError(_("Attendance can be recorded only for members of the group on the meeting's date."),
                          field="attendance")
    bad = [s for s in attendance.values() if s not in ATTENDANCE]
    if bad:
        raise DomainError(_("Attendance is present, absent or excused."), field="attendance")
    missing = [u.name for uid, u in members.items() if uid not in attendance]
    if missing:
        raise DomainError(_("Say for every member whether they were present, absent or excused: %(names)s.",
                            names=", ".join(missing)), field="attendance")
    present = {uid for uid, s in attendance.items() if s == "present"}
    if presenter_id is not None and presenter_id not in present:
        raise DomainError(_("The presenter must be one of the members present."), field="presenter_id")
    summary = (summary or "").strip() or None
    if summary and len(summary) > SUMMARY_MAX:
        raise DomainError(_("Keep the summary under %(n)s characters.", n=SUMMARY_MAX), field="summary")
    check_deidentified(summary, "summary")
    themes = []
    if theme_ids:
        themes = db.session.scalars(sa.select(Theme).where(Theme.id.in_(set(theme_ids)))).all()
        if len(themes) != len(set(theme_ids)):
            raise DomainError(_("Choose themes from the list."), field="theme_ids")

    recorded_by_id = getattr(actor, "id", None)  # read first: an expired actor loads (and autoflushes)
    record = meeting.record or MeetingRecord(meeting=meeting)
    record.started_at = started
    record.duration_minutes = duration_minutes
    record.mode = mode
    record.presenter_id = presenter_id
    record.summary = summary
    record.guest_count = guest_count
    record.recorded_by_id = recorded_by_id
    db.session.add(record)
    existing = {a.user_id: a for a in meeting.attendances}
    for uid, state in attendance.items():
        if uid in existing:
            existing[uid].status = state
        else:
            meeting.attendances.append(Attendance(user_id=uid, status=state))
    meeting.themes = list(themes)


def _snapshot(meeting: Meeting) -> dict:
    record = meeting.record
    values = {"status": meeting.status, "cancel_reason": meeting.cancel_reason}
    if record is not None:
        values.update(
            started_at=record.started_at.isoformat(), duration_minutes=record.duration_minutes, mode=record.mode,
            presenter_id=record.presenter_id, summary=record.summary, guest_count=record.guest_count,
        )
    values["attendance"] = {str(a.user_id): a.status for a in meeting.attendances}
    values["themes"] = sorted(t.code for t in getattr(meeting, "themes", []) or [])
    return values


# --- presenters, phases, live state ----------------------------------------------------------

def last_presented(group_id: int, user_ids: list[int]) -> dict[int, datetime]:
    """When each of these members last presented a case in this group's held meetings."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        sa.select(MeetingRecord.presenter_id, sa.func.max(Meeting.starts_at))
        .join(Meeting, Meeting.id == MeetingRecord.meeting_id)
        .where(Meeting.group_id == group_id, Meeting.status == "held", MeetingRecord.presenter_id.in_(user_ids))
        .group_by(MeetingRecord.presenter_id)
    ).all()
    return {uid: when for uid, when in rows}


def suggested_presenters(meeting: Meeting, present_ids: list[int] | None = None, *,
                         members: list[User] | list[Member] | None = None,
                         last: dict[int, datetime] | None = None) -> list[User] | list[Member]:
    """Members (those present, when given) who presented least recently first.

    `members` (current_members or members_on the meeting's date; the same kind comes back) and `last`
    (last_presented for them) spare the statements when the caller has read them already.
    """
    if members is None:
        members = current_members(meeting.group_id, local_date(meeting.starts_at))
    ids = [u.id for u in members if present_ids is None or u.id in present_ids]
    order = rules.presenter_order(ids, last if last is not None else last_presented(meeting.group_id, ids))
    by_id = {u.id: u for u in members}
    return [by_id[uid] for uid in order]


def phase_plan(group: Group, total_minutes: int | None = None) -> list[int]:
    """The group's phase lengths, or the default split of the meeting length."""
    total = total_minutes or group.duration_minutes
    plan = db.session.scalar(sa.select(FacilitationPlan).where(FacilitationPlan.group_id == group.id))
    if plan is not None and not rules.phase_problems(plan.phases, total):
        return list(plan.phases)
    return rules.default_phases(total)


def save_phase_plan(actor: User | None, group: Group, phases: list[int]) -> FacilitationPlan:
    """Set the group's phase lengths; they must sum to the group's meeting length. Raises DomainError."""
    problems = rules.phase_problems(phases, group.duration_minutes)
    if problems:
        raise DomainError(_("Give five phases of at least one minute that add up to %(n)s minutes.",
                            n=group.duration_minutes), field="phases")
    plan = db.session.scalar(sa.select(FacilitationPlan).where(FacilitationPlan.group_id == group.id))
    plan = plan or FacilitationPlan(group_id=group.id, phases=[])
    plan.phases = list(phases)
    db.session.add(plan)
    db.session.flush()
    record_action(actor, "phases_saved", group, phases=list(phases))
    return plan


LIVE_KEYS = {"present", "presenter_id", "phase", "phase_started_at", "phase_log", "started_at", "saved_at"}


def save_live_state(meeting: Meeting, state: dict) -> LiveState:
    """Keep the live view's state (check-in, presenter, phase timings); unknown keys are dropped.

    Raises DomainError when the state is not an object or holds ids of people outside the group.
    """
    if not isinstance(state, dict):
        raise DomainError(_("The live state could not be read."))
    clean = {k: v for k, v in state.items() if k in LIVE_KEYS}
    members = {u.id for u in current_members(meeting.group_id, local_date(meeting.starts_at))}
    present = clean.get("present", [])
    if not isinstance(present, list) or any(not isinstance(uid, int) or uid not in members for uid in present):
        raise DomainError(_("Check-in holds someone who is not a member of the group."), field="present")
    presenter = clean.get("presenter_id")
    if presenter is not None and (not isinstance(presenter, int) or presenter not in members):
        raise DomainError(_("The presenter must be a member of the group."), field="presenter_id")
    live = db.session.scalar(sa.select(LiveState).where(LiveState.meeting_id == meeting.id))
    live = live or LiveState(meeting_id=meeting.id, state={})
    live.state = clean
    db.session.add(live)
    db.session.flush()
    return live


def live_state(meeting: Meeting) -> dict:
    live = db.session.scalar(sa.select(LiveState).where(LiveState.meeting_id == meeting.id))
    return dict(live.state) if live else {}


LIVE_ENDED = "ended"  # the live state's `phase` once the leader has closed the last phase
LIVE_LOG_MAX = 50  # phase-log entries kept (five per meeting; room for a page that was restarted)


@dataclass
class LiveView:
    """What the live facilitation page starts from."""

    members: list[User]
    suggestions: list[tuple[User, datetime | None]]  # least recently presented first, with when they last did
    plan: list[int]  # minutes per phase, in the order of rules.PHASES
    state: dict


def live_view(meeting: Meeting) -> LiveView:
    """The live page's starting point: the group's members on the meeting's day, who might present (least
    recently first, with when they last presented), the phase plan for this meeting's length, the saved state.
    """
    members = current_members(meeting.group_id, local_date(meeting.starts_at))
    suggested = suggested_presenters(meeting)
    last = last_presented(meeting.group_id, [u.id for u in suggested])
    return LiveView(
        members=members,
        suggestions=[(u, last.get(u.id)) for u in suggested],
        plan=phase_plan(meeting.group, meeting.duration_minutes),
        state=live_state(meeting),
    )


def _is_moment(value) -> bool:
    """An ISO 8601 date-time as the page writes it (`2031-01-08T06:00:00.000Z`)."""
    if not isinstance(value, str) or len(value) > 40:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _live_timing_readable(state: dict) -> bool:
    phase = state.get("phase")
    if phase is not None and phase not in (*rules.PHASES, LIVE_ENDED):
        return False
    if any(state.get(key) is not None and not _is_moment(state[key]) for key in ("started_at", "phase_started_at")):
        return False
    log = state.get("phase_log", [])
    if not isinstance(log, list) or len(log) > LIVE_LOG_MAX:
        return False
    return all(
        isinstance(entry, dict) and set(entry) <= {"phase", "started_at", "ended_at"}
        and entry.get("phase") in rules.PHASES and _is_moment(entry.get("started_at"))
        and (entry.get("ended_at") is None or _is_moment(entry["ended_at"]))
        for entry in log
    )


def sync_live_state(meeting: Meeting, state: dict, *, now: datetime) -> LiveState:
    """Keep what the live page sends: check-in, presenter, phase timings; `saved_at` is set to `now` (naive UTC).

    The presenter must be one of those checked in, so the record can be pre-filled as it is. Raises
    DomainError when the state cannot be read (not an object, timings that are not ISO date-times, unknown
    phases) or names people outside the group (through save_live_state).
    """
    if not isinstance(state, dict):
        raise DomainError(_("The live state could not be read."))
    present = state.get("present", [])
    if isinstance(present, list):
        if any(not isinstance(uid, int) or isinstance(uid, bool) for uid in present):  # JSON true is not member 1
            raise DomainError(_("Check-in holds someone who is not a member of the group."), field="present")
        present = list(dict.fromkeys(present))
        presenter = state.get("presenter_id")
        if presenter is not None and (isinstance(presenter, bool) or presenter not in present):
            raise DomainError(_("The presenter must be one of the members present."), field="presenter_id")
    if not _live_timing_readable(state):
        raise DomainError(_("The live state could not be read."))
    clean = {**state, "present": present, "saved_at": now.isoformat(timespec="seconds") + "Z"}
    return save_live_state(meeting, clean)


# --- leader notes and supervision ------------------------------------------------------------

def add_leader_note(author: User, meeting: Meeting, kind: str, text: str) -> LeaderNote:
    """A private note of the group's leaders. Raises NotAllowed for anyone else, DomainError for bad text."""
    from app.permissions import can_access_meeting

    if not can_access_meeting(author, meeting, "notes"):
        raise NotAllowed(_("Only the group's leaders keep notes on its meetings."))
    if kind not in NOTE_KINDS:
        raise DomainError(_("Choose the kind of note."), field="kind")
    text = (text or "").strip()
    if not text:
        raise DomainError(_("Write the note."), field="text")
    if len(text) > 10000:
        raise DomainError(_("Keep the note under %(n)s characters.", n=10000), field="text")
    check_deidentified(text, "text")
    note = LeaderNote(meeting_id=meeting.id, author_id=author.id, kind=kind, text=text)
    db.session.add(note)
    db.session.flush()
    return note


def add_supervision(actor: User, leader: User, *, held_on: date, supervisor: str, minutes: int,
                    note: str | None = None) -> Supervision:
    """Supervision a leader received (entered by the leader or a coordinator). Raises DomainError."""
    supervisor = (supervisor or "").strip()
    if not supervisor:
        raise DomainError(_("Name the supervisor."), field="supervisor")
    if not isinstance(minutes, int) or not 5 <= minutes <= 1440:
        raise DomainError(_("Give the length in minutes (5 to 1440)."), field="minutes")
    check_deidentified(note, "note")
    item = Supervision(leader_id=leader.id, held_on=held_on, supervisor=supervisor[:200], minutes=minutes,
                       note=(note or "").strip() or None)
    db.session.add(item)
    db.session.flush()
    record_action(actor, "supervision_added", leader, supervision_id=item.id)
    return item


def add_theme(actor: User, *, code: str, name_en: str, name_zh: str) -> Theme:
    """Extend the controlled theme list. Raises Conflict for a code already used, DomainError for blanks or for a
    name holding a patient identifier."""
    code = (code or "").strip().lower().replace(" ", "_")
    if not code or not name_en.strip() or not name_zh.strip():
        raise DomainError(_("Give a code and the name in both languages."), field="code")
    for text, field_name in ((code, "code"), (name_en, "name_en"), (name_zh, "name_zh")):
        check_deidentified(text, field_name)  # every leader reads theme names on the record form
    if db.session.scalar(sa.select(Theme.id).where(Theme.code == code)) is not None:
        raise Conflict(_("A theme with this code already exists."), field="code")
    theme = Theme(code=code[:40], name_en=name_en.strip()[:120], name_zh=name_zh.strip()[:120])
    db.session.add(theme)
    db.session.flush()
    record_action(actor, "theme_added", theme, code=theme.code)
    return theme


DEFAULT_THEMES = (
    ("difficult_parents", "Difficult parents", "难以沟通的家长"),
    ("death_and_dying", "Death and dying", "死亡与临终"),
    ("aggression", "Aggression", "攻击与暴力"),
    ("boundaries", "Boundaries", "边界"),
    ("colleague_conflict", "Conflict with colleagues", "同事冲突"),
    ("helplessness", "Helplessness", "无力感"),
    ("uncertainty", "Diagnostic uncertainty", "诊断的不确定性"),
    ("child_suffering", "A child's suffering", "患儿的痛苦"),
    ("complaints", "Complaints and blame", "投诉与指责"),
    ("own_life", "When it touches one's own life", "触及自身经历"),
)


def has_themes() -> bool:
    """Whether the theme list has been created (by ensure_default_themes, or by a coordinator)."""
    return db.session.scalar(sa.select(Theme.id).limit(1)) is not None


def ensure_default_themes() -> None:
    """Create the shipped themes that are missing (idempotent; when another request seeds them at the same moment,
    theirs are kept and nothing is raised)."""
    have = set(db.session.scalars(sa.select(Theme.code)))
    try:
        with db.session.begin_nested():
            for code, en, zh in DEFAULT_THEMES:
                if code not in have:
                    db.session.add(Theme(code=code, name_en=en, name_zh=zh))
            db.session.flush()
    except IntegrityError:  # another request seeded them first
        pass


def held_minutes(meeting: Meeting) -> int:
    """The actual length of a held meeting (the record's, else the schedule's)."""
    return meeting.record.duration_minutes if meeting.record else meeting.duration_minutes


# --- reading notes and themes; taking themes out of use --------------------------------------

def leader_notes(meeting: Meeting) -> list[LeaderNote]:
    """The leaders' private notes on a meeting, newest first. Callers check the reader leads the group."""
    return list(db.session.scalars(
        sa.select(LeaderNote).where(LeaderNote.meeting_id == meeting.id)
        .order_by(LeaderNote.created_at.desc(), LeaderNote.id.desc())
    ))


def list_themes(*, active_only: bool = False, also: list[int] | tuple[int, ...] = ()) -> list[Theme]:
    """The theme list by code: every theme, or the active ones plus those with the ids in `also`."""
    query = sa.select(Theme).order_by(Theme.code)
    if active_only:
        query = query.where(sa.or_(Theme.active.is_(True), Theme.id.in_(list(also))))
    return list(db.session.scalars(query))


def set_theme_active(actor: User | None, theme: Theme, active: bool) -> None:
    """Offer a theme on the record form again, or stop offering it (meetings keep the themes they had); audited."""
    if theme.active == bool(active):
        return
    theme.active = bool(active)
    db.session.flush()
    record_action(actor, "theme_reactivated" if active else "theme_deactivated", theme, code=theme.code)
