"""The synthetic data pass the contract's validation and survive a write/load round trip; geography invariants."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import cluster_eval as ce
from cluster_eval.synthetic import geography


def test_write_then_load_dataset_is_identical(tmp_path):
    ds = ce.synthetic.generate("small", seed=4)
    out = ce.synthetic.write(tmp_path / "d", scale="small", seed=4)
    back = ce.load_dataset(out)          # validates every contract rule; raises InputError otherwise
    for name in ("practices", "clusters", "activities", "measures", "population"):
        pd.testing.assert_frame_equal(getattr(back, name).reset_index(drop=True),
                                      getattr(ds, name).reset_index(drop=True), obj=name)
    np.testing.assert_allclose(back.truth["effect"], ds.truth["effect"], rtol=1e-12)


def test_write_does_not_need_the_events_module(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "cluster_eval.synthetic.events", None)   # import would fail
    out = ce.synthetic.write(tmp_path / "d", scale="small", seed=0, events=False)
    assert (out / "measures.csv").exists()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), small=st.booleans())
def test_geography_invariants(seed, small):
    rng = np.random.default_rng(seed)
    args = (120, 12, 3, 15) if small else (1700, 116, 14, None)
    practices, clusters = geography.make_geography(rng, *args)
    assert len(practices) == args[0] and len(clusters) == args[1]
    assert practices["cluster_id"].isna().sum() == args[2]
    sizes = practices.groupby("cluster_id").size()
    assert sizes.between(geography.MIN_CLUSTER, geography.MAX_CLUSTER).all() and len(sizes) == args[1]
    assert set(practices["region"]) == set(geography.REGIONS)
    # a cluster's practices all lie in the cluster's region
    reg = practices.dropna(subset=["cluster_id"]).merge(clusters, on="cluster_id", suffixes=("", "_c"))
    assert (reg["region"] == reg["region_c"]).all()
    if not small:
        assert practices["municipality"].nunique() == 98
