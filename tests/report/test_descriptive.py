"""The analyse stage's descriptive helpers (cluster_eval.report.descriptive) on hand-made arrays."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cluster_eval.report.descriptive import (
    banded_matrices,
    cluster_onehot,
    observed_expected,
    spc_frame,
    standing_frame,
)


def test_onehot_and_crude_expected_by_hand():
    oh = cluster_onehot(["K1", None, "K2", "K1"], ["K1", "K2"])
    np.testing.assert_array_equal(oh, [[1, 0, 0, 1], [0, 0, 1, 0]])
    num = np.array([[1.0, 2], [3, 4], [5, 6], [7, 8]])
    den = np.array([[10.0, 10], [10, 10], [10, 10], [10, 10]])
    o, e, std = observed_expected(num, den, oh)
    # national rates: month 0: 16/40, month 1: 20/40
    np.testing.assert_allclose(o, [[8, 10], [5, 6]])
    np.testing.assert_allclose(e, [[8, 10], [4, 5]])
    assert not std
    o, e, _ = observed_expected(num, den, oh, window=slice(0, 2))   # pooled national rate 36/80
    np.testing.assert_allclose(e, [[9, 9], [4.5, 4.5]])


def test_banded_expected_by_hand():
    pids, periods = ["P1", "P2"], pd.DatetimeIndex(["2020-01-01"])
    banded = pd.DataFrame({"indicator_id": "x", "practice_id": ["P1", "P1", "P2", "P2"], "period": periods[0],
                           "sex": "F", "age_band": ["old", "young", "old", "young"],
                           "numerator": [10.0, 1, 30, 3], "denominator": [100.0, 100, 100, 300]})
    b = banded_matrices(banded, "x", pids, periods)
    assert banded_matrices(banded, "y", pids, periods) is None
    num, den = b[0].sum(-1), b[1].sum(-1)
    o, e, std = observed_expected(num, den, cluster_onehot(["K1", "K2"], ["K1", "K2"]), b)
    # national: old 40/200 = 0.2, young 4/400 = 0.01 -> E(P1) = 20 + 1, E(P2) = 20 + 3
    assert std
    np.testing.assert_allclose(e[:, 0], [21, 23])
    np.testing.assert_allclose(o[:, 0], [11, 33])


def test_standing_frame_counts_persons_once():
    rng = np.random.default_rng(2)
    P, T = 60, 12
    den = np.full((P, T), 500.0)
    num = rng.binomial(500, 0.3, (P, T)).astype(float)
    oh = cluster_onehot([f"K{i % 20}" for i in range(P)], [f"K{i}" for i in range(20)])
    ev = standing_frame(num, den, oh, [f"K{i}" for i in range(20)], kind="proportion", better="higher",
                        counts="events", window=slice(0, T))
    pe = standing_frame(num, den, oh, [f"K{i}" for i in range(20)], kind="proportion", better="higher",
                        counts="persons", window=slice(0, T))
    assert ev["denominator"].iloc[0] == 3 * 500 * 12 and pe["denominator"].iloc[0] == 3 * 500
    np.testing.assert_allclose(ev["value"], pe["value"])
    # persons counted once: without between-cluster variance the 95% limits are sqrt(12) times wider
    assert pe["tau2"].iloc[0] == 0
    w_pe = (pe["upper_95"] - pe["lower_95"]).mean()
    if ev["tau2"].iloc[0] == 0:
        assert w_pe / (ev["upper_95"] - ev["lower_95"]).mean() == pytest.approx(np.sqrt(12), rel=0.05)
    assert w_pe == pytest.approx(2 * 1.96 * np.sqrt(0.3 * 0.7 / 1500), rel=0.05)
    assert set(pe["measure"]) == {"crude proportion (not standardised for age and sex)"}


def test_spc_frame_marks_signals():
    rng = np.random.default_rng(3)
    P, T = 200, 60                # five clusters of 8 practices, 160 practices in no cluster
    periods = pd.date_range("2018-01-01", periods=T, freq="MS")
    den = np.full((P, T), 1000.0)
    rate = np.full((P, T), 0.05)
    rate[:8, 30:] *= 0.6          # cluster K0 (practices 0-7) falls by 40% from month 30
    num = rng.poisson(den * rate).astype(float)
    ids = [f"K{i}" for i in range(5)]
    oh = cluster_onehot([f"K{i // 8}" if i < 40 else None for i in range(P)], ids)
    _, rules = spc_frame(num, den, oh, ids, periods, {c: periods[30] for c in ids})
    r = rules.set_index("cluster_id")
    assert r.loc["K0", "signal"] and r.loc["K0", "direction"] == "below"
    assert not r.loc[["K1", "K2", "K3", "K4"], "signal"].any()
    assert set(rules["measure"]) == {"crude O/E"}


class _Analysis:
    """The attributes of the analyse stage's Analysis that the descriptive tables use."""

    def __init__(self, ds):
        from cluster_eval.synthetic import INDICATORS

        self.ds = ds
        self.periods = pd.DatetimeIndex(sorted(ds.measures["period"].unique()))
        self.pids = pd.Index(sorted(ds.practices["practice_id"]))
        self.practices = ds.practices.set_index("practice_id")
        act = ds.activities.copy()
        act["exposed_from"] = pd.to_datetime(act["start"]).dt.to_period("M").dt.to_timestamp()
        self.activities = act
        self.ind = pd.DataFrame([{"indicator_id": s.id, "topic": s.topic, "kind": s.kind,
                                  "multiplier": 100.0 if s.kind == "proportion" else 1000.0, "better": s.better}
                                 for s in INDICATORS])

    def matrices(self, iid):
        m = self.ds.measures[self.ds.measures["indicator_id"] == iid]
        r, c = self.pids.get_indexer(m["practice_id"]), self.periods.get_indexer(m["period"])
        num = np.full((len(self.pids), len(self.periods)), np.nan)
        den = num.copy()
        num[r, c], den[r, c] = m["numerator"], m["denominator"]
        return num, den, None


