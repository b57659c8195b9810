"""Funnel and caterpillar plots of unit-level indicator values (from :func:`cluster_eval.stats.funnel`).

What the reader sees:

* **Funnel plot**: one dot per unit (practice) at its denominator (x) and value (y); the target as a
  horizontal line; the 95% limits dashed and the 99.8% limits solid (overdispersion-adjusted limits in
  colour when the analysis was adjusted, the unadjusted ones faint grey behind them); units outside
  the 99.8% limits in orange with their names, outside the 95% limits in light orange.
* **Caterpillar plot**: units ranked by value, each with its own confidence interval, against the
  target line; intervals that exclude the target stand out.

Both return the matplotlib Axes and never call ``plt.show()``; they draw on a new Figure (no pyplot
state) unless an Axes is given.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..stats._shared import level_label, level_suffix
from ..stats.proportions import proportion_ci
from ..stats.rates import exact_poisson_limits
from . import style

# seaborn's colour-blind-safe palette (plots/style.py)
POINT_COLOUR = style.SKY
OUT_95_COLOUR = style.ORANGE
OUT_998_COLOUR = style.VERMILLION
LIMIT_COLOUR = style.BLUE
UNADJUSTED_COLOUR = "#bbbbbb"
TARGET_COLOUR = "#444444"
HIGHLIGHT_COLOUR = style.GREEN


def _new_axes(ax: Axes | None, figsize) -> Axes:
    if ax is not None:
        return ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def _point_colours(labels: pd.Series, top: str) -> np.ndarray:
    colours = np.full(len(labels), POINT_COLOUR, dtype=object)
    outside = labels.str.startswith(("above", "below"))
    colours[outside.to_numpy()] = OUT_95_COLOUR
    colours[labels.str.endswith(top).to_numpy()] = OUT_998_COLOUR
    return colours


@style.styled
def plot_funnel(result, ax: Axes | None = None, *, label_outliers: bool = True, highlight=None,
                title: str | None = None, xlabel: str | None = None, ylabel: str | None = None,
                log_x: bool = False, figsize=(7, 4.5)) -> Axes:
    """Funnel plot of a :class:`~cluster_eval.stats.FunnelResult` with both limit pairs.

    Parameters
    ----------
    result : FunnelResult
    ax : matplotlib Axes, optional
    label_outliers : bool
        Name the units outside the highest limits.
    highlight : sequence, optional
        Unit ids to mark (e.g. the practices of one cluster), drawn as green diamonds.
    title, xlabel, ylabel : str, optional
    log_x : bool
        Logarithmic denominator axis (for very unequal unit sizes).
    """
    ax = _new_axes(ax, figsize)
    units = result.units.dropna(subset=["value"])
    levels = sorted(result.confidence)
    top = level_label(levels[-1])
    grid = result.limits()
    x_col = "denominator"
    adjusted = result.overdispersion is not None
    for k, c in enumerate(levels):
        style = "-" if k == len(levels) - 1 else "--"
        part = grid[np.isclose(grid["confidence"], c)]
        unadj = part[~part["method"].str.contains("overdispersion")]
        adj = part[part["method"].str.contains("overdispersion")]
        base_colour = UNADJUSTED_COLOUR if adjusted else LIMIT_COLOUR
        for side in ("lower", "upper"):
            ax.plot(unadj[x_col], unadj[side], style, color=base_colour, lw=1.0,
                    label=f"{level_label(c)} limits" + (" (unadjusted)" if adjusted else "")
                    if side == "lower" else None)
            if adjusted:
                ax.plot(adj[x_col], adj[side], style, color=LIMIT_COLOUR, lw=1.2,
                        label=f"{level_label(c)} limits ({result.overdispersion})" if side == "lower" else None)
    ax.axhline(result.target, color=TARGET_COLOUR, lw=1, label="target")
    colours = _point_colours(units["label"], top)
    ax.scatter(units["denominator"], units["value"], c=list(colours), s=22, edgecolors="white",
               linewidths=0.5, zorder=3)
    if highlight is not None:
        mark = units[units["unit"].isin(list(highlight))]
        ax.scatter(mark["denominator"], mark["value"], marker="D", s=40, facecolors="none",
                   edgecolors=HIGHLIGHT_COLOUR, linewidths=1.4, zorder=4, label="highlighted")
    if label_outliers:
        sfx = level_suffix(levels[-1])
        out = units[(units["value"] < units[f"lower_{sfx}"]) | (units["value"] > units[f"upper_{sfx}"])]
        for _, row in out.iterrows():
            ax.annotate(str(row["unit"]), (row["denominator"], row["value"]), xytext=(4, 3),
                        textcoords="offset points", fontsize=7, color="#333333")
    if log_x:
        ax.set_xscale("log")
    finite = units["value"][np.isfinite(units["value"])]
    if len(finite):
        span = finite.max() - finite.min()
        ax.set_ylim(max(0.0, finite.min() - 0.15 * span) if result.statistic != "ratio" or finite.min() > 0
                    else None, finite.max() + 0.15 * span)
    default_x = {"proportion": "Denominator", "ratio": "Expected", "rate": "Person-time"}[result.statistic]
    ax.set_xlabel(xlabel or default_x)
    ax.set_ylabel(ylabel or result.statistic.capitalize())
    n_out = int(units["label"].str.endswith(top).sum())
    ax.set_title(title or f"{len(units)} units, {n_out} outside the {top} limits", fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="best")
    return ax


def _unit_intervals(result, confidence: float) -> pd.DataFrame:
    """Each unit's own interval: Wilson for proportions, exact Poisson for ratios and rates."""
    u = result.units.dropna(subset=["value"])
    if result.statistic == "proportion":
        ci = proportion_ci(u["numerator"].to_numpy(), u["denominator"].to_numpy(), confidence,
                           multiplier=result.multiplier)
        lower, upper = ci["lower"].to_numpy(), ci["upper"].to_numpy()
    else:
        lo, hi = exact_poisson_limits(u["numerator"].to_numpy(), confidence)
        scale = result.multiplier / u["denominator"].to_numpy()
        lower, upper = lo * scale, hi * scale
    return pd.DataFrame({"unit": u["unit"].to_numpy(), "value": u["value"].to_numpy(), "lower": lower,
                         "upper": upper})


