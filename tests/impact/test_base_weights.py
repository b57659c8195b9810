"""The weighted base (``pre="weighted"``): simplex weights by hand, the fitted weights on panels whose optimal
base is known, and the estimate against a hand-computed weighted difference."""
import numpy as np
import pandas as pd
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.impact import cluster_premean as cp
from cluster_eval.impact.cluster_premean import BASE_BLOCKS, cluster_effects_premean, simplex_weights
from cluster_eval.impact.panel import IndicatorPanel

_panel = IndicatorPanel.from_array     # practices x months array, clusters, {cluster: start index}


def _clusters(rng, n_clusters=60, never=30, months=110, first=75):
    sizes = rng.integers(4, 10, n_clusters)
    cl = list(np.repeat([f"C{i:02d}" for i in range(n_clusters)], sizes)) + [None] * never
    starts = {f"C{i:02d}": int(s) for i, s in enumerate(rng.integers(first, months - 8, n_clusters))}
    return cl, starts


def test_simplex_weights_by_hand():
    # independent blocks: inverse-variance weights, w_b = (1/d_b) / sum(1/d)
    np.testing.assert_allclose(simplex_weights(np.diag([1.0, 2.0, 4.0])), np.array([4, 2, 1]) / 7)
    # A = [[1, 1.5], [1.5, 4]]: the unconstrained optimum A^-1 1 / (1' A^-1 1) = (1.25, -0.25) is negative in
    # block 2; on the segment w = (1 - t, t) the objective's slope at t = 0 is -2 + 3 = 1 > 0: w = (1, 0)
    np.testing.assert_allclose(simplex_weights([[1.0, 1.5], [1.5, 4.0]]), [1.0, 0.0], atol=1e-12)
    # interior optimum with correlation: A = [[2, 1], [1, 3]] -> A^-1 1 ∝ (3 - 1, 2 - 1) = (2, 1) -> (2/3, 1/3)
    np.testing.assert_allclose(simplex_weights([[2.0, 1.0], [1.0, 3.0]]), [2 / 3, 1 / 3])
    w = simplex_weights(np.cov(np.random.default_rng(0).standard_normal((7, 40))))
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0)


def _fitted(res, n_pre=48, n_post=None):
    bw = res.base_weights
    n_post = bw["n_post"].max() if n_post is None else n_post
    bw = bw[(bw["n_pre"] == n_pre) & (bw["n_post"] == n_post)]
    return bw["weight"].to_numpy()


def test_white_noise_gives_the_plain_mean_and_a_random_walk_the_last_month():
    """Independent practice noise: every month is worth the same, so each block's weight is its share of the
    48 months. A random walk per practice: the month before the start is the best base (weight 1 on -1)."""
    rng = np.random.default_rng(11)
    cl, starts = _clusters(rng)
    months = 110
    sizes = np.array([hi - lo + 1 for lo, hi in BASE_BLOCKS], float)
    noise = rng.standard_normal((len(cl), months))
    res = cluster_effects_premean(panels={"ind": _panel(50 + noise, cl, starts)}, pre="weighted", after=6,
                                  event_study=False)
    w = _fitted(res)
    assert len(w) == len(BASE_BLOCKS) and (w >= 0).all() and w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w, sizes / 48, atol=0.12)
    walk = 50 + np.cumsum(rng.standard_normal((len(cl), months)), axis=1)
    res = cluster_effects_premean(panels={"ind": _panel(walk, cl, starts)}, pre="weighted", after=6,
                                  event_study=False)
    w = _fitted(res)
    assert w[0] > 0.97 and w.sum() == pytest.approx(1.0)
    e = res.effects[res.effects["estimable"]]
    assert e["base"].str.match(r"weighted mean of 48 months \(-1: (0\.9\d|1\.00); -3\.\.-2: 0\.0\d").all()


