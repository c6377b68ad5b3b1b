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

# scipy.special holds the t quantile function that scipy.stats.t.ppf calls, without loading all of scipy.stats
# (~40 MB more in every worker).
from scipy.special import stdtrit

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
