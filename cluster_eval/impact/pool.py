r"""Random-effects meta-analysis of per-cluster effects (REML and DerSimonian-Laird).

Model: :math:`y_i = \mu + u_i + e_i`, :math:`u_i \sim N(0, \tau^2)`, :math:`e_i \sim N(0, v_i)` with known
within-cluster variances :math:`v_i = se_i^2`. With weights :math:`w_i = 1/(v_i + \hat\tau^2)`,
:math:`\hat\mu = \sum w_i y_i / \sum w_i`, :math:`se(\hat\mu) = (\sum w_i)^{-1/2}`.

- DerSimonian & Laird (1986): :math:`\hat\tau^2 = \max(0, (Q - (k-1)) / (\sum w^0 - \sum (w^0)^2/\sum w^0))`
  with fixed-effect weights :math:`w^0 = 1/v_i` and Cochran's :math:`Q = \sum w^0_i (y_i - \hat\mu_{FE})^2`.
- REML: Fisher scoring on the restricted likelihood (as metafor's ``rma``):
  :math:`\tau^2 \leftarrow \tau^2 + (y'PPy - tr P)/tr(PP)`, :math:`P = W - Ww w'W / \sum w`.
- :math:`I^2 = 100\,\hat\tau^2 / (\hat\tau^2 + s^2)` with the typical within variance
  :math:`s^2 = (k-1)\sum w^0 / ((\sum w^0)^2 - \sum (w^0)^2)` (Higgins & Thompson 2002, as metafor).
- Prediction interval: :math:`\hat\mu \pm z_{1-\alpha/2} \sqrt{se(\hat\mu)^2 + \hat\tau^2}` (metafor's
  default with ``test = "z"``).

Oracle: R metafor ``rma(yi, sei = se, method = "REML" | "DL")`` (tests/reference/pool_metafor.R).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ArgumentError, EstimationWarning
from ..validation import as_float_array, check_choice, check_confidence, check_same_length
from .results import _Results


def _tau2_dl(y, v):
    w = 1 / v
    mu = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - mu) ** 2)
    c = np.sum(w) - np.sum(w ** 2) / np.sum(w)
    return max(0.0, (q - (len(y) - 1)) / c)


def _tau2_reml(y, v, tol=1e-12, max_iter=1000):
    tau2 = _tau2_dl(y, v)
    for _ in range(max_iter):
        w = 1 / (v + tau2)
        sw = np.sum(w)
        # P = W - w w' / sum(w) (intercept-only model); Py and traces in closed form
        py = w * y - w * np.sum(w * y) / sw
        tr_p = sw - np.sum(w ** 2) / sw
        tr_pp = np.sum(w ** 2) - 2 * np.sum(w ** 3) / sw + (np.sum(w ** 2) / sw) ** 2
        adj = (np.sum(py ** 2) - tr_p) / tr_pp
        step = adj
        while tau2 + step < 0:
            step /= 2
            if abs(step) < tol:
                step = -tau2
                break
        tau2_new = max(0.0, tau2 + step)
        if abs(tau2_new - tau2) < tol:
            return tau2_new, True
        tau2 = tau2_new
    return tau2, False


class PoolResults(_Results):
    """Pooled effect with heterogeneity statistics, from :func:`pool` (DerSimonian & Laird 1986; REML).

    Attributes
    ----------
    overall : DataFrame
        One row: value, se, lower, upper, statistic, p_value, tau2, tau, I2 (percent), H2, Q, Q_df,
        Q_p_value, pi_lower, pi_upper (prediction interval, Higgins, Thompson & Spiegelhalter 2009), k,
        k_excluded, method, confidence.
    studies : DataFrame
        One row per cluster: label, effect, se, lower, upper, weight (percent), used.
    """

    title = "Random-effects meta-analysis"

    def __init__(self, overall: pd.DataFrame, studies: pd.DataFrame):
        self.overall = overall
        self.studies = studies

    def _header(self):
        o = self.overall.iloc[0]
        return [("method", o["method"]), ("clusters", int(o["k"])), ("tau2", f"{o['tau2']:.6g}"),
                ("I2 (%)", f"{o['I2']:.1f}"), ("Q", f"{o['Q']:.3f} (p = {o['Q_p_value']:.3g})"),
                ("prediction interval", f"[{o['pi_lower']:.4f}, {o['pi_upper']:.4f}]")]

    def to_frame(self) -> pd.DataFrame:
        """The one-row ``overall`` table (a copy)."""
        return self.overall.copy()

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """The pooled effect's normal interval at ``level``: one row of lower, upper, confidence."""
        (level,) = check_confidence(level)
        z = stats.norm.ppf(0.5 + level / 2)
        o = self.overall.iloc[0]
        return pd.DataFrame([{"lower": o["value"] - z * o["se"], "upper": o["value"] + z * o["se"],
                              "confidence": level}])


