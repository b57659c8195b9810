"""Impact plots draw without error and return Axes (content spot checks)."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from cluster_eval.impact import cluster_effects, its, pool  # noqa: E402
from cluster_eval.plots.impact import event_study_plot, forest_plot, its_plot  # noqa: E402


def test_event_study_and_forest(tiny):
    prac, acts, meas = tiny
    res = cluster_effects(meas, prac, acts, {"ind_a": "abx"}, before=6, after=6)
    es = res.event_study[res.event_study["cluster_id"] == "C00"]
    ax = event_study_plot(es, title="C00")
    assert ax.get_xlabel() == "months since start" and len(ax.containers) >= 2
    e = res.effects.dropna(subset=["value"])
    ax = forest_plot(pool(e["value"], e["se"], labels=e["cluster_id"]), highlight="C01")
    red = [t for t in ax.get_yticklabels() if t.get_text() == "C01"]
    assert red and red[0].get_fontweight() == "bold"


def test_its_plot():
    t = np.arange(1, 41)
    y = np.random.default_rng(0).poisson(100 * np.exp(0.005 * t - 0.2 * (t >= 20)))
    ax = its_plot(its(y, t, 20, offset=np.full(40, 1000.0)))
    labels = [h.get_label() for h in ax.get_legend().legend_handles]
    assert "counterfactual" in labels
