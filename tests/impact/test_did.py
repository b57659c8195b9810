"""att_gt and its aggregates against R did (README values) and an independent implementation.

Oracles:
- ../shared/data/reference/did/did_readme_attgt.csv: R did's README output (ATT(g,t), 4 decimals).
- tests/reference/did_mpdta_differences.csv: the `differences` package (independent Python implementation
  of Callaway & Sant'Anna with analytic influence-function SEs); produced by did_mpdta_differences.py.
- closed forms: without covariates ATT(g,t) is a difference of mean changes and its analytic SE is the
  two-sample formula sqrt(s_T^2/n_T + s_C^2/n_C) with variances over n (not n - 1).
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster_eval.errors import ArgumentError
from cluster_eval.impact import att_gt

REF = Path(__file__).resolve().parents[1] / "reference" / "did_mpdta_differences.csv"
SPECS = {"nocov": dict(), "lpop_dr": dict(xformla="~ lpop", est_method="dr"),
         "lpop_reg": dict(xformla="~ lpop", est_method="reg"), "lpop_ipw": dict(xformla="~ lpop", est_method="ipw"),
         "nocov_antic1": dict(anticipation=1), "nocov_universal": dict(base_period="universal")}



@pytest.fixture
def data(shared):
    return pd.read_csv(shared("data/reference/did/mpdta.csv"))


def fit(d, **kw):
    return att_gt(d, "lemp", "year", "countyreal", "first.treat", **kw)


def test_readme_attgt_and_aggregates(data, shared):
    ref = pd.read_csv(shared("data/reference/did/did_readme_attgt.csv"))
    res = fit(data)
    tab = res.table.set_index(["group", "time"])
    cells = ref[ref["estimate"] == "att_gt"]
    got = tab.loc[list(zip(cells["group"].astype(float), cells["time"].astype(float))), "value"].to_numpy()
    # the README prints 4 decimals: agreement within rounding (5e-5) plus float slack
    np.testing.assert_allclose(got, cells["value"].to_numpy(), atol=5.01e-5, rtol=0)
    dyn = ref.loc[ref["estimate"] == "aggregate_dynamic_overall", "value"].iloc[0]
    grp = ref.loc[ref["estimate"] == "aggregate_group_overall", "value"].iloc[0]
    assert abs(res.aggregate("dynamic").value - dyn) <= 5.01e-5
    assert abs(res.aggregate("group").value - grp) <= 5.01e-5


def test_readme_printed_figures(data):
    # figures printed in R did's README (bcallaway11/did, "Getting started"): simple ATT -0.0400,
    # calendar -0.0417, event-study e = -3 .. 3
    res = fit(data)
    assert round(res.aggregate("simple").value, 4) == -0.0400
    assert round(res.aggregate("calendar").value, 4) == -0.0417
    dyn = res.aggregate("dynamic").table
    np.testing.assert_allclose(dyn["value"].round(4), [0.0305, -0.0006, -0.0245, -0.0199, -0.0510, -0.1373, -0.1008])


@pytest.mark.parametrize("spec", list(SPECS))
@pytest.mark.parametrize("control", ["nevertreated", "notyettreated"])
def test_cells_match_independent_implementation(data, spec, control):
    ref = pd.read_csv(REF)
    ref = ref[(ref["spec"] == spec) & (ref["control_group"] == control) & (ref["kind"] == "att_gt")]
    res = fit(data, control_group=control, **SPECS[spec])
    assert len(res.table) == len(ref)
    tab = res.table.set_index(["group", "time"]).loc[list(zip(ref["group"], ref["time"]))]
    np.testing.assert_allclose(tab["value"], ref["att"], atol=1e-6)
    np.testing.assert_allclose(tab["se"], ref["se"], rtol=1e-3)  # NaN (reference cells) on both sides


@pytest.mark.parametrize("spec", ["nocov", "lpop_dr"])
@pytest.mark.parametrize("control", ["nevertreated", "notyettreated"])
@pytest.mark.parametrize("kind", ["simple", "dynamic", "group", "calendar"])
def test_aggregates_match_independent_implementation(data, spec, control, kind):
    ref = pd.read_csv(REF)
    ref = ref[(ref["spec"] == spec) & (ref["control_group"] == control)]
    agg = fit(data, control_group=control, **SPECS[spec]).aggregate(kind)
    o = ref[ref["kind"] == f"{kind}_overall"].iloc[0]
    assert agg.value == pytest.approx(o["att"], abs=1e-6)
    assert agg.se == pytest.approx(o["se"], rel=1e-3)
    if kind != "simple":
        key = {"dynamic": "event_time", "group": "group", "calendar": "time"}[kind]
        part = ref[ref["kind"] == kind].sort_values(key)
        tab = agg.table.sort_values(key)
        np.testing.assert_allclose(tab[key], part[key])
        np.testing.assert_allclose(tab["value"], part["att"], atol=1e-6)
        np.testing.assert_allclose(tab["se"], part["se"], rtol=1e-3)


def test_unconditional_se_is_two_sample_formula(data):
    res = fit(data)
    wide = data.pivot(index="countyreal", columns="year", values="lemp")
    g = data.groupby("countyreal")["first.treat"].first()
    dy = wide[2006] - wide[2003]
    t, c = dy[g == 2004], dy[g == 0]
    se = np.sqrt(t.var(ddof=0) / len(t) + c.var(ddof=0) / len(c))
    row = res.table.query("group == 2004 and time == 2006").iloc[0]
    assert row["value"] == pytest.approx(t.mean() - c.mean(), abs=1e-12)
    assert row["se"] == pytest.approx(se, rel=1e-10)


def test_bootstrap_band_is_wider_and_se_close(data):
    res = fit(data, bstrap=True, biters=999, seed=3)
    t = res.table
    assert res.critical_value >= 1.959
    assert ((t["band_upper"] - t["band_lower"]) >= (t["upper"] - t["lower"]) * 0.9).all()
    np.testing.assert_allclose(t["se_boot"], t["se"], rtol=0.2)


def test_clustered_se_by_unit_equals_default(data):
    d = data.assign(unit_cluster=data["countyreal"])
    a = fit(d)
    b = fit(d, clustervars="unit_cluster")
    np.testing.assert_allclose(a.table["se"], b.table["se"], rtol=1e-12)


def test_results_display(data):
    res = fit(data)
    assert "Callaway" in res.summary() and "<table" in res._repr_html_()
    ci = res.conf_int(0.9)
    assert (ci["lower"] < res.table["value"]).all() and (ci["upper"] > res.table["value"]).all()
    agg = res.aggregate("dynamic")
    assert "dynamic" in agg.summary() and len(agg.to_frame()) == 7


def test_universal_base_period_has_zero_reference(data):
    res = fit(data, base_period="universal")
    ref = res.table[res.table["event_time"] == -1]
    assert (ref["value"] == 0).all()
    # post-treatment cells do not depend on the base-period choice
    post = res.table[res.table["post"] == 1]["value"].to_numpy()
    np.testing.assert_allclose(post, fit(data).table.query("post == 1")["value"].to_numpy())


def test_errors_name_the_rule(data):
    with pytest.raises(ArgumentError, match="control_group must be one of"):
        fit(data, control_group="never")
    with pytest.raises(ArgumentError, match="no column"):
        att_gt(data, "nope", "year", "countyreal", "first.treat")
    with pytest.raises(ArgumentError, match="only panel data"):
        fit(data, panel=False)
    with pytest.raises(ArgumentError, match="never-treated units"):
        fit(data[data["first.treat"] > 0])


def test_readme_covariate_example(data):
    # R did README, att_gt(..., xformla = ~lpop) (doubly robust, never treated): printed ATT(g,t), 4 decimals
    printed = [-0.0145, -0.0764, -0.1404, -0.1069, -0.0005, -0.0062, 0.0010, -0.0413, 0.0267, -0.0046, -0.0284,
               -0.0288]
    res = fit(data, xformla="~ lpop")
    np.testing.assert_allclose(res.table["value"].to_numpy(), printed, atol=5.01e-5)


def test_unit_weights(data):
    d = data.assign(w2=2.0, wv=np.exp(data["lpop"]))
    np.testing.assert_allclose(fit(d, weights_name="w2").table["value"], fit(d).table["value"], atol=1e-12)
    res = fit(d, weights_name="wv")
    wide = d.pivot(index="countyreal", columns="year", values="lemp")
    first = d.groupby("countyreal")[["first.treat", "wv"]].first()
    dy = wide[2005] - wide[2003]
    t, c = first["first.treat"] == 2004, first["first.treat"] == 0
    expected = np.average(dy[t], weights=first["wv"][t]) - np.average(dy[c], weights=first["wv"][c])
    assert res.table.query("group == 2004 and time == 2005")["value"].iloc[0] == pytest.approx(expected, abs=1e-12)


def test_clustered_bootstrap_runs(data):
    d = data.assign(state=data["countyreal"] // 100)
    res = fit(d, clustervars="state", bstrap=True, biters=199, seed=1)
    assert res.draws.shape == (199, d["state"].nunique())
    assert np.isfinite(res.table["se_boot"]).all() and np.isfinite(res.aggregate("dynamic").table["band_lower"]).all()


def test_se_close_to_readme_bootstrap_se(data):
    # R did README prints multiplier-bootstrap SEs (biters = 1000) for the 12 cells of the unconditional
    # example; the analytic SEs estimate the same quantity, so they agree up to bootstrap noise
    printed = [0.0233, 0.0310, 0.0364, 0.0344, 0.0233, 0.0196, 0.0178, 0.0202, 0.0150, 0.0164, 0.0179, 0.0167]
    np.testing.assert_allclose(fit(data).table["se"], printed, rtol=0.02)


def _random_panel(seed, n=40, t=5):
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 3, 4, 5], size=n, p=[0.4, 0.2, 0.2, 0.2])
    g[:4] = [0, 3, 4, 5]
    rows = [(i, s, g[i], rng.normal() + 0.3 * s + (0.5 if g[i] and s >= g[i] else 0)) for i in range(n)
            for s in range(1, t + 1)]
    return pd.DataFrame(rows, columns=["id", "t", "g", "y"])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.floats(-100, 100), scale=st.floats(0.1, 10))
def test_invariances(seed, shift, scale):
    d = _random_panel(seed)
    base = att_gt(d, "y", "t", "id", "g", control_group="notyettreated").table
    unit_fe = d["id"].map(lambda i: (i % 7) * 3.0)
    moved = att_gt(d.assign(y=scale * d["y"] + shift + unit_fe * scale), "y", "t", "id", "g",
                   control_group="notyettreated").table
    np.testing.assert_allclose(moved["value"], scale * base["value"], atol=1e-8 * scale * (1 + abs(shift)))
    np.testing.assert_allclose(moved["se"], scale * base["se"], rtol=1e-6)
    assert (base["lower"] <= base["value"]).all() and (base["value"] <= base["upper"]).all()


@pytest.mark.parametrize("control", ["nevertreated", "notyettreated"])
@pytest.mark.parametrize("base", ["varying", "universal"])
def test_vectorised_path_equals_cell_loop(data, control, base, monkeypatch):
    import cluster_eval.impact.did as did

    d = data.copy()
    d.loc[d.sample(frac=0.05, random_state=1).index, "lemp"] = np.nan  # unbalanced: pairwise cells
    kw = dict(control_group=control, base_period=base, balanced_panel=False, weights_name="lpop")
    fast = fit(d, **kw).table
    # the cell-by-cell path with an intercept only (all three estimators coincide without covariates)
    monkeypatch.setattr(did, "_unconditional_cells", lambda p, cells, cg, ant, bp, att, inf: did._conditional_cells(
        p, cells, cg, ant, bp, did.ESTIMATORS["reg"], att, inf))
    slow = fit(d, **kw).table
    np.testing.assert_allclose(fast["value"], slow["value"], atol=1e-12)
    np.testing.assert_allclose(fast["se"], slow["se"], rtol=1e-10)
