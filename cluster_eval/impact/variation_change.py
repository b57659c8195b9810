r"""Did the between-practice variation inside a cluster shrink after its start?

For every cluster ``k`` and month ``t`` the between-practice spread of the practice values is computed once:
``"log_cv"`` (log of SD / mean, default: a level that falls shrinks the SD mechanically, not the CV),
``"log_sd"`` (log of the between-practice standard deviation) or ``"sd"``.
For a treated cluster ``c`` starting in month ``s``, with pre window ``s - before .. s - 1`` and
post window ``s .. s + after``:

.. math:: \hat\delta_c = (\bar S_{c,post} - \bar S_{c,pre}) - \frac{1}{|K|}\sum_{k \in K}(\bar S_{k,post} - \bar S_{k,pre}),

with ``K`` the comparison clusters: clusters that have not started on the topic by the end of the window
(not yet treated, or never). One treated cluster is one draw, so the interval treats ``delta_c`` like a new
observation from the comparison clusters' distribution of changes:
``se = sd_K(changes) * sqrt(1 + 1/|K|)``, Student's t with ``|K| - 1`` df. On the log scales,
``exp(delta)`` is the ratio of the spread after to before, relative to the comparison clusters
(``ratio < 1``: variation shrank).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..validation import check_choice, check_confidence
from .panel import build_panels

STATISTICS = ("log_sd", "log_cv", "sd")


def _spread(value: np.ndarray, groups: np.ndarray, n_groups: int, statistic: str, min_practices: int):
    """Cluster x period matrix of the spread statistic (NaN with fewer than ``min_practices`` values)."""
    ok = np.isfinite(value)
    v = np.where(ok, value, 0.0)
    cnt = np.zeros((n_groups, value.shape[1]))
    s1 = np.zeros_like(cnt)
    s2 = np.zeros_like(cnt)
    np.add.at(cnt, groups, ok.astype(float))
    np.add.at(s1, groups, v)
    np.add.at(s2, groups, v ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / cnt
        var = (s2 - cnt * mean ** 2) / (cnt - 1)
        sd = np.sqrt(np.maximum(var, 0))
        out = {"sd": sd, "log_sd": np.log(sd), "log_cv": np.log(sd / np.abs(mean))}[statistic]
    out[cnt < min_practices] = np.nan
    out[~np.isfinite(out)] = np.nan
    return out


def variation_change(measures: pd.DataFrame, practices: pd.DataFrame, activities: pd.DataFrame, indicators, *,
                     statistic: str = "log_cv", before: int = 12, after: int = 12, lag: int = 0,
                     min_practices: int = 3, min_comparison: int = 3, confidence: float = 0.95, only=None,
                     panels: dict | None = None) -> pd.DataFrame:
    """Change in between-practice variation inside each treated cluster, against comparison clusters.

    Parameters
    ----------
    measures, practices, activities, indicators
        Contract tables and the indicator -> topic mapping, as :func:`cluster_effects`.
    statistic : {"log_sd", "log_cv", "sd"}
    before, after, lag : int
        Window (months) and lag, as :func:`cluster_effects`.
    min_practices : int
        Months of a cluster with fewer practices with a value are left out.
    min_comparison : int
        Fewest comparison clusters for an estimate.
    confidence : float

    Returns
    -------
    DataFrame
        One row per treated cluster and indicator: cluster_id, topic, indicator_id, start, statistic,
        pre, post, change, comparison_change, value (the difference in differences), se, lower, upper,
        ratio, ratio_lower, ratio_upper (log statistics only), n_comparison, estimable, reason,
        confidence, method.

    References
    ----------
    Conley TG, Taber CR (2011). Inference with "difference in differences" with a small number of policy
    changes. Review of Economics and Statistics 93(1): 113-125 (one treated unit judged against the
    distribution of the comparison units' changes).
    """
    check_choice(statistic, "statistic", STATISTICS)
    (confidence,) = check_confidence(confidence)
    if panels is None:
        panels = build_panels(measures, practices, activities, indicators, lag=lag, only=only)
    rows = []
    for ind, p in panels.items():
        in_cluster = np.array([c is not None for c in p.cluster_ids])
        codes, names = pd.factorize(pd.Series(p.cluster_ids[in_cluster], dtype=object))
        spread = _spread(p.value[in_cluster], codes, len(names), statistic, min_practices)
        nt = spread.shape[1]
        starts = pd.Series(p.cluster_start.set_index("cluster_id")["start_index"]).reindex(names).to_numpy(float)
        starts = np.where(np.isnan(starts), np.inf, starts)
        for cid, s, start in zip(p.cluster_start["cluster_id"], p.cluster_start["start_index"],
                                 p.cluster_start["start"]):
            s = int(s)
            row = dict(cluster_id=cid, topic=p.topic, indicator_id=ind, start=start, statistic=statistic)
            lo, hi = max(s - before, 0), min(s + after, nt - 1)
            if s < 1 or s >= nt or cid not in set(names):
                rows.append({**row, "estimable": False, "reason": "start outside the data or no practices"})
                continue
            k = int(np.flatnonzero(names == cid)[0])
            pre = np.nanmean(spread[:, lo:s], axis=1) if s > lo else np.full(len(names), np.nan)
            post = np.nanmean(spread[:, s:hi + 1], axis=1)
            change = post - pre
            comp = (starts > hi) & (np.arange(len(names)) != k) & np.isfinite(change)
            if not np.isfinite(change[k]):
                rows.append({**row, "estimable": False,
                             "reason": f"fewer than {min_practices} practices with values before or after"})
                continue
            if comp.sum() < min_comparison:
                rows.append({**row, "n_comparison": int(comp.sum()), "estimable": False,
                             "reason": f"fewer than {min_comparison} comparison clusters"})
                continue
            cc = change[comp]
            value = float(change[k] - cc.mean())
            se = float(np.std(cc, ddof=1) * np.sqrt(1 + 1 / len(cc)))
            tq = stats.t.ppf(0.5 + confidence / 2, len(cc) - 1)
            out = {**row, "pre": pre[k], "post": post[k], "change": change[k], "comparison_change": cc.mean(),
                   "value": value, "se": se, "lower": value - tq * se, "upper": value + tq * se,
                   "n_comparison": int(comp.sum()), "estimable": True, "reason": ""}
            if statistic != "sd":
                out.update(ratio=np.exp(value), ratio_lower=np.exp(value - tq * se),
                           ratio_upper=np.exp(value + tq * se))
            rows.append(out)
    cols = ["cluster_id", "topic", "indicator_id", "start", "statistic", "pre", "post", "change",
            "comparison_change", "value", "se", "lower", "upper", "ratio", "ratio_lower", "ratio_upper",
            "n_comparison", "estimable", "reason"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    out["estimable"] = out["estimable"].astype(bool)
    out["confidence"] = confidence
    out["method"] = f"did-{statistic}-vs-not-yet-treated-clusters"
    return out
