"""Shrinkage, BH q-values and verdict words."""
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from cluster_eval.errors import ArgumentError
from cluster_eval.impact.multiplicity import NO_CHANGE, bh_qvalues, p_values, shrink, shrink_effects, verdict
from cluster_eval.impact.pool import pool


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bh_matches_statsmodels(seed):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=10), [0.5, 0.5, 1.0, 0.0]])
    rng.shuffle(p)
    np.testing.assert_allclose(bh_qvalues(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12)


def test_bh_missing_values_stay_missing_and_are_not_counted():
    p = np.array([0.01, np.nan, 0.04, 0.03])
    q = bh_qvalues(p)
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2, 3]], multipletests([0.01, 0.04, 0.03], method="fdr_bh")[1])
    with pytest.raises(ArgumentError, match="between 0 and 1"):
        bh_qvalues([0.2, 1.5])


def test_shrinkage_hand_calculation():
    y = np.array([0.3, -0.1, 0.5, 0.2, 0.05, 0.9])
    s = np.array([0.1, 0.2, 0.3, 0.15, 0.1, 0.4])
    out = shrink(y, s)
    o = pool(y, s).overall.iloc[0]
    mu, se_mu, tau2 = o["value"], o["se"], o["tau2"]
    assert tau2 > 0
    b = s ** 2 / (s ** 2 + tau2)
    np.testing.assert_allclose(out["shrunk_value"], mu + (1 - b) * (y - mu))
    np.testing.assert_allclose(out["shrunk_se"], np.sqrt((1 - b) * s ** 2 + b ** 2 * se_mu ** 2))
    np.testing.assert_allclose(out["shrunk_upper"] - out["shrunk_value"], 1.959964 * out["shrunk_se"], rtol=1e-6)
    # every estimate moves toward the pooled effect, the noisier ones more
    assert (np.abs(out["shrunk_value"] - mu) <= np.abs(y - mu) + 1e-12).all()
    assert out["shrinkage"].iloc[5] > out["shrinkage"].iloc[0]


def test_shrinkage_with_no_heterogeneity_gives_the_pooled_effect():
    y = np.array([1.0, 1.01, 0.99, 1.0])
    out = shrink(y, np.full(4, 0.5))
    assert out["tau2"].iloc[0] == 0
    np.testing.assert_allclose(out["shrunk_value"], out["pooled_value"])


def test_shrink_effects_per_indicator_skips_unestimable():
    e = pd.DataFrame({"indicator_id": ["a"] * 4 + ["b"] * 3, "value": [1, 2, 3, 4, 10, 11, np.nan],
                      "se": [1, 1, 1, 1, 2, 2, np.nan], "estimable": [True] * 6 + [False]})
    out = shrink_effects(e)
    assert out["shrunk_value"].iloc[:6].notna().all() and np.isnan(out["shrunk_value"].iloc[6])
    a = shrink(e["value"][:4], e["se"][:4])
    np.testing.assert_allclose(out["shrunk_value"].iloc[:4], a["shrunk_value"])


def test_verdict_wording():
    lo = [0.1, -0.5, -0.2, np.nan]
    hi = [0.4, -0.1, 0.3, np.nan]
    mde = [0.2, 0.2, 0.25, 0.2]
    assert list(verdict(lo, hi, mde, "higher")) == [
        "improved", "worsened", "no change detected (this cluster could detect changes of about 0.25 or more)", ""]
    assert list(verdict(lo, hi, mde, "lower"))[:2] == ["worsened", "improved"]
    assert list(verdict(lo, hi, mde, "none"))[:2] == ["increased", "decreased"]      # no judgement words
    assert verdict(-1, 1, 3.14159, "lower", fmt=lambda x: f"{x:.1f} per 1,000")[0] == \
        NO_CHANGE.format(mde="3.1 per 1,000")
    with pytest.raises(ArgumentError, match="better must be one of 'lower', 'higher', 'none'; got 'lowre'"):
        verdict(0, 1, 1, "lowre")


def test_p_values():
    np.testing.assert_allclose(p_values([1.96], [1.0]), [0.05], atol=1e-4)
    assert p_values([2.0], [1.0], df=[5])[0] == pytest.approx(0.1019, abs=1e-4)
