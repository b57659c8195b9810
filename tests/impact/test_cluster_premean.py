"""The pre-period-mean per-cluster estimator: hand calculations, placebo size, inference under cluster shocks."""
import numpy as np
import pytest
from scipy import stats

from cluster_eval.errors import ArgumentError
from cluster_eval.impact.cluster_premean import cluster_effects_premean, cluster_variance_component
from cluster_eval.impact.panel import IndicatorPanel

_panel = IndicatorPanel.from_array     # practices x months array, clusters, {cluster: start index}


def test_variance_component_hand_calculation():
    # sigma^2 = max(0, mean(theta^2 - v)): (1 - .5 + 4 - .5 + 1 - .5) / 3 = 1.5
    assert cluster_variance_component([1.0, 2.0, -1.0], [0.5, 0.5, 0.5]) == pytest.approx(1.5)
    # placebos no more variable than their practice-level variance: truncated at 0
    assert cluster_variance_component([0.1, -0.1], [0.5, 0.5]) == 0.0
    # missing pairs are left out
    assert cluster_variance_component([1.0, np.nan, 3.0], [0.0, 1.0, 1.0]) == pytest.approx((1 + 8) / 2)


def test_point_estimate_and_practice_variance_by_hand():
    # 3 treated practices (cluster A, start month 4), 4 comparison practices never treated; pre = 4 months
    rng = np.random.default_rng(1)
    v = rng.normal(10, 1, (7, 6))
    p = _panel(v, ["A", "A", "A", None, None, None, None], {"A": 4})
    res = cluster_effects_premean(panels={"ind": p}, pre=4, after=1, min_practices=3, min_placebos=10**6,
                                  event_study=True)
    e = res.effects.iloc[0]
    d = v[:, 4:6].mean(1) - v[:, 0:4].mean(1)                       # post mean - pre mean per practice
    dt, dc = d[:3], d[3:]
    assert e["value"] == pytest.approx(dt.mean() - dc.mean())
    var = dt.var(ddof=1) / 3 + dc.var(ddof=1) / 4                   # two-sample (m/(m-1)-corrected) variance
    assert e["se"] == pytest.approx(np.sqrt(var))
    assert e["se_basis"] == "practice only"                         # too few placebos: no cluster component
    # Welch-Satterthwaite df and the interval
    df = var ** 2 / ((dt.var(ddof=1) / 3) ** 2 / 2 + (dc.var(ddof=1) / 4) ** 2 / 3)
    assert e["df"] == pytest.approx(df)
    q = stats.t.ppf(0.975, df)
    assert e["lower"] == pytest.approx(e["value"] - q * np.sqrt(var))
    assert e["mde"] == pytest.approx((q + stats.t.ppf(0.8, df)) * np.sqrt(var))
    # pre-trend placebo: second half of the pre window minus the first half
    pt = v[:, 2:4].mean(1) - v[:, 0:2].mean(1)
    assert e["pre_value"] == pytest.approx(pt[:3].mean() - pt[3:].mean())
    # event study: month s + e minus the pre mean, e = -4 .. 1
    es = res.event_study.set_index("event_time")["value"]
    base = v[:, 0:4].mean(1)
    assert es.loc[1] == pytest.approx((v[:3, 5] - base[:3]).mean() - (v[3:, 5] - base[3:]).mean())
    assert list(es.index) == [-4, -3, -2, -1, 0, 1]


