"""Read-only facts about the background work for the System page, the home page and `flask check`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.notifications.models import JobRun, Notification
from app.notifications.rules import MAIL_FAILURE_WINDOW

RECENT = timedelta(days=7)


def last_run(job: str) -> JobRun | None:
    """The latest run of `job` by start, whatever its outcome; None when it never ran."""
    return db.session.scalar(
        sa.select(JobRun).where(JobRun.job == job).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)
    )


def last_finished_run(job: str) -> JobRun | None:
    """The latest run of `job` that did its work to the end."""
    return db.session.scalar(
        sa.select(JobRun).where(JobRun.job == job, JobRun.status == "finished")
        .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)
    )


def recent_runs(job: str, limit: int = 12) -> list[JobRun]:
    """The latest `limit` runs of `job`, newest first."""
    return list(db.session.scalars(
        sa.select(JobRun).where(JobRun.job == job).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    ))


@dataclass
class NotificationCounts:
    """The outbox at a glance: waiting (due now or later), waiting to retry, being sent; sent and failed lately."""

    pending: int = 0
    due: int = 0
    retrying: int = 0
    sending: int = 0
    sent_recently: int = 0
    failed_recently: int = 0


def notification_counts(now: datetime, since: timedelta = RECENT) -> NotificationCounts:
    """Counts of the outbox in one query; "recently" is the `since` before `now` (default 7 days).

    A failed message's time is its last attempt (claimed_at); a sent one's, its sent_at.
    """
    start = now - since
    n = Notification
    row = db.session.execute(sa.select(
        sa.func.count().filter(n.status == "pending"),
        sa.func.count().filter(n.status == "pending", n.due_at <= now),
        sa.func.count().filter(n.status == "pending", n.error.is_not(None)),
        sa.func.count().filter(n.status == "sending"),
        sa.func.count().filter(n.status == "sent", n.sent_at >= start),
        sa.func.count().filter(n.status == "failed", n.claimed_at >= start),
    ).where(n.status.in_(("pending", "sending", "sent", "failed")))).one()
    return NotificationCounts(*(value or 0 for value in row))


def _failures(start: datetime):
    """Messages whose latest attempt since `start` failed: given up (failed) or waiting to retry."""
    n = Notification
    return sa.and_(
        n.claimed_at >= start,
        sa.or_(n.status == "failed", sa.and_(n.status == "pending", n.error.is_not(None))),
    )


def recent_failures(now: datetime, since: timedelta = RECENT, limit: int = 20) -> list[Notification]:
    """The latest failed attempts (given up or to retry) within `since` before `now`, newest first, with users."""
    return list(db.session.scalars(
        sa.select(Notification).where(_failures(now - since))
        .order_by(Notification.claimed_at.desc(), Notification.id.desc()).limit(limit)
        .options(so.joinedload(Notification.user))
    ))


@dataclass
class MailFailures:
    """Failed attempts within MAIL_FAILURE_WINDOW: how many, the latest one's time and error."""

    count: int = 0
    last_at: datetime | None = None
    last_error: str | None = None


def mail_failures(now: datetime) -> MailFailures:
    """Messages that failed (given up or waiting to retry) within MAIL_FAILURE_WINDOW before `now`."""
    condition = _failures(now - MAIL_FAILURE_WINDOW)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(condition)) or 0
    if not count:
        return MailFailures()
    latest = db.session.execute(
        sa.select(Notification.claimed_at, Notification.error).where(condition)
        .order_by(Notification.claimed_at.desc(), Notification.id.desc()).limit(1)
    ).one()
    return MailFailures(count, latest.claimed_at, latest.error)
