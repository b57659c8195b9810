r"""Inference from influence functions: analytic standard errors, cluster sums and the multiplier bootstrap.

The one home of these helpers; the estimators (:func:`cluster_eval.impact.att_gt` and its aggregates) call
them. For an ``n x k`` influence-function matrix ``IF`` (did's scaling) and clusters ``c``,

.. math:: \widehat{se}_j = \sqrt{\textstyle\sum_c S_{cj}^2} / n, \qquad S_{cj} = \sum_{i \in c} IF_{ij},

(by unit when there are no clusters). The multiplier bootstrap (R ``did``'s ``mboot``) perturbs the cluster
sums with Mammen (1993) weights; its standard errors come from the interquartile range of the draws and its
uniform critical value from the ``confidence`` quantile of the maximal absolute t-statistic.

References
----------
Mammen, E. (1993). Bootstrap and wild bootstrap for high dimensional linear models. Annals of Statistics
21(1), 255-285. Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
periods. Journal of Econometrics 225(2), 200-230.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

MAMMEN_LOW = (1 - np.sqrt(5)) / 2
MAMMEN_HIGH = (1 + np.sqrt(5)) / 2
MAMMEN_P_LOW = (np.sqrt(5) + 1) / (2 * np.sqrt(5))
_TINY = np.sqrt(np.finfo(float).eps) * 10


def normal_critical_value(confidence: float) -> float:
    """Two-sided standard normal quantile ``z_{(1 + confidence) / 2}``."""
    return float(stats.norm.ppf(0.5 + confidence / 2))


def student_critical_value(confidence: float, df):
    """Two-sided Student's t quantile ``t_{(1 + confidence) / 2, df}`` (normal for ``df = inf``)."""
    return stats.t.ppf(0.5 + confidence / 2, df)


def mammen_weights(size, rng: np.random.Generator) -> np.ndarray:
    """Mammen (1993) two-point multiplier weights: mean 0, variance 1, third moment 1."""
    return np.where(rng.random(size) < MAMMEN_P_LOW, MAMMEN_LOW, MAMMEN_HIGH)


def n_clusters(n: int, cluster=None) -> int:
    """Number of independent units the bootstrap draws weights for: units, or clusters."""
    return n if cluster is None else int(pd.Series(cluster).nunique())


def cluster_sums(inf: np.ndarray, cluster=None) -> np.ndarray:
    """Sums of the influence functions within each cluster (clusters x k); unchanged without clusters."""
    if cluster is None:
        return inf
    codes, uniq = pd.factorize(pd.Series(cluster))
    sums = np.zeros((len(uniq), inf.shape[1]))
    np.add.at(sums, codes, inf)
    return sums


def influence_se(inf: np.ndarray, n: int, cluster=None) -> np.ndarray:
    """Analytic standard errors from an n x k influence-function matrix: ``sqrt(sum_c S_c^2) / n``."""
    inf = inf[:, None] if inf.ndim == 1 else inf
    s = cluster_sums(inf, cluster)
    se = np.sqrt(np.einsum("ij,ij->j", s, s)) / n
    se[se <= _TINY] = np.nan
    return se


def multiplier_bootstrap(inf: np.ndarray, n: int, draws: np.ndarray, confidence: float, cluster=None):
    """did's ``mboot``: bootstrap SEs (IQR-based) and the uniform critical value (at least the normal one).

    ``draws`` is a biters x (units or clusters) matrix of Mammen weights.
    """
    bres = draws @ cluster_sums(inf, cluster) / np.sqrt(n)
    q75 = np.quantile(bres, 0.75, axis=0, method="inverted_cdf")
    q25 = np.quantile(bres, 0.25, axis=0, method="inverted_cdf")
    b_sigma = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    b_sigma[b_sigma <= _TINY] = np.nan
    ok = np.isfinite(b_sigma)
    z = normal_critical_value(confidence)
    if ok.any():
        bt = np.nanmax(np.abs(bres[:, ok] / b_sigma[ok]), axis=1)
        crit = float(np.quantile(bt, confidence, method="inverted_cdf"))
    else:
        crit = np.nan
    if not np.isfinite(crit) or crit < z:
        crit = z
    return b_sigma / np.sqrt(n), crit