@style.styled
def plot_caterpillar(data, ax: Axes | None = None, *, target: float | None = None, confidence: float = 0.95,
                     highlight=None, title: str | None = None, ylabel: str | None = None,
                     show_names: bool | None = None, figsize=(7, 4.5)) -> Axes:
    """Caterpillar plot: units ranked by value with their confidence intervals.

    Parameters
    ----------
    data : FunnelResult or pandas.DataFrame
        A funnel result (each unit's interval is computed: Wilson for proportions, exact Poisson for
        ratios and rates), or a table with columns ``unit, value, lower, upper``.
    target : float, optional
        Reference line (default the funnel's target).
    confidence : float
        Level of the unit intervals when ``data`` is a FunnelResult.
    highlight : sequence, optional
        Unit ids to mark in green.
    show_names : bool, optional
        Write unit names on the x-axis (default: when there are at most 40 units).
    """
    ax = _new_axes(ax, figsize)
    if hasattr(data, "units"):
        table = _unit_intervals(data, confidence)
        target = data.target if target is None else target
        ylabel = ylabel or data.statistic.capitalize()
    else:
        table = pd.DataFrame(data)[["unit", "value", "lower", "upper"]].dropna(subset=["value"])
    table = table.sort_values("value", kind="stable").reset_index(drop=True)
    pos = np.arange(len(table))
    colour = np.full(len(table), POINT_COLOUR, dtype=object)
    if target is not None:
        colour[(table["lower"] > target).to_numpy()] = OUT_998_COLOUR
        colour[(table["upper"] < target).to_numpy()] = OUT_998_COLOUR
        ax.axhline(target, color=TARGET_COLOUR, lw=1, label="target")
    if highlight is not None:
        colour[table["unit"].isin(list(highlight)).to_numpy()] = HIGHLIGHT_COLOUR
    ax.vlines(pos, table["lower"], table["upper"], colors=list(colour), lw=1.2)
    ax.scatter(pos, table["value"], c=list(colour), s=14, zorder=3)
    if show_names is None:
        show_names = len(table) <= 40
    if show_names:
        ax.set_xticks(pos, [str(u) for u in table["unit"]], rotation=90, fontsize=7)
    else:
        ax.set_xticks([])
    ax.set_xlabel("Units, ranked by value")
    ax.set_ylabel(ylabel or "Value")
    ax.set_title(title or f"{len(table)} units with {level_label(confidence)} intervals", fontsize=10)
    return ax
