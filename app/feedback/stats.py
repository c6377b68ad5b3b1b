"""Pure statistics for feedback results: mean, sample SD and the t-based 95% CI from running sums."""

from __future__ import annotations

import functools
import math

# scipy.special holds the t quantile function that scipy.stats.t.ppf calls, without loading all of scipy.stats
# (~40 MB more in every worker).
from scipy.special import stdtrit

CONFIDENCE = 0.95


@functools.lru_cache(maxsize=4096)
def t_critical(df: int) -> float:
    """The two-sided 95% critical value of Student's t with `df` degrees of freedom (scipy, remembered)."""
    return float(stdtrit(df, 1 - (1 - CONFIDENCE) / 2))


def summary(n: int, total: float, total_sq: float) -> tuple[float | None, float | None, float | None, float | None]:
    """Mean, sample SD (n - 1) and the 95% CI of the mean (t distribution, n - 1 df) from n, sum(x), sum(x²).

    Returns (mean, sd, ci_low, ci_high); everything is None for n < 1, and sd and the CI are None for
    n < 2 (one value has no spread). Rounding noise that would make the variance negative counts as 0.
    """
    if n < 1:
        return None, None, None, None
    mean = total / n
    if n < 2:
        return mean, None, None, None
    # Sum of squared deviations from the running sums; clamp the float noise of equal values to 0.
    ss = max(total_sq - total * total / n, 0.0)
    sd = math.sqrt(ss / (n - 1))
    half = t_critical(n - 1) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half
