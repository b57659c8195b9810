r"""Many clusters times many indicators: empirical-Bayes shrinkage, BH q-values and verdict words.

**Shrinkage** (Efron & Morris 1975; Morris 1983). With per-cluster estimates :math:`\hat\theta_i`, standard
errors :math:`s_i`, and the random-effects pooled effect :math:`\hat\mu` (its se :math:`s_\mu`) and
between-cluster variance :math:`\hat\tau^2` from :func:`cluster_eval.impact.pool` (REML by default),

.. math:: B_i = \frac{s_i^2}{s_i^2 + \hat\tau^2}, \qquad
          \tilde\theta_i = \hat\mu + (1 - B_i)(\hat\theta_i - \hat\mu), \qquad
          V_i = (1 - B_i)\, s_i^2 + B_i^2\, s_\mu^2,

and the interval :math:`\tilde\theta_i \pm z_{1-\alpha/2}\sqrt{V_i}` (the second term of :math:`V_i` carries
the uncertainty of :math:`\hat\mu`, Morris 1983, eq. 4.2 without the :math:`\tau^2` term).

**q-values** (Benjamini & Hochberg 1995): for sorted p-values :math:`p_{(1)} \le \dots \le p_{(m)}`,
:math:`q_{(i)} = \min_{j \ge i} \min(1, m\,p_{(j)}/j)`; missing p-values are left out and stay missing.

**Verdicts.** An interval above 0 is "improved" when higher is better and "worsened" when lower is better
(and the reverse below 0); an interval containing 0 reads "no change detected (this cluster could detect
changes of about MDE or more)". ``better="none"`` gives direction words without a judgement
("increased", "decreased").
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ArgumentError
from ..validation import as_float_array, check_choice, check_confidence
from .pool import pool

BETTER = ("lower", "higher", "none")
NO_CHANGE = "no change detected (this cluster could detect changes of about {mde} or more)"


def shrink(effects, se, *, method: str = "REML", confidence: float = 0.95) -> pd.DataFrame:
    """Empirical-Bayes shrinkage of per-cluster effects toward their pooled effect (see module docstring).

    Parameters
    ----------
    effects, se : array-like
        Per-cluster estimates and standard errors (of one indicator). Rows with a missing or non-positive
        se are not used for pooling and get missing shrunk values.
    method : {"REML", "DL"}
        tau² estimator of :func:`cluster_eval.impact.pool`.
    confidence : float

    Returns
    -------
    DataFrame
        One row per input: value, se, shrunk_value, shrunk_se, shrunk_lower, shrunk_upper, shrinkage (B),
        pooled_value, pooled_se, tau2, confidence.
    """
    (confidence,) = check_confidence(confidence)
    y = as_float_array(effects, "effects")
    s = as_float_array(se, "se")
    ok = np.isfinite(y) & np.isfinite(s) & (s > 0)
    out = pd.DataFrame({"value": y, "se": s})
    cols = ["shrunk_value", "shrunk_se", "shrunk_lower", "shrunk_upper", "shrinkage", "pooled_value",
            "pooled_se", "tau2"]
    for c in cols:
        out[c] = np.nan
    out["confidence"] = confidence
    if ok.sum() < 2:
        return out
    o = pool(y[ok], s[ok], method=method, confidence=confidence).overall.iloc[0]
    mu, se_mu, tau2 = float(o["value"]), float(o["se"]), float(o["tau2"])
    b = s[ok] ** 2 / (s[ok] ** 2 + tau2)
    post = mu + (1 - b) * (y[ok] - mu)
    var = (1 - b) * s[ok] ** 2 + b ** 2 * se_mu ** 2
    z = stats.norm.ppf(0.5 + confidence / 2)
    out.loc[ok, "shrunk_value"] = post
    out.loc[ok, "shrunk_se"] = np.sqrt(var)
    out.loc[ok, "shrunk_lower"] = post - z * np.sqrt(var)
    out.loc[ok, "shrunk_upper"] = post + z * np.sqrt(var)
    out.loc[ok, "shrinkage"] = b
    out.loc[ok, ["pooled_value", "pooled_se", "tau2"]] = (mu, se_mu, tau2)
    return out


def shrink_effects(effects: pd.DataFrame, *, by: str = "indicator_id", method: str = "REML",
                   confidence: float = 0.95) -> pd.DataFrame:
    """:func:`shrink` applied per ``by`` group to an effects table: empirical-Bayes shrinkage of each
    cluster's effect toward its group's pooled effect (Efron & Morris 1975).

    Parameters
    ----------
    effects : pandas.DataFrame
        One row per cluster effect with ``value``, ``se``, the ``by`` column and optionally ``estimable``.
    by : str
        The column whose groups are pooled separately (default one pool per indicator).
    method : {"REML", "DL"}
        The random-effects estimator of tau² (``ce.impact.pool``).
    confidence : float
        Level of the shrunk intervals.

    Returns
    -------
    pandas.DataFrame
        ``effects`` with ``shrunk_value, shrunk_se, shrunk_lower, shrunk_upper, shrinkage, pooled_value,
        pooled_se, tau2`` added (missing where a row is not estimable).
    """
    missing = [c for c in (by, "value", "se") if c not in effects.columns]
    if missing:
        raise ArgumentError(f"effects lacks column(s) {missing}")
    out = effects.copy()
    new = ["shrunk_value", "shrunk_se", "shrunk_lower", "shrunk_upper", "shrinkage", "pooled_value",
           "pooled_se", "tau2"]
    for c in new:
        out[c] = np.nan
    use = out["estimable"].astype(bool) if "estimable" in out else pd.Series(True, index=out.index)
    for _, idx in out[use].groupby(by).groups.items():
        sh = shrink(out.loc[idx, "value"], out.loc[idx, "se"], method=method, confidence=confidence)
        out.loc[idx, new] = sh[new].to_numpy()
    return out


def bh_qvalues(p_values) -> np.ndarray:
    """Benjamini-Hochberg (1995) q-values (adjusted p-values); missing p-values stay missing.

    Parameters
    ----------
    p_values : array-like
        p-values in [0, 1].

    Returns
    -------
    ndarray
        q-values, same order; equal to statsmodels' ``multipletests(p, method="fdr_bh")[1]`` on the
        non-missing ones.
    """
    p = as_float_array(p_values, "p_values")
    ok = np.isfinite(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ArgumentError("p_values must lie between 0 and 1")
    q = np.full(p.shape, np.nan)
    m = int(ok.sum())
    if m == 0:
        return q
    pv = p[ok]
    order = np.argsort(pv, kind="mergesort")
    ranked = pv[order] * m / np.arange(1, m + 1)
    adj = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    out = np.empty(m)
    out[order] = adj
    q[ok] = out
    return q


def p_values(value, se, df=None) -> np.ndarray:
    """Two-sided p-values of ``value / se`` (Student's t with ``df``, normal when ``df`` is None)."""
    v = as_float_array(value, "value")
    s = as_float_array(se, "se")
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.abs(v / s)
    if df is None:
        return 2 * stats.norm.sf(t)
    return 2 * stats.t.sf(t, as_float_array(df, "df"))


def verdict(lower, upper, mde, better: str, fmt=None) -> np.ndarray:
    """Verdict words for intervals ``[lower, upper]`` of effects (see the module docstring).

    Parameters
    ----------
    lower, upper, mde : array-like or float
        Interval limits and the minimum detectable effect (for the "no change" wording).
    better : {"lower", "higher", "none"}
        The indicator's better direction; ``"none"`` gives "increased" / "decreased" without a judgement.
    fmt : callable, optional
        Formats the MDE for the wording (default: 3 significant digits).

    Returns
    -------
    ndarray of str
        "improved", "worsened", "increased", "decreased", "no change detected (this cluster could detect
        changes of about <MDE> or more)", or "" where the interval is missing.
    """
    check_choice(better, "better", BETTER)
    fmt = fmt or (lambda x: f"{x:.3g}")
    lo = np.atleast_1d(np.asarray(lower, float))
    hi = np.atleast_1d(np.asarray(upper, float))
    md = np.broadcast_to(np.atleast_1d(np.asarray(mde, float)), lo.shape)
    up_word, down_word = {"higher": ("improved", "worsened"), "lower": ("worsened", "improved"),
                          "none": ("increased", "decreased")}[better]
    out = np.empty(lo.shape, dtype=object)
    for i, (a, b, m) in enumerate(zip(lo, hi, md)):
        if not (np.isfinite(a) and np.isfinite(b)):
            out[i] = ""
        elif a > 0:
            out[i] = up_word
        elif b < 0:
            out[i] = down_word
        else:
            out[i] = NO_CHANGE.format(mde=fmt(abs(m)) if np.isfinite(m) else "unknown size")
    return out
