"""Property tests: after disclosure control no small count can be read or recovered from published totals.

Oracle: an attacker's linear program. For every hidden cell, minimise and maximise its value subject to
every published line (parts sum to the total) and non-negativity (scipy.optimize.linprog, HiGHS); a
cell whose feasible interval is a single value is recovered. The tables are random and small, with
many counts in 1..threshold and many zeros.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from disclosure_oracle import assert_safe, lines_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluster_eval.disclosure import TOTAL, suppress_measures, suppress_table

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COUNT = st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 9, 15, 40])


@st.composite
def two_way(draw):
    rows, cols = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    cells = draw(st.lists(COUNT, min_size=rows * cols, max_size=rows * cols))
    return pd.DataFrame({"r": [f"r{i}" for i in range(rows) for _ in range(cols)],
                         "c": [f"c{j}" for _ in range(rows) for j in range(cols)], "n": cells})


@SETTINGS
@given(table=two_way(), threshold=st.integers(1, 5))
def test_two_way_table_with_margins_has_no_recoverable_cell(table, threshold):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = suppress_table(table, "n", dims=["r", "c"], margins="crossed", threshold=threshold)
    assert len(out) == (table.r.nunique() + 1) * (table.c.nunique() + 1)
    full = out.copy()
    raw = pd.Series(np.nan, index=full.index)
    # true values: interior from the input, margins as sums
    for i, row in full.iterrows():
        sel = table
        if row.r != TOTAL:
            sel = sel[sel.r == row.r]
        if row.c != TOTAL:
            sel = sel[sel.c == row.c]
        raw[i] = sel.n.sum()
    assert_safe(raw, full["n"], lines_of(full, ["r", "c"]), threshold)
    assert (full["suppressed"] == full["n"].isna()).all()


@st.composite
def practices(draw):
    n = draw(st.integers(2, 9))
    clusters = draw(st.lists(st.sampled_from(["K1", "K2", "K3", None]), min_size=n, max_size=n))
    den = draw(st.lists(st.sampled_from([0, 2, 4, 6, 10, 30, 80]), min_size=n, max_size=n))
    frac = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    num = [int(round(d * f)) for d, f in zip(den, frac)]
    return pd.DataFrame({"indicator_id": "copd_ics", "period": pd.Timestamp("2024-01-01"),
                         "cluster_id": clusters, "practice_id": [f"P{i}" for i in range(n)],
                         "numerator": num, "denominator": den})


@SETTINGS
@given(table=practices(), threshold=st.integers(1, 5))
def test_practices_within_clusters_have_no_recoverable_count(table, threshold):
    table["value"] = table.numerator / table.denominator.where(table.denominator > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = suppress_measures(table, threshold=threshold, totals=True)
    out = out.reset_index(drop=True)
    dims = ["cluster_id", "practice_id"]
    lines = lines_of(out, dims)
    for col in ("numerator", "denominator"):
        raw = pd.Series(np.nan, index=out.index)
        for i, row in out.iterrows():
            sel = table
            if row.practice_id != TOTAL:
                sel = sel[sel.practice_id == row.practice_id]
            elif row.cluster_id != TOTAL:
                sel = sel[(sel.cluster_id.isna() & pd.isna(row.cluster_id)) | (sel.cluster_id == row.cluster_id)]
            raw[i] = sel[col].sum()
        assert_safe(raw, out[col], lines, threshold)
    # the persons without the attribute (denominator - numerator) are protected along the same lines
    raw_num = pd.Series(np.nan, index=out.index)
    raw_den = pd.Series(np.nan, index=out.index)
    for i, row in out.iterrows():
        sel = table
        if row.practice_id != TOTAL:
            sel = sel[sel.practice_id == row.practice_id]
        elif row.cluster_id != TOTAL:
            sel = sel[(sel.cluster_id.isna() & pd.isna(row.cluster_id)) | (sel.cluster_id == row.cluster_id)]
        raw_num[i], raw_den[i] = sel["numerator"].sum(), sel["denominator"].sum()
    shown_diff = out["denominator"].astype("float64") - out["numerator"].astype("float64")
    assert_safe(raw_den - raw_num, shown_diff, lines, threshold)
    # the complement rule: no published pair whose difference is small
    both = out.dropna(subset=["numerator", "denominator"])
    diff = both.denominator.astype(float) - both.numerator.astype(float)
    assert not ((diff > 0) & (diff <= threshold)).any()
    # rates and proportions from hidden counts are hidden
    practice_rows = out[out.practice_id != TOTAL]
    hidden = practice_rows.numerator.isna() | practice_rows.denominator.isna()
    assert practice_rows.loc[hidden, "value"].isna().all()


@SETTINGS
@given(table=practices(), threshold=st.integers(1, 5))
def test_cluster_totals_published_elsewhere_do_not_reveal_a_practice(table, threshold):
    """One-way table whose cluster totals are published in another table (``groups``)."""
    table = table[table.cluster_id.notna()].reset_index(drop=True)
    if table.empty:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = suppress_table(table, "numerator", groups=["cluster_id"], threshold=threshold, complement=False)
    vals = out["numerator"].astype("float64")
    assert not ((vals > 0) & (vals <= threshold)).any()
    for _, g in out.groupby("cluster_id"):
        total = table.loc[g.index, "numerator"].sum()
        if total == 0 or total > threshold:  # the total is published
            assert g.numerator.isna().sum() != 1 or len(g) == 1
            if g.numerator.isna().any() and len(g) > 1:
                assert total - g.numerator.astype(float).sum() > threshold


# --- the two independent implementations agree: the audit finds nothing in ce.disclosure's output ---

@SETTINGS
@given(table=practices(), threshold=st.integers(1, 5))
def test_audit_passes_what_suppress_measures_wrote(table, threshold):
    from cluster_eval.audit import audit_frame

    table["value"] = table.numerator / table.denominator.where(table.denominator > 0)
    raw_found = audit_frame(table, "raw", threshold)
    raw = table[["numerator", "denominator"]].to_numpy(dtype=float)
    has_small = ((raw > 0) & (raw <= threshold)).any() or (
        ((table.denominator - table.numerator) > 0) & ((table.denominator - table.numerator) <= threshold)).any()
    assert bool(raw_found) == bool(has_small)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = suppress_measures(table, threshold=threshold, totals=True)
    assert audit_frame(out, "out", threshold) == []


@SETTINGS
@given(table=two_way(), threshold=st.integers(1, 5))
def test_audit_passes_what_suppress_table_wrote(table, threshold):
    from cluster_eval.audit import audit_frame

    out = suppress_table(table, "n", dims=["r", "c"], margins="crossed", threshold=threshold)
    assert audit_frame(out, "out", threshold) == []
    # and it catches the table with margins but without secondary suppression, when a line leaks
    from cluster_eval.disclosure import add_margins, suppress_counts

    primary = suppress_counts(add_margins(table, "n", ["r", "c"]), "n", threshold=threshold)
    leaks = any(len(p) and sum(pd.isna(primary.loc[p + [t], "n"])) == 1
                for p, t in lines_of(primary, ["r", "c"]))
    if leaks:
        assert any(f.rule == "recoverable from total" for f in audit_frame(primary, "p", threshold))


@SETTINGS
@given(table=practices(), threshold=st.integers(1, 5), data=st.data())
def test_audit_finds_a_small_count_planted_anywhere(table, threshold, data):
    from cluster_eval.audit import audit_frame

    out = suppress_measures(table, threshold=threshold).reset_index(drop=True)
    row = data.draw(st.integers(0, len(out) - 1))
    col = data.draw(st.sampled_from(["numerator", "denominator"]))
    value = data.draw(st.integers(1, threshold))
    out[col] = out[col].astype("Float64")
    out.loc[row, col] = value
    found = audit_frame(out, "t.parquet", threshold)
    assert any(f.location.startswith(f"row {row + 1} (") and f.location.endswith(f"column {col!r}")
               and f.rule == "small count" and f.value == value for f in found)
