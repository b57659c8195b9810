"""The sections of the report notebooks: each method reads table slices, formats and displays one part.

The notebooks (``notebooks/cluster_report.ipynb``, ``notebooks/national_overview.ipynb``) make one call
per section; all reading, wording and drawing lives here and in :mod:`.figures`. Nothing is refitted.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import figures as F
from .tables import read_table

TOO_SMALL = "too few to say"


def _display(obj):
    from IPython.display import display

    display(obj)


def show_markdown(text: str):
    from IPython.display import Markdown

    _display(Markdown(text))


def show_html(text: str):
    from IPython.display import HTML

    _display(HTML(text))


def show_figure(fig, dpi: int, fmt: str = "svg"):
    """Display a figure as inline SVG (default) or PNG at ``dpi``."""
    if fmt == "svg":
        from IPython.display import display

        display({"image/svg+xml": F.svg(fig)}, raw=True)
        return
    from IPython.display import Image

    _display(Image(data=F.png(fig, dpi=dpi), format="png"))


def show_table(df: pd.DataFrame):
    show_html(df.to_html(index=False, na_rep="–", escape=True, classes="ce-table", border=0))


def num(x, digits: int | None = None) -> str:
    """A number for reading: 1-2 decimals, a real minus sign; a dash when missing."""
    if x is None or not np.isfinite(x):
        return "–"
    if digits is None:
        digits = 2 if abs(x) < 10 else 1
    return f"{x:,.{digits}f}".replace("-", "−")


def interval(est, lo, hi) -> str:
    if not np.isfinite(est):
        return TOO_SMALL
    return f"{num(est)} ({num(lo)} to {num(hi)})"


def _short_title(title: str, n: int = 40) -> str:
    return title if len(title) <= n else title[: n - 1] + "…"


def diff_unit(meta_row) -> str:
    return "percentage points" if meta_row["unit"] == "%" else meta_row["unit"]


def verdict(row, better: str) -> str:
    """Plain-language reading of an effect row."""
    if row["status"] != "estimated":
        return str(row["status"])
    lo, hi = row["lower"], row["upper"]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return TOO_SMALL
    if lo > 0 or hi < 0:
        good = (lo > 0) == (better == "higher")
        return "improved more than comparison practices" if good else "worsened compared with comparison practices"
    return "no clear difference from comparison practices"


def placebo_flag(row) -> bool:
    lo, hi = row.get("placebo_lower", np.nan), row.get("placebo_upper", np.nan)
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))


class _Base:
    def __init__(self, run_dir, dpi: int = 80):
        self.run = Path(run_dir)
        self.dpi = int(dpi)
        self.meta = read_table(self.run, "indicators").set_index("indicator_id")
        cfg = self.run / "run_config.json"
        self.config = json.loads(cfg.read_text()) if cfg.exists() else {}
        self.fmt = (self.config.get("report") or {}).get("figure_format", "svg")

    def _imp(self, key, default=None):
        return (self.config.get("impact") or {}).get(key, default)

    def methods_text(self) -> str:
        thr = (self.config.get("disclosure") or {}).get("threshold", 4)
        comp = str(self._imp("comparison", "not_yet_treated")).replace("_", " ")
        return (
            f"- **What an effect is.** For each indicator and each month since the start, the cluster's practices' "
            f"average change from the month before the start minus the average change of practices in clusters "
            f"{comp} on the topic over the same months (a difference in differences, one group at a time as in "
            f"Callaway & Sant'Anna 2021); the effect is its average over the {self._imp('post', 12)} months from the "
            f"start, the placebo its average over the {self._imp('pre', 12)} months before. The start is the month of "
            f"the first meeting on the topic plus a lag of {self._imp('lag', 0)} months.\n"
            "- **What it is not.** Clusters choose their topics; a cluster that picks a topic where it is doing badly "
            "may improve anyway (regression to the mean). The placebo check (the same calculation inside the months "
            "before the start) and the event study's pre-period show whether the comparison was like-for-like.\n"
            f"- **Intervals** are {int(round(100 * float(self._imp('confidence', 0.95))))}% confidence intervals with "
            "practices as independent units (Student's t, practices − 1 degrees of freedom). The minimum detectable "
            "effect is (t₁₋α/₂ + t₀.₈) × standard error.\n"
            f"- **Small numbers.** Counts of 1 to {thr} persons, and anything computed from them, are suppressed "
            "(Statistics Denmark's rule); so is a second cell where one suppressed cell could be recovered by "
            f"subtraction. Where a cluster has fewer than {self._imp('min_practices', 3)} practices with data, or too few "
            "months around its start, the report says so instead of printing a number.\n"
            "- **Rates** are crude rates per listed patient (not age/sex standardised in this report)."
        )


class ClusterReport(_Base):
    """Everything one cluster's report shows, read from the run's tables."""

    def __init__(self, run_dir, cluster_id, dpi: int = 80):
        super().__init__(run_dir, dpi)
        self.cid = str(cluster_id)
        cl = read_table(self.run, "clusters", cluster_id=self.cid)
        if not len(cl):
            raise ValueError(f"cluster {self.cid!r} is not in this run's clusters table")
        self.cluster = cl.iloc[0]
        self.acts = read_table(self.run, "activities", cluster_id=self.cid).sort_values("start")
        self.topics_up = list(self.acts["topic"])
        self.meta_up = self.meta[self.meta["topic"].isin(self.topics_up)]
        self.effects_all = read_table(self.run, "effects")
        self.eff = self.effects_all[self.effects_all["cluster_id"] == self.cid]
        self.starts = {iid: self.acts.set_index("topic").loc[t, "exposed_from"]
                       for iid, t in self.meta_up["topic"].items()}

    def _none_up(self) -> bool:
        if not self.topics_up:
            show_markdown("*The cluster has not taken up any topic in the period covered by the data, so there is "
                          "nothing to show here; see the standing against the nation below.*")
            return True
        return False

    def title(self):
        c = self.cluster
        show_markdown(f"# {html.escape(str(c['name']))}\n\nCluster **{html.escape(self.cid)}**, region "
                      f"{html.escape(str(c['region']))} · run *{html.escape(str(self.config.get('run_name', '')))}*")

    def key_messages(self):
        c = self.cluster
        lines = []
        if self.topics_up:
            took = "; ".join(f"{t} (first exposed {pd.Timestamp(s):%B %Y})"
                             for t, s in zip(self.acts["topic"], self.acts["exposed_from"]))
            lines.append(f"- The cluster's {c['n_practices']} practices took up: {took}.")
        else:
            lines.append(f"- The cluster's {c['n_practices']} practices have not taken up any topic in the period of "
                         "the data, so no effect can be estimated.")
        for r in self.eff.to_dict("records"):
            m = self.meta.loc[r["indicator_id"]]
            v = verdict(r, m["better"])
            if r["status"] == "estimated" and np.isfinite(r["lower"]):
                text = (f"- **{m['title']}**: {v} — a difference of {num(r['estimate'])} {diff_unit(m)} "
                        f"(95% CI {num(r['lower'])} to {num(r['upper'])}).")
                if placebo_flag(r):
                    text += " *Caution: the placebo check before the start is not near zero.*"
            else:
                text = f"- **{m['title']}**: {v}; no effect can be estimated."
            lines.append(text)
        st = self._standing()
        if len(st):
            counts = st["standing"].value_counts()
            parts = [f"{counts.get(k, 0)} {k}" for k in ("better than the nation", "similar to the nation",
                                                          "worse than the nation") if counts.get(k, 0)]
            if parts:
                lines.append(f"- On indicators of topics not taken up (last 12 months): {', '.join(parts)}.")
        show_markdown("\n".join(lines))

    def profile(self):
        c = self.cluster
        listed = (f"{int(c['listed_patients']):,}" if np.isfinite(c.get("listed_patients", np.nan)) else "–")
        rows = [("Cluster", f"{c['name']} ({self.cid})"), ("Region", c["region"]),
                ("Practices", f"{c['n_practices']}"), ("Listed patients", listed)]
        for a in self.acts.itertuples():
            meetings = getattr(a, "meetings", np.nan)
            extra = f", {int(meetings)} meetings" if meetings is not None and np.isfinite(meetings) else ""
            rows.append((f"Topic: {a.topic}", f"first meeting {pd.Timestamp(a.start):%d %B %Y}{extra}"))
        show_table(pd.DataFrame(rows, columns=["", "value"]))

    def trends(self):
        if self._none_up():
            return
        ids = [self.cid, str(self.cluster["region"]), "nation"]
        tr = read_table(self.run, "trends")
        tr = tr[tr["unit_id"].isin(ids) & tr["indicator_id"].isin(self.meta_up.index)]
        spc = read_table(self.run, "spc", cluster_id=self.cid)
        fig = F.trends(tr, self.meta_up, self.cid, str(self.cluster["region"]), self.starts, spc)
        show_figure(fig, self.dpi, self.fmt)

    def funnels(self):
        if self._none_up():
            return
        fu = read_table(self.run, "funnel", cluster_id=self.cid)
        lim = read_table(self.run, "funnel_limits", cluster_id=self.cid)
        fig, hidden = F.funnels(fu, lim, self.meta_up)
        show_figure(fig, self.dpi, self.fmt)
        n_hidden = sum(hidden.values())
        if n_hidden:
            show_markdown(f"*{n_hidden} practice-period points are not shown: their counts are too small to publish.*")
        out = fu[(fu["phase"] == "after") & fu["value"].notna() & ~fu["position"].astype(str).str.startswith("within")]
        if len(out):
            t = out.assign(indicator=out["indicator_id"].map(self.meta["title"]))
            t = t.assign(better=t["indicator_id"].map(self.meta["better"]))
            show_markdown("Practices outside the limits after the start (the labels in the plots):")
            show_table(pd.DataFrame({"topic": t["topic"], "practice": t["practice"], "indicator": t["indicator"],
                                     "position": t["position"], "higher is": np.where(t["better"] == "higher",
                                                                                       "better", "worse")}))
        elif len(fu):
            show_markdown("*After the start every practice shown lies within the 95% limits.*")

    def effects(self):
        if self._none_up():
            return
        rows = []
        for r in self.eff.to_dict("records"):
            m = self.meta.loc[r["indicator_id"]]
            ok = r["status"] == "estimated"
            rows.append({"topic": r["topic"], "indicator": m["title"],
                         "effect (95% CI)": interval(r["estimate"], r["lower"], r["upper"]) if ok else TOO_SMALL,
                         "unit": diff_unit(m),
                         "placebo (95% CI)": interval(r["placebo"], r["placebo_lower"], r["placebo_upper"])
                         if ok else "–",
                         "minimum detectable": num(r["mde"]) if ok else "–",
                         "practices (cluster / comparison)": f"{r['n_treated']} / {r['n_control']}",
                         "reading": verdict(r, m["better"])})
        show_table(pd.DataFrame(rows))

    def event_study(self):
        if self._none_up():
            return
        es = read_table(self.run, "event_study", cluster_id=self.cid)
        if not len(es):
            show_markdown(f"*{TOO_SMALL}: no indicator had enough practices and months for an event study.*")
            return
        pes = read_table(self.run, "pooled_event_study")
        meta = self.meta_up[self.meta_up.index.isin(es["indicator_id"])]
        show_figure(F.event_study(es, meta, pes), self.dpi, self.fmt)

    def forest(self):
        if self._none_up():
            return
        eff = self.effects_all[self.effects_all["indicator_id"].isin(self.meta_up.index)]
        pooled = read_table(self.run, "pooled")
        show_figure(F.forest(eff, self.meta_up, pooled, highlight=self.cid,
                             labels={self.cid: "this cluster"}), self.dpi, self.fmt)
        if not (self.eff["status"] == "estimated").any():
            show_markdown("*This cluster has no estimate to place among the others (too few practices or months).*")

    def variation(self):
        if self._none_up():
            return
        v = read_table(self.run, "variation", cluster_id=self.cid)
        rows = []
        for r in v.to_dict("records"):
            m = self.meta.loc[r["indicator_id"]]
            lo, hi = r.get("lower", np.nan), r.get("upper", np.nan)
            if not np.isfinite(r["difference"]):
                reading = TOO_SMALL
            elif np.isfinite(hi) and hi < 0:
                reading = "practices became more alike than in comparison clusters"
            elif np.isfinite(lo) and lo > 0:
                reading = "practices became less alike than in comparison clusters"
            else:
                reading = "no clear change in variation compared with comparison clusters"
            rows.append({"topic": r["topic"], "indicator": m["title"], "SD before": num(r["sd_before"]),
                         "SD after": num(r["sd_after"]), "change": num(r["change"]),
                         "change in comparison clusters": num(r["comparison_change"]),
                         "difference (95% CI)": interval(r["difference"], lo, hi) if np.isfinite(lo)
                         else num(r["difference"]), "reading": reading})
        show_table(pd.DataFrame(rows))

    def _standing(self) -> pd.DataFrame:
        st = read_table(self.run, "standing", cluster_id=self.cid)
        if not len(st):
            return st
        st = st.join(self.meta[["title", "topic", "unit"]], on="indicator_id")
        return st[~st["topic"].isin(self.topics_up)]

    def standing(self):
        st = self._standing()
        if not len(st):
            show_markdown("*The cluster has taken up every topic in the data.*")
            return
        out = pd.DataFrame({"topic": st["topic"], "indicator": st["title"],
                            "cluster (95% CI)": [interval(a, b, c) for a, b, c in
                                                 zip(st["value"], st["lower"], st["upper"])],
                            "nation": [num(x) for x in st["national"]], "unit": st["unit"],
                            "standing": st["standing"]}).sort_values(["topic", "indicator"])
        show_table(out)

    def caveats(self):
        text = self.methods_text()
        small = self.eff[self.eff["status"] != "estimated"]
        if len(small):
            names = ", ".join(self.meta.loc[i, "title"] for i in small["indicator_id"])
            text += f"\n- **In this cluster**, no effect could be estimated for: {names} ({small['status'].iloc[0]})."
        plc = [self.meta.loc[r["indicator_id"], "title"] for r in self.eff.to_dict("records") if placebo_flag(r)]
        if plc:
            text += ("\n- **Placebo warning** for: " + ", ".join(plc) + ". The practices were already moving apart "
                     "from the comparison before the start; read these effects with caution.")
        show_markdown(text)


class NationalOverview(_Base):
    """The national overview: every cluster, pooled effects, heterogeneity, variation trends."""

    def __init__(self, run_dir, dpi: int = 80):
        super().__init__(run_dir, dpi)
        self.clusters = read_table(self.run, "clusters")
        self.effects = read_table(self.run, "effects")
        self.pooled = read_table(self.run, "pooled")
        self.names = dict(zip(self.clusters["cluster_id"], self.clusters["name"]))
        self.national = self._optional("national_effects")

    def _optional(self, name: str) -> pd.DataFrame:
        return read_table(self.run, name) if (self.run / "tables" / f"{name}.parquet").exists() else pd.DataFrame()

    def title(self):
        n_up = self.effects["cluster_id"].nunique() if len(self.effects) else 0
        show_markdown(f"# National overview — {html.escape(str(self.config.get('run_name', '')))}\n\n"
                      f"{len(self.clusters)} clusters, {n_up} of them with at least one topic taken up in the data.")

    def key_messages(self):
        lines = []
        for r in self.pooled.to_dict("records"):
            m = self.meta.loc[r["indicator_id"]]
            v = verdict({**r, "status": "estimated"}, m["better"]).replace("comparison practices",
                                                                          "comparison practices on average")
            lines.append(f"- **{m['title']}** ({r['k']} clusters): {v} — {num(r['estimate'])} {diff_unit(m)} "
                         f"(95% CI {num(r['lower'])} to {num(r['upper'])}); a new cluster's effect would be expected "
                         f"between {num(r['pi_lower'])} and {num(r['pi_upper'])}.")
        if not lines:
            lines.append("- No cluster had enough practices and months around its start for an effect estimate.")
        n_small = int((self.effects["status"] != "estimated").sum()) if len(self.effects) else 0
        if n_small:
            lines.append(f"- {n_small} cluster-indicator estimates were not made (too few practices or months).")
        show_markdown("\n".join(lines))

    def status_table(self):
        """One table per topic: the clusters that took it up, when, and each indicator's effect (or why none)."""
        e = self.effects.copy()
        if not len(e):
            show_markdown("*No cluster took up a topic in the period of the data.*")
            return
        e["cell"] = [interval(a, b, c) if s == "estimated" else s for a, b, c, s in
                     zip(e["estimate"], e["lower"], e["upper"], e["status"])]
        for topic, g in e.groupby("topic"):
            cols = {iid: f"{_short_title(self.meta.loc[iid, 'title'])} — effect ({diff_unit(self.meta.loc[iid])})"
                    for iid in sorted(g["indicator_id"].unique())}
            wide = g.pivot_table(index=["cluster_id", "start"], columns="indicator_id", values="cell",
                                 aggfunc="first").reset_index().rename(columns=cols)
            wide.insert(1, "name", wide["cluster_id"].map(self.names))
            wide["start"] = pd.to_datetime(wide["start"]).dt.strftime("%Y-%m")
            wide.columns.name = None
            show_markdown(f"### {topic} — {len(wide)} clusters")
            show_table(wide.sort_values("cluster_id").fillna("–"))
        none = self.clusters[~self.clusters["cluster_id"].isin(e["cluster_id"])]
        if len(none):
            show_markdown(f"### No topic taken up — {len(none)} clusters")
            show_table(none[["cluster_id", "name", "region"]])

    def pooled_table(self):
        rows = []
        nat = self.national.set_index("indicator_id") if len(self.national) else None
        for r in self.pooled.to_dict("records"):
            m = self.meta.loc[r["indicator_id"]]
            row = {"topic": r["topic"], "indicator": m["title"], "clusters": r["k"],
                   "pooled effect (95% CI)": interval(r["estimate"], r["lower"], r["upper"]),
                   "unit": diff_unit(m),
                   "prediction interval": f"{num(r['pi_lower'])} to {num(r['pi_upper'])}",
                   "reading": verdict({**r, "status": "estimated"}, m["better"])}
            if nat is not None and r["indicator_id"] in nat.index:
                n = nat.loc[r["indicator_id"]]
                row["national effect, all practices (95% CI)"] = interval(n["value"], n["lower"], n["upper"])
            rows.append(row)
        show_table(pd.DataFrame(rows)) if rows else show_markdown(f"*{TOO_SMALL}.*")

    def forest(self):
        meta = self.meta[self.meta.index.isin(self.effects["indicator_id"])] if len(self.effects) else self.meta[:0]
        if not len(meta):
            show_markdown(f"*{TOO_SMALL}.*")
            return
        show_figure(F.forest(self.effects, meta, self.pooled), self.dpi, self.fmt)

    def event_studies(self):
        pes = self._optional("national_event_study")
        if len(pes):
            show_markdown("*Callaway & Sant'Anna (2021) event-study aggregation over every cluster's start, "
                          "practices compared with practices not yet treated.*")
        else:
            pes = read_table(self.run, "pooled_event_study")
            show_markdown("*Random-effects pooling of the clusters' own event studies.*")
        if not len(pes):
            show_markdown(f"*{TOO_SMALL}.*")
            return
        meta = self.meta[self.meta.index.isin(pes["indicator_id"])]
        show_figure(F.event_study(pes, meta), self.dpi, self.fmt)

    def heterogeneity(self):
        rows = [{"topic": r["topic"], "indicator": self.meta.loc[r["indicator_id"], "title"], "clusters": r["k"],
                 "tau²": num(r["tau2"], 3),
                 "I²": f"{100 * r['i2']:.0f}%" if np.isfinite(r["i2"]) else "–", "Q": num(r["q"]),
                 "prediction interval": f"{num(r['pi_lower'])} to {num(r['pi_upper'])}", "method": r["method"]}
                for r in self.pooled.to_dict("records")]
        show_table(pd.DataFrame(rows)) if rows else show_markdown(f"*{TOO_SMALL}.*")

    def variation_trends(self):
        vt = read_table(self.run, "variation_trend")
        if not len(vt):
            show_markdown(f"*{TOO_SMALL}.*")
            return
        meta = self.meta[self.meta.index.isin(vt["indicator_id"])]
        show_figure(F.variation_trends(vt, meta), self.dpi, self.fmt)

    def truth_check(self):
        tc = self._optional("truth_check")
        if not len(tc):
            show_markdown("*Real data: there are no true effects to compare with.*")
            return
        rows = []
        for iid, g in tc.groupby("indicator_id"):
            m = self.meta.loc[iid]
            rows.append({"topic": m["topic"], "indicator": m["title"], "clusters": len(g),
                         "mean true effect": num(g["true_effect"].mean()), "mean estimate": num(g["estimate"].mean()),
                         "mean error": num((g["estimate"] - g["true_effect"]).mean()), "unit": diff_unit(m),
                         "intervals covering the truth": f"{100 * g['covered'].mean():.0f}%"})
        show_table(pd.DataFrame(rows).sort_values(["topic", "indicator"]))
        show_markdown(f"*Over all {len(tc)} estimates, {100 * tc['covered'].mean():.1f}% of the 95% intervals contain "
                      "the true effect (averaged over the same months since the start).*")

    def caveats(self):
        show_markdown(self.methods_text() + "\n- **Pooling** is a random-effects meta-analysis of the clusters' "
                      "effects (REML estimate of the between-cluster variance τ²; DerSimonian-Laird for the pooled "
                      "event study), with a prediction interval μ ± z·√(SE² + τ²) for a new cluster; an indicator "
                      "with fewer than two clusters with an interval is not pooled.")
