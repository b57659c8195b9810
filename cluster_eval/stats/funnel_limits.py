"""Funnel-plot control limits: PHE-compatible limits for proportions, ratios and rates, and
overdispersion-adjusted limits (Spiegelhalter 2005) on a variance-stabilising scale."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import special

from ..errors import ArgumentError
from ..validation import as_float_array, check_choice, check_confidence, check_nonnegative
from ._shared import checked_multiplier, statistic_name, z_value

STATISTICS = ("proportion", "ratio", "rate")
POISSON_METHODS = ("phe", "funnelplotr")
TRANSFORMS = ("arcsine", "sqrt", "log")


# --- unadjusted limits -------------------------------------------------------------------------

def inverted_wilson(p0, n, confidence):
    """PHE's proportion funnel limits: the proportions whose Wilson interval just reaches ``p0``.

    Closed form of PHEindicatormethods ``sigma_adjustment`` (Fingertips technical guidance), clipped
    to [0, 1].
    """
    n = np.asarray(n, dtype=float)
    z2 = z_value(confidence) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        first = p0 * (n / z2 + 1)
        disc = (-8 * p0 * (n / z2 + 1)) ** 2 - 64 * (1 / z2 + 1 / n) * p0 * (
            n * (p0 * (n / z2 + 2) - 1) + z2 * (p0 - 1))
        adj = np.sqrt(disc)
        last = 1 / z2 + 1 / n
        lower = (first - adj / 8) / last / n
        upper = (first + adj / 8) / last / n
    bad = ~(n > 0)
    return (np.where(bad, np.nan, np.clip(lower, 0, 1)), np.where(bad, np.nan, np.clip(upper, 0, 1)))


def poisson_ratio_limits(expected, confidence, method="phe"):
    """Limits for observed/expected when the observed count is Poisson with mean ``expected``.

    ``"phe"`` (PHEindicatormethods ``calculate_funnel_limits``, statistic "ratio"): the continuous
    Poisson test limits, O_L with P(X ≤ O_L | E) = α/2 and O_U with P(X ≥ O_U | E) = α/2, found by
    inverting the regularised incomplete gamma function (``scipy.special.pdtrik``); returns O_L/E, O_U/E.

    ``"funnelplotr"`` (FunnelPlotR unadjusted SR limits): the exact Poisson confidence limits of a
    count equal to E, χ²(α/2; 2E)/(2E) and χ²(1 − α/2; 2E + 2)/(2E).
    """
    e = np.asarray(expected, dtype=float)
    alpha = 1.0 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "phe":
            o_low = np.where(e > 0, special.pdtrik(alpha / 2, np.where(e > 0, e, 1.0)), np.nan)
            o_low = np.where(o_low > 0, o_low, 0.0)
            o_high = special.pdtrik(1 - alpha / 2, np.where(e > 0, e, 1.0)) + 1
            lower, upper = o_low / e, o_high / e
        else:
            lower = special.gammaincinv(np.where(e > 0, e, 1.0), alpha / 2) / e
            upper = special.gammaincinv(e + 1, 1 - alpha / 2) / e
    bad = ~(e > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


# --- transformed-scale (overdispersion) machinery --------------------------------------------

def default_transform(statistic: str, trim_method: str) -> str:
    """Arcsine for proportions; for ratios and rates square root (Spiegelhalter) or, with SHMI-style
    truncation, log."""
    if statistic == "proportion":
        return "arcsine"
    return "log" if trim_method == "truncate" else "sqrt"


def to_scale(transform: str, value, target, size):
    """(y, y0, s): transformed unit values, transformed target and within-unit standard errors.

    ``size`` is the denominator for proportions and the expected count for ratios/rates; ``value`` and
    ``target`` are a proportion, or for ratios/rates the ratio O/E and its target.
    """
    value = np.asarray(value, dtype=float)
    size = np.asarray(size, dtype=float)
    target = np.asarray(target, dtype=float)  # one target, or one per unit (see :func:`limit_arrays`)
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "arcsine":
            return np.arcsin(np.sqrt(value)), np.arcsin(np.sqrt(target)), 1 / (2 * np.sqrt(size))
        if transform == "sqrt":
            return np.sqrt(value), np.sqrt(target), 1 / (2 * np.sqrt(size))
        return np.log(value), np.log(target), 1 / np.sqrt(size)


def from_scale(transform: str, y):
    y = np.asarray(y, dtype=float)
    if transform == "arcsine":
        return np.sin(np.clip(y, 0, math.pi / 2)) ** 2
    if transform == "sqrt":
        return np.clip(y, 0, None) ** 2
    return np.exp(y)


def adjusted_limits(transform, target, size, confidence, phi=1.0, tau2=0.0, overdispersion="additive"):
    """Back-transformed limits y0 ± z·SE with SE = sqrt(φ)·s (multiplicative) or sqrt(s² + τ²) (additive)."""
    _, y0, s = to_scale(transform, np.ones_like(np.asarray(size, float)), target, size)
    se = np.sqrt(phi) * s if overdispersion == "multiplicative" else np.sqrt(s ** 2 + tau2)
    z = z_value(confidence)
    lower, upper = from_scale(transform, y0 - z * se), from_scale(transform, y0 + z * se)
    bad = ~(np.asarray(size, float) > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def unadjusted_limits(statistic, target, denominator, confidence, poisson_method="phe"):
    """Limits in the statistic's own unit (fraction, ratio, or rate per one unit of denominator)."""
    den = np.asarray(denominator, dtype=float)
    if statistic == "proportion":
        return inverted_wilson(target, den, confidence)
    if statistic == "ratio":
        lo, hi = poisson_ratio_limits(target * den, confidence, poisson_method)
        return lo * target, hi * target
    lo, hi = poisson_ratio_limits(target * den, confidence, poisson_method)  # rate: E = target × N
    return lo * target, hi * target


