r"""Interrupted time series: segmented regression for one series (a cluster's pooled indicator).

.. math:: g(E[Y_t]) = \log(\text{offset}_t) + \beta_0 + \beta_1 t + \beta_2 D_t + \beta_3 D_t (t - T_0)
          + \sum_{k=1}^{K} [\gamma_k \sin(2\pi k m_t / P) + \delta_k \cos(2\pi k m_t / P)]

with ``D_t = 1`` from the intervention time ``T_0`` on (level change ``beta_2``, slope change ``beta_3``) and
``K`` harmonic pairs of period ``P`` (tsModel's ``harmonic``). Families: Poisson or binomial GLM with a
quasi-likelihood scale (Pearson chi-square / residual df, as R's ``quasipoisson`` / ``quasibinomial``), or
Gaussian (OLS) with optional Newey-West (Bartlett kernel, no small-sample adjustment) standard errors.
Intervals are Wald intervals (normal quantiles).

Reference: Lopez Bernal, J., Cummins, S. and Gasparrini, A. (2017). Interrupted time series regression for
the evaluation of public health interventions: a tutorial. Int J Epidemiol 46(1), 348-355.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ..dates import month_index
from ..errors import ArgumentError
from ..validation import as_float_array, check_choice, check_confidence, check_same_length
from .results import _Results


def harmonic_terms(season, nfreq: int, period: float) -> pd.DataFrame:
    """``sin``/``cos`` pairs ``2 pi k season / period`` for ``k = 1..nfreq`` (tsModel::harmonic order)."""
    ang = 2 * np.pi * np.outer(np.asarray(season, float), np.arange(1, nfreq + 1)) / period
    cols = {f"sin{k}": np.sin(ang[:, k - 1]) for k in range(1, nfreq + 1)}
    cols.update({f"cos{k}": np.cos(ang[:, k - 1]) for k in range(1, nfreq + 1)})
    return pd.DataFrame(cols)


class ITSResults(_Results):
    """Segmented-regression fit (Lopez Bernal, Cummins & Gasparrini 2017) from :func:`its`.

    Attributes
    ----------
    params : DataFrame
        One row per model term (``level``, ``slope``, ``slope_change``, harmonics ...): term, value, se,
        lower, upper, p_value (rate ratios for the Poisson family are ``exp(value)``).
    series : DataFrame
        The observed series with the fitted values and the counterfactual (no interruption).
    family : str
        "poisson", "binomial" or "gaussian".
    scale : float
        The quasi-likelihood dispersion (1 when not estimated).
    confidence : float
        Level of the intervals in ``params``.
    nobs : int
        Observations used.
    newey_west : int or None
        Lags of the Newey-West standard errors, when used.
    """

    title = "Interrupted time series (segmented regression)"

    def __init__(self, params, series, family, scale, confidence, nobs, newey_west):
        self.params = params
        self.series = series
        self.family = family
        self.scale = scale
        self.confidence = confidence
        self.nobs = nobs
        self.newey_west = newey_west

    def _header(self):
        se = f"Newey-West, {self.newey_west} lags" if self.newey_west is not None else (
            "quasi-likelihood scale" if self.family != "gaussian" else "OLS")
        return [("family", self.family), ("observations", self.nobs), ("scale (dispersion)", f"{self.scale:.4f}"),
                ("standard errors", se), ("confidence", self.confidence)]

    def to_frame(self) -> pd.DataFrame:
        """The ``params`` table (a copy)."""
        return self.params.copy()

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Normal (Wald) intervals of every term at ``level``: term, lower, upper, confidence."""
        (level,) = check_confidence(level)
        z = stats.norm.ppf(0.5 + level / 2)
        p = self.params
        return pd.DataFrame({"term": p["term"], "lower": p["value"] - z * p["se"], "upper": p["value"] + z * p["se"],
                             "confidence": level})

    @property
    def level_change(self) -> pd.Series:
        """The ``level`` row of ``params``: the step change at the interruption."""
        return self.params.set_index("term").loc["level"]


