"""Independent computations the app's statistics are checked against (numpy and scipy.stats, written out)."""

from __future__ import annotations

import numpy as np
from scipy import stats as scipy_stats


def numpy_alpha(matrix) -> tuple[float, float, float]:
    """Cronbach's alpha and Feldt's 95% interval from the raw item scores (one row per response), written out with
    numpy; the F quantiles from scipy.stats.f."""
    data = np.asarray(matrix, dtype=float)
    n, k = data.shape
    alpha = k / (k - 1) * (1 - data.var(axis=0, ddof=1).sum() / data.sum(axis=1).var(ddof=1))
    df1, df2 = n - 1, (n - 1) * (k - 1)
    return (float(alpha), float(1 - (1 - alpha) * scipy_stats.f.ppf(0.975, df1, df2)),
            float(1 - (1 - alpha) * scipy_stats.f.ppf(0.025, df1, df2)))
