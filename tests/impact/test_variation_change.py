"""variation_change: a hand check of the spread statistic and recovery of a built-in shrinkage."""
import numpy as np
import pandas as pd
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.impact import variation_change

IND = {"ind_v": "topic_v"}


def tables(shrink=0.5, seed=0, n_clusters=10, per=10, months=24, start=12):
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2021-01-01", periods=months, freq="MS")
    prac, meas = [], []
    for c in range(n_clusters):
        for j in range(per):
            pid = f"P{c:02d}{j:02d}"
            prac.append({"practice_id": pid, "cluster_id": f"C{c:02d}"})
            level = rng.normal(0, 0.05)
            for t in range(months):
                dev = level + rng.normal(0, 0.02)
                if c == 0 and t >= start:
                    dev *= shrink
                meas.append({"indicator_id": "ind_v", "practice_id": pid, "period": periods[t],
                             "numerator": round((0.5 + dev) * 10000), "denominator": 10000.0})
    acts = pd.DataFrame([{"cluster_id": "C00", "topic": "topic_v", "start": periods[start]},
                         {"cluster_id": "C01", "topic": "topic_v", "start": periods[-1] + pd.DateOffset(months=6)}])
    return pd.DataFrame(prac), acts, pd.DataFrame(meas)


def test_spread_by_hand():
    prac, acts, meas = tables()
    res = variation_change(meas, prac, acts, IND, before=6, after=6, statistic="log_sd").set_index("cluster_id")
    m = meas.merge(prac, on="practice_id")
    m["v"] = m["numerator"] / m["denominator"]
    sd = m.groupby(["cluster_id", "period"])["v"].std().unstack()
    periods = sorted(m["period"].unique())
    pre = np.log(sd[periods[6:12]]).mean(axis=1)
    post = np.log(sd[periods[12:19]]).mean(axis=1)
    ch = post - pre
    comp = ch.drop(["C00"])
    assert res.loc["C00", "change"] == pytest.approx(ch["C00"], abs=1e-12)
    assert res.loc["C00", "value"] == pytest.approx(ch["C00"] - comp.mean(), abs=1e-12)
    assert res.loc["C00", "se"] == pytest.approx(comp.std(ddof=1) * np.sqrt(1 + 1 / len(comp)), rel=1e-12)


def test_detects_shrinkage_and_not_otherwise():
    prac, acts, meas = tables(shrink=0.5)
    r = variation_change(meas, prac, acts, IND).set_index("cluster_id").loc["C00"]
    assert r["ratio"] == pytest.approx(0.5, abs=0.15) and r["ratio_upper"] < 1
    prac, acts, meas = tables(shrink=1.0, seed=3)
    r = variation_change(meas, prac, acts, IND).set_index("cluster_id").loc["C00"]
    assert r["ratio_lower"] < 1 < r["ratio_upper"]


def test_flags_and_errors():
    prac, acts, meas = tables()
    r = variation_change(meas, prac, acts, IND).set_index("cluster_id")
    assert not r.loc["C01", "estimable"] and "outside" in r.loc["C01", "reason"]
    with pytest.raises(ArgumentError, match="statistic must be one of"):
        variation_change(meas, prac, acts, IND, statistic="iqr")


def test_log_cv_is_the_default_and_ignores_a_proportional_fall_in_level():
    """A level that halves halves the SD (log_sd sees 'shrinkage') but leaves the CV (the default) unchanged."""
    prac, acts, meas = tables(shrink=1.0, seed=5)
    m = meas.merge(prac, on="practice_id")
    start = pd.Timestamp(acts.loc[0, "start"])
    halve = (m["cluster_id"] == "C00") & (m["period"] >= start)
    meas = meas.copy()
    meas.loc[halve.to_numpy(), "numerator"] = (meas.loc[halve.to_numpy(), "numerator"] / 2).round()
    cv = variation_change(meas, prac, acts, IND).set_index("cluster_id").loc["C00"]
    sd = variation_change(meas, prac, acts, IND, statistic="log_sd").set_index("cluster_id").loc["C00"]
    assert sd["ratio_upper"] < 0.7                                   # the SD halved with the level
    assert cv["ratio_lower"] < 1 < cv["ratio_upper"] and cv["ratio"] == pytest.approx(1, abs=0.1)
    # by hand: log(SD/mean) per cluster-month
    v = m.assign(v=m["numerator"] / m["denominator"])
    assert cv["method"].endswith("log_cv-vs-not-yet-treated-clusters") and np.isfinite(v["v"]).all()