def _shocked(seed, n_clusters=40, months=60, shock=0.6, effect=0.0, rho=0.6):
    """Practice x month values with cluster x month AR(1) shocks of SD ``shock`` (noise SD 1), staggered
    starts, and a constant effect from the start; returns the panel and each cluster's size."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 15, n_clusters)
    cl = np.repeat([f"C{i:02d}" for i in range(n_clusters)], sizes)
    never = 15
    cl = np.concatenate([cl, [None] * never]).astype(object)
    n = len(cl)
    starts = {f"C{i:02d}": int(s) for i, s in enumerate(rng.integers(30, 58, n_clusters))}
    z = np.zeros((n_clusters, months))
    e = rng.standard_normal((n_clusters, months))
    z[:, 0] = e[:, 0]
    for t in range(1, months):
        z[:, t] = rho * z[:, t - 1] + np.sqrt(1 - rho ** 2) * e[:, t]
    code = np.array([int(c[1:]) if c is not None else -1 for c in cl])
    level = rng.normal(50, 3, n)[:, None]
    v = level + 0.05 * np.arange(months)[None, :] + rng.standard_normal((n, months))
    v += np.where(code[:, None] >= 0, shock * z[np.maximum(code, 0)], 0.0)
    s_idx = np.array([starts.get(c, np.inf) if c is not None else np.inf for c in cl])
    v += effect * (np.arange(months)[None, :] >= s_idx[:, None])
    return _panel(v, list(cl), starts), dict(zip(starts, sizes))


def test_placebo_test_has_its_size_under_cluster_shocks():
    """No pre-trends, strong cluster shocks: the placebo rejects about 5% (and the practice-only test far more)."""
    p_all, naive = [], []
    for seed in range(3):
        panel, _ = _shocked(seed)
        e = cluster_effects_premean(panels={"ind": panel}, pre=12, after=6, min_placebos=20).effects
        e = e[e["estimable"]]
        assert (e["se_basis"] == "practice + cluster").all()
        p_all += list(e["placebo_p_value"])
        # the same contrast judged by the practice-level variance alone (no cluster component)
        naive += list(2 * stats.norm.sf(np.abs(e["pre_value"] / e["pre_se_practice"])))
    p_all = np.array(p_all)
    assert np.isfinite(p_all).all() and len(p_all) >= 100           # defined for every cluster size (3-14)
    assert 0.01 <= (p_all < 0.05).mean() <= 0.11, (p_all < 0.05).mean()
    assert (np.array(naive) < 0.05).mean() > 0.15                    # the component is what gives the size


def test_effect_intervals_cover_under_cluster_shocks():
    cov = []
    for seed in range(3):
        panel, _ = _shocked(seed + 10, effect=0.7)
        e = cluster_effects_premean(panels={"ind": panel}, pre=12, after=6).effects
        e = e[e["estimable"]]
        cov += list((e["lower"] <= 0.7) & (0.7 <= e["upper"]))
    assert 0.88 <= np.mean(cov) <= 0.99, np.mean(cov)


def test_contract_tables_and_arguments(tiny):
    prac, act, meas = tiny
    res = cluster_effects_premean(meas, prac, act, {"ind_a": "abx"}, pre=8, after=6)
    e = res.effects
    assert set(e["cluster_id"]) == set(act["cluster_id"])
    est = e[e["estimable"]]
    assert len(est) >= 4 and (est["lower"] < 0.05).all() and (est["upper"] > 0.05).all()   # true effect 0.05
    ci = res.conf_int(0.9)
    assert (ci.loc[e["estimable"], "upper"] - ci.loc[e["estimable"], "lower"]
            < est["upper"] - est["lower"]).all()
    with pytest.raises(ArgumentError, match="pre must be a whole number >= 2"):
        cluster_effects_premean(meas, prac, act, {"ind_a": "abx"}, pre=1)
    with pytest.raises(ArgumentError, match="weight must be one of"):
        cluster_effects_premean(meas, prac, act, {"ind_a": "abx"}, weight="list")


@pytest.mark.parametrize("walk, expected", [(False, 48), (True, 12)])
def test_auto_base_length_follows_the_placebo_mean_square(walk, expected):
    """Independent practice noise: the longest base is the most precise; a random walk: the shortest."""
    rng = np.random.default_rng(5)
    sizes = rng.integers(4, 10, 30)
    cl = list(np.repeat([f"C{i:02d}" for i in range(30)], sizes)) + [None] * 20
    months = 100
    noise = rng.standard_normal((len(cl), months))
    v = 50 + (np.cumsum(noise, axis=1) if walk else noise)
    starts = {f"C{i:02d}": int(s) for i, s in enumerate(rng.integers(75, 95, 30))}
    e = cluster_effects_premean(panels={"ind": _panel(v, cl, starts)}, pre="auto", after=6).effects
    assert (e.loc[e["estimable"], "n_pre"] == expected).all()
    assert "auto" in cluster_effects_premean(panels={"ind": _panel(v, cl, starts)}, pre="auto",
                                             after=6).settings["window"]
    with pytest.raises(ArgumentError, match='"auto"'):
        cluster_effects_premean(panels={"ind": _panel(v, cl, starts)}, pre="long")


def test_registered_estimator_takes_the_base_and_keeps_the_run_window():
    """impact.base reaches the estimator (up to 36 base months, as the direct call); the event study
    keeps the run's window (-before .. after) whatever the base length."""
    from cluster_eval.impact.cluster_premean import premean_placebo
    from cluster_eval.impact.estimators import EstimatorInput

    panel, _ = _shocked(3, months=80)
    out = premean_placebo(EstimatorInput(panels={"ind": panel}, before=12, after=6, base=36)).effects
    direct = cluster_effects_premean(panels={"ind": panel}, pre=36, after=6, event_study=False).effects
    ok = out["estimable"]
    assert out.loc[ok, "pre_months"].max() == 36
    np.testing.assert_array_equal(out.loc[ok, "pre_months"].to_numpy(), direct.loc[ok, "n_pre"].to_numpy())
    np.testing.assert_allclose(out.loc[ok, "estimate"].to_numpy(), direct.loc[ok, "value"].to_numpy())
    es = premean_placebo(EstimatorInput(panels={"ind": panel}, before=12, after=6, base=36)).event_study
    assert es["event_time"].min() == -12 and es["event_time"].max() == 6
    default = premean_placebo(EstimatorInput(panels={"ind": panel}, before=12, after=6)).effects
    assert (default.loc[default["estimable"], "pre_months"] == 12).all()      # base = before when unset


