"""Pure statistics for feedback results: mean, sample SD and the t-based 95% CI from running sums.

Every aggregate in the app arrives here as running sums (n, Σx, Σx²) computed by the database, and the
spread is Σx² − (Σx)²/n: a difference of two nearly equal numbers when the values barely differ. When
every value is the same the true spread is 0, but rounding leaves a tiny remainder of either sign (five
scores of 8/3 leave 7e-15, an SD of 4e-8), and anything divided by that SD is huge. So a spread at or
below the rounding error the sums can carry is exactly zero (`spread_from_sums`, `is_noise_sd`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

# scipy.special holds the t and F quantile functions that scipy.stats.t.ppf and scipy.stats.f.ppf call, without
# loading all of scipy.stats (~40 MB more in every worker).
from scipy.special import fdtri, stdtrit

CONFIDENCE = 0.95

# The unit roundoff of IEEE 754 double precision: one rounding changes a value by at most this factor.
UNIT_ROUNDOFF = 2.0 ** -53
# Computing Σx² − (Σx)²/n in floating point from n values (each squared, summed, the sum squared and divided)
# errs by at most about 3·n·u·Σx² (Higham, "Accuracy and Stability of Numerical Algorithms", §1.9 and
# §4.2, recursive summation); 4·(n + 1) leaves room for sums converted from the database's NUMERIC and
# for sums rebuilt from means and SDs. A true spread of score data is far above it: values on a 0–100
# scale in steps of 1/20 have Σ(x − x̄)² ≥ 1/800, while the bound is 4.4e-12·n² on that scale, smaller
# up to n ≈ 16,000 values in one cell.
NOISE_FACTOR = 4


def noise_bound(n: int, total_sq: float) -> float:
    """The largest rounding error in Σx² − (Σx)²/n computed from n values whose squares sum to `total_sq`."""
    return NOISE_FACTOR * (n + 1) * UNIT_ROUNDOFF * abs(total_sq)


def spread_from_sums(n: int, total: float, total_sq: float) -> float:
    """The sum of squared deviations Σ(x − x̄)² from n, Σx and Σx² (n ≥ 1).

    Exactly 0.0 when the remainder is within the rounding error of the sums (`noise_bound`): identical
    values have no spread, whatever noise their floating-point sums leave, negative or positive.
    """
    ss = total_sq - total * total / n
    if ss <= noise_bound(n, total_sq):
        return 0.0
    return ss


def is_noise_sd(n: int, mean: float, sd: float) -> bool:
    """Whether a sample SD of n values with this mean is zero up to floating-point noise.

    The same test as `spread_from_sums`, for callers that hold a mean and an SD instead of the sums
    (Σx² = n·x̄² + (n − 1)·s²). A negative or zero SD is noise too; n < 2 has no SD at all (True).
    """
    if n < 2 or sd <= 0:
        return True
    ss = (n - 1) * sd * sd
    return ss <= noise_bound(n, n * mean * mean + ss)


@functools.lru_cache(maxsize=4096)
def t_critical(df: int) -> float:
    """The two-sided 95% critical value of Student's t with `df` degrees of freedom (scipy, remembered)."""
    return float(stdtrit(df, 1 - (1 - CONFIDENCE) / 2))


def summary(n: int, total: float, total_sq: float) -> tuple[float | None, float | None, float | None, float | None]:
    """Mean, sample SD (n - 1) and the 95% CI of the mean (t distribution, n - 1 df) from n, sum(x), sum(x²).

    Returns (mean, sd, ci_low, ci_high); everything is None for n < 1, and sd and the CI are None for
    n < 2 (one value has no spread and no interval). A spread that is zero up to rounding noise is 0
    (`spread_from_sums`): the SD is then exactly 0.0 and the CI is [mean, mean] — the t-interval's own
    value with no spread, shown as the point itself (an interval of width 0 says every answer was the
    same; it is never an interval around a noise SD).
    """
    if n < 1:
        return None, None, None, None
    mean = total / n
    if n < 2:
        return mean, None, None, None
    ss = spread_from_sums(n, total, total_sq)
    if ss == 0.0:
        return mean, 0.0, mean, mean
    sd = math.sqrt(ss / (n - 1))
    half = t_critical(n - 1) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


