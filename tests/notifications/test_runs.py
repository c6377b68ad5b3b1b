"""Every run of `flask notify send-due` leaves a row in job_runs: how it ended, how long it took, what it did."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from app.main.queries import operations_problems
from app.notifications import rules, services
from app.notifications.models import JobRun, Notification
from app.timeutil import to_local, utcnow

ROOT = Path(__file__).resolve().parents[2]


def iso(moment) -> str:
    return to_local(moment).isoformat()


def runs(db) -> list[JobRun]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(JobRun).order_by(JobRun.started_at, JobRun.id)))


def test_each_run_is_recorded_with_its_counts_its_duration_and_its_host(app, db, meeting, outbox):
    before = utcnow()
    result = app.test_cli_runner().invoke(
        args=["notify", "send-due", "--now", iso(meeting.starts_at - timedelta(hours=3))]
    )
    after = utcnow()
    assert result.exit_code == 0, result.output

    [run] = runs(db)
    assert run.job == rules.SEND_DUE and run.status == "finished" and run.error is None
    assert (run.queued, run.sent, run.retrying, run.failed, run.dropped, run.closed_rounds) == (2, 2, 0, 0, 0, 0)
    # The clock of the machine, not --now: the System page says when the timer really fired.
    assert before <= run.started_at <= run.finished_at <= after
    assert run.duration == run.finished_at - run.started_at and run.host == socket.gethostname()


def test_a_dry_run_records_no_run(app, db, meeting, outbox):
    result = app.test_cli_runner().invoke(args=["notify", "send-due", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert runs(db) == []


def test_a_run_that_crashes_is_recorded_as_failed_with_its_error_and_the_command_fails(
    app, db, meeting, outbox, monkeypatch
):
    # A real crash: a setting the reminders cannot use (as a typo in the environment file would give).
    monkeypatch.setitem(app.config, "REMINDER_HOURS_BEFORE", "twenty-four")
    result = app.test_cli_runner().invoke(
        args=["notify", "send-due", "--now", iso(meeting.starts_at - timedelta(hours=3))]
    )
    assert result.exit_code != 0 and isinstance(result.exception, TypeError)

    [run] = runs(db)
    assert run.status == "failed" and run.finished_at is not None
    assert run.error.startswith("TypeError:") and run.sent is None
    problems = operations_problems(run.started_at + timedelta(minutes=1))
    assert [p.kind for p in problems] == [rules.LAST_RUN_FAILED] and problems[0].error == run.error


def test_a_run_that_finds_another_holding_the_lock_is_recorded_as_skipped(app, db, meeting, outbox):
    with services.exclusive_run(rules.SEND_DUE) as acquired:
        assert acquired
        result = app.test_cli_runner().invoke(
            args=["notify", "send-due", "--now", iso(meeting.starts_at - timedelta(hours=2))]
        )
    assert result.exit_code == 0 and "holds the lock" in result.output
    [run] = runs(db)
    assert run.status == "skipped" and run.finished_at is not None and run.sent is None


def test_runs_older_than_ninety_days_are_pruned_by_the_next_run(app, db, meeting, outbox):
    now = utcnow()
    for days in (91, 89):
        db.session.add(JobRun(job=rules.SEND_DUE, host="old", started_at=now - timedelta(days=days),
                              finished_at=now - timedelta(days=days), status="finished"))
    db.session.add(JobRun(job="another-job", host="old", started_at=now - timedelta(days=200), status="finished"))
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["notify", "send-due"])
    assert result.exit_code == 0, result.output
    left = runs(db)
    assert sorted((r.job, round((now - r.started_at) / timedelta(days=1))) for r in left) == [
        ("another-job", 200), (rules.SEND_DUE, 0), (rules.SEND_DUE, 89)]


def _silent_smtp_port():
    """A port that accepts connections and never says a word: a mail server that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return listener


def test_a_run_killed_mid_send_stays_started_and_unfinished_and_the_next_run_recovers(app, db, meeting, outbox):
    listener = _silent_smtp_port()
    port = listener.getsockname()[1]
    now = meeting.starts_at - timedelta(hours=3)
    env = {**os.environ, "FLASK_APP": "wsgi", "FLASK_CONFIG": "development",
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "MAIL_BACKEND": "smtp",
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port), "MAIL_TIMEOUT": "120"}
    env.pop("TEST_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "flask", "notify", "send-due", "--now", iso(now)], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            db.session.rollback()
            if db.session.scalar(sa.select(sa.func.count()).where(Notification.status == "sending")):
                break
            time.sleep(0.1)
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        os.kill(process.pid, signal.SIGKILL)  # as the OOM killer or a power cut would
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate(timeout=30)
        listener.close()

    [dead] = runs(db)
    assert dead.status == "running" and dead.finished_at is None and dead.duration is None
    assert operations_problems(dead.started_at + timedelta(minutes=59)) == []  # it may still be running
    assert [p.kind for p in operations_problems(dead.started_at + timedelta(hours=1))] == [rules.LAST_RUN_DIED]

    # The next run takes back the message the dead one had claimed, and records itself.
    result = app.test_cli_runner().invoke(args=["notify", "send-due", "--now", iso(now + timedelta(minutes=16))])
    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output and "reclaimed 1" in result.output
    first, second = runs(db)
    assert first.id == dead.id and first.status == "running" and second.status == "finished"
    assert operations_problems(second.started_at + timedelta(minutes=1)) == []
