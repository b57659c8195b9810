"""ce.spc.qic reproduces qicharts2 v0.8.1's chart data and summaries.

Oracle: ../shared/data/reference/qicharts2/expected_*.csv, written by qicharts2 v0.8.1 (Jacob Anhøj;
GPL-3) for the calls listed in ../shared/data/reference/README.md, from Montgomery's textbook tables
(input_*.csv) and the Danish hospital_infections data (../shared/data/real/danish/). Centre lines and
limits must agree to 1e-9 relative; run statistics and signals exactly.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cluster_eval as ce

REF = "data/reference/qicharts2/"
HAI = "data/real/danish/hospital_infections.csv"



# expected file stem -> (input file, qic keyword arguments), transcribed from the README's R calls
CHART_CASES = {
    "ex_6.3_1": ("input_tbl_06.03.csv", dict(x="sample", y="obs", chart="xbar")),
    "ex_6.3_2": ("input_tbl_06.03.csv", dict(x="sample", y="obs", chart="s")),
    "ex_6.4_1": ("input_tbl_06.04.csv", dict(x="sample", y="obs", chart="xbar")),
    "ex_6.4_2": ("input_tbl_06.04.csv", dict(x="sample", y="obs", chart="s")),
    "ex_6.5_3": ("input_tbl_06.07.csv", dict(x="weeks", y="cost", chart="i", freeze=20)),
    "ex_6.5_4": ("input_tbl_06.07.csv", dict(x="weeks", y="cost", chart="mr", freeze=20)),
    "ex_7.1_5": ("input_tbl_07.03.csv", dict(x="sample", y="count", n="size", notes="note", chart="p",
                                             exclude=[15, 23], part=30)),
    "tbl_7.4_1": ("input_tbl_07.04.csv", dict(x="sample", y="count", n="size", chart="p")),
    "ex_7.3_3": ("input_tbl_07.08.csv", dict(x="sample", y="count", chart="c", exclude=[6, 20],
                                             freeze=26)),
    "ex_7.4_1": ("input_tbl_07.10.csv", dict(x="sample", y="count", n="size", chart="u")),
    "ex_7.5_1": ("input_tbl_07.11.csv", dict(x="roll", y="count", n="meters", chart="u", multiply=50)),
    "ex_7.6_1": ("input_tbl_07.14.csv", dict(x="failure", y="hours", chart="t")),
    "NA_test": ("input_NA_test.csv", dict(x="sample", y="obs", chart="xbar")),
}

LINES = ["y", "cl", "lcl", "ucl"]
EXACT = ["n.obs", "n.useful", "longest.run", "longest.run.max", "n.crossings", "n.crossings.min",
         "runs.signal", "sigma.signal", "part", "xx", "baseline", "include"]
AGGREGATES = ["x", "y.sum", "y.length", "y.mean", "y.sd", "n"]
SUMMARY = {"n.obs": "n_obs", "n.useful": "n_useful", "longest.run": "longest_run",
           "longest.run.max": "longest_run_max", "n.crossings": "n_crossings",
           "n.crossings.min": "n_crossings_min", "runs.signal": "runs_signal", "part": "part",
           "sigma.signal": "n_sigma_signals"}
SUMMARY_LINES = {"aLCL": "lcl_mean", "CL": "cl_mean", "aUCL": "ucl_mean"}


def _hai(shared):
    return pd.read_csv(shared(HAI), parse_dates=["month"])


def _hai_4(shared):
    # R: reorder(hospital, days) on subset(month >= '2016-07-01'): hospitals ordered by mean days
    h = _hai(shared)
    sub = h[h["month"] >= "2016-07-01"].copy()
    order = sub.groupby("hospital")["days"].mean().sort_values(kind="stable").index
    sub["hospital"] = pd.Categorical(sub["hospital"], categories=list(order), ordered=True)
    return ce.spc.qic("hospital", "n", "days", data=sub, chart="u", facets="infection", multiply=10000)


SUMMARY_CASES = {
    "hai_1": (lambda s: ce.spc.qic("month", "n", "days", data=_hai(s), chart="u"), []),
    "hai_2": (lambda s: ce.spc.qic("month", "n", "days", data=_hai(s), chart="u", facets="infection"),
              ["infection"]),
    "hai_3": (lambda s: ce.spc.qic("month", "n", "days", data=_hai(s), chart="u",
                                   facets=["hospital", "infection"]), ["hospital", "infection"]),
    "hai_4": (_hai_4, ["infection"]),
}


def test_every_expected_file_is_covered(shared):
    folder = shared(REF + "expected_ex_6.3_1.csv").parent
    stems = {p.stem.removeprefix("expected_") for p in folder.glob("expected_*.csv")}
    assert stems == set(CHART_CASES) | set(SUMMARY_CASES)


@pytest.mark.parametrize("stem", sorted(CHART_CASES))
def test_chart_data_matches_qicharts2(shared, stem):
    source, kwargs = CHART_CASES[stem]
    data = pd.read_csv(shared(REF + source))
    expected = pd.read_csv(shared(REF + f"expected_{stem}.csv"))
    got = ce.spc.qic(data=data, **kwargs)
    names = ce.spc.QICHARTS2_COLUMNS
    assert len(got) == len(expected)
    for col in LINES:
        np.testing.assert_allclose(got[names[col]].to_numpy(float), expected[col].to_numpy(float),
                                   rtol=1e-9, atol=0, equal_nan=True, err_msg=f"{stem}: {col}")
    for col in AGGREGATES:
        np.testing.assert_allclose(got[names[col]].to_numpy(float), expected[col].to_numpy(float),
                                   rtol=1e-9, atol=0, equal_nan=True, err_msg=f"{stem}: {col}")
    for col in EXACT:
        np.testing.assert_array_equal(got[names[col]].to_numpy(float), expected[col].to_numpy(float),
                                      err_msg=f"{stem}: {col}")


def test_notes_are_joined_per_subgroup(shared):
    source, kwargs = CHART_CASES["ex_7.1_5"]
    got = ce.spc.qic(data=pd.read_csv(shared(REF + source)), **kwargs)
    expected = pd.read_csv(shared(REF + "expected_ex_7.1_5.csv"))
    assert got["notes"].fillna("").tolist() == expected["notes"].astype(object).fillna("").tolist()
    assert got.loc[got["index"] == 15, "notes"].item() == "New material"


@pytest.mark.parametrize("stem", sorted(SUMMARY_CASES))
def test_summary_matches_qicharts2(shared, stem):
    make, facets = SUMMARY_CASES[stem]
    got = ce.spc.summary(make(shared))
    expected = pd.read_csv(shared(REF + f"expected_{stem}.csv"))
    assert len(got) == len(expected)
    for i, f in enumerate(facets, start=1):  # qicharts2 calls the facets facet1, facet2
        assert got[f].astype(str).tolist() == expected[f"facet{i}"].astype(str).tolist()
    for r, mine in SUMMARY.items():
        np.testing.assert_array_equal(got[mine].to_numpy(float), expected[r].to_numpy(float),
                                      err_msg=f"{stem}: {r}")
    for r, mine in SUMMARY_LINES.items():
        np.testing.assert_allclose(got[mine].to_numpy(float), expected[r].to_numpy(float), rtol=1e-9,
                                   atol=0, err_msg=f"{stem}: {r}")


def test_grouped_variant_equals_one_chart_per_group(shared):
    h = _hai(shared)
    grouped = ce.spc.qic_grouped(h, "month", "n", "days", by=["hospital", "infection"], chart="u")
    one = h[(h["hospital"] == "BOH") & (h["infection"] == "UTI")]
    single = ce.spc.qic("month", "n", "days", data=one, chart="u")
    mine = grouped[(grouped["hospital"] == "BOH") & (grouped["infection"] == "UTI")]
    cols = ["y", "cl", "lcl", "ucl", "longest_run", "n_crossings", "runs_signal", "sigma_signal"]
    pd.testing.assert_frame_equal(mine[cols].reset_index(drop=True), single[cols])
    assert grouped.attrs["facets"] == ["hospital", "infection"]
