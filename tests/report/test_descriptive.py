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


def test_observed_expected_leaves_out_counts_without_a_denominator():
    from cluster_eval.report.descriptive import observed_expected

    # 3 practices, 1 month: practice 2 (no cluster) has 50 items but a denominator of 0 (a closing practice)
    num = np.array([[10.0], [30.0], [50.0]])
    den = np.array([[100.0], [200.0], [0.0]])
    oh = cluster_onehot(["A", "B", None], ["A", "B"])
    o, e, std = observed_expected(num, den, oh)
    rate = (10 + 30) / (100 + 200)                     # the nation without the count that has no denominator
    np.testing.assert_allclose(o[:, 0], [10, 30])
    np.testing.assert_allclose(e[:, 0], [100 * rate, 200 * rate])
    assert not std


def test_spc_frame_pools_the_autocorrelation_over_clusters_without_a_start(monkeypatch):
    """Clusters without a start lend their baselines to the pooled (phi, lambda) and are then dropped; the
    charted clusters' own quantities (centre, baseline months) do not change."""
    from cluster_eval.spc import relative

    rng = np.random.default_rng(5)
    P, T = 160, 60                # twenty clusters of 8 practices; two take the topic up
    periods = pd.date_range("2018-01-01", periods=T, freq="MS")
    den = np.full((P, T), 1000.0)
    num = rng.poisson(den * 0.05).astype(float)
    ids = [f"K{i:02d}" for i in range(20)]
    oh = cluster_onehot([f"K{i // 8:02d}" for i in range(P)], ids)
    seen = []
    pooled = relative._pooled_ar1_noise

    def recording(zb, groups, n, *a, **k):
        seen.append(zb.shape[0])
        return pooled(zb, groups, n, *a, **k)

    monkeypatch.setattr(relative, "_pooled_ar1_noise", recording)
    starts = {"K03": periods[30], "K11": periods[36]}
    chart, rules = spc_frame(num, den, oh, ids, periods, starts)
    assert seen == [20]                                  # every cluster's baseline in the pooled estimate
    assert sorted(rules["cluster_id"]) == ["K03", "K11"] and set(chart["cluster_id"]) == {"K03", "K11"}
    alone, _ = spc_frame(num, den, oh[[3, 11]], ["K03", "K11"], periods, starts)
    assert seen[-1] == 2
    both = chart.merge(alone, on=["cluster_id", "event_time"], suffixes=("", "_alone"))
    np.testing.assert_allclose(both["cl"], both["cl_alone"])
    np.testing.assert_allclose(both["y"], both["y_alone"])


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
    assert std["measure"].str.startswith("indirectly standardised for age and sex").all()   # shown as O/E x nation
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


# --- practice funnels (hand-made) ---------------------------------------------------------------------------

def _quiet_then_spread(rng, P=40, T=24):
    """Months 0-11: every practice at 30 % (binomial noise only); months 12-23: practices spread 10-60 %."""
    den = np.full((P, T), 200.0)
    p = np.where(np.arange(T) < 12, 0.3, 0.0)[None, :] + np.where(
        np.arange(T) >= 12, rng.uniform(0.1, 0.6, P)[:, None], 0.0)
    return rng.binomial(den.astype(int), p).astype(float), den


def test_practice_funnel_uses_the_window_only():
    from cluster_eval.report.descriptive import practice_funnel
    from cluster_eval.stats import funnel, funnel_limits

    num, den = _quiet_then_spread(np.random.default_rng(5))
    members = np.zeros(40, bool)
    members[:5] = True
    quiet = practice_funnel(num, den, members, slice(0, 12), kind="proportion", better="higher", counts="events",
                            multiplier=100)
    noisy = practice_funnel(num, den, members, slice(12, 24), kind="proportion", better="higher",
                            counts="events", multiplier=100)
    assert list(quiet["row"]) == [0, 1, 2, 3, 4] and not quiet["standardised"].any()
    # the quiet window: no spread beyond chance (tau2 0 -> PHE's unadjusted limits); the noisy window: its own tau2
    n, d = num[:, 12:].sum(axis=1), den[:, 12:].sum(axis=1)
    res = funnel(n, d, statistic="proportion", overdispersion="additive")
    assert quiet["tau2"].iloc[0] == pytest.approx(0.0, abs=2e-4)
    assert noisy["tau2"].iloc[0] == pytest.approx(res.tau2, rel=1e-12)
    # target = the nation's value over the same months; value and limits as ce.stats.funnel_limits at the row
    assert noisy["target"].iloc[0] == pytest.approx(100 * n.sum() / d.sum())
    r = noisy.iloc[0]
    assert r["value"] == pytest.approx(100 * n[0] / d[0])
    ref = funnel_limits(n.sum() / d.sum(), [d[0]], statistic="proportion", confidence=(0.95, 0.998), multiplier=100,
                        overdispersion="additive", tau2=res.tau2)
    assert r["lower_95"] == pytest.approx(ref["lower"].iloc[0]) and r["upper_99_8"] == pytest.approx(ref["upper"].iloc[1])
    # the noisy window's limits are wider than the quiet window's at the same size
    assert (noisy["upper_95"] - noisy["lower_95"]).mean() > 3 * (quiet["upper_95"] - quiet["lower_95"]).mean()


