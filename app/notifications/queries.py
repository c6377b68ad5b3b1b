"""Read-only facts about the background work for the System page, the home page and `flask check`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.accounts.models import User
from app.extensions import db
from app.notifications import rules
from app.notifications.models import GroupPost, JobRun, Notification
from app.notifications.rules import MAIL_FAILURE_WINDOW
from app.programme.models import Group

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
    """E-mails that failed (given up or waiting to retry) within MAIL_FAILURE_WINDOW before `now` (WeCom and
    DingTalk failures are the channels' health, not mail's)."""
    condition = sa.and_(_failures(now - MAIL_FAILURE_WINDOW), Notification.channel == rules.EMAIL)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(condition)) or 0
    if not count:
        return MailFailures()
    latest = db.session.execute(
        sa.select(Notification.claimed_at, Notification.error).where(condition)
        .order_by(Notification.claimed_at.desc(), Notification.id.desc()).limit(1)
    ).one()
    return MailFailures(count, latest.claimed_at, latest.error)


# --- channels: the delivery log and their health ----------------------------------------------

ROBOT = "robot"  # the delivery log's name for group-robot posts
LOG_STATUSES = ("pending", "sending", "sent", "failed", "dropped")


def delivery_log(scope_org_id: int | None, channel: str | None = None, status: str | None = None,
                 kind: str | None = None):
    """The select for the delivery log, newest first: one row per message and channel (Notification, with its
    user), or with `channel` ROBOT one per group post (GroupPost). A coordinator of one organisation
    (`scope_org_id`) sees its people's messages and its groups' posts only."""
    if channel == ROBOT:
        model, owner = GroupPost, Group
        query = sa.select(GroupPost).join(Group, Group.id == GroupPost.group_id).options(
            so.contains_eager(GroupPost.group))
    else:
        model, owner = Notification, User
        query = sa.select(Notification).join(User, User.id == Notification.user_id).options(
            so.contains_eager(Notification.user))
        if channel:
            query = query.where(Notification.channel == channel)
    if scope_org_id is not None:
        query = query.where(owner.organisation_id == scope_org_id)
    if status:
        query = query.where(model.status == status)
    if kind:
        query = query.where(model.kind == kind)
    return query.order_by(model.created_at.desc(), model.id.desc())


@dataclass
class ChannelHealth:
    """One channel over the last 24 hours: sent, failed (given up), waiting to retry; the latest success and the
    latest error (the platform's code and text)."""

    channel: str
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    last_sent_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None


def channel_health(now: datetime, since: timedelta = MAIL_FAILURE_WINDOW) -> list[ChannelHealth]:
    """Each channel's health (e-mail, WeCom, DingTalk, then group robots) since `since` before `now`, in three
    queries whatever the traffic."""
    start = now - since
    health = {channel: ChannelHealth(channel) for channel in (*rules.CHANNELS, ROBOT)}
    def counts(model):
        return (
            sa.func.count().filter(model.status == "sent", model.sent_at >= start),
            sa.func.count().filter(model.status == "failed", model.claimed_at >= start),
            sa.func.count().filter(model.status == "pending", model.error.is_not(None), model.claimed_at >= start),
            sa.func.max(model.sent_at),
        )

    rows = [tuple(row) for row in db.session.execute(
        sa.select(Notification.channel, *counts(Notification))
        .where(sa.or_(Notification.sent_at >= start, Notification.claimed_at >= start))
        .group_by(Notification.channel)
    )]
    rows.append((ROBOT, *db.session.execute(
        sa.select(*counts(GroupPost)).where(sa.or_(GroupPost.sent_at >= start, GroupPost.claimed_at >= start))
    ).one()))
    for channel, sent, failed, retrying, last_sent in rows:
        if channel in health:
            found = health[channel]
            found.sent, found.failed, found.retrying, found.last_sent_at = sent or 0, failed or 0, retrying or 0, \
                last_sent
    errors = db.session.execute(
        sa.select(Notification.channel, sa.func.max(Notification.claimed_at))
        .where(Notification.error.is_not(None), Notification.claimed_at >= start,
               Notification.status.in_(("failed", "pending")))
        .group_by(Notification.channel)
    ).all()
    for channel, at in errors:
        latest = db.session.scalar(
            sa.select(Notification.error).where(Notification.channel == channel, Notification.claimed_at == at,
                                                Notification.error.is_not(None)).limit(1))
        if channel in health:
            health[channel].last_error_at, health[channel].last_error = at, latest
    robot_error = db.session.execute(
        sa.select(GroupPost.claimed_at, GroupPost.error)
        .where(GroupPost.error.is_not(None), GroupPost.claimed_at >= start, GroupPost.status.in_(("failed", "pending")))
        .order_by(GroupPost.claimed_at.desc(), GroupPost.id.desc()).limit(1)
    ).first()
    if robot_error is not None:
        health[ROBOT].last_error_at, health[ROBOT].last_error = robot_error
    return list(health.values())
