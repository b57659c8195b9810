"""The national analysis: Callaway & Sant'Anna ATTs of all clusters' topic work, one indicator at a time.

For each indicator, every practice is a unit, its group is the first exposed month of its cluster on the
indicator's topic (never treated when its cluster has no row for the topic or it is in no cluster), and
:func:`att_gt` estimates the group-time ATTs on the practice values with not-yet-treated comparison
practices (default); the ``simple`` (post-treatment average weighted by group size) and ``dynamic``
(event-study) aggregates are reported.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import SmallNumbersWarning
from ..validation import check_choice, check_confidence
from .did import att_gt
from .inference import normal_critical_value, student_critical_value, treated_cluster_variance
from .panel import build_panels
from .results import _EffectsResults


class NationalEffects(_EffectsResults):
    """National effects per indicator, from :func:`national_effects` (Callaway & Sant'Anna 2021).

    Attributes
    ----------
    effects : DataFrame
        One row per indicator (see :func:`national_effects`, Returns).
    event_study : DataFrame
        The dynamic aggregation per indicator and event time.
    results : dict of str to ATTgtResults
        Each indicator's group-time results (kept with ``keep_results=True``).
    settings : dict
        The comparison group, standard errors, lag and weights, shown in the summary.
    """

    title = "National effects of cluster topic work (Callaway & Sant'Anna 2021)"

    def __init__(self, effects, event_study, results, settings):
        super().__init__(effects, event_study, settings)
        self.results = results

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Normal intervals of each indicator's effect at ``level``: indicator_id, lower, upper, confidence."""
        (level,) = check_confidence(level)
        e = self.effects
        z = student_critical_value(level, e["df"].to_numpy(float)) if "df" in e else normal_critical_value(level)
        return pd.DataFrame({"indicator_id": e["indicator_id"], "lower": e["value"] - z * e["se"],
                             "upper": e["value"] + z * e["se"], "confidence": level})


def national_effects(measures: pd.DataFrame, practices: pd.DataFrame, activities: pd.DataFrame, indicators, *,
                     lag: int = 0, control_group: str = "notyettreated", weight: str | None = None,
                     min_e: float = -np.inf, max_e: float = np.inf, confidence: float = 0.95,
                     cluster_se: bool = True, treated_variance: str = "modelled", only=None,
                     panels: dict | None = None, keep_results: bool = True) -> NationalEffects:
    """National ATT of the clusters' topic work for each indicator (see the module docstring).

    Parameters
    ----------
    measures, practices, activities, indicators
        Contract tables and the indicator -> topic mapping (see :func:`cluster_effects`).
    lag : int
        Months from the first meeting to the first exposed month.
    control_group : {"notyettreated", "nevertreated"}
    weight : {None, "denominator"}
        Equal practice weights or each practice's mean denominator (as unit weights).
    min_e, max_e : float
        Event-time window of the aggregates (``simple`` keeps post cells with ``e <= max_e``).
    confidence : float
        Level of the intervals.
    cluster_se : bool
        True (default): standard errors by quality cluster (treatment is assigned by cluster; practices in
        no cluster are their own cluster), Student's t with G - 1 degrees of freedom, G the clusters.
        False: by practice, normal quantiles. benchmarks/README.md ("Recovery") reports the coverage of each.
    treated_variance : {"modelled", "clustered"}
        With ``cluster_se``: "modelled" (default) clusters the comparison terms of the influence function
        (CR1) and gives the treated terms their practice-level variance inflated by the between/within
        cluster variance ratio estimated from the comparison terms, conditional on the start months (no
        term for the estimated group weights)
        (:func:`~cluster_eval.impact.inference.treated_cluster_variance`; docs/methods.md, section 7);
        "clustered" clusters everything (CR1, Cameron & Miller 2015), which drops the treated side's
        variance when one cluster makes up a start group.
    keep_results : bool
        Keep each indicator's :class:`ATTgtResults` (large: an influence-function matrix) in ``results``.

    Returns
    -------
    NationalEffects
        ``effects``: indicator_id, topic, value (simple ATT), se, lower, upper, dynamic_value, dynamic_se,
        n_practices, n_groups, reason (why no estimate), confidence, method; ``event_study``: indicator_id, event_time, value, se,
        lower, upper.

    References
    ----------
    Callaway B, Sant'Anna PHC (2021). Difference-in-differences with multiple time periods. Journal of
    Econometrics 225(2): 200-230.
    """
    check_choice(control_group, "control_group", ("notyettreated", "nevertreated"))
    check_choice(weight, "weight", (None, "denominator"))
    check_choice(treated_variance, "treated_variance", ("modelled", "clustered"))
    (confidence,) = check_confidence(confidence)
    if panels is None:
        panels = build_panels(measures, practices, activities, indicators, lag=lag, only=only)
    rows, es, results = [], [], {}
    for ind, p in panels.items():
        nt = p.value.shape[1]
        if not ((p.start_index >= 1) & (p.start_index < nt)).any():
            rows.append(dict(indicator_id=ind, topic=p.topic, n_practices=len(p.practice_ids), n_groups=0,
                             reason="no cluster took up the topic within the data"))
            continue
        d = p.long()
        if cluster_se:
            d["se_cluster"] = d["cluster_id"].where(d["cluster_id"].notna(), "practice-" + d["unit"].astype(str))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmallNumbersWarning)
            res = att_gt(d, "value", "t", "unit", "g", control_group=control_group, confidence=confidence,
                         weights_name="weight" if weight == "denominator" else None, balanced_panel=False,
                         clustervars="se_cluster" if cluster_se else None)
            simple = res.aggregate("simple", max_e=max_e)
            dyn = res.aggregate("dynamic", min_e=min_e, max_e=max_e)
        if cluster_se:
            g = int(pd.Series(res.cluster).nunique())
            factor, df = np.sqrt(g / max(g - 1, 1)), float(max(g - 1, 1))
        else:
            g, factor, df = len(p.practice_ids), 1.0, np.inf
        q = student_critical_value(confidence, df)
        se, dse = simple.se * factor, dyn.se * factor
        es_se = dyn.table["se"].to_numpy(float) * factor
        if cluster_se and treated_variance == "modelled":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SmallNumbersWarning)
                se, dse, es_se = _modelled_se(res, simple, dyn)
        rows.append(dict(indicator_id=ind, topic=p.topic, value=simple.value, se=se, lower=simple.value - q * se,
                         upper=simple.value + q * se, dynamic_value=dyn.value, dynamic_se=dse, df=df,
                         n_practices=res.n, n_groups=len(res.meta["glist"]), n_clusters=g, reason=""))
        t = dyn.table.assign(indicator_id=ind)
        t["se"] = es_se
        t["lower"], t["upper"] = t["value"] - q * t["se"], t["value"] + q * t["se"]
        es.append(t)
        if keep_results:
            results[ind] = res
    effects = pd.DataFrame(rows).reindex(columns=["indicator_id", "topic", "value", "se", "lower", "upper",
                                                  "dynamic_value", "dynamic_se", "df", "n_practices", "n_groups",
                                                  "n_clusters", "reason"])
    effects["confidence"] = confidence
    effects["method"] = f"callaway-santanna-{control_group}"
    event_study = pd.concat(es, ignore_index=True) if es else pd.DataFrame()
    settings = {"comparison": control_group,
                "standard errors": ("by practice" if not cluster_se else
                                    "by cluster (comparison terms CR1, treated terms modelled; t with clusters "
                                    "- 1 df)" if treated_variance == "modelled" else
                                    "by cluster (CR1, t with clusters - 1 df)"),
                "lag": lag, "weights": weight or "equal",
                "indicators": len(effects)}
    return NationalEffects(effects, event_study, results, settings)


