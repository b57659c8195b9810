"""The cluster report's compact figures, one topic at a time: a forest strip per indicator (the cluster among
all others) and one row of panels per indicator (trend, relative to the nation, practices, month by month).

The panels are drawn by :mod:`.figures` (into the axes given here); this module only lays them out by
indicator and names each column once. Nothing is computed: every number comes from the run's tables.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..plots import style
from . import figures as F
from .i18n import _
from .wording import too_small

WIDTH = 10.8            # inches: the report's content width at 96 px per inch (as the other figures)
STRIP = 0.4             # inches per forest strip
ROW = 1.4              # inches per row of panels


@style.styled
def forest_strips(effects: pd.DataFrame, meta: pd.DataFrame, pooled: pd.DataFrame, highlight: str,
                  legend: bool = True) -> Figure:
    """One strip per indicator of ``meta``: every cluster's estimate as a small grey mark, the pooled effect
    and its interval, and the ``highlight`` cluster's estimate with its interval in the report colour.

    ``effects`` is the effects table of all clusters, ``pooled`` the pooled table (random effects, by
    indicator). The strip's label says where the cluster's estimate ranks among the clusters with one. The
    legend (``legend=True``) takes a line above the strips.
    """
    inds = list(meta.index)
    n = max(len(inds), 1)
    head = 0.3 if legend else 0.08
    height = STRIP * n + 0.25 + head
    fig = Figure(figsize=(WIDTH, height))
    fig.set_label(_("Among all clusters: this cluster's effect, every other cluster's and the pooled effect"))
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    fig.subplots_adjust(left=0.36, right=0.98, top=1 - head / height, bottom=0.3 / height, hspace=1.3)
    pooled = pooled.set_index("indicator_id") if len(pooled) else pooled
    for ax, iid in zip(axes, inds):
        e = effects[(effects["indicator_id"] == iid) & effects["estimate"].notna()]
        mine = e[e["cluster_id"] == highlight]
        others = e[e["cluster_id"] != highlight]
        if len(pooled) and iid in pooled.index and np.isfinite(pooled.loc[iid, "estimate"]):
            p = pooled.loc[iid]
            ax.axvspan(p["lower"], p["upper"], color=F.POOLED, alpha=0.45, lw=0)
            ax.axvline(p["estimate"], color=F.POOLED, lw=1.4)
        ax.axvline(0, color=F.NATION, lw=0.8)
        _marks(ax, others["estimate"].to_numpy(dtype=float))
        label = F._short(str(meta.loc[iid, "title"]), 60)
        if len(mine):
            r = mine.iloc[0]
            ax.hlines(0, r["lower"], r["upper"], color=F.CLUSTER, lw=2.2, zorder=3)
            ax.scatter([r["estimate"]], [0], s=28, color=F.CLUSTER, zorder=4)
            rank = int((e["estimate"] < r["estimate"]).sum()) + 1
            label += "\n" + _("this cluster: {rank} of {n} from the lowest").format(rank=rank, n=len(e))
        else:
            label += "\n" + _("no estimate for this cluster")
        ax.text(-0.02, 0.5, label, transform=ax.transAxes, ha="right", va="center", fontsize=7)
        F._light(ax, nx=6)
        ax.set_yticks([])
        ax.set_ylim(-1, 1)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.tick_params(labelsize=6)
        ax.set_xlabel(F._dunit(meta.loc[iid, "unit"]), fontsize=6, labelpad=1)
    if not legend:
        return fig
    handles = [Line2D([], [], color=F.CLUSTER, marker="o", ms=4, lw=2, label=_("this cluster (interval)")),
               Line2D([], [], color=F.OTHER, marker="|", ls="none", ms=7, label=_("other clusters")),
               Patch(color=F.POOLED, alpha=0.6, label=_("all clusters pooled (interval)")),
               Line2D([], [], color=F.NATION, lw=0.8, label=_("no effect"))]
    fig.legend(handles=handles, loc="upper right", ncol=4, fontsize=7, frameon=False, bbox_to_anchor=(0.98, 1.0))
    return fig


def _marks(ax, x: np.ndarray) -> None:
    """The other clusters' estimates as short grey vertical marks, all in ONE path broken by NaN: one element
    whatever the number of clusters (a marker per cluster was one SVG element each: 1,250 per strip in England),
    each mark as tall as the ``|`` marker of 40 points² it replaces (6.3 pt, centred on the strip's line)."""
    if not len(x):
        return
    fig = ax.figure
    height_in = ax.get_position().height * fig.get_figheight()   # the strip's height in inches (layout is set)
    half = (40 ** 0.5 / 2 / 72) / height_in * 2                   # half a mark in data units (ylim -1..1)
    gap = np.full(len(x), np.nan)
    xs = np.column_stack([x, x, gap]).ravel()
    ys = np.column_stack([np.full(len(x), -half), np.full(len(x), half), gap]).ravel()
    ax.plot(xs, ys, color=F.OTHER, alpha=0.6, lw=0.8, solid_capstyle="butt")


#: the columns of a row, in order: (key, title of the panel)
def _columns() -> list[tuple[str, str, str | None]]:
    """(key, name, how the drawing function's second title line joins the name, or None to drop it)."""
    return [("trend", _("Cluster, region and nation"), None),
            ("spc", _("SPC relative to the nation"), _("{panel}: {reading}")),
            ("funnel", _("Practices before → after"), _("{panel} ({reading})")),
            ("event", _("Effect by month since the start"), None)]


def _retitle(ax, head: str, join: str | None) -> None:
    """The panel's title on one line: the column's name, and the drawing function's second title line (its
    reading: the SPC signal, the funnel's window) joined to it by ``join`` (dropped when None)."""
    lines = ax.get_title().split("\n")
    second = lines[1] if join and len(lines) > 1 else ""
    # y given: the title stays just above the panel (matplotlib otherwise measures every tick label of the
    # panel at drawing time to see whether it must move up, a tenth of the figure's cost; nothing is above)
    ax.set_title(join.format(panel=head, reading=second) if second else head, fontsize=7, pad=3, y=1.0)


def _by_indicator(df: pd.DataFrame) -> dict:
    """{indicator: its rows, in the table's order}."""
    if df is None or not len(df) or "indicator_id" not in df:
        return {}
    return dict(tuple(df.groupby("indicator_id", sort=False)))


@style.styled
def indicator_rows(meta: pd.DataFrame, *, trend, cluster_id, region, starts, spc, chart, funnel, limits, es,
                   pooled_es) -> tuple[Figure, dict]:
    """One row per indicator of ``meta`` (one topic): its title, then four panels drawn by :mod:`.figures`:
    the trend against region and nation, the SPC chart relative to the nation, the practices' funnel before
    and after, and the event study with the pooled one. Returns the figure and the funnel's {(indicator,
    phase): practices not plotted (suppressed)}."""
    inds = list(meta.index)
    n = max(len(inds), 1)
    fig = Figure(figsize=(WIDTH, ROW * n))
    fig.set_label(_("One row per indicator: trend, SPC relative to the nation, the practices before and after, "
                    "the effect by month"))
    rows = fig.subfigures(n, 1, squeeze=False)[:, 0]
    hidden = {}
    cols = _columns()
    # each table split by indicator once: the drawing functions select an indicator's rows of what they are
    # given, and doing that on the cluster's whole tables for every row was a tenth of the figure's time
    tables = {"trend": trend, "spc": spc, "chart": chart, "funnel": funnel, "limits": limits, "es": es,
              "pooled_es": pooled_es}
    split = {name: _by_indicator(df) for name, df in tables.items()}
    for k, (sub, iid) in enumerate(zip(rows, inds)):
        trend, spc, chart, funnel, limits, es, pooled_es = (
            split[name].get(iid, tables[name].iloc[:0]) for name in tables)
        axes = sub.subplots(1, 4)
        sub.subplots_adjust(left=0.06, right=0.99, top=1 - 0.42 / ROW, bottom=0.3 / ROW, wspace=0.42)
        one = meta.loc[[iid]]
        sub.suptitle(str(meta.loc[iid, "title"]), x=0.01, y=0.99, ha="left", va="top", fontsize=8.5, fontweight="bold")
        F.trends(trend, one, cluster_id, region, starts, spc, axes=[axes[0]], legend=k == 0)
        F.spc_relative(chart, spc, one, axes=[axes[1]])
        h = F.funnels(funnel, limits, one, axes=[axes[2]], legend=k == 0)[1]
        hidden.update(h)
        if len(es[es["indicator_id"] == iid]):
            F.event_study(es, one, pooled_es, axes=[axes[3]], legend=k == 0)
        else:
            axes[3].text(0.5, 0.5, too_small(), ha="center", va="center", fontsize=7,
                         transform=axes[3].transAxes)
            axes[3].set_xticks([])
            axes[3].set_yticks([])
        for ax, (_key, head, join) in zip(axes, cols):
            _retitle(ax, head, join)
            ax.xaxis.label.set_size(6)
            ax.yaxis.label.set_size(6)
            if k and ax.get_legend() is not None:  # one legend per column, in the first row
                ax.get_legend().remove()
    return fig, hidden
