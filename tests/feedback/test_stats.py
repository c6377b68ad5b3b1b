"""The statistics helper against numpy and scipy computed independently."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from app.feedback.stats import summary


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
