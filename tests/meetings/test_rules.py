"""Meeting rules without an app: presenters, phases (the five-meeting rule: tests/feedback/test_rules.py)."""

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from app.meetings import rules


def test_those_who_never_presented_come_first_then_the_longest_ago():
    last = {1: datetime(2026, 5, 1), 2: datetime(2026, 1, 1)}
    assert rules.presenter_order([1, 2, 3, 4], last) == [3, 4, 2, 1]


@given(total=st.integers(5, 480))
def test_default_phases_always_sum_to_the_meeting_length(total):
    phases = rules.default_phases(total)
    assert len(phases) == 5 and sum(phases) == total and min(phases) >= 1
    assert rules.phase_problems(phases, total) == []


def test_an_hour_splits_five_ten_thirty_ten_five():
    assert rules.default_phases(60) == [5, 10, 30, 10, 5]


def test_phase_plans_that_do_not_add_up_are_named():
    assert rules.phase_problems([5, 10, 30, 10, 4], 60) == ["sum"]
    assert "count" in rules.phase_problems([30, 30], 60)
    assert "positive" in rules.phase_problems([0, 10, 30, 15, 5], 60)


def test_attendance_rate():
    assert rules.attendance_rate(6, 8) == 0.75
    assert rules.attendance_rate(0, 0) is None
