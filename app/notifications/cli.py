"""`flask notify ...`: sending what is due, run by a systemd timer or cron every few minutes."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from app.extensions import db
from app.feedback.services.rounds import close_due_rounds
from app.notifications import robots, services
from app.notifications.chat import Clock
from app.notifications.rules import SEND_DUE
from app.sqlite import write_intent
from app.timeutil import local_zone, utcnow
from app.trends.signals import refresh as refresh_signals


def parse_now(value: str | None) -> datetime:
    """--now as naive UTC: an ISO 8601 time, read in the deployment's timezone when it has no offset."""
    if not value:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2027-01-05T14:00+08:00", param_hint="--now") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_zone())
    return moment.astimezone(UTC).replace(tzinfo=None)


@click.group("notify")
def notify_cli():
    """Send due notifications (reminders)."""


@notify_cli.command("send-due")
@click.option("--dry-run", is_flag=True, help="Print what would be queued and sent; change nothing, send nothing.")
@click.option("--now", "now_text", metavar="ISO",
              help="Act as if it were this time (testing), e.g. 2027-01-05T14:00+08:00; no offset means local time.")
@with_appcontext
def send_due(dry_run, now_text):
    """Queue the meeting reminders that are due and send every pending notification, each exactly once.

    Safe to run often and from several hosts at once: a re-run never sends twice.
    """
    now = parse_now(now_text)
    if dry_run:
        try:
            planned = services.queue_due_reminders(now, dry_run=True)
            result = services.send_pending(now, dry_run=True)
            lines = [f"would queue {services.MEETING_REMINDER} to {p.user.email} ({p.key})" for p in planned]
            lines += [f"would send {kind} to {email} ({key})" for email, kind, key in result.would_send]
        finally:
            db.session.rollback()  # belt and braces: a dry run writes nothing
        for line in lines:
            click.echo(line)
        click.echo(f"Dry run: {len(planned)} to queue, {len(result.would_send)} queued and due; nothing changed.")
        return
    # The run is recorded in a transaction of its own before any work, so one that dies still shows (System page).
    run_id = services.start_run(SEND_DUE, utcnow()).id
    db.session.commit()
    try:
        with services.exclusive_run(SEND_DUE) as acquired:
            if not acquired:
                _end_run(run_id, "skipped")
                click.echo("Another `flask notify send-due` run holds the lock; nothing to do.")
                return
            closed = close_due_rounds(now)
            # The coordinator's home reads each group's signals: store those the closing (or any change, or the
            # clock) made stale, and every one older than an hour (app.trends.signals).
            refreshed = refresh_signals(now, current_app.config["MIN_RESPONSES"])
            queued = services.queue_due_reminders(now)
            db.session.commit()
            result = services.send_pending(now, commit=db.session.commit)
            with services.links_context():
                posts = robots.send_due_posts(Clock(now), commit=db.session.commit)
    except BaseException as exc:
        db.session.rollback()
        try:
            _end_run(run_id, "failed", error=services.run_error_text(exc))
        except Exception:  # the database may be what failed: the run then stays "running" and shows as died
            db.session.rollback()
        raise
    _end_run(run_id, "finished", counts={
        "closed_rounds": closed, "queued": len(queued), "sent": result.sent, "retrying": result.retrying,
        "failed": result.failed, "dropped": result.dropped,
    })
    click.echo(
        f"Closed {closed} feedback round(s) whose window ended; stored the signals of {refreshed} group(s). "
        f"Queued {len(queued)}; sent {result.sent}, to retry {result.retrying}, failed {result.failed}, "
        f"dropped {result.dropped}, taken by another run {result.taken_elsewhere}, reclaimed {result.reclaimed}."
    )
    if posts:
        click.echo("Group posts: " + ", ".join(f"{outcome} {count}" for outcome, count in sorted(posts.items())) + ".")


def _end_run(run_id: int, status: str, error: str | None = None, counts: dict[str, int] | None = None) -> None:
    """Record the end of the run and prune old runs, in a transaction of their own."""
    ended = utcnow()
    services.finish_run(run_id, ended, status, error=error, counts=counts)
    services.prune_runs(SEND_DUE, ended)
    db.session.commit()


@notify_cli.command("test")
@click.option("--channel", type=click.Choice(["email", "wecom", "dingtalk"]), required=True,
              help="The channel to try.")
@click.option("--to", "email", required=True, metavar="EMAIL", help="The person (by e-mail address) to send to.")
@with_appcontext
def send_test(channel, email):
    """Send one test message to a person on a channel, now (not through the outbox), and print the platform's answer.

    Exit status 0 when the platform took it, 1 when it refused (its errcode and errmsg are printed), 2 for a
    person who is unknown or has no id on that platform.
    """
    import json

    import sqlalchemy as sa

    from app.accounts.models import User
    from app.notifications.chat import PlatformError

    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.UsageError(f"nobody has the e-mail address {email}")
    try:
        with write_intent(), services.links_context():
            answer = services.send_test_message(user, channel, utcnow())
            db.session.commit()  # the access token, shared with the other hosts
    except services.Drop as drop:
        raise click.UsageError(f"{user.email}: {drop.reason}") from None
    except PlatformError as error:
        db.session.commit()
        click.echo(f"{channel}: refused: errcode {error.code}: {error.message}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{channel}: sent to {user.email}; the platform answered:")
    click.echo(json.dumps(answer, ensure_ascii=False, sort_keys=True))
