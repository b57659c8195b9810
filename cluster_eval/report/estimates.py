"""Small vectorised estimators the analyse stage uses when the statistics packages do not provide them.

Everything here works on a practice x month matrix of indicator values (``Y``, NaN = missing) and
boolean masks of treated and comparison practices. The per-cluster effect is a two-period
difference-in-differences on practice means (each practice's mean over the ``post`` months minus its
mean over the ``pre`` months; the cluster's practices against the comparison practices), which is the
Callaway & Sant'Anna (2021) group-time ATT for one group with a "long" base period, averaged over the
post window. Standard errors treat practices as independent units (Welch form).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps


def z_value(confidence: float) -> float:
    return float(sps.norm.ppf(0.5 + confidence / 2))


def _mean_var(d: np.ndarray):
    d = d[np.isfinite(d)]
    n = d.size
    if n == 0:
        return np.nan, np.nan, 0
    var = d.var(ddof=1) if n > 1 else np.nan
    return float(d.mean()), float(var), n


def did(Y: np.ndarray, treated: np.ndarray, control: np.ndarray, pre: slice, post: slice,
        confidence: float = 0.95) -> dict:
    """Two-period DiD on practice means: (post - pre | treated) - (post - pre | comparison).

    Returns a dict with estimate, se, lower, upper, n_treated, n_control (NaN when a side is empty).
    """
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            d = np.nanmean(Y[:, post], axis=1) - np.nanmean(Y[:, pre], axis=1)
    mt, vt, nt = _mean_var(d[treated])
    mc, vc, nc = _mean_var(d[control])
    est = mt - mc
    se = np.sqrt(vt / nt + vc / nc) if nt > 1 and nc > 1 else np.nan
    z = z_value(confidence)
    return {"estimate": est, "se": se, "lower": est - z * se, "upper": est + z * se,
            "n_treated": nt, "n_control": nc}


def event_study(Y: np.ndarray, treated: np.ndarray, control: np.ndarray, k0: int, pre: int, post: int,
                confidence: float = 0.95) -> pd.DataFrame:
    """Effects by month relative to the start (event_time 0 = first exposed month), base month -1."""
    rows = []
    n_per = Y.shape[1]
    z = z_value(confidence)
    base = k0 - 1
    if base < 0:
        return pd.DataFrame(columns=["event_time", "estimate", "se", "lower", "upper", "n_treated"])
    for e in range(-pre, post):
        k = k0 + e
        if k < 0 or k >= n_per:
            continue
        if e == -1:
            rows.append((e, 0.0, 0.0, 0.0, 0.0, int(np.isfinite(Y[treated, base]).sum())))
            continue
        d = Y[:, k] - Y[:, base]
        mt, vt, nt = _mean_var(d[treated])
        mc, vc, nc = _mean_var(d[control])
        est = mt - mc
        se = np.sqrt(vt / nt + vc / nc) if nt > 1 and nc > 1 else np.nan
        rows.append((e, est, se, est - z * se, est + z * se, nt))
    return pd.DataFrame(rows, columns=["event_time", "estimate", "se", "lower", "upper", "n_treated"])


def random_effects(estimate, se, confidence: float = 0.95) -> dict:
    """DerSimonian-Laird random-effects pooling with tau², I², Q and a prediction interval (Higgins 2009)."""
    y = np.asarray(estimate, dtype=float)
    s = np.asarray(se, dtype=float)
    ok = np.isfinite(y) & np.isfinite(s) & (s > 0)
    y, s = y[ok], s[ok]
    k = y.size
    out = {"k": k, "estimate": np.nan, "se": np.nan, "lower": np.nan, "upper": np.nan, "tau2": np.nan,
           "i2": np.nan, "q": np.nan, "pi_lower": np.nan, "pi_upper": np.nan, "method": "DerSimonian-Laird"}
    if k == 0:
        return out
    w = 1 / s**2
    mu_f = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - mu_f) ** 2))
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    tau2 = max(0.0, (q - (k - 1)) / c) if k > 1 and c > 0 else 0.0
    ws = 1 / (s**2 + tau2)
    mu = float(np.sum(ws * y) / np.sum(ws))
    se_mu = float(np.sqrt(1 / np.sum(ws)))
    z = z_value(confidence)
    out.update(estimate=mu, se=se_mu, lower=mu - z * se_mu, upper=mu + z * se_mu, tau2=tau2, q=q,
               i2=max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0)
    if k > 2:
        t = sps.t.ppf(0.5 + confidence / 2, k - 2)
        half = t * np.sqrt(tau2 + se_mu**2)
        out.update(pi_lower=mu - half, pi_upper=mu + half)
    return out


def interval(numerator, denominator, kind: str, multiplier: float, confidence: float = 0.95) -> pd.DataFrame:
    """value/lower/upper: Wilson for proportions, exact Poisson (chi-square) for rates."""
    x = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    try:
        from .. import stats as S

        if kind == "proportion":
            res = S.proportion_ci(x, n, confidence=confidence)
        else:
            res = S.rate_ci(x, n, confidence=confidence, multiplier=multiplier)
        out = pd.DataFrame({"value": res["value"].to_numpy(), "lower": res["lower"].to_numpy(),
                            "upper": res["upper"].to_numpy()})
        if kind == "proportion" and multiplier != 1:
            out *= multiplier
        return out
    except (ImportError, AttributeError, TypeError, KeyError):
        pass
    z = z_value(confidence)
    with np.errstate(all="ignore"):
        if kind == "proportion":
            p = x / n
            den = 1 + z**2 / n
            centre = (p + z**2 / (2 * n)) / den
            half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
            lo, hi = centre - half, centre + half
            return pd.DataFrame({"value": p * multiplier, "lower": lo * multiplier, "upper": hi * multiplier})
        a = 1 - confidence
        lo = np.where(x > 0, sps.chi2.ppf(a / 2, 2 * x) / 2, 0.0)
        hi = sps.chi2.ppf(1 - a / 2, 2 * (x + 1)) / 2
        return pd.DataFrame({"value": x / n * multiplier, "lower": lo / n * multiplier,
                             "upper": hi / n * multiplier})


def funnel_limits(target, denominator, kind: str, multiplier: float, z: float) -> tuple:
    """Control limits at ``z`` around ``target`` (in reported units) for the given denominators.

    Proportions: normal approximation to the binomial; rates: normal approximation to the Poisson.
    (The statistics package's exact limits are used when present; see :func:`limits_for`.)
    """
    n = np.asarray(denominator, dtype=float)
    t = target / multiplier
    with np.errstate(all="ignore"):
        sd = np.sqrt(t * (1 - t) / n) if kind == "proportion" else np.sqrt(t / n)
    lo, hi = (t - z * sd) * multiplier, (t + z * sd) * multiplier
    if kind == "proportion":
        lo, hi = np.clip(lo, 0, multiplier), np.clip(hi, 0, multiplier)
    else:
        lo = np.clip(lo, 0, None)
    return lo, hi


def limits_for(target, denominator, kind: str, multiplier: float, confidence: float) -> tuple:
    """Funnel limits: ``ce.stats.funnel_limits`` when available, else the normal approximation."""
    try:
        from .. import stats as S

        res = S.funnel_limits(target / multiplier if kind == "proportion" else target / multiplier,
                              np.asarray(denominator, dtype=float),
                              statistic="proportion" if kind == "proportion" else "rate",
                              confidence=confidence)
        lo = res["lower"].to_numpy(dtype=float) * multiplier
        hi = res["upper"].to_numpy(dtype=float) * multiplier
        return lo, hi
    except Exception:  # noqa: BLE001 - fall back to the approximation when the package is absent or differs
        return funnel_limits(target, denominator, kind, multiplier, z_value(confidence))


def anhoej(values: np.ndarray, centre: float) -> dict:
    """Anhøj rules on one series: longest run and number of crossings against their limits."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    side = np.sign(v - centre)
    side = side[side != 0]
    n = side.size
    if n < 2:
        return {"n_useful": n, "longest_run": np.nan, "longest_run_max": np.nan, "n_crossings": np.nan,
                "n_crossings_min": np.nan, "runs_signal": False, "crossings_signal": False}
    change = np.flatnonzero(np.diff(side) != 0)
    bounds = np.concatenate(([0], change + 1, [n]))
    longest = int(np.diff(bounds).max())
    crossings = int(change.size)
    run_max = int(round(np.log2(n)) + 3)
    cross_min = int(sps.binom.ppf(0.05, n - 1, 0.5))
    return {"n_useful": n, "longest_run": longest, "longest_run_max": run_max, "n_crossings": crossings,
            "n_crossings_min": cross_min, "runs_signal": longest > run_max, "crossings_signal": crossings < cross_min}


def limits_vectorised(target, size, kind: str, multiplier, confidence: float, tau2=0.0) -> tuple:
    """Funnel limits for arrays of targets (in reported units) and sizes.

    ``tau2 = 0``: PHE's inverted Wilson for proportions, exact Poisson (PHE) for rates, from
    :mod:`cluster_eval.stats.funnel_limits` (normal approximation if absent). ``tau2 > 0``: Spiegelhalter's
    (2005) additive random-effects limits on the transformed scale (arcsine for proportions, square root of the
    ratio to the target for rates), ``y0 ± z·sqrt(s² + τ²)``, as ``ce.stats.funnel(overdispersion="additive")``.
    """
    t = np.asarray(target, dtype=float) / np.asarray(multiplier, dtype=float)
    n = np.asarray(size, dtype=float)
    mult = np.asarray(multiplier, dtype=float)
    tau2 = np.asarray(tau2, dtype=float)
    if np.any(tau2 > 0):
        z = z_value(confidence)
        with np.errstate(all="ignore"):
            if kind == "proportion":
                y0, s = np.arcsin(np.sqrt(t)), 1 / (2 * np.sqrt(n))
                se = np.sqrt(s**2 + tau2)
                lo = np.sin(np.clip(y0 - z * se, 0, np.pi / 2)) ** 2
                hi = np.sin(np.clip(y0 + z * se, 0, np.pi / 2)) ** 2
            else:
                s = 1 / (2 * np.sqrt(t * n))
                se = np.sqrt(s**2 + tau2)
                lo, hi = np.clip(1 - z * se, 0, None) ** 2 * t, (1 + z * se) ** 2 * t
        bad = ~(n > 0)
        return np.where(bad, np.nan, lo) * mult, np.where(bad, np.nan, hi) * mult
    try:
        from ..stats.funnel_limits import inverted_wilson, poisson_ratio_limits
    except ImportError:
        return funnel_limits(t * mult, n, kind, mult, z_value(confidence))
    if kind == "proportion":
        lo, hi = inverted_wilson(t, n, confidence)
    else:
        lo, hi = poisson_ratio_limits(t * n, confidence)
        lo, hi = lo * t, hi * t
    return lo * mult, hi * mult
