r"""Per-cluster effects: each cluster as its own treated group in a window around its start.

For cluster ``c`` starting in month ``s`` (its first meeting on the topic, plus ``lag``) and event time ``e``
(``-before .. after``), with base month ``b = s - 1`` (universal base period, so ``e = -1`` is 0 by
construction) and ``t = s + e``:

.. math:: \hat\theta_c(e) = \bar{\Delta}_{c}(t, b) - \bar{\Delta}_{C(t)}(t, b),
          \qquad \Delta_i(t, b) = Y_{it} - Y_{ib},

the Callaway & Sant'Anna (2021) 2x2 comparison of the cluster's practices with the comparison practices
``C(t)``: never treated on the topic, plus (``control_group="notyettreated"``) practices of clusters whose
start on the topic is after ``max(t, b)`` and differs from ``s``. Means are over practices observed in both
months, equally weighted or weighted by each practice's mean denominator (``weight="denominator"``).

Inference uses practice-level influence functions
:math:`\psi_i = w_i(\Delta_i - \bar\Delta_c)/\sum_c w - w_j(\Delta_j - \bar\Delta_C)/\sum_C w`, so
``se = sqrt(sum psi^2)``; the post-period average effect averages ``theta(e)`` over ``e = 0..after`` (its
influence function is the average of theirs); the pre-period placebo tests are (a) the average pre-period effect over
``e = -before .. -2`` with its interval and t-test (``pre_p_value``) and (b) the joint Wald statistic
:math:`W = \hat\theta_{pre}' \hat V^{-1} \hat\theta_{pre}` turned into Hotelling's F,
``F = W/q * (m - q)/(m - 1)`` on ``(q, m - q)`` df (``placebo_p_value``; q = rank of V, m = practices).
Minimum detectable effect at 80% power: ``MDE = (t_{1-alpha/2} + t_{0.80}) * se`` (df ``m - 1``).

Practice-level standard errors treat the cluster's practices as independent given the cluster: a shock
common to one cluster's practices is indistinguishable from its effect. ``benchmarks/recovery.py`` measures
what that does to coverage on the synthetic data.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..validation import check_choice, check_confidence
from .estimators import N_, EstimatorInput, EstimatorOutput, register_estimator
from .panel import IndicatorPanel, build_panels
from .results import _EffectsResults

MIN_PRACTICES = 3


class ClusterEffects(_EffectsResults):
    """Per-cluster effects, from :func:`cluster_effects` (each cluster a Callaway & Sant'Anna 2021 2x2 group).

    Attributes
    ----------
    effects : DataFrame
        One row per cluster and indicator (see :func:`cluster_effects`, Returns).
    event_study : DataFrame
        One row per cluster, indicator and event time.
    settings : dict
        The window, lag, comparison group, weights, minimum practices and confidence, shown in the summary.
    """

    title = "Per-cluster effects (each cluster against not-yet-treated and never-treated practices)"

    def for_cluster(self, cluster_id) -> tuple[pd.DataFrame, pd.DataFrame]:
        """One cluster's rows: (effects, event_study)."""
        return (self.effects[self.effects["cluster_id"] == cluster_id].reset_index(drop=True),
                self.event_study[self.event_study["cluster_id"] == cluster_id].reset_index(drop=True))

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Student-t intervals (practices - 1 df) of each effect at ``level``: ids, lower, upper, confidence."""
        (level,) = check_confidence(level)
        e = self.effects
        z = stats.t.ppf(0.5 + level / 2, np.maximum(e["n_practices"].to_numpy(float) - 1, 1))
        return pd.DataFrame({"cluster_id": e["cluster_id"], "indicator_id": e["indicator_id"],
                             "lower": e["value"] - z * e["se"], "upper": e["value"] + z * e["se"],
                             "confidence": level})


def not_estimable_reason(start_index: int, n_months: int, n_practices: int, min_practices: int) -> str:
    """Why a cluster's effect cannot be estimated ("" when it can): the per-cluster estimators' one rule."""
    if start_index < 1 or start_index >= n_months:
        return "start outside the data (no pre-period or no post-period)"
    if n_practices < min_practices:
        return f"fewer than {min_practices} practices with data ({n_practices})"
    return ""


def _one_cluster(p: IndicatorPanel, cid: str, s: int, ev: np.ndarray, w: np.ndarray, control_group: str,
                 small_sample: bool = True):
    """Event-time estimates and the practice x event-time influence matrix for one cluster."""
    n, nt = p.value.shape
    t = s + ev
    b = s - 1
    inside = (t >= 0) & (t < nt) & (b >= 0)
    tt = np.clip(t, 0, nt - 1)
    dy = p.value[:, tt] - p.value[:, [min(max(b, 0), nt - 1)]]
    dy[:, ~inside] = np.nan
    obs = np.isfinite(dy)
    treated = (p.cluster_ids == cid)[:, None] & obs
    g = p.start_index
    if control_group == "nevertreated":
        ctrl = np.isinf(g)[:, None] & obs
    else:
        later = np.maximum(t, b)[None, :]
        ctrl = (np.isinf(g)[:, None] | ((g[:, None] > later) & (g[:, None] != s))) & obs
        ctrl &= ~(p.cluster_ids == cid)[:, None]
    wt = np.where(treated, w[:, None], 0.0)
    wc = np.where(ctrl, w[:, None], 0.0)
    swt, swc = wt.sum(0), wc.sum(0)
    d0 = np.where(obs, dy, 0.0)
    nt_, nc_ = treated.sum(0), ctrl.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mt = (wt * d0).sum(0) / swt
        mc = (wc * d0).sum(0) / swc
        # small-sample (n / (n - 1)) correction of each group's variance, as a two-sample t-test
        ct = np.sqrt(nt_ / np.maximum(nt_ - 1, 1)) if small_sample else 1.0
        cc = np.sqrt(nc_ / np.maximum(nc_ - 1, 1)) if small_sample else 1.0
        inf = ct * wt * (d0 - mt) / swt - cc * wc * (d0 - mc) / swc
    att = mt - mc
    ok = (swt > 0) & (swc > 0)
    att[~ok] = np.nan
    inf[:, ~ok] = 0.0
    ref = ev == -1
    att[ref & inside] = 0.0
    inf[:, ref] = 0.0
    return att, np.nan_to_num(inf), nt_, nc_


def cluster_effects(measures: pd.DataFrame, practices: pd.DataFrame, activities: pd.DataFrame, indicators, *,
                    before: int = 12, after: int = 12, lag: int = 0, control_group: str = "notyettreated",
                    weight: str | None = None, min_practices: int = MIN_PRACTICES, confidence: float = 0.95,
                    power: float = 0.80, small_sample: bool = True, only=None,
                    panels: dict | None = None) -> ClusterEffects:
    """Effect of each cluster's topic work on its practices' indicators (see the module docstring).

    Parameters
    ----------
    measures, practices, activities : DataFrame
        Contract tables (measures: indicator_id, practice_id, period, numerator, denominator; practices:
        practice_id, cluster_id; activities: cluster_id, topic, start).
    indicators
        Indicator -> topic (and multiplier) mapping (see :func:`cluster_eval.impact.panel.indicator_map`).
    before, after : int
        Months before and after the start in the window (event times ``-before .. after``).
    lag : int
        Months between the first meeting and the first exposed month.
    control_group : {"notyettreated", "nevertreated"}
    weight : {None, "denominator"}
        Equal practice weights, or each practice's mean denominator.
    min_practices : int
        Clusters with fewer practices observed get ``estimable = False`` and no numbers.
    confidence, power : float
    small_sample : bool
        True (default): ``m/(m-1)`` variance correction and Student's t with ``n_practices - 1`` df.
        False: did's plain influence-function SEs and normal quantiles.
    only : iterable of indicator ids, optional
    panels : dict, optional
        Prebuilt :func:`build_panels` output (to share the work with other analyses).

    Returns
    -------
    ClusterEffects
        ``effects``: cluster_id, topic, indicator_id, start, n_practices, n_control, value (post average),
        se, lower, upper, pre_value, pre_se, pre_lower, pre_upper, placebo_statistic, placebo_df,
        placebo_p_value, mde, estimable, reason, confidence, method.
        ``event_study``: cluster_id, indicator_id, event_time, value, se, lower, upper, n_treated, n_control.
    """
    check_choice(control_group, "control_group", ("notyettreated", "nevertreated"))
    check_choice(weight, "weight", (None, "denominator"))
    (confidence,) = check_confidence(confidence)
    (power,) = check_confidence(power)
    if panels is None:
        panels = build_panels(measures, practices, activities, indicators, lag=lag, only=only)
    ev = np.arange(-int(before), int(after) + 1)
    pre_sel = ev <= -2
    post_sel = ev >= 0
    eff_rows, es_parts = [], []
    for ind, p in panels.items():
        if weight == "denominator":
            with np.errstate(invalid="ignore"):
                w = np.nanmean(np.where(p.denominator > 0, p.denominator, np.nan), axis=1)
            w = np.nan_to_num(w)
        else:
            w = np.ones(len(p.practice_ids))
        has_data = np.isfinite(p.value).any(axis=1)
        for cid, sidx, start in zip(p.cluster_start["cluster_id"], p.cluster_start["start_index"],
                                    p.cluster_start["start"]):
            s = int(sidx)
            n_pr = int((has_data & (p.cluster_ids == cid)).sum())
            row = dict(cluster_id=cid, topic=p.topic, indicator_id=ind, start=start, n_practices=n_pr)
            reason = not_estimable_reason(s, p.value.shape[1], n_pr, min_practices)
            if reason:
                eff_rows.append({**row, "n_control": 0, "estimable": False, "reason": reason})
                continue
            att, inf, n_t, n_c = _one_cluster(p, cid, s, ev, w, control_group, small_sample)
            dof = max(n_pr - 1, 1) if small_sample else np.inf
            z = stats.t.ppf(0.5 + confidence / 2, dof)
            k_mde = z + stats.t.ppf(power, dof)
            se = np.sqrt((inf ** 2).sum(0))
            se[np.isnan(att)] = np.nan
            se[ev == -1] = np.nan
            es = pd.DataFrame({"cluster_id": cid, "indicator_id": ind, "event_time": ev, "value": att, "se": se,
                               "lower": att - z * se, "upper": att + z * se, "n_treated": n_t, "n_control": n_c})
            es_parts.append(es)
            post = post_sel & np.isfinite(att)
            pre = pre_sel & np.isfinite(att)
            if not post.any() or (n_c[post] == 0).all():
                eff_rows.append({**row, "n_control": int(n_c[post].max()) if post.any() else 0,
                                 "estimable": False, "reason": "no post-period month with comparison practices"})
                continue
            f_post = inf[:, post].mean(1)
            v_post = float(att[post].mean())
            se_post = float(np.sqrt((f_post ** 2).sum()))
            out = {**row, "n_control": int(np.median(n_c[post])), "value": v_post, "se": se_post,
                   "lower": v_post - z * se_post, "upper": v_post + z * se_post, "mde": k_mde * se_post,
                   "n_post": int(post.sum()), "n_pre": int(pre.sum()), "estimable": True, "reason": ""}
            if pre.any():
                f_pre = inf[:, pre].mean(1)
                v_pre = float(att[pre].mean())
                se_pre = float(np.sqrt((f_pre ** 2).sum()))
                cov = inf[:, pre].T @ inf[:, pre]
                b = att[pre]
                wald = float(b @ np.linalg.pinv(cov) @ b)
                q = int(np.linalg.matrix_rank(cov))
                # Hotelling's T^2 -> F with (q, m - q) df, m = the cluster's practices (few, so not chi-square)
                df2 = n_pr - q
                f_stat = wald / q * df2 / (n_pr - 1) if q > 0 and df2 > 0 else np.nan
                out.update(pre_value=v_pre, pre_se=se_pre, pre_lower=v_pre - z * se_pre,
                           pre_upper=v_pre + z * se_pre,
                           pre_p_value=float(2 * stats.t.sf(abs(v_pre / se_pre), dof)) if se_pre > 0 else np.nan,
                           placebo_statistic=f_stat, placebo_df=q, placebo_df2=df2 if df2 > 0 else np.nan,
                           placebo_p_value=float(stats.f.sf(f_stat, q, df2)) if np.isfinite(f_stat) else np.nan)
            eff_rows.append(out)
    cols = ["cluster_id", "topic", "indicator_id", "start", "n_practices", "n_control", "n_pre", "n_post", "value",
            "se", "lower", "upper", "pre_value", "pre_se", "pre_lower", "pre_upper", "pre_p_value",
            "placebo_statistic", "placebo_df", "placebo_df2", "placebo_p_value", "mde", "estimable", "reason"]
    effects = pd.DataFrame(eff_rows).reindex(columns=cols)
    effects["estimable"] = effects["estimable"].astype(bool)
    effects["confidence"] = confidence
    effects["method"] = f"cs-2x2-{control_group}" + ("-denominator-weighted" if weight else "")
    es_cols = ["cluster_id", "indicator_id", "event_time", "value", "se", "lower", "upper", "n_treated",
               "n_control"]
    event_study = pd.concat(es_parts, ignore_index=True) if es_parts else pd.DataFrame(columns=es_cols)
    settings = {"window": f"{-before} .. {after} months", "lag": lag, "comparison": control_group,
                "weights": weight or "equal", "minimum practices": min_practices, "confidence": confidence}
    return ClusterEffects(effects, event_study, settings)


@register_estimator(
    "cs-2x2-base-month",
    label=N_("Callaway & Sant'Anna 2x2 per cluster against the month before the start"),
    methods=N_(
        "- **What an effect is.** For each indicator and each month since the start, the cluster's practices' "
        "average change from the month before the start minus the average change of practices in clusters "
        "{comparison} on the topic over the same months (a difference in differences, one group at a time as in "
        "Callaway & Sant'Anna 2021); the effect is its average over the {post} months from the start, the placebo "
        "its average over the {pre} months before. The start is the month of the first meeting on the topic plus a "
        "lag of {lag} months.\n"
        "- **Intervals** are {confidence_pct}% confidence intervals with practices as independent units "
        "(Student's t, practices − 1 degrees of freedom). The minimum detectable effect is (t₁₋α/₂ + t₀.₈) × "
        "standard error."))
def cs_2x2_base_month(data: EstimatorInput) -> EstimatorOutput:
    """:func:`cluster_effects` in the estimator schema of :mod:`cluster_eval.impact.estimators`."""
    res = cluster_effects(None, None, None, None, before=data.before, after=data.after, lag=data.lag,
                          control_group=data.control_group, weight=data.weight, min_practices=data.min_practices,
                          confidence=data.confidence, panels=data.panels)
    e = res.effects
    eff = e.rename(columns={"value": "estimate", "pre_value": "placebo", "pre_se": "placebo_se",
                            "pre_lower": "placebo_lower", "pre_upper": "placebo_upper", "n_pre": "pre_months",
                            "n_post": "post_months"})
    eff["df"] = np.maximum(e["n_practices"].to_numpy(float) - 1, 1)
    eff["reason"] = eff["reason"].fillna("")
    es = res.event_study.rename(columns={"value": "estimate"})
    return EstimatorOutput(effects=eff, event_study=es)
