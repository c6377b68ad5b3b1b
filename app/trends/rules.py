"""Pure trend statistics: the change between two rounds as a difference of means and Hedges' g with its CI."""

from __future__ import annotations

import math
from statistics import NormalDist

CONFIDENCE = 0.95


def mean_difference(m1: float, m2: float) -> float:
    """The change from the first mean to the second (second minus first)."""
    return m2 - m1


def pooled_sd(n1: int, s1: float, n2: int, s2: float) -> float | None:
    """The pooled sample SD of two independent samples; None when either has fewer than two values."""
    if n1 < 2 or n2 < 2:
        return None
    return math.sqrt(((n1 - 1) * s1 * s1 + (n2 - 1) * s2 * s2) / (n1 + n2 - 2))


def hedges_g(n1: int, m1: float, s1: float, n2: int, m2: float, s2: float) -> tuple[float, float, float] | None:
    """Hedges' g for the change from sample 1 to sample 2 (independent samples) with its 95% CI.

    g = J · (m2 − m1) / s_pooled with the small-sample correction J = 1 − 3 / (4(n1 + n2) − 9); its
    large-sample variance is (n1 + n2) / (n1 · n2) + g² / (2(n1 + n2)), and the CI is g ± z · √variance
    with z the normal 97.5% quantile. Returns (g, ci_low, ci_high), or None when either n < 2 or the
    pooled SD is 0 (no spread: the standardised change is undefined).
    """
    sp = pooled_sd(n1, s1, n2, s2)
    if sp is None or sp == 0:
        return None
    j = 1 - 3 / (4 * (n1 + n2) - 9)
    g = j * (m2 - m1) / sp
    variance = (n1 + n2) / (n1 * n2) + g * g / (2 * (n1 + n2))
    half = NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2) * math.sqrt(variance)
    return g, g - half, g + half
