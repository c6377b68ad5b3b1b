"""Schedules, meetings, meeting leaders, holiday exceptions and calendar feeds."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime, time

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql

from app.errors import Conflict
from app.extensions import db
from app.scheduling.rules import may_record_as_held
from app.timeutil import utcnow

MEETING_STATUSES = ("scheduled", "held", "cancelled")
LEADER_ROLES = ("lead", "co_lead")


def status_label(status: str) -> str:
    """A meeting status (scheduled, held, cancelled) in the reader's language."""
    return {"scheduled": _("scheduled"), "held": _("held"), "cancelled": _("cancelled")}.get(status, status)


class Schedule(db.Model):
    """A group's recurrence rule and how far meetings have been generated from it."""

    __tablename__ = "schedules"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("groups.id", ondelete="CASCADE"), unique=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    weekday: so.Mapped[int]
    weeks: so.Mapped[str] = so.mapped_column(sa.String(20), default="")  # "1,3"; -1 is the last week
    start_on: so.Mapped[date | None]  # the first date of a biweekly series
    start_time: so.Mapped[time]  # local time in the deployment's timezone
    holiday_policy: so.Mapped[str] = so.mapped_column(sa.String(10), default="move")
    generated_until: so.Mapped[date | None]
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    group: so.Mapped[Group] = so.relationship(backref=so.backref("schedule", uselist=False))  # noqa: F821

    __table_args__ = (
        sa.CheckConstraint("kind IN ('nth_weekday', 'biweekly')", name="kind"),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        sa.CheckConstraint("holiday_policy IN ('move', 'skip', 'keep')", name="policy"),
    )

    @property
    def week_list(self) -> tuple[int, ...]:
        return tuple(int(w) for w in self.weeks.split(",") if w.strip())


def _new_uid() -> str:
    return f"{uuid.uuid4().hex}@balint-groups"


class Meeting(db.Model):
    """One meeting of a group: scheduled, held or cancelled. Times are naive UTC.

    Its state changes are the methods below; each refuses a change its status does not allow (Conflict) and
    raises `sequence` when calendars must update the event. They check nothing else: the services validate
    what users send (reasons, durations, patient identifiers) and keep the invariants of leaders and dates
    (scheduling.services.keeping_invariants) around them.
    """

    __tablename__ = "meetings"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("groups.id", ondelete="CASCADE"))
    starts_at: so.Mapped[datetime]
    ends_at: so.Mapped[datetime]
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default="scheduled")
    mode: so.Mapped[str] = so.mapped_column(sa.String(10), default="onsite")
    location: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    video_link: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    # The date the rule named (None for one-off extra meetings); one meeting per rule date and group.
    rule_date: so.Mapped[date | None]
    holiday_note: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    edited: so.Mapped[bool] = so.mapped_column(default=False)
    sequence: so.Mapped[int] = so.mapped_column(default=0)
    uid: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True, default=_new_uid)
    change_reason: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    cancel_reason: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    group: so.Mapped[Group] = so.relationship()  # noqa: F821
    leaders: so.Mapped[list[MeetingLeader]] = so.relationship(
        back_populates="meeting", cascade="all, delete-orphan", lazy="selectin", order_by="MeetingLeader.role.desc()"
    )

    __table_args__ = (
        sa.UniqueConstraint("group_id", "rule_date"),
        sa.Index("ix_meetings_group_starts", "group_id", "starts_at"),
        sa.Index("ix_meetings_starts_status", "starts_at", "status"),
        sa.CheckConstraint("status IN ('scheduled', 'held', 'cancelled')", name="status"),
        sa.CheckConstraint("mode IN ('onsite', 'online', 'hybrid')", name="mode"),
        sa.CheckConstraint("ends_at > starts_at", name="times"),
    )

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    def leader_for(self, role: str):
        return next((ml for ml in self.leaders if ml.role == role), None)

    @property
    def lead(self):
        found = self.leader_for("lead")
        return found.user if found else None

    @property
    def co_lead(self):
        found = self.leader_for("co_lead")
        return found.user if found else None

    # --- state changes ---------------------------------------------------------------------------

    def require_scheduled(self) -> None:
        """Raise Conflict unless the meeting is still scheduled (only then may it be moved, changed or cancelled)."""
        if self.status != "scheduled":
            raise Conflict(_("Only a scheduled meeting can be changed this way; this one is %(status)s.",
                             status=status_label(self.status)))

    def reschedule(self, starts_at: datetime, ends_at: datetime, *, reason: str, mode: str,
                   location: str | None = None, video_link: str | None = None) -> None:
        """Move or change a scheduled meeting, with the reason members see; None keeps the place or link, "" clears
        it. Raises Conflict unless scheduled."""
        self.require_scheduled()
        self.starts_at, self.ends_at, self.mode = starts_at, ends_at, mode
        if location is not None:
            self.location = location or None
        if video_link is not None:
            self.video_link = video_link or None
        self.change_reason = reason
        self.edited = True
        self.sequence += 1

    def cancel(self, reason: str) -> None:
        """Cancel a scheduled meeting ahead of time, with the reason members see. Raises Conflict unless scheduled."""
        self.require_scheduled()
        self.status = "cancelled"
        self.cancel_reason = reason
        self.edited = True
        self.sequence += 1

    def require_started(self, now: datetime) -> None:
        """Raise Conflict (field status) before the meeting's start time: until then it cannot have been held."""
        if not may_record_as_held(self.starts_at, now):
            raise Conflict(_("A meeting cannot be recorded as held before its start time."), field="status")

    def record_held(self, now: datetime) -> None:
        """Record that the meeting took place (a scheduled one, or a correction of a cancelled or held one).

        Raises Conflict (field status) before its start time (require_started).
        """
        self.require_started(now)
        if self.status != "held":
            self.sequence += 1
        self.status = "held"
        self.cancel_reason = None

    def record_cancelled(self, reason: str) -> None:
        """Record that the meeting did not take place, with the reason (a scheduled one, or a correction of a record);
        any status may be corrected to cancelled."""
        if self.status != "cancelled":
            self.sequence += 1
        self.status = "cancelled"
        self.cancel_reason = reason


