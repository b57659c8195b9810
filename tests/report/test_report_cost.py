"""The report stage's cheaper paths give the same report: the HTML export without nbconvert's BeautifulSoup pass,
tick locators that return only the ticks in view, the other clusters' marks of a forest strip as one path."""
from __future__ import annotations

import copy

import nbformat
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cluster_eval.report import figures as F
from cluster_eval.report import render as R
from cluster_eval.report import topic_figures as TF

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" role="img"><title>t</title>'
       '<path d="M 0 0 L 10 10" style="stroke: #000"/></svg>')


def _executed():
    """A notebook with the kinds of output a report has: HTML with inline SVG and a table, markdown, text, an
    image without alt text, a parameters cell and stderr."""
    params = nbformat.v4.new_code_cell('run_dir = ""')
    params.metadata["tags"] = ["parameters"]
    html = nbformat.v4.new_code_cell("report.details()")
    html.outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": f'<h2 id="x">Effects &amp; “readings” it&#x27;s</h2>{SVG}<br><table class="ce-table">'
                     '<thead><tr><th>a</th></tr></thead><tbody><tr><td>1,5</td></tr></tbody></table>',
        "text/plain": "<IPython.core.display.HTML object>"})]
    img = nbformat.v4.new_code_cell("x")
    img.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "x"}),
                   nbformat.v4.new_output("stream", name="stdout", text="printed\n"),
                   nbformat.v4.new_output("stream", name="stderr", text="a warning\n")]
    md = nbformat.v4.new_markdown_cell("Some *text* and a [link](#x).")
    return nbformat.v4.new_notebook(cells=[params, html, img, md])


def test_export_is_nbconverts_html_without_the_reparse():
    """nbconvert's HTMLExporter re-parses and re-serialises its page with BeautifulSoup (adding alt text to
    images without one): the cheaper exporter's page, passed through the same re-parse, is the same text."""
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    nb = R.strip_cells(_executed())
    ref = HTMLExporter(template_name="basic")
    for k in ("exclude_input", "exclude_input_prompt", "exclude_output_prompt", "exclude_anchor_links"):
        setattr(ref, k, True)
    old = ref.from_notebook_node(copy.deepcopy(nb))[0]
    new = R._get_exporter().from_notebook_node(copy.deepcopy(nb))[0]
    assert "No description has been provided" in old   # nbconvert's own alt text for the image
    # the same page once nbconvert's alt text is added to the cheaper one
    patched = R.IMG_NO_ALT.sub('<img alt="No description has been provided for this image"', new)
    assert str(BeautifulSoup(patched, features="html.parser")) == old
    assert "viewBox" in new        # the inline SVG as drawn (the re-parse lower-cased its attribute names)


@pytest.mark.parametrize("lang, word", [("en", "Figure"), ("da", "Figur")])
def test_image_without_alt_gets_one_in_the_report_language(lang, word):
    text = R.render(_executed(), "A report", lang=lang)
    assert f'<img alt="{word}"' in text
    assert "No description" not in text
    assert "<img src" not in text


def test_in_view_locator_draws_the_same_ticks():
    """The drawn ticks of an axis with InView are MaxNLocator's ticks within the limits, and no tick object is
    made for the locations beyond them."""
    from matplotlib.ticker import MaxNLocator

    drawn = {}
    for name, loc in (("max", MaxNLocator(3)), ("inview", F.InView(3))):
        fig = Figure()
        ax = fig.add_subplot()
        ax.plot([0.13, 7.9], [-2.2, 41.0])
        ax.xaxis.set_major_locator(loc)
        fig.canvas.draw()
        drawn[name] = [t.get_loc() for t in ax.xaxis._update_ticks()]
        drawn[name + "_made"] = len(ax.xaxis.majorTicks)
        drawn[name + "_locs"] = list(loc())
    # by hand: limits 0.13..7.9 with 5% margins are -0.2585..8.2885; 3 bins need a step of at least 2.85, and
    # MaxNLocator's next step is 3: ticks at 0, 3, 6 within the limits, -3 and 9 beyond them
    assert drawn["inview"] == drawn["max"] == [0.0, 3.0, 6.0]
    assert drawn["max_locs"] == [-3.0, 0.0, 3.0, 6.0, 9.0] and drawn["inview_locs"] == [0.0, 3.0, 6.0]
    assert (drawn["max_made"], drawn["inview_made"]) == (5, 3)


def test_forest_strip_marks_every_other_cluster_in_one_path():
    rng = np.random.default_rng(1)
    n = 1250
    effects = pd.DataFrame({"cluster_id": [f"C{i:04d}" for i in range(n)], "indicator_id": "i1",
                            "estimate": rng.normal(0, 1, n)})
    effects["lower"], effects["upper"] = effects["estimate"] - 0.5, effects["estimate"] + 0.5
    meta = pd.DataFrame({"title": ["An indicator"], "unit": ["%"], "topic": ["t"]}, index=pd.Index(["i1"]))
    pooled = pd.DataFrame({"indicator_id": ["i1"], "estimate": [0.1], "lower": [0.0], "upper": [0.2]})
    fig = TF.forest_strips(effects, meta, pooled, "C0007")
    ax = fig.get_axes()[0]
    grey = [ln for ln in ax.get_lines() if np.isnan(ln.get_xdata()).any()]
    assert len(grey) == 1
    x = grey[0].get_xdata()
    others = effects.loc[effects["cluster_id"] != "C0007", "estimate"].to_numpy()
    assert np.array_equal(x[0::3], others) and np.array_equal(x[1::3], others)   # a vertical mark each
    assert max(len(c.get_offsets()) for c in ax.collections) == 1   # no marker per other cluster
    # the marks are as tall as the 40 pt² "|" marker they replace: 6.3 pt on the drawn figure
    y = grey[0].get_ydata()
    top, bottom = ax.transData.transform([[0, y[1]], [0, y[0]]])[:, 1]
    assert (top - bottom) / fig.dpi * 72 == pytest.approx(40 ** 0.5, rel=1e-6)
    svg = F.svg(fig)
    assert svg.count("<use ") < 50     # ticks and the legend; no marker element per cluster (1,249 before)
