"""Proportions with confidence intervals: Wilson score and Clopper-Pearson (exact)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..validation import check_choice, check_confidence, check_counts
from ._shared import checked_multiplier, long_frame, source_index, statistic_name, z_value

PROPORTION_METHODS = ("wilson", "exact")


def wilson_limits(x, n, z):
    """Wilson (1927) score limits for x successes out of n at normal quantile z (NaN where n is 0).

    lower, upper = (2x + z² ∓ z·sqrt(z² + 4x(1 − x/n))) / (2(n + z²))
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, x / n, np.nan)
        half = z * np.sqrt(z * z + 4.0 * x * (1.0 - p))
        denom = 2.0 * (n + z * z)
        lower = (2.0 * x + z * z - half) / denom
        upper = (2.0 * x + z * z + half) / denom
    lower = np.where(n > 0, lower, np.nan)
    upper = np.where(n > 0, upper, np.nan)
    return lower, upper


def exact_binomial_limits(x, n, confidence):
    """Clopper-Pearson (1934) limits from beta quantiles (0 and 1 at the boundaries, NaN where n is 0)."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha = 1.0 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(x > 0, stats.beta.ppf(alpha / 2, x, n - x + 1), 0.0)
        upper = np.where(x < n, stats.beta.ppf(1 - alpha / 2, x + 1, n - x), 1.0)
    ok = n > 0
    return np.where(ok, lower, np.nan), np.where(ok, upper, np.nan)


def proportion_ci(numerator, denominator, confidence=0.95, method: str = "wilson",
                  multiplier: float = 1) -> pd.DataFrame:
    """Proportion ``numerator / denominator`` with confidence limits.

    Parameters
    ----------
    numerator, denominator : array-like or pandas Series
        Counts; the numerator may not exceed the denominator. Length-1 inputs broadcast.
    confidence : float or tuple of float
        One level (0.95) or several ((0.95, 0.998)); each strictly between 0 and 1.
    method : {"wilson", "exact"}
        Wilson score interval (Wilson 1927; as PHEindicatormethods ``phe_proportion``) or
        Clopper-Pearson exact interval (Clopper & Pearson 1934).
    multiplier : float
        Scale of the output: 1 for a proportion, 100 for a percentage.

    Returns
    -------
    pandas.DataFrame
        Tidy, long: one row per input row and confidence level (row by row), columns
        ``numerator, denominator, value, lower, upper, confidence, statistic, method``. The index of
        a Series input is kept (repeated per level). A zero or missing denominator gives missing
        value and limits, not an error.

    Notes
    -----
    Wilson: with p = x/n and z = Φ⁻¹(1 − α/2),
    ``(2x + z² ∓ z·sqrt(z² + 4x(1 − p))) / (2(n + z²))``.
    Clopper-Pearson: ``Beta⁻¹(α/2; x, n − x + 1)`` and ``Beta⁻¹(1 − α/2; x + 1, n − x)``.

    References
    ----------
    Wilson EB (1927). Probable inference, the law of succession, and statistical inference. JASA 22:209-212.
    Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated in the case of
    the binomial. Biometrika 26:404-413.
    """
    check_choice(method, "method", PROPORTION_METHODS)
    levels = check_confidence(confidence)
    mult = checked_multiplier(multiplier)
    index = source_index(numerator, denominator)
    x, n = check_counts(numerator, denominator, proportion=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, x / n, np.nan)
    lowers, uppers = [], []
    for c in levels:
        if method == "wilson":
            lo, hi = wilson_limits(x, n, z_value(c))
        else:
            lo, hi = exact_binomial_limits(x, n, c)
        lowers.append(lo * mult)
        uppers.append(hi * mult)
    out = long_frame(index, len(x),
                     {"numerator": x, "denominator": n, "value": value * mult},
                     {"lower": np.vstack(lowers), "upper": np.vstack(uppers)}, levels)
    out["statistic"] = statistic_name("proportion", mult)
    out["method"] = method
    return out
