"""The analyse-once stage: every statistic the reports need, for every cluster, in one process.

Writes tidy Parquet tables into ``<run>/tables/`` (each after disclosure control, see :mod:`.tables`):

=====================  =========================================================================
table                  one row per
=====================  =========================================================================
indicators             indicator (title, topic, kind, multiplier, better)
clusters               cluster (name, region, practices, listed patients, topics taken up)
activities             cluster x topic taken up (start, first exposed month)
trends                 level (cluster/region/nation) x unit x indicator x month (numerator, denominator, value)
spc                    cluster x indicator: run-chart centre and Anhøj signals
funnel                 cluster x topic x indicator x phase (before/after) x practice (pseudonymised)
effects                cluster x topic x indicator: effect, interval, placebo, minimum detectable effect
event_study            cluster x topic x indicator x month since start
pooled                 topic x indicator: pooled effect, tau², I², prediction interval
pooled_event_study     topic x indicator x month since start
variation              cluster x topic x indicator: between-practice SD before/after vs comparison
variation_trend        indicator x year: between-practice variation nationally
standing               cluster x indicator (all topics): last 12 months vs the nation
=====================  =========================================================================

Notebooks only read these tables; nothing is refitted in a notebook.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from . import estimates as E
from .tables import disclose, write_table

FALLBACK_INDICATORS = {
    "abx_rate": ("Antibiotic (J01) prescriptions per 1,000 listed patients per month", "antibiotics", "rate",
                 1000, "lower"),
    "abx_penv_share": ("Penicillin V share of antibiotic prescriptions", "antibiotics", "proportion", 100, "higher"),
    "abx_quinolone_share": ("Quinolone share of antibiotic prescriptions", "antibiotics", "proportion", 100, "lower"),
    "t2d_hba1c_measured": ("Type 2 diabetes: HbA1c measured in past 12 months", "diabetes", "proportion", 100,
                           "higher"),
    "t2d_hba1c_below59": ("Type 2 diabetes: latest HbA1c below 59 mmol/mol", "diabetes", "proportion", 100,
                          "higher"),
    "copd_spirometry": ("COPD: spirometry in past 12 months", "copd", "proportion", 100, "higher"),
    "copd_ics": ("COPD: inhaled corticosteroid in past 12 months", "copd", "proportion", 100, "lower"),
    "dep_opioid_users": ("Opioid users per 1,000 listed patients", "dependence", "rate", 1000, "lower"),
    "dep_benzo_users": ("Benzodiazepine users per 1,000 listed patients", "dependence", "rate", 1000, "lower"),
    "eld_polypharmacy": ("Patients 65+ with 10 or more concurrent drugs", "elderly", "proportion", 100, "lower"),
    "eld_nsaid": ("Patients 65+ with an NSAID prescription in the month", "elderly", "proportion", 100, "lower"),
}
INDICATOR_COLUMNS = ["indicator_id", "title", "topic", "kind", "multiplier", "better", "unit"]


def indicator_table(dataset, wanted=None, topics=None) -> pd.DataFrame:
    """Metadata of the indicators present in the measures (catalogue, then params, then built-in)."""
    present = sorted(dataset.measures["indicator_id"].astype(str).unique())
    meta = {k: dict(zip(("title", "topic", "kind", "multiplier", "better"), v))
            for k, v in FALLBACK_INDICATORS.items()}
    try:
        from ..indicators import load_catalogue

        for k, ind in load_catalogue().items():
            meta[k] = {"title": getattr(ind, "title", k), "topic": ind.topic, "kind": ind.kind,
                       "multiplier": getattr(ind, "multiplier", None), "better": getattr(ind, "better", "lower")}
    except Exception:  # noqa: BLE001 - the catalogue is optional here
        pass
    for k, m in (getattr(dataset, "indicators", None) or {}).items():
        meta.setdefault(k, {}).update({kk: vv for kk, vv in m.items() if vv is not None})
    rows = []
    for k in present:
        if wanted and k not in wanted:
            continue
        m = meta.get(k, {})
        kind = m.get("kind") or "proportion"
        # proportions are shown as percentages in the reports; rates per the catalogue's multiplier
        mult = 100.0 if kind == "proportion" else (m.get("multiplier") or 1000)
        topic = m.get("topic") or "other"
        if topics and topic not in topics:
            continue
        unit = "%" if kind == "proportion" and mult == 100 else (f"per {mult:,.0f}" if mult != 1 else "")
        rows.append((k, m.get("title") or k, topic, kind, float(mult), m.get("better") or "lower", unit))
    return pd.DataFrame(rows, columns=INDICATOR_COLUMNS)


def _months_between(a: pd.Series, b: pd.Timestamp) -> pd.Series:
    return (a.dt.year - b.year) * 12 + (a.dt.month - b.month)


def _pseudonyms(ids: pd.Series) -> pd.Series:
    """Practice labels A, B, ... in a fixed random order within a cluster (not the practice code)."""
    import hashlib

    order = sorted(ids, key=lambda s: hashlib.sha256(str(s).encode()).hexdigest())
    letters = [chr(65 + i % 26) + (str(i // 26) if i >= 26 else "") for i in range(len(order))]
    return ids.map(dict(zip(order, (f"Practice {x}" for x in letters))))


class Analysis:
    """Holds the prepared data of one run; :meth:`run` writes every table."""

    def __init__(self, dataset, config):
        self.ds = dataset
        self.cfg = config
        p = config.params
        self.imp = p["impact"]
        self.conf = float(self.imp["confidence"])
        self.ind = indicator_table(dataset, p["indicators"], p["topics"])
        m = dataset.measures
        m = m[m["indicator_id"].isin(self.ind["indicator_id"])].copy()
        per = p["periods"]
        if per["start"]:
            m = m[m["period"] >= pd.Timestamp(per["start"])]
        if per["end"]:
            m = m[m["period"] <= pd.Timestamp(per["end"])]
        m["period"] = m["period"].dt.to_period("M").dt.to_timestamp()
        self.measures = m
        self.periods = pd.DatetimeIndex(sorted(m["period"].unique()))
        prac = dataset.practices.copy()
        prac["cluster_id"] = prac["cluster_id"].astype("string")
        self.practices = prac.set_index("practice_id")
        self.pids = pd.Index(sorted(prac["practice_id"]))
        act = dataset.activities.copy()
        if p["topics"]:
            act = act[act["topic"].isin(p["topics"])]
        act["start"] = pd.to_datetime(act["start"]).dt.to_period("M").dt.to_timestamp()
        act["exposed_from"] = act["start"] + pd.DateOffset(months=int(self.imp["lag"]))
        self.activities = act[act["cluster_id"].isin(dataset.clusters["cluster_id"])].reset_index(drop=True)
        self._matrices = {}

    # -- practice x month matrices ----------------------------------------------------------------
    def matrices(self, indicator_id: str):
        if indicator_id not in self._matrices:
            sub = self.measures[self.measures["indicator_id"] == indicator_id]
            r = self.pids.get_indexer(sub["practice_id"])
            c = self.periods.get_indexer(sub["period"])
            ok = (r >= 0) & (c >= 0)
            shape = (len(self.pids), len(self.periods))
            num = np.full(shape, np.nan)
            den = np.full(shape, np.nan)
            num[r[ok], c[ok]] = sub["numerator"].to_numpy(dtype=float)[ok]
            den[r[ok], c[ok]] = sub["denominator"].to_numpy(dtype=float)[ok]
            mult = float(self.ind.set_index("indicator_id").loc[indicator_id, "multiplier"])
            with np.errstate(all="ignore"):
                val = np.where(den > 0, num / den * mult, np.nan)
            self._matrices[indicator_id] = (num, den, val)
        return self._matrices[indicator_id]

    # -- tables ---------------------------------------------------------------------------------
    def clusters_table(self) -> pd.DataFrame:
        cl = self.ds.clusters[["cluster_id", "name", "region"]].copy()
        prac = self.practices.reset_index()
        n = prac.groupby("cluster_id").size().rename("n_practices")
        cl = cl.join(n, on="cluster_id")
        pop = self.ds.population
        if pop is not None and len(pop):
            last = pop["period"].max()
            lp = pop[pop["period"] == last].groupby("practice_id")["persons"].sum()
            listed = prac.join(lp.rename("listed"), on="practice_id").groupby("cluster_id")["listed"].sum()
            cl = cl.join(listed.rename("listed_patients"), on="cluster_id")
            cl["listed_year"] = int(last.year)
        else:
            cl["listed_patients"] = np.nan
            cl["listed_year"] = np.nan
        topics = self.activities.groupby("cluster_id")["topic"].agg(lambda s: ", ".join(sorted(s)))
        cl = cl.join(topics.rename("topics"), on="cluster_id")
        cl["topics"] = cl["topics"].fillna("")
        cl["n_practices"] = cl["n_practices"].fillna(0).astype(int)
        return cl.sort_values("cluster_id").reset_index(drop=True)

    def trends_table(self) -> pd.DataFrame:
        m = self.measures.join(self.practices[["cluster_id", "region"]], on="practice_id")
        parts = []
        for level, key in (("cluster", "cluster_id"), ("region", "region"), ("nation", None)):
            g = m if key else m.assign(nation="nation")
            key = key or "nation"
            g = g.dropna(subset=[key]).groupby(["indicator_id", key, "period"], observed=True)[
                ["numerator", "denominator"]].sum().reset_index().rename(columns={key: "unit_id"})
            g["level"] = level
            parts.append(g)
        t = pd.concat(parts, ignore_index=True)
        mult = t["indicator_id"].map(self.ind.set_index("indicator_id")["multiplier"])
        t["value"] = np.where(t["denominator"] > 0, t["numerator"] / t["denominator"] * mult, np.nan)
        t["unit_id"] = t["unit_id"].astype(str)
        return t[["level", "unit_id", "indicator_id", "period", "numerator", "denominator", "value"]]

    def spc_table(self, trends: pd.DataFrame) -> pd.DataFrame:
        """Run-chart centre (median of the months before the start, else all months) and Anhøj signals."""
        rows = []
        cl = trends[trends["level"] == "cluster"]
        starts = self.activities.set_index(["cluster_id", "topic"])["exposed_from"]
        topic_of = self.ind.set_index("indicator_id")["topic"]
        for (cid, iid), g in cl.groupby(["unit_id", "indicator_id"], sort=False):
            g = g.sort_values("period")
            v = g["value"].to_numpy(dtype=float)
            start = starts.get((cid, topic_of[iid]))
            base = v[(g["period"] < start).to_numpy()] if start is not None else v
            if np.isfinite(base).sum() < 8:
                base = v
            centre = float(np.nanmedian(base)) if np.isfinite(base).any() else np.nan
            after = v[(g["period"] >= start).to_numpy()] if start is not None else v
            sig = E.anhoej(after if np.isfinite(after).sum() >= 8 else v, centre)
            rows.append({"cluster_id": cid, "indicator_id": iid, "centre": centre,
                         "baseline": "before start" if start is not None else "all months", **sig})
        return pd.DataFrame(rows)

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

    def variation_trend_table(self) -> pd.DataFrame:
        rows = []
        years = self.periods.year.to_numpy()
        for iid in self.ind["indicator_id"]:
            num, den, _ = self.matrices(iid)
            mult = float(self.ind.set_index("indicator_id").loc[iid, "multiplier"])
            for y in np.unique(years):
                cols = years == y
                n, d = np.nansum(num[:, cols], axis=1), np.nansum(den[:, cols], axis=1)
                v = np.where(d > 0, n / np.where(d > 0, d, 1) * mult, np.nan)
                v = v[np.isfinite(v)]
                if v.size < 3:
                    continue
                mean = v.mean()
                rows.append({"indicator_id": iid, "year": int(y), "n_practices": int(v.size), "mean": mean,
                             "sd": v.std(ddof=1), "cv": v.std(ddof=1) / mean if mean else np.nan,
                             "iqr_ratio": np.quantile(v, 0.75) / np.quantile(v, 0.25)
                             if np.quantile(v, 0.25) > 0 else np.nan})
        return pd.DataFrame(rows)

    def standing_table(self, trends: pd.DataFrame) -> pd.DataFrame:
        """Every cluster's last 12 months on every indicator, against the nation."""
        if not len(self.periods):
            return pd.DataFrame()
        last = self.periods[-12:] if len(self.periods) >= 12 else self.periods
        t = trends[trends["period"].isin(last)]
        g = t.groupby(["level", "unit_id", "indicator_id"])[["numerator", "denominator"]].sum().reset_index()
        ind = self.ind.set_index("indicator_id")
        g = g.join(ind[["kind", "multiplier", "better"]], on="indicator_id")
        parts = []
        for (kind, mult), s in g.groupby(["kind", "multiplier"]):
            ci = E.interval(s["numerator"], s["denominator"], kind, mult, self.conf)
            parts.append(pd.concat([s.reset_index(drop=True), ci], axis=1))
        g = pd.concat(parts, ignore_index=True)
        nat = g[g["level"] == "nation"].set_index("indicator_id")["value"]
        cl = g[g["level"] == "cluster"].copy().rename(columns={"unit_id": "cluster_id"})
        cl["national"] = cl["indicator_id"].map(nat)
        sign = np.where(cl["better"] == "higher", 1, -1)
        above = cl["lower"] > cl["national"]
        below = cl["upper"] < cl["national"]
        cl["standing"] = np.where(above | below, np.where((above & (sign == 1)) | (below & (sign == -1)),
                                                          "better than the nation", "worse than the nation"),
                                  "similar to the nation")
        cl.loc[cl["value"].isna(), "standing"] = "too few to say"
        cl["percentile"] = cl.groupby("indicator_id")["value"].rank(pct=True) * 100
        cl["window_start"], cl["window_end"] = last[0], last[-1]
        return cl[["cluster_id", "indicator_id", "numerator", "denominator", "value", "lower", "upper",
                   "national", "standing", "percentile", "window_start", "window_end"]]

    # -- everything ---------------------------------------------------------------------------------
    def run(self, tables_dir, log=lambda msg: None) -> dict:
        """Compute and write every table (each through disclosure control). Returns {name: path}."""
        thr = int(self.cfg.params["disclosure"]["threshold"])
        rnd = self.cfg.params["disclosure"]["rounding"]
        out = {}

        def put(name, df, counts=(), derived=(), by=None):
            if counts:
                t0 = time.time()
                df = disclose(df, counts=counts, derived=derived, threshold=thr, rounding=rnd, by=by)
                log(f"analyse: disclosure control on {name} ({len(df):,} rows, {time.time() - t0:.1f} s)")
            out[name] = write_table(df, tables_dir / f"{name}.parquet")

        put("indicators", self.ind)
        put("clusters", self.clusters_table())
        put("activities", self.activities)
        log("analyse: trends")
        trends = self.trends_table()
        put("trends", trends, counts=("numerator", "denominator"), derived=("value",),
            by=["indicator_id", "period", "level"])
        put("spc", self.spc_table(trends))
        log("analyse: effects, event studies, variation, funnels")
        try:
            pkg = self.package_impact()
        except Exception as exc:  # noqa: BLE001 - the fallback estimator keeps the run going; the log says why
            log(f"analyse: cluster_eval.impact failed ({type(exc).__name__}: {exc}); using the simple estimator")
            pkg = None
        eff, es, var, fun = self.impact_tables(estimate=pkg is None)
        if pkg is not None:
            eff, es, var = pkg
        put("effects", eff)
        put("event_study", es)
        put("variation", var)
        put("funnel", fun, counts=("numerator", "denominator"), derived=("value",),
            by=["cluster_id", "topic", "indicator_id", "phase"])
        put("funnel_limits", self.funnel_limits)
        log("analyse: pooling and national variation")
        pooled, pes = self.pooled_tables(eff, es)
        put("pooled", pooled)
        tc = self.truth_check(eff)
        if tc is not None:
            put("truth_check", tc)
        put("pooled_event_study", pes)
        if self.cfg.params["impact"].get("national", True):
            log("analyse: national staggered DiD (att_gt) per indicator")
            try:
                nat = self.national_tables()
            except Exception as exc:  # noqa: BLE001 - the overview falls back to pooled cluster estimates
                log(f"analyse: national effects failed ({type(exc).__name__}: {exc})")
                nat = None
            if nat is not None:
                put("national_effects", nat[0])
                put("national_event_study", nat[1])
        put("variation_trend", self.variation_trend_table())
        put("standing", self.standing_table(trends), counts=("numerator", "denominator"),
            derived=("value", "lower", "upper", "percentile"), by=["indicator_id"])
        return out


def analyse(dataset, config, tables_dir, log=lambda msg: None) -> dict:
    """Compute every table the reports need and write them (after disclosure control) into ``tables_dir``."""
    return Analysis(dataset, config).run(tables_dir, log=log)
