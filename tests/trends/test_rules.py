"""Hedges' g on degenerate rounds: no variation is no effect size (with its reason), never millions."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.feedback.stats import summary
from app.trends import rules


def running_sums(values):
    """(n, Σx, Σx²) accumulated one value at a time, as the database's SUM does."""
    total = total_sq = 0.0
    for v in values:
        total += v
        total_sq += v * v
    return len(values), total, total_sq


def round_summary(values):
    """(n, mean, sd) of a round as the trends page gets it: from the database's running sums."""
    n, total, total_sq = running_sums(values)
    mean, sd, _low, _high = summary(n, total, total_sq)
    return n, mean, sd


# --- the numbers ---------------------------------------------------------------------

def test_two_rounds_where_everyone_gives_the_same_score_have_no_effect_size():
    # Ten responses of (3, 3, 2) = 8/3, then ten of (2, 2, 3) = 7/3: before the fix the SDs came out
    # 3.97e-8 and 2.81e-8 and g was −9,277,048.6 with the interval [−12,151,983, −6,402,114].
    first, latest = [(3 + 3 + 2) / 3] * 10, [(2 + 2 + 3) / 3] * 10
    n1, m1, s1 = round_summary(first)
    n2, m2, s2 = round_summary(latest)
    assert (s1, s2) == (0.0, 0.0)
    effect = rules.effect_size(n1, m1, s1, n2, m2, s2)
    assert effect == rules.Effect(None, None, None, rules.NO_VARIATION)
    assert not effect.computable
    assert rules.hedges_g(n1, m1, s1, n2, m2, s2) is None
    assert rules.mean_difference(m1, m2) == pytest.approx(-1 / 3)


def test_noise_sds_passed_in_directly_are_no_variation_as_well():
    # The SDs the old summary gave for those rounds: a caller holding them still gets no effect size.
    effect = rules.effect_size(10, 8 / 3, 3.9736429850260414e-08, 10, 7 / 3, 2.8097899007262688e-08)
    assert (effect.g, effect.reason) == (None, rules.NO_VARIATION)


def test_one_round_without_spread_beside_one_with_spread_still_has_an_effect_size():
    first = [8 / 3] * 10
    latest = [7 / 3] * 5 + [8 / 3] * 5
    n1, m1, s1 = round_summary(first)
    n2, m2, s2 = round_summary(latest)
    effect = rules.effect_size(n1, m1, s1, n2, m2, s2)
    assert effect.reason is None and effect.computable
    assert effect.g == pytest.approx(direct_g(first, latest), rel=1e-9)
    assert effect.low < effect.g < effect.high


@pytest.mark.parametrize(("n1", "s1", "n2", "s2"), [(1, None, 10, 1.0), (10, 1.0, 1, None), (1, None, 1, None),
                                                    (0, None, 5, 1.0), (1, 0.0, 10, 1.0)])
def test_a_round_with_fewer_than_two_scores_has_no_sd_and_no_effect_size(n1, s1, n2, s2):
    effect = rules.effect_size(n1, 3.0, s1, n2, 4.0, s2)
    assert (effect.g, effect.low, effect.high, effect.reason) == (None, None, None, rules.TOO_FEW)


def test_a_hidden_round_without_numbers_has_no_effect_size():
    assert rules.effect_size(None, None, None, 10, 4.0, 1.0).reason == rules.TOO_FEW
    assert rules.effect_size(10, 4.0, 1.0, 10, None, None).reason == rules.TOO_FEW


def test_one_response_has_a_mean_but_no_sd_and_no_interval():
    assert summary(*running_sums([7 / 3])) == (7 / 3, None, None, None)


# --- against the formula written out from the raw scores -------------------------------------

def direct_g(first, second) -> float:
    """Hedges' g from the raw scores with exact rational sums (one rounding at the square root)."""
    a, b = [Fraction(v) for v in first], [Fraction(v) for v in second]
    n1, n2 = len(a), len(b)
    m1, m2 = sum(a) / n1, sum(b) / n2
    pooled_var = (sum((x - m1) ** 2 for x in a) + sum((x - m2) ** 2 for x in b)) / (n1 + n2 - 2)
    j = 1 - Fraction(3, 4 * (n1 + n2) - 9)
    return float(j * (m2 - m1)) / math.sqrt(pooled_var)


thirds = st.integers(min_value=0, max_value=300).map(lambda i: i / 3)  # scores 0..100 in steps of 1/3
a_round = st.lists(thirds, min_size=2, max_size=40)


@settings(max_examples=300, deadline=None)
@given(a_round, a_round)
def test_g_is_the_direct_formula_or_none_exactly_when_neither_round_varies(first, second):
    n1, m1, s1 = round_summary(first)
    n2, m2, s2 = round_summary(second)
    effect = rules.effect_size(n1, m1, s1, n2, m2, s2)
    if len(set(first)) == 1 and len(set(second)) == 1:
        assert (effect.g, effect.reason) == (None, rules.NO_VARIATION)
        return
    assert effect.reason is None
    expected = direct_g(first, second)
    # Running sums on 0..100 lose a little when the spread is tiny beside the values; well within 1e-6.
    assert effect.g == pytest.approx(expected, rel=1e-6, abs=1e-9)
    # A real spread of scores in steps of 1/3 bounds g: the pooled SD is at least (1/3)/√(2(n1+n2−2)).
    bound = 100 / ((1 / 3) / math.sqrt(2 * (n1 + n2 - 2)))
    assert abs(effect.g) <= bound
    assert effect.low <= effect.g <= effect.high


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2, max_value=200), st.integers(min_value=2, max_value=200), thirds, thirds)
def test_rounds_of_identical_scores_never_have_an_effect_size(n1, n2, v1, v2):
    effect = rules.effect_size(*round_summary([v1] * n1), *round_summary([v2] * n2))
    assert (effect.g, effect.reason) == (None, rules.NO_VARIATION)
