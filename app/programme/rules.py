"""Pure rules about groups and membership. No Flask, no database; dates are passed in."""

from __future__ import annotations

from datetime import date

RECOMMENDED_MIN = 6
RECOMMENDED_MAX = 12


def capacity_warning(capacity: int) -> str | None:
    """'above' when a capacity exceeds the recommended 12, 'below' under 6, else None."""
    if capacity > RECOMMENDED_MAX:
        return "above"
    if capacity < RECOMMENDED_MIN:
        return "below"
    return None


def is_over_capacity(current_members: int, capacity: int) -> bool:
    """True when adding one more member would exceed the group's capacity."""
    return current_members + 1 > capacity


def periods_overlap(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    """True when two closed-or-open date periods share at least one day (None: still open)."""
    a_end_cmp = a_end or date.max
    b_end_cmp = b_end or date.max
    return a_start <= b_end_cmp and b_start <= a_end_cmp
