"""Spec tests of ce.disclosure: small literal tables, expected rows worked out by hand (comments say how)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cluster_eval as ce
from cluster_eval.disclosure import (
    MIN_COUNT,
    ROUND_TO,
    THRESHOLD,
    TOTAL,
    round_counts,
    suppress_counts,
    suppress_measures,
    suppress_table,
)
from cluster_eval.errors import ArgumentError


def shown(series) -> list:
    """Values as a list with None for hidden cells (easy to compare with hand-written lists)."""
    return [None if pd.isna(v) else v for v in series.astype(object)]


def test_constants():
    assert (MIN_COUNT, THRESHOLD, ROUND_TO) == (5, 4, 5)
    assert ce.disclosure.suppress_counts is suppress_counts


# --- primary suppression -----------------------------------------------------------------------

def test_suppress_counts_hides_one_to_four_and_keeps_zero():
    df = pd.DataFrame({"k": list("abcdef"), "n": [0, 1, 4, 5, 12, 3], "rate": [0.0, 0.1, 0.4, 0.5, 1.2, 0.3]})
    out = suppress_counts(df, "n", derived=["rate"])
    assert shown(out["n"]) == [0, None, None, 5, 12, None]
    assert str(out["n"].dtype) == "Int64"
    assert shown(out["rate"]) == [0.0, None, None, 0.5, 1.2, None]
    assert out["suppressed"].tolist() == [False, True, True, False, False, True]
    assert out["suppressed_reason"].tolist() == ["", "n below 5", "n below 5", "", "", "n below 5"]
    assert shown(df["n"]) == [0, 1, 4, 5, 12, 3]  # input untouched


def test_suppress_counts_threshold_is_configurable_and_missing_stays_missing():
    df = pd.DataFrame({"n": [1.0, 2.0, 9.0, np.nan, 10.0]})
    out = suppress_counts(df, ["n"], threshold=9)
    assert shown(out["n"]) == [None, None, None, None, 10.0]
    assert out["suppressed_reason"].tolist()[:3] == ["n below 10"] * 3
    assert out["suppressed"].tolist() == [True, True, True, False, False]  # missing input is not "suppressed"
    assert shown(suppress_counts(df, "n", threshold=1)["n"]) == [None, 2.0, 9.0, None, 10.0]


def test_round_counts_nearest_multiple_midpoint_up():
    # 5 * floor(x / 5 + 1/2): 2 -> 0, 2.5 -> 5 (midpoint up), 3 -> 5, 7 -> 5, 7.5 -> 10, 12 -> 10, 13 -> 15
    df = pd.DataFrame({"n": [0, 2, 2.5, 3, 7, 7.5, 12, 13, np.nan]})
    assert shown(round_counts(df, "n")["n"]) == [0, 0, 5, 5, 5, 10, 10, 15, None]
    assert shown(round_counts(pd.DataFrame({"n": [14, 15, 16]}), "n", base=10)["n"]) == [10, 20, 20]


# --- secondary suppression ---------------------------------------------------------------------

def practices_table(values, clusters):
    return pd.DataFrame({"cluster_id": clusters, "practice_id": [f"P{i}" for i in range(len(values))],
                         "numerator": values})


def test_group_total_published_elsewhere_gets_the_next_smallest_cell():
    # K1: 3 is small; with K1's total (70) published it would be 70 - 10 - 50 - 7 -> hide the next smallest, 7
    df = practices_table([3, 10, 7, 50, 20, 30], ["K1"] * 4 + ["K2"] * 2)
    out = suppress_table(df, "numerator", groups=["cluster_id"])
    assert shown(out["numerator"]) == [None, 10, None, 50, 20, 30]
    assert out["suppressed_reason"].tolist() == ["numerator below 5", "", "numerator hidden to protect a total",
                                                 "", "", ""]


def test_hidden_cells_that_add_up_to_a_small_count_get_another():
    # K1 = 1 + 2 + 0 + 40 + 60: hiding 1 and 2 leaves 103 - 0 - 40 - 60 = 3 readable; the next non-zero (40)
    # is hidden too (zeros are skipped: hiding 0 would not help)
    df = practices_table([1, 2, 0, 40, 60], ["K1"] * 5)
    out = suppress_table(df, "numerator", groups=["cluster_id"])
    assert shown(out["numerator"]) == [None, None, 0, None, 60]


def test_two_way_table_with_margins():
    # interior       row totals   Primary: r0/c0 = 3. Row r0 and column c0 then hold one hidden cell each:
    #   3 10 12       25          complements 10 (smallest in r0) and 8 (smallest in c0). Then column c1
    #   8  9 20       37          and row r1 hold one each; r1/c1 (9) lies in both and is hidden for both.
    #  15  6  7       28          Result: the 2x2 block r0-r1 x c0-c1; every margin published.
    # col totals 26 25 39, grand 90
    v = [[3, 10, 12], [8, 9, 20], [15, 6, 7]]
    df = pd.DataFrame([(f"r{i}", f"c{j}", v[i][j]) for i in range(3) for j in range(3)], columns=["r", "c", "n"])
    out = suppress_table(df, "n", dims=["r", "c"], margins="crossed")
    grid = out.pivot(index="r", columns="c", values="n")
    assert shown(grid.loc["r0"]) == [25, None, None, 12]  # columns: Total, c0, c1, c2
    assert shown(grid.loc["r1"]) == [37, None, None, 20]
    assert shown(grid.loc["r2"]) == [28, 15, 6, 7]
    assert shown(grid.loc[TOTAL]) == [90, 26, 25, 39]


def test_exact_check_breaks_a_bridge_between_two_hidden_blocks():
    # Found by a random search over 5x3 tables: with only the line rules, the cells
    # r1/c1 = 5 and r1/c2 = 8 are pinned by the margins (an attacker's LP gives [5, 5] and [8, 8]).
    from disclosure_oracle import attacker_intervals, lines_of

    v = [[8, 12, 1], [30, 5, 8], [0, 0, 2], [5, 30, 30], [8, 8, 12]]
    df = pd.DataFrame([(f"r{i}", f"c{j}", v[i][j]) for i in range(5) for j in range(3)], columns=["r", "c", "n"])
    for exact, pinned in ((False, True), ("auto", False)):
        out = suppress_table(df, "n", dims=["r", "c"], margins="crossed", exact=exact)
        iv = attacker_intervals(out["n"].astype("float64"), lines_of(out, ["r", "c"]))
        assert any(hi - lo < 0.5 for lo, hi in iv.values()) is pinned


def test_given_margins_are_used():
    # a margin row already in the table: 3 + 6 + 0 = 9. 3 is hidden, then 6 (the smallest non-zero left);
    # zero and the total (9 - 0 = 9 for two hidden cells) stay.
    df = pd.DataFrame({"g": ["a", "b", "c", TOTAL], "n": [3, 6, 0, 9]})
    assert shown(suppress_table(df, "n", dims=["g"])["n"]) == [None, None, 0, 9]
    # a small total is hidden like any other cell: 1 + 2 + 0 = 3
    df = pd.DataFrame({"g": ["a", "b", "c", TOTAL], "n": [1, 2, 0, 3]})
    assert shown(suppress_table(df, "n", dims=["g"])["n"]) == [None, None, 0, None]


def test_derived_values_and_rounding():
    df = practices_table([3, 10, 7, 50], ["K1"] * 4).set_index(pd.Index([10, 11, 12, 13]))
    df["value"] = df["numerator"] / 100
    out = suppress_table(df, "numerator", groups=["cluster_id"], derived=["value"], rounding=5)
    assert shown(out["numerator"]) == [None, 10, None, 50]
    assert shown(out["value"]) == [None, 0.1, None, 0.5]
    assert out.attrs["count_columns"] == ["numerator"]
    assert out.index.tolist() == [10, 11, 12, 13]


# --- measures ----------------------------------------------------------------------------------

def measures_table():
    # K1: P1 3/50 (small numerator), P2 40/90, P3 60/120; K2: P4 20/22 (22 - 20 = 2 persons without: the
    # complement rule), P5 30/60, P6 25/70; in no cluster: P7 2/30 (small numerator), P8 15/40
    return pd.DataFrame({
        "indicator_id": "copd_ics", "period": pd.Timestamp("2024-01-01"),
        "cluster_id": ["K1", "K1", "K1", "K2", "K2", "K2", None, None],
        "practice_id": ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"],
        "numerator": [3, 40, 60, 20, 30, 25, 2, 15], "denominator": [50, 90, 120, 22, 60, 70, 30, 40]})


def test_suppress_measures_practices_clusters_and_nation():
    m = measures_table()
    m["value"] = m.numerator / m.denominator
    out = suppress_measures(m)
    # K1: P1 hidden (3), complement in K1 is P2 (40, smallest). K2: P4's numerator hidden (22 - 20 = 2),
    # complement P6 (25). No cluster: P7 hidden (2), complement P8 (15).
    assert shown(out["numerator"]) == [None, None, 60, None, 30, None, None, None]
    assert shown(out["denominator"]) == [50, 90, 120, 22, 60, 70, 30, 40]
    assert out["value"].isna().tolist() == [True, True, False, True, False, True, True, True]
    assert out["suppressed_reason"].tolist() == [
        "numerator below 5", "numerator hidden to protect a total", "",
        "denominator - numerator below 5", "", "numerator hidden to protect a total",
        "numerator below 5", "numerator hidden to protect a total"]
    assert out["practice_id"].tolist() == m["practice_id"].tolist()


def test_suppress_measures_totals_are_returned_protected():
    out = suppress_measures(measures_table(), totals=True)
    tot = out[out.practice_id == TOTAL].set_index("cluster_id", drop=False)
    # cluster totals: K1 103/260, K2 75/152, none 17/70; nation 195/482 -- all published
    assert shown(tot["numerator"]) == [103, 75, 17, 195]
    assert shown(tot["denominator"]) == [260, 152, 70, 482]


# --- argument errors, word for word -------------------------------------------------------------

@pytest.mark.parametrize("threshold, text", [
    (0, "threshold must be a whole number of at least 1; got 0"),
    (2.5, "threshold must be a whole number of at least 1; got 2.5"),
    ("4", "threshold must be a whole number of at least 1; got '4'"),
    (True, "threshold must be a whole number of at least 1; got True"),
])
def test_bad_threshold(threshold, text):
    df = pd.DataFrame({"n": [1, 2]})
    for fn in (lambda: suppress_counts(df, "n", threshold=threshold),
               lambda: suppress_table(df, "n", threshold=threshold),
               lambda: suppress_measures(measures_table(), threshold=threshold)):
        with pytest.raises(ArgumentError) as err:
            fn()
        assert str(err.value) == text


def test_missing_columns():
    df = pd.DataFrame({"a": [1], "b": [2]})
    with pytest.raises(ArgumentError) as err:
        suppress_counts(df, "n")
    assert str(err.value) == "suppress_counts: column 'n' not found; the table has columns 'a', 'b'"
    with pytest.raises(ArgumentError) as err:
        suppress_table(df, ["a"], groups=["cluster"])
    assert str(err.value) == "suppress_table: column 'cluster' not found; the table has columns 'a', 'b'"
    with pytest.raises(ArgumentError) as err:
        suppress_measures(measures_table().drop(columns="cluster_id"))
    assert str(err.value) == ("suppress_measures: column 'cluster_id' not found; the table has columns "
                              "'indicator_id', 'period', 'practice_id', 'numerator', 'denominator'")
    with pytest.raises(ArgumentError) as err:
        round_counts(df, "n")
    assert str(err.value) == "round_counts: column 'n' not found; the table has columns 'a', 'b'"


def test_other_bad_arguments():
    df = pd.DataFrame({"g": ["a", "b"], "n": [1, -2]})
    with pytest.raises(ArgumentError) as err:
        suppress_counts(df, "n")
    assert str(err.value) == "column 'n' must not be negative; got -2.0 at position 1"
    with pytest.raises(ArgumentError) as err:
        suppress_table(df.assign(n=[1, 2]), "n", margins="rows")
    assert str(err.value) == "margins must be one of 'given', 'crossed', 'nested'; got 'rows'"
    with pytest.raises(ArgumentError) as err:
        suppress_table(df.assign(n=[1, 2]), "n", margins="crossed")
    assert str(err.value) == "suppress_table: margins='crossed' needs dims (the table's dimensions)"
    with pytest.raises(ArgumentError) as err:
        round_counts(df.assign(n=[1, 2]), "n", base=0)
    assert str(err.value) == "base must be a whole number of at least 1; got 0"
    with pytest.raises(ArgumentError) as err:
        suppress_table(df.assign(n=[1, 2], d=[3, 4]), "n", complement=("n", "d"))
    assert str(err.value) == ("suppress_table: complement must name two of the count columns (numerator, "
                              "denominator); got ('n', 'd')")
    two_totals = pd.DataFrame({"g": ["a", TOTAL, TOTAL], "n": [5, 5, 5]})
    with pytest.raises(ArgumentError) as err:
        suppress_table(two_totals, "n", dims=["g"])
    assert str(err.value) == "suppress_table: 2 rows are the 'Total' of one line along 'g'; each line needs one total row"


def test_docstring_examples():
    import doctest

    from cluster_eval.disclosure import measures

    result = doctest.testmod(measures, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0


def test_format_counts_and_the_audit_agree():
    from cluster_eval.audit import audit_html
    from cluster_eval.disclosure import SUPPRESSED_TEXT, format_counts

    out = suppress_counts(pd.DataFrame({"practice": ["A", "B", "C"], "patients": [1234, 3, 0]}), "patients")
    shown_df = format_counts(out, "patients")
    assert shown_df["patients"].tolist() == ["1,234", SUPPRESSED_TEXT, "0"]
    assert audit_html(shown_df.to_html(index=False), "t.html") == []
    assert len(audit_html(format_counts(pd.DataFrame({"patients": [3]}), "patients").to_html(), "t.html")) == 1


def test_totals_published_elsewhere_can_leak_and_a_warning_says_so():
    # K1 has one practice (3): its cluster total is 3 too. With K2's total (50) and the national total (53)
    # published elsewhere, K1 = 53 - 50 whatever this table hides: the exact check finds P1 determined,
    # hides everything it can, and warns.
    from cluster_eval.errors import ClusterEvalWarning

    df = pd.DataFrame({"cluster_id": ["K1", "K2", "K2"], "practice_id": ["P1", "P2", "P3"], "numerator": [3, 20, 30]})
    with pytest.warns(ClusterEvalWarning, match="could not be fully protected"):
        out = suppress_table(df, "numerator", groups=[["cluster_id"], []])
    assert shown(out["numerator"]) == [None, None, None]
    # protected together with its totals (suppress_measures, totals=True), K2's total is hidden as well:
    # P1 = K1 total, K1 + K2 = 53 (published), P2 + 30 = K2 -> P1 + P2 = 23, no single value
    m = df.assign(indicator_id="copd_ics", period=pd.Timestamp("2024-01-01"), denominator=100)
    tot = suppress_measures(m, complement=False, totals=True)
    assert shown(tot["numerator"]) == [None, None, 30, None, None, 53]
    assert tot["cluster_id"].tolist()[3:] == ["K1", "K2", TOTAL]
