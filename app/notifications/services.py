"""Queueing and sending notifications exactly once, whatever the re-runs or hosts. They flush, never commit.

Every message is one `Notification` row with a unique `key`: queueing the same key twice does
nothing. Sending claims a row with one conditional UPDATE (pending → sending) and goes ahead only
when that UPDATE changed the row, so two runs at once never both send it. What a kind of message
says is up to its renderer, registered by kind in `RENDERERS`.
"""

from __future__ import annotations

import contextlib
import re
import socket
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import format_date, format_time
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.audit.services import record_action
from app.errors import DomainError
from app.extensions import db
from app.notifications import dingtalk, rules, wecom
from app.notifications.chat import PlatformError
from app.notifications.mail import absolute_url, links_context, render_in_language, send_templated_mail
from app.notifications.models import JobRun, Notification
from app.notifications.rules import keep_runs_since
from app.programme.models import Membership
from app.scheduling.models import Meeting
from app.timeutil import local_date, local_zone

MAX_ATTEMPTS = 3
# A 'sending' row older than this belongs to a run that died mid-send: it goes back to 'pending'.
STALE_CLAIM = timedelta(minutes=15)
ERROR_LENGTH = 500
MEETING_REMINDER = "meeting_reminder"


# --- what a message says ---------------------------------------------------------------------

@dataclass
class Rendered:
    """A message ready for send_templated_mail: the subject (a callable run in the recipient's language)."""

    subject: Callable[[], str]
    template: str
    context: dict = field(default_factory=dict)


