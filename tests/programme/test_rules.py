"""Pure rules about groups and membership, tested without an app."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.programme import rules

DAY = date(2025, 3, 10)


def test_capacity_within_six_to_twelve_gives_no_warning():
    assert [rules.capacity_warning(n) for n in range(6, 13)] == [None] * 7


def test_capacity_above_twelve_warns_above():
    assert rules.capacity_warning(13) == "above"
    assert rules.capacity_warning(100) == "above"


def test_capacity_below_six_warns_below():
    assert rules.capacity_warning(5) == "below"
    assert rules.capacity_warning(1) == "below"


@given(st.integers(min_value=-1000, max_value=1000))
def test_capacity_warning_agrees_with_the_recommended_bounds(capacity):
    expected = None if rules.RECOMMENDED_MIN <= capacity <= rules.RECOMMENDED_MAX else (
        "above" if capacity > rules.RECOMMENDED_MAX else "below"
    )
    assert rules.capacity_warning(capacity) == expected


def test_a_group_with_room_left_is_not_over_capacity():
    assert rules.is_over_capacity(current_members=9, capacity=10) is False


def test_adding_to_a_full_group_is_over_capacity():
    assert rules.is_over_capacity(current_members=10, capacity=10) is True
    assert rules.is_over_capacity(current_members=12, capacity=10) is True


def test_periods_that_share_one_day_overlap():
    assert rules.periods_overlap(DAY, DAY, DAY, DAY + timedelta(days=3))


def test_a_period_ending_the_day_before_another_starts_does_not_overlap():
    assert not rules.periods_overlap(DAY - timedelta(days=5), DAY - timedelta(days=1), DAY, None)


def test_an_open_period_overlaps_everything_after_its_start():
    assert rules.periods_overlap(DAY, None, DAY + timedelta(days=3650), DAY + timedelta(days=3651))
    assert not rules.periods_overlap(DAY, None, DAY - timedelta(days=10), DAY - timedelta(days=1))


_days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))


@st.composite
def periods(draw):
    start = draw(_days)
    length = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=4000)))
    return start, None if length is None else start + timedelta(days=length)


@given(periods(), periods())
def test_overlap_is_symmetric_and_means_the_later_start_is_not_after_the_earlier_end(a, b):
    assert rules.periods_overlap(*a, *b) == rules.periods_overlap(*b, *a)
    a_end, b_end = a[1] or date.max, b[1] or date.max
    shared_start, shared_end = max(a[0], b[0]), min(a_end, b_end)
    assert rules.periods_overlap(*a, *b) == (shared_start <= shared_end)
