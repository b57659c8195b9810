"""The cluster report's first screen: what the cluster worked on and when, each topic's primary indicator with
its reading, where to look next, and questions to open the meeting.

Everything here is chosen from the run's tables and worded; nothing is estimated. The readings are
:func:`.wording.verdict`'s; the practices outside the limits are the funnel table's (``standing``: outside the
99.8% limits after the start, ``ce.stats`` funnels computed in the analyse stage), and only practices whose
value survived disclosure control are named; the standing of topics not taken up is the standing table's.
Practices are named by the labels the funnel table carries (pseudonyms "Practice A", "B", ... unless the run
turned ``report.pseudonymise`` off).

:func:`summarise` gathers the facts into a :class:`FirstScreen`; :func:`first_screen_html` lays them out.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import i18n
from .i18n import N_, _
from .wording import caution as caution_text
from .wording import diff_unit, num, verdict, verdict_key

PRACTICE = "Practice "
WORSE, BETTER = "worse than expected", "better than expected"
HIGHER, LOWER = "higher than expected", "lower than expected"


def month_year(ts) -> str:
    """'March 2019' / 'marts 2019': the month in the report's language."""
    return i18n.date(ts, "month")


def day_month_year(ts) -> str:
    """'1 March 2019' / '1. marts 2019': the day in the report's language."""
    return i18n.date(ts, "date")


def topic_text(topic) -> str:
    """A topic id ("antibiotics") as the reader sees it, in the report's language."""
    return i18n.translate_value(topic)


def topic_anchor(topic: str) -> str:
    """The id of a topic's details in the report (letters, digits and hyphens)."""
    return "topic-" + (re.sub(r"[^a-z0-9]+", "-", str(topic).lower()).strip("-") or "x")


def meetings_text(n) -> str:
    """'1 meeting' / '3 meetings'."""
    return _("1 meeting") if int(n) == 1 else _("{n} meetings").format(n=int(n))


def practice_phrase(labels) -> str:
    """'Practice C' or 'Practices C and F' (or 'C, F and H') from the funnel table's labels."""
    labels = sorted(dict.fromkeys(str(x) for x in labels))
    short = [x[len(PRACTICE):] if x.startswith(PRACTICE) else x for x in labels]
    if len(short) == 1:
        return _("Practice {name}").format(name=short[0])
    names = _("{first} and {last}").format(first=", ".join(short[:-1]), last=short[-1])
    return _("Practices {names}").format(names=names)


@dataclass
class TopicLine:
    """One topic taken up, with its primary indicator's reading."""

    topic: str
    start: pd.Timestamp
    meetings: float
    indicator_id: str
    title: str
    reading: str
    effect: str
    caution: str = ""       # :func:`cluster_eval.report.wording.caution`
    code: str = ""          # :func:`verdict_code`


@dataclass
class FirstScreen:
    """What the first screen says: the topics (or the standing when none), where to look next, questions."""

    topics: list = field(default_factory=list)
    look_next: list = field(default_factory=list)
    questions: list = field(default_factory=list)


def verdict_code(row, better: str) -> str:
    """The kind of an effect's reading, in no language (the report's words may be Danish): "improved",
    "worsened", "increased", "decreased", "no change", or "" when there is no estimate
    (:func:`cluster_eval.impact.multiplicity.verdict`, whose words :func:`.wording.verdict` translates)."""
    key = verdict_key({"status": None, "lower": np.nan, "upper": np.nan, **row}, better)   # one rule: wording.py
    if key == "no change detected":
        return "no change"
    return key if key in ("improved", "worsened", "increased", "decreased") else ""


def primary_of(meta: pd.DataFrame, topic: str) -> str | None:
    """The topic's primary indicator (the catalogue's ``primary: true``), else its first indicator."""
    ids = meta.index[meta["topic"] == topic]
    if not len(ids):
        return None
    if "primary" in meta:
        marked = [i for i in ids if bool(meta.loc[i, "primary"])]
        if marked:
            return marked[0]
    return ids[0]


