"""Short CI version of benchmarks/recovery.py and a national_effects check on the synthetic data."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def recovery(benchmark_script):
    pytest.importorskip("cluster_eval.synthetic")
    return benchmark_script("recovery")


def test_recovery_two_replications(recovery):
    rows = recovery.main(["--part", "cluster", "--scale", "small", "--reps", "2", "--quiet"])
    summary = recovery.summarise_cluster(rows).set_index("estimator")
    assert {"new", "current"} <= set(summary.index)
    # few replications: only gross failures are caught here (the full runs are in benchmarks/README.md)
    assert summary.loc["new", "coverage"] >= 0.8
    assert summary.loc["new", "placebo defined"] == 1.0           # defined for every cluster size
    assert summary.loc["new", "worsened (shrunk)"] <= 0.1
    ratio = recovery.mde_ratio(rows)
    assert ratio["median of ratios"].iloc[0] < 1                   # the pre-period mean base is more precise
    nat = recovery.main(["--part", "national", "--reps", "1", "--quiet"])
    assert set(nat["estimator"]) == {"practice_se", "cluster_se", "cluster_se_cr1_t", "cluster_modelled_t"}


def test_national_truth_of_a_constant_effect(recovery):
    # the truth helper averages cell truths with group-size weights: constant effects give that constant
    import cluster_eval as ce
    from cluster_eval.impact.national import national_effects
    from cluster_eval.impact.panel import build_panels
    from cluster_eval.synthetic import INDICATORS

    ds = ce.synthetic.generate("small", seed=5)
    ind = "abx_rate"
    panels = build_panels(ds.measures, ds.practices, ds.activities, INDICATORS, only=[ind])
    nat = national_effects(ds.measures, ds.practices, ds.activities, INDICATORS, panels=panels)
    lookup = {(c, e): 2.0 for c in ds.practices["cluster_id"].dropna().unique() for e in range(0, 60)}
    s, d = recovery.national_truth(nat.results[ind], panels[ind], lookup)
    assert s == pytest.approx(2.0) and d == pytest.approx(2.0)
    e = nat.effects.set_index("indicator_id").loc[ind]
    assert e["lower"] < e["value"] < e["upper"] and np.isfinite(e["dynamic_value"])
