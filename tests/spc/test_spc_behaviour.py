"""What each qic option does, checked against small hand calculations and invariants.

Hand values use Montgomery's formulas (Introduction to Statistical Quality Control, 6th ed.) written out
with numpy one step at a time; tabulated constants come from Montgomery's Appendix VI.
"""
from __future__ import annotations

from math import comb, log2

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cluster_eval as ce
from cluster_eval.spc import crossings_min, longest_run_max, runs_analysis

Y12 = [5.0, 7.0, 6.0, 8.0, 9.0, 7.5, 6.5, 8.5, 10.0, 9.5, 7.0, 8.0]


# ----------------------------------------------------------------------------- the Anhøj rules

@pytest.mark.parametrize("n, lmax, cmin", [  # pairs that qicharts2's expected files show
    (6, 6, 1), (10, 6, 2), (20, 7, 6), (24, 8, 8), (25, 8, 8), (28, 8, 9), (39, 8, 14), (40, 8, 14),
    (44, 8, 16), (64, 9, 25)])
def test_anhoej_limits_published_pairs(n, lmax, cmin):
    assert longest_run_max(n) == lmax
    assert crossings_min(n) == cmin


def test_anhoej_limits_match_their_definitions():
    for n in range(1, 201):
        # smallest k with P(Binomial(n - 1, 1/2) <= k) >= 0.05, in exact integers
        k, total = 0, comb(n - 1, 0)
        while 20 * total < 2 ** (n - 1):
            k += 1
            total += comb(n - 1, k)
        assert crossings_min(n) == k, n
        assert longest_run_max(n) == round(log2(n)) + 3, n


def test_runs_by_hand():
    r = runs_analysis(np.arange(1, 11), np.full(10, 5.5))  # five below, then five above
    assert (r["n_useful"], r["longest_run"], r["n_crossings"]) == (10, 5, 1)
    assert r["runs_signal"]  # 1 crossing < 2
    r = runs_analysis([1, 3] * 6, np.full(12, 2.0))
    assert (r["longest_run"], r["n_crossings"], r["runs_signal"]) == (1, 11, False)
    r = runs_analysis([1, 2, 2, np.nan, 3, 1, 1], np.full(7, 2.0))  # on the line / missing: not useful
    assert (r["n_obs"], r["n_useful"], r["longest_run"], r["n_crossings"]) == (7, 4, 2, 2)
    r = runs_analysis([np.nan, np.nan], [1.0, 1.0])
    assert r["n_useful"] == 0 and np.isnan(r["longest_run"]) and not r["runs_signal"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=40))
def test_runs_invariants(values):
    y = np.array(values, dtype=float)
    cl = np.zeros_like(y)
    r = runs_analysis(y, cl)
    assert r == runs_analysis(y[::-1], cl)   # time reversal
    assert r == runs_analysis(-y, cl)        # mirror about the centre line
    if r["n_useful"]:
        runs = r["n_crossings"] + 1
        assert r["longest_run"] * runs >= r["n_useful"] >= r["longest_run"] + runs - 1
        assert r["runs_signal"] == (r["longest_run"] > r["longest_run_max"]
                                    or r["n_crossings"] < r["n_crossings_min"])


# ----------------------------------------------------------------------------- charts by hand

def test_run_chart_of_values_only():
    d = ce.spc.qic([3, 1, 4, 1, 5, 9, 2, 6])
    assert d["x"].tolist() == list(range(1, 9))
    assert (d["cl"] == 3.5).all() and d["ucl"].isna().all()
    assert d["chart"].eq("run").all()


def test_i_chart_with_freeze_by_hand():
    y = np.array(Y12)
    base = y[:8]
    cl = base.mean()
    sigma = np.abs(np.diff(base)).mean() / 1.128  # no moving range above 3.267 x mean here
    d = ce.spc.qic(range(1, 13), y, chart="i", freeze=8)
    np.testing.assert_allclose(d["cl"], cl, rtol=1e-12)
    np.testing.assert_allclose(d["ucl"], cl + 3 * sigma, rtol=1e-12)
    np.testing.assert_allclose(d["lcl_95"], cl - 2 * sigma, rtol=1e-12)
    assert d["baseline"].tolist() == [True] * 8 + [False] * 4
    assert d["n_obs"].eq(12).all()  # the runs analysis uses every included point


def test_i_chart_screens_large_moving_ranges():
    y = np.array([10, 11, 10, 12, 11, 30, 11, 10, 12, 11, 10, 11], dtype=float)
    mr = np.abs(np.diff(y))
    kept = mr[mr < 3.267 * mr.mean()]
    assert kept.size == mr.size - 2
    screened = ce.spc.qic(range(12), y, chart="i")
    plain = ce.spc.qic(range(12), y, chart="i", screened_mr=False)
    np.testing.assert_allclose(screened["ucl"], y.mean() + 3 * kept.mean() / 1.128, rtol=1e-12)
    np.testing.assert_allclose(plain["ucl"], y.mean() + 3 * mr.mean() / 1.128, rtol=1e-12)


