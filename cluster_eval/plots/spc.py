"""Run and control charts drawn as qicharts2 draws them, from :func:`cluster_eval.spc.qic` chart data.

What the reader sees:

* the data as grey dots joined by a line (dots only for categorical subgroups);
* the centre line, solid blue; **dashed and orange when the Anhøj rules signal** a shift in that phase;
* the control limits as a light band with thin lines (stepped where the subgroup sizes vary);
* points beyond the limits (Shewhart's 3-sigma rule) in orange; excluded points hollow;
* a dotted vertical line between phases (``part``), an optional marked intervention date, an optional
  dotted green target line, and the last value of centre line and limits printed at the right.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from . import style

# qicharts2's roles (options qic.linecol, qic.signalcol, qic.targetcol) in seaborn's colour-blind-safe palette
LINE_COLOUR = style.SKY
SIGNAL_COLOUR = style.ORANGE
TARGET_COLOUR = style.GREEN
DOT_COLOUR = "#8C8C8C"
LIMIT_FILL = "#E8E8E8"
INTERVENTION_COLOUR = "#444444"

CHART_TITLES = {
    "run": "Run chart", "i": "I chart", "mr": "MR chart", "xbar": "Xbar chart", "s": "S chart",
    "t": "T chart", "p": "P chart", "pp": "P' chart", "c": "C chart", "u": "U chart", "up": "U' chart",
}


def _positions(d: pd.DataFrame, categorical: bool):
    if categorical:
        return np.arange(len(d), dtype=float)
    if isinstance(d["x"].dtype, pd.PeriodDtype):
        return d["x"].dt.to_timestamp().to_numpy()
    return d["x"].to_numpy()


def _midpoint(a, b):
    """Halfway between two x positions (numbers or datetimes)."""
    if isinstance(a, np.datetime64):
        return a + (b - a) / 2
    return (a + b) / 2


def _draw_one(ax, d: pd.DataFrame, *, categorical: bool, show_95: bool, label_lines: bool,
              decimals: int | None):
    d = d.reset_index(drop=True)
    xs = _positions(d, categorical)
    y = d["y"].to_numpy(dtype=float)
    inc = d["include"].to_numpy(dtype=bool)
    sig = d["sigma_signal"].to_numpy(dtype=bool)

    for _, p in d.groupby("part", sort=True):
        idx = p.index.to_numpy()
        px = xs[idx]
        lcl, ucl = p["lcl"].to_numpy(dtype=float), p["ucl"].to_numpy(dtype=float)
        if np.isfinite(lcl).any() or np.isfinite(ucl).any():
            lo = np.where(np.isfinite(lcl), lcl, np.nanmin(y) if np.isfinite(y).any() else 0)
            hi = np.where(np.isfinite(ucl), ucl, lo)
            ax.fill_between(px, lo, hi, step="mid", color=LIMIT_FILL, linewidth=0, zorder=0)
            ax.step(px, lcl, where="mid", color=DOT_COLOUR, linewidth=0.8, zorder=1)
            ax.step(px, ucl, where="mid", color=DOT_COLOUR, linewidth=0.8, zorder=1)
        if show_95:
            for c in ("lcl_95", "ucl_95"):
                ax.step(px, p[c].to_numpy(dtype=float), where="mid", color=DOT_COLOUR, linewidth=0.6,
                        linestyle=":", zorder=1)
        runs = bool(p["runs_signal"].any())
        ax.step(px, p["cl"].to_numpy(dtype=float), where="mid", zorder=2, linewidth=1.4,
                color=SIGNAL_COLOUR if runs else LINE_COLOUR, linestyle="--" if runs else "-")
        if label_lines:
            for c in ("lcl", "cl", "ucl"):
                v = p[c].to_numpy(dtype=float)[-1]
                if np.isfinite(v):
                    ax.annotate(_fmt(v, decimals), (px[-1], v), xytext=(4, 0), textcoords="offset points",
                                va="center", fontsize=7, color="#555555")
    if "target" in d and d["target"].notna().any():
        ax.plot(xs, d["target"].to_numpy(dtype=float), color=TARGET_COLOUR, linestyle=":", linewidth=1.2,
                zorder=2)

    # phase breaks: a dotted line halfway between the last point of a part and the first of the next
    parts = d["part"].to_numpy()
    for i in np.flatnonzero(parts[1:] != parts[:-1]):
        ax.axvline(_midpoint(xs[i], xs[i + 1]), color="#999999", linestyle=":", linewidth=1, zorder=1)

    if not categorical:
        ax.plot(xs, y, color=DOT_COLOUR, linewidth=1, zorder=3)
    normal = inc & ~sig
    ax.scatter(xs[normal], y[normal], s=14, color=DOT_COLOUR, zorder=4)
    ax.scatter(xs[sig & inc], y[sig & inc], s=22, color=SIGNAL_COLOUR, zorder=5)
    if (~inc).any():  # excluded points: hollow, orange rim when beyond the limits
        rims = np.where(sig[~inc], SIGNAL_COLOUR, DOT_COLOUR)
        ax.scatter(xs[~inc], y[~inc], s=22, facecolors="white", edgecolors=list(rims), zorder=5)
    if (pd.api.types.is_datetime64_any_dtype(d["x"]) or isinstance(d["x"].dtype, pd.PeriodDtype)) \
            and not categorical:
        locator = AutoDateLocator(minticks=3, maxticks=7)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if categorical:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(v) for v in d["x"]], rotation=90 if len(xs) > 8 else 0)
    ax.grid(False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _fmt(v: float, decimals: int | None) -> str:
    if decimals is None:
        decimals = 0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2 if abs(v) >= 1 else 4
    return f"{v:.{decimals}f}"


def _mark(ax, when, label):
    if when is None:
        return
    x = np.datetime64(pd.Timestamp(when)) if isinstance(when, str | pd.Timestamp) else when
    ax.axvline(x, color=INTERVENTION_COLOUR, linestyle="--", linewidth=1, zorder=6)
    if label:
        ax.annotate(label, (x, 1), xycoords=("data", "axes fraction"), xytext=(3, -3),
                    textcoords="offset points", va="top", fontsize=8, color=INTERVENTION_COLOUR)


@style.styled
def plot_qic(chart_data: pd.DataFrame, ax=None, *, title=None, xlabel="Subgroup", ylabel="Value",
             intervention=None, intervention_label="Intervention", show_95=False, show_labels=None,
             decimals=None, facets=None, ncols=None):
    """Draw a run or control chart from :func:`cluster_eval.spc.qic` chart data.

    Parameters
    ----------
    chart_data : DataFrame
        The output of :func:`cluster_eval.spc.qic` (or :func:`~cluster_eval.spc.qic_grouped`).
    ax : matplotlib Axes, optional
        Where to draw a single (unfaceted) chart; a new figure is made when omitted.
    title, xlabel, ylabel : str, optional
        Labels; the title defaults to the chart type and the runs verdict.
    intervention : date, str or number, optional
        An x value to mark with a dashed vertical line (e.g. a cluster's first meeting on the topic).
    intervention_label : str
        Text written beside the intervention line.
    show_95 : bool
        Also draw the 2-sigma limits, dotted.
    show_labels : bool, optional
        Print the last centre line and limit values at the right (default: for unfaceted charts).
    decimals : int, optional
        Decimals of those labels (default: by magnitude).
    facets : list of str, optional
        Facet columns (default ``chart_data.attrs['facets']``): one panel per facet.
    ncols : int, optional
        Panels per row for faceted charts.

    Returns
    -------
    matplotlib.axes.Axes or matplotlib.figure.Figure
        The Axes for a single chart; the Figure (one Axes per facet) for a faceted chart.
    """
    chart = chart_data.attrs.get("chart", str(chart_data["chart"].iloc[0]) if "chart" in chart_data
                                 and len(chart_data) else "run")
    categorical = bool(chart_data.attrs.get("categorical", False))
    if facets is None:
        facets = list(chart_data.attrs.get("facets", []))
    name = CHART_TITLES.get(chart, chart)

    if not facets:
        if ax is None:
            fig = Figure(figsize=(8, 4.2))
            ax = fig.add_subplot()
        _draw_one(ax, chart_data, categorical=categorical, show_95=show_95,
                  label_lines=True if show_labels is None else show_labels, decimals=decimals)
        _mark(ax, intervention, intervention_label)
        if title is None:
            title = name + (" — runs signal (non-random variation)" if chart_data["runs_signal"].any()
                            else "")
        ax.set_title(title, loc="left", fontsize=11)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        return ax

    groups = list(chart_data.groupby(facets, sort=True, observed=True))
    k = len(groups)
    ncols = ncols or math.ceil(math.sqrt(k))
    nrows = math.ceil(k / ncols)
    fig = Figure(figsize=(3.6 * ncols, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
    for a, (key, d) in zip(axes, groups):
        _draw_one(a, d, categorical=categorical, show_95=show_95,
                  label_lines=bool(show_labels), decimals=decimals)
        _mark(a, intervention, intervention_label)
        key = key if isinstance(key, tuple) else (key,)
        a.set_title(" / ".join(str(v) for v in key), fontsize=9, loc="left")
    for a in axes[k:]:
        a.set_visible(False)
    fig.suptitle(title if title is not None else name, x=0.01, ha="left", fontsize=11)
    fig.supxlabel(xlabel, fontsize=9)
    fig.supylabel(ylabel, fontsize=9)
    return fig
