"""The programme board's rules (app.trends.rules), pure: each just above and just below its amber and red
thresholds, the slope and Hedges' g against an independent computation, and the thresholds' own checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from app.trends import rules
from app.trends.rules import AMBER, GREEN, RED, Thresholds

T = Thresholds()  # the defaults, as config.py has them


# --- sustained decline by slope ----------------------------------------------------------------

def line(slope: float, start: float = 4.0, rounds: int = 5) -> list[tuple[int, float]]:
    return [(n, start + slope * (n - 1)) for n in range(1, rounds + 1)]


def test_a_straight_fall_of_the_red_threshold_a_round_is_red_and_just_less_is_amber():
    assert rules.decline_by_slope(line(-0.2), T).status == RED
    assert rules.decline_by_slope(line(-0.2 + 1e-6), T).status == AMBER
    assert rules.decline_by_slope(line(-0.01), T).status == AMBER
    assert rules.decline_by_slope(line(0.0), T).status == GREEN
    assert rules.decline_by_slope(line(0.3), T).status == GREEN


def test_a_slope_whose_ci_reaches_zero_is_green_and_one_just_below_zero_is_amber():
    # Means that fall on average but wobble: the CI's upper end decides.
    wobbly = [(1, 4.0), (2, 3.5), (3, 3.9), (4, 3.4), (5, 3.8)]
    fit = rules.least_squares_slope([x for x, _ in wobbly], [y for _, y in wobbly])
    assert fit.slope < 0 < fit.high
    assert rules.decline_by_slope(wobbly, T).status == GREEN
    steadier = [(1, 4.0), (2, 3.8), (3, 3.7), (4, 3.5), (5, 3.4)]
    fit = rules.least_squares_slope([x for x, _ in steadier], [y for _, y in steadier])
    assert fit.high < 0 and fit.slope > -T.decline_slope_red
    assert rules.decline_by_slope(steadier, T).status == AMBER


def test_only_the_last_n_rounds_count_and_fewer_than_three_points_say_nothing():
    # A steep fall long ago, then a recovery over the last five rounds: green.
    points = [(1, 5.0), (2, 4.6), (3, 4.2), (4, 3.8), (5, 3.4), (6, 3.5), (7, 3.6), (8, 3.7), (9, 3.8)]
    assert rules.decline_by_slope(points, T).status == GREEN
    assert rules.decline_by_slope(points[:6], T).status == RED
    assert rules.decline_by_slope([(1, 4.0), (2, 1.0)], T).status == GREEN
    assert rules.decline_by_slope([], T).status == GREEN


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(1.0, 5.0, allow_nan=False), min_size=3, max_size=8))
def test_the_slope_and_its_ci_equal_an_independent_computation(ys):
    xs = list(range(1, len(ys) + 1))
    fit = rules.least_squares_slope(xs, ys)
    x, y = np.array(xs, dtype=float), np.array(ys)
    slope, intercept = np.polyfit(x, y, 1)
    residuals = y - (slope * x + intercept)
    se = math.sqrt((residuals ** 2).sum() / (len(x) - 2) / ((x - x.mean()) ** 2).sum())
    half = scipy_stats.t.ppf(0.975, len(x) - 2) * se
    assert fit.slope == pytest.approx(slope, abs=1e-9)
    assert fit.low == pytest.approx(slope - half, abs=1e-9) and fit.high == pytest.approx(slope + half, abs=1e-9)
    status = rules.decline_by_slope(list(zip(xs, ys, strict=True)), Thresholds(decline_rounds=8)).status
    if fit.high < -1e-9:
        assert status == (RED if slope <= -T.decline_slope_red else AMBER)
    elif fit.high > 1e-9:
        assert status == GREEN


# --- sustained decline by change from the first shown round -------------------------------------

def test_hedges_g_just_at_and_just_above_each_threshold():
    first, latest = (1, 40, 4.0, 1.0), (6, 40, 3.4, 1.0)
    g = rules.effect_size(40, 4.0, 1.0, 40, 3.4, 1.0)
    assert g.high < 0  # the CI excludes 0
    at_amber = Thresholds(decline_g_amber=g.g, decline_g_red=g.g - 1)
    assert rules.decline_by_change(first, latest, at_amber).status == AMBER
    above = Thresholds(decline_g_amber=g.g - 1e-9, decline_g_red=g.g - 1)
    assert rules.decline_by_change(first, latest, above).status == GREEN
    at_red = Thresholds(decline_g_amber=-0.1, decline_g_red=g.g)
    assert rules.decline_by_change(first, latest, at_red).status == RED
    below_red = Thresholds(decline_g_amber=-0.1, decline_g_red=g.g - 1e-9)
    assert rules.decline_by_change(first, latest, below_red).status == AMBER


def test_a_large_g_whose_ci_includes_zero_is_green():
    # Three responses each: g is large but uncertain.
    effect = rules.effect_size(3, 4.0, 1.0, 3, 3.2, 1.0)
    assert effect.g <= T.decline_g_amber and effect.high >= 0
    assert rules.decline_by_change((1, 3, 4.0, 1.0), (5, 3, 3.2, 1.0), T).status == GREEN


def test_no_change_is_measured_from_a_round_to_itself_or_without_variation():
    assert rules.decline_by_change((3, 8, 4.0, 1.0), (3, 8, 4.0, 1.0), T).status == GREEN
    assert rules.decline_by_change((1, 8, 4.0, 0.0), (4, 8, 2.0, 0.0), T).status == GREEN


@settings(max_examples=150, deadline=None)
@given(st.integers(3, 40), st.integers(3, 40), st.floats(1, 5), st.floats(1, 5), st.floats(0.2, 2), st.floats(0.2, 2))
def test_the_change_rule_agrees_with_an_independent_hedges_g(n1, n2, m1, m2, s1, s2):
    sp = math.sqrt(((n1 - 1) * s1 ** 2 + (n2 - 1) * s2 ** 2) / (n1 + n2 - 2))
    g = (1 - 3 / (4 * (n1 + n2) - 9)) * (m2 - m1) / sp
    half = 1.959963984540054 * math.sqrt((n1 + n2) / (n1 * n2) + g * g / (2 * (n1 + n2)))
    found = rules.decline_by_change((1, n1, m1, s1), (2, n2, m2, s2), T)
    if abs(g + half) < 1e-9 or abs(g - T.decline_g_amber) < 1e-9 or abs(g - T.decline_g_red) < 1e-9:
        return  # on a boundary to rounding
    if g + half >= 0 or g > T.decline_g_amber:
        assert found.status == GREEN
    else:
        assert found.status == (RED if g <= T.decline_g_red else AMBER)
        assert found.detail["g"] == pytest.approx(g, abs=1e-9)


# --- the other rules ---------------------------------------------------------------------------

@pytest.mark.parametrize(("in_band", "n", "status"), [
    (0, 12, GREEN), (2, 9, GREEN), (1, 4, AMBER), (3, 12, AMBER), (249, 1000, GREEN), (250, 1000, AMBER),
    (499, 1000, AMBER), (500, 1000, RED), (6, 6, RED), (0, 0, GREEN),
])
def test_the_concern_share_at_and_around_its_thresholds(in_band, n, status):
    assert rules.concern_share(in_band, n, T).status == status


@pytest.mark.parametrize(("responses", "eligible", "status"), [
    (5, 10, GREEN), (499, 1000, AMBER), (4, 10, AMBER), (3, 10, AMBER), (299, 1000, RED), (0, 8, RED),
    (10, 10, GREEN), (0, 0, GREEN),
])
def test_participation_at_and_around_its_thresholds(responses, eligible, status):
    assert rules.low_participation(responses, eligible, T).status == status


@pytest.mark.parametrize(("days", "status"), [(0, GREEN), (44, GREEN), (45, AMBER), (89, AMBER), (90, RED)])
def test_days_without_a_held_meeting_at_and_around_its_thresholds(days, status):
    found = rules.days_without_meeting(days, False, T)
    assert found.status == status and found.detail == {"days": days, "never": False}


@pytest.mark.parametrize(("ahead", "status"), [
    ([], GREEN), ([61], GREEN), ([60], AMBER), ([15, 40], AMBER), ([14], RED), ([40, 0], RED), ([-1], GREEN),
])
def test_meetings_without_an_eligible_lead_at_and_around_their_thresholds(ahead, status):
    found = rules.meetings_without_eligible_lead(ahead, T)
    assert found.status == status
    if status != GREEN:
        assert found.detail["soonest"] == min(d for d in ahead if 0 <= d <= 60)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 60), st.integers(1, 60), st.integers(1, 200))
def test_participation_and_days_are_monotone(responses, extra, days):
    eligible = responses + extra
    worse = rules.low_participation(responses, eligible + 1, T).status
    assert rules.STATUSES.index(worse) >= rules.STATUSES.index(rules.low_participation(responses, eligible, T).status)
    assert rules.STATUSES.index(rules.days_without_meeting(days + 1, False, T).status) >= rules.STATUSES.index(
        rules.days_without_meeting(days, False, T).status)


def test_a_groups_status_is_the_worst_of_its_rules():
    assert rules.worst([]) == GREEN
    assert rules.worst([GREEN, AMBER, GREEN]) == AMBER
    assert rules.worst([AMBER, RED, GREEN]) == RED


# --- the thresholds ----------------------------------------------------------------------------

def test_thresholds_come_from_config_keys_and_keep_defaults_for_the_rest():
    t = Thresholds.from_config({"BOARD_CONCERN_RED": 0.6, "BOARD_DAYS_AMBER": 30, "SECRET_KEY": "x"})
    assert t.concern_red == 0.6 and t.days_amber == 30 and t.days_red == 90


@pytest.mark.parametrize("config", [
    {"BOARD_DECLINE_ROUNDS": 2}, {"BOARD_DECLINE_G_AMBER": -0.9}, {"BOARD_DECLINE_G_AMBER": 0.1},
    {"BOARD_CONCERN_AMBER": 0.6}, {"BOARD_PARTICIPATION_RED": 0.6}, {"BOARD_DAYS_RED": 10},
    {"BOARD_LEAD_DAYS_RED": 90}, {"BOARD_DECLINE_SLOPE_RED": -0.1},
])
def test_contradictory_thresholds_are_refused(config):
    with pytest.raises(ValueError):
        Thresholds.from_config(config)


def test_the_app_refuses_to_start_with_contradictory_thresholds():
    from app import create_app

    with pytest.raises(RuntimeError, match="BOARD_CONCERN_AMBER"):
        create_app("testing", {"BOARD_CONCERN_AMBER": 0.9, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
