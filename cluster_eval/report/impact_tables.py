"""Cluster-level impact tables of the analyse stage: funnels (with limits), per-cluster effects and event
studies, change in variation, pooling, the national staggered DiD and (synthetic data) the check against the truth.

A base of :class:`cluster_eval.report.analyse.Analysis` (no state of its own): the methods read its prepared
data (``ind``, ``activities``, ``periods``, ``matrices``, ``cfg``) and return tables; what is worth keeping
(tau², the impact panels) is an explicit cached property. The per-cluster effects come from the estimator
named by ``impact.estimator`` (:func:`cluster_eval.impact.get_estimator`), in its fixed schema.
Every statistic comes from the statistics packages (one implementation of each method): effects, event
studies, change in variation, national effects and pooling from :mod:`cluster_eval.impact`, funnel limits and
tau² from :mod:`cluster_eval.stats`. A failure there fails the analyse stage (and the run), with its message.
"""
from __future__ import annotations

import hashlib
import warnings
from functools import cached_property
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..impact import (
    EstimatorInput,
    bh_qvalues,
    get_estimator,
    its,
    national_effects,
    pool,
    shrink_effects,
    variation_change,
)
from ..impact.estimators import EFFECT_COLUMNS
from ..impact.multiplicity import p_values
from ..impact.multiplicity import verdict as impact_verdict
from ..impact.panel import build_panels, month_start