class Drop(Exception):
    """Raised by a renderer when its message should no longer go out (the reason is stored)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


Renderer = Callable[[Notification, datetime], Rendered]
RENDERERS: dict[str, Renderer] = {}


def renderer(kind: str) -> Callable[[Renderer], Renderer]:
    """Register the function that turns a queued notification of `kind` into a message (or raises Drop)."""

    def register(function: Renderer) -> Renderer:
        RENDERERS[kind] = function
        return function

    return register


# --- queueing --------------------------------------------------------------------------------

def enabled_channels() -> tuple[str, ...]:
    """The channels the programme has on (NOTIFY_CHANNELS); e-mail always is."""
    return tuple(sorted({rules.EMAIL, *rules.parse_channels(current_app.config.get("NOTIFY_CHANNELS"))},
                        key=rules.CHANNELS.index))


def default_channels() -> tuple[str, ...]:
    """What a person who chose nothing gets (NOTIFY_DEFAULT_CHANNELS), e-mail when that names nothing known."""
    return rules.parse_channels(current_app.config.get("NOTIFY_DEFAULT_CHANNELS")) or (rules.EMAIL,)


def channels_of(user: User, kind: str) -> tuple[str, ...]:
    """The channels a message of `kind` goes to for `user` now (rules.channels_for over their choice)."""
    chosen = rules.parse_channels(user.channels) if user.channels is not None else None
    return rules.channels_for(kind, chosen, enabled_channels(), default_channels(),
                              user.wecom_userid, user.dingtalk_userid)


def platform_id_owner(name: str, value: str, user: User | None) -> User | None:
    """Another person who already has this WeCom (`name` wecom_userid) or DingTalk (dingtalk_userid) user id."""
    column = getattr(User, name)
    query = sa.select(User).where(column == value)
    if user is not None and user.id is not None:
        query = query.where(User.id != user.id)
    return db.session.scalars(query.limit(1)).first()


def _checked_ids(user: User, wanted: dict[str, str | None]) -> dict[str, str | None]:
    """The user ids stripped (empty: None). Raises DomainError (with the field) for a text that is not a platform
    user id, or one that another person already has (messages to it would reach the wrong person)."""
    values = {}
    for name, value in wanted.items():
        value = (value or "").strip() or None
        if value is not None and not rules.is_platform_id(value):
            raise DomainError(_("A user id has letters, digits and _ . @ - only, at most 64 of them."), field=name)
        if value is not None and value != getattr(user, name):
            owner = platform_id_owner(name, value, user)
            if owner is not None:
                raise DomainError(_("The user id %(id)s already belongs to %(name)s.", id=value, name=owner.name),
                                  field=name)
        values[name] = value
    return values


def _save_channel_fields(actor: User | None, user: User, values: dict) -> dict:
    """Set what changed, flush, audit (`user_channels_changed`); the changed fields."""
    changed = {key: value for key, value in values.items() if getattr(user, key) != value}
    try:
        with db.session.begin_nested():  # two requests giving one id at once: the index refuses the second
            for key, value in changed.items():
                setattr(user, key, value)
    except IntegrityError:
        raise DomainError(_("Another person was given this user id at the same moment.")) from None
    if changed:
        record_action(actor, "user_channels_changed", user, **changed)
    return changed


def set_platform_ids(actor: User | None, user: User, wecom_userid: str | None, dingtalk_userid: str | None) -> dict:
    """Set the person's WeCom and/or DingTalk user id (None or empty: leave that one as it is); the channels they
    chose stay. Flushes; audited. Raises DomainError as `set_channels` does for the ids. Returns what changed."""
    wanted = {name: value for name, value in (("wecom_userid", wecom_userid), ("dingtalk_userid", dingtalk_userid))
              if (value or "").strip()}
    return _save_channel_fields(actor, user, _checked_ids(user, wanted))


def set_channels(actor: User | None, user: User, wecom_userid: str | None, dingtalk_userid: str | None,
                 channels: list[str] | tuple[str, ...] | None) -> None:
    """Set a person's WeCom and DingTalk user ids and the channels they want (None: the programme's default).

    Flushes; audited as `user_channels_changed` when something changed. Raises DomainError (with the field) for
    an id that is not a platform user id (letters, digits, _ . @ -, at most 64) or that another person has, an
    unknown channel or one the programme has off, a chat channel without the person's id on it, or an empty
    choice.
    """
    values = _checked_ids(user, {"wecom_userid": wecom_userid, "dingtalk_userid": dingtalk_userid})
    if channels is not None:
        chosen = rules.parse_channels(",".join(channels))
        unknown = set(channels) - set(chosen)
        if unknown or not chosen:
            raise DomainError(_("Choose at least one channel from the list."), field="channels")
        if set(chosen) - set(enabled_channels()):
            raise DomainError(_("This channel is not on in this programme."), field="channels")
        if rules.WECOM in chosen and not values["wecom_userid"]:
            raise DomainError(_("Enter the person's WeCom user id to send them WeCom messages."), field="wecom_userid")
        if rules.DINGTALK in chosen and not values["dingtalk_userid"]:
            raise DomainError(_("Enter the person's DingTalk user id to send them DingTalk messages."),
                              field="dingtalk_userid")
        values["channels"] = ",".join(chosen)
    else:
        values["channels"] = None
    _save_channel_fields(actor, user, values)


def queue(
    kind: str, user: User, key: str, due_at: datetime, meeting_id: int | None = None, round_id: int | None = None
) -> Notification | None:
    """Queue one message for `user` on each of their channels, due at `due_at` (naive UTC); returns the first
    row queued, None when the key is already queued on every channel.

    (key, channel) is unique and decides, inside a SAVEPOINT per channel, so a duplicate from a re-run or
    from another host leaves the surrounding transaction intact. Raises ValueError for a kind without a renderer.
    """
    if kind not in RENDERERS:
        raise ValueError(f"no renderer for notification kind {kind!r}")
    first = None
    for channel in channels_of(user, kind):
        notification = Notification(
            kind=kind, channel=channel, user_id=user.id, key=key, due_at=due_at, meeting_id=meeting_id,
            round_id=round_id,
        )
        try:
            with db.session.begin_nested():
                db.session.add(notification)
                db.session.flush()
        except IntegrityError:
            continue
        first = first or notification
    return first


def reminder_lead_time() -> timedelta:
    """How long before a meeting its reminder goes out (REMINDER_HOURS_BEFORE, default 24 hours)."""
    return timedelta(hours=current_app.config["REMINDER_HOURS_BEFORE"])


def reminder_key(meeting: Meeting, user: User) -> str:
    """The reminder's identity: a moved meeting has a new start, so it gets a new reminder."""
    return f"{MEETING_REMINDER}:{meeting.id}:{user.id}:{meeting.starts_at:%Y%m%dT%H%M}"