def topic_lines(acts: pd.DataFrame, eff: pd.DataFrame, meta: pd.DataFrame, ci: str) -> list[TopicLine]:
    """One line per topic taken up (in order of start): the primary indicator's reading and effect."""
    out = []
    by_ind = eff.set_index("indicator_id") if len(eff) else eff
    for a in acts.itertuples(index=False):
        iid = primary_of(meta, a.topic)
        if iid is None:
            continue
        m = meta.loc[iid]
        meetings = getattr(a, "meetings", np.nan)
        if len(by_ind) and iid in by_ind.index:
            r = by_ind.loc[iid]
            r = (r.iloc[0] if isinstance(r, pd.DataFrame) else r).to_dict()
            reading = verdict(r, m["better"], diff_unit(m))
            code = verdict_code(r, m["better"])
            ok = r["status"] == "estimated" and np.isfinite(r["lower"])
            effect = (_("{value} {unit} ({ci} {lower} to {upper})").format(
                value=num(r["estimate"]), unit=diff_unit(m), ci=ci, lower=num(r["lower"]), upper=num(r["upper"]))
                if ok else "–")
            caution = caution_text(r) if ok else ""
        else:
            reading, effect, caution, code = _("no effect estimated"), "–", "", ""
        out.append(TopicLine(a.topic, pd.Timestamp(a.start), float(meetings) if meetings is not None else np.nan,
                             iid, str(m["title"]), reading, effect, caution, code))
    return out


def outside_limits(funnel: pd.DataFrame, column: str = "standing") -> pd.DataFrame:
    """The practices outside the 99.8% limits after the start (``column="standing_95"``: the 95% limits), with
    a published value (the funnel table); their reading in ``standing``."""
    cols = ["topic", "indicator_id", "practice", "standing"]
    if not len(funnel) or column not in funnel:
        return pd.DataFrame(columns=cols)
    f = funnel[(funnel["phase"] == "after") & funnel["value"].notna() & (funnel[column].astype(str) != "")]
    if "suppressed" in f:
        f = f[~f["suppressed"].astype(bool)]
    return f.assign(standing=f[column])[cols].reset_index(drop=True)


def _order(meta: pd.DataFrame, ids, topics: list) -> list:
    """Indicators: the topics' primary indicators first (in the order of the topics), then the others."""
    prim = [primary_of(meta, t) for t in topics]
    rank = {i: (0 if i in prim else 1, topics.index(meta.loc[i, "topic"]) if meta.loc[i, "topic"] in topics
                else len(topics), str(i)) for i in ids}
    return sorted(ids, key=rank.get)


def look_next(out: pd.DataFrame, meta: pd.DataFrame, topics: list, eff: pd.DataFrame, standing: pd.DataFrame,
              n: int = 2, spc: pd.DataFrame | None = None, out95: pd.DataFrame | None = None
              ) -> list[tuple[str | None, str]]:
    """Up to ``n`` concrete places to look, as (topic whose details show it, or None; text): practices outside
    the 99.8% limits (primary indicators first), else an indicator that moved, else an indicator of a topic not
    taken up that is worse than expected, else an SPC signal relative to the nation (``spc`` table), else
    practices outside the 95% limits (``out95``, said to be expected by chance for about 1 in 20)."""
    lines = _outside_lines(out, meta, topics, n, N_("{indicator} ({topic}): {parts}, outside the 99.8% limits after "
                                                    "the start."))
    if len(lines) < n and len(eff):
        moved = []
        for r in eff.to_dict("records"):
            m = meta.loc[r["indicator_id"]]
            word = verdict_code(r, m["better"])
            if word in ("improved", "worsened", "increased", "decreased") and r["indicator_id"] not in set(
                    out["indicator_id"]):
                moved.append((word != "worsened", r["indicator_id"], word))
        for _worse_first, iid, word in sorted(moved)[: n - len(lines)]:
            lines.append((meta.loc[iid, "topic"], _("{indicator} ({topic}) {reading} after the start.").format(
                indicator=meta.loc[iid, "title"], topic=topic_text(meta.loc[iid, "topic"]), reading=i18n.translate_value(word))))
    if len(lines) < n and len(standing):
        worse = standing[standing["standing"] == WORSE]
        for r in worse.head(n - len(lines)).to_dict("records"):
            lines.append((None, _("{indicator}: worse than expected against the nation over the last 12 months; "
                                  "its topic ({topic}) has not been taken up.").format(indicator=r["title"],
                                                                                      topic=topic_text(r["topic"]))))
    if len(lines) < n and spc is not None and len(spc) and "signal" in spc:
        from ..stats.standing import verdict_words

        sig = spc[spc["signal"].eq(True) & spc["indicator_id"].isin(meta.index)]
        for iid in _order(meta, list(dict.fromkeys(sig["indicator_id"])), topics)[: n - len(lines)]:
            r = sig[sig["indicator_id"] == iid].iloc[0]
            m = meta.loc[iid]
            better = m["better"] if m["better"] in ("lower", "higher", "none") else "none"
            word = str(verdict_words(["above" if r["direction"] == "above" else "below"], better)[0])
            lines.append((m["topic"], _("{indicator} ({topic}): relative to the nation, the SPC chart signals a "
                                        "shift after the start ({reading}).").format(
                indicator=m["title"], topic=topic_text(m["topic"]), reading=i18n.translate_value(word))))
    if len(lines) < n and out95 is not None and len(out95):
        lines += _outside_lines(out95, meta, topics, n - len(lines), N_(
            "{indicator} ({topic}): {parts}, outside the 95% limits after the start (about 1 practice in 20 is, "
            "by chance)."))
    return lines