def test_missing_values_in_an_i_chart():
    d = ce.spc.qic(range(5), [1, 3, np.nan, 2, 4], chart="i")
    sigma = np.mean([2, 2]) / 1.128  # ranges next to the missing point are missing
    np.testing.assert_allclose(d["cl"], 2.5)
    np.testing.assert_allclose(d["ucl"], 2.5 + 3 * sigma)
    assert d["n_obs"].iloc[0] == 5 and d["n_useful"].iloc[0] == 4
    assert not d["sigma_signal"].iloc[2]


def test_mr_chart_by_hand():
    y = np.array(Y12)
    mr = np.abs(np.diff(y))
    d = ce.spc.qic(range(12), y, chart="mr")
    assert np.isnan(d["y"].iloc[0])
    np.testing.assert_allclose(d["y"].iloc[1:], mr)
    np.testing.assert_allclose(d["ucl"], 3.267 * mr.mean())
    assert (d["lcl"] == 0).all() and not d["runs_signal"].any()


def test_xbar_and_s_with_equal_subgroups_use_tabulated_constants():
    rng = np.random.default_rng(4)
    obs = rng.normal(74, 0.01, size=(20, 5))
    x = np.repeat(np.arange(20), 5)
    xbar = ce.spc.qic(x, obs.ravel(), chart="xbar")
    s = ce.spc.qic(x, obs.ravel(), chart="s")
    sbar = obs.std(axis=1, ddof=1).mean()
    np.testing.assert_allclose(xbar["cl"], obs.mean(), rtol=1e-12)
    np.testing.assert_allclose(xbar["ucl"], obs.mean() + 1.427 * sbar, rtol=1e-5)  # A3(5) = 1.427
    np.testing.assert_allclose(s["cl"], sbar, rtol=1e-12)
    np.testing.assert_allclose(s["ucl"], 2.089 * sbar, rtol=5e-4)                 # B4(5) = 2.089
    assert (s["lcl"] == 0).all()                                                  # B3(5) = 0


def test_chart_constants_against_montgomery_appendix_vi():
    n = np.array([2, 5, 10, 25])
    np.testing.assert_allclose(ce.spc.c4(n), [0.7979, 0.9400, 0.9727, 0.9896], atol=6e-5)
    np.testing.assert_allclose(ce.spc.a3(n), [2.659, 1.427, 0.975, 0.606], atol=6e-4)
    np.testing.assert_allclose(ce.spc.b3(n), [0, 0, 0.284, 0.565], atol=6e-4)
    np.testing.assert_allclose(ce.spc.b4(n), [3.267, 2.089, 1.716, 1.435], atol=6e-4)
    assert np.isnan(ce.spc.c4([1])).all()


def test_t_chart_transforms_and_back_transforms():
    y = np.array([286, 948, 536, 124, 816, 729, 4, 143, 431, 8], dtype=float)
    t = y ** (1 / 3.6)
    sigma = np.abs(np.diff(t)).mean() / 1.128
    d = ce.spc.qic(range(10), y, chart="t", screened_mr=False)
    np.testing.assert_allclose(d["cl"], t.mean() ** 3.6, rtol=1e-12)
    np.testing.assert_allclose(d["ucl"], (t.mean() + 3 * sigma) ** 3.6, rtol=1e-12)
    np.testing.assert_allclose(d["y"], y, rtol=1e-12)


def test_c_chart_exclude_leaves_point_out_of_calculations_but_in_the_output():
    y = [4, 6, 5, 30, 5, 7, 4, 6]
    d = ce.spc.qic(range(1, 9), y, chart="c", exclude=4)
    others = np.array([4, 6, 5, 5, 7, 4, 6], dtype=float)
    np.testing.assert_allclose(d["cl"], others.mean())
    np.testing.assert_allclose(d["ucl"], others.mean() + 3 * np.sqrt(others.mean()))
    assert d["include"].tolist() == [True] * 3 + [False] + [True] * 4
    assert d["sigma_signal"].iloc[3] and d["n_obs"].iloc[0] == 7


def test_parts_have_their_own_lines_and_runs():
    y = Y12 + [v + 10 for v in Y12]
    d = ce.spc.qic(range(24), y, chart="i", part=12)
    first = ce.spc.qic(range(12), Y12, chart="i")
    second = ce.spc.qic(range(12), [v + 10 for v in Y12], chart="i")
    cols = ["cl", "ucl", "lcl", "longest_run", "n_crossings", "runs_signal"]
    pd.testing.assert_frame_equal(d.loc[d["part"] == 1, cols].reset_index(drop=True), first[cols])
    pd.testing.assert_frame_equal(d.loc[d["part"] == 2, cols].reset_index(drop=True), second[cols])
    assert d["index"].tolist() == list(range(1, 25))


