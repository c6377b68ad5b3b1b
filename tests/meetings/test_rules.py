"""Meeting rules without an app: the five-meeting rule, presenters, phases."""

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.meetings import rules


def test_the_fifth_uncovered_held_meeting_makes_a_round_due():
    assert not rules.round_due(4, 5)
    assert rules.round_due(5, 5)


def test_rounds_cover_consecutive_sets_of_exactly_the_interval():
    assert rules.rounds_to_open([1, 2, 3, 4], 5) == []
    assert rules.rounds_to_open([1, 2, 3, 4, 5], 5) == [[1, 2, 3, 4, 5]]
    assert rules.rounds_to_open(list(range(1, 12)), 5) == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]


def test_an_interval_below_one_is_refused():
    with pytest.raises(ValueError):
        rules.rounds_to_open([1], 0)


@given(ids=st.lists(st.integers(), unique=True, max_size=60), interval=st.integers(1, 12))
def test_rounds_partition_all_but_a_remainder_smaller_than_the_interval(ids, interval):
    sets = rules.rounds_to_open(ids, interval)
    covered = [i for s in sets for i in s]
    assert all(len(s) == interval for s in sets)
    assert covered == ids[: len(covered)]
    assert len(ids) - len(covered) < interval


def test_a_meeting_is_held_only_from_its_start():
    start = datetime(2026, 12, 2, 6, 0)
    assert not rules.may_record_as_held(start, datetime(2026, 12, 2, 5, 59))
    assert rules.may_record_as_held(start, start)


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
