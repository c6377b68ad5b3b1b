"""Group announcements through a group's chat robot (WeCom or DingTalk group robot). They flush, never commit.

A group may have one robot. Its webhook address (which carries the robot's key or access token) and DingTalk
signing secret are stored encrypted with Fernet (CHANNEL_SECRET_KEY) and shown masked. Posts are `GroupPost`
rows, queued once by key and claimed once like notifications; they are rendered from the group, meeting or round
alone, in the programme's language, and never name a person, carry answers, or give a video link. A robot takes
20 messages a minute: posts are spaced rules.ROBOT_SPACING apart (a run waits for a near slot, leaves a far one
to the next run), never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app.audit.services import record_action
from app.errors import DomainError
from app.extensions import db
from app.notifications import dingtalk, rules, wecom
from app.notifications.chat import Clock, PlatformError
from app.notifications.mail import absolute_url
from app.notifications.models import GroupPost, GroupRobot
from app.programme.models import Group
from app.scheduling.models import Meeting
from app.timeutil import local_zone

MEETING_POST = "group_meeting_reminder"
ROUND_POST = "group_round_opened"
ERROR_LENGTH = 500


# --- secrets ---------------------------------------------------------------------------------

def _fernet() -> Fernet:
    """The Fernet of CHANNEL_SECRET_KEY. Raises DomainError when it is unset or not a Fernet key."""
    key = current_app.config.get("CHANNEL_SECRET_KEY")
    if not key:
        raise DomainError(_("Group robots need CHANNEL_SECRET_KEY to be set on the server."))
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        raise DomainError(_("CHANNEL_SECRET_KEY is not a valid Fernet key.")) from None


def encrypt(value: str) -> str:
    """`value` encrypted for the database. Raises DomainError without a usable key."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    """A stored secret in clear. Raises DomainError when the key is missing or is not the one it was stored with."""
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        raise DomainError(_("The robot's address cannot be read with this CHANNEL_SECRET_KEY.")) from None


def webhook_prefix(platform: str) -> str:
    """How a robot's webhook address starts on `platform` (at the configured API base)."""
    if platform == rules.WECOM:
        return current_app.config["WECOM_API_BASE"].rstrip("/") + "/cgi-bin/webhook/send?key="
    return current_app.config["DINGTALK_API_BASE"].rstrip("/") + "/robot/send?access_token="


# --- setting a group's robot -----------------------------------------------------------------

def set_robot(actor, group: Group, platform: str, webhook: str, secret: str | None) -> GroupRobot:
    """Give `group` a chat robot (replacing its robot), the webhook and secret stored encrypted; audited without them.

    Raises DomainError for another platform, a webhook address that is not that platform's robot address
    (the configured base, then the robot path and its key), a DingTalk robot without its signing secret,
    or no usable CHANNEL_SECRET_KEY.
    """
    if platform not in rules.CHAT_CHANNELS:
        raise DomainError(_("Choose WeCom or DingTalk."), field="platform")
    webhook = (webhook or "").strip()
    prefix = webhook_prefix(platform)
    if not webhook.startswith(prefix) or len(webhook) == len(prefix) or any(c.isspace() for c in webhook):
        raise DomainError(_("Paste the robot's webhook address; it starts with %(prefix)s", prefix=prefix),
                          field="webhook")
    secret = (secret or "").strip() or None
    if platform == rules.DINGTALK and not secret:
        raise DomainError(_("A DingTalk robot needs its signing secret (加签, it starts with SEC)."), field="secret")
    robot = db.session.scalar(sa.select(GroupRobot).where(GroupRobot.group_id == group.id))
    if robot is None:
        robot = GroupRobot(group_id=group.id)
        db.session.add(robot)
    robot.platform = platform
    robot.webhook_encrypted = encrypt(webhook)
    robot.secret_encrypted = encrypt(secret) if secret else None
    robot.webhook_hint = rules.mask_secret(webhook)
    db.session.flush()
    record_action(actor, "group_robot_set", group, platform=platform)
    return robot


def remove_robot(actor, group: Group) -> bool:
    """Remove the group's robot (its pending posts are dropped); False when it had none. Audited."""
    robot = robot_of(group.id)
    if robot is None:
        return False
    db.session.delete(robot)
    db.session.execute(sa.update(GroupPost).where(GroupPost.group_id == group.id, GroupPost.status == "pending")
                       .values(status="dropped", error="robot removed").execution_options(synchronize_session=False))
    db.session.flush()
    record_action(actor, "group_robot_removed", group)
    return True


def robot_of(group_id: int) -> GroupRobot | None:
    return db.session.scalar(sa.select(GroupRobot).where(GroupRobot.group_id == group_id))


# --- queueing --------------------------------------------------------------------------------

