"""benchmarks/real_placebo.py: fake starts leave every estimator its full window; one draw on the real data."""

import numpy as np
import pandas as pd
import pytest

from cluster_eval.impact.panel import IndicatorPanel


@pytest.fixture(scope="module")
def rp(benchmark_script):
    return benchmark_script("real_placebo")


def test_fake_starts_have_full_windows(rp):
    clusters = [f"C{i}" for i in range(14)]
    rng = np.random.default_rng(7)
    seen = set()
    for _ in range(300):
        starts = rp.draw_starts(rng, clusters, 60, after=12, min_pre=12, share=0.5)
        assert len(starts) == 7 and set(starts) <= set(clusters)
        s = np.array(list(starts.values()))
        assert (s >= 12).all() and (s + 12 <= 59).all()      # 12 months before, months s .. s+12 in the data
        seen |= set(s.tolist())
    assert seen == set(range(12, 48))                         # uniform over every admissible month
    with pytest.raises(ValueError):
        rp.start_range(20, 12, 12)


def test_with_starts_sets_practices_and_clusters(rp):
    vals = np.zeros((5, 30))
    p = IndicatorPanel.from_array(vals, ["A", "A", "B", None, "C"], {})
    q = rp.with_starts(p, {"A": 14, "C": 20})
    np.testing.assert_array_equal(q.start_index, [14, 14, np.inf, np.inf, 20])
    assert list(q.cluster_start["cluster_id"]) == ["A", "C"]
    assert list(q.cluster_start["start"]) == [p.periods[14], p.periods[20]]
    assert rp.clusters_of(p).tolist() == ["A", "B", "C"]


def test_one_draw_on_manchester(rp, shared, monkeypatch):
    path = shared("data/real/manchester_practice_month_antibiotics_with_pcn.csv")
    panel = rp.load_panel(path)
    assert panel.value.shape == (96, 60)
    rows = rp.one_draw(panel, 0, 1, after=12, min_pre=12, share=0.5)
    d = pd.DataFrame(rows)
    assert set(d["estimator"]) == {*rp.ESTIMATORS, "national"}
    cl = d[d["estimator"] == "premean-weighted"]
    assert len(cl) == 7                                       # half of the 14 PCNs, each estimable
    assert (cl["n_pre"] >= 12).all() and (cl["se_basis"] == "practice + cluster").all()
    po = d[d["estimator"] == "premean-weighted-practice-only"]
    assert (po["se_basis"] == "practice only").all()
