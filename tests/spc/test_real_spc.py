"""benchmarks/real_spc.py: the fake starts' charts fit the 60 months; the charts' centre on the real data."""

import numpy as np
import pandas as pd
import pytest

DATA = "data/real/manchester_practice_month_antibiotics_with_pcn.csv"


@pytest.fixture(scope="module")
def rs(benchmark_script):
    return benchmark_script("real_spc")


@pytest.mark.parametrize("before,after,first,last", [(24, 24, 24, 36), (18, 18, 18, 42), (12, 12, 12, 48)])
def test_fake_starts_leave_the_whole_chart_in_60_months(rs, before, after, first, last):
    assert list(rs.admissible(60, before, after)) == list(range(first, last + 1))
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(400):
        s = np.array(list(rs.chart_starts(rng, [f"C{i}" for i in range(14)], 60, before, after).values()))
        assert len(s) == 7 and (s - before >= 0).all() and (s + after - 1 <= 59).all()
        seen |= set(s.tolist())
    assert seen == set(range(first, last + 1))


def test_charts_on_manchester(rs, shared):
    path = shared(DATA)
    panel, num, den = rs.load(path)
    raw = pd.read_csv(path)
    assert num.shape == (96, 60)
    np.testing.assert_allclose(np.nansum(num, axis=0), raw.groupby("date")["antibiotic_items"].sum().to_numpy())
    s = 24
    starts = dict.fromkeys(rs.clusters_of(panel), s)
    r = rs.charts(num, den, panel.cluster_ids, panel.periods, starts, 24, 24).set_index("cluster_id")
    assert len(r) == 14 and (r["reason"] == "").all()
    assert (r["n_baseline"] == 24).all() and (r["n_after"] == 24).all()       # the whole chart in the data
    # the frozen centre by hand: the PCN's items over the 24 baseline months / the items expected at the
    # nation's (all 96 practices') rate of each month (STAR-PU-0 months' items aside: at most 0.1 % here)
    months = sorted(raw["date"].unique())[s - 24:s]
    b = raw[raw["date"].isin(months) & (raw["star_pu"] > 0)]
    nat = b.groupby("date")["antibiotic_items"].sum() / b.groupby("date")["star_pu"].sum()
    for pcn in ("U78687", "U98408"):
        p = b[b["pcn_code"] == pcn]
        exp = (p.groupby("date")["star_pu"].sum() * nat).sum()
        assert r.loc[pcn, "centre"] == pytest.approx(p["antibiotic_items"].sum() / exp, rel=2e-3)
    assert set(r["reading"]) <= {"", "better", "worse"}
    assert (r["reading"] != "").equals(r["signal"].astype(bool))