def queue_post(kind: str, group_id: int, key: str, due_at: datetime, meeting_id: int | None = None,
               round_id: int | None = None) -> GroupPost | None:
    """Queue one post to the group's robot; None when the group has no robot or the key is queued already."""
    if robot_of(group_id) is None:
        return None
    post = GroupPost(kind=kind, group_id=group_id, key=key, due_at=due_at, meeting_id=meeting_id, round_id=round_id)
    try:
        with db.session.begin_nested():
            db.session.add(post)
            db.session.flush()
    except IntegrityError:
        return None
    return post


def queue_meeting_post(meeting: Meeting, due_at: datetime) -> GroupPost | None:
    """The reminder of `meeting` to its group's chat (a moved meeting gets a new one)."""
    return queue_post(MEETING_POST, meeting.group_id, f"{MEETING_POST}:{meeting.id}:{meeting.starts_at:%Y%m%dT%H%M}",
                      due_at, meeting_id=meeting.id)


def queue_meeting_posts(meetings: list[Meeting], lead_time) -> int:
    """Queue the reminder of each meeting whose group has a robot, due `lead_time` before it; returns how many
    were new. Two queries whatever the number of meetings, then one insert per new post."""
    if not meetings:
        return 0
    with_robot = set(db.session.scalars(sa.select(GroupRobot.group_id).where(
        GroupRobot.group_id.in_({m.group_id for m in meetings}))))
    wanted = {f"{MEETING_POST}:{m.id}:{m.starts_at:%Y%m%dT%H%M}": m for m in meetings if m.group_id in with_robot}
    if not wanted:
        return 0
    queued = set(db.session.scalars(sa.select(GroupPost.key).where(GroupPost.key.in_(list(wanted)))))
    new = 0
    for key, meeting in wanted.items():
        if key not in queued and queue_meeting_post(meeting, meeting.starts_at - lead_time) is not None:
            new += 1
    return new


def queue_round_post(feedback_round, now: datetime) -> GroupPost | None:
    """"A feedback round is open — please answer" to the round's group chat."""
    return queue_post(ROUND_POST, feedback_round.group_id, f"{ROUND_POST}:{feedback_round.id}", now,
                      round_id=feedback_round.id)


# --- what a post says ------------------------------------------------------------------------

class Skip(Exception):
    """The post should not go out any more (the reason is stored)."""


def render_post(post: GroupPost, now: datetime) -> tuple[str, str]:
    """(title, markdown text) of a post in the programme's language, from the group, meeting or round only.

    Raises Skip when the meeting was cancelled, moved or started, or the round is closed.
    """
    from app.feedback.models import FeedbackRound  # feedback builds on notifications

    group = db.session.get(Group, post.group_id)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        if post.kind == MEETING_POST:
            meeting = db.session.get(Meeting, post.meeting_id) if post.meeting_id else None
            if meeting is None or meeting.status != "scheduled" or meeting.starts_at <= now:
                raise Skip("meeting cancelled, deleted or started")
            if post.key != f"{MEETING_POST}:{meeting.id}:{meeting.starts_at:%Y%m%dT%H%M}":
                raise Skip("meeting moved")
            title = _("Reminder: %(group)s meets soon", group=group.name)
            text = render_template("notifications/group_meeting.txt", group=group, meeting=meeting,
                                   zone=local_zone().key, link=absolute_url("scheduling.my_meetings"))
        elif post.kind == ROUND_POST:
            feedback_round = db.session.get(FeedbackRound, post.round_id) if post.round_id else None
            if feedback_round is None or not feedback_round.is_open(now):
                raise Skip("round closed")
            title = _("Feedback on %(group)s is open", group=group.name)
            text = render_template("notifications/group_round.txt", group=group, round=feedback_round,
                                   link=absolute_url("feedback.answer", round_id=feedback_round.id))
        else:
            raise Skip(f"unknown kind {post.kind}")
    return title, text


# --- sending ---------------------------------------------------------------------------------

