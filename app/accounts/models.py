"""Users, their roles, their leader-training records and the staff numbers an HR import knows them by."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin

from app.extensions import db
from app.timeutil import utcnow

ROLES = ("coordinator", "leader", "member")
PROFESSIONS = ("physician", "nurse", "psychologist", "other")
LEVELS = ("leader_in_training", "leader", "training_leader")


class User(UserMixin, db.Model):
    """A person who signs in: coordinator, leader, member, or several of these."""

    __tablename__ = "users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    password_hash: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    active: so.Mapped[bool] = so.mapped_column(default=True)
    profession: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    department: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    locale: so.Mapped[str | None] = so.mapped_column(sa.String(10))
    email_reminders: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    # Chat platforms: the person's account id there (set by a coordinator or the API), and the channels they
    # want, comma-separated ("email,wecom"); None follows the programme's default (NOTIFY_DEFAULT_CHANNELS).
    wecom_userid: so.Mapped[str | None] = so.mapped_column(sa.String(64), index=True, unique=True)
    dingtalk_userid: so.Mapped[str | None] = so.mapped_column(sa.String(64), index=True, unique=True)
    channels: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    organisation_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    # Raised on every password change: sessions carrying an older value are signed out.
    session_version: so.Mapped[int] = so.mapped_column(default=1)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    invited_at: so.Mapped[datetime | None]
    last_login_at: so.Mapped[datetime | None]

    role_assignments: so.Mapped[list[RoleAssignment]] = so.relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    training_records: so.Mapped[list[TrainingRecord]] = so.relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        foreign_keys="TrainingRecord.user_id",
        order_by="TrainingRecord.completed_on.desc()",
    )
    organisation: so.Mapped[Organisation | None] = so.relationship()  # noqa: F821

    __table_args__ = (
        sa.CheckConstraint(
            "profession IS NULL OR profession IN ('physician', 'nurse', 'psychologist', 'other')",
            name="profession",
        ),
    )

    def __repr__(self) -> str:
        return f"<User {self.email}>"

    # Flask-Login: the session id carries the version, so a password change signs out everywhere.
    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def roles(self) -> set[str]:
        return {a.role for a in self.role_assignments}

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def coordinator_scope(self) -> int | None:
        """The organisation a coordinator is limited to, or None when programme-wide."""
        for a in self.role_assignments:
            if a.role == "coordinator":
                return a.organisation_id
        return None

    @property
    def is_programme_coordinator(self) -> bool:
        return self.has_role("coordinator") and self.coordinator_scope is None

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)


class RoleAssignment(db.Model):
    """One role held by a user; a coordinator's may be limited to one organisation."""

    __tablename__ = "role_assignments"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    role: so.Mapped[str] = so.mapped_column(sa.String(20))
    organisation_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )

    user: so.Mapped[User] = so.relationship(back_populates="role_assignments")

    __table_args__ = (
        sa.UniqueConstraint("user_id", "role"),
        sa.CheckConstraint("role IN ('coordinator', 'leader', 'member')", name="role"),
    )


class TrainingRecord(db.Model):
    """A leader-training record; it counts for eligibility only once a coordinator verified it."""

    __tablename__ = "training_records"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(200))
    level: so.Mapped[str] = so.mapped_column(sa.String(30))
    issuer: so.Mapped[str] = so.mapped_column(sa.String(200))
    completed_on: so.Mapped[date]
    valid_until: so.Mapped[date | None]
    verified_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    verified_at: so.Mapped[datetime | None]
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    user: so.Mapped[User] = so.relationship(back_populates="training_records", foreign_keys=[user_id])
    verified_by: so.Mapped[User | None] = so.relationship(foreign_keys=[verified_by_id])

    __table_args__ = (
        sa.CheckConstraint(
            "level IN ('leader_in_training', 'leader', 'training_leader')", name="level"
        ),
        sa.CheckConstraint("valid_until IS NULL OR valid_until >= completed_on", name="validity"),
    )

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


class StaffNumber(db.Model):
    """The staff number (工号) HR gives a person within their organisation: how the people import recognises them.
    A number names one person per organisation."""

    __tablename__ = "staff_numbers"

    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    number: so.Mapped[str] = so.mapped_column(sa.String(40))
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (sa.UniqueConstraint("organisation_id", "number"),)
