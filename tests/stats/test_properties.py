"""Hypothesis: invariants of the indicator statistics."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster_eval.stats import dsr, funnel, funnel_limits, proportion_ci, rate_ci

SETTINGS = settings(max_examples=50, deadline=None)


@st.composite
def binomial_rows(draw, max_rows=12):
    n = draw(st.lists(st.integers(1, 100000), min_size=1, max_size=max_rows))
    x = [draw(st.integers(0, k)) for k in n]
    return np.array(x, float), np.array(n, float)


levels = st.sampled_from([0.8, 0.9, 0.95, 0.99, 0.998])


@SETTINGS
@given(binomial_rows(), levels, st.sampled_from(["wilson", "exact"]))
def test_proportion_bounds(rows, conf, method):
    x, n = rows
    out = proportion_ci(x, n, confidence=conf, method=method)
    tol = 1e-12
    assert (out["lower"] <= out["value"] + tol).all() and (out["value"] <= out["upper"] + tol).all()
    assert (out["lower"] >= -tol).all() and (out["upper"] <= 1 + tol).all()


@SETTINGS
@given(binomial_rows(), st.sampled_from([(0.95, 0.998), (0.9, 0.99)]))
def test_higher_confidence_is_wider(rows, confs):
    x, n = rows
    out = proportion_ci(x, n, confidence=confs)
    lo = out[out["confidence"] == confs[0]]
    hi = out[out["confidence"] == confs[1]]
    assert (hi["lower"].to_numpy() <= lo["lower"].to_numpy() + 1e-12).all()
    assert (hi["upper"].to_numpy() >= lo["upper"].to_numpy() - 1e-12).all()


@SETTINGS
@given(st.lists(st.integers(0, 5000), min_size=1, max_size=12), st.floats(1, 1e6), levels)
def test_rate_bounds(counts, den, conf):
    out = rate_ci(counts, den, confidence=conf, multiplier=1000)
    rel = 1e-9 * out["value"].abs()
    assert (out["lower"] <= out["value"] + rel).all() and (out["value"] <= out["upper"] + rel).all()
    assert (out["lower"] >= 0).all()
    assert set(out["method"]) <= {"exact", "byars"}
    assert (out.loc[out["count"] < 10, "method"] == "exact").all()


@SETTINGS
@given(binomial_rows(), st.randoms(use_true_random=False))
def test_proportion_row_order_independent(rows, rnd):
    x, n = rows
    perm = list(range(len(x)))
    rnd.shuffle(perm)
    a = proportion_ci(pd.Series(x), pd.Series(n), confidence=(0.95, 0.998))
    b = proportion_ci(pd.Series(x[perm], index=perm), pd.Series(n[perm], index=perm), confidence=(0.95, 0.998))
    key = ["confidence"]
    pd.testing.assert_frame_equal(a.reset_index().sort_values(["index", *key]).reset_index(drop=True),
                                  b.reset_index().sort_values(["index", *key]).reset_index(drop=True))


@SETTINGS
@given(st.floats(0.01, 0.99), st.integers(5, 2000), st.integers(2, 50), levels)
def test_interval_narrows_as_denominator_grows(p, n, k, conf):
    x = np.floor(p * n)
    small = proportion_ci(x, n, confidence=conf)
    large = proportion_ci(x * k, n * k, confidence=conf)
    assert (large["upper"] - large["lower"]).iloc[0] < (small["upper"] - small["lower"]).iloc[0]
    r_small = rate_ci(x, n, confidence=conf)
    r_large = rate_ci(x * k, n * k, confidence=conf)
    if x > 0:
        assert (r_large["upper"] - r_large["lower"]).iloc[0] < (r_small["upper"] - r_small["lower"]).iloc[0]


@SETTINGS
@given(st.floats(0.01, 0.99), st.sampled_from(["proportion", "ratio", "rate"]), levels)
def test_funnel_limits_narrow_with_denominator(target, statistic, conf):
    den = np.geomspace(5, 1e6, 60)
    t = target if statistic != "ratio" else 1 + target
    out = funnel_limits(t, den, statistic=statistic, confidence=conf)
    width = (out["upper"] - out["lower"]).to_numpy()
    assert np.all(np.diff(width) <= 1e-12)
    assert (out["lower"] <= out["target"] + 1e-12).all() and (out["target"] <= out["upper"] + 1e-12).all()


@SETTINGS
@given(binomial_rows(max_rows=30).filter(lambda r: len(r[0]) >= 4 and 0 < r[0].sum() < r[1].sum()),
       st.randoms(use_true_random=False), st.sampled_from([None, "multiplicative", "additive"]),
       st.sampled_from(["winsorise", "truncate"]))
def test_funnel_row_order_independent(rows, rnd, od, trim_method):
    x, n = rows
    ids = np.array([f"u{i}" for i in range(len(x))])
    perm = list(range(len(x)))
    rnd.shuffle(perm)
    a = funnel(x, n, ids, overdispersion=od, trim_method=trim_method)
    b = funnel(x[perm], n[perm], ids[perm], overdispersion=od, trim_method=trim_method)
    assert np.isclose(a.phi, b.phi, equal_nan=True) and np.isclose(a.tau2, b.tau2, equal_nan=True)
    ua = a.units.set_index("unit").sort_index()
    ub = b.units.set_index("unit").sort_index()
    pd.testing.assert_frame_equal(ua, ub)
    v = ua["value"]
    inside = ua["label"] == "inside"
    assert ((v[inside] >= ua.loc[inside, "lower_99_8"]) & (v[inside] <= ua.loc[inside, "upper_99_8"])).all()


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(1, 5000), st.integers(1, 9000)), min_size=2,
                max_size=10), st.randoms(use_true_random=False))
def test_dsr_row_order_independent(strata, rnd):
    rows = [(g, *s) for g in ("A", "B") for s in strata]
    frame = pd.DataFrame(rows, columns=["area", "count", "pop", "std"])
    a = dsr(frame["count"], frame["pop"], by=frame["area"], standard=frame["std"], confidence=(0.95, 0.998))
    shuffled = frame.sample(frac=1, random_state=rnd.randint(0, 10 ** 6)).reset_index(drop=True)
    b = dsr(shuffled["count"], shuffled["pop"], by=shuffled["area"], standard=shuffled["std"],
            confidence=(0.95, 0.998))
    key = ["area", "confidence"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                  b.sort_values(key).reset_index(drop=True), rtol=1e-12)
    ok = a["value"].notna()
    assert (a.loc[ok, "lower"] <= a.loc[ok, "value"]).all() and (a.loc[ok, "value"] <= a.loc[ok, "upper"]).all()
