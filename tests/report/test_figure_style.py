"""Every figure is drawn in seaborn's theme with its colour-blind-safe palette (cluster_eval.plots.style), the
caller's matplotlib settings are left alone, and a figure becomes a named SVG image (title and description)."""
from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from cluster_eval.plots import style  # noqa: E402
from cluster_eval.report import figures as F  # noqa: E402


def test_palette_is_seaborns_colorblind_palette():
    assert list(style.PALETTE) == sns.color_palette("colorblind").as_hex()
    for colour in (F.CLUSTER, F.REGION, F.POOLED, F.OTHER):
        assert colour in style.PALETTE


def _variation(n_ind: int = 3):
    meta = pd.DataFrame({"indicator_id": [f"i{k}" for k in range(n_ind)], "topic": "t",
                         "title": [f"Indicator {k}" for k in range(n_ind)], "unit": "%"}).set_index("indicator_id")
    vt = pd.DataFrame([{"indicator_id": f"i{k}", "year": y, "cv": 0.1 * (k + 1) + 0.01 * y}
                       for k in range(n_ind) for y in range(2018, 2022)])
    return vt, meta


def test_report_figures_use_the_theme_and_leave_the_callers_settings(monkeypatch):
    matplotlib.rcParams["axes.prop_cycle"] = matplotlib.cycler(color=["#000000"])
    matplotlib.rcParams["font.size"] = 17.0
    try:
        vt, meta = _variation()
        fig = F.variation_trends(vt, meta)
        colours = [to_hex(line.get_color()) for line in fig.get_axes()[0].get_lines()]
        # unnamed lines take the palette's colours in order, whatever the caller's cycle
        assert colours == sns.color_palette("colorblind").as_hex()[:3]
        assert matplotlib.rcParams["font.size"] == 17.0                         # restored afterwards
        assert to_hex(matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0]) == "#000000"
    finally:
        matplotlib.rcdefaults()


def test_library_plots_use_the_palette():
    from cluster_eval.impact import pool
    from cluster_eval.plots.impact import forest_plot

    ax = forest_plot(pool([0.1, 0.3, 0.25], [0.05, 0.08, 0.06], labels=["a", "b", "c"]), highlight="b")
    used = {to_hex(c) for coll in ax.collections for c in np.atleast_2d(coll.get_edgecolor())}
    used |= {to_hex(line.get_color()) for line in ax.get_lines()}
    assert style.VERMILLION in used                                              # the highlighted unit


def test_svg_is_a_named_image_describing_its_panels():
    vt, meta = _variation(2)
    fig = F.variation_trends(vt, meta)
    text = F.svg(fig)
    head = text[:text.find(">") + 1]
    assert head.startswith("<svg") and 'role="img"' in head
    t_id, d_id = re.search(r'aria-labelledby="([^"]+)"', head).group(1).split()
    title = re.search(rf'<title id="{t_id}">([^<]+)</title>', text).group(1)
    desc = re.search(rf'<desc id="{d_id}">([^<]+)</desc>', text).group(1)
    assert title == "Variation between practices by year" == fig.get_label()
    # one visible panel (topic t) with its y axis and the legend naming both indicators
    assert desc.startswith("1 panel(s): t (") and "coefficient of variation" in desc
    assert "Indicator 0" in desc and "Indicator 1" in desc
    # explicit words win; the same figure gives the same SVG (deterministic ids)
    assert "<title id=" in F.svg(fig, title="Mine", desc="Two lines") and ">Mine</title>" in F.svg(fig, "Mine", "x")
    assert F.svg(fig) == text
