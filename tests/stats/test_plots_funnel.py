"""Funnel and caterpillar plots: they draw what they claim (limits, outlier labels) and return Axes."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cluster_eval.plots.funnel import plot_caterpillar, plot_funnel  # noqa: E402
from cluster_eval.stats import funnel  # noqa: E402


def _example():
    rng = np.random.default_rng(3)
    n = rng.integers(50, 2000, 40)
    p = np.clip(rng.normal(0.3, 0.06, 40), 0.01, 0.99)
    x = rng.binomial(n, p)
    return funnel(x, n, [f"P{i:02d}" for i in range(40)], overdispersion="additive")


def test_funnel_plot_draws_both_limit_pairs_and_labels_outliers():
    res = _example()
    ax = plot_funnel(res)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "95% limits (additive)" in labels and "99.8% limits (additive)" in labels
    assert "95% limits (unadjusted)" in labels and "99.8% limits (unadjusted)" in labels
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(map(str, res.outliers(0.998)["unit"]))
    assert ax.figure is not None
    ax.figure.savefig(__import__("io").BytesIO(), format="png")


def test_funnel_plot_unadjusted_ratio():
    res = funnel([30, 50, 80, 5], [40.0, 45.0, 60.0, 12.0], ["a", "b", "c", "d"], statistic="ratio")
    ax = plot_funnel(res, highlight=["a"])
    assert "99.8% limits" in [line.get_label() for line in ax.get_lines()]


def test_caterpillar_from_result_and_frame():
    res = _example()
    ax = plot_caterpillar(res, highlight=["P01"])
    assert len(ax.collections) >= 2
    table = pd.DataFrame({"unit": ["a", "b"], "value": [0.2, 0.4], "lower": [0.1, 0.3], "upper": [0.3, 0.5]})
    ax2 = plot_caterpillar(table, target=0.25)
    assert [t.get_text() for t in ax2.get_xticklabels()] == ["a", "b"]