def _outside_lines(out: pd.DataFrame, meta: pd.DataFrame, topics: list, n: int, template: str):
    """Up to ``n`` (topic, text) lines naming the practices of ``out`` outside a funnel's limits, worse first,
    with ``template`` (a message marked with ``N_``, translated here)."""
    lines = []
    for iid in _order(meta, list(dict.fromkeys(out["indicator_id"])), topics)[:n]:
        o = out[out["indicator_id"] == iid]
        parts = [_("{practices} {reading}").format(practices=practice_phrase(g["practice"]),
                                                   reading=i18n.translate_value(word))
                 for word, g in sorted(o.groupby("standing"), key=lambda kv: kv[0] != WORSE)]
        lines.append((meta.loc[iid, "topic"], _(template).format(
            indicator=meta.loc[iid, "title"], topic=topic_text(meta.loc[iid, "topic"]), parts="; ".join(parts))))
    return lines


def readings(eff: pd.DataFrame, meta: pd.DataFrame, topics: list) -> list[tuple[str, str]]:
    """(indicator, :func:`verdict_code`) of the cluster's effects, the topics' primary indicators first."""
    by = {r["indicator_id"]: r for r in eff.to_dict("records")} if len(eff) else {}
    out = []
    for iid in _order(meta, list(by), topics):
        m = meta.loc[iid]
        out.append((iid, verdict_code(by[iid], m["better"])))
    return out


def gap_question(standing: pd.DataFrame, meta: pd.DataFrame, sizes: dict) -> list[str]:
    """For a cluster without a topic: the primary indicator on which the cluster stands furthest from the nation
    (relative gap): on the worse side (the indicator's better direction) with the change a cluster of its size
    could detect (:func:`detectable_sizes`), else on the better side; empty when no value can be compared."""
    st = standing.set_index("indicator_id") if "indicator_id" in standing else standing
    best = None
    for topic, (iid, mde, *_rest) in sizes.items():
        if iid not in st.index or meta.loc[iid, "better"] not in ("lower", "higher"):
            continue
        value, national = float(st.loc[iid, "value"]), float(st.loc[iid, "national"])
        if not (np.isfinite(value) and np.isfinite(national) and national):
            continue
        gap = (value - national) / abs(national) * (1 if meta.loc[iid, "better"] == "lower" else -1)
        key = (gap > 0, abs(gap))   # the worse side first
        if best is None or key > best[0]:
            best = (key, topic, iid, value, national, mde)
    if best is None:
        return []
    (worse, _size), topic, iid, value, national, mde = best
    words = dict(indicator=meta.loc[iid, "title"], value=num(value), national=num(national),
                 topic=topic_text(topic))
    if not worse:
        return [_("On “{indicator}” the cluster stands at {value} against {national} for the nation, on the better "
                  "side: what do its practices do that other clusters could learn from?").format(**words)]
    q = _("On “{indicator}” the cluster stands at {value} against {national} for the nation: would {topic} be "
          "worth taking up?").format(**words)
    if np.isfinite(mde):
        q += " " + _("A cluster of its size could detect a change of about {mde} {unit}.").format(
            mde=num(mde), unit=diff_unit(meta.loc[iid]))
    return [q]


