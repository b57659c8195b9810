r"""Per-cluster effects against a pre-period mean, with a cluster-level variance component from placebos.

For cluster ``c`` starting in month ``s`` (its first meeting on the topic, plus ``lag``), with pre window
``P = s - pre .. s - 1`` and post window ``Q = s .. s + after`` (both cut to the data), every practice ``i``
gets the change of its post mean over its pre mean,

.. math:: D_i = \bar Y_{i,Q} - \bar Y_{i,P},

and the cluster's effect is the difference between its practices and the comparison practices ``C_s``
(never treated on the topic, or first exposed after ``s + after``; not in ``c``), equally weighted or
weighted by each practice's mean denominator:

.. math:: \hat\theta_c = \bar D_c - \bar D_{C_s}.

**Weighted base** (``pre="weighted"``). The pre mean becomes ``sum_b lambda_b mean_{t in B_b} Y_it`` over
the blocks ``BASE_BLOCKS`` of months before the start, with ``lambda >= 0``, ``sum lambda = 1`` minimising
the mean square of the placebo estimates (below) of that base, per indicator and window shape: the time
weights of synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021).

**Variance.** ``v_c = \hat V(\bar D_c) + \hat V(\bar D_{C_s})`` is the practice-level part (each group's
weighted variance of the mean with the ``m/(m-1)`` correction). Shocks shared by a cluster's practices
(and by a region's) are invisible to it, so a cluster-level component ``sigma^2`` is added, estimated
*across clusters* from placebo estimates: the same estimator applied to every cluster at pseudo-starts
``s'`` (every ``placebo_stride`` months) whose whole window ``s' - pre .. s' + after`` lies before that
cluster's real start (so no effect can be in it), against practices not yet treated by ``s' + after``:

.. math:: \hat\sigma^2 = \max\Big(0, \frac1J \sum_{j=1}^J (\hat\theta_j^2 - v_j)\Big),
          \qquad se_c = \sqrt{v_c + \hat\sigma^2},

with ``J`` placebo estimates of the same window shape (pre and post lengths). Under no effect
``E[\hat\theta_j^2] = v_j + \sigma^2`` whatever the cluster's size, so ``\hat\sigma^2`` is unbiased for the
variance a shared shock adds to one cluster's estimate; it needs many clusters, not many treated ones, and
so stays valid with ONE treated cluster (docs/methods.md argues the choice against the placebo
distribution of Conley & Taber 2011 / Ferman & Pinto 2019 and the wild cluster bootstrap). Intervals
use Student's t with Welch-Satterthwaite degrees of freedom

.. math:: df = \frac{(v_T + v_C + \hat\sigma^2)^2}{v_T^2/(m_T - 1) + v_C^2/(m_C - 1) + \hat\sigma^4/(K - 1)},

``m_T``, ``m_C`` the practices of each group and ``K`` the clusters behind the placebos.

**Placebo (pre-trend) test.** The same difference for the contrast "second half of the pre window minus
its first half", ``t = \hat\theta^{pre} / \sqrt{v^{pre} + \hat\sigma^2_{pre}}`` with its own placebo
variance component, two-sided p-value from Student's t (df as above). It is defined for every cluster
with at least 2 practices and, by construction of ``\hat\sigma^2_{pre}``, has the nominal size where
parallel trends hold.

**Dip check.** The same difference for the contrast "mean of the last ``DIP_MONTHS`` (6) months before the
start minus the mean of the earlier months of the pre window", with its own placebo variance component and
Student's t: p < 0.05 flags a cluster whose months just before the start were unusual against its own past
and the comparison practices' (an Ashenfelter dip: a bad spell that prompted the uptake, after which part of
the "effect" is a return to normal). Defined where the pre window has at least 12 months. Its size is
nominal by the same construction as the placebo test's.

**MDE.** ``MDE = (t_{1-\alpha/2, df} + t_{power, df}) \cdot se_c`` (two-sided test at level alpha,
power ``power``), from the same se.

**Event study.** ``\hat\theta_c(e)`` for ``e = -pre .. after``: the same difference for
``Y_{i,s+e} - \bar Y_{i,P}``, each with its own placebo component ``\hat\sigma^2(e)``.

References: Callaway & Sant'Anna (2021) for the not-yet-treated comparison; Conley & Taber (2011),
Ferman & Pinto (2019) for inference with one treated group; MacKinnon & Webb (2018) on the wild cluster
bootstrap with few treated clusters; Satterthwaite (1946).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from ..validation import check_choice, check_confidence
from .cluster import ClusterEffects, not_estimable_reason
from .estimators import N_, EstimatorInput, EstimatorOutput, register_estimator
from .panel import build_panels
from .premean_base import (
    AUTO_PRE,
    _choose_pre,
    _describe_base,
    _fit_base_weights,
    _pre_for_start,
    simplex_weights,
)
from .premean_windows import (
    BASE_BLOCKS,
    N_CONTRASTS,
    _blocks_for,
    _group_differences,
    _Groups,
    _placebos,
    _sigma2,
    _window_contrasts,
    cluster_variance_component,
)

__all__ = ["AUTO_PRE", "BASE_BLOCKS", "MIN_PLACEBOS", "MIN_PRACTICES", "PremeanClusterEffects",
           "cluster_effects_premean", "cluster_variance_component", "premean_placebo", "simplex_weights"]

MIN_PRACTICES = 3
#: Fewest placebo estimates (of one window shape) for a cluster-level variance component.
MIN_PLACEBOS = 20


class PremeanClusterEffects(ClusterEffects):
    """Per-cluster effects against the pre-period mean; intervals use each row's Satterthwaite ``df``.

    Attributes
    ----------
    effects : pandas.DataFrame
        One row per cluster and indicator: the estimate, its practice and cluster-level variance, ``se``,
        ``df``, interval, MDE and the placebo test (docs/methods.md).
    event_study : pandas.DataFrame
        One row per cluster, indicator and event time.
    base_weights : pandas.DataFrame
        The block weights of a weighted base (``pre="weighted"``), see :func:`cluster_effects_premean`.
    """

    title = "Per-cluster effects (pre-period mean base; practice + cluster-level variance)"

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        (level,) = check_confidence(level)
        e = self.effects
        q = stats.t.ppf(0.5 + level / 2, e["df"].to_numpy(float))
        return pd.DataFrame({"cluster_id": e["cluster_id"], "indicator_id": e["indicator_id"],
                             "lower": e["value"] - q * e["se"], "upper": e["value"] + q * e["se"],
                             "confidence": level})



def cluster_effects_premean(measures: pd.DataFrame | None = None, practices: pd.DataFrame | None = None,
                            activities: pd.DataFrame | None = None, indicators=None, *, pre: int | str = 12,
                            after: int = 12, lag: int = 0, weight: str | None = None,
                            min_practices: int = MIN_PRACTICES, min_pre_months: int = 3,
                            placebo_stride: int = 3, min_placebos: int = MIN_PLACEBOS,
                            confidence: float = 0.95, power: float = 0.80, event_study: bool = True,
                            only=None, panels: dict | None = None) -> PremeanClusterEffects:
    """Effect of each cluster's topic work against its practices' pre-period mean (see the module docstring).

    Parameters
    ----------
    measures, practices, activities, indicators
        Contract tables and the indicator -> topic mapping, as :func:`cluster_effects` (not needed when
        ``panels`` is given).
    pre : int, "auto" or "weighted"
        Months in the pre window (the base is their mean). ``"auto"``: per indicator, the length among
        ``AUTO_PRE`` (12, 24, 36, 48) whose placebo estimates (before every cluster's start, on common
        pseudo-starts) have the smallest mean square; a start with fewer months before it gets the longest
        candidate that fits. ``"weighted"``: the base is a weighted mean of the 48 months before the start
        (36, 24 or 12 where fewer precede it) with non-negative weights summing to 1 on the blocks
        ``BASE_BLOCKS`` (months -1, -3..-2, -6..-4, -12..-7, -24..-13, -36..-25, -48..-37; a block's months
        share its weight), chosen per indicator and window shape to minimise the mean square of the placebo
        estimates (:func:`simplex_weights`; the time weights of synthetic DiD, Arkhangelsky et al. 2021);
        the cluster-level variance component is then estimated for those weights. The row's ``n_pre`` and
        ``base`` say what was used.
    after : int
        Post window: event times ``0 .. after``.
    lag : int
        Months between the first meeting and the first exposed month.
    weight : {None, "denominator"}
        Equal practice weights, or each practice's mean denominator.
    min_practices : int
        Clusters with fewer practices with data get ``estimable = False``.
    min_pre_months : int
        A practice needs this many months with a value in the pre window (fewer when the window is shorter).
    placebo_stride : int
        Months between pseudo-starts of the placebo estimates.
    min_placebos : int
        Fewest placebo estimates for a cluster-level variance component; with fewer the row says
        ``se_basis = "practice only"`` (and the interval ignores cluster-wide shocks).
    confidence, power : float
    event_study : bool
        Also estimate the event-time effects (False: only the post-period average and the placebo test,
        several times faster; ``event_study`` is then empty).
    only : iterable of indicator ids, optional
    panels : dict, optional
        Prebuilt :func:`build_panels` output.

    Returns
    -------
    ClusterEffects
        ``effects``: the columns of :func:`cluster_effects` (value, se, lower, upper, pre_* = the pre-trend
        placebo contrast, placebo_statistic = its t, placebo_df, placebo_p_value, mde, ...) plus
        se_practice, pre_se_practice (the practice-level parts of se and pre_se), dip_value, dip_se, dip_lower,
        dip_upper, dip_p_value (the dip check: last 6 months before the start minus the earlier pre months),
        var_cluster, df, n_placebos,
        se_basis, base (the base in words, with the block weights of ``"weighted"``). ``event_study``:
        cluster_id, indicator_id, event_time, value, se, lower, upper, n_treated, n_control.
        ``base_weights`` (attribute): with ``pre="weighted"`` one row per indicator, window shape and block:
        indicator_id, n_pre, n_post, first_month, last_month (months relative to the start), weight,
        n_placebos (the placebo estimates the weights were fitted on); empty otherwise.
    """
    check_choice(weight, "weight", (None, "denominator"))
    (confidence,) = check_confidence(confidence)
    (power,) = check_confidence(power)
    weighted = isinstance(pre, str) and pre == "weighted"
    auto = isinstance(pre, str) and pre == "auto"
    checks = (("after", after, 0), ("lag", lag, 0), ("placebo_stride", placebo_stride, 1),
              ("min_practices", min_practices, 2), ("min_pre_months", min_pre_months, 1))
    for name, v, lo in checks if auto or weighted else (("pre", pre, 2),) + checks:
        if isinstance(v, bool | str) or not float(v).is_integer() or v < lo:
            from ..errors import ArgumentError
            raise ArgumentError(f"{name} must be a whole number >= {lo}"
                                + (' or "auto" or "weighted"' if name == "pre" else "") + f"; got {v!r}")
    pre, after = (pre if auto or weighted else int(pre)), int(after)
    if panels is None:
        panels = build_panels(measures, practices, activities, indicators, lag=lag, only=only)
    eff_rows, es_parts, weight_rows = [], [], []
    for ind, p in panels.items():
        nt = p.value.shape[1]
        if weight == "denominator":
            with np.errstate(invalid="ignore"):
                w = np.nan_to_num(np.nanmean(np.where(p.denominator > 0, p.denominator, np.nan), axis=1))
        else:
            w = None                       # equal weights
        has_data = np.isfinite(p.value).any(axis=1)
        codes, names = pd.factorize(pd.Series(p.cluster_ids, dtype=object), use_na_sentinel=True)
        codes = np.where(has_data, codes, -1)
        groups = _Groups(codes, len(names))
        pos = {c: i for i, c in enumerate(names)}
        starts = dict(zip(p.cluster_start["cluster_id"], p.cluster_start["start_index"]))
        cluster_start_idx = np.array([starts.get(c, np.inf) for c in names], float)
        if weighted:
            pre_ind = BASE_BLOCKS[-1][1]
        elif auto:
            pre_ind = _choose_pre(p, w, groups, cluster_start_idx, after, min_pre_months, placebo_stride,
                                  min_practices, min_placebos)
        else:
            pre_ind = pre
        # --- real estimates, one start month at a time (all clusters of that month at once)
        real, base_w = {}, {}
        for s in sorted({int(v) for v in p.cluster_start["start_index"] if 1 <= v < nt}):
            pre_s = _pre_for_start(s, pre_ind, auto or weighted)
            bw = None
            if weighted:      # block weights per window shape, from that shape's placebos
                shape = (s - max(s - pre_s, 0), min(s + after, nt - 1) - s + 1)
                if shape not in base_w:
                    base_w[shape] = _fit_base_weights(p, w, groups, cluster_start_idx, shape, min_pre_months,
                                                      placebo_stride, min_practices, min_placebos)
                    weight_rows += [{"indicator_id": ind, "n_pre": shape[0], "n_post": shape[1],
                                     "first_month": -hi, "last_month": -lo, "weight": float(wb),
                                     "n_placebos": base_w[shape][1]}
                                    for (lo, hi), wb in zip(_blocks_for(shape[0]), base_w[shape][0])]
                bw = base_w[shape][0]
            x, shape, ev = _window_contrasts(p.value, s, pre_s, after, min_pre_months, event_study, bw)
            control = np.isinf(p.start_index) | (p.start_index > s + shape[1] - 1)
            real[s] = (shape, ev, *_group_differences(x, w, groups, control))
        # --- cluster-level variance components per window shape, from placebos (with the shape's base)
        comp = {}
        for shape in {r[0] for r in real.values()}:
            th, v, who = _placebos(p, w, groups, cluster_start_idx, shape, min_pre_months, placebo_stride,
                                   min_practices, event_study, base_w=base_w[shape][0] if weighted else None)
            s2, n_pl = _sigma2(th, v)
            comp[shape] = (s2, n_pl, len(np.unique(who)))
        for cid, sidx, start in zip(p.cluster_start["cluster_id"], p.cluster_start["start_index"],
                                    p.cluster_start["start"]):
            g = pos.get(cid)
            n_pr = int((codes == g).sum()) if g is not None else 0
            row = dict(cluster_id=cid, topic=p.topic, indicator_id=ind, start=start, n_practices=n_pr)
            reason = not_estimable_reason(int(sidx), nt, n_pr, min_practices)
            if reason:
                eff_rows.append({**row, "n_control": 0, "estimable": False, "reason": reason})
                continue
            shape, ev, val, vt, vc, mt, mc = real[int(sidx)]
            s2, n_pl, k_pl = comp[shape]
            val, vt, vc, mt, mc = val[g], vt[g], vc[g], mt[g], mc[g]
            if not (mt[0] >= min_practices and mc[0] >= 2 and np.isfinite(val[0])):
                eff_rows.append({**row, "n_control": int(mc[0]), "estimable": False,
                                 "reason": f"fewer than {min_practices} practices with pre- and post-period "
                                           "values, or fewer than 2 comparison practices"})
                continue
            enough = n_pl >= min_placebos
            s2u = np.where(enough & np.isfinite(s2), s2, 0.0)
            vt0, vc0 = np.nan_to_num(vt), np.nan_to_num(vc)
            var = vt0 + vc0 + s2u
            with np.errstate(invalid="ignore", divide="ignore"):
                den = (vt0 ** 2 / np.maximum(mt - 1, 1) + vc0 ** 2 / np.maximum(mc - 1, 1)
                       + np.where(enough, s2u ** 2 / max(k_pl - 1, 1), 0.0))
                df = np.where(den > 0, var ** 2 / den, np.inf)
            df = np.maximum(df, 1.0)
            se = np.sqrt(var)
            tq = special.stdtrit(df, 0.5 + confidence / 2)          # Student's t quantiles (ufunc: fast)
            if event_study:
                k = N_CONTRASTS
                es_parts.append(pd.DataFrame({
                    "cluster_id": cid, "indicator_id": ind, "event_time": ev, "value": val[k:], "se": se[k:],
                    "lower": val[k:] - tq[k:] * se[k:], "upper": val[k:] + tq[k:] * se[k:],
                    "n_treated": mt[k:].astype(int), "n_control": mc[k:].astype(int)}))
            v0, se0, df0, t0 = float(val[0]), float(se[0]), float(df[0]), float(tq[0])
            base_txt = (f"weighted mean of {shape[0]} months ({_describe_base(base_w[shape][0], shape[0])})"
                        if weighted else f"mean of {shape[0]} months")
            out = {**row, "n_control": int(mc[0]), "n_pre": shape[0], "n_post": shape[1], "base": base_txt,
                   "value": v0, "se": se0,
                   "lower": v0 - t0 * se0, "upper": v0 + t0 * se0,
                   "mde": (t0 + special.stdtrit(df0, power)) * se0, "se_practice": float(np.sqrt(vt0[0] + vc0[0])),
                   "var_cluster": float(s2[0]) if enough[0] else np.nan, "df": df0, "n_placebos": int(n_pl[0]),
                   "se_basis": "practice + cluster" if enough[0] else "practice only",
                   "estimable": True, "reason": ""}
            if np.isfinite(val[1]) and se[1] > 0:
                v1, se1, df1 = float(val[1]), float(se[1]), float(df[1])
                tstat = v1 / se1
                p1 = float(2 * special.stdtr(df1, -abs(tstat)))
                out.update(pre_value=v1, pre_se=se1, pre_lower=v1 - tq[1] * se1, pre_upper=v1 + tq[1] * se1,
                           pre_p_value=p1, placebo_statistic=tstat,
                           placebo_df=df1, placebo_df2=np.nan, pre_se_practice=float(np.sqrt(vt0[1] + vc0[1])),
                           placebo_p_value=p1)
            if np.isfinite(val[2]) and se[2] > 0:
                v2, se2 = float(val[2]), float(se[2])
                out.update(dip_value=v2, dip_se=se2, dip_lower=v2 - tq[2] * se2, dip_upper=v2 + tq[2] * se2,
                           dip_p_value=float(2 * special.stdtr(float(df[2]), -abs(v2 / se2))))
            eff_rows.append(out)
    cols = ["cluster_id", "topic", "indicator_id", "start", "n_practices", "n_control", "n_pre", "n_post", "base",
            "value",
            "se", "lower", "upper", "pre_value", "pre_se", "pre_lower", "pre_upper", "pre_p_value",
            "placebo_statistic", "placebo_df", "placebo_df2", "placebo_p_value", "mde", "se_practice",
            "pre_se_practice", "dip_value", "dip_se", "dip_lower", "dip_upper", "dip_p_value",
            "var_cluster", "df", "n_placebos", "se_basis", "estimable", "reason"]
    effects = pd.DataFrame(eff_rows).reindex(columns=cols)
    effects["estimable"] = effects["estimable"].astype(bool)
    effects["confidence"] = confidence
    effects["method"] = "premean-placebo-variance" + ("-denominator-weighted" if weight else "")
    es_cols = ["cluster_id", "indicator_id", "event_time", "value", "se", "lower", "upper", "n_treated",
               "n_control"]
    event_study = pd.concat(es_parts, ignore_index=True) if es_parts else pd.DataFrame(columns=es_cols)
    if weighted:
        base_set = ("weighted mean of the 48 months before the start (36, 24 or 12 where fewer precede it): "
                    "non-negative weights summing to 1 on the blocks of months -1, -3..-2, -6..-4, -12..-7, "
                    "-24..-13, -36..-25, -48..-37, per indicator and window shape the smallest placebo mean "
                    "square (synthetic DiD time weights)")
    elif auto:
        base_set = ("mean of the months before the start (12, 24, 36 or 48 per indicator: the smallest "
                    "placebo mean square)")
    else:
        base_set = f"mean of the {pre} months before the start"
    settings = {"base": base_set, "window": f"{pre if isinstance(pre, str) else -pre} .. {after} months",
                "lag": lag, "comparison": "not yet treated by the end of the window, or never",
                "weights": weight or "equal", "minimum practices": min_practices, "confidence": confidence,
                "inference": "practice-level variance + cluster-level component from placebo estimates"}
    res = PremeanClusterEffects(effects, event_study, settings)
    res.base_weights = pd.DataFrame(weight_rows, columns=["indicator_id", "n_pre", "n_post", "first_month",
                                                          "last_month", "weight", "n_placebos"])
    return res


@register_estimator(
    "premean-placebo",
    label=N_("Pre-period mean base; practice-level plus cluster-level variance from placebo estimates"),
    methods=N_(
        "- **What an effect is.** For each practice, its mean over the {post} months from the start minus its "
        "mean over the {base} months before the start (the base); the cluster's effect is the average of its practices' "
        "changes minus the average change of practices in clusters {comparison} on the topic throughout that "
        "window (Callaway & Sant'Anna 2021). The start is the month of the first meeting on the topic plus a "
        "lag of {lag} months.\n"
        "- **Intervals** are {confidence_pct}% confidence intervals whose variance adds to the practice-level "
        "variance of the two averages a cluster-level component: how much more than their practice-level "
        "variance the same estimates vary in placebo windows before each cluster's start, across all clusters "
        "(shocks a cluster's practices share; valid with one treated cluster; Conley & Taber 2011, Ferman & "
        "Pinto 2019). Student's t with Welch-Satterthwaite degrees of freedom. The minimum detectable effect is "
        "(t₁₋α/₂ + t₀.₈) × the same standard error.\n"
        "- **Placebo test.** The same difference for the second half of the pre-period minus its first half, "
        "with its own cluster-level component: p < 0.05 flags a cluster that was already moving before its "
        "start (a pre-existing trend, or a bad spell that prompted the uptake and inflates the effect).\n"
        "- **Dip check.** The same difference for the last 6 months before the start minus the earlier months of "
        "the pre-period, with its own cluster-level component: p < 0.05 flags a cluster whose months just before "
        "the start were unusual (a bad spell before the uptake: part of the change may be a return to normal).\n"
        "- **Many clusters.** Each effect is also shown shrunk toward the pooled effect of all clusters "
        "(empirical Bayes with the random-effects variance between clusters; Efron & Morris 1975), and the "
        "national overview gives false-discovery-rate q-values (Benjamini & Hochberg 1995). "
        "docs/methods.md states every formula."))
def premean_placebo(data: EstimatorInput) -> EstimatorOutput:
    """:func:`cluster_effects_premean` in the estimator schema of :mod:`cluster_eval.impact.estimators`."""
    base = max(int(data.before), 2) if data.base is None else data.base
    res = cluster_effects_premean(pre=base, after=data.after, lag=data.lag, weight=data.weight,
                                  min_practices=max(int(data.min_practices), 2), confidence=data.confidence,
                                  panels=data.panels)
    e = res.effects
    eff = e.rename(columns={"value": "estimate", "pre_value": "placebo", "pre_se": "placebo_se",
                            "pre_lower": "placebo_lower", "pre_upper": "placebo_upper", "dip_value": "dip", "n_pre": "pre_months",
                            "n_post": "post_months"})
    eff["reason"] = eff["reason"].fillna("")
    es = res.event_study.rename(columns={"value": "estimate"})
    es = es[es["event_time"] >= -int(data.before)]         # the run's window, whatever the base length
    return EstimatorOutput(effects=eff, event_study=es)
