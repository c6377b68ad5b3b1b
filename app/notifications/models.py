"""Notifications: one row per message that must go out once, whatever the re-runs or hosts."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.timeutil import utcnow

STATUSES = ("pending", "sending", "sent", "failed", "dropped")
# Where a message goes: e-mail, a WeCom app message, a DingTalk work notification (app.notifications.rules.CHANNELS).
CHANNEL_CHECK = "channel IN ('email', 'wecom', 'dingtalk')"


class Notification(db.Model):
    """A message to one user on one channel; (`key`, `channel`) is unique, so the same reminder is never queued
    twice on a channel, and each channel's row is claimed and sent on its own."""

    __tablename__ = "notifications"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(200))
    channel: so.Mapped[str] = so.mapped_column(sa.String(10), default="email", server_default="email")
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
    # The platform's own error code of the last failed attempt (WeCom/DingTalk errcode, or the HTTP status).
    error_code: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    user: so.Mapped[User] = so.relationship()  # noqa: F821

    __table_args__ = (
        sa.UniqueConstraint("key", "channel", name="uq_notifications_key_channel"),
        sa.Index("ix_notifications_status_due", "status", "due_at"),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'dropped')", name="status"),
        sa.CheckConstraint(CHANNEL_CHECK, name="channel"),
    )


class PlatformToken(db.Model):
    """A WeCom or DingTalk access token, shared by every host and run through the database; fetched again
    before `expires_at` (naive UTC) and whenever the platform says it expired."""

    __tablename__ = "platform_tokens"

    platform: so.Mapped[str] = so.mapped_column(sa.String(20), primary_key=True)
    token: so.Mapped[str] = so.mapped_column(sa.String(512))
    expires_at: so.Mapped[datetime]
    fetched_at: so.Mapped[datetime]


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


class GroupRobot(db.Model):
    """A group's chat robot (WeCom or DingTalk group robot) that posts announcements to the group's chat.

    The webhook address (it carries the robot's key or access token) and the DingTalk signing secret are
    stored encrypted (app.notifications.secrets, Fernet); pages show them masked. `next_slot_at` is when
    the robot may post again: posts are spaced to its limit of 20 a minute, never dropped.
    """

    __tablename__ = "group_robots"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("groups.id", ondelete="CASCADE"), unique=True)
    platform: so.Mapped[str] = so.mapped_column(sa.String(10))
    webhook_encrypted: so.Mapped[str] = so.mapped_column(sa.Text)
    secret_encrypted: so.Mapped[str | None] = so.mapped_column(sa.Text)
    webhook_hint: so.Mapped[str] = so.mapped_column(sa.String(60))
    next_slot_at: so.Mapped[datetime | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    __table_args__ = (sa.CheckConstraint("platform IN ('wecom', 'dingtalk')", name="platform"),)


class GroupPost(db.Model):
    """An announcement to a group's chat through its robot, sent once (`key` unique, claimed like a Notification).

    It has no recipient: what it says is rendered from the group, meeting or round alone, never a person.
    """

    __tablename__ = "group_posts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    meeting_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"))
    round_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("feedback_rounds.id", ondelete="CASCADE"))
    due_at: so.Mapped[datetime]
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default="pending")
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    claimed_at: so.Mapped[datetime | None]
    sent_at: so.Mapped[datetime | None]
    error: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    error_code: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    group: so.Mapped[Group] = so.relationship()  # noqa: F821

    __table_args__ = (
        sa.Index("ix_group_posts_status_due", "status", "due_at"),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'dropped')", name="status"),
    )
