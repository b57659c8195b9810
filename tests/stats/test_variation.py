"""variation(): descriptive figures by hand, the multilevel variance against lme4 glmer."""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cluster_eval.stats import variation

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "lme4_variation.csv"


def test_descriptive_statistics_by_hand():
    # four practices: 10/100, 20/100, 15/50, 30/200 -> values 0.1, 0.2, 0.3, 0.15
    out = variation([10, 20, 15, 30], [100, 100, 50, 200], model=False).set_index("statistic")
    values = np.array([0.1, 0.2, 0.3, 0.15])
    assert out.loc["cv", "value"] == pytest.approx(np.std(values, ddof=1) / values.mean())
    assert out.loc["eq", "value"] == pytest.approx(3.0)
    # quartiles (numpy linear = R type 7) of 0.1, 0.15, 0.2, 0.3: 0.1375 and 0.225
    assert out.loc["iqr_ratio", "value"] == pytest.approx(0.225 / 0.1375)
    # SCV: overall rate 75/450 = 1/6, E = 100/6, 100/6, 50/6, 200/6
    e = np.array([100, 100, 50, 200]) / 6
    o = np.array([10, 20, 15, 30])
    assert out.loc["scv", "value"] == pytest.approx(np.mean((o - e) ** 2 / e ** 2) - np.mean(1 / e))
    assert (out["n_units"] == 4).all() and (out["n_events"] == 75).all()


def test_eq_missing_when_a_unit_has_no_events():
    out = variation([0, 5, 7], [10, 10, 10], model=False).set_index("statistic")
    assert np.isnan(out.loc["eq", "value"])
    assert out.loc["eq", "note"] == "minimum unit value is 0"


def test_zero_denominator_left_out_and_reported():
    out = variation([1, 5, 7, 0], [10, 12, 14, 0], model=False).set_index("statistic")
    assert (out["n_units"] == 3).all()
    assert "1 unit(s) with a zero or missing denominator left out" in out.loc["cv", "note"]


def test_groups_and_units_are_aggregated():
    num = [1, 2, 3, 4, 5, 6]
    den = [10, 10, 10, 10, 10, 10]
    out = variation(num, den, units=["a", "a", "b", "b", "c", "c"], by=["x", "x", "x", "x", "y", "y"],
                    model=False)
    assert list(out["group"].unique()) == ["x", "y"]
    x = out[(out["group"] == "x") & (out["statistic"] == "eq")]
    assert x["value"].iloc[0] == pytest.approx((7 / 20) / (3 / 20))
    assert x["n_units"].iloc[0] == 2


@functools.cache
def _qof_all(prev_path, geo_path):
    prev = pd.read_csv(prev_path, usecols=["PRACTICE_CODE", "GROUP_CODE", "REGISTER", "PRACTICE_LIST_SIZE"])
    geo = pd.read_csv(geo_path, usecols=["PRACTICE_CODE", "ICB_NAME"])
    return prev.merge(geo, on="PRACTICE_CODE")


def _qof(shared, register, icb):
    d = _qof_all(shared("data/real/qof_2223_PREVALENCE.csv"),
                 shared("data/real/qof_2223_MAPPING_NHS_GEOGRAPHIES.csv"))
    d = d[(d["GROUP_CODE"] == register) & (d["ICB_NAME"] == icb)]
    return d[(d["PRACTICE_LIST_SIZE"] > 0) & (d["REGISTER"] <= d["PRACTICE_LIST_SIZE"])]


@pytest.mark.parametrize("row", range(6))
def test_between_practice_variance_matches_lme4(shared, row):
    """lme4 1.1-31 glmer(cbind(REGISTER, LIST - REGISTER) ~ 1 + (1 | practice), binomial, nAGQ = 1 or 10)
    on QOF 2022-23 registers; output committed in tests/reference/lme4_variation.csv by
    tests/reference/lme4_variation.R. Tolerance: σ² within 2e-4 relative, intercept within 1e-4
    (both optimisers stop at their own tolerances; measured differences are below 7e-5 and 3e-5); the
    profile interval of the SD within 1e-4 relative."""
    ref = pd.read_csv(REFERENCE).iloc[row]
    data = _qof(shared, ref["register"], ref["icb"])
    assert len(data) == ref["n_units"] and data["REGISTER"].sum() == ref["n_events"]
    out = variation(data["REGISTER"], data["PRACTICE_LIST_SIZE"], data["PRACTICE_CODE"],
                    nagq=int(ref["nAGQ"])).set_index("statistic")
    s2 = out.loc["between_variance_logit", "value"]
    assert s2 == pytest.approx(ref["sigma2"], rel=2e-4)
    assert out.loc["icc_latent", "value"] == pytest.approx(ref["sigma2"] / (ref["sigma2"] + math.pi ** 2 / 3),
                                                           rel=2e-4)
    assert out.loc["median_odds_ratio", "value"] == pytest.approx(
        math.exp(math.sqrt(2 * ref["sigma2"]) * 0.6744897501960817), rel=1e-4)
    lo, hi = out.loc["between_variance_logit", ["lower", "upper"]]
    assert lo < s2 < hi
    # 95% profile-likelihood interval of the SD: lme4 confint(method = "profile"); measured agreement 5e-6
    sd_lo, sd_hi = out.loc["between_sd_logit", ["lower", "upper"]]
    assert sd_lo == pytest.approx(ref["sd_lower_profile95"], rel=1e-4)
    assert sd_hi == pytest.approx(ref["sd_upper_profile95"], rel=1e-4)
    assert (out["n_units"] == ref["n_units"]).all()


def test_multilevel_loglik_equals_lme4_laplace(shared):
    """With nAGQ = 1 lme4 reports the full Laplace log-likelihood; ours must agree at lme4's estimates."""
    from cluster_eval.stats.multilevel import _constant, marginal_loglik
    ref = pd.read_csv(REFERENCE)
    ref = ref[ref["nAGQ"] == 1].iloc[1]
    data = _qof(shared, ref["register"], ref["icb"])
    y = data["REGISTER"].to_numpy(float)
    n = data["PRACTICE_LIST_SIZE"].to_numpy(float)
    ll, _ = marginal_loglik("binomial", y, n, ref["intercept"], 0.5 * math.log(ref["sigma2"]), nagq=1)
    assert ll + _constant("binomial", y, n) == pytest.approx(ref["loglik"], abs=1e-5)


def test_no_between_unit_variation_gives_zero_lower_limit():
    rng = np.random.default_rng(1)
    n = rng.integers(100, 1000, 50)
    y = rng.binomial(n, 0.2)
    out = variation(y, n).set_index("statistic")
    assert out.loc["between_variance_logit", "lower"] == 0
    assert out.loc["median_odds_ratio", "lower"] == 1
    assert out.loc["between_variance_logit", "upper"] < 0.05


def test_rate_kind_recovers_simulated_variance():
    rng = np.random.default_rng(7)
    k = 300
    exposure = rng.integers(2000, 8000, k).astype(float)
    b = rng.normal(0, 0.3, k)
    y = rng.poisson(exposure * 0.01 * np.exp(b))
    out = variation(y, exposure, kind="rate", multiplier=1000).set_index("statistic")
    lo, hi = out.loc["between_variance_log", ["lower", "upper"]]
    assert lo < 0.09 < hi
    assert "median_rate_ratio" in out.index and "icc_latent" not in out.index