def questions(eff: pd.DataFrame, out: pd.DataFrame, meta: pd.DataFrame, topics: list,
              standing: pd.DataFrame, n: int = 3, sizes: dict | None = None) -> list[str]:
    """Two or three questions to open the peer discussion, drawn from the data (pseudonymised practices):
    practices worse, then better than expected; indicators that worsened, then improved; practices outside
    the limits of an indicator without a direction; no change on a primary indicator; a topic not taken up on
    which the cluster is worse or better than expected; for a cluster without a topic, the topic whose primary
    indicator is furthest from the nation on the worse side (``sizes``: :func:`detectable_sizes`); else a
    question about the next topic."""
    qs = []
    order = _order(meta, list(dict.fromkeys(out["indicator_id"])), topics)
    prim = {primary_of(meta, t) for t in topics}

    def practices(word, one, many):
        for iid in order:
            o = out[(out["indicator_id"] == iid) & (out["standing"] == word)]
            if len(o):
                text = one if o["practice"].nunique() == 1 else many
                qs.append(text.format(practices=practice_phrase(o["practice"]), indicator=meta.loc[iid, "title"]))
                return

    def reading(test, text):
        for iid, word in readings(eff, meta, topics):
            if test(iid, word):
                qs.append(text.format(indicator=meta.loc[iid, "title"], topic=topic_text(meta.loc[iid, "topic"])))
                return

    practices(WORSE, _("{practices} did worse than expected on “{indicator}” after the start: what does it do "
                       "differently, and what would help?"),
              _("{practices} did worse than expected on “{indicator}” after the start: what do they do "
                "differently, and what would help?"))
    practices(BETTER, _("{practices} did better than expected on “{indicator}” after the start: what could the "
                        "other practices learn from it?"),
              _("{practices} did better than expected on “{indicator}” after the start: what could the other "
                "practices learn from them?"))
    reading(lambda i, w: w == "worsened", _("“{indicator}” worsened after the work on {topic}: what got in the "
                                            "way?"))
    reading(lambda i, w: w == "improved", _("“{indicator}” improved after the work on {topic}: which changes made "
                                            "the difference, and how will the practices keep them?"))
    practices(HIGHER, _("{practices} lies above the expected range on “{indicator}”: why?"),
              _("{practices} lie above the expected range on “{indicator}”: why?"))
    practices(LOWER, _("{practices} lies below the expected range on “{indicator}”: why?"),
              _("{practices} lie below the expected range on “{indicator}”: why?"))
    reading(lambda i, w: i in prim and w == "no change",
            _("No change was detected on “{indicator}” after the work on {topic}: did the agreed changes reach "
              "every practice, and what got in the way?"))
    if len(standing):
        worse = standing[standing["standing"] == WORSE]
        if len(worse):
            r = worse.iloc[0]
            qs.append(_("The cluster is worse than expected on “{indicator}” ({topic}), a topic it has not taken "
                        "up: should it be the next one?").format(indicator=r["title"], topic=topic_text(r["topic"])))
        better = standing[standing["standing"] == BETTER]
        if len(better):
            r = better.iloc[0]
            qs.append(_("The cluster is better than expected on “{indicator}” ({topic}): what do its practices do "
                        "that other clusters could learn from?").format(indicator=r["title"], topic=topic_text(r["topic"])))
    if len(qs) < 2 and not topics and len(standing):
        qs.extend(gap_question(standing, meta, sizes or {}))
    if len(qs) < 2:
        qs.append(_("Which topic would the practices most like to work on next, and what would they want this "
                    "report to show about it?"))
    return qs[:n]


