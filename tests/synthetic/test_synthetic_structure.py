"""Structure of the synthetic Denmark: sizes, the data contract's invariants, determinism, writing."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cluster_eval as ce
from cluster_eval.errors import ArgumentError

REGIONS = {"Hovedstaden", "Sjælland", "Syddanmark", "Midtjylland", "Nordjylland"}
INDICATORS = {"abx_rate", "abx_penv_share", "abx_quinolone_share", "t2d_hba1c_measured", "t2d_hba1c_below59",
              "copd_spirometry", "copd_ics", "dep_opioid_users", "dep_benzo_users", "eld_polypharmacy",
              "eld_nsaid"}
RATES = {"abx_rate", "dep_opioid_users", "dep_benzo_users"}
BANDS = ["0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54",
         "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+"]


def test_denmark_sizes(denmark):
    ds, _ = denmark
    pr, cl = ds.practices, ds.clusters
    assert len(pr) == 1700 and pr["practice_id"].is_unique
    assert set(pr["region"]) == REGIONS and set(cl["region"]) == REGIONS
    assert pr["municipality"].nunique() == 98
    assert len(cl) == 116 and cl["cluster_id"].is_unique and cl["name"].is_unique
    sizes = pr.groupby("cluster_id").size()
    assert sizes.min() >= 5 and sizes.max() <= 30 and len(sizes) == 116
    assert 5 <= pr["cluster_id"].isna().sum() <= 30            # a few practices in no cluster
    periods = ds.measures["period"]
    assert periods.min() == pd.Timestamp("2016-01-01") and periods.max() == pd.Timestamp("2024-12-01")
    assert periods.nunique() == 108
    assert set(ds.measures["indicator_id"]) == INDICATORS


def test_denmark_list_sizes_solo_and_partnerships(denmark):
    ds, _ = denmark
    pop = ds.population
    lists = pop[pop["period"] == pd.Timestamp("2020-01-01")].groupby("practice_id")["persons"].sum()
    assert 1_000 <= lists.quantile(0.05) and lists.quantile(0.95) <= 12_000
    assert lists.max() > 8_000 and 3_000 < lists.mean() < 4_000
    assert 5.3e6 < lists.sum() < 6.6e6                          # about the Danish population


def test_small_sizes():
    ds = ce.synthetic.generate("small", seed=5)       # (no timing assertion: timings are benchmarks' business)
    assert len(ds.practices) == 120 and len(ds.clusters) == 12
    assert ds.measures["period"].nunique() == 48
    assert ds.practices["cluster_id"].isna().sum() >= 1


@pytest.mark.parametrize("fixture", ["small", "denmark"])
def test_measures_contract(fixture, request):
    ds, _ = request.getfixturevalue(fixture)
    m = ds.measures
    assert list(m.columns) == ["indicator_id", "practice_id", "period", "numerator", "denominator"]
    assert pd.api.types.is_datetime64_any_dtype(m["period"]) and (m["period"].dt.day == 1).all()
    for col in ("numerator", "denominator"):
        x = m[col].to_numpy()
        assert (x >= 0).all() and (x == np.round(x)).all()
    prop = ~m["indicator_id"].isin(RATES)
    assert (m.loc[prop, "numerator"] <= m.loc[prop, "denominator"]).all()
    assert not m.duplicated(["indicator_id", "practice_id", "period"]).any()
    assert set(m["practice_id"]) <= set(ds.practices["practice_id"])
    clustered = ds.practices["cluster_id"].dropna()
    assert set(clustered) <= set(ds.clusters["cluster_id"])
    # shares are of the practice's J01 prescriptions (the abx_rate numerator)
    key = ["practice_id", "period"]
    abx = m.loc[m["indicator_id"] == "abx_rate", key + ["numerator"]]
    pen = m.loc[m["indicator_id"] == "abx_penv_share", key + ["numerator", "denominator"]]
    qui = m.loc[m["indicator_id"] == "abx_quinolone_share", key + ["numerator", "denominator"]]
    both = abx.merge(pen, on=key, suffixes=("", "_pen")).merge(qui, on=key, suffixes=("", "_qui"))
    assert len(both) == len(abx) == len(pen) == len(qui)
    assert (both["denominator"] == both["numerator"]).all() and (both["denominator_qui"] == both["numerator"]).all()
    assert (both["numerator_pen"] + both["numerator_qui"] <= both["numerator"]).all()


@pytest.mark.parametrize("fixture", ["small", "denmark"])
def test_activities_and_population_contract(fixture, request):
    ds, _ = request.getfixturevalue(fixture)
    act = ds.activities
    assert set(act["topic"]) <= {"antibiotics", "diabetes", "copd", "dependence", "elderly"}
    assert set(act["cluster_id"]) <= set(ds.clusters["cluster_id"])
    assert not act.duplicated(["cluster_id", "topic"]).any()
    assert (act["meetings"] >= 1).all()
    # staggered: several distinct start months, and some cluster-topics never taken up
    assert act["start"].dt.to_period("M").nunique() >= 5
    assert len(act) < len(ds.clusters) * 5
    pop = ds.population
    assert (pop["period"].dt.month == 1).all() and (pop["period"].dt.day == 1).all()
    assert set(pop["sex"]) == {"F", "M"} and set(pop["age_band"]) == set(BANDS)
    assert (pop.groupby(["practice_id", "period"]).size() == 38).all()
    assert (pop["persons"] >= 0).all()


def test_denmark_uptake_window(denmark):
    ds, _ = denmark
    start = ds.activities["start"]
    assert start.min() >= pd.Timestamp("2019-01-01") and start.max() <= pd.Timestamp("2023-12-31")
    per_topic = ds.activities.groupby("topic")["cluster_id"].nunique()
    assert len(per_topic) == 5 and (per_topic < 116).all() and (per_topic > 30).all()


def test_denmark_quirks(denmark):
    ds, _ = denmark
    pr = ds.practices
    assert pr["closed"].notna().sum() >= 5
    assert (pr["opened"] >= pd.Timestamp("2016-02-01")).sum() >= 5
    m = ds.measures[ds.measures["indicator_id"] == "abx_rate"]
    months = m.groupby("practice_id").size()
    assert (months < 108).sum() >= 20                     # opened, closed or a reporting gap
    closed = pr.loc[pr["closed"].notna(), ["practice_id", "closed"]]
    last = m.merge(closed, on="practice_id")
    last = last[last["period"] == last["closed"]]
    assert len(last) == len(closed) and (last["denominator"] == 0).all()


def test_deterministic_and_seed_dependent():
    a = ce.synthetic.generate("small", seed=11)
    b = ce.synthetic.generate("small", seed=11)
    for name, df in a.tables().items():
        pd.testing.assert_frame_equal(df, b.tables()[name], obj=name)
    c = ce.synthetic.generate("small", seed=12)
    assert not a.measures["numerator"].equals(c.measures["numerator"])


def test_bad_scale_is_an_argument_error():
    with pytest.raises(ArgumentError, match="scale must be one of 'small', 'denmark', 'england'; got 'huge'"):
        ce.synthetic.generate("huge")


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed_is_an_argument_error(seed):
    with pytest.raises(ArgumentError, match=f"seed must be a whole number >= 0; got {seed!r}"):
        ce.synthetic.generate("small", seed=seed)


def test_write_csv(tmp_path):
    out = ce.synthetic.write(tmp_path / "synth", scale="small", seed=2)
    names = {p.name for p in out.iterdir()}
    assert names == {"practices.csv", "clusters.csv", "activities.csv", "measures.csv", "population.csv",
                     "truth.csv", "measures_banded.parquet"}
    m = pd.read_csv(out / "measures.csv", nrows=5)
    assert list(m.columns) == ["indicator_id", "practice_id", "period", "numerator", "denominator"]
    assert pd.to_datetime(m["period"], format="%Y-%m-%d").notna().all()
    truth = pd.read_csv(out / "truth.csv")
    assert list(truth.columns) == ["cluster_id", "topic", "indicator_id", "start", "event_time", "effect",
                                   "sd_ratio", "dip"]
    ref = ce.synthetic.generate("small", seed=2).truth
    np.testing.assert_allclose(truth["effect"].to_numpy(), ref["effect"].to_numpy(), rtol=1e-12)
