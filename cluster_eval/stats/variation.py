"""Between-practice variation of one indicator: CV, SCV, EQ, IQR ratio and the multilevel variance."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ArgumentError
from ..validation import check_choice, check_confidence, check_counts, check_same_length
from ._shared import checked_multiplier
from .multilevel import fit_random_intercept
from .standardise import _group_keys

KINDS = ("proportion", "rate")
#: The latent-variable residual variance of the logistic distribution, π²/3.
LOGISTIC_VARIANCE = math.pi ** 2 / 3


def _unit_totals(num, den, units, exp):
    if units is None:
        return num, den, exp
    frame = pd.DataFrame({"u": np.asarray(units), "num": num, "den": den, "exp": exp})
    agg = frame.groupby("u", sort=False)[["num", "den", "exp"]].sum(min_count=1)
    return agg["num"].to_numpy(float), agg["den"].to_numpy(float), agg["exp"].to_numpy(float)


def _one(num, den, exp, kind, mult, level, nagq, model):
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
    n_left = int((~ok).sum())
    num, den, exp = num[ok], den[ok], exp[ok]
    k, events = len(num), float(num.sum())
    rate = num / den * mult
    rows = []

    def add(stat, value, method, lower=np.nan, upper=np.nan, note=""):
        rows.append({"statistic": stat, "value": value, "lower": lower, "upper": upper, "method": method,
                     "n_units": k, "n_events": events, "note": note})

    left = f"{n_left} unit(s) with a zero or missing denominator left out" if n_left else ""
    if k < 2:
        add("cv", np.nan, "sd/mean of unit values", note="fewer than 2 units")
        return rows
    mean = rate.mean()
    add("cv", rate.std(ddof=1) / mean if mean > 0 else np.nan, "sd/mean of unit values (ddof=1)", note=left)
    e = np.where(np.isfinite(exp), exp, den * events / den.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        scv = np.mean((num - e) ** 2 / e ** 2) - np.mean(1 / e)
    add("scv", scv if np.all(e > 0) else np.nan, "McPherson (1982): mean((O-E)²/E²) - mean(1/E)", note=left)
    lo_v, hi_v = rate.min(), rate.max()
    add("eq", hi_v / lo_v if lo_v > 0 else np.nan, "max/min of unit values",
        note=("minimum unit value is 0" if lo_v <= 0 else left))
    q1, q3 = np.quantile(rate, [0.25, 0.75])
    add("iqr_ratio", q3 / q1 if q1 > 0 else np.nan, "Q3/Q1 of unit values (numpy linear)",
        note=("first quartile is 0" if q1 <= 0 else left))
    if not model:
        return rows
    family = "binomial" if kind == "proportion" else "poisson"
    scale = "logit" if kind == "proportion" else "log"
    if events == 0 or (family == "binomial" and events == den.sum()):
        add(f"between_variance_{scale}", np.nan, "random-intercept GLMM", note="no variation in events")
        return rows
    fit = fit_random_intercept(num, den, family=family, nagq=nagq, confidence=level)
    method = f"random-intercept {family} GLMM, ML, adaptive Gauss-Hermite nAGQ={nagq}"
    note = left if fit.converged else "model did not converge"
    s2 = fit.sigma2
    s2_lo, s2_hi = fit.sigma2_interval()
    add(f"between_variance_{scale}", s2, method, s2_lo, s2_hi, note)
    add(f"between_sd_{scale}", math.sqrt(s2), method, math.sqrt(s2_lo), math.sqrt(s2_hi), note)
    q = stats.norm.ppf(0.75)
    name = "median_odds_ratio" if kind == "proportion" else "median_rate_ratio"
    mor = [math.exp(math.sqrt(2 * v) * q) if np.isfinite(v) else np.nan for v in (s2, s2_lo, s2_hi)]
    add(name, mor[0], f"exp(sqrt(2σ²)·Φ⁻¹(0.75)); {method}", mor[1], mor[2], note)
    if kind == "proportion":
        icc = [v / (v + LOGISTIC_VARIANCE) if np.isfinite(v) else np.nan for v in (s2, s2_lo, s2_hi)]
        add("icc_latent", icc[0], f"σ²/(σ² + π²/3); {method}", icc[1], icc[2], note)
    return rows


def variation(numerator, denominator, units=None, *, by=None, kind: str = "proportion", expected=None,
              multiplier: float = 1, confidence: float = 0.95, nagq: int = 10,
              model: bool = True) -> pd.DataFrame:
    """Between-unit (practice) variation of one indicator.

    Parameters
    ----------
    numerator, denominator : array-like
        Events and persons (proportion) or person-time (rate), one row per unit, or several rows per
        unit (summed) when ``units`` is given.
    units : array-like, optional
        Unit (practice) identifiers.
    by : grouping, optional
        Compute the statistics separately per group (cluster, period ...), one block of rows each.
    kind : {"proportion", "rate"}
    expected : array-like, optional
        Expected counts for the SCV (e.g. from age-sex standardisation); default denominator × overall
        rate.
    multiplier : float
        Scale of unit values (does not change the ratios and the CV).
    confidence : float
        Level of the intervals for the multilevel figures.
    nagq : int
        Quadrature points of the multilevel model (1 = Laplace, lme4's default; default 10).
    model : bool
        Fit the multilevel model (set False for the descriptive figures only).

    Returns
    -------
    pandas.DataFrame
        One row per statistic (and group): ``statistic, value, lower, upper, confidence, method,
        n_units, n_events, note``. Statistics: ``cv`` (coefficient of variation of unit values),
        ``scv`` (systematic component of variation; multiply by 100 for McPherson's customary scale),
        ``eq`` (extremal quotient, max/min), ``iqr_ratio`` (Q3/Q1), and from the random-intercept
        model ``between_variance_logit`` (σ²), ``between_sd_logit``, ``median_odds_ratio``
        (exp(sqrt(2σ²)·Φ⁻¹(0.75))) and ``icc_latent`` (σ²/(σ² + π²/3)); for rates the log-scale
        variance and the median rate ratio. Every row states the number of units and events it rests on.

    Notes
    -----
    The multilevel model is fitted by maximum likelihood with adaptive Gauss-Hermite quadrature
    (:mod:`cluster_eval.stats.multilevel`); it agrees with lme4 ``glmer`` (same nAGQ) to about 1e-4
    relative on QOF registers (tests/reference/lme4_variation.R). The interval for σ² is a
    profile-likelihood interval (lower end 0 when the data are compatible with no between-unit
    variation), carried to the SD, MOR and ICC (monotone transforms).

    References
    ----------
    McPherson K, Wennberg JE, Hovind OB, Clifford P (1982). Small-area variations in the use of common
    surgical procedures. NEJM 307:1310-1314.
    Merlo J et al. (2006). A brief conceptual tutorial of multilevel analysis in social epidemiology:
    using measures of clustering in multilevel logistic regression. JECH 60:290-297.
    Pinheiro JC, Bates DM (1995). Approximations to the log-likelihood function in the nonlinear
    mixed-effects model. J Comput Graph Stat 4:12-35.
    """
    check_choice(kind, "kind", KINDS)
    (level,) = check_confidence(confidence) if np.ndim(confidence) == 0 else (None,)
    if level is None:
        raise ArgumentError(f"confidence must be a single level for variation; got {confidence!r}")
    mult = checked_multiplier(multiplier)
    try:
        nagq = int(nagq)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"nagq must be a whole number from 1 to 50; got {nagq!r}") from exc
    if not 1 <= nagq <= 50:
        raise ArgumentError(f"nagq must be a whole number from 1 to 50; got {nagq!r}")
    num, den = check_counts(numerator, denominator, proportion=(kind == "proportion"))
    n = len(num)
    exp = np.full(n, np.nan) if expected is None else np.broadcast_to(
        check_counts(expected, num_name="expected"), (n,)).astype(float)
    if expected is not None:
        check_same_length(numerator=num, expected=np.asarray(exp))
    if units is not None:
        check_same_length(numerator=num, units=np.asarray(units))
    keys = _group_keys(by, n)
    gcols = list(keys.columns)
    blocks = []
    groups = keys.groupby(gcols, sort=False).indices.items() if gcols else [((), np.arange(n))]
    for key, idx in groups:
        u = None if units is None else np.asarray(units)[idx]
        gn, gd, ge = _unit_totals(num[idx], den[idx], u, exp[idx])
        block = pd.DataFrame(_one(gn, gd, ge, kind, mult, level, nagq, model))
        key = key if isinstance(key, tuple) else (key,)
        for col, val in zip(gcols, key):
            block.insert(gcols.index(col), col, val)
        blocks.append(block)
    out = pd.concat(blocks, ignore_index=True)
    out.insert(out.columns.get_loc("method"), "confidence", level)
    out.loc[out["lower"].isna() & out["upper"].isna(), "confidence"] = np.nan
    return out