def _pseudonyms(ids: pd.Series) -> pd.Series:
    """Practice labels A, B, ... in a fixed random order within a cluster (not the practice code)."""
    order = sorted(ids, key=lambda s: hashlib.sha256(str(s).encode()).hexdigest())
    letters = [chr(65 + i % 26) + (str(i // 26) if i >= 26 else "") for i in range(len(order))]
    return ids.map(dict(zip(order, (f"Practice {x}" for x in letters))))


class ImpactInputs(NamedTuple):
    """What the ``ce.impact`` calls share: indicators, activities, comparison group, panels (built once)."""

    ind: pd.DataFrame
    act: pd.DataFrame
    comparison: str
    panels: dict


def _in_order(parts) -> pd.DataFrame:
    """Concatenate (order key per row, frame) parts and sort the rows by the key (stable: rows with one key keep
    their order)."""
    frame = pd.concat([f for _, f in parts], ignore_index=True)
    order = np.argsort(np.concatenate([np.asarray(k, dtype=np.int64) for k, _ in parts]), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


class ImpactTables:
    """Funnels, effects, event studies, variation change, pooling, national effects, truth check."""

    def _labels(self) -> np.ndarray:
        """What a practice is called in the reports: a pseudonym within its cluster, or its code."""
        cl = self.practices["cluster_id"].reindex(self.pids)
        if not self.cfg.params["report"]["pseudonymise"]:
            return self.pids.to_numpy(dtype=object)
        out = pd.Series(self.pids.to_numpy(dtype=object), index=self.pids)
        for _, ids in out.groupby(cl.fillna("").to_numpy()):
            out[ids.index] = _pseudonyms(ids).to_numpy()
        return out.to_numpy(dtype=object)

    def _windows(self, exposed_from: pd.Timestamp) -> tuple[slice, slice]:
        """The months (columns of :meth:`matrices`) before and from the first exposed month."""
        k0 = int(self.periods.searchsorted(exposed_from))
        pre, post = int(self.imp["pre"]), int(self.imp["post"])
        return slice(max(0, k0 - pre), k0), slice(k0, min(len(self.periods), k0 + post))

    def funnel_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every cluster's practices before and after its start, per indicator of the topic, against the nation.

        Returns (funnel points, limit curves to draw). Values, the nation's value and τ² come from the same
        months (the phase's window); standardised for age and sex where the data are banded (value = O/E x the
        nation's value, plotted against the expected count E), crude otherwise
        (:func:`cluster_eval.report.descriptive.practice_funnel`, ``ce.stats`` limits)."""
        from .descriptive import counts_by_indicator, funnel_curves, practice_funnel

        points = 40
        parts, curves = [], []
        labels = self._labels()
        ind = self.ind.set_index("indicator_id")
        counts = counts_by_indicator(ind.index)
        cl_arr = self.practices["cluster_id"].reindex(self.pids).fillna("").astype(str).to_numpy()
        act = self.activities.reset_index(drop=True)
        n_ind = len(ind.index)
        # the clusters that took a topic up in the same month share its windows, hence the nation's value and
        # τ² of each window: their practices go through one practice_funnel call (rows are computed practice by
        # practice) and are split by cluster afterwards; the rows are then put back in the order of one call per
        # cluster, indicator and phase (activities' order, the indicators' order, before/after)
        for (topic, exposed_from), grp in act.groupby(["topic", "exposed_from"], sort=False):
            pre, post = self._windows(exposed_from)
            pos = pd.Series(grp.index.to_numpy(), index=grp["cluster_id"].astype(str).to_numpy())
            treated = np.isin(cl_arr, pos.index.to_numpy())
            for iid in ind.index[ind["topic"] == topic]:
                num, den, _ = self.matrices(iid)
                expected = self.expected(iid)
                kind, mult = ind.loc[iid, "kind"], float(ind.loc[iid, "multiplier"])
                for ph, (phase, win) in enumerate((("before", pre), ("after", post))):
                    if win.stop <= win.start:
                        continue
                    f = practice_funnel(num, den, treated, win, kind=kind, better=ind.loc[iid, "better"],
                                        counts=counts[iid], multiplier=mult, expected=expected,
                                        tau2=self.window_tau2(iid, win))
                    if not len(f):
                        continue
                    rows = f["row"].to_numpy()
                    cid = cl_arr[rows]
                    order = (pos.reindex(cid).to_numpy() * n_ind + ind.index.get_loc(iid)) * 2 + ph
                    keys = {"cluster_id": cid, "topic": topic, "indicator_id": iid, "phase": phase}
                    parts.append((order, f.assign(practice=labels[rows], **keys, window_start=self.periods[win.start],
                                                  window_end=self.periods[win.stop - 1])))
                    target = float(f["target"].iloc[0])
                    if np.isfinite(target) and target > 0:
                        tops = f.groupby(cid, sort=False)["size"].max()
                        tau2 = float(f["tau2"].iloc[0])
                        c = funnel_curves(target, tops.to_numpy(float) * 1.15, kind=kind,
                                          standardised=expected is not None, tau2=tau2, multiplier=mult,
                                          points=points)
                        ccid = np.repeat(tops.index.to_numpy(dtype=object), points)
                        corder = (pos.reindex(ccid).to_numpy() * n_ind + ind.index.get_loc(iid)) * 2 + ph
                        curves.append((corder, c.assign(cluster_id=ccid, topic=topic, indicator_id=iid, phase=phase,
                                                        target=target, tau2=tau2,
                                                        standardised=expected is not None)))
        cols = ["practice", "numerator", "denominator", "expected", "cluster_id", "topic", "indicator_id", "phase",
                "target", "tau2", "window_start", "window_end", "value", "position", "standing", "standing_95",
                "standardised", "measure"]
        fun = _in_order(parts)[cols] if parts else pd.DataFrame(columns=cols)
        lim_cols = ["cluster_id", "topic", "indicator_id", "phase", "target", "tau2", "standardised", "size",
                    "lower95", "upper95", "lower998", "upper998"]
        lim = _in_order(curves)[lim_cols] if curves else pd.DataFrame(columns=lim_cols)
        return fun, lim

    def window_tau2(self, indicator_id: str, window: slice) -> float:
        """Between-practice variance beyond chance (Spiegelhalter 2005, additive, transformed scale) of all
        practices of the nation over the months of ``window`` (the funnel's own months), from ``ce.stats.funnel``
        (:func:`cluster_eval.report.descriptive.practice_tau2`): of O/E where the indicator is banded, else of
        the crude value; 0 when there is no spread to estimate it from."""
        from .descriptive import practice_tau2

        cache = self.__dict__.setdefault("_window_tau2", {})
        key = (indicator_id, window.start, window.stop)
        if key not in cache:
            cache[key] = practice_tau2(self, indicator_id, window)
        return cache[key]

    @cached_property
    def impact_inputs(self) -> ImpactInputs:
        """The indicators, activities, comparison group and panels shared by the ``ce.impact`` calls."""
        ind = self.ind[["indicator_id", "topic", "multiplier"]]
        act = self.ds.activities
        act = act[act["cluster_id"].isin(self.activities["cluster_id"]) & act["topic"].isin(self.ind["topic"])]
        panels = build_panels(self.measures, self.ds.practices, act, ind, lag=int(self.imp["lag"]))
        comp = "notyettreated" if self.imp["comparison"] == "not_yet_treated" else "nevertreated"
        return ImpactInputs(ind, act, comp, panels)

    @property
    def estimator(self):
        """The registered per-cluster estimator that ``impact.estimator`` names."""
        return get_estimator(self.imp["estimator"])

    def effect_tables(self):
        """Effects and event studies of every cluster (the registered estimator ``impact.estimator``, see
        :mod:`cluster_eval.impact.estimators`) and change in variation (``ce.impact.variation_change``)."""
        ind, act, comp, panels = self.impact_inputs
        before, after, lag = int(self.imp["pre"]), int(self.imp["post"]), int(self.imp["lag"])
        est = self.estimator
        res = est(EstimatorInput(panels=panels, before=before, after=after, lag=lag, control_group=comp,
                                 min_practices=int(self.imp["min_practices"]), confidence=self.conf,
                                 base=self.imp.get("base")))
        e = res.effects
        topic_of = self.ind.set_index("indicator_id")["topic"]
        topic = e["indicator_id"].map(topic_of)
        exposed = self.activities.set_index(["cluster_id", "topic"])["exposed_from"]
        starts = self.activities.set_index(["cluster_id", "topic"])["start"]
        key = list(zip(e["cluster_id"], topic))
        reason = e["reason"].astype(object).where(e["reason"].notna() & (e["reason"] != ""), "not estimable")
        eff = pd.DataFrame({
            "cluster_id": e["cluster_id"], "topic": topic, "indicator_id": e["indicator_id"],
            "start": [starts.get(k) for k in key], "exposed_from": [exposed.get(k) for k in key],
            "status": np.where(e["estimable"], "estimated", reason),
            "estimate": e["estimate"], "se": e["se"], "lower": e["lower"], "upper": e["upper"],
            "confidence": e["confidence"], "df": e["df"], "mde": e["mde"], "n_treated": e["n_practices"],
            "n_control": e["n_control"], "placebo": e["placebo"], "placebo_lower": e["placebo_lower"],
            "placebo_upper": e["placebo_upper"], "placebo_p_value": e["placebo_p_value"],
            "pre_months": e["pre_months"], "post_months": e["post_months"],
            "estimator": est.name,
            "method": est.label + (" (" + e["method"].astype(str) + ")" if "method" in e else "")})
        eff = pd.concat([eff, self.multiplicity_columns(eff)], axis=1)
        extra = [c for c in e.columns if c not in EFFECT_COLUMNS and c not in eff.columns]
        eff = pd.concat([eff, e[extra]], axis=1)  # an estimator's own columns (schema: optional), after the rest
        es = res.event_study.copy()
        es["topic"] = es["indicator_id"].map(topic_of)
        es = es[["cluster_id", "topic", "indicator_id", "event_time", "estimate", "se", "lower", "upper",
                 "n_treated"]]
        # on the log coefficient of variation: a falling level shrinks the SD mechanically, not the CV
        v = variation_change(self.measures, self.ds.practices, act, ind, statistic="log_cv", before=before,
                             after=after, lag=lag, min_practices=int(self.imp["min_practices"]), confidence=self.conf,
                             panels=panels)
        var = pd.DataFrame({
            "cluster_id": v["cluster_id"], "topic": v["topic"], "indicator_id": v["indicator_id"],
            "cv_before": np.exp(v["pre"]), "cv_after": np.exp(v["post"]), "change": v["change"],
            "comparison_change": v["comparison_change"], "difference": v["value"], "lower": v["lower"],
            "upper": v["upper"], "ratio": v["ratio"], "ratio_lower": v["ratio_lower"],
            "ratio_upper": v["ratio_upper"], "n_comparison_clusters": v["n_comparison"],
            "status": np.where(v["estimable"], "estimated", v["reason"].fillna("not estimable"))})
        return eff, es, var

    def multiplicity_columns(self, eff: pd.DataFrame) -> pd.DataFrame:
        """Shrunk effects (empirical Bayes toward each indicator's pooled effect, ``ce.impact.shrink_effects``),
        two-sided p-values (Student's t with the row's df) and Benjamini-Hochberg q-values over every estimated
        cluster x indicator effect of the run (``ce.impact.bh_qvalues``), and the verdict words of the raw and
        shrunk intervals (``ce.impact.verdict``; docs/methods.md)."""
        ok = (eff["status"] == "estimated") & eff["se"].gt(0)
        sh = shrink_effects(pd.DataFrame({"indicator_id": eff["indicator_id"], "value": eff["estimate"],
                                          "se": eff["se"], "estimable": ok}), confidence=self.conf)
        p = np.where(ok, p_values(eff["estimate"], eff["se"], eff["df"]), np.nan)
        out = pd.DataFrame({"shrunk_estimate": sh["shrunk_value"], "shrunk_lower": sh["shrunk_lower"],
                            "shrunk_upper": sh["shrunk_upper"], "shrinkage": sh["shrinkage"], "p_value": p,
                            "q_value": bh_qvalues(p)}, index=eff.index)
        better = eff["indicator_id"].map(self.ind.set_index("indicator_id")["better"]).fillna("none")
        for col, lo, hi in (("verdict", eff["lower"], eff["upper"]),
                            ("verdict_shrunk", out["shrunk_lower"], out["shrunk_upper"])):
            words = np.full(len(eff), "", dtype=object)
            for b in better.unique():
                sel = (better == b).to_numpy() & ok.to_numpy()
                if sel.any():
                    words[sel] = impact_verdict(lo[sel], hi[sel], eff["mde"][sel],
                                                b if b in ("lower", "higher") else "none")
            out[col] = words
        return out

    def its_table(self, harmonics: int = 2) -> pd.DataFrame:
        """Per cluster and indicator taken up, a segmented regression (``ce.impact.its``) of the cluster's pooled
        monthly series: Poisson with the denominator as offset for rates, binomial for proportions, quasi scale,
        ``harmonics`` seasonal harmonics; level and slope change as ratios with intervals. Needs 6 months before
        and 3 from the start."""
        ind, act, comp, panels = self.impact_inputs
        kinds = self.ind.set_index("indicator_id")["kind"]
        starts = {(iid, cid): st for iid, p in panels.items()
                  for cid, st in zip(p.cluster_start["cluster_id"], p.cluster_start["start"])}
        m = self.measures[self.measures["indicator_id"].isin(list(panels))].merge(
            self.ds.practices[["practice_id", "cluster_id"]], on="practice_id")
        m = m[m["cluster_id"].notna()]
        m["period"] = month_start(m["period"]).to_numpy()
        g = m.groupby(["indicator_id", "cluster_id", "period"], as_index=False)[["numerator", "denominator"]].sum()
        rows = []
        for (iid, cid), s in g.groupby(["indicator_id", "cluster_id"]):
            st = starts.get((iid, cid))
            if st is None:
                continue
            s = s[s["denominator"] > 0].sort_values("period")
            p = pd.DatetimeIndex(s["period"])
            time = (p.year - p[0].year) * 12 + p.month - p[0].month + 1
            t0 = (st.year - p[0].year) * 12 + st.month - p[0].month + 1
            row = dict(cluster_id=cid, indicator_id=iid, start=st)
            if (time < t0).sum() < 6 or (time >= t0).sum() < 3:
                rows.append({**row, "estimable": False, "reason": "fewer than 6 months before or 3 after the start"})
                continue
            fam = {"offset": s["denominator"], "family": "poisson"} if kinds.get(iid) == "rate" else \
                {"trials": s["denominator"], "family": "binomial"}
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = its(s["numerator"], time, t0, harmonics=harmonics, season=p.month, confidence=self.conf,
                            **fam)
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

    def national_tables(self):
        """National ATT per indicator and its event study (Callaway & Sant'Anna 2021, all clusters' practices)."""
        ind, act, comp, panels = self.impact_inputs
        res = national_effects(self.measures, self.ds.practices, act, ind, lag=int(self.imp["lag"]),
                               control_group=comp, min_e=-int(self.imp["pre"]), max_e=int(self.imp["post"]),
                               confidence=self.conf, keep_results=False, panels=panels)
        es = res.event_study.rename(columns={"value": "estimate"})
        es["topic"] = es["indicator_id"].map(self.ind.set_index("indicator_id")["topic"])
        return res.effects, es[["topic", "indicator_id", "event_time", "estimate", "se", "lower", "upper"]]

    def truth_check(self, eff: pd.DataFrame) -> pd.DataFrame | None:
        """Synthetic data only: each estimated cluster effect beside the true effect averaged over the same
        months since the start (truth.csv), and whether the interval covers it."""
        truth = self.ds.truth
        if truth is None or not len(truth) or not {"cluster_id", "indicator_id", "event_time", "effect"} <= set(truth):
            return None
        ok = eff[eff["status"] == "estimated"][["cluster_id", "topic", "indicator_id", "estimate", "lower", "upper",
                                                "post_months"]]
        t = truth.merge(ok[["cluster_id", "indicator_id", "post_months"]], on=["cluster_id", "indicator_id"])
        t = t[(t["event_time"] >= 0) & (t["event_time"] < t["post_months"])]
        true = t.groupby(["cluster_id", "indicator_id"])["effect"].mean().rename("true_effect").reset_index()
        out = ok.merge(true, on=["cluster_id", "indicator_id"])
        kind = out["indicator_id"].map(self.ind.set_index("indicator_id")["kind"])
        out["true_effect"] = out["true_effect"] * np.where(kind == "proportion", 100.0, 1.0)  # truth: fractions
        out["covered"] = (out["lower"] <= out["true_effect"]) & (out["true_effect"] <= out["upper"])
        return out.drop(columns="post_months")

    def pooled_tables(self, eff: pd.DataFrame, es: pd.DataFrame):
        """Random-effects pooling (``ce.impact.pool``) of the clusters' effects per indicator (REML) and of
        their event studies per month since the start (DerSimonian-Laird). Fewer than two clusters with an
        interval: no pooled row (nothing to pool)."""
        cols = ["topic", "indicator_id", "k", "estimate", "se", "lower", "upper", "tau2", "i2", "q", "pi_lower",
                "pi_upper", "method"]
        rows = []
        ok = eff[(eff["status"] == "estimated") & eff["se"].gt(0)]
        for (topic, iid), g in ok.groupby(["topic", "indicator_id"]):
            if len(g) < 2:
                continue
            o = pool(g["estimate"], g["se"], method="REML", labels=g["cluster_id"], confidence=self.conf).overall
            o = o.iloc[0]
            rows.append((topic, iid, int(o["k"]), o["value"], o["se"], o["lower"], o["upper"], o["tau2"],
                         o["I2"] / 100, o["Q"], o["pi_lower"], o["pi_upper"], f"random effects ({o['method']})"))
        pes = []
        for (topic, iid, e), g in es.groupby(["topic", "indicator_id", "event_time"]) if len(es) else ():
            g = g[np.isfinite(g["estimate"]) & g["se"].gt(0)] if e != -1 else g
            if e == -1:  # the base month: 0 by construction
                pes.append((topic, iid, e, 0.0, 0.0, 0.0, len(g)))
            elif len(g) >= 2:
                o = pool(g["estimate"], g["se"], method="DL", confidence=self.conf).overall.iloc[0]
                pes.append((topic, iid, e, o["value"], o["lower"], o["upper"], int(o["k"])))
        return (pd.DataFrame(rows, columns=cols),
                pd.DataFrame(pes, columns=["topic", "indicator_id", "event_time", "estimate", "lower", "upper", "k"]))