def test_part_overrides_freeze():
    d = ce.spc.qic(range(24), Y12 * 2, chart="i", part=12, freeze=5)
    assert d["baseline"].all()


def test_p_chart_by_hand_with_multiply_and_missing_denominator():
    x = [12, 15, 8, 10, 4]
    n = [50, 50, 50, np.nan, 50]  # the 4th observation is incomplete: left out as a whole
    d = ce.spc.qic(range(5), x, n, chart="p", multiply=100)
    p = (12 + 15 + 8 + 4) / 200
    sigma = np.sqrt(p * (1 - p) / 50)
    np.testing.assert_allclose(d["cl"], 100 * p)
    np.testing.assert_allclose(d["ucl"].iloc[[0, 1, 2, 4]], 100 * (p + 3 * sigma))
    assert np.isnan(d["y"].iloc[3]) and np.isnan(d["ucl"].iloc[3])
    assert d["n"].tolist()[:3] == [50, 50, 50]


def test_subgroups_are_aggregated_and_sorted():
    d = ce.spc.qic([3, 1, 3, 2, 1], [10, 4, 20, 7, 6], chart="i")
    assert d["x"].tolist() == [1, 2, 3]
    assert d["y"].tolist() == [5.0, 7.0, 15.0] and d["y_length"].tolist() == [2, 1, 2]
    d = ce.spc.qic([3, 1, 3, 2, 1], [10, 4, 20, 7, 6], agg_fun="sum")
    assert d["y"].tolist() == [10.0, 7.0, 30.0]
    d = ce.spc.qic([1, 1, 2], [2, 4, 5], [10, 10, 20], chart="u")
    assert d["y"].tolist() == [0.3, 0.25] and d["y_sum"].tolist() == [6.0, 5.0]


def test_dates_get_a_runs_analysis_and_categories_do_not():
    y = np.arange(1.0, 13.0)
    dates = pd.date_range("2024-01-01", periods=12, freq="MS")
    assert ce.spc.qic(dates, y)["runs_signal"].all()
    assert ce.spc.qic(pd.Series(dates.to_period("M")), y)["runs_signal"].all()
    assert ce.spc.qic(list(dates.date), y)["runs_signal"].all()
    names = [f"unit {i:02d}" for i in range(12)]
    d = ce.spc.qic(names, y)
    assert not d["runs_signal"].any() and d.attrs["categorical"]
    order = pd.Categorical(["b", "a", "c"], categories=["c", "b", "a"])
    assert ce.spc.qic(order, [1, 2, 3])["x"].astype(str).tolist() == ["c", "b", "a"]


def test_y_neg_false_sets_negative_lower_limits_to_zero():
    y = [1, 9, 0, 8, 2, 10, 1, 7]
    assert ce.spc.qic(range(8), y, chart="i")["lcl"].lt(0).all()
    assert ce.spc.qic(range(8), y, chart="i", y_neg=False)["lcl"].eq(0).all()


def test_a_given_centre_line_is_used():
    d = ce.spc.qic(range(12), Y12, chart="i", cl=7)
    assert (d["cl"] == 7).all()


def test_summary_counts_signals_per_facet_and_part():
    y = Y12 + [v + 10 for v in Y12] + [40]
    d = ce.spc.qic(range(25), y, chart="i", part=12, facets=None)
    s = ce.spc.summary(d)
    assert s["part"].tolist() == [1, 2]
    assert s["n_sigma_signals"].tolist() == [0, int(d.loc[d["part"] == 2, "sigma_signal"].sum())]
    assert s["n_sigma_signals"].iloc[1] >= 1
    np.testing.assert_allclose(s["cl_mean"], d.groupby("part")["cl"].mean())


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=4, max_size=30),
       st.sampled_from(["i", "c", "u", "p", "up", "pp"]),
       st.floats(0.5, 1000))
def test_limits_bracket_the_centre_line_and_scale_with_multiply(counts, chart, k):
    m = len(counts)
    n = [100 + 7 * (i % 5) for i in range(m)]
    kw = {"n": n} if chart in ("u", "p", "up", "pp") else {}
    d = ce.spc.qic(range(m), counts, chart=chart, **kw)
    dk = ce.spc.qic(range(m), counts, chart=chart, multiply=k, **kw)
    ok = d["lcl"].notna() & d["ucl"].notna()
    assert (d.loc[ok, "lcl"] <= d.loc[ok, "cl"] + 1e-12).all()
    assert (d.loc[ok, "cl"] <= d.loc[ok, "ucl"] + 1e-12).all()
    np.testing.assert_allclose(dk["cl"], k * d["cl"], rtol=1e-12)
    np.testing.assert_allclose(dk["ucl"], k * d["ucl"], rtol=1e-12)
    assert dk["runs_signal"].tolist() == d["runs_signal"].tolist()