@pytest.fixture(scope="module")
def small_analysis():
    from cluster_eval.synthetic.casemix import banded_measures
    from cluster_eval.synthetic.generator import simulate

    ds, _ = simulate("small", 2)
    ds.measures_banded = banded_measures(ds, seed=2)
    return _Analysis(ds)


def test_standing_table_labels_and_scale(small_analysis):
    from cluster_eval.report.descriptive import standing_table

    a = small_analysis
    st = standing_table(a)
    assert len(st) == 12 * len(a.ind)
    std = st[st["standardised"]]
    assert set(std["indicator_id"]) == {"abx_rate", "dep_opioid_users", "dep_benzo_users"}
    assert std["measure"].str.startswith("standardised ratio").all()
    assert st.loc[~st["standardised"], "measure"].str.startswith("crude").all()
    # a standardised value is O/E x the national crude value (per 1,000)
    row = std.iloc[0]
    assert row["value"] == pytest.approx(row["numerator"] / row["denominator"] * row["national"])
    assert (st["lower_99_8"] <= st["lower"]).all() and (st["upper_99_8"] >= st["upper"]).all()
    assert set(st["standing"]) <= {"better than expected", "worse than expected", "as expected", "too few to say"}
    assert st["standing"].isin(["better than expected", "worse than expected"]).mean() <= 0.15
    assert set(st.loc[st["indicator_id"] == "t2d_hba1c_measured", "counts"]) == {"persons"}


def test_spc_tables_cover_taken_topics_only(small_analysis):
    from cluster_eval.report.descriptive import spc_tables

    a = small_analysis
    rules, chart = spc_tables(a)
    taken = {(c, i) for c, t in zip(a.activities["cluster_id"], a.activities["topic"])
             for i in a.ind.loc[a.ind["topic"] == t, "indicator_id"]}
    assert set(zip(rules["cluster_id"], rules["indicator_id"])) == taken
    assert {"signal", "measure", "reason", "shift_mean"} <= set(rules.columns)
    assert set(chart["phase"]) <= {"baseline", "after start"}


def test_hidden_trend_months_are_hidden_in_the_spc_chart():
    from cluster_eval.report.descriptive import hide_chart_months

    months = pd.date_range("2020-01-01", periods=3, freq="MS")
    chart = pd.DataFrame({"cluster_id": ["K1"] * 3 + ["K2"] * 3, "indicator_id": "x",
                          "period": list(months) * 2, "y": 1.0, "cl": 1.0, "lcl": 0.5, "ucl": 1.5,
                          "lcl_95": 0.7, "ucl_95": 1.3})
    hidden = pd.DataFrame({"cluster_id": ["K1"], "indicator_id": ["x"], "period": [months[1]]})
    out = hide_chart_months(chart, hidden)
    assert out["y"].isna().tolist() == [False, True, False, False, False, False]
    # K1's centre and limits come from months that include the hidden one: not shown
    assert out.loc[out["cluster_id"] == "K1", "cl"].isna().all()
    assert out.loc[out["cluster_id"] == "K2", "cl"].notna().all()
