"""Cluster-level impact tables of the analyse stage: funnels (with limits), per-cluster effects and event
studies, change in variation, pooling, the national staggered DiD and (synthetic data) the check against the truth.

A mixin of :class:`cluster_eval.report.analyse.Analysis`: the methods use its prepared matrices and settings.
The effects come from :mod:`cluster_eval.impact` when it is installed; the simple estimators of
:mod:`.estimates` are the fallback.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from . import estimates as E


def _pseudonyms(ids: pd.Series) -> pd.Series:
    """Practice labels A, B, ... in a fixed random order within a cluster (not the practice code)."""
    import hashlib

    order = sorted(ids, key=lambda s: hashlib.sha256(str(s).encode()).hexdigest())
    letters = [chr(65 + i % 26) + (str(i // 26) if i >= 26 else "") for i in range(len(order))]
    return ids.map(dict(zip(order, (f"Practice {x}" for x in letters))))


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

    def _windows(self, exposed_from: pd.Timestamp):
        k0 = int(self.periods.searchsorted(exposed_from))
        pre, post = int(self.imp["pre"]), int(self.imp["post"])
        return k0, slice(max(0, k0 - pre), k0), slice(k0, min(len(self.periods), k0 + post))

    def _groups(self, cluster_id: str, topic: str, exposed_from: pd.Timestamp, post_end: pd.Timestamp):
        if not hasattr(self, "_cl_arr"):
            self._cl_arr = self.practices["cluster_id"].reindex(self.pids).fillna("").astype(str).to_numpy()
            self._exp = {}
        treated = self._cl_arr == str(cluster_id)
        if topic not in self._exp:
            act = self.activities[self.activities["topic"] == topic].set_index("cluster_id")["exposed_from"]
            self._exp[topic] = pd.Series(self._cl_arr).map(act).to_numpy(dtype="datetime64[ns]")
        exp = self._exp[topic]
        never = np.isnat(exp)
        if self.imp["comparison"] == "never_treated":
            control = never
        else:
            control = never | (exp > np.datetime64(post_end))
        return treated, control & ~treated

    def impact_tables(self, estimate: bool = True):
        """Funnels (always) and, with ``estimate``, the simple fallback effects / event studies / variation."""
        eff_rows, es_parts, var_rows, lim_keys = [], [], [], []
        fun_cols = {k: [] for k in ("practice", "numerator", "denominator", "cluster_id", "topic", "indicator_id",
                                    "phase", "target", "mult", "window_start", "window_end")}
        labels = self._labels()
        ind = self.ind.set_index("indicator_id")
        cl_of = self.practices["cluster_id"].reindex(self.pids)
        for a in self.activities.itertuples(index=False):
            k0, pre, post = self._windows(a.exposed_from)
            if post.stop <= post.start or pre.stop - pre.start < 2:
                post_end = a.exposed_from
            else:
                post_end = self.periods[post.stop - 1]
            treated, control = self._groups(a.cluster_id, a.topic, a.exposed_from, post_end)
            for iid in ind.index[ind["topic"] == a.topic]:
                num, den, Y = self.matrices(iid)
                base = {"cluster_id": a.cluster_id, "topic": a.topic, "indicator_id": iid, "start": a.start,
                        "exposed_from": a.exposed_from}
                has_t = np.isfinite(Y[treated]).any(axis=1).sum() if treated.any() else 0
                status = "estimated"
                if pre.stop - pre.start < 2 or post.stop <= post.start:
                    status = "not enough months of data around the start"
                elif has_t < int(self.imp["min_practices"]):
                    status = f"too few practices (fewer than {self.imp['min_practices']})"
                if not estimate:
                    status = "skipped"
                res = E.did(Y, treated, control, pre, post, self.conf) if status == "estimated" else {}
                half = (pre.stop - pre.start) // 2
                plc = (E.did(Y, treated, control, slice(pre.start, pre.start + half),
                             slice(pre.start + half, pre.stop), self.conf)
                       if status == "estimated" and half >= 1 else {})
                se = res.get("se", np.nan)
                mde = (E.z_value(self.conf) + E.z_value(0.6)) * se
                if status == "estimated" and not np.isfinite(se):
                    status = "too few practices for an interval"
                eff_rows.append({**base, "status": status, "estimate": res.get("estimate", np.nan), "se": se,
                                 "lower": res.get("lower", np.nan), "upper": res.get("upper", np.nan),
                                 "confidence": self.conf, "mde": mde,
                                 "n_treated": int(res.get("n_treated", has_t)),
                                 "n_control": int(res.get("n_control", control.sum())),
                                 "placebo": plc.get("estimate", np.nan), "placebo_lower": plc.get("lower", np.nan),
                                 "placebo_upper": plc.get("upper", np.nan),
                                 "pre_months": pre.stop - pre.start, "post_months": post.stop - post.start,
                                 "method": "difference in differences on practice means (vs "
                                           f"{self.imp['comparison'].replace('_', ' ')} practices)"})
                if status == "estimated":
                    es = E.event_study(Y, treated, control, k0, int(self.imp["pre"]), int(self.imp["post"]),
                                       self.conf)
                    es_parts.append(es.assign(**{k: base[k] for k in ("cluster_id", "topic", "indicator_id")}))
                if estimate:
                    var_rows.append({**{k: base[k] for k in ("cluster_id", "topic", "indicator_id")},
                                     **self._variation(Y, treated, control, cl_of, pre, post)})
                # funnel: the cluster's practices before / after (collected as arrays, framed once below)
                mult = float(ind.loc[iid, "multiplier"])
                for phase, win in (("before", pre), ("after", post)):
                    if win.stop <= win.start:
                        continue
                    n_t = np.nansum(num[treated, win], axis=1)
                    d_t = np.nansum(den[treated, win], axis=1)
                    tot_d = np.nansum(den[:, win])
                    target = np.nansum(num[:, win]) / tot_d * mult if tot_d > 0 else np.nan
                    keep = d_t > 0
                    if not keep.any():
                        continue
                    k = int(keep.sum())
                    fun_cols["practice"].extend(labels[treated][keep])
                    fun_cols["numerator"].append(n_t[keep])
                    fun_cols["denominator"].append(d_t[keep])
                    for col, val in (("cluster_id", a.cluster_id), ("topic", a.topic), ("indicator_id", iid),
                                     ("phase", phase), ("target", target), ("mult", mult),
                                     ("window_start", self.periods[win.start]),
                                     ("window_end", self.periods[win.stop - 1])):
                        fun_cols[col].extend([val] * k)
                    if np.isfinite(target):
                        lim_keys.append((a.cluster_id, a.topic, iid, phase, target, float(d_t[keep].max()) * 1.15,
                                         ind.loc[iid, "kind"], mult))
        eff = pd.DataFrame(eff_rows)
        es = pd.concat(es_parts, ignore_index=True) if es_parts else pd.DataFrame(
            columns=["cluster_id", "topic", "indicator_id", "event_time", "estimate", "se", "lower", "upper",
                     "n_treated"])
        var = pd.DataFrame(var_rows)
        fun = pd.DataFrame({k: (np.concatenate(v) if k in ("numerator", "denominator") and v else v)
                            for k, v in fun_cols.items()})
        if len(fun):
            fun["value"] = fun["numerator"] / fun["denominator"] * fun["mult"]
            fun["position"] = self._positions(fun)
            fun = fun.drop(columns="mult")
        self.funnel_limits = self._limits(lim_keys)
        return eff, es, var, fun

    def tau2(self, indicator_id: str) -> float:
        """Between-practice variance beyond chance (Spiegelhalter 2005, additive, transformed scale) over the last
        12 months nationally, from ``ce.stats.funnel``; 0 when it cannot be estimated."""
        cache = self.__dict__.setdefault("_tau2", {})
        if indicator_id not in cache:
            num, den, _ = self.matrices(indicator_id)
            win = slice(max(0, len(self.periods) - 12), len(self.periods))
            n, d = np.nansum(num[:, win], axis=1), np.nansum(den[:, win], axis=1)
            ok = d > 0
            kind = self.ind.set_index("indicator_id").loc[indicator_id, "kind"]
            try:
                from ..stats import funnel

                res = funnel(n[ok], d[ok], statistic="proportion" if kind == "proportion" else "rate",
                             overdispersion="additive")
                cache[indicator_id] = float(res.tau2) if np.isfinite(res.tau2) else 0.0
            except Exception:  # noqa: BLE001 - unadjusted limits then
                cache[indicator_id] = 0.0
        return cache[indicator_id]

    def _positions(self, fun: pd.DataFrame) -> np.ndarray:
        """Where each practice lies against the national funnel limits at its own size."""
        kinds = fun["indicator_id"].map(self.ind.set_index("indicator_id")["kind"]).to_numpy()
        pos = np.full(len(fun), "within 95% limits", dtype=object)
        for conf, tag in ((0.95, "95%"), (0.998, "99.8%")):
            lo = np.full(len(fun), np.nan)
            hi = np.full(len(fun), np.nan)
            for kind in np.unique(kinds):
                m = kinds == kind
                tau2 = fun["indicator_id"][m].map(self.tau2).to_numpy(float)
                lo[m], hi[m] = E.limits_vectorised(fun["target"].to_numpy(float)[m], fun["denominator"].to_numpy(float)[m],
                                                   kind, fun["mult"].to_numpy(float)[m], conf, tau2)
            v = fun["value"].to_numpy(float)
            pos = np.where(v > hi, f"above {tag} limit", np.where(v < lo, f"below {tag} limit", pos))
        return pos

    def _limits(self, keys, points: int = 40) -> pd.DataFrame:
        """Funnel limit curves (95%, 99.8%) for every (cluster, topic, indicator, phase), vectorised."""
        cols = ["cluster_id", "topic", "indicator_id", "phase", "target", "top", "kind", "mult"]
        if not keys:
            return pd.DataFrame(columns=cols[:5] + ["size", "lower95", "upper95", "lower998", "upper998"])
        g = pd.DataFrame(keys, columns=cols)
        rep = g.loc[g.index.repeat(points)].reset_index(drop=True)
        frac = np.tile(np.linspace(1 / points, 1, points), len(g))
        # "size": a grid of denominators to draw the limits at (not a count of anyone)
        rep["size"] = rep["top"].to_numpy() * frac
        for conf, tag in ((0.95, "95"), (0.998, "998")):
            lo = np.full(len(rep), np.nan)
            hi = np.full(len(rep), np.nan)
            for kind in rep["kind"].unique():
                m = (rep["kind"] == kind).to_numpy()
                tau2 = rep["indicator_id"][m].map(self.tau2).to_numpy(float)
                lo[m], hi[m] = E.limits_vectorised(rep["target"].to_numpy()[m], rep["size"].to_numpy()[m], kind,
                                                   rep["mult"].to_numpy()[m], conf, tau2)
            rep[f"lower{tag}"], rep[f"upper{tag}"] = lo, hi
        return rep.drop(columns=["top", "kind", "mult"])

    def package_impact(self):
        """Effects, event studies and variation change from :mod:`cluster_eval.impact` (None if absent)."""
        try:
            from ..impact import cluster_effects, variation_change
        except ImportError:
            return None
        ind = self.ind[["indicator_id", "topic", "multiplier"]]
        act = self.ds.activities
        act = act[act["cluster_id"].isin(self.activities["cluster_id"]) & act["topic"].isin(self.ind["topic"])]
        comp = "notyettreated" if self.imp["comparison"] == "not_yet_treated" else "nevertreated"
        kw = {"before": int(self.imp["pre"]), "after": int(self.imp["post"]), "lag": int(self.imp["lag"]),
              "min_practices": int(self.imp["min_practices"]), "confidence": self.conf}
        prac = self.ds.practices
        res = cluster_effects(self.measures, prac, act, ind, control_group=comp, **kw)
        e = res.effects
        exposed = self.activities.set_index(["cluster_id", "topic"])["exposed_from"]
        starts = self.activities.set_index(["cluster_id", "topic"])["start"]
        key = list(zip(e["cluster_id"], e["topic"]))
        eff = pd.DataFrame({
            "cluster_id": e["cluster_id"], "topic": e["topic"], "indicator_id": e["indicator_id"],
            "start": [starts.get(k) for k in key], "exposed_from": [exposed.get(k) for k in key],
            "status": np.where(e["estimable"], "estimated",
                               e["reason"].replace("", "not estimable").fillna("not estimable")),
            "estimate": e["value"], "se": e["se"], "lower": e["lower"], "upper": e["upper"],
            "confidence": e["confidence"], "mde": e["mde"], "n_treated": e["n_practices"],
            "n_control": e["n_control"], "placebo": e["pre_value"], "placebo_lower": e["pre_lower"],
            "placebo_upper": e["pre_upper"], "placebo_p_value": e["placebo_p_value"],
            "pre_months": e["n_pre"], "post_months": e["n_post"],
            "method": "Callaway & Sant'Anna 2x2 per cluster (" + e["method"].astype(str) + ")"})
        topic_of = self.ind.set_index("indicator_id")["topic"]
        es = res.event_study.rename(columns={"value": "estimate"})
        es["topic"] = es["indicator_id"].map(topic_of)
        es = es[["cluster_id", "topic", "indicator_id", "event_time", "estimate", "se", "lower", "upper",
                 "n_treated"]]
        v = variation_change(self.measures, prac, act, ind, statistic="sd", **kw)
        var = pd.DataFrame({
            "cluster_id": v["cluster_id"], "topic": v["topic"], "indicator_id": v["indicator_id"],
            "sd_before": v["pre"], "sd_after": v["post"], "change": v["change"],
            "comparison_change": v["comparison_change"], "difference": v["value"], "lower": v["lower"],
            "upper": v["upper"], "n_comparison_clusters": v["n_comparison"],
            "status": np.where(v["estimable"], "estimated", v["reason"].fillna("not estimable"))})
        return eff, es, var

    def national_tables(self):
        """National ATT per indicator and its event study (Callaway & Sant'Anna 2021, all clusters' practices)."""
        try:
            from ..impact import national_effects
        except ImportError:
            return None
        ind = self.ind[["indicator_id", "topic", "multiplier"]]
        act = self.ds.activities
        act = act[act["cluster_id"].isin(self.activities["cluster_id"]) & act["topic"].isin(self.ind["topic"])]
        comp = "notyettreated" if self.imp["comparison"] == "not_yet_treated" else "nevertreated"
        res = national_effects(self.measures, self.ds.practices, act, ind, lag=int(self.imp["lag"]),
                               control_group=comp, min_e=-int(self.imp["pre"]), max_e=int(self.imp["post"]),
                               alpha=1 - self.conf, keep_results=False)
        es = res.event_study.rename(columns={"att": "estimate"})
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

    def _variation(self, Y, treated, control, cl_of, pre, post) -> dict:
        """Between-practice SD of practice means inside the cluster, after minus before, vs comparison clusters."""
        out = {"sd_before": np.nan, "sd_after": np.nan, "change": np.nan, "comparison_change": np.nan,
               "difference": np.nan, "n_practices": int(treated.sum()), "n_comparison_clusters": 0}
        if pre.stop <= pre.start or post.stop <= post.start:
            return out
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mb = np.nanmean(Y[:, pre], axis=1)
            ma = np.nanmean(Y[:, post], axis=1)
        df = pd.DataFrame({"c": cl_of.to_numpy(), "b": mb, "a": ma, "t": treated, "k": control})
        comp = df[df["k"] & df["c"].notna()].groupby("c").agg(b=("b", "std"), a=("a", "std"), n=("b", "size"))
        comp = comp[comp["n"] >= 3]
        cc = float((comp["a"] - comp["b"]).mean()) if len(comp) else np.nan
        if treated.sum() > 2:
            sd_b, sd_a = np.nanstd(mb[treated], ddof=1), np.nanstd(ma[treated], ddof=1)
            out.update(sd_before=float(sd_b), sd_after=float(sd_a), change=float(sd_a - sd_b))
        out.update(comparison_change=cc, difference=out["change"] - cc, n_comparison_clusters=len(comp))
        return out

    def pooled_tables(self, eff: pd.DataFrame, es: pd.DataFrame):
        rows = []
        ok = eff[(eff["status"] == "estimated") & eff["se"].gt(0)]
        try:
            from ..impact import pool
        except ImportError:
            pool = None
        for (topic, iid), g in ok.groupby(["topic", "indicator_id"]):
            r = None
            if pool is not None and len(g) >= 2:
                try:
                    o = pool(g["estimate"], g["se"], method="REML", labels=g["cluster_id"],
                             confidence=self.conf).overall.iloc[0]
                    r = {"k": int(o["k"]), "estimate": o["value"], "se": o["se"], "lower": o["lower"],
                         "upper": o["upper"], "tau2": o["tau2"], "i2": o["I2"] / 100, "q": o["Q"],
                         "pi_lower": o["pi_lower"], "pi_upper": o["pi_upper"],
                         "method": f"random effects ({o['method']})"}
                except Exception:  # noqa: BLE001 - fall back to DerSimonian-Laird below
                    r = None
            rows.append({"topic": topic, "indicator_id": iid,
                         **(r or E.random_effects(g["estimate"], g["se"], self.conf))})
        pooled = pd.DataFrame(rows, columns=["topic", "indicator_id", "k", "estimate", "se", "lower", "upper",
                                             "tau2", "i2", "q", "pi_lower", "pi_upper", "method"])
        pes = []
        if len(es):
            for (topic, iid, e), g in es.groupby(["topic", "indicator_id", "event_time"]):
                r = E.random_effects(g["estimate"], g["se"], self.conf) if e != -1 else {
                    "estimate": 0.0, "lower": 0.0, "upper": 0.0, "k": len(g)}
                pes.append({"topic": topic, "indicator_id": iid, "event_time": e, "estimate": r["estimate"],
                            "lower": r["lower"], "upper": r["upper"], "k": r["k"]})
        return pooled, pd.DataFrame(pes, columns=["topic", "indicator_id", "event_time", "estimate", "lower",
                                                  "upper", "k"])