def _check_target(statistic, target):
    try:
        t = float(target)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"target must be a number; got {target!r}") from exc
    if statistic == "proportion" and not (0 < t < 1):
        raise ArgumentError(f"target must be between 0 and 1 (exclusive) for a proportion; got {t!r}")
    if statistic != "proportion" and not (np.isfinite(t) and t > 0):
        raise ArgumentError(f"target must be a positive number for a {statistic}; got {t!r}")
    return t


def funnel_limits(target, denominator, statistic: str = "proportion", confidence=(0.95, 0.998),
                  multiplier: float = 1, poisson_method: str = "phe", overdispersion=None,
                  phi: float = 1.0, tau2: float = 0.0, transform: str | None = None) -> pd.DataFrame:
    """Funnel-plot control limits around a target, at given denominators.

    Parameters
    ----------
    target : float
        The centre line in the statistic's own unit (not multiplied): a proportion (0-1), a ratio
        (usually 1), or a rate per one unit of denominator (e.g. 0.0123 events per person-year).
    denominator : array-like
        Where to evaluate the limits: population (proportion, rate) or expected count (ratio).
    statistic : {"proportion", "ratio", "rate"}
        proportion: inverted Wilson (PHE); ratio and rate: exact Poisson (see ``poisson_method``).
    confidence : float or tuple of float
        Default (0.95, 0.998), the "2 sigma" and "3 sigma" limits.
    multiplier : float
        Scale of the output limits and target (100 for a percentage or an ISR on the 100 scale).
    poisson_method : {"phe", "funnelplotr"}
        Ratio/rate limits: PHE's inverted Poisson test (default) or FunnelPlotR's exact Poisson
        confidence limits of the expected count (:func:`poisson_ratio_limits`).
    overdispersion : {None, "multiplicative", "additive"}
        None gives the unadjusted limits above. Otherwise limits on the transformed scale
        (Spiegelhalter 2005): ``y0 ± z·sqrt(φ)·s`` or ``y0 ± z·sqrt(s² + τ²)``, back-transformed.
    phi, tau2 : float
        Dispersion ratio and between-unit variance (see :func:`cluster_eval.stats.funnel`).
    transform : {None, "arcsine", "sqrt", "log"}
        Scale for adjusted limits; default arcsine for proportions, square root for ratios/rates.

    Returns
    -------
    pandas.DataFrame
        One row per denominator and level: ``denominator, target, lower, upper, confidence,
        statistic, method``.

    References
    ----------
    Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance. Stat Med 24:1185-1202.
    Public Health England. Fingertips technical guidance: funnel plots (PHEindicatormethods).
    """
    check_choice(statistic, "statistic", STATISTICS)
    check_choice(poisson_method, "poisson_method", POISSON_METHODS)
    check_choice(overdispersion, "overdispersion", (None, "multiplicative", "additive"))
    if transform is not None:
        check_choice(transform, "transform", TRANSFORMS)
    levels = check_confidence(confidence)
    mult = checked_multiplier(multiplier)
    t = _check_target(statistic, target)
    den = as_float_array(denominator, "denominator")
    check_nonnegative(den, "denominator")
    rows = []
    for c in levels:
        lo, hi = limit_arrays(t, den, statistic, c, poisson_method=poisson_method, overdispersion=overdispersion,
                              phi=phi, tau2=tau2, transform=transform)
        if overdispersion is None:
            method = {"proportion": "inverted wilson"}.get(statistic, f"exact poisson ({poisson_method})")
        else:
            method = f"{overdispersion} overdispersion ({transform or default_transform(statistic, 'winsorise')})"
        rows.append(pd.DataFrame({"denominator": den, "target": t * mult, "lower": lo * mult,
                                  "upper": hi * mult, "confidence": c, "_order": np.arange(len(den))}))
        rows[-1]["method"] = method
    out = pd.concat(rows).sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    out.insert(5, "statistic", statistic_name(statistic, mult))
    return out