def test_dip_check_by_hand():
    # 3 treated practices (cluster A, start month 12), 4 never treated; pre = 12 months: dip = mean of months
    # 6..11 (the last 6 before the start) minus the mean of months 0..5, treated minus comparison
    rng = np.random.default_rng(2)
    v = rng.normal(10, 1, (7, 14))
    p = _panel(v, ["A", "A", "A", None, None, None, None], {"A": 12})
    e = cluster_effects_premean(panels={"ind": p}, pre=12, after=1, min_placebos=10**6).effects.iloc[0]
    d = v[:, 6:12].mean(1) - v[:, 0:6].mean(1)
    dt, dc = d[:3], d[3:]
    assert e["dip_value"] == pytest.approx(dt.mean() - dc.mean())
    var = dt.var(ddof=1) / 3 + dc.var(ddof=1) / 4
    assert e["dip_se"] == pytest.approx(np.sqrt(var))
    df = var ** 2 / ((dt.var(ddof=1) / 3) ** 2 / 2 + (dc.var(ddof=1) / 4) ** 2 / 3)
    assert e["dip_p_value"] == pytest.approx(2 * stats.t.sf(abs(e["dip_value"]) / np.sqrt(var), df))
    # shorter than 12 pre months: no dip check
    short = cluster_effects_premean(panels={"ind": p}, pre=8, after=1, min_placebos=10**6).effects.iloc[0]
    assert np.isnan(short["dip_value"]) and np.isnan(short["dip_p_value"])


def test_dip_check_has_its_size_and_flags_planted_dips():
    """No dip, strong cluster shocks: the dip check rejects about 5%; a large bad spell in the 6 months before
    the start is flagged far more often, in the right direction."""
    p_null, p_dip, sign = [], [], []
    for seed in range(3):
        panel, _ = _shocked(seed + 20)
        e = cluster_effects_premean(panels={"ind": panel}, pre=24, after=6).effects
        e = e[e["estimable"]]
        p_null += list(e["dip_p_value"])
        # plant a spell of +3 residual SDs in the 6 months before every cluster's start (the same data otherwise)
        v = panel.value.copy()
        for c, s in zip(panel.cluster_start["cluster_id"], panel.cluster_start["start_index"]):
            rows = np.array([x == c for x in panel.cluster_ids])
            v[rows, int(s) - 6:int(s)] += 3.0
        dipped = IndicatorPanel.from_array(v, list(panel.cluster_ids),
                                           dict(zip(panel.cluster_start["cluster_id"],
                                                    panel.cluster_start["start_index"].astype(int))))
        d = cluster_effects_premean(panels={"ind": dipped}, pre=24, after=6).effects
        d = d[d["estimable"]]
        p_dip += list(d["dip_p_value"])
        sign += list(np.sign(d["dip_value"]))
    p_null, p_dip = np.array(p_null), np.array(p_dip)
    assert np.isfinite(p_null).all() and len(p_null) >= 100
    assert 0.01 <= (p_null < 0.05).mean() <= 0.11, (p_null < 0.05).mean()
    assert (p_dip < 0.05).mean() >= 0.5, (p_dip < 0.05).mean()
    assert np.mean(np.array(sign)[p_dip < 0.05] > 0) == 1.0          # flagged as a spell upward, as planted
