"""The analyse stage's impact tables, computed once nationally (the notebooks only slice them).

:func:`impact_tables` builds the practice x month panels once and returns tidy DataFrames keyed by
cluster / topic / indicator:

- ``national``: Callaway & Sant'Anna national ATT per indicator (:func:`national_effects`);
- ``national_event_study``: its dynamic aggregate by event time;
- ``cluster_effects`` and ``cluster_event_study``: :func:`cluster_effects`;
- ``pooled``: random-effects pooling (REML) of the estimable cluster effects per indicator (:func:`pool`);
- ``variation_change``: :func:`variation_change`;
- ``its`` (optional): per cluster and indicator, a segmented regression of the cluster's pooled series
  (Poisson with the denominator as offset for rates, binomial for proportions, quasi scale, two harmonics)
  with level and slope change.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import ArgumentError, ClusterEvalWarning
from .cluster import cluster_effects
from .its import its
from .national import national_effects
from .panel import build_panels, indicator_map, month_start
from .pool import pool
from .variation_change import variation_change


def _its_table(measures, practices, cluster_start: dict, kinds: dict, harmonics: int) -> pd.DataFrame:
    m = measures.merge(practices[["practice_id", "cluster_id"]], on="practice_id")
    m = m[m["cluster_id"].notna()]
    m["period"] = month_start(m["period"]).to_numpy()
    g = m.groupby(["indicator_id", "cluster_id", "period"], as_index=False)[["numerator", "denominator"]].sum()
    rows = []
    for (ind, cid), s in g.groupby(["indicator_id", "cluster_id"]):
        st = cluster_start.get((ind, cid))
        if st is None:
            continue
        s = s[s["denominator"] > 0].sort_values("period")
        p = pd.DatetimeIndex(s["period"])
        time = (p.year - p[0].year) * 12 + p.month - p[0].month + 1
        t0 = (st.year - p[0].year) * 12 + st.month - p[0].month + 1
        row = dict(cluster_id=cid, indicator_id=ind, start=st)
        if (time < t0).sum() < 6 or (time >= t0).sum() < 3:
            rows.append({**row, "estimable": False, "reason": "fewer than 6 months before or 3 after the start"})
            continue
        kind = kinds.get(ind, "proportion")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind == "rate":
                    r = its(s["numerator"], time, t0, offset=s["denominator"], family="poisson",
                            harmonics=harmonics, season=p.month)
                else:
                    r = its(s["numerator"], time, t0, trials=s["denominator"], family="binomial",
                            harmonics=harmonics, season=p.month)
        except (ArgumentError, np.linalg.LinAlgError, ValueError) as exc:
            rows.append({**row, "estimable": False, "reason": f"model failed: {exc}"})
            continue
        par = r.params.set_index("term")
        rows.append({**row, "family": r.family, "level_ratio": par.loc["level", "ratio"],
                     "level_lower": par.loc["level", "ratio_lower"], "level_upper": par.loc["level", "ratio_upper"],
                     "slope_ratio": par.loc["slope", "ratio"], "slope_lower": par.loc["slope", "ratio_lower"],
                     "slope_upper": par.loc["slope", "ratio_upper"], "scale": r.scale, "n_months": r.nobs,
                     "estimable": True, "reason": ""})
    return pd.DataFrame(rows)


def impact_tables(measures: pd.DataFrame, practices: pd.DataFrame, activities: pd.DataFrame, indicators, *,
                  before: int = 12, after: int = 12, lag: int = 0, control_group: str = "notyettreated",
                  weight: str | None = None, min_practices: int = 3, variation_statistic: str = "log_sd",
                  with_its: bool = False, harmonics: int = 2, only=None) -> dict[str, pd.DataFrame]:
    """All impact tables of one run (see the module docstring). Parameters as :func:`cluster_effects`."""
    panels = build_panels(measures, practices, activities, indicators, lag=lag, only=only)
    tables = (measures, practices, activities, indicators)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusterEvalWarning)
        nat = national_effects(*tables, lag=lag, control_group=control_group, weight=weight, panels=panels,
                               keep_results=False)
        per = cluster_effects(*tables, before=before, after=after, lag=lag, control_group=control_group,
                              weight=weight, min_practices=min_practices, panels=panels)
        var = variation_change(*tables, statistic=variation_statistic, before=before, after=after, lag=lag,
                               min_practices=min_practices, panels=panels)
    pooled = []
    for ind, e in per.effects[per.effects["estimable"]].groupby("indicator_id"):
        if len(e) < 2:
            continue
        o = pool(e["value"], e["se"], labels=e["cluster_id"]).overall.iloc[0].to_dict()
        pooled.append({"indicator_id": ind, "topic": e["topic"].iloc[0], **o})
    out = {"national": nat.effects, "national_event_study": nat.event_study, "cluster_effects": per.effects,
           "cluster_event_study": per.event_study, "pooled": pd.DataFrame(pooled), "variation_change": var}
    if with_its:
        imap = indicator_map(indicators)
        kinds = imap["kind"].to_dict()
        starts = {(ind, cid): st for ind, p in panels.items()
                  for cid, st in zip(p.cluster_start["cluster_id"], p.cluster_start["start"])}
        sel = measures[measures["indicator_id"].isin(list(panels))]
        out["its"] = _its_table(sel, practices, starts, kinds, harmonics)
    return out
