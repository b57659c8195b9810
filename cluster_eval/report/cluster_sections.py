"""The cluster report's sections: each method reads the run's table slices for one cluster and shows one part.

The notebook (``notebooks/cluster_report.ipynb``) makes one call per section; reading, wording
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
from .wording import (
    TOO_SMALL,
    diff_unit,
    funnel_note,
    interval,
    num,
    placebo_flag,
    spc_note,
    standing_note,
    verdict,
)


class ClusterReport(SectionsBase):
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
            v = verdict(r, m["better"], diff_unit(m))
            title = m["title"] + (" (primary indicator of the topic)" if bool(m.get("primary", False)) else "")
            if r["status"] == "estimated" and np.isfinite(r["lower"]):
                text = (f"- **{title}**: {v} — a difference of {num(r['estimate'])} {diff_unit(m)} "
                        f"({self.settings.ci} {num(r['lower'])} to {num(r['upper'])})")
                if np.isfinite(r.get("shrunk_estimate", np.nan)):
                    text += (f"; {num(r['shrunk_estimate'])} ({num(r['shrunk_lower'])} to "
                             f"{num(r['shrunk_upper'])}) taking all clusters' effects into account")
                text += "."
                if placebo_flag(r):
                    text += (" *Caution: the cluster was already moving before its start (placebo check); a "
                             "pre-existing trend or a bad spell before the start can inflate the effect.*")
            else:
                text = f"- **{title}**: {v}; no effect can be estimated."
            lines.append(text)
        st = self._standing()
        if len(st):
            counts = st["standing"].value_counts()
            parts = [f"{counts.get(k, 0)} {k}" for k in ("better than expected", "as expected",
                                                          "worse than expected") if counts.get(k, 0)]
            if parts:
                lines.append(f"- On indicators of topics not taken up (last 12 months, against the nation at the "
                             f"99.8% level): {', '.join(parts)}.")
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
        tr = read_table(self.run, "trends", unit_id=ids, indicator_id=list(self.meta_up.index))
        spc = read_table(self.run, "spc", cluster_id=self.cid)
        fig = F.trends(tr, self.meta_up, self.cid, str(self.cluster["region"]), self.starts, spc)
        show_figure(fig, self.dpi, self.fmt)
        show_markdown(spc_note(spc))

    def spc(self):
        """The cluster's series relative to the nation (O/E) around each start, with frozen limits."""
        if self._none_up():
            return
        chart = read_table(self.run, "spc_chart", cluster_id=self.cid)
        rules = read_table(self.run, "spc", cluster_id=self.cid)
        if not len(chart):
            reasons = sorted(set(rules["reason"].astype(str)) - {""}) if len(rules) else []
            show_markdown("*No SPC chart: " + ("; ".join(reasons) if reasons else "no months to chart") + ".*")
            return
        show_figure(F.spc_relative(chart, rules, self.meta_up), self.dpi, self.fmt)
        show_markdown(spc_note(rules))

    def funnels(self, level: float = 0.998):
        """The practices' funnels; practices outside the ``level`` limits (0.998, or 0.95 on request) listed."""
        if level not in (0.95, 0.998):
            raise ValueError(f"level must be 0.95 or 0.998; got {level!r}")
        if self._none_up():
            return
        fu = read_table(self.run, "funnel", cluster_id=self.cid)
        lim = read_table(self.run, "funnel_limits", cluster_id=self.cid)
        fig, hidden = F.funnels(fu, lim, self.meta_up)
        show_figure(fig, self.dpi, self.fmt)
        n_hidden = sum(hidden.values())
        if n_hidden:
            show_markdown(f"*{n_hidden} practice-period points are not shown: their counts are too small to publish.*")
        col = "standing" if level == 0.998 else "standing_95"
        tag = "99.8%" if level == 0.998 else "95%"
        words = fu[col].astype(str) if col in fu else pd.Series("", index=fu.index)
        out = fu[(fu["phase"] == "after") & fu["value"].notna() & (words != "")]
        if len(out):
            t = out.assign(indicator=out["indicator_id"].map(self.meta["title"]))
            show_markdown(f"Practices outside the {tag} limits after the start:")
            show_table(pd.DataFrame({"topic": t["topic"], "practice": t["practice"], "indicator": t["indicator"],
                                     "position": t["position"], "reading": t[col]}))
        elif len(fu):
            show_markdown(f"*After the start every practice shown lies within the {tag} limits.*")
        show_markdown(funnel_note(tag))

    def effects(self):
        if self._none_up():
            return
        rows, ci = [], self.settings.ci
        for r in self.eff.to_dict("records"):
            m = self.meta.loc[r["indicator_id"]]
            ok = r["status"] == "estimated"
            rows.append({"topic": r["topic"], "indicator": m["title"],
                         f"effect ({ci})": interval(r["estimate"], r["lower"], r["upper"]) if ok else TOO_SMALL,
                         "unit": diff_unit(m),
                         f"placebo ({ci})": interval(r["placebo"], r["placebo_lower"], r["placebo_upper"])
                         if ok else "–",
                         f"shrunk effect ({ci})": interval(r.get("shrunk_estimate", np.nan), r.get("shrunk_lower"),
                                                           r.get("shrunk_upper")) if ok else "–",
                         "minimum detectable": num(r["mde"]) if ok else "–",
                         "practices (cluster / comparison)": f"{r['n_treated']} / {r['n_control']}",
                         "reading": verdict(r, m["better"], diff_unit(m))})
        show_table(pd.DataFrame(rows))
        self.settings_note()

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
            ratio = r.get("ratio", np.nan)
            rows.append({"topic": r["topic"], "indicator": m["title"],
                         "CV before": num(r["cv_before"], 3), "CV after": num(r["cv_after"], 3),
                         f"ratio of the CV's change to the comparison clusters' ({self.settings.ci})":
                         interval(ratio, r.get("ratio_lower", np.nan), r.get("ratio_upper", np.nan))
                         if np.isfinite(r.get("ratio_lower", np.nan)) else num(ratio), "reading": reading})
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
        measure = np.where(st["standardised"].astype(bool), "standardised (age, sex)", "crude") \
            if "standardised" in st else "crude"
        out = pd.DataFrame({"topic": st["topic"], "indicator": st["title"], "cluster": [num(x) for x in st["value"]],
                            "nation": [num(x) for x in st["national"]],
                            "expected range (95%)": [f"{num(a)} to {num(b)}" for a, b in zip(st["lower"], st["upper"])],
                            "unit": st["unit"], "measure": measure,
                            "standing (99.8%)": st["standing"]}).sort_values(["topic", "indicator"])
        show_table(out)
        show_markdown(standing_note(st))

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