def test_practice_funnel_words_apply_the_direction():
    """Practice 0 far below and practice 1 far above the others: below is better when lower is better."""
    from cluster_eval.report.descriptive import practice_funnel

    rng = np.random.default_rng(7)
    den = np.full((30, 12), 100.0)
    num = rng.binomial(100, 0.3, (30, 12)).astype(float)
    num[0], num[1] = 5.0, 70.0
    members = np.zeros(30, bool)
    members[[0, 1, 2]] = True
    low = practice_funnel(num, den, members, slice(0, 12), kind="proportion", better="lower", counts="events",
                          multiplier=100)
    assert list(low["position"][:2]) == ["below 99.8% limit", "above 99.8% limit"]
    assert list(low["standing"]) == ["better than expected", "worse than expected", ""]
    assert list(low["standing_95"][:2]) == ["better than expected", "worse than expected"]
    high = practice_funnel(num, den, members, slice(0, 12), kind="proportion", better="higher", counts="events",
                           multiplier=100)
    assert list(high["standing"]) == ["worse than expected", "better than expected", ""]
    none = practice_funnel(num, den, members, slice(0, 12), kind="proportion", better="none", counts="events",
                           multiplier=100)
    assert list(none["standing"][:2]) == ["lower than expected", "higher than expected"]


def test_practice_funnel_standardised_by_hand():
    """Two bands, young rate 1 % and old rate 10 % in every practice: an old list has a high crude rate but an
    O/E of 1 (inside the standardised funnel), a practice at twice the band rates an O/E of 2."""
    from cluster_eval.report.descriptive import practice_expected, practice_funnel

    P, T = 20, 6
    bden = np.zeros((P, T, 2))
    bden[:, :, 0], bden[:, :, 1] = 9000.0, 1000.0            # young, old
    bden[0, :, 0], bden[0, :, 1] = 5000.0, 5000.0            # practice 0: an old list
    bnum = bden * np.array([0.01, 0.10])
    bnum[1] *= 2.0                                           # practice 1: twice the rates
    num, den = bnum.sum(-1), bden.sum(-1)
    e = practice_expected((bnum, bden, None))
    # national band rates, written out: 18 ordinary practices, practice 0 (5000 + 5000), practice 1 (double rates)
    r = np.array([0.01 * (18 * 9000 + 5000 + 2 * 9000) / (19 * 9000 + 5000),
                  0.10 * (18 * 1000 + 5000 + 2 * 1000) / (19 * 1000 + 5000)])
    np.testing.assert_allclose(e[0], 5000 * r[0] + 5000 * r[1])
    np.testing.assert_allclose(e[2], 9000 * r[0] + 1000 * r[1])
    o = np.array([550.0, 2 * 190.0, 190.0])                  # per month: practices 0, 1, 2
    ratio = o / np.array([5000 * r[0] + 5000 * r[1], 9000 * r[0] + 1000 * r[1], 9000 * r[0] + 1000 * r[1]])
    members = np.zeros(P, bool)
    members[[0, 1, 2]] = True
    std = practice_funnel(num, den, members, slice(0, T), kind="rate", better="lower", counts="events",
                          multiplier=1000, expected=e)
    crude = practice_funnel(num, den, members, slice(0, T), kind="rate", better="lower", counts="events",
                            multiplier=1000)
    nat = num.sum() / den.sum()
    # value = O/E x the nation's crude rate; the x of the funnel is E
    np.testing.assert_allclose(std["value"], 1000 * nat * ratio)
    np.testing.assert_allclose(std["size"], e[[0, 1, 2]].sum(axis=1))
    assert std["standardised"].all() and std["measure"].str.startswith("indirectly standardised").all()
    assert crude["measure"].str.startswith("crude").all()
    # the old list is "worse than expected" crude, as expected standardised; practice 1 worse in both
    assert list(crude["standing"][:2]) == ["worse than expected", "worse than expected"]
    assert list(std["standing"]) == ["", "worse than expected", ""]


def test_labels_say_standardised_or_crude():
    """The notes under the trends and funnels, and the axis labels, say whether values are standardised."""
    from cluster_eval.report.figures import _measure_label
    from cluster_eval.report.wording import funnel_note, measure_word, trends_note

    crude = pd.DataFrame({"standardised": [False, False]})
    mixed = pd.DataFrame({"standardised": [True, False]})
    every = pd.DataFrame({"standardised": [True, True]})
    assert "crude (not standardised for age and sex)" in trends_note(crude)
    assert "crude (not standardised for age and sex)" in trends_note(pd.DataFrame())   # tables of older runs
    assert "labelled \"age-sex standardised\"" in trends_note(mixed) and "\"crude\" are not" in trends_note(mixed)
    assert "are indirectly standardised for age and sex" in trends_note(every) and "crude" not in trends_note(every)
    assert "expected count" in funnel_note("99.8%", every) and "expected count" not in funnel_note("95%", crude)
    assert "outside the 95% limits" in funnel_note("95%", crude)
    assert measure_word(True) == "standardised for age and sex" and measure_word(False) == "crude"
    assert _measure_label("per 1,000", True) == "per 1,000\nage-sex standardised"
    assert _measure_label("%", False) == "%, crude"
