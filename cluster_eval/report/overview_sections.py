"""The national overview's sections: every cluster, pooled effects, heterogeneity, variation trends.

The notebook (``notebooks/national_overview.ipynb``) makes one call per section; reading, wording
(:mod:`.wording`) and drawing (:mod:`.figures`) live here. Nothing is refitted. Adding a section: one method
here and one notebook cell calling it.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from . import figures as F
from .display import SectionsBase, show_figure, show_markdown, show_table
from .tables import read_table
from .wording import TOO_SMALL, diff_unit, interval, num, short_title, verdict


class NationalOverview(SectionsBase):
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
                         f"({self.settings.ci} {num(r['lower'])} to {num(r['upper'])}); a new cluster's effect "
                         f"would be expected between {num(r['pi_lower'])} and {num(r['pi_upper'])}.")
        if not lines:
            lines.append("- No cluster had enough practices and months around its start for an effect estimate.")
        n_small = int((self.effects["status"] != "estimated").sum()) if len(self.effects) else 0
        if n_small:
            lines.append(f"- {n_small} cluster-indicator estimates were not made (too few practices or months).")
        show_markdown("\n".join(lines))

    def status_table(self):
        """One table per topic: the clusters that took it up, when, and each indicator's effect (or why none) with
        its Benjamini-Hochberg q-value over every cluster x indicator effect of the run (docs/methods.md)."""
        e = self.effects.copy()
        if not len(e):
            show_markdown("*No cluster took up a topic in the period of the data.*")
            return
        q = e["q_value"] if "q_value" in e else pd.Series(np.nan, index=e.index)
        e["cell"] = [interval(a, b, c) + (f", q = {qq:.2g}" if np.isfinite(qq) else "") if s == "estimated" else s
                     for a, b, c, s, qq in zip(e["estimate"], e["lower"], e["upper"], e["status"], q)]
        for topic, g in e.groupby("topic"):
            cols = {iid: f"{short_title(self.meta.loc[iid, 'title'])} — effect ({diff_unit(self.meta.loc[iid])})"
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
                   f"pooled effect ({self.settings.ci})": interval(r["estimate"], r["lower"], r["upper"]),
                   "unit": diff_unit(m),
                   "prediction interval": f"{num(r['pi_lower'])} to {num(r['pi_upper'])}",
                   "reading": verdict({**r, "status": "estimated"}, m["better"])}
            if nat is not None and r["indicator_id"] in nat.index:
                n = nat.loc[r["indicator_id"]]
                row[f"national effect, all practices ({self.settings.ci})"] = interval(n["value"], n["lower"],
                                                                                        n["upper"])
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
                          "practices compared with practices "
                          f"{self.settings.comparison_words} on the topic.*")
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
        show_markdown(f"*Over all {len(tc)} estimates, {100 * tc['covered'].mean():.1f}% of the "
                      f"{self.settings.pct} intervals contain the true effect (averaged over the same months since "
                      "the start).*")

    def caveats(self):
        show_markdown(self.methods_text() + "\n- **Pooling** is a random-effects meta-analysis of the clusters' "
                      "effects (REML estimate of the between-cluster variance τ²; DerSimonian-Laird for the pooled "
                      "event study), with a prediction interval μ ± z·√(SE² + τ²) for a new cluster; an indicator "
                      "with fewer than two clusters with an interval is not pooled.")
