"""plot_qic draws what the chart data say: centre line style, highlighted points, phases, intervention."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import cluster_eval as ce  # noqa: E402
from cluster_eval.plots.spc import LINE_COLOUR, SIGNAL_COLOUR, plot_qic  # noqa: E402


def _centre_lines(ax):
    return [ln for ln in ax.get_lines() if to_hex(ln.get_color()) in (LINE_COLOUR.lower(),
                                                                      SIGNAL_COLOUR.lower())]


def test_stable_chart_has_a_solid_blue_centre_line():
    d = ce.spc.qic(range(12), [5, 7, 6, 8, 5, 7, 6, 8, 5, 7, 6, 8], chart="i")
    ax = plot_qic(d)
    assert isinstance(ax, Axes)
    (cl,) = _centre_lines(ax)
    assert to_hex(cl.get_color()) == LINE_COLOUR.lower() and cl.get_linestyle() == "-"


def test_runs_signal_dashes_the_centre_line_and_sigma_signals_are_orange():
    y = list(range(1, 13)) + [40]
    d = ce.spc.qic(range(13), y, chart="c")
    assert d["runs_signal"].all() and d["sigma_signal"].iloc[-1]
    ax = plot_qic(d, title="custom")
    (cl,) = _centre_lines(ax)
    assert to_hex(cl.get_color()) == SIGNAL_COLOUR.lower() and cl.get_linestyle() == "--"
    orange = [c for c in ax.collections if len(c.get_offsets())
              and to_hex(c.get_facecolor()[0]) == SIGNAL_COLOUR.lower()]
    assert len(orange) == 1 and np.allclose(orange[0].get_offsets(), [[12, 40]])
    assert ax.get_title(loc="left") == "custom"


def test_phases_and_intervention_are_marked():
    dates = pd.date_range("2023-01-01", periods=24, freq="MS")
    y = [5, 7, 6, 8, 5, 7, 6, 8, 5, 7, 6, 8] * 2
    d = ce.spc.qic(dates, y, chart="i", part=12)
    ax = plot_qic(d, intervention="2023-07-01", intervention_label="First meeting")
    assert len(_centre_lines(ax)) == 2                    # one centre line per phase
    verticals = [ln for ln in ax.get_lines() if len(set(np.atleast_1d(ln.get_xdata()))) == 1]
    assert len(verticals) == 2                            # the phase break and the intervention
    assert any(t.get_text() == "First meeting" for t in ax.texts)


def test_facets_give_one_panel_each():
    data = pd.DataFrame({"month": list(range(10)) * 3, "unit": np.repeat(["a", "b", "c"], 10),
                         "events": np.arange(30) % 7, "days": 100})
    d = ce.spc.qic_grouped(data, "month", "events", "days", by="unit", chart="u")
    fig = plot_qic(d)
    assert isinstance(fig, Figure)
    titled = [a.get_title(loc="left") for a in fig.axes if a.get_visible()]
    assert titled == ["a", "b", "c"]


def test_categorical_subgroups_are_dots_with_labels():
    d = ce.spc.qic(["north", "south", "east"], [3, 5, 4], [100, 120, 90], chart="up")
    ax = plot_qic(d, show_labels=False)
    # strings sort like R factor levels; no line joins categories
    assert [t.get_text() for t in ax.get_xticklabels()] == ["east", "north", "south"]
    assert not ax.texts
    assert not [ln for ln in ax.get_lines() if np.allclose(ln.get_ydata(), d["y"], equal_nan=True)]
