"""The analyse stage's own small estimators against the project's reference implementations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cluster_eval.report import estimates as E


@pytest.mark.parametrize("seed", range(8))
def test_anhoej_rules_agree_with_qic_run_chart(seed):
    # oracle: ce.spc.qic (checked against qicharts2) on the same series, centre = median
    from cluster_eval.spc import qic

    rng = np.random.default_rng(seed)
    y = rng.poisson(40, 36).astype(float) + np.where(np.arange(36) > 24, 6 * (seed % 2), 0)
    ref = qic(pd.date_range("2020-01-01", periods=36, freq="MS"), y, chart="run").iloc[0]
    got = E.anhoej(y, float(np.median(y)))
    for key in ("n_useful", "longest_run", "longest_run_max", "n_crossings", "n_crossings_min"):
        assert got[key] == ref[key], key
    # qicharts2's runs.signal is either rule firing
    assert (got["runs_signal"] or got["crossings_signal"]) == bool(ref["runs_signal"])


def test_random_effects_matches_ce_impact_pool_dl():
    from cluster_eval.impact import pool

    rng = np.random.default_rng(1)
    y, se = rng.normal(1, 1, 12), rng.uniform(0.3, 1.2, 12)
    ref = pool(y, se, method="DL").overall.iloc[0]
    got = E.random_effects(y, se)
    assert got["estimate"] == pytest.approx(ref["value"], rel=1e-10)
    assert got["se"] == pytest.approx(ref["se"], rel=1e-10)
    assert got["tau2"] == pytest.approx(ref["tau2"], rel=1e-10)
    assert 100 * got["i2"] == pytest.approx(ref["I2"], rel=1e-10)


def test_funnel_limits_vectorised_match_ce_stats():
    from cluster_eval.stats import funnel_limits

    size = np.array([50.0, 200.0, 1000.0, 5000.0])
    for kind, target, mult in (("proportion", 23.0, 100.0), ("rate", 35.0, 1000.0)):
        for conf in (0.95, 0.998):
            lo, hi = E.limits_vectorised(np.full(4, target), size, kind, np.full(4, mult), conf)
            ref = funnel_limits(target / mult, size, statistic=kind, confidence=conf, multiplier=mult)
            np.testing.assert_allclose(lo, ref["lower"].to_numpy(), rtol=1e-9)
            np.testing.assert_allclose(hi, ref["upper"].to_numpy(), rtol=1e-9)


def test_interval_wilson_hand_computed():
    # Wilson 95% for 10/50: centre (0.2 + 1.96²/100) / (1 + 1.96²/50) ... (Newcombe 1998, hand computed)
    z = 1.959963984540054
    p, n = 0.2, 50
    den = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    got = E.interval([10], [50], "proportion", 100.0)
    assert got["lower"].iloc[0] == pytest.approx(100 * (centre - half), rel=1e-6)
    assert got["upper"].iloc[0] == pytest.approx(100 * (centre + half), rel=1e-6)


def test_random_effects_funnel_limits_match_ce_stats_additive():
    # oracle: ce.stats.funnel_limits(overdispersion="additive", tau2=...) (Spiegelhalter 2005)
    from cluster_eval.stats import funnel_limits

    size = np.array([50.0, 200.0, 1000.0, 5000.0])
    for kind, target, mult, tau2 in (("proportion", 23.0, 100.0, 0.002), ("rate", 35.0, 1000.0, 0.004)):
        for conf in (0.95, 0.998):
            lo, hi = E.limits_vectorised(np.full(4, target), size, kind, np.full(4, mult), conf, np.full(4, tau2))
            ref = funnel_limits(target / mult, size, statistic=kind, confidence=conf, multiplier=mult,
                                overdispersion="additive", tau2=tau2)
            np.testing.assert_allclose(lo, ref["lower"].to_numpy(), rtol=1e-9)
            np.testing.assert_allclose(hi, ref["upper"].to_numpy(), rtol=1e-9)
