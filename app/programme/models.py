"""Organisations, groups, memberships and the leaders standing with each group."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.timeutil import utcnow

ORG_KINDS = ("hospital", "department", "other")
MODES = ("onsite", "online", "hybrid")
GROUP_STATUSES = ("active", "paused", "closed")


class Organisation(db.Model):
    """A hospital or a department taking part in the programme."""

    __tablename__ = "organisations"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(20), default="hospital")
    active: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    groups: so.Mapped[list[Group]] = so.relationship(back_populates="organisation")

    __table_args__ = (sa.CheckConstraint("kind IN ('hospital', 'department', 'other')", name="kind"),)


class Group(db.Model):
    """A Balint group: 6-12 clinicians meeting regularly with a trained leader."""

    __tablename__ = "groups"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    description: so.Mapped[str | None] = so.mapped_column(sa.Text)
    capacity: so.Mapped[int] = so.mapped_column(default=10)
    mode: so.Mapped[str] = so.mapped_column(sa.String(10), default="onsite")
    location: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    video_link: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    duration_minutes: so.Mapped[int] = so.mapped_column(default=60)
    feedback_interval: so.Mapped[int] = so.mapped_column(default=5)
    feedback_window_days: so.Mapped[int] = so.mapped_column(default=14)
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default="active")
    # The questionnaire version the group's next rounds use (None: the programme's active default),
    # and whether they are taken by questionnaire or by interview.
    instrument_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("instruments.id", ondelete="SET NULL"))
    feedback_mode: so.Mapped[str] = so.mapped_column(sa.String(15), default="questionnaire",
                                                     server_default="questionnaire")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    organisation: so.Mapped[Organisation] = so.relationship(back_populates="groups")
    memberships: so.Mapped[list[Membership]] = so.relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="Membership.joined_on"
    )
    leaders: so.Mapped[list[GroupLeader]] = so.relationship(
        back_populates="group", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "name"),
        sa.CheckConstraint("mode IN ('onsite', 'online', 'hybrid')", name="mode"),
        sa.CheckConstraint("status IN ('active', 'paused', 'closed')", name="status"),
        sa.CheckConstraint("capacity BETWEEN 1 AND 100", name="capacity"),
        sa.CheckConstraint("duration_minutes BETWEEN 15 AND 480", name="duration"),
        sa.CheckConstraint("feedback_interval BETWEEN 1 AND 50", name="interval"),
        sa.CheckConstraint("feedback_window_days BETWEEN 1 AND 120", name="window"),
        sa.CheckConstraint("feedback_mode IN ('questionnaire', 'interview')", name="feedback_mode"),
    )


class Membership(db.Model):
    """A member's time in a group; leaving keeps the row, rejoining adds a new one."""

    __tablename__ = "memberships"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # Indexed alone too: "the group's members on a date" includes memberships that ended, which the partial
    # unique index below does not hold (without it, every record page read all the programme's memberships).
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    joined_on: so.Mapped[date]
    left_on: so.Mapped[date | None]

    group: so.Mapped[Group] = so.relationship(back_populates="memberships")
    user: so.Mapped[User] = so.relationship()  # noqa: F821

    __table_args__ = (
        sa.CheckConstraint("left_on IS NULL OR left_on >= joined_on", name="dates"),
        # At most one open membership per person and group, enforced by the database.
        sa.Index(
            "uq_memberships_open",
            "group_id",
            "user_id",
            unique=True,
            sqlite_where=sa.text("left_on IS NULL"),
            postgresql_where=sa.text("left_on IS NULL"),
        ),
    )

    def is_current(self, on: date) -> bool:
        return self.joined_on <= on and (self.left_on is None or self.left_on >= on)


class GroupLeader(db.Model):
    """A trained leader standing with a group (meetings get their own lead and co-lead later)."""

    __tablename__ = "group_leaders"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("groups.id", ondelete="CASCADE"))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    group: so.Mapped[Group] = so.relationship(back_populates="leaders")
    user: so.Mapped[User] = so.relationship()  # noqa: F821

    __table_args__ = (sa.UniqueConstraint("group_id", "user_id"),)