def treated_and_comparison_terms(res, cell_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's influence-function terms on aggregates of ``res`` where it is treated, and where it is not.

    ``cell_weights`` (cells x aggregates, e.g. ``AggregateResults.cell_weights``) gives each aggregate's
    weights on the group-time cells. Returns (treated, comparison), units x aggregates: the terms of the cells
    of the unit's own group, and of all other cells (where it is a comparison unit); the estimated weights'
    term is in neither. Computed group by group, without copying ``res.inf``.
    """
    w = np.asarray(cell_weights, float).reshape(res.inf.shape[1], -1)
    total = np.asarray(res.inf @ sparse.csc_matrix(w))      # each cell is in few aggregates: sparse weights
    treated = np.zeros_like(total)
    cell_group = res.table["group"].to_numpy(float)
    for g in np.unique(cell_group):
        units = np.flatnonzero(res.unit_group == g)
        cells = np.flatnonzero(cell_group == g)
        if len(units) and len(cells):
            treated[units] = res.inf[np.ix_(units, cells)] @ w[cells]
    return treated, total - treated


def _modelled_se(res, simple, dyn):
    """SEs of the simple aggregate, the dynamic aggregate and its event times with the treated side modelled.

    Splits the aggregates' influence functions into each unit's treated terms (cells of its own group) and
    comparison terms (:func:`treated_and_comparison_terms`; without the group weights' term: the variance is
    conditional on which clusters started when) and calls
    :func:`~cluster_eval.impact.inference.treated_cluster_variance`.
    """
    w = np.column_stack([simple.cell_weights, dyn.cell_weights, dyn.component_cell_weights])
    t, c = treated_and_comparison_terms(res, w)
    se, _, _ = treated_cluster_variance(t, c, res.n, res.cluster)
    return float(se[0]), float(se[1]), se[2:]
