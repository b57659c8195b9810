"""The cluster report's sections: each method reads the run's table slices for one cluster and shows one part.

The report answers first and details after (issue 17): the title; the first screen (:mod:`.first_screen`:
the topics taken up and when, each topic's primary indicator with its reading, where to look next, questions
for the meeting); the details, one block per topic (effects, the cluster among all others, a row of panels per
indicator: :mod:`.topic_figures`); the standing on topics not taken up; methods. A cluster that has taken up
no topic gets a short report: profile, standing, and what taking up a topic would show.

The notebook (``notebooks/cluster_report.ipynb``) makes one call per section; reading, wording
(:mod:`.wording`) and drawing (:mod:`.figures`, :mod:`.topic_figures`) live here and there. Nothing is
refitted. Every text a reader sees goes through :func:`.i18n._`. Adding a section: one method here and one
notebook cell calling it.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from . import first_screen as FS
from . import i18n
from . import topic_figures as TF
from .display import SectionsBase, show_figure, show_html, show_markdown, show_table, topic_name
from .i18n import N_, _
from .tables import read_table
from .wording import (
    caution,
    diff_unit,
    dip_flag,
    funnel_note,
    interval,
    measure_word,
    num,
    placebo_flag,
    spc_note,
    standing_note,
    too_small,
    trends_note,
    verdict,
)


def _e(x) -> str:
    return html.escape(str(x))


def _h(level: int, text: str, extra: str = "", anchor: str | None = None) -> str:
    """A heading (``text`` escaped, ``extra`` HTML after it)."""
    ident = f' id="{anchor}"' if anchor else ""
    return f"<h{level}{ident}>{_e(text)}{extra}</h{level}>"


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
        self.funnel = read_table(self.run, "funnel", cluster_id=self.cid)

    # -- the first screen ----------------------------------------------------------------------------------
    def title(self):
        """The cluster's name, its region, practices and listed patients, and the run."""
        c = self.cluster
        listed = c.get("listed_patients", np.nan)
        facts = [_("cluster {id}").format(id=self.cid), _("region {region}").format(region=c["region"]),
                 _("{n} practices").format(n=int(c["n_practices"]))]
        if listed is not None and np.isfinite(listed):
            facts.append(_("{n} listed patients").format(n=num(listed, 0)))
        facts.append(_("run {name}").format(name=self.config.get("run_name", "")))
        intro = _("From one national analysis of every cluster; practices are named by letter, and numbers "
                  "resting on too few persons are suppressed.")
        show_html(_h(1, c["name"]) + f'\n<p class="ce-sub">{_e(" · ".join(facts))}</p>\n'
                  f'<p class="ce-intro">{_e(intro)}</p>')

    def _standing(self) -> pd.DataFrame:
        """The standing table of the cluster on indicators of topics it has not taken up (title, topic joined)."""
        st = read_table(self.run, "standing", cluster_id=self.cid)
        if not len(st):
            return st
        st = st.join(self.meta[["title", "topic", "unit"]], on="indicator_id")
        return st[~st["topic"].isin(self.topics_up)]

    def first_screen(self):
        """What the cluster worked on and when, the primary readings, where to look next, the meeting box."""
        st = self._standing()
        sizes = (None if self.topics_up else
                 FS.detectable_sizes(self.effects_all, self.meta, int(self.cluster["n_practices"])))
        fs = FS.summarise(self.acts, self.eff, self.meta, self.funnel, st, self.settings.ci, sizes=sizes,
                          spc=read_table(self.run, "spc", cluster_id=self.cid))
        show_html(_h(2, _("Key messages")))
        if self.topics_up:
            show_html(FS.first_screen_html(fs, "", self.settings.ci))
            return
        lead = _("The cluster has not taken up a topic in the period of the data, so no effect can be estimated. "
                 "Its standing against the nation follows; this is what taking up a topic would show:")
        show_html(FS.first_screen_html(fs, _e(lead), self.settings.ci, extra=self._would_show(st, sizes)))

    def _would_show(self, st: pd.DataFrame, sizes: dict) -> str:
        """For a cluster without a topic: per topic, its primary indicator, where the cluster stands on it now,
        and the change clusters of about its size could detect (their reported minimum detectable effects)."""
        st = st.set_index("indicator_id") if len(st) else st
        head = (_("Topic"), _("Primary indicator"), _("Now, against the nation (last 12 months)"),
                _("Change a cluster of its size could detect"))
        rows = []
        for topic, (iid, mde, k, lo, hi) in sizes.items():
            m = self.meta.loc[iid]
            now = (_("{value} (nation {national}): {standing}").format(
                value=num(st.loc[iid, "value"]), national=num(st.loc[iid, "national"]),
                standing=i18n.translate_value(st.loc[iid, "standing"])) if len(st) and iid in st.index else "–")
            could = (_("about {mde} {unit} (median of {k} clusters of {lo}–{hi} practices)").format(
                mde=num(mde), unit=diff_unit(m), k=k, lo=lo, hi=hi) if np.isfinite(mde)
                else _("no cluster of this size has an estimate yet"))
            rows.append(f'<tr><th scope="row">{_e(topic_name(topic))}</th><td>{_e(m["title"])}</td><td>{_e(now)}</td>'
                        f"<td>{_e(could)}</td></tr>")
        ths = "".join(f'<th scope="col">{_e(h)}</th>' for h in head)
        return (f'<table class="ce-table ce-topics"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}'
                "</tbody></table>")

    # -- the details, by topic -----------------------------------------------------------------------------
    def details(self):
        """One block per topic taken up: effects, the cluster among all others, a row of panels per indicator."""
        if not self.topics_up:
            return
        show_html(_h(2, _("Details by topic")))
        spc = read_table(self.run, "spc", cluster_id=self.cid)
        notes = [_("Per topic: the effects of the cluster's work on each indicator (primary first) against "
                   "comparable practices that had not yet taken the topic up; a strip per indicator with this "
                   "cluster's effect (red, with its interval) among the other clusters' (grey) and the pooled "
                   "effect (orange); then a row per indicator: the monthly values against region and nation "
                   "(dashed line: the first exposed month), the cluster relative to the nation with limits from "
                   "before the start (SPC), the practices before (grey) and after (red) the start against the "
                   "95% (dashed) and 99.8% (solid) funnel limits, those outside lettered, and the effect month "
                   "by month with all clusters pooled behind it (orange)."), self.settings.note()]
        show_html('<div class="ce-note"><ul>' + "".join(f"<li>{_e(x)}</li>" for x in notes) + "</ul></div>")
        ids = [self.cid, str(self.cluster["region"]), "nation"]
        tr = read_table(self.run, "trends", unit_id=ids, indicator_id=list(self.meta_up.index))
        data = {"trend": tr, "spc": spc, "chart": read_table(self.run, "spc_chart", cluster_id=self.cid),
                "funnel": self.funnel, "limits": read_table(self.run, "funnel_limits", cluster_id=self.cid),
                "es": read_table(self.run, "event_study", cluster_id=self.cid),
                "pooled_es": read_table(self.run, "pooled_event_study")}
        variation = read_table(self.run, "variation", cluster_id=self.cid)
        pooled = read_table(self.run, "pooled")
        for k, a in enumerate(self.acts.itertuples(index=False)):
            self._topic(a, data, variation, pooled, legend=k == 0)

    def _topic(self, act, data: dict, variation: pd.DataFrame, pooled: pd.DataFrame, legend: bool):
        topic = act.topic
        meta = self.meta_up[self.meta_up["topic"] == topic]
        prim = FS.primary_of(meta, topic)
        if prim is None:   # a topic without an indicator in this run (params: indicators, topics)
            return
        meta = meta.loc[[prim, *[i for i in meta.index if i != prim]]]
        meetings = getattr(act, "meetings", np.nan)
        when = _("first meeting {date}").format(date=FS.day_month_year(act.start))
        if meetings is not None and np.isfinite(meetings):
            when += ", " + FS.meetings_text(meetings)
        table = self._effects_table(meta, variation[variation["topic"] == topic])
        col = _("practices: cluster / comparison")
        if col in table and table[col].nunique() == 1:  # the same for every indicator: said once
            t, c = (float(x) for x in str(table[col].dropna().iloc[0]).split(" / "))
            when += "; " + _("{n} practices against {m} comparison practices").format(n=num(t, 0), m=num(c, 0))
            table = table.drop(columns=col)
        show_html(_h(3, topic_name(topic), f' <span class="ce-when">({_e(when)})</span>', anchor=FS.topic_anchor(topic)))
        show_table(table)
        eff = self.effects_all[self.effects_all["indicator_id"].isin(meta.index)]
        show_figure(TF.forest_strips(eff, meta, pooled, self.cid, legend=legend), self.dpi, self.fmt)
        fig, hidden = TF.indicator_rows(meta, cluster_id=self.cid, region=str(self.cluster["region"]),
                                        starts=self.starts, **data)
        show_figure(fig, self.dpi, self.fmt)
        out = FS.outside_limits(data["funnel"])
        out = out[out["topic"] == topic]
        lines = []
        for iid in meta.index:
            o = out[out["indicator_id"] == iid]
            for word, g in o.groupby("standing"):
                lines.append(_("{indicator}: {practices} {reading}").format(
                    indicator=meta.loc[iid, "title"], practices=FS.practice_phrase(g["practice"]),
                    reading=i18n.translate_value(word)))
        n_hidden = sum(v for (iid, _phase), v in hidden.items() if iid in meta.index)
        text = (_("Outside the 99.8% limits after the start: {list}.").format(list="; ".join(lines)) if lines
                else _("After the start every practice shown lies within the 99.8% limits."))
        if n_hidden:
            text += " " + _("{n} practice-period points are not shown: their counts are too small to publish."
                            ).format(n=n_hidden)
        show_html(f'<p class="ce-small">{_e(text)}</p>')

    def _effects_table(self, meta: pd.DataFrame, variation: pd.DataFrame) -> pd.DataFrame:
        ci = self.settings.ci
        var = variation.set_index("indicator_id") if len(variation) else variation
        eff = self.eff.set_index("indicator_id")
        rows = []
        for iid in meta.index:
            m = meta.loc[iid]
            title = str(m["title"]) + (" " + _("(primary)") if bool(m.get("primary", False)) else "")
            title += " — " + diff_unit(m)
            if iid not in eff.index:
                rows.append({_("indicator"): title, _("reading"): _("no effect estimated")})
                continue
            r = eff.loc[iid].to_dict()
            ok = r["status"] == "estimated"
            note = caution(r) if ok else ""
            rows.append({
                _("indicator"): title,
                _("effect ({ci})").format(ci=ci):
                    interval(r["estimate"], r["lower"], r["upper"]) if ok else too_small(),
                _("reading"): verdict(r, m["better"], diff_unit(m)) + (f" ({note})" if note else ""),
                _("allowing for all clusters ({ci})").format(ci=ci):
                    interval(r.get("shrunk_estimate", np.nan), r.get("shrunk_lower"), r.get("shrunk_upper"))
                    if ok else "–",
                _("placebo ({ci})").format(ci=ci):
                    interval(r["placebo"], r["placebo_lower"], r["placebo_upper"]) if ok else "–",
                _("practices: cluster / comparison"): f"{r['n_treated']} / {r['n_control']}",
                _("practices' spread vs comparison"): self._variation_cell(var, iid)})
        return pd.DataFrame(rows)

    def _variation_cell(self, var: pd.DataFrame, iid) -> str:
        """The change in variation between practices: the ratio of the CV's change to the comparison's, read."""
        if not len(var) or iid not in var.index:
            return "–"
        r = var.loc[iid]
        lo, hi = r.get("lower", np.nan), r.get("upper", np.nan)
        if not np.isfinite(r["difference"]):
            return too_small()
        if np.isfinite(hi) and hi < 0:
            reading = _("more alike")
        elif np.isfinite(lo) and lo > 0:
            reading = _("less alike")
        else:
            reading = _("no clear change")
        ratio = r.get("ratio", np.nan)
        value = (interval(ratio, r.get("ratio_lower", np.nan), r.get("ratio_upper", np.nan))
                 if np.isfinite(r.get("ratio_lower", np.nan)) else num(ratio))
        return _("{reading}: {value}").format(reading=reading, value=value)

    # -- standing, methods ---------------------------------------------------------------------------------
    def standing(self):
        """Topics not taken up: the last 12 months against the nation (nothing when every topic is taken up)."""
        st = self._standing()
        if not len(st):
            return
        head = (_("Topics not taken up: standing against the nation") if self.topics_up
                else _("Standing against the nation"))
        show_html(_h(2, head))
        measure = ([measure_word(bool(x)) for x in st["standardised"]] if "standardised" in st
                   else measure_word(False))
        out = pd.DataFrame({_("topic"): [topic_name(t) for t in st["topic"]], _("indicator"): st["title"],
                            _("cluster"): [num(x) for x in st["value"]],
                            _("nation"): [num(x) for x in st["national"]],
                            _("expected range (95%)"): [_("{lower} to {upper}").format(lower=num(a), upper=num(b))
                                                        for a, b in zip(st["lower"], st["upper"])],
                            _("unit"): st["unit"], _("measure"): measure,
                            _("standing (99.8%)"): [i18n.translate_value(x) for x in st["standing"]]}
                           ).sort_values([_("topic"), _("indicator")])
        show_table(out)
        show_markdown(standing_note(st).strip("*"), css_class="ce-small")

    def caveats(self):
        show_html(_h(2, _("Methods and caveats")))
        text = self.methods_text()
        if self.topics_up:  # how the details' SPC and funnel panels are made
            spc = read_table(self.run, "spc", cluster_id=self.cid)
            ids = [self.cid, str(self.cluster["region"]), "nation"]
            tr = read_table(self.run, "trends", unit_id=ids, indicator_id=list(self.meta_up.index))
            text += ("\n- " + trends_note(tr).strip("*") + "\n- " + spc_note(spc).strip("*") + "\n- "
                     + funnel_note("99.8%", self.funnel).strip("*"))
        small = self.eff[self.eff["status"] != "estimated"]
        if len(small):
            names = ", ".join(self.meta.loc[i, "title"] for i in small["indicator_id"])
            text += "\n- " + _("**In this cluster**, no effect could be estimated for: {names} ({reason}).").format(
                names=names, reason=i18n.translate_value(small["status"].iloc[0]))
        checks = ((placebo_flag, N_("**Placebo warning** for: {names}. The practices were already moving apart "
                                    "from the comparison before the start; read these effects with caution.")),
                  (dip_flag, N_("**Dip warning** for: {names}. The last months before the start were unusual "
                                "against the cluster's earlier months (dip check); part of the change may be a "
                                "return to normal after a bad spell.")))
        rows = self.eff.to_dict("records")
        for flag, message in checks:
            names = [self.meta.loc[r["indicator_id"], "title"] for r in rows if flag(r)]
            if names:
                text += "\n- " + _(message).format(names=", ".join(names))
        show_markdown(text, css_class="ce-small")

    def how_to_cite(self):
        from .citation import how_to_cite

        show_html(_h(3, _("How to cite")))
        show_markdown(how_to_cite(self.run), css_class="ce-small")