def wants_reminders(user: User) -> bool:
    return bool(user.active and user.email_reminders)


@dataclass
class PlannedReminder:
    """A reminder that is due (queued, or would be in a dry run)."""

    meeting: Meeting
    user: User
    key: str


def reminder_recipients(meetings: list[Meeting]) -> dict[int, list[User]]:
    """Meeting id → members on the meeting's date and its leaders, active and wanting reminders. One query."""
    group_ids = {m.group_id for m in meetings}
    memberships = db.session.scalars(
        sa.select(Membership).join(User, User.id == Membership.user_id)
        .where(Membership.group_id.in_(group_ids), User.active.is_(True), User.email_reminders.is_(True))
        .options(so.contains_eager(Membership.user))
    ).all() if group_ids else []
    recipients: dict[int, list[User]] = {}
    for meeting in meetings:
        day = local_date(meeting.starts_at)
        people = {m.user_id: m.user for m in memberships if m.group_id == meeting.group_id and m.is_current(day)}
        for ml in meeting.leaders:
            if wants_reminders(ml.user):
                people[ml.user_id] = ml.user
        recipients[meeting.id] = sorted(people.values(), key=lambda u: u.id)
    return recipients


def drop_reminders_of_cancelled_meetings() -> int:
    """Pending reminders of meetings cancelled since they were queued are dropped; returns how many."""
    result = db.session.execute(
        sa.update(Notification)
        .where(
            Notification.kind == MEETING_REMINDER,
            Notification.status == "pending",
            Notification.meeting_id.in_(sa.select(Meeting.id).where(Meeting.status == "cancelled")),
        )
        .values(status="dropped", error="meeting cancelled")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def queue_due_reminders(now: datetime, dry_run: bool = False) -> list[PlannedReminder]:
    """Queue a reminder for every member and leader of each scheduled meeting starting within the lead time.

    A meeting is due from (start − REMINDER_HOURS_BEFORE) until it starts; cancelled meetings, meetings
    that already started, inactive users and users who turned reminders off get none. Returns the
    reminders newly queued (or, with dry_run, those that would be, writing nothing).
    """
    lead_time = reminder_lead_time()
    if not dry_run:
        drop_reminders_of_cancelled_meetings()
    meetings = db.session.scalars(
        sa.select(Meeting)
        .where(Meeting.status == "scheduled", Meeting.starts_at > now, Meeting.starts_at <= now + lead_time)
        .order_by(Meeting.starts_at, Meeting.id)
    ).all()
    recipients = reminder_recipients(list(meetings))
    planned = [
        PlannedReminder(meeting, user, reminder_key(meeting, user))
        for meeting in meetings
        for user in recipients[meeting.id]
    ]
    if not dry_run:
        from app.notifications import robots

        robots.queue_meeting_posts(list(meetings), lead_time)
    keys = [p.key for p in planned]
    existing = set(db.session.scalars(sa.select(Notification.key).where(Notification.key.in_(keys)))) if keys else set()
    queued = []
    for item in planned:
        if item.key in existing:
            continue
        if dry_run or queue(MEETING_REMINDER, item.user, item.key, item.meeting.starts_at - lead_time,
                            meeting_id=item.meeting.id) is not None:
            queued.append(item)
    return queued


# --- sending ---------------------------------------------------------------------------------

@dataclass
class SendResult:
    """What one run did. `would_send` lists (recipient e-mail, kind, key) in a dry run."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    dropped: int = 0
    taken_elsewhere: int = 0
    reclaimed: int = 0
    would_send: list[tuple[str, str, str]] = field(default_factory=list)
    posted: int = 0  # group-robot posts sent (app.notifications.robots)
    deferred: int = 0  # group-robot posts left for a later run, their robot's slots being taken


def reclaim_stale(now: datetime) -> int:
    """Put back rows left 'sending' by a run that died more than STALE_CLAIM ago; returns how many."""
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.status == "sending", Notification.claimed_at < now - STALE_CLAIM)
        .values(status="pending", claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def due_ids(now: datetime) -> list[int]:
    """Ids of the pending notifications due at `now`, oldest first."""
    return list(db.session.scalars(
        sa.select(Notification.id)
        .where(Notification.status == "pending", Notification.due_at <= now)
        .order_by(Notification.due_at, Notification.id)
    ))


def claim(notification_id: int, now: datetime) -> bool:
    """Take the row for this run: one conditional UPDATE, true only for the run that changed it.

    Works alike on SQLite (one writer at a time) and PostgreSQL (the second UPDATE waits for the
    first transaction and then finds the row no longer pending).
    """
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id, Notification.status == "pending")
        .values(status="sending", claimed_at=now, attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _finish(notification_id: int, **values) -> None:
    db.session.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id, Notification.status == "sending")
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def render(notification: Notification, now: datetime) -> Rendered:
    """The message for a queued notification; raises Drop when it should not go out any more."""
    if not notification.user.active:
        raise Drop("user inactive")
    function = RENDERERS.get(notification.kind)
    if function is None:
        raise Drop(f"no renderer for {notification.kind}")
    return function(notification, now)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]


def deliver(notification: Notification, message: Rendered, now: datetime) -> None:
    """Send a rendered message on the notification's channel, in the recipient's language.

    Raises the mail backend's error for e-mail, PlatformError for WeCom and DingTalk, Drop when the person
    no longer has an id on the platform.
    """
    user = notification.user
    if notification.channel == rules.EMAIL:
        send_templated_mail(user, message.subject, message.template, **message.context)
        return
    title, body = render_in_language(user, message.subject, message.template,
                                     **{**message.context, "channel": notification.channel})
    send_chat(user, notification.channel, title, body, now)


def send_chat(user: User, channel: str, title: str, body: str, now: datetime) -> dict:
    """Send one rendered message to `user` on a chat channel; the platform's answer.

    Raises Drop when the person has no id on that platform, PlatformError when the platform is not configured
    (not retryable) or refuses.
    """
    if channel == rules.WECOM:
        if not user.wecom_userid:
            raise Drop("no WeCom user id")
        if not wecom.configured():
            raise PlatformError("not-configured", "WeCom is not configured (WECOM_CORP_ID, ...)", retryable=False)
        return wecom.send_app_message(user.wecom_userid, chat_markdown(title, body), now)
    if channel == rules.DINGTALK:
        if not user.dingtalk_userid:
            raise Drop("no DingTalk user id")
        if not dingtalk.configured():
            raise PlatformError("not-configured", "DingTalk is not configured (DINGTALK_APP_KEY, ...)",
                                retryable=False)
        return dingtalk.send_work_notification(user.dingtalk_userid, title, chat_markdown(title, body), now)
    raise Drop(f"unknown channel {channel}")


def send_test_message(user: User, channel: str, now: datetime) -> dict:
    """Send `user` one test message on `channel` now, in their language, outside the outbox; the platform's answer
    ({"status": "sent"} for e-mail, which has none to show).

    Raises Drop when the person has no id on that platform, PlatformError when the platform refuses, the mail
    backend's error for e-mail. Flushes the access token it may fetch; the caller commits.
    """
    message = Rendered(subject=lambda: _("Balint Groups: test message"), template="notifications/test_message",
                       context={"link": absolute_url("main.home")})
    if channel == rules.EMAIL:
        send_templated_mail(user, message.subject, message.template, **message.context)
        return {"status": "sent"}
    title, body = render_in_language(user, message.subject, message.template, **{**message.context,
                                                                                   "channel": channel})
    return send_chat(user, channel, title, body, now)


def chat_markdown(title: str, body: str) -> str:
    """A chat message in Markdown: the subject in bold, then the body, each web address a link."""
    linked = re.sub(r"(?<![(\[])(https?://[^\s)]+)", r"[\1](\1)", body.strip())
    return f"**{title}**\n\n{linked}"


def send_one(notification_id: int, now: datetime, commit: Callable[[], None]) -> str:
    """Claim, render and send one notification; returns sent, retrying, failed, dropped or taken_elsewhere.

    `commit` ends each step: after the claim (so a crash mid-send leaves a 'sending' row, reclaimed
    later, rather than an unmarked sent mail), after the reading, and after the outcome is recorded.
    Every write thus opens its own transaction, which SQLite needs (a transaction that read before
    another writer committed may not write). A sending error never escapes: an e-mail goes back to
    pending, or to failed after MAX_ATTEMPTS attempts; a chat message that hit a rate limit or a server
    error waits rules.retry_delay before its next try (up to rules.CHAT_MAX_ATTEMPTS), and one the platform
    refused is failed at once, with the platform's errcode and errmsg.
    """
    claimed = claim(notification_id, now)
    commit()
    if not claimed:
        return "taken_elsewhere"
    notification = db.session.get(Notification, notification_id, populate_existing=True)
    try:
        message = render(notification, now)
        deliver(notification, message, now)
    except Drop as drop:
        outcome, values = "dropped", {"status": "dropped", "error": drop.reason[:ERROR_LENGTH]}
    except PlatformError as error:
        current_app.logger.warning("notification %s not sent on %s: %s", notification_id, notification.channel, error)
        gave_up = rules.gives_up(notification.attempts, error.retryable)
        outcome = "failed" if gave_up else "retrying"
        values = {"status": "failed" if gave_up else "pending", "error": str(error)[:ERROR_LENGTH],
                  "error_code": error.code[:20]}
        if not gave_up:
            values["due_at"] = now + rules.retry_delay(notification.attempts)
    except Exception as exc:  # any mail failure is recorded; the run goes on
        current_app.logger.warning("notification %s not sent: %s", notification_id, exc)
        gave_up = notification.attempts >= MAX_ATTEMPTS
        outcome = "failed" if gave_up else "retrying"
        values = {"status": "failed" if gave_up else "pending", "error": _error_text(exc)}
    else:
        outcome, values = "sent", {"status": "sent", "sent_at": now, "error": None, "error_code": None}
    commit()
    _finish(notification_id, **values)
    commit()
    return outcome


def send_pending(now: datetime, dry_run: bool = False, commit: Callable[[], None] | None = None) -> SendResult:
    """Send every pending notification due at `now`, each at most once across runs and hosts.

    `commit` is how the caller ends each step (the CLI passes db.session.commit, so a crash loses
    nothing already sent); by default the work is only flushed. With dry_run nothing is claimed,
    sent or written: the result lists what would be sent.
    """
    with links_context():  # e-mailed links need a request; a CLI run or a thread has none
        return _send_pending(now, dry_run, commit or db.session.flush)


def _send_pending(now: datetime, dry_run: bool, commit: Callable[[], None]) -> SendResult:
    result = SendResult()
    if dry_run:
        for notification_id in due_ids(now):
            notification = db.session.get(Notification, notification_id)
            try:
                render(notification, now)
            except Drop:
                continue
            to = notification.user.email
            if notification.channel != rules.EMAIL:
                to += f" ({notification.channel})"
            result.would_send.append((to, notification.kind, notification.key))
        return result
    result.reclaimed = reclaim_stale(now)
    commit()
    found = due_ids(now)
    commit()
    for notification_id in found:
        outcome = send_one(notification_id, now, commit)
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result


# --- running alone ---------------------------------------------------------------------------

def _lock_id(name: str) -> int:
    return zlib.crc32(f"balint-groups:{name}".encode())


@contextlib.contextmanager
def exclusive_run(name: str) -> Iterator[bool]:
    """Hold a lock named `name` for the block, so overlapping runs give way; yields whether it was acquired.

    On PostgreSQL a session advisory lock (pg_try_advisory_lock) on a connection of its own (the
    session's connections go back to the pool at each commit), so it also covers several hosts. On
    SQLite, a single host's database, an flock on a file beside the database file. Either way the
    atomic claims alone already keep sending exactly-once; the lock spares the losers the work.
    """
    engine = db.engine
    if engine.dialect.name != "postgresql":
        with _file_lock(name, engine.url.database) as acquired:
            yield acquired
        return
    key = _lock_id(name)
    with engine.connect() as connection:
        acquired = bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        connection.commit()
        try:
            yield acquired
        finally:
            if acquired:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()


@contextlib.contextmanager
def _file_lock(name: str, database: str | None) -> Iterator[bool]:
    """An flock on a file beside the SQLite database (an in-memory database is one process's alone)."""
    import fcntl

    if not database or database == ":memory:":
        yield True
        return
    with open(f"{database}.{name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            acquired = False
        else:
            acquired = True
        try:
            yield acquired
        finally:
            if acquired:
                fcntl.flock(handle, fcntl.LOCK_UN)


# --- recording runs --------------------------------------------------------------------------

def start_run(job: str, now: datetime) -> JobRun:
    """Record that `job` started at `now` (wall-clock naive UTC) on this host. Flushes; the caller commits
    at once, on its own, so that a run that dies still leaves its "running" row."""
    run = JobRun(job=job, host=socket.gethostname()[:200], started_at=now, status="running")
    db.session.add(run)
    db.session.flush()
    return run


def finish_run(run_id: int, now: datetime, status: str = "finished", error: str | None = None,
               counts: dict[str, int] | None = None) -> None:
    """Record how the run ended: `status` finished, failed or skipped, the error, and what it did.

    An UPDATE by id, so it works after a rollback has expired the run's object. Raises ValueError for
    another status.
    """
    if status not in ("finished", "failed", "skipped"):
        raise ValueError(f"a run ends finished, failed or skipped, not {status!r}")
    values = {"finished_at": now, "status": status, "error": error[:ERROR_LENGTH] if error else None}
    values.update(counts or {})
    db.session.execute(sa.update(JobRun).where(JobRun.id == run_id).values(**values)
                       .execution_options(synchronize_session=False))


def run_error_text(exc: BaseException) -> str:
    """How a crash is stored on its run (the exception's type and message, cut to fit)."""
    return _error_text(exc)


def prune_runs(job: str, now: datetime) -> int:
    """Delete the runs of `job` that started more than JOB_RUN_KEEP_DAYS before `now`; returns how many."""
    result = db.session.execute(
        sa.delete(JobRun).where(JobRun.job == job, JobRun.started_at < keep_runs_since(now))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# --- meeting reminders -----------------------------------------------------------------------

@renderer(MEETING_REMINDER)
def render_meeting_reminder(notification: Notification, now: datetime) -> Rendered:
    """The reminder e-mail: group, local date and time, place or link, leaders, where to turn it off.

    Raises Drop when the meeting was cancelled, moved (a new reminder exists for the new time),
    already started, or the user turned reminders off.
    """
    meeting = db.session.get(Meeting, notification.meeting_id) if notification.meeting_id else None
    user = notification.user
    if meeting is None:
        raise Drop("meeting deleted")
    if meeting.status != "scheduled":
        raise Drop(f"meeting {meeting.status}")
    if meeting.starts_at <= now:
        raise Drop("meeting already started")
    if reminder_key(meeting, user) != notification.key:
        raise Drop("meeting moved")
    if not user.email_reminders:
        raise Drop("reminders turned off")
    leaders = [ml.user.name for ml in meeting.leaders]
    return Rendered(
        subject=lambda: _("Reminder: %(group)s, %(date)s %(time)s", group=meeting.group.name,
                          date=format_date(meeting.starts_at, "medium"), time=format_time(meeting.starts_at, "HH:mm")),
        template="notifications/meeting_reminder",
        context={
            "meeting": meeting,
            "group": meeting.group,
            "leaders": leaders,
            "zone": local_zone().key,
            "meetings_link": absolute_url("scheduling.my_meetings"),
            "profile_link": absolute_url("accounts.profile"),
            "ics_link": absolute_url("scheduling.meeting_ics", meeting_id=meeting.id),
        },
    )
