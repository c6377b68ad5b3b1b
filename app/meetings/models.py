"""What happened at a meeting: its record, attendance, themes, leader notes, supervision, live state."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.timeutil import utcnow

ATTENDANCE = ("present", "absent", "excused")
NOTE_KINDS = ("reflection", "debrief", "supervision")

meeting_themes = sa.Table(
    "meeting_themes",
    db.metadata,
    sa.Column("meeting_id", sa.ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("theme_id", sa.ForeignKey("themes.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Theme(db.Model):
    """A theme tag from the controlled list (names in both languages); coordinators can extend it."""

    __tablename__ = "themes"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)
    name_en: so.Mapped[str] = so.mapped_column(sa.String(120))
    name_zh: so.Mapped[str] = so.mapped_column(sa.String(120))
    active: so.Mapped[bool] = so.mapped_column(default=True)

    meetings: so.Mapped[list[Meeting]] = so.relationship(  # noqa: F821
        secondary=meeting_themes, backref="themes"
    )

    def name(self, locale: str) -> str:
        return self.name_zh if str(locale).startswith("zh") else self.name_en


class MeetingRecord(db.Model):
    """The record of a held meeting (a cancelled one keeps only its reason on the meeting)."""

    __tablename__ = "meeting_records"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    meeting_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"), unique=True)
    started_at: so.Mapped[datetime]  # naive UTC
    duration_minutes: so.Mapped[int]
    mode: so.Mapped[str] = so.mapped_column(sa.String(10))
    presenter_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    summary: so.Mapped[str | None] = so.mapped_column(sa.Text)
    guest_count: so.Mapped[int] = so.mapped_column(default=0)
    recorded_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    meeting: so.Mapped[Meeting] = so.relationship(  # noqa: F821
        backref=so.backref("record", uselist=False, cascade="all, delete-orphan")
    )
    presenter: so.Mapped[User | None] = so.relationship(foreign_keys=[presenter_id])  # noqa: F821

    __table_args__ = (
        sa.CheckConstraint("duration_minutes BETWEEN 5 AND 600", name="duration"),
        sa.CheckConstraint("guest_count BETWEEN 0 AND 50", name="guests"),
        sa.CheckConstraint("mode IN ('onsite', 'online', 'hybrid')", name="mode"),
    )


class Attendance(db.Model):
    """Whether a member was present, absent or excused at a meeting."""

    __tablename__ = "attendances"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    meeting_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(10))

    meeting: so.Mapped[Meeting] = so.relationship(  # noqa: F821
        backref=so.backref("attendances", cascade="all, delete-orphan")
    )
    user: so.Mapped[User] = so.relationship()  # noqa: F821

    __table_args__ = (
        sa.UniqueConstraint("meeting_id", "user_id"),
        sa.CheckConstraint("status IN ('present', 'absent', 'excused')", name="status"),
    )


class LeaderNote(db.Model):
    """A private note of the group's leaders: never shown to members, never exported."""

    __tablename__ = "leader_notes"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    meeting_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    author_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    text: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    author: so.Mapped[User | None] = so.relationship()  # noqa: F821

    __table_args__ = (sa.CheckConstraint("kind IN ('reflection', 'debrief', 'supervision')", name="kind"),)


class Supervision(db.Model):
    """Supervision a leader received: for the leader's portfolio and accreditation."""

    __tablename__ = "supervisions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    leader_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    held_on: so.Mapped[date]
    supervisor: so.Mapped[str] = so.mapped_column(sa.String(200))
    minutes: so.Mapped[int]
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    __table_args__ = (sa.CheckConstraint("minutes BETWEEN 5 AND 1440", name="minutes"),)


class FacilitationPlan(db.Model):
    """A group's phase lengths in minutes: case told, questions, discussion (pushed back), return, closing."""

    __tablename__ = "facilitation_plans"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("groups.id", ondelete="CASCADE"), unique=True)
    phases: so.Mapped[list] = so.mapped_column(sa.JSON)


class LiveState(db.Model):
    """The live facilitation view's state, saved from the page; it pre-fills the record."""

    __tablename__ = "live_states"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    meeting_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"), unique=True)
    state: so.Mapped[dict] = so.mapped_column(sa.JSON)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)
