"""SPC relative to the nation (cluster_eval.spc.relative) on hand-made series."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.spc import qic
from cluster_eval.spc.relative import expected_from_nation, relative_chart

MONTHS = pd.date_range("2015-01-01", periods=100, freq="MS")
START = MONTHS[60]


def _series(step=1.0, seed=1, e=400.0, extra_sd=0.0):
    rng = np.random.default_rng(seed)
    exp = np.full(MONTHS.size, e)
    level = np.where(np.arange(MONTHS.size) >= 60, step, 1.0) * np.exp(rng.normal(0, extra_sd, MONTHS.size))
    return rng.poisson(exp * level).astype(float), exp


def test_window_and_frozen_baseline_by_hand():
    o, e = _series()
    o[10] = 5000          # far outside the window (month -50): must not matter
    chart, rules = relative_chart(MONTHS, o, e, START, sigma="moving_range")
    assert len(chart) == 48 and chart["period"].iloc[0] == MONTHS[36] and chart["period"].iloc[-1] == MONTHS[83]
    assert rules["n_baseline"] == 24 and rules["n_after"] == 24
    assert rules["centre"] == pytest.approx(o[36:60].sum() / e[36:60].sum())
    assert (chart["phase"] == "baseline").sum() == 24
    # the same limits as ce.spc.qic's u chart frozen on the 24 baseline months
    ref = qic(MONTHS[36:84], o[36:84], e[36:84], chart=rules["chart"], freeze=24)
    np.testing.assert_allclose(chart["ucl"], ref["ucl"])


def test_no_change_gives_no_rule_and_a_step_is_found():
    o, e = _series(seed=3)
    _, quiet = relative_chart(MONTHS, o, e, START)
    assert not quiet["beyond_limits"] and not quiet["shift_mean"]
    o, e = _series(step=1.3, seed=3)
    _, moved = relative_chart(MONTHS, o, e, START)
    assert moved["beyond_limits"] and moved["shift_mean"] and moved["two_of_three"]
    assert moved["direction"] == "above"


def test_laney_adjustment_when_overdispersed():
    o, e = _series(seed=4, extra_sd=0.15)
    _, rules = relative_chart(MONTHS, o, e, START, sigma="moving_range")
    assert rules["chart"] == "up" and rules["sigma_z"] > 2
    o, e = _series(seed=4)
    _, plain = relative_chart(MONTHS, o, e, START, laney="never")
    assert plain["chart"] == "u"


def test_too_short_baseline_and_arguments():
    o, e = _series()
    chart, rules = relative_chart(MONTHS, o, e, MONTHS[5])
    assert chart.empty and rules["reason"] == "fewer than 12 months before the start"
    with pytest.raises(ArgumentError, match="laney must be one of"):
        relative_chart(MONTHS, o, e, START, laney="yes")
    with pytest.raises(ArgumentError, match="same length"):
        relative_chart(MONTHS, o[:-1], e, START)


def test_expected_from_nation():
    np.testing.assert_allclose(expected_from_nation([100, 200, 5], [10, 30, 1], [1000, 1000, 0]), [1, 6, np.nan])


def test_many_panels_in_one_call_match_one_at_a_time():
    from cluster_eval.spc.relative import relative_charts

    frames = []
    for k, (step, start) in enumerate([(1.0, START), (1.3, MONTHS[70]), (0.8, MONTHS[30])]):
        o, e = _series(seed=10 + k)
        o = np.where(MONTHS >= start, np.random.default_rng(k).poisson(e * step), o)   # the step at its start
        frames.append(pd.DataFrame({"cluster_id": f"K{k}", "indicator_id": "x", "period": MONTHS, "start": start,
                                    "observed": o, "expected": e}))
    data = pd.concat(frames, ignore_index=True)
    chart, rules = relative_charts(data, ["cluster_id", "indicator_id"], sigma="moving_range")
    assert list(rules["cluster_id"]) == ["K0", "K1", "K2"]
    for k in range(3):
        part = data[data["cluster_id"] == f"K{k}"]
        one_chart, one = relative_chart(part["period"], part["observed"], part["expected"], part["start"].iloc[0],
                                        sigma="moving_range")
        row = rules.iloc[k]
        for col in ("centre", "sigma_z", "beyond_limits", "runs", "shift_mean", "direction", "chart"):
            assert row[col] == one[col], (k, col)
        np.testing.assert_allclose(chart.loc[chart["cluster_id"] == f"K{k}", "ucl"], one_chart["ucl"])
    assert rules.loc[1, "direction"] == "above" and rules.loc[2, "direction"] == "below"
    # K2 starts at month 30: only 24 months before it exist, all charted
    assert rules.loc[2, "n_baseline"] == 24


def _ar1_panels(n_panels, rho, step=1.0, seed=0, e=2000.0, sd=0.05):
    """O/E panels whose level follows a stationary AR(1) on the log scale (sd ``sd``), Poisson on top."""
    rng = np.random.default_rng(seed)
    T = 60
    x = np.empty((n_panels, T))
    x[:, 0] = rng.normal(0, sd, n_panels)
    for t in range(1, T):
        x[:, t] = rho * x[:, t - 1] + np.sqrt(1 - rho ** 2) * rng.normal(0, sd, n_panels)
    level = np.exp(x) * np.where(np.arange(T) >= 30, step, 1.0)
    months = pd.date_range("2018-01-01", periods=T, freq="MS")
    o = rng.poisson(e * level)
    return pd.DataFrame({"panel": np.repeat(np.arange(n_panels), T), "period": np.tile(months, n_panels),
                         "start": months[30], "observed": o.reshape(-1).astype(float), "expected": e})


def test_autocorrelated_baseline_keeps_false_shift_signals_rare():
    """Known truth: no change at the start. With persistent deviations (AR(1), rho 0.8) the plain baseline SD
    calls a shift in many panels; the autocorrelation-aware shift rule in few (nominal 0.3%, at most 10%)."""
    from cluster_eval.spc.relative import relative_charts

    data = _ar1_panels(300, 0.8)
    _, naive = relative_charts(data, "panel", sigma="baseline_sd")
    _, adj = relative_charts(data, "panel")
    assert naive["shift_mean"].mean() > 0.2
    assert adj["shift_mean"].mean() < 0.10
    # the pooled, bias-corrected lag-1 autocorrelation is near the truth of the observed series: the AR(1)
    # part (variance 0.05²) with rho 0.8 plus Poisson noise (variance ~1/2000): 0.8 · 0.0025 / 0.003 = 0.667
    from cluster_eval.spc.relative import _pooled_lag1

    z = np.log(data["observed"].to_numpy().reshape(300, 60)[:, :30] / 2000.0)
    r = _pooled_lag1(z, np.zeros(300, dtype=int), np.full(300, 30))
    assert r[0] == pytest.approx(0.8 * 0.05 ** 2 / (0.05 ** 2 + 1 / 2000), abs=0.07)
    # a real step of 25% is still found in most panels, in the right direction
    _, moved = relative_charts(_ar1_panels(100, 0.8, step=1.25, seed=1), "panel")
    assert moved["shift_mean"].mean() > 0.8 and (moved["direction"] == "above").all()


def test_pooled_lag1_by_hand():
    from cluster_eval.spc.relative import _pooled_lag1

    z = np.array([[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]])
    # panel 0: Σ z_t z_(t-1) = -3, Σ z² = 4 -> -0.75 (clipped to 0); panel 1: (1 - 1 + 1)/4 = 0.25
    r = _pooled_lag1(z, np.array([0, 1]), np.array([4, 4]))
    assert r[0] == 0.0
    assert r[1] == pytest.approx(0.25 + (1 + 0.75) / 4)


def test_ar1_noise_variances_by_brute_force():
    """inv_neff and shift_var against the double sums of the autocorrelations ρ(0) = 1, ρ(h) = λφ^h."""
    from cluster_eval.spc.relative import inv_neff, shift_var

    phi, lam, nb, na = 0.8, 0.6, 7, 5
    t = np.arange(-nb, na)
    rho = np.where(t[:, None] == t[None, :], 1.0, lam * phi ** np.abs(t[:, None] - t[None, :]))
    w = np.where(t < 0, -1.0 / nb, 1.0 / na)
    before = (t[:, None] < 0) & (t[None, :] < 0)
    assert inv_neff(nb, phi, lam) == pytest.approx(rho[before].sum() / nb ** 2)
    assert shift_var(nb, na, phi, lam) == pytest.approx(w @ rho @ w)
    # white noise (λ = 0 or φ = 0): 1/n and 1/n_b + 1/n_a
    assert inv_neff(10, 0.0, 1.0) == pytest.approx(0.1) and inv_neff(10, 0.9, 0.0) == pytest.approx(0.1)
    assert shift_var(10, 5, 0.0, 1.0) == pytest.approx(0.3)


def test_ar1_noise_structure_keeps_false_shift_signals_rare():
    """Known truth: no change. A slow AR(1) part (φ 0.93) under month-to-month Poisson noise: the lag-1
    autocorrelation alone understates the persistence and the shift rule fires too often; the AR(1)-plus-noise
    structure (φ from the lag-2/lag-1 ratio) keeps it near its nominal rate, and a real step is still found."""
    from cluster_eval.spc.relative import _pooled_ar1_noise, relative_charts

    data = _ar1_panels(400, 0.93, sd=0.03)
    _, lag1 = relative_charts(data, "panel", sigma="autocorrelated")
    _, arn = relative_charts(data, "panel", sigma="ar1_noise")
    assert lag1["shift_mean"].mean() > 0.10
    assert arn["shift_mean"].mean() < 0.03
    # the pooled structure is near the truth: φ 0.93, λ = 0.03² / (0.03² + 1/2000) = 0.643
    z = np.log(data["observed"].to_numpy().reshape(400, 60)[:, 6:30] / 2000.0)
    phi, lam = _pooled_ar1_noise(z, np.zeros(400, dtype=int), np.full(400, 24))
    assert phi[0] == pytest.approx(0.93, abs=0.05) and lam[0] == pytest.approx(0.643, abs=0.08)
    _, moved = relative_charts(_ar1_panels(100, 0.93, step=1.1, seed=1, sd=0.03), "panel", sigma="ar1_noise")
    assert moved["shift_mean"].mean() > 0.8 and (moved["direction"] == "above").all()
