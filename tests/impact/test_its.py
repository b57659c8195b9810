"""its() against R glm/lm on the Sicily smoking-ban series (Lopez Bernal et al. 2017).

Oracle: tests/reference/its_sicily.csv, written by tests/reference/its_sicily.R (R 4.x glm quasipoisson,
lm, sandwich::NeweyWest(lag = 3, prewhite = FALSE, adjust = FALSE)).
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.impact.its import its

REF = pd.read_csv(Path(__file__).resolve().parents[1] / "reference" / "its_sicily.csv")
NAMES = {"smokban": "level", "post_time": "slope", "s1": "sin1", "s2": "sin2", "c1": "cos1", "c2": "cos2"}


@pytest.fixture
def sicily(shared):
    return pd.read_csv(shared("data/real/sicily.csv"))


def fit_model(d, model):
    t0 = d.loc[d["smokban"] == 1, "time"].min()
    if model.startswith("qp"):
        return its(d["aces"], d["time"], t0, offset=d["stdpop"], family="poisson",
                   harmonics=2 if model.endswith("harm") else 0, season=d["month"],
                   slope_change="slope" in model)
    rate = d["aces"] / d["stdpop"] * 1e5
    return its(rate, d["time"], t0, family="gaussian", newey_west=3 if model == "ols_nw3" else None)


@pytest.mark.parametrize("model", sorted(REF["model"].unique()))
def test_matches_r(sicily, model):
    ref = REF[REF["model"] == model].assign(term=lambda r: r["term"].replace(NAMES)).set_index("term")
    res = fit_model(sicily, model)
    got = res.params.set_index("term").loc[ref.index]
    np.testing.assert_allclose(got["value"], ref["estimate"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-6)
    if model.startswith("qp"):
        assert res.scale == pytest.approx(ref["dispersion"].iloc[0], rel=1e-6)


def test_paper_sanity(sicily):
    # Lopez Bernal et al. (2017) report RR 0.885 (0.834-0.939) for the ban; our quasi-Poisson model without
    # seasonality gives 0.894 (0.839-0.953) (as R), with two harmonics 0.885: checked loosely, not to the digit
    rr = fit_model(sicily, "qp_level_harm").level_change["ratio"]
    assert rr == pytest.approx(0.885, abs=0.001)
    rr0 = fit_model(sicily, "qp_level").level_change
    assert 0.88 < rr0["ratio"] < 0.90 and rr0["ratio_upper"] < 1


def test_counterfactual(sicily):
    res = fit_model(sicily, "qp_slope")
    s = res.series
    pre = s["exposed"] == 0
    np.testing.assert_allclose(s.loc[pre, "counterfactual"], s.loc[pre, "fitted_rate"])
    assert (s.loc[~pre, "counterfactual"] > s.loc[~pre, "fitted_rate"]).all()  # the ban lowered admissions
    assert (s["counterfactual_lower"] <= s["counterfactual"]).all()


def test_binomial_and_errors():
    rng = np.random.default_rng(1)
    t = np.arange(1, 49)
    n = np.full(48, 400)
    p = 1 / (1 + np.exp(-(-0.5 + 0.01 * t - 0.4 * (t >= 25))))
    y = rng.binomial(n, p)
    res = its(y, t, 25, trials=n, family="binomial")
    lc = res.level_change
    assert abs(lc["value"] + 0.4) < 3 * lc["se"]
    with pytest.raises(ArgumentError, match="needs trials"):
        its(y, t, 25, family="binomial")
    with pytest.raises(ArgumentError, match="family must be one of"):
        its(y, t, 25, family="negbin")
    with pytest.raises(ArgumentError, match="newey_west applies"):
        its(y, t, 25, newey_west=2)


def test_pooled_series_feeds_its(tiny):
    from cluster_eval.impact.its import pooled_series

    prac, acts, meas = tiny
    s = pooled_series(meas, prac, "C00", "ind_a")
    assert len(s) == 36 and s["time"].tolist() == list(range(1, 37)) and (s["n_practices"] == 8).all()
    members = prac.loc[prac["cluster_id"] == "C00", "practice_id"]
    assert s["numerator"].sum() == meas.loc[meas["practice_id"].isin(members), "numerator"].sum()
    res = its(s["numerator"], s["time"], 11, trials=s["denominator"], family="binomial")
    assert res.level_change["value"] > 0  # the tiny panel's +0.05 effect from month 11
    with pytest.raises(ArgumentError, match="has no practices"):
        pooled_series(meas, prac, "nope", "ind_a")
