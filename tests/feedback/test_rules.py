"""The five-meeting feedback rule (app.feedback.rules), tested without an app."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.feedback import rules


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