def limit_arrays(target, denominator, statistic: str = "proportion", confidence: float = 0.95, *,
                 poisson_method: str = "phe", overdispersion=None, phi=1.0, tau2=0.0, transform=None):
    """The limits of :func:`funnel_limits` as two arrays, with the target (and ``phi``/``tau2``) per element.

    The vectorised core of :func:`funnel_limits` (which calls it once per confidence level), for callers
    that need limits around many targets at once, e.g. every cluster's funnel in one call. ``target``,
    ``denominator``, ``phi`` and ``tau2`` broadcast against each other; the target is in the statistic's
    own unit (a proportion 0-1, a ratio, or a rate per one unit of denominator) and the limits are in the
    same unit. No argument checks: an invalid target or a denominator of 0 gives NaN limits.

    Returns
    -------
    (lower, upper) : tuple of ndarray
    """
    t = np.asarray(target, dtype=float)
    den = np.asarray(denominator, dtype=float)
    if overdispersion is None:
        return unadjusted_limits(statistic, t, den, confidence, poisson_method)
    tr = transform or default_transform(statistic, "winsorise")
    if statistic == "proportion":
        return adjusted_limits(tr, t, den, confidence, phi, tau2, overdispersion)
    lo, hi = adjusted_limits(tr, 1.0, t * den, confidence, phi, tau2, overdispersion)
    return lo * t, hi * t


# --- PHE's plotting axis --------------------------------------------------------------------

def phe_axis(denominators, statistic: str = "proportion", points: int = 100) -> np.ndarray:
    """The 100 x-axis points PHEindicatormethods ``calculate_funnel_limits`` evaluates its limits at.

    From ``max(1, axis minimum)`` to a rounded-up maximum, geometrically spaced and rounded to whole
    numbers (strictly increasing). The axis minimum is 0 when the largest denominator is more than
    twice the smallest, else the smallest rounded down to one significant figure after × 0.95; the
    maximum is the largest × 1.05 rounded up to two significant figures.
    """
    d = as_float_array(denominators, "denominators")
    d = d[np.isfinite(d)]
    lo, hi = float(d.min()), float(d.max())

    def floor_sig(x, down=0.95):
        if x == 0:
            return 0.0
        k = len(str(int(math.floor(x * down)))) - 1
        return math.floor(x * down / 10 ** k) * 10 ** k

    def ceil_sig(x, up=1.05):
        if x == 0:
            return 0.0
        k = len(str(int(math.ceil(x * up)))) - 2
        return math.ceil(x * up / 10 ** k) * 10 ** k

    axis_min = 0.0 if hi > 2 * lo else floor_sig(lo)
    axis_max = ceil_sig(hi)
    out = [max(1.0, axis_min)]
    for j in range(2, points + 1):
        offset = j - 1 if statistic == "ratio" else j
        step = (axis_max / out[-1]) ** (1 / (points + 1 - offset)) * out[-1]
        out.append(max(float(np.round(step)), out[-1] + 1))
    return np.array(out)