#: The name of PostgreSQL's guarantee that no leader is booked into two overlapping live meetings.
BOOKING_CONSTRAINT = "ex_meeting_leaders_booking"


class MeetingLeader(db.Model):
    """The lead or co-lead of one meeting (exactly one lead, at most one co-lead).

    `starts_at`, `ends_at` and `live` copy the meeting's time range and whether it is scheduled or held. The
    database keeps them in step (triggers on both tables, see BOOKING_DDL: on every insert here and every change
    of a meeting's times or status), never the application, so that on PostgreSQL an exclusion constraint can
    refuse a leader in two overlapping live meetings even when two requests book them at the same moment.
    They are deferred: the application reads bookings from `meetings`.
    """

    __tablename__ = "meeting_leaders"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    meeting_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: so.Mapped[str] = so.mapped_column(sa.String(10))
    starts_at: so.Mapped[datetime | None] = so.mapped_column(deferred=True)
    ends_at: so.Mapped[datetime | None] = so.mapped_column(deferred=True)
    live: so.Mapped[bool | None] = so.mapped_column(deferred=True)

    meeting: so.Mapped[Meeting] = so.relationship(back_populates="leaders")
    user: so.Mapped[User] = so.relationship(lazy="joined")  # noqa: F821

    __table_args__ = (
        sa.UniqueConstraint("meeting_id", "role"),
        sa.UniqueConstraint("meeting_id", "user_id"),
        sa.CheckConstraint("role IN ('lead', 'co_lead')", name="role"),
        # PostgreSQL only (btree_gist): one leader, two live bookings whose [starts_at, ends_at) ranges overlap.
        postgresql.ExcludeConstraint(
            ("user_id", "="), (sa.text("tsrange(starts_at, ends_at)"), "&&"),
            name=BOOKING_CONSTRAINT, using="gist", where=sa.text("live"),
        ).ddl_if(dialect="postgresql"),
    )


