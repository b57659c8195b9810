"""Synthetic events: the engine's aggregation reproduces the practice-level data set of the same seed.

Oracle: the generator's expected values (``cluster_eval.synthetic.generator.simulate`` diagnostics),
independent of the event simulation. Month indicators are checked per practice-month with a dispersion
statistic (mean squared z against binomial/Poisson noise: about 1 when the events are right, far from
1 when a rate or share is off); 12-month indicators, whose patients persist, on the pooled value.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.indicators import compute_measures, load_catalogue
from cluster_eval.synthetic.events import write_events
from cluster_eval.synthetic.generator import simulate

SCALE = 0.05


@pytest.fixture(scope="module")
def joined(tmp_path_factory):
    ds, diag = simulate("small", 7)
    folder = tmp_path_factory.mktemp("synth_events")
    write_events(ds, folder, seed=11, scale_factor=SCALE)
    m = compute_measures(folder, progress=False)
    pidx = {p: i for i, p in enumerate(ds.practices["practice_id"])}
    j = ds.measures.merge(m, on=["indicator_id", "practice_id", "period"], suffixes=("_gen", "_ev"))
    t = (j["period"].dt.year * 12 + j["period"].dt.month - 1 - diag["months"][0]).to_numpy()
    i = j["practice_id"].map(pidx).to_numpy()
    expected = np.empty(len(j))
    for k, name in enumerate(diag["indicators"]):
        sel = (j["indicator_id"] == name).to_numpy()
        expected[sel] = diag["expected"][k][i[sel], t[sel]]
    j["expected"] = expected
    return j, ds


def test_every_generated_practice_month_has_an_engine_row(joined):
    j, ds = joined
    assert len(j) >= 0.98 * len(ds.measures)


@pytest.mark.parametrize("iid", ["abx_rate", "abx_penv_share", "abx_quinolone_share", "dep_opioid_users",
                                 "dep_benzo_users", "eld_nsaid", "eld_polypharmacy"])
def test_month_indicators_are_within_sampling_noise(joined, iid):
    j, _ = joined
    d = j[(j["indicator_id"] == iid) & (j["denominator_ev"] > 0)]
    kind = load_catalogue()[iid].kind
    p = d["expected"] / (1000 if kind == "rate" else 1)
    n, x = d["denominator_ev"], d["numerator_ev"]
    var = n * p if kind == "rate" else n * p * (1 - p)
    z2 = ((x - n * p) ** 2 / var).mean()
    assert 0.85 < z2 < 1.15, z2
    pooled_z = (x.sum() - (n * p).sum()) / np.sqrt(var.sum())
    assert abs(pooled_z) < 4, pooled_z


@pytest.mark.parametrize("iid, tol", [("t2d_hba1c_measured", 0.03), ("t2d_hba1c_below59", 0.04),
                                      ("copd_spirometry", 0.05), ("copd_ics", 0.05)])
def test_twelve_month_indicators_match_the_expected_pooled_value(joined, iid, tol):
    j, _ = joined
    d = j[j["indicator_id"] == iid]
    got = d["numerator_ev"].sum() / d["denominator_ev"].sum()
    want = (d["expected"] * d["denominator_ev"]).sum() / d["denominator_ev"].sum()
    assert abs(got - want) < tol, (got, want)


@pytest.mark.parametrize("iid, lo, hi", [("abx_rate", 0.99, 1.01), ("t2d_hba1c_measured", 0.85, 1.15),
                                         ("copd_spirometry", 0.85, 1.15), ("eld_nsaid", 0.9, 1.05)])
def test_denominators_follow_the_scaled_lists(joined, iid, lo, hi):
    j, _ = joined
    d = j[j["indicator_id"] == iid]
    ratio = d["denominator_ev"].sum() / (SCALE * d["denominator_gen"].sum())
    assert lo < ratio < hi, ratio


def test_events_are_written_in_chunks_and_checked(tmp_path):
    ds, _ = simulate("small", 2)
    ds.measures = ds.measures[ds.measures["practice_id"].isin(["P0001", "P0002", "P0003", "P0004"])]
    write_events(ds, tmp_path, seed=1, scale_factor=0.05, batch_size=2)
    import pyarrow.parquet as pq
    meta = pq.ParquetFile(tmp_path / "prescriptions.parquet").metadata
    assert meta.num_row_groups == 2
    patients = pd.read_parquet(tmp_path / "patients.parquet")
    assert patients["patient_id"].is_unique
    with pytest.raises(ArgumentError, match="scale_factor must be a positive number; got 0"):
        write_events(ds, tmp_path, seed=1, scale_factor=0)
