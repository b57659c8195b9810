"""The analyse stage's tables against the statistics packages, and the disclosure control of the trends.

Every statistic in the report comes from ``cluster_eval.spc`` / ``cluster_eval.stats`` / ``cluster_eval.impact``;
these tests check the wiring (centre lines, windows, units, multipliers, tau², confidence) by recomputing
table rows with the packages' public functions, and check the trends table's suppression with an attacker's
linear program over the published hierarchy nation > region > cluster.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

THRESHOLD = 4


@pytest.fixture(scope="module")
def analysis(small_data, params_for, tmp_path_factory):
    from cluster_eval.data import load_dataset
    from cluster_eval.report.analyse import Analysis
    from cluster_eval.report.config import load_params

    cfg = load_params(params_for(small_data, tmp_path_factory.mktemp("stats_run")))
    return Analysis(load_dataset(cfg.data_spec()), cfg)


@pytest.fixture(scope="module")
def trends(analysis):
    return analysis.trends_table()


@pytest.fixture(scope="module")
def clusters_only(analysis):
    """The whole small synthetic data (clusters in several regions) without the practices in no cluster: every
    region is its clusters, nothing unknown to the attacker."""
    import cluster_eval as ce
    from cluster_eval.report.analyse import Analysis

    ds = ce.synthetic.generate("small", seed=3)
    assert ds.clusters["region"].nunique() >= 2
    ds.practices = ds.practices[ds.practices["cluster_id"].notna()].reset_index(drop=True)
    ds.measures = ds.measures[ds.measures["practice_id"].isin(ds.practices["practice_id"])].reset_index(drop=True)
    return Analysis(ds, analysis.cfg)


def test_spc_is_relative_to_the_nation_with_a_frozen_baseline(analysis):
    # oracle: the cluster's O/E by hand (crude indicators: E = its denominator x the nation's value of the month)
    # and ce.spc.relative_charts' centre = Σ O / Σ E over the (up to) 24 months before the start
    spc = analysis.spc_table()
    assert len(spc) and {"signal", "shift_mean", "measure", "reason"} <= set(spc.columns)
    ind = analysis.ind.set_index("indicator_id")
    starts = analysis.activities.set_index(["cluster_id", "topic"])["exposed_from"]
    cl = analysis.practices["cluster_id"].reindex(analysis.pids).fillna("").astype(str).to_numpy()
    checked = 0
    for r in spc[(spc["reason"] == "") & (spc["measure"] == "crude O/E")].itertuples(index=False):
        num, den, _ = analysis.matrices(r.indicator_id)
        start = starts[(r.cluster_id, ind.loc[r.indicator_id, "topic"])]
        k0 = int(analysis.periods.searchsorted(start))
        pre = slice(max(0, k0 - 24), k0)
        mine = cl == r.cluster_id
        o = np.nansum(num[mine, pre], axis=0)
        e = np.nansum(den[mine, pre], axis=0) * np.nansum(num[:, pre], axis=0) / np.nansum(den[:, pre], axis=0)
        assert r.centre == pytest.approx(o.sum() / e.sum(), rel=1e-9)
        checked += 1
    assert checked >= 5
    # standardised where the data are banded
    assert set(spc.loc[spc["indicator_id"].isin(["abx_rate", "dep_opioid_users", "dep_benzo_users"]),
                       "measure"]) <= {"standardised O/E"}
    assert (spc["signal"] == spc["shift_mean"]).all()


def test_funnel_limits_use_tau2_of_the_same_window(analysis):
    # oracle: ce.stats.funnel (additive tau², on every practice of the nation over the row's own months) and
    # ce.stats.funnel_limits at that tau²
    from cluster_eval.report.descriptive import counts_by_indicator
    from cluster_eval.stats import funnel, funnel_limits
    from cluster_eval.stats.standing import window_counts

    fun, lim = analysis.funnel_tables()
    ind = analysis.ind.set_index("indicator_id")
    counts = counts_by_indicator(ind.index)
    row = fun.iloc[len(fun) // 2]
    iid = row["indicator_id"]
    win = slice(int(analysis.periods.get_loc(row["window_start"])), int(analysis.periods.get_loc(row["window_end"])) + 1)
    num, den, _ = analysis.matrices(iid)
    n, d, _ = window_counts(num[:, win], den[:, win], counts=counts[iid])
    ok = d > 0
    kind = ind.loc[iid, "kind"]
    tau2 = funnel(n[ok], d[ok], statistic="proportion" if kind == "proportion" else "rate",
                  overdispersion="additive").tau2
    assert row["tau2"] == pytest.approx(tau2, rel=1e-12, abs=1e-15)
    # windows differ: the tau² of different windows of one indicator are not all equal
    assert fun.groupby("indicator_id")["tau2"].nunique().max() > 1
    mult = float(ind.loc[iid, "multiplier"])
    ref = funnel_limits(row["target"] / mult, [row["denominator"]], statistic=kind, confidence=(0.95, 0.998),
                        multiplier=mult, overdispersion="additive" if tau2 > 0 else None, tau2=tau2)
    inside = ref["lower"].iloc[0] <= row["value"] <= ref["upper"].iloc[0]
    assert (row["position"] == "within 95% limits") == inside
    # the limit curves of a (cluster, indicator, phase) use the same tau²
    g = lim[(lim["cluster_id"] == row["cluster_id"]) & (lim["indicator_id"] == iid) & (lim["phase"] == row["phase"])]
    assert np.allclose(g["tau2"], row["tau2"])
    # words with the direction: outside 99.8% only, better/worse than expected
    assert set(fun["standing"]) <= {"", "better than expected", "worse than expected"}
    out = fun[fun["standing"] != ""]
    for r in out.itertuples(index=False):
        lower_better = ind.loc[r.indicator_id, "better"] == "lower"
        assert (r.standing == "better than expected") == (r.position.startswith("below") == lower_better)


def _expected_by_pandas(analysis, iid) -> pd.Series:
    """Oracle: practice-month expected counts from the banded table with pandas, each month's national
    sex/age-band rates (Σ numerator / Σ denominator over every practice), E = Σ_b d_b r_b."""
    b = analysis.ds.measures_banded
    b = b[b["indicator_id"] == iid].copy()
    b["period"] = pd.to_datetime(b["period"]).dt.to_period("M").dt.to_timestamp()
    nat = b.groupby(["period", "sex", "age_band"], observed=True)[["numerator", "denominator"]].sum()
    rate = (nat["numerator"] / nat["denominator"]).rename("rate")
    b = b.join(rate, on=["period", "sex", "age_band"])
    return (b["denominator"] * b["rate"].fillna(0)).groupby([b["practice_id"], b["period"]]).sum()


def test_funnel_standardised_where_banded(analysis):
    # oracle: E by pandas (each month's national band rates), ce.stats.funnel of O/E over the row's own months
    # for tau², ce.stats.funnel_limits (ratio) at the practice's E; value = O/E x the nation's crude value
    from cluster_eval.report.descriptive import counts_by_indicator
    from cluster_eval.stats import funnel, funnel_limits
    from cluster_eval.stats.standing import window_counts

    fun, lim = analysis.funnel_tables()
    std = fun[fun["standardised"].astype(bool)]
    assert len(std) and set(std["indicator_id"]) <= {"abx_rate", "dep_opioid_users", "dep_benzo_users"}
    assert not fun.loc[~fun["standardised"].astype(bool), "indicator_id"].isin(
        ["abx_rate", "dep_opioid_users", "dep_benzo_users"]).any()
    assert std["measure"].str.startswith("indirectly standardised for age and sex").all()
    assert fun.loc[~fun["standardised"].astype(bool), "measure"].str.startswith("crude").all()
    row = std.iloc[len(std) // 2]
    iid = row["indicator_id"]
    ind = analysis.ind.set_index("indicator_id")
    mult = float(ind.loc[iid, "multiplier"])
    win = slice(int(analysis.periods.get_loc(row["window_start"])), int(analysis.periods.get_loc(row["window_end"])) + 1)
    e_long = _expected_by_pandas(analysis, iid)
    num, den, _ = analysis.matrices(iid)
    e = np.zeros(num.shape)
    r = analysis.pids.get_indexer(e_long.index.get_level_values(0))
    c = analysis.periods.get_indexer(e_long.index.get_level_values(1))
    ok = (r >= 0) & (c >= 0)
    e[r[ok], c[ok]] = e_long.to_numpy()[ok]
    counts = counts_by_indicator([iid])[iid]
    o_w, d_w, _ = window_counts(num[:, win], den[:, win], counts=counts)
    e_w, _, _ = window_counts(e[:, win], den[:, win], counts=counts)
    have = (d_w > 0) & (e_w > 0)
    tau2 = funnel(o_w[have], e_w[have], statistic="ratio", overdispersion="additive").tau2
    assert row["tau2"] == pytest.approx(tau2, rel=1e-9, abs=1e-15)
    national = np.nansum(num[:, win]) / np.nansum(den[:, win])
    assert row["target"] == pytest.approx(national * mult)
    cl = analysis.practices["cluster_id"].reindex(analysis.pids).fillna("").astype(str).to_numpy()
    labels = analysis._labels()
    rows = [i for i in np.flatnonzero(cl == row["cluster_id"]) if labels[i] == row["practice"]]
    assert len(rows) == 1
    p = rows[0]
    assert row["expected"] == pytest.approx(e_w[p], rel=1e-9)
    assert row["value"] == pytest.approx(o_w[p] / e_w[p] * national * mult, rel=1e-9)
    ref = funnel_limits(1.0, [e_w[p]], statistic="ratio", confidence=(0.95, 0.998),
                        overdispersion="additive" if tau2 > 0 else None, tau2=tau2)
    ratio = o_w[p] / e_w[p]
    inside95 = ref["lower"].iloc[0] <= ratio <= ref["upper"].iloc[0]
    assert (row["position"] == "within 95% limits") == inside95
    # the limit curves are drawn against the expected count, with the same tau²
    g = lim[(lim["cluster_id"] == row["cluster_id"]) & (lim["indicator_id"] == iid) & (lim["phase"] == row["phase"])]
    assert g["standardised"].all() and np.allclose(g["tau2"], row["tau2"])
    at = funnel_limits(1.0, g["size"].to_numpy()[:1], statistic="ratio", confidence=0.998,
                       overdispersion="additive" if tau2 > 0 else None, tau2=tau2)
    assert g["upper998"].iloc[0] == pytest.approx(at["upper"].iloc[0] * national * mult, rel=1e-9)


def test_trends_standardised_where_banded(analysis, trends):
    # oracle: a cluster's month = Σ O / Σ E (pandas E, each month's national band rates) x the nation's crude
    # value of the month; the nation's own row is its crude value; crude indicators crude
    iid = "dep_benzo_users"
    e_long = _expected_by_pandas(analysis, iid).rename("expected").reset_index()
    m = analysis.measures[analysis.measures["indicator_id"] == iid].merge(e_long, on=["practice_id", "period"])
    m = m.join(analysis.practices[["cluster_id"]], on="practice_id")
    cid = sorted(m["cluster_id"].dropna().unique())[0]
    month = analysis.periods[len(analysis.periods) // 2]
    mine = m[(m["cluster_id"] == cid) & (m["period"] == month)]
    nat = m[m["period"] == month]
    mult = float(analysis.ind.set_index("indicator_id").loc[iid, "multiplier"])
    want = mine["numerator"].sum() / mine["expected"].sum() * nat["numerator"].sum() / nat["denominator"].sum() * mult
    t = trends.set_index(["level", "unit_id", "indicator_id", "period"])
    got = t.loc[("cluster", cid, iid, month)]
    assert got["value"] == pytest.approx(want, rel=1e-9)
    assert got["expected"] == pytest.approx(mine["expected"].sum(), rel=1e-9)
    assert bool(got["standardised"]) and got["measure"].startswith("indirectly standardised for age and sex")
    n = t.loc[("nation", "nation", iid, month)]
    assert n["value"] == pytest.approx(nat["numerator"].sum() / nat["denominator"].sum() * mult, rel=1e-9)
    crude = trends[trends["indicator_id"] == "copd_ics"]
    assert not crude["standardised"].any() and crude["measure"].str.startswith("crude").all()
    np.testing.assert_allclose(crude["value"], crude["numerator"] / crude["denominator"] * 100, rtol=1e-12)


def test_standing_is_a_cluster_funnel_of_the_same_window(analysis):
    # oracle: ce.stats.funnel (additive) on the clusters' counts of the last 12 months (crude indicators)
    from cluster_eval.stats import funnel

    st = analysis.standing_table()
    ind = analysis.ind.set_index("indicator_id")
    crude = st[~st["standardised"].astype(bool)]
    iid = crude["indicator_id"].iloc[0]
    g = crude[crude["indicator_id"] == iid]
    res = funnel(g["numerator"], g["denominator"], g["cluster_id"], statistic=ind.loc[iid, "kind"],
                 target=g["national"].iloc[0] / float(ind.loc[iid, "multiplier"]), overdispersion="additive",
                 confidence=(0.95, 0.998))
    mult = float(ind.loc[iid, "multiplier"])
    np.testing.assert_allclose(g["upper_99_8"], res.units["upper_99_8"] * mult, rtol=1e-10)
    np.testing.assert_allclose(g["lower"], res.units["lower_95"] * mult, rtol=1e-10)
    assert st["standardised"].astype(bool).any()
    assert set(st["standing"]) <= {"better than expected", "worse than expected", "as expected", "too few to say"}
    assert (st["window_end"] == analysis.periods[-1]).all()


def test_pooled_effects_are_ce_impact_pool(analysis):
    # oracle: ce.impact.pool (REML, checked against metafor) on the effects table's estimated rows
    from cluster_eval.impact import pool

    eff, es, _ = analysis.effect_tables()
    pooled, pes = analysis.pooled_tables(eff, es)
    assert len(pooled) and len(pes)
    r = pooled.iloc[0]
    g = eff[(eff["indicator_id"] == r["indicator_id"]) & (eff["status"] == "estimated") & eff["se"].gt(0)]
    ref = pool(g["estimate"], g["se"], method="REML").overall.iloc[0]
    assert r["estimate"] == pytest.approx(ref["value"], rel=1e-12)
    assert r["tau2"] == pytest.approx(ref["tau2"], rel=1e-12, abs=1e-15)
    assert r["k"] == len(g) >= 2


def test_a_failing_package_fails_the_analyse_stage_with_a_log_line(analysis, tmp_path, broken_estimator):
    from cluster_eval.errors import ArgumentError
    from cluster_eval.report import analyse as A

    lines = []
    with pytest.raises(ArgumentError, match="broken on purpose"):
        A.analyse(analysis.ds, analysis.cfg, tmp_path / "tables", log=lines.append)
    assert lines[-1] == broken_estimator
    assert not any("simple estimator" in x for x in lines)


def _attacker_range(cells: pd.DataFrame, col: str) -> dict:
    """{row: (min, max)} of each hidden cell of one stratum: region totals = their clusters plus the practices
    in no cluster, nation = regions, values >= 0. The practices in no cluster are never published: their
    total is an unknown of its own (column ``rest``: NaN), or 0 (known) in a region with no such practice."""
    v = cells[col].astype("float64")
    rest_rows = cells[(cells["level"] == "region") & cells["rest"].isna()]
    for r in rest_rows["region"]:  # an unknown part of that region: a variable of its own
        key = f"rest:{r}"
        v[key] = np.nan
        cells = pd.concat([cells, pd.DataFrame({"level": ["rest"], "region": [r], "rest": [0.0]}, index=[key])])
    hidden = list(v.index[v.isna()])
    if not hidden:
        return {}
    pos = {i: k for k, i in enumerate(hidden)}
    lines = [(list(g.index[g["level"].isin(["cluster", "rest"])]), g.index[g["level"] == "region"][0],
              np.nan_to_num(g.loc[g["level"] == "region", "rest"].iloc[0]))
             for _, g in cells[cells["level"] != "nation"].groupby("region")]
    lines.append((list(cells.index[cells["level"] == "region"]), cells.index[cells["level"] == "nation"][0], 0.0))
    a, b = [], []
    for parts, tot, rest in lines:
        row, rhs = np.zeros(len(hidden)), -float(rest)
        for i in parts:
            if i in pos:
                row[pos[i]] += 1
            else:
                rhs -= v[i]
        if tot in pos:
            row[pos[tot]] -= 1
        else:
            rhs += v[tot]
        if row.any():
            a.append(row)
            b.append(rhs)
    out = {}
    for i, k in pos.items():
        if isinstance(i, str):
            continue
        c = np.zeros(len(hidden))
        c[k] = 1
        lo = linprog(c, A_eq=np.array(a) if a else None, b_eq=np.array(b) if b else None, bounds=(0, None))
        hi = linprog(-c, A_eq=np.array(a) if a else None, b_eq=np.array(b) if b else None, bounds=(0, None))
        assert lo.status == 0, "the published lines must be consistent with the true values"
        out[i] = (lo.fun, -hi.fun if hi.status == 0 else np.inf)
    return out


@pytest.mark.parametrize("which", ["analysis", "clusters_only"])
def test_trends_hidden_cluster_counts_cannot_be_recovered_from_region_and_nation_rows(which, request):
    analysis = request.getfixturevalue(which)
    trends = analysis.trends_table()
    pub = analysis.trends_published(trends, THRESHOLD)
    assert len(pub) == len(trends)
    raw = trends.set_index(["level", "unit_id", "indicator_id", "period"])
    pub = pub.set_index(["level", "unit_id", "indicator_id", "period"]).loc[raw.index]
    hidden = pub["numerator"].isna() | pub["denominator"].isna()
    assert hidden.loc["cluster"].any(), "the test data must hide some cluster counts"
    # published counts are the true ones, none is small, derived values go with their counts
    for col in ("numerator", "denominator"):
        shown = pub[col].dropna().astype(float)
        assert (shown == raw.loc[shown.index, col]).all()
        assert not ((shown >= 1) & (shown <= THRESHOLD)).any()
    assert pub.loc[hidden, "value"].isna().all() and pub["suppressed"].eq(hidden).all()
    # the attacker: region total minus its published clusters (and the practices in no cluster), nation
    # minus published regions; no hidden cell may be pinned down, nor a small difference be published
    prac = analysis.practices
    region_of = prac.groupby("cluster_id")["region"].first()
    outside = set(prac.loc[prac["cluster_id"].isna(), "region"])
    cells = pub.reset_index()
    cells["region"] = np.where(cells["level"] == "cluster", cells["unit_id"].map(region_of), cells["unit_id"])
    strata = cells[cells["suppressed"]].groupby(["indicator_id", "period"]).size().index
    pinned = 0
    for iid, period in strata:
        s = cells[(cells["indicator_id"] == iid) & (cells["period"] == period)]
        for col in ("numerator", "denominator"):
            s = s.assign(rest=[np.nan if r in outside else 0.0 for r in s["region"]])
            for _, g in s[s["level"] != "nation"].groupby("region"):
                tot = g[g["level"] == "region"][col].iloc[0]
                parts = g[g["level"] == "cluster"][col]
                if pd.notna(tot) and parts.isna().any():
                    assert tot - np.nan_to_num(g["rest"].iloc[0]) - parts.sum() > THRESHOLD
            for i, (lo, hi) in _attacker_range(s, col).items():
                truth = raw.loc[tuple(s.loc[i, ["level", "unit_id", "indicator_id", "period"]]), col]
                assert lo <= truth <= hi
                pinned += hi - lo < 1 - 1e-7
    assert pinned == 0


def test_window_sums_covering_a_hidden_trends_month_are_hidden():
    """A window total minus its published months must not give back a month hidden in the trends."""
    from cluster_eval.report.tables import hide_windows_over_hidden_months

    months = pd.to_datetime(["2020-01-01", "2020-06-01", "2020-12-01", "2021-06-01"])
    df = pd.DataFrame({
        "cluster_id": ["K1", "K1", "K1", "K2"], "indicator_id": ["a", "a", "b", "a"],
        "window_start": [months[0], months[2], months[0], months[0]],
        "window_end": [months[1], months[3], months[1], months[1]],
        "numerator": [40.0, 50.0, 60.0, 70.0], "denominator": [400.0, 500.0, 600.0, 700.0],
        "value": [0.1, 0.1, 0.1, 0.1], "suppressed": [False] * 4, "suppressed_reason": [None] * 4})
    hidden = pd.DataFrame({"cluster_id": ["K1"], "indicator_id": ["a"], "period": [pd.Timestamp("2020-03-01")]})
    out = hide_windows_over_hidden_months(df, hidden, ["numerator", "denominator", "value"])
    # only K1/a's first window (Jan-Jun 2020) covers March 2020
    assert out["suppressed"].tolist() == [True, False, False, False]
    assert out.loc[0, ["numerator", "denominator", "value"]].isna().all()
    assert out.loc[1:, "numerator"].tolist() == [50.0, 60.0, 70.0]
    assert out.loc[0, "suppressed_reason"] == "window covers a month hidden in the trends"


def test_published_window_sums_never_cover_a_hidden_cluster_month(shared_run):
    out, status = shared_run
    trends = pd.read_parquet(out / "tables" / "trends.parquet")
    hidden = trends[(trends["level"] == "cluster") & trends["suppressed"].astype(bool)]
    for name in ("funnel", "standing"):
        t = pd.read_parquet(out / "tables" / f"{name}.parquet")
        shown = t[t["numerator"].notna()]
        m = shown.merge(hidden.rename(columns={"unit_id": "cluster_id"})[["cluster_id", "indicator_id", "period"]],
                        on=["cluster_id", "indicator_id"])
        assert not ((m["period"] >= m["window_start"]) & (m["period"] <= m["window_end"])).any(), name


def test_variation_trend_is_the_practices_cv_per_year(shared_run, small_data):
    """National CV of practice-year values, computed by hand from the input measures."""
    out, _ = shared_run
    vt = pd.read_parquet(out / "tables" / "variation_trend.parquet")
    m = pd.read_csv(small_data / "measures.csv", parse_dates=["period"])
    m = m[m["indicator_id"] == "abx_penv_share"]
    m["year"] = m["period"].dt.year
    g = m.groupby(["year", "practice_id"])[["numerator", "denominator"]].sum()
    g = g[g["denominator"] > 0]
    v = g["numerator"] / g["denominator"]
    cv = v.groupby(level="year").agg(lambda s: s.std(ddof=1) / s.mean())
    got = vt[vt["indicator_id"] == "abx_penv_share"].set_index("year")["cv"]
    cv.index = cv.index.astype("int64")
    pd.testing.assert_series_equal(got.sort_index(), cv.sort_index(), check_names=False, rtol=1e-12)