# --- reliability: Cronbach's alpha with Feldt's interval -------------------------------------

#: Below this Cronbach's alpha a subscale's reliability is flagged (a common rule of thumb for group comparisons).
ALPHA_FLAG = 0.7

# Why a subscale has no alpha (Reliability.reason); the pages print a sentence for each.
ONE_ITEM = "one_item"  # a subscale of one question has no internal consistency
TOO_FEW_SCORES = "too_few_scores"  # fewer than two responses
NO_VARIATION = "no_variation"  # every response has the same total: the ratio is undefined
UNEQUAL = "unequal"  # the questions were not all answered by the same responses

Sums = tuple[int, float, float]  # (n, Σx, Σx²)


@dataclass(frozen=True)
class Reliability:
    """Cronbach's alpha of a subscale over n responses with its 95% CI (Feldt), or None and the `reason`."""

    alpha: float | None
    low: float | None
    high: float | None
    n: int
    items: int
    reason: str | None = None

    @property
    def computable(self) -> bool:
        return self.alpha is not None

    @property
    def flagged(self) -> bool:
        """Whether alpha is below ALPHA_FLAG (0.7): the subscale's items hang together too loosely to trust."""
        return self.alpha is not None and self.alpha < ALPHA_FLAG


def cronbach_alpha(n_items: int, item_spreads: Sequence[float], total_spread: float) -> float:
    """Cronbach's alpha k/(k − 1)·(1 − Σσᵢ²/σₓ²) from the items' and the total's sums of squared deviations.

    The sums of squares of one sample share the divisor n − 1, which cancels. Never above 1. Raises
    ZeroDivisionError for one item or a total without spread (the caller says why instead).
    """
    # At most 1 (items that agree exactly); rounding of the sums can leave a hair above it, which would put
    # Feldt's interval beside alpha instead of around it.
    return min(1.0, n_items / (n_items - 1) * (1 - math.fsum(item_spreads) / total_spread))


