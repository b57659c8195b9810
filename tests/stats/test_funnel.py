"""Funnel limits and funnel analysis against PHEindicatormethods' test data and FunnelPlotR's README."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from cluster_eval.stats import funnel, funnel_limits
from cluster_eval.stats.funnel_limits import phe_axis

PHE = "data/reference/phe/"
PHE_LABELS = {"inside": "Not significant", "above 95%": "High (0.025)", "below 95%": "Low (0.025)",
              "above 99.8%": "High (0.001)", "below 99.8%": "Low (0.001)"}


def read_bom(path):
    out = pd.read_csv(path, encoding="utf-8-sig")
    out.columns = [c.strip() for c in out.columns]
    return out


# --- PHE calculate_funnel_limits, proportions ---------------------------------------------------

def test_proportion_funnel_limits_every_row(shared):
    inp = read_bom(shared(PHE + "testdata_funnel_prop_inputs.csv"))
    exp = read_bom(shared(PHE + "testdata_funnel_prop_outputs.csv"))
    assert len(exp) == 100
    np.testing.assert_array_equal(phe_axis(inp["denominator"], "proportion"), exp["Population"])
    target = inp["numerator"].sum() / inp["denominator"].sum()
    got = funnel_limits(target, exp["Population"], "proportion", multiplier=100)
    assert got["target"].iloc[0] == pytest.approx(exp["Baseline"].iloc[0], rel=1e-6)
    pairs = {(0.95, "lower"): "Lower2s0025limit", (0.95, "upper"): "Upper2s0025limit",
             (0.998, "lower"): "Lower3s0001limit", (0.998, "upper"): "Upper3s0001limit"}
    for (c, side), col in pairs.items():
        ours = got.loc[got["confidence"] == c, side].to_numpy()
        # the file holds 6 decimals: 1e-6 relative, or half a unit in the 6th decimal for zeros
        np.testing.assert_allclose(ours, exp[col], rtol=1e-6, atol=5e-7)
    assert (got["method"] == "inverted wilson").all()


def test_proportion_significance_labels(shared):
    inp = read_bom(shared(PHE + "testdata_funnel_prop_inputs.csv"))
    res = funnel(inp["numerator"], inp["denominator"], inp["Area"])
    assert list(res.units["label"].map(PHE_LABELS)) == list(inp["significance"])


# --- PHE calculate_funnel_limits, ratios ---------------------------------------------------------

RATIO_COLS = [("lower_2s", 0.95, "lower"), ("upper_2s", 0.95, "upper"),
              ("lower_3s", 0.998, "lower"), ("upper_3s", 0.998, "upper")]


def test_ratio_funnel_axis(shared):
    inp = read_bom(shared(PHE + "testdata_funnel_ratio_inputs.csv"))
    exp = read_bom(shared(PHE + "testdata_funnel_ratio_outputs.csv"))
    assert len(exp) == 100
    np.testing.assert_array_equal(phe_axis(inp["expected"], "ratio"), exp["Observed_events"])


@pytest.mark.parametrize(("prefix", "conf", "side"), RATIO_COLS)
def test_ratio_funnel_limits_every_row(shared, prefix, conf, side):
    """PHE tabulates, for each observed count O, the expected count E at which O sits on the limit.

    Our limits at E must give back O/E (the ISR column × 1/100, the count column + 1). PHE finds E by
    bisection on v = E/(1 + O + E) stopped at a step below 1e-7, so its E carries an error of up to
    (1 + O)·1.2e-7/(1 − v)²: the lower limits agree to 1e-6 relative; for the upper limits (small E)
    we compare within that stated bisection error and check our own root to 1e-12.
    """
    exp = read_bom(shared(PHE + "testdata_funnel_ratio_outputs.csv"))
    obs = exp["Observed_events"].to_numpy(float)
    e_phe = exp[f"{prefix}_exp_events"].to_numpy(float)
    # our exact E: the root of our own limit function, found independently with the gamma inverse
    alpha = 1 - conf
    e_ours = special.gammaincinv(obs + 1, 1 - alpha / 2) if side == "lower" else special.gammaincinv(obs, alpha / 2)
    lim = funnel_limits(1, e_ours, "ratio", confidence=conf)[side].to_numpy()
    np.testing.assert_allclose(lim * e_ours, obs, rtol=1e-12)
    v = e_phe / (1 + obs + e_phe)
    bisection_error = (1 + obs) * 1.2e-7 / (1 - v) ** 2
    if side == "lower":
        np.testing.assert_allclose(e_ours, e_phe, rtol=1e-6)
        isr = funnel_limits(1, e_ours, "ratio", confidence=conf, multiplier=100)[side].to_numpy()
        np.testing.assert_allclose(isr, exp[f"{prefix}_isr"], rtol=1e-6)
        np.testing.assert_allclose(lim - 1, exp[f"{prefix}_count"], rtol=1e-6, atol=1e-6)
    else:
        assert np.all(np.abs(e_ours - e_phe) <= bisection_error)
        assert np.max(np.abs(e_ours / e_phe - 1)) < 5e-5


def test_ratio_significance_labels(shared):
    inp = read_bom(shared(PHE + "testdata_funnel_ratio_inputs.csv"))
    res = funnel(inp["obs"], inp["expected"], statistic="ratio")
    assert list(res.units["label"].map(PHE_LABELS)) == list(inp["significance"])


# --- FunnelPlotR README: medpar ----------------------------------------------------------------

def _medpar(shared):
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    data = pd.read_csv(shared("data/real/medpar.csv"), dtype={"provnum": str})
    model = smf.glm("los ~ hmo + died + age80 + C(type)", data=data, family=sm.families.Poisson()).fit()
    return data.assign(prds=model.fittedvalues), model


def test_medpar_model_matches_readme(shared):
    _, model = _medpar(shared)
    # FunnelPlotR README (nhs-r-community/FunnelPlotR, README.md): coefficients and
    # sum(mod$weights * mod$residuals^2)/mod$df.residual = 6.240519
    assert model.params["Intercept"] == pytest.approx(2.26875, abs=5e-6)
    assert model.params["died"] == pytest.approx(-0.24574, abs=5e-6)
    assert model.params["C(type)[T.3]"] == pytest.approx(0.74869, abs=5e-6)
    # R reports the Pearson statistic from its last IRLS weights; statsmodels from the converged fit
    assert (model.resid_pearson ** 2).sum() / model.df_resid == pytest.approx(6.240519, rel=1e-5)


def test_medpar_unadjusted_outliers_match_readme(shared):
    data, _ = _medpar(shared)
    res = funnel(data["los"], data["prds"], data["provnum"], statistic="ratio", poisson_method="funnelplotr")
    # FunnelPlotR README: "A funnel plot object with 54 points of which 25 are outliers.
    # Plot is not adjusted for overdispersion." (limit = 99, i.e. the 99.8% limits)
    assert res.n_units == 54
    assert len(res.outliers(0.998)) == 25


def test_medpar_shmi_adjusted_outliers_match_readme(shared):
    data, _ = _medpar(shared)
    res = funnel(data["los"], data["prds"], data["provnum"], statistic="ratio", overdispersion="additive",
                 trim_method="truncate")
    # FunnelPlotR README: "A funnel plot object with 54 points of which 9 are outliers.
    # Plot is adjusted for overdispersion." (sr_method = "SHMI", limit = 99)
    assert res.transform == "log"
    assert len(res.outliers(0.998)) == 9
    # The README prints no phi / tau2: check them against a direct, loop-based transcription of the
    # SHMI steps (log z-scores, rank groups of 10%, drop the first and last group).
    agg = data.groupby("provnum").agg(o=("los", "sum"), e=("prds", "sum"))
    z = np.sqrt(agg["e"]) * np.log(agg["o"] / agg["e"])
    ranks = z.rank(method="average")
    kept = [p for p in agg.index if 0 < np.floor(ranks[p] * 10 / (len(z) + 1)) < 9]
    phi = sum(z[p] ** 2 for p in kept) / len(kept)
    w = agg.loc[kept, "e"]
    tau2 = (len(kept) * phi - (len(kept) - 1)) / (w.sum() - (w ** 2).sum() / w.sum())
    assert res.n_used == len(kept) == 44
    assert res.phi == pytest.approx(phi, rel=1e-10)
    assert res.tau2 == pytest.approx(tau2, rel=1e-10)
    assert res.phi == pytest.approx(8.532, abs=1e-3)
    assert res.tau2 == pytest.approx(0.02841, abs=1e-5)


# --- hand-checkable overdispersion ---------------------------------------------------------------

def test_winsorised_phi_and_tau2_by_hand():
    # five units, proportions, arcsine scale; trim 0.2 pulls the extreme z-scores to the 20%/80% quantiles
    num = np.array([10, 20, 35, 50, 90])
    den = np.array([100, 100, 100, 100, 100])
    p0 = num.sum() / den.sum()
    z = (np.arcsin(np.sqrt(num / den)) - np.arcsin(np.sqrt(p0))) * 2 * np.sqrt(den)
    lo, hi = np.quantile(z, [0.2, 0.8])
    zw = np.clip(z, lo, hi)
    phi = np.mean(zw ** 2)
    w = 4 * den
    tau2 = (5 * phi - 4) / (w.sum() - (w ** 2).sum() / w.sum())
    res = funnel(num, den, trim=0.2, overdispersion="additive")
    assert res.phi == pytest.approx(phi)
    assert res.tau2 == pytest.approx(tau2)
    se = np.sqrt(1 / (4 * 100) + tau2)
    upper = np.sin(np.arcsin(np.sqrt(p0)) + 1.959963984540054 * se) ** 2
    assert res.units["upper_95"].iloc[0] == pytest.approx(upper)
    mult = funnel(num, den, trim=0.2, overdispersion="multiplicative")
    upper_m = np.sin(np.arcsin(np.sqrt(p0)) + 1.959963984540054 * np.sqrt(phi) / 20) ** 2
    assert mult.units["upper_95"].iloc[0] == pytest.approx(upper_m)


def test_zero_denominator_is_missing_and_counted():
    res = funnel([5, 0, 7, 9], [50, 0, 60, 70], ["a", "b", "c", "d"])
    row = res.units.set_index("unit").loc["b"]
    assert np.isnan(row["value"]) and row["label"] == "missing"
    assert res.n_missing == 1 and res.n_used == 3
    assert "1 left out" in res.summary()


def test_rate_funnel_is_the_ratio_funnel_scaled():
    events = np.array([12, 40, 7, 95, 30])
    persons = np.array([1000.0, 2500, 900, 5000, 3100])
    rate = funnel(events, persons, statistic="rate", multiplier=1000)
    target = events.sum() / persons.sum()
    ratio = funnel(events, persons * target, statistic="ratio")
    np.testing.assert_allclose(rate.units["value"], ratio.units["value"] * target * 1000)
    np.testing.assert_allclose(rate.units["upper_99_8"], ratio.units["upper_99_8"] * target * 1000)
    assert list(rate.units["label"]) == list(ratio.units["label"])
    assert rate.target == pytest.approx(target * 1000)


def test_no_overdispersion_keeps_unadjusted_limits():
    # identical proportions: every z-score is 0, phi = 0, tau2 = 0
    res = funnel([10, 20, 30], [100, 200, 300], overdispersion="additive")
    assert res.phi == 0 and res.tau2 == 0
    assert res.overdispersion is None and res.requested_overdispersion == "additive"
    plain = funnel([10, 20, 30], [100, 200, 300])
    pd.testing.assert_frame_equal(res.units, plain.units)
    assert "no overdispersion found" in res.summary()