def pool(effects, se, *, method: str = "REML", labels=None, confidence: float = 0.95) -> PoolResults:
    """Random-effects pooling of per-cluster effects.

    Parameters
    ----------
    effects, se : array-like
        Per-cluster estimates and their standard errors (rows with a missing or non-positive se are left
        out and counted in ``k_excluded``).
    method : {"REML", "DL"}
    labels : array-like, optional
        Cluster ids, kept in ``studies``.
    confidence : float

    Returns
    -------
    PoolResults
        ``overall`` (one row: value, se, lower, upper, statistic, p_value, tau2, tau, I2 [percent], H2, Q,
        Q_df, Q_p_value, pi_lower, pi_upper, k, k_excluded, method, confidence) and ``studies`` (label,
        effect, se, lower, upper, weight [percent of the random-effects weights]).
    """
    check_choice(method, "method", ("REML", "DL"))
    (confidence,) = check_confidence(confidence)
    y_all = as_float_array(effects, "effects")
    s_all = as_float_array(se, "se")
    check_same_length(effects=y_all, se=s_all)
    lab = np.arange(len(y_all)) if labels is None else np.asarray(labels)
    ok = np.isfinite(y_all) & np.isfinite(s_all) & (s_all > 0)
    y, v = y_all[ok], s_all[ok] ** 2
    k = len(y)
    if k < 2:
        raise ArgumentError(f"pool needs at least 2 effects with a positive standard error; got {k}")
    converged = True
    if method == "DL":
        tau2 = _tau2_dl(y, v)
    else:
        tau2, converged = _tau2_reml(y, v)
        if not converged:
            warnings.warn("REML did not converge; tau2 is the last iterate", EstimationWarning, stacklevel=2)
    w0 = 1 / v
    mu_fe = np.sum(w0 * y) / np.sum(w0)
    q = float(np.sum(w0 * (y - mu_fe) ** 2))
    s2 = (k - 1) * np.sum(w0) / (np.sum(w0) ** 2 - np.sum(w0 ** 2))
    w = 1 / (v + tau2)
    mu = float(np.sum(w * y) / np.sum(w))
    se_mu = float(np.sqrt(1 / np.sum(w)))
    z = stats.norm.ppf(0.5 + confidence / 2)
    pi_se = np.sqrt(se_mu ** 2 + tau2)
    overall = pd.DataFrame([{
        "value": mu, "se": se_mu, "lower": mu - z * se_mu, "upper": mu + z * se_mu, "statistic": mu / se_mu,
        "p_value": 2 * stats.norm.sf(abs(mu / se_mu)), "tau2": tau2, "tau": np.sqrt(tau2),
        "I2": 100 * tau2 / (tau2 + s2), "H2": (tau2 + s2) / s2, "Q": q, "Q_df": k - 1,
        "Q_p_value": stats.chi2.sf(q, k - 1), "pi_lower": mu - z * pi_se, "pi_upper": mu + z * pi_se,
        "k": k, "k_excluded": int((~ok).sum()), "method": method, "confidence": confidence}])
    studies = pd.DataFrame({"label": lab, "effect": y_all, "se": s_all, "lower": y_all - z * s_all,
                            "upper": y_all + z * s_all, "weight": np.nan, "used": ok})
    studies.loc[ok, "weight"] = 100 * w / np.sum(w)
    return PoolResults(overall, studies)
