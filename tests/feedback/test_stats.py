"""The statistics helper against numpy and scipy computed independently."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from app.feedback.stats import is_noise_sd, noise_bound, summary


def independent(values):
    data = np.asarray(values, dtype=float)
    mean = data.mean()
    sd = data.std(ddof=1)
    if sd == 0:  # scipy warns on a zero scale; the interval is the point itself
        return mean, sd, mean, mean
    low, high = scipy_stats.t.interval(0.95, len(data) - 1, loc=mean, scale=scipy_stats.sem(data))
    return mean, sd, low, high


@given(st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=60))
def test_summary_matches_numpy_and_scipy_on_integer_scores(values):
    got = summary(len(values), sum(values), sum(v * v for v in values))
    mean, sd, low, high = independent(values)
    assert got[0] == pytest.approx(mean)
    assert got[1] == pytest.approx(sd, abs=1e-7)
    assert got[2] == pytest.approx(low) and got[3] == pytest.approx(high)


def test_summary_matches_on_seeded_random_subscale_means():
    rng = np.random.default_rng(20260101)
    for n in (2, 3, 5, 12, 40):
        values = rng.uniform(1, 5, size=n).round(3).tolist()
        got = summary(n, sum(values), sum(v * v for v in values))
        assert got == pytest.approx(independent(values))


def test_one_value_has_a_mean_but_no_spread_and_none_has_nothing():
    assert summary(1, 4, 16) == (4, None, None, None)
    assert summary(0, 0, 0) == (None, None, None, None)


def test_the_interval_widens_as_the_t_distribution_demands_for_small_n():
    # Same mean and SD: with 3 responses t(0.975, 2) = 4.303, with 30 it is about 2.045.
    small = summary(3, 9, 29)  # values 2, 3, 4
    assert small[1] == pytest.approx(1.0)
    assert small[3] - small[0] == pytest.approx(4.302652729911275 / 3 ** 0.5)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=100_000))
def test_the_t_critical_value_is_scipy_stats_own(df):
    from scipy import stats as scipy_stats

    from app.feedback.stats import t_critical

    assert t_critical(df) == pytest.approx(float(scipy_stats.t.ppf(0.975, df)), rel=1e-12)


# --- no spread is no spread, whatever noise the running sums leave ---------------------------

def running_sums(values):
    """(n, Σx, Σx²) accumulated one value at a time, as the database's SUM does."""
    total = total_sq = 0.0
    for v in values:
        total += v
        total_sq += v * v
    return len(values), total, total_sq


def item_mean(*answers):
    """A response's subscale score: the mean of its answered items."""
    return sum(answers) / len(answers)


@pytest.mark.parametrize(
    ("answers", "n"),
    [((3, 3, 2), 5), ((3, 3, 2), 10), ((3, 3, 2), 12), ((2, 2, 3), 8), ((2, 2, 3), 10), ((4, 4, 3), 12),
     ((34, 33, 33), 10), ((34, 33, 33), 12)],
)
def test_identical_scores_of_three_items_have_an_sd_of_exactly_zero_and_the_interval_is_the_mean(answers, n):
    n, total, total_sq = running_sums([item_mean(*answers)] * n)
    assert total_sq - total * total / n != 0.0  # the sums do carry the noise the issue saw (SD ~4e-8)
    mean, sd, low, high = summary(n, total, total_sq)
    assert sd == 0.0
    assert low == high == mean
    assert mean == pytest.approx(sum(answers) / 3, rel=1e-15)


def test_five_values_of_2_3333333333_from_running_sums_have_no_spread():
    for n in (5, 30):
        assert summary(*running_sums([2.3333333333] * n))[1] == 0.0


def test_rounding_noise_below_zero_is_zero_too():
    n, total, total_sq = running_sums([item_mean(2, 2, 3)] * 8)  # leaves -7.1e-15
    assert total_sq - total * total / n < 0
    assert summary(n, total, total_sq)[1] == 0.0


def test_sums_from_postgresql_numeric_have_no_spread_either():
    # PostgreSQL: score = sum * 1.0 / count is NUMERIC 2.3333333333333333, its square keeps every digit,
    # and the sums are exact until they become floats.
    from decimal import Decimal

    score = Decimal(7) * Decimal("1.0") / Decimal(3)
    for n in (5, 8, 10):
        total, total_sq = float(score * n), float(score * score * n)
        assert summary(n, total, total_sq)[1] == 0.0


def test_a_real_spread_as_small_as_scores_get_is_kept():
    # Twenty items per subscale make steps of 1/20; one response a step away among many on a 0..100 scale.
    for n in (2, 12, 200, 2000):
        values = [100.0] * (n - 1) + [100.0 - 1 / 20]
        sd = summary(*running_sums(values))[1]
        assert sd > 0
        assert sd == pytest.approx(statistics.stdev(values), rel=1e-5)


def test_one_value_has_no_interval_even_when_it_is_noise_free():
    assert summary(1, 7 / 3, (7 / 3) ** 2) == (7 / 3, None, None, None)


thirds = st.integers(min_value=0, max_value=300).map(lambda i: i / 3)  # 0..100 in steps of 1/3
typical = st.one_of(thirds, st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False))


@settings(max_examples=300, deadline=None)
@given(typical, st.integers(min_value=2, max_value=400))
def test_any_list_of_identical_scores_has_an_sd_of_zero(value, n):
    mean, sd, low, high = summary(*running_sums([value] * n))
    assert sd == 0.0 and low == high == mean


def exact_spread(values) -> Fraction:
    """Σ(x − x̄)² of the floats as given, in exact rational arithmetic."""
    exact = [Fraction(v) for v in values]
    mean = sum(exact) / len(exact)
    return sum((x - mean) ** 2 for x in exact)


@settings(max_examples=300, deadline=None)
@given(st.lists(thirds, min_size=2, max_size=60).filter(lambda xs: len(set(xs)) > 1))
def test_with_real_spread_the_sd_matches_statistics_stdev(values):
    n, total, total_sq = running_sums(values)
    sd = summary(n, total, total_sq)[1]
    expected = statistics.stdev(values)  # exact arithmetic inside, one rounding at the end
    # Σx² − (Σx)²/n from float sums errs by at most noise_bound (≈ 3n·u·Σx²): the SD by that over 2·SD·(n − 1).
    # For score data the spread is rarely tiny beside Σx², and the SD is then good to 1e-9 or better.
    allowed = noise_bound(n, total_sq) / (2 * expected * (n - 1))
    assert abs(sd - expected) <= max(1e-9 * expected, allowed)
    if exact_spread(values) >= Fraction(total_sq) / 10**4:
        assert sd == pytest.approx(expected, rel=1e-9)


@settings(max_examples=300, deadline=None)
@given(typical, st.integers(min_value=2, max_value=400))
def test_the_noise_sd_of_identical_scores_is_recognised_from_mean_and_sd_alone(value, n):
    n, total, total_sq = running_sums([value] * n)
    old_sd = math.sqrt(max(total_sq - total * total / n, 0.0) / (n - 1))  # what the page used to divide by
    assert is_noise_sd(n, total / n, old_sd)


@settings(max_examples=300, deadline=None)
@given(st.lists(thirds, min_size=2, max_size=400).filter(lambda xs: len(set(xs)) > 1))
def test_a_real_sd_of_scores_is_never_taken_for_noise(values):
    assert not is_noise_sd(len(values), statistics.fmean(values), statistics.stdev(values))
