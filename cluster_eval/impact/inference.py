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
