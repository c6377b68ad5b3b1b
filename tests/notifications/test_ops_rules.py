"""The rules that say whether the background work runs: pure, time passed in, no app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.notifications import rules

NOW = datetime(2027, 1, 5, 6, 0)


@dataclass
class Run:
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "finished"
    error: str | None = None


def kinds(problems):
    return [p.kind for p in problems]


def test_a_send_due_that_never_ran_is_a_problem():
    assert kinds(rules.send_due_problems(None, NOW)) == [rules.NEVER_RAN]


def test_a_run_within_two_hours_is_fine_and_one_older_is_late():
    recent = Run(NOW - timedelta(hours=2), NOW - timedelta(hours=2) + timedelta(seconds=3))
    assert rules.send_due_problems(recent, NOW) == []
    old = Run(NOW - timedelta(hours=2, seconds=1), NOW - timedelta(hours=2))
    problems = rules.send_due_problems(old, NOW)
    assert kinds(problems) == [rules.LATE] and problems[0].at == old.started_at


def test_a_failed_last_run_is_reported_with_its_error():
    run = Run(NOW - timedelta(minutes=5), NOW - timedelta(minutes=4), "failed", "OperationalError: gone")
    problems = rules.send_due_problems(run, NOW)
    assert kinds(problems) == [rules.LAST_RUN_FAILED] and problems[0].error == "OperationalError: gone"


def test_a_run_still_marked_running_after_an_hour_died_but_a_younger_one_is_running():
    assert rules.send_due_problems(Run(NOW - timedelta(minutes=59), None, "running"), NOW) == []
    died = Run(NOW - timedelta(hours=1), None, "running")
    assert kinds(rules.send_due_problems(died, NOW)) == [rules.LAST_RUN_DIED]
    assert rules.run_died(died, NOW) and not rules.run_died(Run(NOW - timedelta(hours=3)), NOW)


def test_a_run_that_died_long_ago_is_both_late_and_dead():
    died = Run(NOW - timedelta(hours=5), None, "running")
    assert kinds(rules.send_due_problems(died, NOW)) == [rules.LATE, rules.LAST_RUN_DIED]


def test_a_run_skipped_for_the_lock_shows_the_timer_works():
    assert rules.send_due_problems(Run(NOW - timedelta(minutes=1), NOW, "skipped"), NOW) == []


def test_mail_fails_when_any_message_failed_in_the_window():
    assert rules.mail_problems(0, None, None) == []
    problems = rules.mail_problems(3, NOW, "SMTPDataError: (554, 'no')")
    assert kinds(problems) == [rules.MAIL_FAILING] and problems[0].count == 3


def test_runs_are_kept_ninety_days():
    assert rules.keep_runs_since(NOW) == NOW - timedelta(days=90)
