"""Pure rules about meetings: presenters, phases, attendance. No Flask, no database (the five-meeting feedback
rule is app.feedback.rules)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

PHASES = ("case", "questions", "discussion", "return", "closing")
# Shares of the meeting for each phase, in the order above (a 60-minute meeting: 5, 10, 30, 10, 5).
DEFAULT_SHARES = (5, 10, 30, 10, 5)


def presenter_order(present_ids: Sequence[int], last_presented: dict[int, datetime]) -> list[int]:
    """Who might present: those present who presented least recently first (never presented: first of all).

    Ties keep the order given.
    """
    never = [uid for uid in present_ids if uid not in last_presented]
    others = sorted((uid for uid in present_ids if uid in last_presented), key=lambda uid: last_presented[uid])
    return never + others


def default_phases(total_minutes: int) -> list[int]:
    """Phase lengths for a meeting of this length, in proportion to the usual 5/10/30/10/5, summing exactly."""
    if total_minutes < len(PHASES):
        raise ValueError("a meeting needs at least one minute per phase")
    weight = sum(DEFAULT_SHARES)
    phases = [max(1, total_minutes * share // weight) for share in DEFAULT_SHARES]
    phases[PHASES.index("discussion")] += total_minutes - sum(phases)
    return phases


def phase_problems(phases: Sequence[int], total_minutes: int) -> list[str]:
    """What is wrong with a phase plan (empty: fine). Codes: count, positive, sum."""
    problems = []
    if len(phases) != len(PHASES):
        problems.append("count")
    if any(not isinstance(p, int) or p < 1 for p in phases):
        problems.append("positive")
    if sum(p for p in phases if isinstance(p, int)) != total_minutes:
        problems.append("sum")
    return problems


def attendance_rate(present: int, expected: int) -> float | None:
    """Present over expected members (None when nobody was expected)."""
    return None if expected <= 0 else present / expected
