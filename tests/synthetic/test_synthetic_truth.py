"""The synthetic truth: its table is consistent with the activities, and the data show its effects.

The oracle for "the data show the stated effect" is an independent difference-in-differences
computed here from the measures table alone: for a treated cluster with start month s and an
indicator with ramp R (full effect from event time R-1), the mean change of its practices' monthly
values from the 12 months before s to the 12 months from s+R-1 on, minus the same change in
practices not (yet) treated on the topic by the end of that window. Its expectation is the full
effect δ stated in truth.csv; its sampling error comes from the practice-level spread.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cluster_eval.synthetic.generator import simulate
from cluster_eval.synthetic.indicators_model import INDICATORS

RATES = {"abx_rate", "dep_opioid_users", "dep_benzo_users"}
LOWER_BETTER = {"abx_rate", "abx_quinolone_share", "copd_ics", "dep_opioid_users", "dep_benzo_users",
                "eld_polypharmacy", "eld_nsaid"}
RAMP = {s.id: s.model.ramp for s in INDICATORS}


def _wide(ds, indicator, shocks=None):
    """Values (P, T) of one indicator from the measures table (NaN where absent or denominator 0).

    ``shocks`` (the generator's diagnostics) removes the realised cluster and region shocks, whose
    expectation is 0 but which are shared by a cluster's practices (not practice-level noise).
    """
    m = ds.measures[ds.measures["indicator_id"] == indicator]
    pid = pd.Categorical(m["practice_id"], categories=ds.practices["practice_id"])
    periods = np.sort(ds.measures["period"].unique())
    t = np.searchsorted(periods, m["period"].to_numpy())
    den = m["denominator"].to_numpy()
    val = np.where(den > 0, m["numerator"].to_numpy() / np.where(den > 0, den, 1), np.nan)
    if indicator in RATES:
        val = val * 1000.0
    out = np.full((len(ds.practices), len(periods)), np.nan)
    out[pid.codes, t] = val
    if shocks is not None:
        out = out - shocks["shocks"][shocks["indicators"].index(indicator)]
    return out, pd.DatetimeIndex(periods)


def per_cluster_did(ds, indicator, placebo=False, diagnostics=None):
    """DataFrame cluster_id, did, se, effect (the truth's full effect) for clusters with full windows.

    ``placebo=True`` compares the 12 months before the start with the 12 months before those
    (no effect: the expected DiD is 0). ``diagnostics`` removes the realised shocks first (see ``_wide``).
    """
    topic = next(s.topic for s in INDICATORS if s.id == indicator)
    vals, periods = _wide(ds, indicator, diagnostics)
    ramp = RAMP[indicator]
    act = ds.activities[ds.activities["topic"] == topic].set_index("cluster_id")["start"]
    start_of = ds.practices["cluster_id"].map(act)
    start_idx = np.array([periods.get_loc(pd.Timestamp(s).to_period("M").to_timestamp()) if pd.notna(s)
                          and pd.Timestamp(s) <= periods[-1] else 10_000 for s in start_of])
    truth = ds.truth[(ds.truth["indicator_id"] == indicator) & (ds.truth["event_time"] == ramp - 1)]
    truth = truth.set_index("cluster_id")["effect"]
    rows = []
    for cid, st in act.items():
        s = periods.get_loc(pd.Timestamp(st).to_period("M").to_timestamp())
        pre, post = slice(s - 12, s), slice(s + ramp - 1, s + ramp + 11)
        if placebo:
            pre, post = slice(s - 24, s - 12), slice(s - 12, s)
        if pre.start < 0 or post.stop > len(periods):
            continue
        with warnings.catch_warnings():   # practices absent in a window: NaN, excluded below
            warnings.simplefilter("ignore", RuntimeWarning)
            diff = np.nanmean(vals[:, post], axis=1) - np.nanmean(vals[:, pre], axis=1)
        complete = ~np.isnan(vals[:, pre]).any(axis=1) & ~np.isnan(vals[:, post]).any(axis=1)
        treated = complete & ds.practices["cluster_id"].eq(cid).fillna(False).to_numpy(dtype=bool)
        control = complete & (start_idx >= post.stop)
        if treated.sum() < 3 or control.sum() < 20:
            continue
        did = diff[treated].mean() - diff[control].mean()
        se = np.sqrt(diff[treated].var(ddof=1) / treated.sum() + diff[control].var(ddof=1) / control.sum())
        rows.append((cid, did, se, 0.0 if placebo else truth[cid]))
    return pd.DataFrame(rows, columns=["cluster_id", "did", "se", "effect"])


def test_truth_rows_match_activities(denmark):
    ds, _ = denmark
    tr, act = ds.truth, ds.activities
    assert list(tr.columns) == ["cluster_id", "topic", "indicator_id", "start", "event_time", "effect", "sd_ratio",
                               "dip"]
    starts = act.assign(start=act["start"].dt.to_period("M").dt.to_timestamp())
    merged = tr.merge(starts[["cluster_id", "topic", "start"]], on=["cluster_id", "topic"], how="left",
                      suffixes=("", "_act"))
    assert (merged["start"] == merged["start_act"]).all()          # only topics taken up, same month
    last = ds.measures["period"].max()
    n_months = ((last.year - starts["start"].dt.year) * 12 + last.month - starts["start"].dt.month + 1)
    topic_ind = {s.topic: 0 for s in INDICATORS}
    for s in INDICATORS:
        topic_ind[s.topic] += 1
    expected_rows = (n_months * starts["topic"].map(topic_ind)).sum()
    assert len(tr) == expected_rows                                 # every event_time 0..last, no gaps
    assert tr.groupby(["cluster_id", "indicator_id"])["event_time"].min().eq(0).all()


def test_truth_direction_heterogeneity_and_ramp(denmark):
    ds, _ = denmark
    tr = ds.truth
    lower = tr["indicator_id"].isin(LOWER_BETTER)
    assert (tr.loc[lower, "effect"] <= 0).all() and (tr.loc[~lower, "effect"] >= 0).all()
    full = tr[tr["event_time"] == tr["indicator_id"].map(RAMP) - 1].set_index(["cluster_id", "indicator_id"])
    later = tr[tr["event_time"] >= tr["indicator_id"].map(RAMP) - 1]
    pd.testing.assert_series_equal(
        later.set_index(["cluster_id", "indicator_id"])["effect"].groupby(level=[0, 1]).agg("min"),
        full["effect"].groupby(level=[0, 1]).agg("min"), check_names=False)
    first = tr[tr["event_time"] == 0].set_index(["cluster_id", "indicator_id"])["effect"]
    ratio = (first / full["effect"]).dropna()
    np.testing.assert_allclose(ratio, 1.0 / first.index.get_level_values(1).map(RAMP).to_numpy()[
        np.isin(first.index, ratio.index)], rtol=1e-9)
    abx = full.xs("abx_rate", level="indicator_id")["effect"]
    assert (abx.abs() < 0.1).sum() >= 3                               # some clusters near zero
    assert abx.std() > 0.5                                           # heterogeneous


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clipping_never_binds(seed, denmark):
    diag = denmark[1] if seed == 0 else simulate("small", seed)[1]
    assert all(v == 0 for v in diag["clipped"].values()), diag["clipped"]


def test_levels_are_danish(denmark):
    ds, _ = denmark
    m = ds.measures[ds.measures["period"].dt.year == 2019]
    tot = m.groupby("indicator_id")[["numerator", "denominator"]].sum()
    value = tot["numerator"] / tot["denominator"]
    value[value.index.isin(RATES)] *= 1000
    bounds = {"abx_rate": (25, 35), "abx_penv_share": (0.55, 0.65), "abx_quinolone_share": (0.03, 0.05),
              "t2d_hba1c_measured": (0.84, 0.9), "t2d_hba1c_below59": (0.65, 0.75),
              "copd_spirometry": (0.5, 0.6), "copd_ics": (0.35, 0.45), "dep_opioid_users": (15, 25),
              "dep_benzo_users": (10, 15), "eld_polypharmacy": (0.17, 0.23), "eld_nsaid": (0.03, 0.05)}
    for k, (lo, hi) in bounds.items():
        assert lo <= value[k] <= hi, (k, value[k])
    den = ds.measures[ds.measures["period"] == pd.Timestamp("2019-06-01")].groupby("indicator_id")["denominator"].sum()
    assert 0.04 < den["t2d_hba1c_measured"] / den["abx_rate"] < 0.06
    assert 0.03 < den["copd_spirometry"] / den["abx_rate"] < 0.05
    assert 0.17 < den["eld_nsaid"] / den["abx_rate"] < 0.24


def test_antibiotics_peak_in_winter(denmark):
    ds, _ = denmark
    m = ds.measures[(ds.measures["indicator_id"] == "abx_rate") & (ds.measures["period"].dt.year.isin([2017, 2018]))]
    by_month = m.groupby(m["period"].dt.month)[["numerator", "denominator"]].sum()
    rate = by_month["numerator"] / by_month["denominator"] * 1000
    assert rate[[12, 1, 2]].mean() > 1.2 * rate[[6, 7, 8]].mean()


@pytest.mark.parametrize("indicator", [s.id for s in INDICATORS])
def test_did_recovers_truth(denmark, indicator):
    """Per-cluster DiD (independent oracle) agrees with truth.csv within sampling error.

    The oracle's standard error is practice-level, so the realised cluster and region shocks (shared by a
    cluster's practices, recorded in the diagnostics) are removed first; test_shocks_are_cluster_wide
    checks that they are there and sized as stated.
    """
    ds, diag = denmark
    res = per_cluster_did(ds, indicator, diagnostics=diag)
    assert len(res) >= 20
    z = (res["did"] - res["effect"]) / res["se"]
    n = len(z)
    # unbiased: mean z within 4 standard errors of 0; calibrated: robust SD of z near 1 (the se of a
    # cluster of 5-30 practices is itself noisy, so z has t-like tails: use the MAD, not the SD)
    assert abs(z.mean()) < 4 * max(z.std(), 1.0) / np.sqrt(n), (z.mean(), n)
    robust_sd = 1.4826 * np.median(np.abs(z - z.median()))
    assert 0.7 < robust_sd < 1.35, robust_sd
    assert np.corrcoef(res["did"], res["effect"])[0, 1] > 0.5      # the heterogeneity shows in the data
    # the pooled effect across clusters matches the pooled truth
    w = 1 / res["se"] ** 2
    pooled, pooled_truth = (w * res["did"]).sum() / w.sum(), (w * res["effect"]).sum() / w.sum()
    assert abs(pooled - pooled_truth) < 4 / np.sqrt(w.sum())


@pytest.mark.parametrize("indicator", ["abx_rate", "copd_spirometry", "t2d_hba1c_measured"])
def test_placebo_did_is_zero(denmark, indicator):
    """Before the start there is no effect: uptake follows levels, not trends (parallel trends hold)."""
    ds, diag = denmark
    res = per_cluster_did(ds, indicator, placebo=True, diagnostics=diag)
    assert len(res) >= 20
    z = res["did"] / res["se"]
    assert abs(z.mean()) < 4 * max(z.std(), 1.0) / np.sqrt(len(z)), z.mean()


def test_did_oracle_detects_a_wrong_truth(denmark):
    """The DiD check is not vacuous: doubling the stated effects makes it fail."""
    ds, diag = denmark
    res = per_cluster_did(ds, "abx_rate", diagnostics=diag)
    z = (res["did"] - 2 * res["effect"]) / res["se"]
    assert abs(z.mean()) > 4 * max(z.std(), 1.0) / np.sqrt(len(z))