def its(y, time, intervention, *, offset=None, trials=None, family: str = "poisson", harmonics: int = 0,
        period: float = 12, season=None, slope_change: bool = True, newey_west: int | None = None,
        confidence: float = 0.95) -> ITSResults:
    """Fit a segmented regression to one series.

    Parameters
    ----------
    y : array-like
        Counts (poisson), successes (binomial, with ``trials``) or values (gaussian).
    time : array-like
        Time index (e.g. months 1..n); the trend term.
    intervention : scalar or array-like
        The first exposed time (``T0``; ``D = time >= T0``), or a 0/1 array.
    offset : array-like, optional
        Poisson exposure (e.g. population); enters as ``log(offset)``.
    trials : array-like, optional
        Binomial denominators.
    family : {"poisson", "binomial", "gaussian"}
    harmonics : int
        Number of sine/cosine pairs for seasonality; ``season`` (default ``time``) of period ``period``.
    slope_change : bool
        Include the slope change term ``D (t - T0)``.
    newey_west : int, optional
        Gaussian only: Newey-West standard errors with this many lags.
    confidence : float

    Returns
    -------
    ITSResults
        ``params``: term, value, se, lower, upper, statistic, p_value (and for GLMs ``ratio``, ``ratio_lower``,
        ``ratio_upper``: exp of the coefficient: rate ratio (poisson) or odds ratio (binomial));
        ``series``: time, observed, fitted, counterfactual (intervention terms set to 0), counterfactual
        lower/upper (on the response scale; per unit of ``offset`` for poisson).
    """
    check_choice(family, "family", ("poisson", "binomial", "gaussian"))
    (confidence,) = check_confidence(confidence)
    yv = as_float_array(y, "y")
    tv = as_float_array(time, "time")
    check_same_length(y=yv, time=tv)
    if np.ndim(intervention) == 0:
        t0 = float(intervention)
        dv = (tv >= t0).astype(float)
    else:
        dv = as_float_array(intervention, "intervention")
        check_same_length(y=yv, intervention=dv)
        if not set(np.unique(dv)) <= {0.0, 1.0}:
            raise ArgumentError("intervention must be a time or a 0/1 array; got values other than 0 and 1")
        if dv.sum() == 0:
            raise ArgumentError("intervention marks no time as exposed")
        t0 = float(tv[dv == 1].min())
    if newey_west is not None and family != "gaussian":
        raise ArgumentError(f"newey_west applies to family='gaussian' only; got family={family!r}")
    if harmonics < 0:
        raise ArgumentError(f"harmonics must be 0 or more; got {harmonics!r}")
    design = pd.DataFrame({"intercept": 1.0, "time": tv, "level": dv})
    if slope_change:
        design["slope"] = dv * (tv - t0)
    if harmonics:
        h = harmonic_terms(tv if season is None else as_float_array(season, "season"), harmonics, period)
        design = pd.concat([design, h], axis=1)
    off = None
    if family == "poisson":
        if offset is not None:
            ov = as_float_array(offset, "offset")
            check_same_length(y=yv, offset=ov)
            off = np.log(ov)
        model = sm.GLM(yv, design, family=sm.families.Poisson(), offset=off)
        fit = model.fit(scale="X2", tol=1e-13, maxiter=200)
    elif family == "binomial":
        if trials is None:
            raise ArgumentError("family='binomial' needs trials (the denominators)")
        nv = as_float_array(trials, "trials")
        check_same_length(y=yv, trials=nv)
        model = sm.GLM(np.column_stack([yv, nv - yv]), design, family=sm.families.Binomial())
        fit = model.fit(scale="X2", tol=1e-13, maxiter=200)
    else:
        model = sm.OLS(yv, design)
        fit = model.fit() if newey_west is None else model.fit(
            cov_type="HAC", cov_kwds={"maxlags": int(newey_west), "use_correction": False})
    z = stats.norm.ppf(0.5 + confidence / 2)
    b, se = fit.params.to_numpy(), fit.bse.to_numpy()
    params = pd.DataFrame({"term": design.columns, "value": b, "se": se, "lower": b - z * se, "upper": b + z * se,
                           "statistic": b / se, "p_value": 2 * stats.norm.sf(np.abs(b / se)),
                           "confidence": confidence, "method": f"its-{family}"})
    if family != "gaussian":
        params["ratio"] = np.exp(b)
        params["ratio_lower"] = np.exp(b - z * se)
        params["ratio_upper"] = np.exp(b + z * se)
    # counterfactual: the same design with the intervention terms switched off
    x = design.to_numpy(float)
    xc = design.copy()
    xc["level"] = 0.0
    if slope_change:
        xc["slope"] = 0.0
    xc = xc.to_numpy(float)
    cov = fit.cov_params().to_numpy()
    eta_cf = xc @ b
    se_cf = np.sqrt(np.einsum("ij,jk,ik->i", xc, cov, xc))
    inv = {"poisson": np.exp, "binomial": lambda e: 1 / (1 + np.exp(-e)), "gaussian": lambda e: e}[family]
    scale_obs = np.ones_like(yv) if family != "binomial" else as_float_array(trials, "trials")
    series = pd.DataFrame({"time": tv, "exposed": dv, "observed": yv / scale_obs if family == "binomial" else yv,
                           "fitted": inv(x @ b), "counterfactual": inv(eta_cf),
                           "counterfactual_lower": inv(eta_cf - z * se_cf),
                           "counterfactual_upper": inv(eta_cf + z * se_cf)})
    if family == "poisson" and off is not None:
        series["observed_rate"] = yv / np.exp(off)
        series["fitted_rate"] = series["fitted"]
        series["fitted"] = series["fitted_rate"] * np.exp(off)
        for c in ("counterfactual", "counterfactual_lower", "counterfactual_upper"):
            series[c + "_count"] = series[c] * np.exp(off)
    return ITSResults(params, series, family, float(fit.scale), confidence, len(yv), newey_west)


def pooled_series(measures: pd.DataFrame, practices: pd.DataFrame, cluster_id, indicator_id: str) -> pd.DataFrame:
    """A cluster's pooled monthly series of one indicator (sums of numerators and denominators).

    Returns period, time (1-based month index), numerator, denominator, n_practices: the input of
    :func:`its` (``y=numerator``, ``offset`` or ``trials=denominator``).
    """
    members = practices.loc[practices["cluster_id"] == cluster_id, "practice_id"]
    if members.empty:
        raise ArgumentError(f"cluster_id {cluster_id!r} has no practices")
    m = measures[(measures["indicator_id"] == indicator_id) & measures["practice_id"].isin(members)]
    if m.empty:
        raise ArgumentError(f"no measures of {indicator_id!r} for cluster {cluster_id!r}")
    g = m.groupby("period").agg(numerator=("numerator", "sum"), denominator=("denominator", "sum"),
                                n_practices=("practice_id", "nunique")).reset_index()
    p = pd.to_datetime(g["period"])
    g.insert(1, "time", month_index(p) - month_index(p.min()) + 1)
    return g
