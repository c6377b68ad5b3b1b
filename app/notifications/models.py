"""Notifications: one row per message that must go out once, whatever the re-runs or hosts."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.timeutil import utcnow

STATUSES = ("pending", "sending", "sent", "failed", "dropped")


class Notification(db.Model):
    """A message to one user; `key` is unique, so the same reminder is never queued twice."""

    __tablename__ = "notifications"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    meeting_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    round_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("feedback_rounds.id", ondelete="CASCADE"), index=True
    )
    due_at: so.Mapped[datetime]
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default="pending")
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    claimed_at: so.Mapped[datetime | None]
    sent_at: so.Mapped[datetime | None]
    error: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    user: so.Mapped[User] = so.relationship()  # noqa: F821

    __table_args__ = (
        sa.Index("ix_notifications_status_due", "status", "due_at"),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'dropped')", name="status"),
    )


RUN_STATUSES = ("running", "finished", "failed", "skipped")


class JobRun(db.Model):
    """One run of a background command (`flask notify send-due`): when, how long, what it did, how it ended.

    The row is committed when the run starts, on its own, so a run that dies leaves "running" with no end;
    `flask notify send-due` prunes rows older than JOB_RUN_KEEP_DAYS.
    """

    __tablename__ = "job_runs"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    job: so.Mapped[str] = so.mapped_column(sa.String(60))
    host: so.Mapped[str] = so.mapped_column(sa.String(200))
    started_at: so.Mapped[datetime]
    finished_at: so.Mapped[datetime | None]
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default="running")
    closed_rounds: so.Mapped[int | None]
    queued: so.Mapped[int | None]
    sent: so.Mapped[int | None]
    retrying: so.Mapped[int | None]
    failed: so.Mapped[int | None]
    dropped: so.Mapped[int | None]
    error: so.Mapped[str | None] = so.mapped_column(sa.String(500))

    __table_args__ = (
        sa.Index("ix_job_runs_job_started", "job", "started_at"),
        sa.CheckConstraint("status IN ('running', 'finished', 'failed', 'skipped')", name="status"),
    )

    @property
    def duration(self) -> timedelta | None:
        """How long the run took; None while running (or when it died)."""
        return self.finished_at - self.started_at if self.finished_at else None
