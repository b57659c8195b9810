"""Drawing helpers of the report notebooks: small, fast matplotlib figures (no pyplot state, Agg only).

Each function takes slices of the run's tables and returns a :class:`matplotlib.figure.Figure` (given
``axes``, one per indicator, the panel-drawing functions draw into them instead of a grid of their own: the
cluster report's rows per indicator, :mod:`.topic_figures`), drawn in the package's seaborn theme and
colour-blind-safe palette (:mod:`cluster_eval.plots.style`) and, when it made its own figure, labelled with a
short title (``Figure.get_label``); :func:`svg` turns a figure into accessible inline SVG (``role="img"``, a
``<title>`` and a ``<desc>`` listing its panels, :func:`describe`), :func:`png` into PNG bytes.
"""
from __future__ import annotations

import functools
import hashlib
import html
import io
import math
import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, ScalarFormatter

from ..plots import style
from . import i18n
from .i18n import N_, _

# the roles' colours in seaborn's colour-blind-safe palette (plots/style.py)
CLUSTER = style.HIGHLIGHT
REGION = style.REGION
NATION = style.NATION
OTHER = style.OTHER
POOLED = style.BAND


def _figure(title: str):
    """Decorator of a figure function: drawn in the package's theme, labelled with ``_(title)``."""
    def deco(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            out = style.styled(func)(*args, **kwargs)
            if kwargs.get("axes") is None:   # drawn into given axes: the caller's figure keeps its own label
                (out[0] if isinstance(out, tuple) else out).set_label(_(title))
            return out

        return wrapper

    return deco


def describe(fig: Figure) -> str:
    """A text description of a figure for readers who cannot see it: each visible panel's title and axes."""
    panels = []
    for ax in fig.get_axes():
        if not ax.get_visible():
            continue
        title = " ".join(ax.get_title().split())
        axes = [f"{name}: {' '.join(label.split())}" for name, label in ((_("x axis"), ax.get_xlabel()),
                                                                         (_("y axis"), ax.get_ylabel())) if label]
        legend = ax.get_legend()
        if legend is not None:
            axes.append(_("legend: {entries}").format(entries=", ".join(t.get_text() for t in legend.get_texts())))
        panels.append(title + (f" ({'; '.join(axes)})" if axes else ""))
    if not panels:
        return ""
    return _("{n} panel(s): {panels}.").format(n=len(panels), panels="; ".join(panels))


def png(fig: Figure, dpi: int = 80) -> bytes:
    """PNG bytes of a figure (unhinted text and light compression: drawing text dominates the report's time)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"text.hinting": "no_hinting"}):
        fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


#: matplotlib's ids of groups (figure_1, axes_1, line2d_3, ...): never referenced; the referenced ones
#: (markers, clip paths) are content hashes without a counter
SVG_IDS = re.compile(r' id="[A-Za-z][A-Za-z0-9.]*_\d+"')


def svg(fig: Figure, title: str | None = None, desc: str | None = None) -> str:
    """SVG text of a figure, text kept as text (no glyph rendering: about twice as fast as PNG and smaller),
    deterministic ids and no date, so an unchanged figure gives an identical report.

    The SVG is an image with a name for assistive technology: ``role="img"``, a ``<title>`` (``title``, else
    the figure's label) and a ``<desc>`` (``desc``, else :func:`describe`), referenced by ``aria-labelledby``.
    """
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "cluster_eval"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    # unreferenced ids, repeated by every figure of a page, and the RDF metadata block go
    text = SVG_IDS.sub("", re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.find("<svg"):], flags=re.S))
    title = title or fig.get_label() or _("Figure")
    desc = desc if desc is not None else describe(fig)
    key = "ce-fig-" + hashlib.sha256((title + desc + text).encode()).hexdigest()[:10]
    end = text.find(">") + 1
    return (text[:end - 1] + f' role="img" aria-labelledby="{key}-t {key}-d">'
            f'<title id="{key}-t">{html.escape(title)}</title><desc id="{key}-d">{html.escape(desc)}</desc>'
            + text[end:])


def _grid(n: int, ncols: int = 3, w: float = 3.6, h: float = 2.4, sharex: bool = False):
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(w * ncols, h * nrows))
    fig.subplots_adjust(left=0.6 / (w * ncols) + 0.04, right=0.98, top=1 - 0.55 / (h * nrows),
                        bottom=0.5 / (h * nrows), hspace=0.6, wspace=0.3)
    grid = fig.add_gridspec(nrows, ncols)
    axes = []   # only the n panels drawn (an Axes costs as much to make as to draw: no hidden ones)
    for i in range(n):
        axes.append(fig.add_subplot(grid[i // ncols, i % ncols], sharex=axes[0] if sharex and axes else None))
    if sharex:  # x tick labels on the lowest visible panel of each column only (text is most of the drawing time)
        for i, ax in enumerate(axes):
            ax.tick_params(labelbottom=i + ncols >= n)
    for ax in axes:
        _light(ax)
    return fig, np.array(axes, dtype=object)


class _DecimalComma(ScalarFormatter):
    """Tick labels with a decimal comma (Danish): matplotlib's own labels with "." and "," swapped."""

    def __call__(self, x, pos=None):
        return super().__call__(x, pos).translate(str.maketrans(".,", ",."))


def _given(axes):
    """(figure, axes) for a drawing function given the axes to draw into (one per indicator) instead of a grid:
    the figure (or subfigure) they belong to, each axis made light as :func:`_grid` does."""
    axes = list(axes)
    for ax in axes:
        _light(ax)
    return axes[0].figure, axes


class InView(MaxNLocator):
    """:class:`~matplotlib.ticker.MaxNLocator`'s ticks, only those within the view limits.

    Matplotlib makes a tick object (two lines and two texts, copied from the first tick) for every location its
    locator returns, and MaxNLocator returns one beyond each limit for autoscaling, which is never drawn; tick
    objects were a sixth of a report's figure time. The drawn ticks are the same (the same tolerance as
    matplotlib's own test for a tick within the view)."""

    def __call__(self):
        locs = np.asarray(super().__call__())
        lo, hi = sorted(self.axis.get_view_interval())
        tol = (hi - lo) * 1e-10
        return locs[(locs >= lo - tol) & (locs <= hi + tol)]


def _light(ax, nx: int = 3, ny: int = 3):
    """Few ticks, small labels: tick objects and text dominate drawing time. Danish: decimal commas."""
    ax.xaxis.set_major_locator(InView(nx))
    ax.yaxis.set_major_locator(InView(ny))
    ax.tick_params(labelsize=7, length=2)
    if i18n.get_language() == "da":
        ax.xaxis.set_major_formatter(_DecimalComma(useOffset=False))
        ax.yaxis.set_major_formatter(_DecimalComma(useOffset=False))


def _year(periods) -> np.ndarray:
    """Dates as decimal years (a numeric axis draws much faster than a date axis)."""
    p = pd.DatetimeIndex(periods)
    return (p.year + (p.month - 1) / 12).to_numpy(dtype=float)


def _dunit(unit: str) -> str:
    """The unit of a difference: percentage points for percentages."""
    return _("percentage points") if unit == "%" else unit


def _short(title: str, n: int = 48) -> str:
    return title if len(title) <= n else title[: n - 1] + "…"


def _standardised(table: pd.DataFrame) -> bool:
    """Whether the rows of one indicator are standardised for age and sex (``standardised`` column)."""
    return bool("standardised" in table and len(table) and table["standardised"].astype(bool).any())


def _measure_label(unit: str, standardised: bool) -> str:
    """An axis label: the unit and "age-sex standardised" (on a second line: panels are small) or "crude"."""
    if standardised:
        std = _("age-sex standardised")
        return f"{unit}\n{std}" if unit else std
    return f"{unit}, {_('crude')}" if unit else _("crude")


def _signal_word(direction: str, better: str) -> str:
    """'better' / 'worse' for a signal above or below the baseline, with the indicator's direction applied
    ('higher' / 'lower' when the indicator has none)."""
    from ..stats.standing import verdict_words

    word = str(verdict_words(["above" if direction == "above" else "below"],
                             better if better in ("lower", "higher", "none") else "none")[0])
    return _(word.replace(" than expected", ""))


@_figure(N_("Trends: the cluster, its region and the nation, month by month"))
def trends(trend: pd.DataFrame, meta: pd.DataFrame, cluster_id: str, region: str, starts: dict,
           spc: pd.DataFrame, axes=None, legend: bool = True) -> Figure:
    """Cluster vs region vs nation, month by month, one panel per indicator; the start marked and, in the title,
    the SPC verdict relative to the nation (``spc`` table: ``ce.spc.relative`` rules of the cluster)."""
    inds = list(meta.index)
    fig, axes = _grid(len(inds), sharex=True) if axes is None else _given(axes)
    spc = spc.set_index("indicator_id") if len(spc) else spc
    for ax, iid in zip(axes, inds):
        t = trend[trend["indicator_id"] == iid]
        for level, unit, colour, lw, ls, label in (("nation", "nation", NATION, 1.0, "--", _("nation")),
                                                   ("region", region, REGION, 1.0, "-", _("region")),
                                                   ("cluster", cluster_id, CLUSTER, 2.0, "-", _("cluster"))):
            s = t[(t["level"] == level) & (t["unit_id"] == str(unit))].sort_values("period")
            ax.plot(_year(s["period"]), s["value"].to_numpy(dtype=float), color=colour, lw=lw, ls=ls, label=label)
        title = _short(meta.loc[iid, "title"])
        if iid in starts:
            ax.axvline(_year([starts[iid]])[0], color="black", ls="--", lw=0.8)
        if len(spc) and iid in spc.index:
            r = spc.loc[iid]
            if str(r.get("reason", "") or ""):
                title += "\n" + _("SPC vs nation: {reading}").format(reading=i18n.translate_value(r["reason"]))
            elif bool(r["signal"]):
                title += "\n" + _("SPC vs nation: signal ({word})").format(
                    word=_signal_word(r["direction"], meta.loc[iid, "better"]))
            else:
                title += "\n" + _("SPC vs nation: no signal")
        ax.set_title(title, fontsize=8)
        ax.set_ylabel(_measure_label(meta.loc[iid, "unit"], _standardised(t)), fontsize=7)
    axes[0].xaxis.set_major_locator(InView(4, integer=True))  # shared: whole years on every panel
    if legend:   # (a legend made and removed costs as much as one drawn: the rows of a topic show one)
        axes[0].legend(fontsize=7, frameon=False)
    return fig


@_figure(N_("SPC chart of the cluster relative to the nation around its start"))
def spc_relative(chart: pd.DataFrame, rules: pd.DataFrame, meta: pd.DataFrame, axes=None) -> Figure:
    """The cluster's O/E against the nation around its start, one panel per indicator: points, the frozen
    centre line and the 3-sigma limits (``spc_chart`` and ``spc`` tables; ``ce.spc.relative``)."""
    inds = [i for i in meta.index if i in set(chart["indicator_id"])]
    fig, axes = _grid(max(len(inds), 1)) if axes is None else _given(axes)
    rules = rules.set_index("indicator_id") if len(rules) else rules
    for ax, iid in zip(axes, inds):
        c = chart[chart["indicator_id"] == iid].sort_values("event_time")
        x = c["event_time"].to_numpy(dtype=float)
        ax.plot(x, c["y"].to_numpy(dtype=float), color=CLUSTER, marker="o", ms=2.5, lw=0.8)
        ax.plot(x, c["cl"].to_numpy(dtype=float), color=NATION, lw=0.9)
        ax.plot(x, c["ucl"].to_numpy(dtype=float), color=OTHER, ls="--", lw=0.8)
        ax.plot(x, c["lcl"].to_numpy(dtype=float), color=OTHER, ls="--", lw=0.8)
        ax.axhline(1.0, color=NATION, ls=":", lw=0.6)
        ax.axvline(-0.5, color="black", ls="--", lw=0.8)
        title = _short(meta.loc[iid, "title"])
        if len(rules) and iid in rules.index:
            r = rules.loc[iid]
            if bool(r["signal"]):
                title += "\n" + _("signal ({word})").format(word=_signal_word(r["direction"], meta.loc[iid, "better"]))
            else:
                title += "\n" + _("no signal")
        ax.set_title(title, fontsize=8)
        ax.set_xlabel(_("months since the start"), fontsize=7)
        ax.set_ylabel(_("observed / expected"), fontsize=7)
    if not inds:
        axes[0].text(0.5, 0.5, _("no chart"), ha="center", va="center", transform=axes[0].transAxes)
    return fig


@_figure(N_("Funnel plots: the cluster's practices before and after the start"))
def funnels(funnel: pd.DataFrame, limits: pd.DataFrame, meta: pd.DataFrame, axes=None,
            legend: bool = True) -> tuple[Figure, dict]:
    """The cluster's practices against national funnel limits (95% dashed, 99.8% solid) after the start,
    with each practice's position before the start (grey, joined to its position after).

    Returns the figure and {(indicator, phase): number of practices not plotted (suppressed)}.
    """
    inds = list(meta.index)
    fig, axes = _grid(len(inds)) if axes is None else _given(axes)
    hidden = {}
    # the columns drawn only, split by indicator once (row selections on the whole table were a third of the time)
    keep = [c for c in ("indicator_id", "phase", "practice", "value", "denominator", "expected", "standardised",
                        "target", "window_start", "window_end", "position") if c in funnel]
    by_ind = dict(tuple(funnel[keep].groupby("indicator_id", sort=False))) if len(funnel) else {}
    limits = limits[[c for c in ("indicator_id", "phase", "size", "lower95", "upper95", "lower998", "upper998")
                     if c in limits]]
    for ax, iid in zip(axes, inds):
        m = meta.loc[iid]
        f = by_ind.get(iid, funnel[keep].iloc[:0])
        std = _standardised(f)
        # x: the denominator, or the expected count for values standardised for age and sex
        f = f.assign(x=f["expected"] if std else f["denominator"])
        shown = {}
        for phase in ("before", "after"):
            g = f[f["phase"] == phase]
            ok = g[g["value"].notna() & g["x"].notna()]
            hidden[(iid, phase)] = int(len(g) - len(ok))
            shown[phase] = ok.set_index("practice")
        if not len(f):
            ax.text(0.5, 0.5, _("no data"), ha="center", va="center", transform=ax.transAxes)
            continue
        phase = "after" if len(f[f["phase"] == "after"]) else "before"
        lim = limits[(limits["indicator_id"] == iid) & (limits["phase"] == phase)]
        if len(lim):
            x = lim["size"].to_numpy(dtype=float)
            for tag, ls in (("95", "--"), ("998", "-")):
                ax.plot(x, lim[f"lower{tag}"].to_numpy(dtype=float), color=OTHER, ls=ls, lw=0.8)
                ax.plot(x, lim[f"upper{tag}"].to_numpy(dtype=float), color=OTHER, ls=ls, lw=0.8)
        g = f[f["phase"] == phase]
        ax.axhline(float(g["target"].iloc[0]), color=NATION, lw=0.8)
        b, a = shown["before"], shown["after"]
        both = b.index.intersection(a.index)
        if len(both):
            # one line, broken by NaN between practices (one Line2D per practice cost more than the rest)
            gap = np.full(len(both), np.nan)
            xs = np.column_stack([b.loc[both, "x"], a.loc[both, "x"], gap]).ravel()
            ys = np.column_stack([b.loc[both, "value"], a.loc[both, "value"], gap]).ravel()
            ax.plot(xs, ys, color=OTHER, lw=0.5)
        ax.scatter(b["x"], b["value"], s=10, facecolors="none", edgecolors=OTHER, label=_("before"))
        ax.scatter(a["x"], a["value"], s=12, color=CLUSTER, zorder=3, label=_("after"))
        if "position" in a:  # label only the practices outside the limits (few texts: cheap to draw)
            for name, r in a[~a["position"].astype(str).str.startswith("within")].iterrows():
                ax.annotate(str(name).replace("Practice ", ""), (r["x"], r["value"]), fontsize=6,
                            xytext=(2, 2), textcoords="offset points")
        w0 = pd.Timestamp(g["window_start"].iloc[0])
        w1 = pd.Timestamp(g["window_end"].iloc[0])
        ax.set_title(_short(m["title"], 44) + "\n" + _("limits: {start}–{end}").format(
            start=i18n.date(w0, "month_short"), end=i18n.date(w1, "month_short")), fontsize=8)
        ax.set_ylabel(_measure_label(m["unit"], std), fontsize=7)
        if std:
            ax.set_xlabel(_("expected count"), fontsize=7)
    if legend:
        axes[0].legend(fontsize=7, frameon=False)
    return fig, hidden


@_figure(N_("Event study: the effect month by month since the start"))
def event_study(es: pd.DataFrame, meta: pd.DataFrame, pooled: pd.DataFrame | None = None, axes=None,
                legend: bool = True) -> Figure:
    """Effect by month since the start with intervals; month -1 is the reference (zero)."""
    inds = list(meta.index)
    fig, axes = _grid(len(inds), sharex=True) if axes is None else _given(axes)
    for ax, iid in zip(axes, inds):
        s = es[es["indicator_id"] == iid].sort_values("event_time")
        if pooled is not None and len(pooled):
            p = pooled[pooled["indicator_id"] == iid].sort_values("event_time")
            ax.fill_between(p["event_time"], p["lower"], p["upper"], color=POOLED, alpha=0.35, lw=0,
                            label=_("all clusters (pooled)"))
        x = s["event_time"].to_numpy(dtype=float)
        ax.vlines(x, s["lower"].to_numpy(dtype=float), s["upper"].to_numpy(dtype=float), color=CLUSTER, lw=0.8)
        ax.scatter(x, s["estimate"].to_numpy(dtype=float), s=8, color=CLUSTER,
                   label=_("this cluster") if pooled is not None else None)
        ax.axhline(0, color=NATION, lw=0.8)
        ax.axvline(-0.5, color="black", ls="--", lw=0.8)
        ax.set_title(_short(meta.loc[iid, "title"]), fontsize=8)
        ax.set_xlabel(_("months since start"), fontsize=7)
        ax.set_ylabel(_("difference ({unit})").format(unit=_dunit(meta.loc[iid, "unit"])), fontsize=7)
    if legend and pooled is not None and len(pooled):
        axes[0].legend(fontsize=7, frameon=False)
    return fig


@_figure(N_("Forest plot: every cluster's effect with its interval"))
def forest(effects: pd.DataFrame, meta: pd.DataFrame, pooled: pd.DataFrame, highlight: str | None = None,
           labels: dict | None = None) -> Figure:
    """Every cluster's effect with its interval (sorted), the pooled effect as a band; one cluster highlighted."""
    inds = list(meta.index)
    n_max = max([int((effects["indicator_id"] == i).sum()) for i in inds] + [1])
    fig, axes = _grid(len(inds), ncols=3, w=4.0, h=max(2.5, 0.09 * n_max + 1.0))
    pooled = pooled.set_index("indicator_id") if len(pooled) else pooled
    for ax, iid in zip(axes, inds):
        e = effects[(effects["indicator_id"] == iid) & effects["estimate"].notna()].sort_values("estimate")
        y = np.arange(len(e))
        colours = np.where(e["cluster_id"] == highlight, CLUSTER, OTHER)
        if len(pooled) and iid in pooled.index and np.isfinite(pooled.loc[iid, "estimate"]):
            p = pooled.loc[iid]
            ax.axvspan(p["lower"], p["upper"], color=POOLED, alpha=0.4, lw=0)
            ax.axvline(p["estimate"], color=POOLED, lw=1.2)
        ax.hlines(y, e["lower"], e["upper"], colors=colours, lw=0.9)
        ax.scatter(e["estimate"], y, s=8, c=colours, zorder=3)
        ax.axvline(0, color=NATION, lw=0.8)
        if highlight is not None and (e["cluster_id"] == highlight).any():
            k = int(np.flatnonzero((e["cluster_id"] == highlight).to_numpy())[0])
            name = (labels or {}).get(highlight, highlight)
            ax.annotate(f"{name}", (e["upper"].iloc[k], k), fontsize=7, color=CLUSTER, xytext=(3, -3),
                        textcoords="offset points")
        ax.set_yticks([])
        ax.set_title(_short(meta.loc[iid, "title"]) + "\n" + _("{n} clusters").format(n=len(e)), fontsize=8)
        ax.set_xlabel(_("effect ({unit})").format(unit=_dunit(meta.loc[iid, "unit"])), fontsize=7)
    return fig


@_figure(N_("Variation between practices by year"))
def variation_trends(vt: pd.DataFrame, meta: pd.DataFrame) -> Figure:
    """Coefficient of variation between practices by year, one line per indicator, one panel per topic."""
    topics = sorted(meta["topic"].unique())
    fig, axes = _grid(len(topics), ncols=3, w=4.0, h=2.6)
    for ax, topic in zip(axes, topics):
        for iid in meta.index[meta["topic"] == topic]:
            s = vt[vt["indicator_id"] == iid].sort_values("year")
            ax.plot(s["year"], s["cv"], marker="o", ms=3, lw=1, label=_short(meta.loc[iid, "title"], 30))
        ax.set_title(i18n.translate_value(topic), fontsize=8)
        ax.set_ylabel(_("coefficient of variation"), fontsize=7)
        ax.legend(fontsize=6, frameon=False)
    return fig
