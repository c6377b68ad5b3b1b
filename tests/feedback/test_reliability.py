"""Cronbach's alpha with Feldt's interval, and the trend across attendance bands, against numpy and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from app.feedback.stats import (
    ALPHA_FLAG,
    NO_VARIATION,
    ONE_ITEM,
    TOO_FEW_SCORES,
    UNEQUAL,
    attendance_band,
    band_position,
    linear_trend,
    reliability,
)
from tests.reference_stats import numpy_alpha


def sums_of(matrix):
    """What the database gives: each item's (n, Σ, Σ²), and the (n, Σ, Σ²) of the per-response means."""
    data = np.asarray(matrix, dtype=float)
    items = [(len(col), float(col.sum()), float((col * col).sum())) for col in data.T]
    means = [float(row.sum()) / data.shape[1] for row in data]
    return items, (len(means), sum(means), sum(m * m for m in means))


matrices = st.integers(min_value=2, max_value=6).flatmap(
    lambda k: st.lists(st.lists(st.integers(min_value=1, max_value=5), min_size=k, max_size=k),
                       min_size=2, max_size=40))


@settings(max_examples=300, deadline=None)
@given(matrices)
# Items that agree exactly up to a shift: alpha is 1, and the sums' rounding once left it a hair above.
@example([[5, 4, 3], [4, 3, 2], [4, 3, 2], [4, 3, 2], [5, 4, 3], [4, 3, 2], [5, 4, 3], [5, 4, 3], [3, 2, 1], [4, 3, 2],
          [5, 4, 3], [3, 2, 1], [4, 3, 2], [3, 2, 1], [4, 3, 2], [5, 4, 3], [5, 4, 3], [4, 3, 2], [4, 3, 2]])
def test_alpha_and_its_feldt_interval_equal_numpy_and_scipy_on_any_answers(matrix):
    data = np.asarray(matrix, dtype=float)
    assume(data.sum(axis=1).var(ddof=1) > 1e-9)
    items, score = sums_of(matrix)
    got = reliability(data.shape[1], items, score)
    alpha, low, high = numpy_alpha(matrix)
    assert got.reason is None and got.n == len(matrix) and got.items == data.shape[1]
    assert got.alpha == pytest.approx(alpha, abs=1e-9)
    assert got.low == pytest.approx(low, abs=1e-9)
    assert got.high == pytest.approx(high, abs=1e-9)
    assert got.low <= got.alpha <= got.high
    assert got.flagged == (got.alpha < ALPHA_FLAG)


def test_alpha_on_seeded_correlated_answers_is_high_and_not_flagged():
    rng = np.random.default_rng(18)
    trait = rng.normal(3, 1, size=60)
    matrix = np.clip(np.rint(trait[:, None] + rng.normal(0, 0.5, size=(60, 4))), 1, 5).astype(int)
    items, score = sums_of(matrix)
    got = reliability(4, items, score)
    assert got.alpha == pytest.approx(numpy_alpha(matrix)[0], abs=1e-9)
    assert got.alpha > 0.8 and not got.flagged


def test_alpha_of_unrelated_items_is_flagged():
    rng = np.random.default_rng(7)
    matrix = rng.integers(1, 6, size=(50, 3))
    got = reliability(3, *sums_of(matrix))
    assert got.alpha == pytest.approx(numpy_alpha(matrix)[0], abs=1e-9)
    assert got.flagged


def test_no_alpha_when_it_is_undefined():
    same = [[3, 3, 3]] * 5
    assert reliability(3, *sums_of(same)).reason == NO_VARIATION
    assert reliability(1, [(5, 15.0, 45.0)], (5, 15.0, 45.0)).reason == ONE_ITEM
    assert reliability(2, [(1, 3.0, 9.0), (1, 4.0, 16.0)], (1, 3.5, 12.25)).reason == TOO_FEW_SCORES
    assert reliability(2, [(4, 12.0, 40.0), (5, 15.0, 50.0)], (5, 15.0, 50.0)).reason == UNEQUAL
    assert not reliability(1, [(5, 15.0, 45.0)], (5, 15.0, 45.0)).flagged


def test_attendance_bands_and_their_positions():
    assert [attendance_band(v) for v in (None, 0, 1, 2, 3, 4, 5, 6)] == [None, None, "1-2", "1-2", "3-4", "3-4",
                                                                          "5", "5"]
    assert [band_position(b) for b in ("1-2", "3-4", "5")] == [1, 2, 3]
    with pytest.raises(ValueError):
        band_position("7")


def scipy_slope(cells):
    xs = np.concatenate([[x] * len(ys) for x, ys in cells])
    ys = np.concatenate([ys for _x, ys in cells])
    fit = scipy_stats.linregress(xs, ys)
    half = scipy_stats.t.ppf(0.975, len(xs) - 2) * fit.stderr
    return fit.slope, fit.slope - half, fit.slope + half


scores = st.lists(st.integers(min_value=3, max_value=15).map(lambda v: v / 3), min_size=0, max_size=15)


@settings(max_examples=300, deadline=None)
@given(scores, scores, scores)
def test_the_slope_across_bands_equals_scipy_linregress_on_the_responses(low, middle, high):
    cells = [(x, ys) for x, ys in ((1, low), (2, middle), (3, high)) if ys]
    assume(len(cells) >= 2 and sum(len(ys) for _x, ys in cells) >= 3)
    xs = np.concatenate([[x] * len(ys) for x, ys in cells])
    ys_all = np.concatenate([ys for _x, ys in cells])
    fit = scipy_stats.linregress(xs, ys_all)
    assume(fit.stderr > 1e-6)  # an exact line: scipy's stderr is rounding noise
    got = linear_trend([(x, (len(ys), sum(ys), sum(y * y for y in ys))) for x, ys in cells])
    slope, low_ci, high_ci = scipy_slope(cells)
    assert got.reason is None
    assert got.slope == pytest.approx(slope, abs=1e-9)
    assert got.low == pytest.approx(low_ci, abs=1e-9) and got.high == pytest.approx(high_ci, abs=1e-9)


def test_no_slope_from_one_band_or_two_scores_and_an_exact_line_has_no_spread():
    assert linear_trend([(1, (5, 10.0, 22.0))]).reason == TOO_FEW_SCORES
    assert linear_trend([(1, (1, 2.0, 4.0)), (2, (1, 3.0, 9.0))]).reason == TOO_FEW_SCORES
    exact = linear_trend([(1, (2, 4.0, 8.0)), (2, (2, 6.0, 18.0))])
    assert exact.slope == pytest.approx(1.0) and exact.low == exact.high == exact.slope