def feldt_interval(alpha: float, n: int, n_items: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Feldt's (1965) confidence interval of Cronbach's alpha from n responses to k items.

    (1 − α)/(1 − α̂) follows an F distribution with n − 1 and (n − 1)(k − 1) degrees of freedom, so the interval
    is 1 − (1 − α̂)·F(1 − γ/2) to 1 − (1 − α̂)·F(γ/2) with γ = 1 − confidence. Raises ValueError for n < 2 or k < 2.
    """
    if n < 2 or n_items < 2:
        raise ValueError("Feldt's interval needs two or more responses and two or more items")
    df1, df2 = n - 1, (n - 1) * (n_items - 1)
    tail = (1 - confidence) / 2
    return (1 - (1 - alpha) * float(fdtri(df1, df2, 1 - tail)),
            1 - (1 - alpha) * float(fdtri(df1, df2, tail)))


def reliability(n_items: int, items: Sequence[Sums], score: Sums) -> Reliability:
    """Cronbach's alpha and its Feldt interval of a subscale from running sums, as the database gives them.

    `items` holds each of the subscale's k questions' (n, Σx, Σx²) — as answered or reverse-scored, the spread is
    the same — and `score` the (n, Σ, Σ²) of the responses' subscale scores, each the mean of the k questions, so
    the total's spread is k² times the score's. Every sum must come from the same n responses, each of which
    answered every question (a response that skipped one has a mean of fewer questions; reason UNEQUAL).

    No alpha (reason ONE_ITEM, TOO_FEW_SCORES, NO_VARIATION, UNEQUAL) when it is undefined; a total whose spread
    is zero up to rounding noise (`spread_from_sums`) has none. Alpha may be negative (items that disagree).
    Raises nothing.
    """
    n = score[0]
    if n_items < 2 or len(items) != n_items:
        return Reliability(None, None, None, n, n_items, ONE_ITEM if n_items < 2 else UNEQUAL)
    if any(item[0] != n for item in items):
        return Reliability(None, None, None, n, n_items, UNEQUAL)
    if n < 2:
        return Reliability(None, None, None, n, n_items, TOO_FEW_SCORES)
    total_spread = n_items * n_items * spread_from_sums(n, score[1], score[2])
    if total_spread == 0.0:
        return Reliability(None, None, None, n, n_items, NO_VARIATION)
    alpha = cronbach_alpha(n_items, [spread_from_sums(*item) for item in items], total_spread)
    low, high = feldt_interval(alpha, n, n_items)
    return Reliability(alpha, low, high, n, n_items)


# --- dose and benefit: subscale scores by attendance band ------------------------------------

#: The attendance bands of the standard attendance question (meetings of the round attended), lowest first:
#: (code, lowest value, highest value or None for "and more"). Each band's position (1, 2, 3) is its x in the
#: linear trend across bands.
ATTENDANCE_BANDS: tuple[tuple[str, int, int | None], ...] = (("1-2", 1, 2), ("3-4", 3, 4), ("5", 5, None))


def attendance_band(meetings: int | None) -> str | None:
    """The band of an answer to the attendance question (meetings attended); None for no answer or none attended."""
    if meetings is None:
        return None
    for code, low, high in ATTENDANCE_BANDS:
        if meetings >= low and (high is None or meetings <= high):
            return code
    return None


def band_position(code: str) -> int:
    """The band's x in the trend across bands: 1 for the lowest. Raises ValueError for an unknown band."""
    for position, (band, _low, _high) in enumerate(ATTENDANCE_BANDS, start=1):
        if band == code:
            return position
    raise ValueError(f"unknown attendance band {code!r}")


@dataclass(frozen=True)
class Slope:
    """The least-squares slope of scores on band position (points per band) with its 95% CI, or None and why."""

    slope: float | None
    low: float | None
    high: float | None
    n: int
    reason: str | None = None


def linear_trend(cells: Sequence[tuple[float, Sums]]) -> Slope:
    """The ordinary least-squares slope of individual scores y on x, from each x's (n, Σy, Σy²), with its CI.

    The same line as a regression on every response (x being its band's position): b = Sxy / Sxx, residual
    sum of squares Syy − b·Sxy on N − 2 degrees of freedom, standard error √(RSS / (N − 2) / Sxx), and the CI
    b ± t(0.975, N − 2)·SE. No slope (reason TOO_FEW_SCORES) with fewer than two x values holding scores, or
    three scores in all. A residual spread within rounding noise is 0 (the interval is the slope itself).
    Raises nothing.
    """
    cells = [(float(x), sums) for x, sums in cells if sums[0] > 0]
    total_n = sum(sums[0] for _x, sums in cells)
    if len({x for x, _sums in cells}) < 2 or total_n < 3:
        return Slope(None, None, None, total_n, TOO_FEW_SCORES)
    sum_y = math.fsum(sums[1] for _x, sums in cells)
    sum_y2 = math.fsum(sums[2] for _x, sums in cells)
    x_mean = math.fsum(sums[0] * x for x, sums in cells) / total_n
    sxx = math.fsum(sums[0] * (x - x_mean) ** 2 for x, sums in cells)
    sxy = math.fsum((x - x_mean) * sums[1] for x, sums in cells)
    syy = spread_from_sums(total_n, sum_y, sum_y2)
    slope = sxy / sxx
    rss = syy - slope * sxy
    if rss <= noise_bound(total_n, sum_y2):
        return Slope(slope, slope, slope, total_n)
    half = t_critical(total_n - 2) * math.sqrt(rss / (total_n - 2) / sxx)
    return Slope(slope, slope - half, slope + half, total_n)
