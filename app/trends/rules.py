"""Pure trend statistics: the change between two rounds as a difference of means and Hedges' g with its CI."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from app.feedback.stats import is_noise_sd

CONFIDENCE = 0.95

# Why a change has no effect size (Effect.reason); the pages print a sentence for each.
TOO_FEW = "too_few"  # a round has fewer than two scores: no SD
NO_VARIATION = "no_variation"  # every score in both rounds is the same: the standardised change is undefined


@dataclass(frozen=True)
class Effect:
    """Hedges' g with its 95% CI, or None for all three and the `reason` (TOO_FEW, NO_VARIATION)."""

    g: float | None
    low: float | None
    high: float | None
    reason: str | None = None

    @property
    def computable(self) -> bool:
        return self.g is not None


def mean_difference(m1: float, m2: float) -> float:
    """The change from the first mean to the second (second minus first)."""
    return m2 - m1


def pooled_sd(n1: int, s1: float, n2: int, s2: float) -> float | None:
    """The pooled sample SD of two independent samples; None when either has fewer than two values."""
    if n1 < 2 or n2 < 2:
        return None
    return math.sqrt(((n1 - 1) * s1 * s1 + (n2 - 1) * s2 * s2) / (n1 + n2 - 2))


def effect_size(n1: int | None, m1: float | None, s1: float | None,
                n2: int | None, m2: float | None, s2: float | None) -> Effect:
    """Hedges' g for the change from sample 1 to sample 2 (independent samples) with its 95% CI.

    g = J · (m2 − m1) / s_pooled with the small-sample correction J = 1 − 3 / (4(n1 + n2) − 9); its
    large-sample variance is (n1 + n2) / (n1 · n2) + g² / (2(n1 + n2)), and the CI is g ± z · √variance
    with z the normal 97.5% quantile.

    No effect size (g, low and high None) when either round has fewer than two values or lacks its n,
    mean or SD, as a hidden cell does (reason TOO_FEW), or when neither round varies (reason
    NO_VARIATION): an SD that is zero up to floating-point noise (`app.feedback.stats.is_noise_sd`)
    counts as 0, so identical scores never turn into a g of millions. One round without spread beside
    one with spread still has a g. Raises nothing.
    """
    if None in (n1, m1, s1, n2, m2, s2) or n1 < 2 or n2 < 2:
        return Effect(None, None, None, TOO_FEW)
    s1 = 0.0 if is_noise_sd(n1, m1, s1) else s1
    s2 = 0.0 if is_noise_sd(n2, m2, s2) else s2
    if s1 == 0.0 and s2 == 0.0:
        return Effect(None, None, None, NO_VARIATION)
    sp = pooled_sd(n1, s1, n2, s2)
    j = 1 - 3 / (4 * (n1 + n2) - 9)
    g = j * (m2 - m1) / sp
    variance = (n1 + n2) / (n1 * n2) + g * g / (2 * (n1 + n2))
    half = NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2) * math.sqrt(variance)
    return Effect(g, g - half, g + half)


def hedges_g(n1: int, m1: float, s1: float, n2: int, m2: float, s2: float) -> tuple[float, float, float] | None:
    """(g, ci_low, ci_high) as `effect_size` computes it, or None when it has none (see its reason there)."""
    effect = effect_size(n1, m1, s1, n2, m2, s2)
    if effect.g is None:
        return None
    return effect.g, effect.low, effect.high
