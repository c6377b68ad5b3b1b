"""Pure rules about the background work: is `flask notify send-due` running, is mail going out. Time is passed in."""

from __future__ import annotations

import re
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


# --- channels --------------------------------------------------------------------------------

EMAIL, WECOM, DINGTALK = "email", "wecom", "dingtalk"
CHANNELS = (EMAIL, WECOM, DINGTALK)
CHAT_CHANNELS = (WECOM, DINGTALK)
# Kinds that carry a one-time sign-in link: they go by e-mail only, whatever the person chose.
EMAIL_ONLY_KINDS = frozenset({"invitation"})
# What a WeCom or DingTalk user id looks like: letters, digits and _ . @ -, at most 64 of them.
_PLATFORM_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def is_platform_id(value: str) -> bool:
    """True for a text that can be a WeCom or DingTalk user id."""
    return bool(_PLATFORM_ID.fullmatch(value))


def parse_channels(text: str | None) -> tuple[str, ...]:
    """The channels named in a comma-separated setting, known ones only, in CHANNELS order, each once.

    None or an empty text gives (); unknown names are left out (config.check_channels reports them).
    """
    named = {part.strip().lower() for part in (text or "").split(",")}
    return tuple(channel for channel in CHANNELS if channel in named)


def channels_for(kind: str, chosen: tuple[str, ...] | None, enabled: tuple[str, ...], default: tuple[str, ...],
                 wecom_userid: str | None, dingtalk_userid: str | None) -> tuple[str, ...]:
    """The channels a message of `kind` goes to for one person.

    `chosen` is the person's choice (None: the programme's `default`); only channels the programme has
    `enabled` count, and a chat channel only when the person has an id on that platform. E-mail-only
    kinds (invitations) go by e-mail; when nothing is left, e-mail, so a message is never lost to a choice.
    """
    if kind in EMAIL_ONLY_KINDS:
        return (EMAIL,)
    wanted = default if chosen is None else chosen
    ids = {EMAIL: True, WECOM: bool(wecom_userid), DINGTALK: bool(dingtalk_userid)}
    result = tuple(c for c in CHANNELS if c in wanted and (c == EMAIL or c in enabled) and ids[c])
    return result or (EMAIL,)


# --- retries and spacing ---------------------------------------------------------------------

# A chat message is tried this many times (rate limits, server errors) before it is marked failed.
CHAT_MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
# A group robot takes at most 20 messages a minute: one every three seconds keeps any minute within it.
ROBOT_PER_MINUTE = 20
ROBOT_SPACING = timedelta(seconds=60 / ROBOT_PER_MINUTE)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait before the next try after `attempts` failed ones: 1, 2, 4, 8 … minutes, at most an hour."""
    if attempts < 1:
        return timedelta(0)
    return min(RETRY_BASE * (2 ** (attempts - 1)), RETRY_CAP)


def gives_up(attempts: int, retryable: bool, max_attempts: int = CHAT_MAX_ATTEMPTS) -> bool:
    """True when a message that failed for the `attempts`-th time is marked failed rather than retried."""
    return not retryable or attempts >= max_attempts


def robot_slot(next_slot_at: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """When a robot's next post may go (not before `now`), and when the one after it may.

    Posts are spaced by ROBOT_SPACING, so any 60 seconds hold at most ROBOT_PER_MINUTE of them.
    """
    slot = now if next_slot_at is None or next_slot_at < now else next_slot_at
    return slot, slot + ROBOT_SPACING


def mask_secret(value: str, keep: int = 4) -> str:
    """A secret as pages show it: its last `keep` characters after a run of dots (all dots when short)."""
    if len(value) <= keep * 2:
        return "•" * 8
    return "•" * 8 + value[-keep:]
