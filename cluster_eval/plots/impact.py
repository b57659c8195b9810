"""Impact plots: event study with bands, interrupted time series with its counterfactual, forest plot.

Each function draws on ``ax`` (a new figure when None) and returns the Axes; none calls ``plt.show()``.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import style  # noqa: E402

# seaborn's colour-blind-safe palette (plots/style.py)
EFFECT_COLOUR = style.BLUE
PRE_COLOUR = style.GREY
HIGHLIGHT = style.VERMILLION


def _axes(ax, figsize):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


@style.styled
def event_study_plot(table: pd.DataFrame, *, ax=None, event_col: str = "event_time", value_col: str = "value",
                     lower_col: str = "lower", upper_col: str = "upper", band_lower_col: str | None = None,
                     band_upper_col: str | None = None, title: str | None = None, ylabel: str = "effect",
                     figsize=(7, 4)):
    """Event-study estimates with pointwise intervals (and a uniform band when given).

    ``table`` is e.g. ``cluster_effects(...).event_study`` for one cluster and indicator, or
    ``att_gt(...).aggregate("dynamic").table`` (pass the ``band_lower`` / ``band_upper`` columns for its
    uniform band). Pre-period points are grey, post-period points coloured.
    """
    ax = _axes(ax, figsize)
    t = table.sort_values(event_col)
    e = t[event_col].to_numpy(float)
    v = t[value_col].to_numpy(float)
    if band_lower_col and band_lower_col in t:
        ax.fill_between(e, t[band_lower_col], t[band_upper_col], color=EFFECT_COLOUR, alpha=0.12, step=None,
                        label="uniform band", linewidth=0)
    pre = e < 0
    for mask, colour, label in [(pre, PRE_COLOUR, "before start"), (~pre, EFFECT_COLOUR, "after start")]:
        if mask.any():
            lo, hi = t[lower_col].to_numpy(float)[mask], t[upper_col].to_numpy(float)[mask]
            ax.errorbar(e[mask], v[mask], yerr=[v[mask] - lo, hi - v[mask]], fmt="o", color=colour, ms=4,
                        capsize=2, lw=1, label=label)
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="black", lw=0.8, ls="--")
    ax.set_xlabel("months since start")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return ax


@style.styled
def its_plot(result, *, ax=None, rate: bool = True, title: str | None = None, ylabel: str | None = None,
             figsize=(8, 4)):
    """Observed series, fitted segmented regression and the counterfactual (dashed, with its interval)."""
    ax = _axes(ax, figsize)
    s = result.series
    use_rate = rate and "observed_rate" in s
    obs = s["observed_rate"] if use_rate else s["observed"]
    fit = s["fitted_rate"] if use_rate else s["fitted"]
    cf = s["counterfactual"] if use_rate else s.get("counterfactual_count", s["counterfactual"])
    lo = s["counterfactual_lower"] if use_rate else s.get("counterfactual_lower_count", s["counterfactual_lower"])
    hi = s["counterfactual_upper"] if use_rate else s.get("counterfactual_upper_count", s["counterfactual_upper"])
    post = s["exposed"].to_numpy() == 1
    t = s["time"]
    ax.scatter(t, obs, s=10, color=PRE_COLOUR, label="observed")
    ax.plot(t, fit, color=EFFECT_COLOUR, lw=1.5, label="fitted")
    ax.plot(t[post], cf[post], color=HIGHLIGHT, lw=1.2, ls="--", label="counterfactual")
    ax.fill_between(t[post], lo[post], hi[post], color=HIGHLIGHT, alpha=0.12, linewidth=0)
    if post.any():
        ax.axvline(t[post].min() - 0.5, color="black", lw=0.8, ls=":")
    ax.set_xlabel("time")
    ax.set_ylabel(ylabel or ("rate" if use_rate else "value"))
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return ax


@style.styled
def forest_plot(pooled, *, highlight=None, ax=None, title: str | None = None, xlabel: str = "effect",
                sort: bool = True, figsize=None):
    """Forest plot of per-cluster effects with the pooled estimate and prediction interval.

    ``pooled`` is a :class:`~cluster_eval.impact.pool.PoolResults`; ``highlight`` a cluster label drawn in
    colour (the others grey).
    """
    st = pooled.studies[pooled.studies["used"]].copy()
    if sort:
        st = st.sort_values("effect")
    k = len(st)
    ax = _axes(ax, figsize or (6, max(3, 0.22 * k + 1.5)))
    y = np.arange(k, 0, -1)
    colours = [HIGHLIGHT if (highlight is not None and str(lab) == str(highlight)) else PRE_COLOUR
               for lab in st["label"]]
    ax.hlines(y, st["lower"], st["upper"], colors=colours, lw=1)
    w = st["weight"].to_numpy(float)
    ax.scatter(st["effect"], y, s=12 + 60 * w / np.nanmax(w), c=colours, marker="s", zorder=3)
    o = pooled.overall.iloc[0]
    ax.plot([o["lower"], o["value"], o["upper"], o["value"], o["lower"]], [-0.5, -0.2, -0.5, -0.8, -0.5],
            color=EFFECT_COLOUR, lw=1)
    ax.hlines(-0.5, o["pi_lower"], o["pi_upper"], colors=EFFECT_COLOUR, lw=0.8, linestyles=":")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(list(y) + [-0.5])
    ax.set_yticklabels([str(v) for v in st["label"]] + [f"pooled ({o['method']})"], fontsize=7)
    for lab in ax.get_yticklabels():
        if highlight is not None and lab.get_text() == str(highlight):
            lab.set_color(HIGHLIGHT)
            lab.set_fontweight("bold")
    ax.set_xlabel(xlabel)
    ax.set_title(title or f"tau² = {o['tau2']:.3g}, I² = {o['I2']:.0f}%")
    return ax
