"""Crude rates with confidence limits: exact Poisson (chi-square) below 10 events, Byar's above."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..validation import check_choice, check_confidence, check_counts
from ._shared import checked_multiplier, long_frame, source_index, statistic_name, z_value

RATE_METHODS = ("auto", "exact", "byars")

#: Below this many events the exact limits are used (as PHEindicatormethods ``phe_rate``).
EXACT_BELOW = 10


def exact_poisson_limits(x, confidence):
    """Exact limits for a Poisson count x (Garwood 1936): χ²(α/2; 2x)/2 and χ²(1 − α/2; 2x + 2)/2."""
    x = np.asarray(x, dtype=float)
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore"):
        lower = np.where(x > 0, stats.chi2.ppf(alpha / 2, 2 * x) / 2, 0.0)
        upper = stats.chi2.ppf(1 - alpha / 2, 2 * x + 2) / 2
    lower = np.where(np.isnan(x), np.nan, lower)
    return lower, upper


def byars_limits(x, confidence):
    """Byar's approximation to the exact Poisson limits (Breslow & Day 1987).

    lower = x(1 − 1/(9x) − z/(3√x))³, upper = (x + 1)(1 − 1/(9(x + 1)) + z/(3√(x + 1)))³.
    The lower limit is missing where the bracket is negative (very small x at high confidence).
    """
    x = np.asarray(x, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = 1 - 1 / (9 * x) - z / (3 * np.sqrt(x))
        lower = np.where(inner >= 0, x * inner ** 3, np.nan)
        lower = np.where(x == 0, 0.0, lower)
        x1 = x + 1
        upper = x1 * (1 - 1 / (9 * x1) + z / (3 * np.sqrt(x1))) ** 3
    return lower, upper


def poisson_limits(x, confidence, method="auto"):
    """Limits for a Poisson count with the method chosen per row; returns (lower, upper, method)."""
    x = np.asarray(x, dtype=float)
    if method == "exact":
        use_exact = np.ones(x.shape, bool)
    elif method == "byars":
        use_exact = np.zeros(x.shape, bool)
    else:
        use_exact = x < EXACT_BELOW
    e_lo, e_hi = exact_poisson_limits(x, confidence)
    b_lo, b_hi = byars_limits(x, confidence)
    lower = np.where(use_exact, e_lo, b_lo)
    upper = np.where(use_exact, e_hi, b_hi)
    names = np.where(use_exact, "exact", "byars").astype(object)
    names[np.isnan(x)] = None
    return lower, upper, names


def rate_ci(count, denominator, confidence=0.95, multiplier: float = 1,
            method: str = "auto") -> pd.DataFrame:
    """Crude rate ``count / denominator × multiplier`` with Poisson confidence limits.

    Parameters
    ----------
    count, denominator : array-like or pandas Series
        Event counts (not negative) and person-time or population (not negative).
    confidence : float or tuple of float
        One level or several, each strictly between 0 and 1.
    multiplier : float
        E.g. 1000 for a rate per 1,000.
    method : {"auto", "exact", "byars"}
        "auto" (default, as PHEindicatormethods ``phe_rate``): exact chi-square limits when the count
        is below 10, Byar's approximation otherwise. The ``method`` column says which was used.

    Returns
    -------
    pandas.DataFrame
        One row per input row and level: ``count, denominator, value, lower, upper, confidence,
        statistic, method``. Zero or missing denominators give missing values.

    Notes
    -----
    Exact (Garwood 1936): ``χ²(α/2; 2x)/2`` and ``χ²(1 − α/2; 2x + 2)/2``, divided by the denominator.
    Byar's: ``x(1 − 1/(9x) − z/(3√x))³`` and ``(x + 1)(1 − 1/(9(x + 1)) + z/(3√(x + 1)))³``.

    References
    ----------
    Breslow NE, Day NE (1987). Statistical methods in cancer research, vol II. IARC, Lyon.
    Garwood F (1936). Fiducial limits for the Poisson distribution. Biometrika 28:437-442.
    """
    check_choice(method, "method", RATE_METHODS)
    levels = check_confidence(confidence)
    mult = checked_multiplier(multiplier)
    index = source_index(count, denominator)
    x, n = check_counts(count, denominator, num_name="count")
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(n > 0, mult / n, np.nan)
    lowers, uppers, names = [], [], None
    for c in levels:
        lo, hi, names = poisson_limits(x, c, method)
        lowers.append(lo * scale)
        uppers.append(hi * scale)
    out = long_frame(index, len(x), {"count": x, "denominator": n, "value": x * scale, "method": names},
                     {"lower": np.vstack(lowers), "upper": np.vstack(uppers)}, levels)
    out["statistic"] = statistic_name("rate", mult)
    return out[["count", "denominator", "value", "lower", "upper", "confidence", "statistic", "method"]]
