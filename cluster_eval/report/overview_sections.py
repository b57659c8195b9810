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
from . import i18n
from .display import SectionsBase, show_figure, show_markdown, show_table, topic_name
from .i18n import _
from .tables import read_table
from .wording import diff_unit, interval, num, short_title, too_small, verdict


def range_text(lower, upper) -> str:
    """"1.2 to 3.4" in the report's language."""
    return _("{lower} to {upper}").format(lower=num(lower), upper=num(upper))


def q_text(q: float) -> str:
    """A q-value with two significant digits (as ``f"{q:.2g}"``) in the locale."""
    text = f"{q:.2g}"
    if "e" in text or i18n.get_language() == "en":
        return text
    return text.replace(".", ",")


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
        show_markdown("# " + _("National overview — {run}").format(run=html.escape(str(self.config.get("run_name", ""))))
                      + "\n\n" + _("{n} clusters, {n_up} of them with at least one topic taken up in the data.").format(
                          n=len(self.clusters), n_up=n_up))

    def key_messages(self):
        lines = []
        for r in self.pooled.to_dict("records"):
            m = self.meta.loc[r["indicator_id"]]
            v = verdict({**r, "status": "estimated"}, m["better"])
            lines.append("- " + _("**{title}** ({k} clusters): {verdict} — {estimate} {unit} ({ci} {lower} to "
                                  "{upper}); a new cluster's effect would be expected between {pi_lower} and "
                                  "{pi_upper}.").format(
                title=m["title"], k=r["k"], verdict=v, estimate=num(r["estimate"]), unit=diff_unit(m),
                ci=self.settings.ci, lower=num(r["lower"]), upper=num(r["upper"]), pi_lower=num(r["pi_lower"]),
                pi_upper=num(r["pi_upper"])))
        if not lines:
            lines.append("- " + _("No cluster had enough practices and months around its start for an effect "
                                  "estimate."))
        n_small = int((self.effects["status"] != "estimated").sum()) if len(self.effects) else 0
        if n_small:
            lines.append("- " + _("{n} cluster-indicator estimates were not made (too few practices or "
                                  "months).").format(n=n_small))
        show_markdown("\n".join(lines))

    def status_table(self):
        """One table per topic: the clusters that took it up, when, and each indicator's effect (or why none) with
        its Benjamini-Hochberg q-value over every cluster x indicator effect of the run (docs/methods.md)."""
        e = self.effects.copy()
        if not len(e):
            show_markdown("*" + _("No cluster took up a topic in the period of the data.") + "*")
            return
        q = e["q_value"] if "q_value" in e else pd.Series(np.nan, index=e.index)
        e["cell"] = [interval(a, b, c) + (f", q = {q_text(qq)}" if np.isfinite(qq) else "") if s == "estimated"
                     else i18n.translate_value(s)
                     for a, b, c, s, qq in zip(e["estimate"], e["lower"], e["upper"], e["status"], q)]
        for topic, g in e.groupby("topic"):
            cols = {iid: _("{title} — effect ({unit})").format(title=short_title(self.meta.loc[iid, "title"]),
                                                               unit=diff_unit(self.meta.loc[iid]))
                    for iid in sorted(g["indicator_id"].unique())}
            wide = g.pivot_table(index=["cluster_id", "start"], columns="indicator_id", values="cell",
                                 aggfunc="first").reset_index().rename(columns=cols)
            wide.insert(1, "name", wide["cluster_id"].map(self.names))
            wide["start"] = [i18n.date(d, "ym") for d in wide["start"]]
            wide.columns.name = None
            wide = wide.sort_values("cluster_id").fillna("–").rename(
                columns={"cluster_id": _("cluster_id"), "name": _("name"), "start": _("start")})
            show_markdown("### " + _("{topic} — {n} clusters").format(topic=topic_name(topic), n=len(wide)))
            show_table(wide)
        none = self.clusters[~self.clusters["cluster_id"].isin(e["cluster_id"])]
        if len(none):
            show_markdown("### " + _("No topic taken up — {n} clusters").format(n=len(none)))
            show_table(none[["cluster_id", "name", "region"]].rename(
                columns={"cluster_id": _("cluster_id"), "name": _("name"), "region": _("region")}))

    def pooled_table(self):
        rows = []
        nat = self.national.set_index("indicator_id") if len(self.national) else None
        for r in self.pooled.to_dict("records"):
            m = self.meta.loc[r["indicator_id"]]
            row = {_("topic"): topic_name(r["topic"]), _("indicator"): m["title"], _("clusters"): r["k"],
                   _("pooled effect ({ci})").format(ci=self.settings.ci): interval(r["estimate"], r["lower"],
                                                                                   r["upper"]),
                   _("unit"): diff_unit(m),
                   _("prediction interval"): range_text(r["pi_lower"], r["pi_upper"]),
                   _("reading"): verdict({**r, "status": "estimated"}, m["better"])}
            if nat is not None and r["indicator_id"] in nat.index:
                n = nat.loc[r["indicator_id"]]
                row[_("national effect, all practices ({ci})").format(ci=self.settings.ci)] = interval(
                    n["value"], n["lower"], n["upper"])
            rows.append(row)
        show_table(pd.DataFrame(rows)) if rows else show_markdown(f"*{too_small()}.*")

    def forest(self):
        meta = self.meta[self.meta.index.isin(self.effects["indicator_id"])] if len(self.effects) else self.meta[:0]
        if not len(meta):
            show_markdown(f"*{too_small()}.*")
            return
        show_figure(F.forest(self.effects, meta, self.pooled), self.dpi, self.fmt)

    def event_studies(self):
        pes = self._optional("national_event_study")
        if len(pes):
            show_markdown("*" + _("Callaway & Sant'Anna (2021) event-study aggregation over every cluster's start, "
                                  "practices compared with practices {comparison} on the topic.").format(
                comparison=self.settings.comparison_words) + "*")
        else:
            pes = read_table(self.run, "pooled_event_study")
            show_markdown("*" + _("Random-effects pooling of the clusters' own event studies.") + "*")
        if not len(pes):
            show_markdown(f"*{too_small()}.*")
            return
        meta = self.meta[self.meta.index.isin(pes["indicator_id"])]
        show_figure(F.event_study(pes, meta), self.dpi, self.fmt)

    def heterogeneity(self):
        rows = [{_("topic"): topic_name(r["topic"]), _("indicator"): self.meta.loc[r["indicator_id"], "title"],
                 _("clusters"): r["k"], "tau²": num(r["tau2"], 3),
                 "I²": i18n.per_cent(100 * r["i2"]) if np.isfinite(r["i2"]) else "–", "Q": num(r["q"]),
                 _("prediction interval"): range_text(r["pi_lower"], r["pi_upper"]),
                 _("method"): i18n.translate_value(r["method"])}
                for r in self.pooled.to_dict("records")]
        show_table(pd.DataFrame(rows)) if rows else show_markdown(f"*{too_small()}.*")

    def variation_trends(self):
        vt = read_table(self.run, "variation_trend")
        if not len(vt):
            show_markdown(f"*{too_small()}.*")
            return
        meta = self.meta[self.meta.index.isin(vt["indicator_id"])]
        show_figure(F.variation_trends(vt, meta), self.dpi, self.fmt)

    def truth_check(self):
        tc = self._optional("truth_check")
        if not len(tc):
            show_markdown("*" + _("Real data: there are no true effects to compare with.") + "*")
            return
        rows = []
        for iid, g in tc.groupby("indicator_id"):
            m = self.meta.loc[iid]
            rows.append({_("topic"): topic_name(m["topic"]), _("indicator"): m["title"], _("clusters"): len(g),
                         _("mean true effect"): num(g["true_effect"].mean()),
                         _("mean estimate"): num(g["estimate"].mean()),
                         _("mean error"): num((g["estimate"] - g["true_effect"]).mean()), _("unit"): diff_unit(m),
                         _("intervals covering the truth"): i18n.per_cent(100 * g["covered"].mean())})
        show_table(pd.DataFrame(rows).sort_values([_("topic"), _("indicator")]))
        show_markdown("*" + _("Over all {n} estimates, {share} of the {pct} intervals contain the true effect "
                              "(averaged over the same months since the start).").format(
            n=len(tc), share=i18n.per_cent(100 * tc["covered"].mean(), 1), pct=self.settings.pct) + "*")

    def caveats(self):
        show_markdown(self.methods_text() + "\n" + _(
            "- **Pooling** is a random-effects meta-analysis of the clusters' effects (REML estimate of the "
            "between-cluster variance τ²; DerSimonian-Laird for the pooled event study), with a prediction interval "
            "μ ± z·√(SE² + τ²) for a new cluster; an indicator with fewer than two clusters with an interval is not "
            "pooled."))