def _claim(post_id: int, now: datetime) -> bool:
    result = db.session.execute(
        sa.update(GroupPost).where(GroupPost.id == post_id, GroupPost.status == "pending")
        .values(status="sending", claimed_at=now, attempts=GroupPost.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _finish(post_id: int, **values) -> None:
    db.session.execute(sa.update(GroupPost).where(GroupPost.id == post_id, GroupPost.status == "sending")
                       .values(**values).execution_options(synchronize_session=False))


def _take_slot(robot: GroupRobot, now: datetime, deadline: datetime) -> datetime | None:
    """Reserve the robot's next slot if it comes by `deadline`; the slot, or None (too late for this run).

    A conditional UPDATE on the robot's row, so two runs never take one slot.
    """
    slot, after = rules.robot_slot(robot.next_slot_at, now)
    if slot > deadline:
        return None
    previous = robot.next_slot_at
    condition = GroupRobot.next_slot_at.is_(None) if previous is None else GroupRobot.next_slot_at == previous
    taken = db.session.execute(sa.update(GroupRobot).where(GroupRobot.id == robot.id, condition)
                               .values(next_slot_at=after).execution_options(synchronize_session=False)).rowcount
    return slot if taken == 1 else None


def post(robot: GroupRobot, title: str, text: str, now: datetime) -> dict:
    """Send one post through the robot; the platform's answer. Raises PlatformError, DomainError (key)."""
    webhook = decrypt(robot.webhook_encrypted)
    if robot.platform == rules.WECOM:
        return wecom.robot_post(webhook, f"**{title}**\n\n{text}")
    secret = decrypt(robot.secret_encrypted) if robot.secret_encrypted else None
    return dingtalk.robot_post(webhook, secret, title, f"**{title}**\n\n{text}", now)


def send_one_post(post_id: int, clock: Clock, commit: Callable[[], None], deadline: datetime) -> str:
    """Claim, space, render and send one post; returns sent, deferred, retrying, failed, dropped or taken_elsewhere.

    Steps end with `commit` as in services.send_one. A post whose robot has no slot by `deadline` goes back
    to pending, due at that slot (deferred, not dropped); an earlier slot is waited for with the clock. Rate
    limits and server errors are retried with backoff; a refusal fails at once.
    """
    now = clock.now()
    claimed = _claim(post_id, now)
    commit()
    if not claimed:
        return "taken_elsewhere"
    item = db.session.get(GroupPost, post_id, populate_existing=True)
    robot = db.session.scalar(sa.select(GroupRobot).where(GroupRobot.group_id == item.group_id)
                              .execution_options(populate_existing=True))
    if robot is None:
        _finish(post_id, status="dropped", error="no robot")
        commit()
        return "dropped"
    try:
        render_post(item, now)
    except Skip as skip:
        _finish(post_id, status="dropped", error=str(skip)[:ERROR_LENGTH])
        commit()
        return "dropped"
    slot = _take_slot(robot, now, deadline)
    if slot is None:
        next_slot, _after = rules.robot_slot(robot.next_slot_at, now)
        _finish(post_id, status="pending", due_at=next_slot, attempts=GroupPost.attempts - 1)
        commit()
        return "deferred"
    commit()
    clock.sleep((slot - now).total_seconds())
    now = clock.now()
    try:
        title, text = render_post(item, now)
        post(robot, title, text, now)
    except Skip as skip:
        outcome, values = "dropped", {"status": "dropped", "error": str(skip)[:ERROR_LENGTH]}
    except PlatformError as error:
        gave_up = rules.gives_up(item.attempts, error.retryable)
        outcome = "failed" if gave_up else "retrying"
        values = {"status": "failed" if gave_up else "pending", "error": str(error)[:ERROR_LENGTH],
                  "error_code": error.code[:20]}
        if not gave_up:
            values["due_at"] = now + rules.retry_delay(item.attempts)
    except DomainError as error:
        outcome, values = "failed", {"status": "failed", "error": error.message[:ERROR_LENGTH], "error_code": "key"}
    else:
        outcome, values = "sent", {"status": "sent", "sent_at": now, "error": None, "error_code": None}
    commit()
    _finish(post_id, **values)
    commit()
    return outcome


def send_due_posts(clock: Clock, commit: Callable[[], None] | None = None) -> dict[str, int]:
    """Send every pending post due at the clock's time, each once, spaced per robot; counts by outcome.

    The run spends at most ROBOT_MAX_WAIT_SECONDS waiting for robots' slots; posts whose slot comes later are
    deferred to the next run (the timer's), so a long queue to one robot never holds the run for long.
    """
    from app.notifications.services import STALE_CLAIM

    commit = commit or db.session.flush
    counts: dict[str, int] = {}
    db.session.execute(  # a run that died mid-post left these; like notifications, they go back to pending
        sa.update(GroupPost).where(GroupPost.status == "sending", GroupPost.claimed_at < clock.now() - STALE_CLAIM)
        .values(status="pending", claimed_at=None).execution_options(synchronize_session=False)
    )
    due = db.session.execute(
        sa.select(GroupPost.id, GroupPost.group_id)
        .where(GroupPost.status == "pending", GroupPost.due_at <= clock.now()).order_by(GroupPost.due_at, GroupPost.id)
    ).all()
    commit()
    deadline = clock.now() + timedelta(seconds=current_app.config["ROBOT_MAX_WAIT_SECONDS"])
    full: set[int] = set()  # groups whose robot has no slot left in this run: their posts wait, untouched
    for post_id, group_id in due:
        if group_id in full:
            continue
        outcome = send_one_post(post_id, clock, commit, deadline)
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "deferred":
            full.add(group_id)
    return counts