# The triggers that keep meeting_leaders' copy of each meeting's time range and liveness in step, per dialect;
# the migration 2026_12_06_meeting_leader_bookings runs the same statements.
BTREE_GIST = "CREATE EXTENSION IF NOT EXISTS btree_gist"  # equality on user_id inside a GiST index
# SQLite's body of both triggers on meeting_leaders (a new leader row, a row moved to another meeting).
_SQLITE_COPY_BOOKING = """BEGIN
    UPDATE meeting_leaders SET
        starts_at = (SELECT starts_at FROM meetings WHERE id = NEW.meeting_id),
        ends_at = (SELECT ends_at FROM meetings WHERE id = NEW.meeting_id),
        live = (SELECT status <> 'cancelled' FROM meetings WHERE id = NEW.meeting_id)
    WHERE id = NEW.id;
END"""
BOOKING_DDL = {
    "postgresql": [
        """CREATE OR REPLACE FUNCTION meeting_leaders_copy_booking() RETURNS trigger AS $$
BEGIN
    SELECT m.starts_at, m.ends_at, m.status <> 'cancelled' INTO NEW.starts_at, NEW.ends_at, NEW.live
    FROM meetings m WHERE m.id = NEW.meeting_id;
    RETURN NEW;
END $$ LANGUAGE plpgsql""",
        """CREATE OR REPLACE FUNCTION meetings_copy_booking() RETURNS trigger AS $$
BEGIN
    UPDATE meeting_leaders SET starts_at = NEW.starts_at, ends_at = NEW.ends_at, live = NEW.status <> 'cancelled'
    WHERE meeting_id = NEW.id;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER meeting_leaders_copy_booking BEFORE INSERT OR UPDATE OF meeting_id, starts_at, ends_at, live
    ON meeting_leaders FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION meeting_leaders_copy_booking()""",
        """CREATE TRIGGER meetings_copy_booking AFTER UPDATE OF starts_at, ends_at, status ON meetings
    FOR EACH ROW EXECUTE FUNCTION meetings_copy_booking()""",
    ],
    "sqlite": [
        "CREATE TRIGGER meeting_leaders_copy_booking AFTER INSERT ON meeting_leaders\n" + _SQLITE_COPY_BOOKING,
        "CREATE TRIGGER meeting_leaders_copy_booking_on_move AFTER UPDATE OF meeting_id ON meeting_leaders\n"
        + _SQLITE_COPY_BOOKING,
        """CREATE TRIGGER meetings_copy_booking AFTER UPDATE OF starts_at, ends_at, status ON meetings
BEGIN
    UPDATE meeting_leaders SET starts_at = NEW.starts_at, ends_at = NEW.ends_at, live = NEW.status <> 'cancelled'
    WHERE meeting_id = NEW.id;
END""",
    ],
}


@sa.event.listens_for(MeetingLeader.__table__, "before_create")
def _booking_extension(target, connection, **kw) -> None:
    """btree_gist must exist before the table's exclusion constraint is created (PostgreSQL)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(BTREE_GIST)


@sa.event.listens_for(MeetingLeader.__table__, "after_create")
def _booking_triggers(target, connection, **kw) -> None:
    """Create the triggers that keep the booking copy in step (create_all; migrations run the same DDL)."""
    for statement in BOOKING_DDL.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)


class HolidayException(db.Model):
    """A day coordinators set by hand: an extra day off, or a make-up working day (调休)."""

    __tablename__ = "holiday_exceptions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    day: so.Mapped[date] = so.mapped_column(unique=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(10))  # holiday | workday
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    __table_args__ = (sa.CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),)


class HolidayYear(db.Model):
    """A year whose official holiday schedule a coordinator has checked and entered."""

    __tablename__ = "holiday_years"

    year: so.Mapped[int] = so.mapped_column(primary_key=True, autoincrement=False)
    confirmed_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    confirmed_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


def _new_token() -> str:
    return secrets.token_urlsafe(24)


class CalendarFeed(db.Model):
    """A private, revocable iCalendar feed address: a person's meetings, or a group's."""

    __tablename__ = "calendar_feeds"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    token: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True, default=_new_token)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    group_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("groups.id", ondelete="CASCADE"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    revoked_at: so.Mapped[datetime | None]

    user: so.Mapped[User] = so.relationship()  # noqa: F821
    group: so.Mapped[Group | None] = so.relationship()  # noqa: F821