def detectable_sizes(effects_all: pd.DataFrame, meta: pd.DataFrame, n_practices: int) -> dict:
    """{topic: (primary indicator, median minimum detectable effect of clusters of about this size, n clusters,
    low, high)}: what taking up the topic could show, from the other clusters' reported MDEs (effects table)."""
    lo, hi = max(1, int(np.floor(n_practices * 0.75))), int(np.ceil(n_practices * 1.25))
    out = {}
    for topic in dict.fromkeys(meta["topic"]):
        iid = primary_of(meta, topic)
        e = effects_all[(effects_all["indicator_id"] == iid) & (effects_all["status"] == "estimated")]
        e = e[np.isfinite(e["mde"].astype(float))]
        near = e[(e["n_treated"] >= lo) & (e["n_treated"] <= hi)]
        out[topic] = (iid, float(near["mde"].median()) if len(near) else np.nan, int(len(near)), lo, hi)
    return out


def summarise(acts, eff, meta, funnel, standing, ci: str, sizes: dict | None = None,
              spc: pd.DataFrame | None = None) -> FirstScreen:
    """The first screen's facts for one cluster (its slices of the run's tables; ``standing`` joined with the
    indicators' title and topic and restricted to topics not taken up; ``sizes`` from :func:`detectable_sizes`
    for a cluster without a topic; ``spc`` its SPC rules relative to the nation)."""
    topics = list(acts["topic"])
    lines = topic_lines(acts, eff, meta, ci)
    out = outside_limits(funnel)
    out95 = outside_limits(funnel, "standing_95")
    out95 = out95[~out95.set_index(["indicator_id", "practice"]).index.isin(
        out.set_index(["indicator_id", "practice"]).index)]
    worst_first = standing.sort_values("standing", key=lambda s: s != WORSE) if len(standing) else standing
    return FirstScreen(lines, look_next(out, meta, topics, eff, worst_first, spc=spc, out95=out95),
                       questions(eff, out, meta, topics, worst_first, sizes=sizes))


# --- layout -----------------------------------------------------------------------------------------------

def _e(x) -> str:
    return html.escape(str(x))


def topics_table(lines: list[TopicLine], ci: str) -> str:
    """The topics taken up: when, the primary indicator, its reading and effect."""
    head = (_("Topic"), _("Worked on"), _("Primary indicator"), _("Reading"), _("Effect ({ci})").format(ci=ci))
    rows = []
    for t in lines:
        when = _("from {date}").format(date=month_year(t.start))
        if np.isfinite(t.meetings):
            when += ", " + meetings_text(t.meetings)
        moved = t.code in ("improved", "worsened", "increased", "decreased")
        reading = f"<strong>{_e(t.reading)}</strong>" if moved else _e(t.reading)
        if t.caution:
            reading += "<br><em>" + _e(t.caution) + "</em>"
        rows.append(f'<tr><th scope="row">{_e(topic_text(t.topic))}</th><td>{_e(when)}</td><td>{_e(t.title)}</td>'
                    f"<td>{reading}</td><td>{_e(t.effect)}</td></tr>")
    ths = "".join(f'<th scope="col">{_e(h)}</th>' for h in head)
    return f'<table class="ce-table ce-topics"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def first_screen_html(fs: FirstScreen, lead: str, ci: str, extra: str = "") -> str:
    """The first screen: ``lead`` (one sentence), the topics table (or ``extra`` when none), look next, meeting."""
    parts = ['<section class="ce-first">' + (f'<p class="ce-lead">{lead}</p>' if lead else "")]
    if fs.topics:
        parts.append(topics_table(fs.topics, ci))
    parts.append(extra)
    if fs.look_next:
        link = _e(_("Details"))
        items = "".join(f"<li>{_e(text)}" + (f' <a href="#{topic_anchor(topic)}">{link}</a>' if topic else "")
                        + "</li>" for topic, text in fs.look_next)
        head = _e(_("Look next"))
        parts.append(f'<div class="ce-next"><strong>{head}</strong><ul>{items}</ul></div>')
    if fs.questions:
        items = "".join(f"<li>{_e(x)}</li>" for x in fs.questions)
        head = _e(_("For the meeting"))
        parts.append(f'<aside class="ce-meeting" aria-labelledby="ce-meeting-h"><h2 id="ce-meeting-h">{head}</h2>'
                     f"<ol>{items}</ol></aside>")
    parts.append("</section>")
    return "".join(parts)
