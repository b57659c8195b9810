"""cluster_effects against att_gt (universal base period, one treated cluster) and hand calculations."""
import numpy as np
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.impact import att_gt, cluster_effects

IND = {"ind_a": {"topic": "abx", "multiplier": 1.0}}


def long_panel(prac, acts, meas):
    m = meas.merge(prac, on="practice_id")
    m["t"] = (m["period"].dt.year - 2020) * 12 + m["period"].dt.month  # 1-based month index
    start = acts.set_index("cluster_id")["start"]
    smonth = (start.dt.year - 2020) * 12 + start.dt.month
    m["g"] = m["cluster_id"].map(smonth).fillna(0).astype(float)
    m["value"] = m["numerator"] / m["denominator"]
    m["unit"] = m["practice_id"].str[1:].astype(int)
    return m


def test_matches_att_gt_for_a_lone_cluster(tiny):
    prac, acts, meas = tiny
    res = cluster_effects(meas, prac, acts, IND, before=6, after=6, small_sample=False)
    es = res.event_study
    m = long_panel(prac, acts, meas)
    for cid in ["C00", "C03"]:  # starts unique to that cluster
        g = m.loc[m["cluster_id"] == cid, "g"].iloc[0]
        # att_gt sees every cluster; pick its cells for the group of this cluster
        r = att_gt(m, "value", "t", "unit", "g", control_group="notyettreated", base_period="universal")
        cells = r.table[(r.table["group"] == g) & r.table["event_time"].between(-6, 6)]
        mine = es[es["cluster_id"] == cid].set_index("event_time").loc[cells["event_time"]]
        np.testing.assert_allclose(mine["value"], cells["value"], atol=1e-12)
        nz = cells["event_time"] != -1
        np.testing.assert_allclose(mine["se"][nz.to_numpy()], cells["se"][nz], rtol=1e-10)


def test_post_average_by_hand(tiny):
    prac, acts, meas = tiny
    res = cluster_effects(meas, prac, acts, IND, before=4, after=3, control_group="nevertreated")
    row = res.effects.set_index("cluster_id").loc["C01"]
    m = long_panel(prac, acts, meas)
    w = m.pivot(index="practice_id", columns="t", values="value")
    cl = prac.set_index("practice_id")["cluster_id"].reindex(w.index)
    s = 15  # C01 starts in month index 14 (0-based) = t 15
    effs = []
    for e in range(0, 4):
        d = w[s + e] - w[s - 1]
        effs.append(d[cl == "C01"].mean() - d[cl.isna()].mean())
    assert row["value"] == pytest.approx(np.mean(effs), abs=1e-12)
    assert row["lower"] < 0.05 < row["upper"] or abs(row["value"] - 0.05) < 4 * row["se"]
    # t quantiles with 8 - 1 = 7 df: t_0.975 = 2.364624, t_0.80 = 0.896029
    assert row["mde"] == pytest.approx((2.364624 + 0.896029) * row["se"], rel=1e-5)
    assert row["n_practices"] == 8 and row["estimable"]


def test_small_cluster_and_outside_window_are_flagged(tiny):
    prac, acts, meas = tiny
    small = prac[~prac["practice_id"].isin(prac[prac["cluster_id"] == "C02"]["practice_id"].iloc[2:])]
    res = cluster_effects(meas[meas["practice_id"].isin(small["practice_id"])], small, acts, IND)
    e = res.effects.set_index("cluster_id")
    assert not e.loc["C02", "estimable"] and "fewer than 3" in e.loc["C02", "reason"]
    assert np.isnan(e.loc["C02", "value"])
    assert not e.loc["C05", "estimable"] and "outside" in e.loc["C05", "reason"]  # starts after the data


def test_placebo_no_effect_calibrated(make_impact_tables):
    # parallel trends: the placebo tests should reject at about their level or less (loose: <= 20%)
    make_tables = make_impact_tables
    joint, avg, cover = [], [], []
    for seed in range(6):
        prac, acts, meas = make_tables(seed=seed, effect=0.03, months=30)
        e = cluster_effects(meas, prac, acts, IND, before=6, after=6).effects.dropna(subset=["value"])
        joint += list(e["placebo_p_value"].dropna())
        avg += list(e["pre_p_value"].dropna())
        cover += list((e["lower"] <= 0.03) & (0.03 <= e["upper"]))
    assert len(joint) >= 20
    assert np.mean(np.array(joint) < 0.05) <= 0.2
    assert np.mean(np.array(avg) < 0.05) <= 0.2
    assert np.mean(cover) >= 0.8


def test_errors(tiny):
    prac, acts, meas = tiny
    with pytest.raises(ArgumentError, match="weight must be one of"):
        cluster_effects(meas, prac, acts, IND, weight="n")
    with pytest.raises(ArgumentError, match="lacks column"):
        cluster_effects(meas.drop(columns="numerator"), prac, acts, IND)
    with pytest.raises(ArgumentError, match="lag must be"):
        cluster_effects(meas, prac, acts, IND, lag=-1)


def test_denominator_weights_and_display(tiny):
    prac, acts, meas = tiny
    a = cluster_effects(meas, prac, acts, IND, weight="denominator")
    b = cluster_effects(meas, prac, acts, IND)
    assert not np.allclose(a.effects["value"].dropna(), b.effects["value"].dropna())
    assert "Per-cluster" in a.summary() and "<table" in a._repr_html_()
    ci = a.conf_int(0.9)
    assert (ci["lower"].dropna() <= a.effects["value"].dropna()).all()


def test_for_cluster(tiny):
    prac, acts, meas = tiny
    res = cluster_effects(meas, prac, acts, IND, before=3, after=3)
    eff, es = res.for_cluster("C01")
    assert len(eff) == 1 and list(es["event_time"]) == list(range(-3, 4))
    assert es.loc[es["event_time"] == -1, "value"].iloc[0] == 0
