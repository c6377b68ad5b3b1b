"""Pure rules of feedback rounds: the five-meeting rule (when a round is due, which meetings it covers).
No Flask, no database."""

from __future__ import annotations

from collections.abc import Sequence


def round_due(uncovered_held: int, interval: int) -> bool:
    """True when the held meetings not covered by any round have reached the group's interval."""
    return interval >= 1 and uncovered_held >= interval


def rounds_to_open(uncovered_held_ids: Sequence[int], interval: int) -> list[list[int]]:
    """The meeting sets of the rounds to open now: consecutive chunks of exactly `interval` meetings.

    `uncovered_held_ids` is in chronological order. Normally this is one chunk at the moment the
    count reaches the interval; several when the interval was lowered. A remainder stays uncovered.
    Raises ValueError for an interval below 1.
    """
    if interval < 1:
        raise ValueError("interval must be at least 1")
    ids = list(uncovered_held_ids)
    whole = len(ids) // interval * interval
    return [ids[i:i + interval] for i in range(0, whole, interval)]
