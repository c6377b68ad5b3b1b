"""Pure rules about the background work: is `flask notify send-due` running, is mail going out. Time is passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

SEND_DUE = "notify-send-due"
# The timer runs send-due every five minutes: no start for two hours means it is not running at all.
SEND_DUE_MAX_AGE = timedelta(hours=2)
# A run that started this long ago and has no end died without recording it (killed, machine restarted).
RUN_PRESUMED_DEAD = timedelta(hours=1)
# Failed messages this recent mean mail is failing now.
MAIL_FAILURE_WINDOW = timedelta(hours=24)
# job_runs keeps this many days of history.
JOB_RUN_KEEP_DAYS = 90

NEVER_RAN = "send_due_never"
LATE = "send_due_late"
LAST_RUN_FAILED = "send_due_failed"
LAST_RUN_DIED = "send_due_unfinished"
MAIL_FAILING = "mail_failing"


class RunLike(Protocol):
    """What the rules read of a run (a JobRun row, or anything shaped like one)."""

    started_at: datetime
    finished_at: datetime | None
    status: str
    error: str | None


@dataclass(frozen=True)
class OperationsProblem:
    """Something an operator must see: `kind` is one of the constants above; `at` the run or failure concerned."""

    kind: str
    at: datetime | None = None
    count: int = 0
    error: str | None = None


def run_died(run: RunLike, now: datetime) -> bool:
    """True when a run is still marked running RUN_PRESUMED_DEAD after it started: it ended without a record."""
    return run.status == "running" and run.finished_at is None and now - run.started_at >= RUN_PRESUMED_DEAD


def send_due_problems(last_run: RunLike | None, now: datetime) -> list[OperationsProblem]:
    """What is wrong with `flask notify send-due`, judged from its latest run (None when it never ran).

    Never ran; last started more than SEND_DUE_MAX_AGE ago; the latest run failed; the latest run died
    (still "running" RUN_PRESUMED_DEAD after its start). A run skipped because another held the lock
    counts as a run: the timer works.
    """
    if last_run is None:
        return [OperationsProblem(NEVER_RAN)]
    problems = []
    if now - last_run.started_at > SEND_DUE_MAX_AGE:
        problems.append(OperationsProblem(LATE, at=last_run.started_at))
    if last_run.status == "failed":
        problems.append(OperationsProblem(LAST_RUN_FAILED, at=last_run.started_at, error=last_run.error))
    elif run_died(last_run, now):
        problems.append(OperationsProblem(LAST_RUN_DIED, at=last_run.started_at))
    return problems


def mail_problems(failures: int, last_failure_at: datetime | None, last_error: str | None) -> list[OperationsProblem]:
    """Mail is failing when any message failed within MAIL_FAILURE_WINDOW (`failures` counts them)."""
    if failures <= 0:
        return []
    return [OperationsProblem(MAIL_FAILING, at=last_failure_at, count=failures, error=last_error)]


def keep_runs_since(now: datetime) -> datetime:
    """Runs that started before this moment are pruned."""
    return now - timedelta(days=JOB_RUN_KEEP_DAYS)