def test_fitted_weights_beat_the_plain_mean_on_the_placebos():
    """AR(0.9) practice deviations plus white noise: the fitted base has a smaller placebo mean square than the
    plain 48-month mean (the quantity it minimises), and puts more weight on recent months."""
    rng = np.random.default_rng(4)
    cl, starts = _clusters(rng)
    months = 110
    ar = np.zeros((len(cl), months))
    eps = rng.standard_normal((len(cl), months))
    for t in range(1, months):
        ar[:, t] = 0.9 * ar[:, t - 1] + np.sqrt(1 - 0.81) * eps[:, t]
    v = 50 + ar + rng.standard_normal((len(cl), months))
    p = _panel(v, cl, starts)
    res = cluster_effects_premean(panels={"ind": p}, pre="weighted", after=12, event_study=False)
    w = _fitted(res)
    codes, names = pd.factorize(pd.Series(p.cluster_ids, dtype=object), use_na_sentinel=True)
    groups = cp._Groups(codes, len(names))
    cs = np.array([starts[c] for c in names], float)
    ms = {}
    for name, bw in (("fitted", w), ("plain", None)):
        th, _, _ = cp._placebos(p, None, groups, cs, (48, 13), 3, 3, 3, event_study=False, base_w=bw)
        ms[name] = np.mean(th[:, 0] ** 2)
    assert ms["fitted"] < 0.95 * ms["plain"], ms
    per_month = w / np.array([hi - lo + 1 for lo, hi in cp._blocks_for(48)])
    assert per_month[0] > per_month[-1]


def test_weighted_estimate_is_the_hand_computed_weighted_difference():
    rng = np.random.default_rng(8)
    cl, starts = _clusters(rng, months=90, first=60)
    v = 50 + rng.standard_normal((len(cl), 90)) + 0.3 * rng.standard_normal((len(cl), 1))
    v[3, 20] = np.nan                                           # a missing month inside a block
    after = 6
    res = cluster_effects_premean(panels={"ind": _panel(v, cl, starts)}, pre="weighted", after=after)
    e = res.effects[res.effects["estimable"]].iloc[0]
    s = int(starts[e["cluster_id"]])
    n_pre = e["n_pre"]
    assert n_pre == 48
    w = _fitted(res, n_pre, e["n_post"])
    blocks = cp._blocks_for(n_pre)
    bm = np.column_stack([np.nanmean(v[:, s - hi:s - lo + 1], axis=1) for lo, hi in blocks])
    base = bm @ w
    d = np.nanmean(v[:, s:s + after + 1], axis=1) - base
    cla = np.array(cl, dtype=object)
    st = np.array([starts.get(c, np.inf) if c is not None else np.inf for c in cla], float)
    treated = cla == e["cluster_id"]
    control = ~treated & (st > s + after)
    assert e["value"] == pytest.approx(d[treated].mean() - d[control].mean())
    assert e["se_practice"] == pytest.approx(np.sqrt(d[treated].var(ddof=1) / treated.sum()
                                                     + d[control].var(ddof=1) / control.sum()))
    assert e["se_basis"] == "practice + cluster" and e["se"] > e["se_practice"] * 0.999
    # the event study uses the same base: Y_{s+e} - base
    es = res.event_study[(res.event_study["cluster_id"] == e["cluster_id"])].set_index("event_time")["value"]
    assert es.loc[2] == pytest.approx((v[treated, s + 2] - base[treated]).mean()
                                      - (v[control, s + 2] - base[control]).mean())
    # the pre-trend placebo stays the halves of the pre window
    pt = np.nanmean(v[:, s - 24:s], axis=1) - np.nanmean(v[:, s - 48:s - 24], axis=1)
    assert e["pre_value"] == pytest.approx(pt[treated].mean() - pt[control].mean())
    # every indicator and shape: non-negative weights summing to 1
    sums = res.base_weights.groupby(["indicator_id", "n_pre"])["weight"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    assert (res.base_weights["weight"] >= 0).all()
    assert "synthetic DiD" in res.settings["base"]


def test_bad_base_option_is_refused():
    rng = np.random.default_rng(1)
    cl, starts = _clusters(rng, n_clusters=5, never=5, months=30, first=20)
    p = _panel(rng.standard_normal((len(cl), 30)), cl, starts)
    with pytest.raises(ArgumentError, match=r'pre must be a whole number >= 2 or "auto" or "weighted"; '
                                            r"got 'weigthed'"):
        cluster_effects_premean(panels={"ind": p}, pre="weigthed")


def test_registered_estimator_routes_base_weighted():
    from cluster_eval.impact.cluster_premean import premean_placebo
    from cluster_eval.impact.estimators import EstimatorInput
    from cluster_eval.report.wording import Settings

    rng = np.random.default_rng(2)
    cl, starts = _clusters(rng, months=90, first=60)
    p = _panel(50 + rng.standard_normal((len(cl), 90)), cl, starts)
    out = premean_placebo(EstimatorInput(panels={"ind": p}, before=12, after=6, base="weighted")).effects
    ok = out["estimable"]
    assert out.loc[ok, "base"].str.startswith("weighted mean of").all()
    assert (out.loc[ok, "pre_months"] == 48).all()
    words = Settings(base="weighted").fill("mean over the {base} months before the start")
    assert "weighted mean" in words and "Arkhangelsky" in words