def _by_cluster(a: np.ndarray, codes: np.ndarray, n_codes: int):
    """Per cluster and column: count of nonzero terms, their sum and their within-cluster sum of squares."""
    nz = (a != 0).astype(float)
    m, s, ss = (np.zeros((n_codes, a.shape[1])) for _ in range(3))
    np.add.at(m, codes, nz)
    np.add.at(s, codes, a)
    np.add.at(ss, codes, a * a)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(m > 0, np.maximum(ss - s * s / np.maximum(m, 1), 0.0), 0.0)
    return m, s, w


def treated_cluster_variance(treated: np.ndarray, control: np.ndarray, n: int, cluster,
                             weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    r"""Variance of a DiD aggregate with clustered comparison terms and a modelled treated side.

    The aggregate's influence function is split per unit into the terms where the unit is treated
    (``treated``), where it is a comparison unit (``control``) and, optionally, the estimated group weights'
    term (``weights``), each units x k. Without ``weights`` the variance is conditional on the groups (which
    clusters started when), as the estimand is the ATT of the clusters that did start. A group's treated terms are centred at its own mean, so when one cluster
    makes up a group (one cluster per start month) their cluster sum is exactly 0 and clustering drops the
    treated side's variance. Instead, for every cluster ``c`` with ``m_c`` units and within-cluster sum of
    squares ``W_c`` of its terms,

    .. math:: \hat V_T = \sum_c \frac{m_c}{m_c - 1} W^T_c \, (1 + m_c \hat\lambda), \qquad
              \hat\lambda = \max\Big(0, \frac{\sum_c (S^C_c{}^2 - \frac{m_c}{m_c-1} W^C_c)}
                                             {\sum_c \frac{m_c^2}{m_c-1} W^C_c}\Big),

    the practice-level variance of the treated side inflated by the ratio ``lambda = sigma_b^2 / sigma_w^2``
    of between- to within-cluster variance, estimated by moments from the comparison terms (sums ``S^C_c``)
    of clusters with at least 2 units: for terms ``b_c + e_i``, ``E[S_c^2] = m_c sigma_w^2 + m_c^2 sigma_b^2``
    and ``E[W_c] = (m_c - 1) sigma_w^2``. A single unit (``m_c = 1``) adds its squared term times
    ``1 + lambda``. The comparison terms (plus the weights' term when given) are clustered with the
    small-sample factor ``G / (G - 1)``:

    .. math:: se = \sqrt{\tfrac{G}{G-1}\sum_c (S^C_c + S^W_c)^2 + \hat V_T} \,/\, n.

    Returns
    -------
    se : ndarray (k,)
    lam : ndarray (k,)
        ``lambda`` per column.
    g : int
        Clusters ``G``.
    """
    t, c = (np.asarray(a, float).reshape(len(a), -1) for a in (treated, control))
    w = 0.0 if weights is None else np.asarray(weights, float).reshape(len(c), -1)
    codes, uniq = pd.factorize(pd.Series(cluster), use_na_sentinel=False)
    g = len(uniq)
    mc, sc, wc = _by_cluster(c, codes, g)
    ok = mc >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        num = np.where(ok, sc * sc - mc / (mc - 1) * wc, 0.0).sum(0)
        den = np.where(ok, mc * mc / (mc - 1) * wc, 0.0).sum(0)
        lam = np.where(den > 0, np.maximum(num / den, 0.0), 0.0)
    mt, st, wt = _by_cluster(t, codes, g)
    with np.errstate(invalid="ignore", divide="ignore"):
        vt = np.where(mt >= 2, mt / (mt - 1) * wt * (1 + mt * lam), 0.0)
    vt = vt.sum(0) + np.where(mt == 1, st * st, 0.0).sum(0) * (1 + lam)
    rest = cluster_sums(c + w, cluster)
    v = np.einsum("ij,ij->j", rest, rest) * (g / max(g - 1, 1)) + vt
    se = np.sqrt(v) / n
    se[se <= _TINY] = np.nan
    return se, lam, g
