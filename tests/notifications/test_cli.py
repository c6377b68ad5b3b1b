"""`flask notify send-due`: what a cron job or systemd timer runs every few minutes."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db as _db
from app.notifications import services
from app.notifications.models import Notification
from app.timeutil import to_local
from tests.factories import make_group, make_leader, make_meeting, make_org


def iso(moment) -> str:
    """A naive UTC moment as the ISO text an operator would type (with its offset)."""
    return to_local(moment).isoformat()


def statuses(db):
    db.session.rollback()
    return sorted(db.session.scalars(sa.select(Notification.status)))


def test_send_due_sends_the_reminders_once_however_often_it_runs(app, db, meeting, outbox):
    runner = app.test_cli_runner()
    now = meeting.starts_at - timedelta(hours=3)
    first = runner.invoke(args=["notify", "send-due", "--now", iso(now)])
    assert first.exit_code == 0, first.output
    assert "Queued 2; sent 2" in first.output
    again = runner.invoke(args=["notify", "send-due", "--now", iso(now + timedelta(minutes=5))])
    assert again.exit_code == 0, again.output
    assert "Queued 0; sent 0" in again.output
    assert sorted(m.to[0] for m in outbox) == ["leader@example.org", "member@example.org"]
    assert statuses(db) == ["sent", "sent"]


def test_send_due_without_now_uses_the_clock_and_finds_nothing_ten_days_early(app, db, meeting, outbox):
    result = app.test_cli_runner().invoke(args=["notify", "send-due"])
    assert result.exit_code == 0, result.output
    assert "Queued 0; sent 0" in result.output and outbox == []


def test_a_dry_run_prints_what_would_go_out_and_changes_nothing(app, db, meeting, outbox):
    runner = app.test_cli_runner()
    now = iso(meeting.starts_at - timedelta(hours=3))
    result = runner.invoke(args=["notify", "send-due", "--dry-run", "--now", now])
    assert result.exit_code == 0, result.output
    assert "would queue meeting_reminder to member@example.org" in result.output
    assert "would queue meeting_reminder to leader@example.org" in result.output
    assert "nothing changed" in result.output
    assert statuses(db) == [] and outbox == []

    # Queued by a real run whose sending failed: a dry run lists it as due, and leaves it pending.
    services.queue_due_reminders(meeting.starts_at - timedelta(hours=3))
    db.session.commit()
    result = runner.invoke(args=["notify", "send-due", "--dry-run", "--now", now])
    assert "would send meeting_reminder to member@example.org" in result.output
    assert statuses(db) == ["pending", "pending"] and outbox == []


def test_now_without_an_offset_is_local_time_and_nonsense_is_refused(app, db, meeting, outbox):
    runner = app.test_cli_runner()
    local = to_local(meeting.starts_at - timedelta(hours=3)).replace(tzinfo=None).isoformat()
    assert "Queued 2" in runner.invoke(args=["notify", "send-due", "--now", local]).output
    wrong = runner.invoke(args=["notify", "send-due", "--now", "next tuesday"])
    assert wrong.exit_code == 2 and "ISO 8601" in wrong.output


def test_a_failing_mail_server_does_not_stop_the_run(app, db, meeting, outbox, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(services, "send_templated_mail", broken)
    now = iso(meeting.starts_at - timedelta(hours=2))
    result = app.test_cli_runner().invoke(args=["notify", "send-due", "--now", now])
    assert result.exit_code == 0, result.output
    assert "sent 0, to retry 2" in result.output
    assert statuses(db) == ["pending", "pending"]


def test_a_second_run_on_the_same_sqlite_database_gives_way(app, db, meeting, outbox):
    with services.exclusive_run("notify-send-due") as acquired:
        assert acquired
        result = app.test_cli_runner().invoke(
            args=["notify", "send-due", "--now", iso(meeting.starts_at - timedelta(hours=2))]
        )
    assert result.exit_code == 0
    assert "holds the lock" in result.output
    assert statuses(db) == [] and outbox == []


def test_on_postgresql_a_run_gives_way_while_another_holds_the_advisory_lock(pg_app):
    with pg_app.app_context():
        org = make_org()
        leader = make_leader()
        group = make_group(org, leader=leader)
        meeting = make_meeting(group, leader)
        _db.session.commit()
        now = iso(meeting.starts_at - timedelta(hours=2))
        _db.session.remove()
    runner = pg_app.test_cli_runner()
    outbox = pg_app.extensions["mailman"].outbox

    with pg_app.app_context(), _db.engine.connect() as other_host:
        key = services._lock_id("notify-send-due")
        assert other_host.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        held = runner.invoke(args=["notify", "send-due", "--now", now])
        other_host.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    assert held.exit_code == 0, held.output
    assert "holds the lock" in held.output and outbox == []

    free = runner.invoke(args=["notify", "send-due", "--now", now])
    assert free.exit_code == 0, free.output
    assert "Queued 1; sent 1" in free.output
    assert [m.to for m in outbox] == [["leader@example.org"]]
    with pg_app.app_context():
        # The run let go of its lock: the next one may take it.
        with _db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        _db.session.remove()
