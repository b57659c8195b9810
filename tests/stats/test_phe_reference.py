"""Proportions, rates, DSR and ISR against PHEindicatormethods' own test data (v2.1.0, UKHSA, GPL-3).

The expected values are PHE's, read from ../shared/data/reference/phe/ (the R package compares with
tolerance ~1.5e-8); we require 1e-6 relative.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cluster_eval.stats import proportion_ci, rate_ci
from cluster_eval.stats.rates import byars_limits

RTOL = 1e-6
PHE = "data/reference/phe/"


def wide(out: pd.DataFrame, levels=(0.95, 0.998)) -> pd.DataFrame:
    """PHE's wide layout (lower95_0cl, upper95_0cl, lower99_8cl, upper99_8cl) from our long output."""
    cols = {}
    for c, tag in zip(levels, ("95_0", "99_8")):
        part = out[np.isclose(out["confidence"], c)].reset_index(drop=True)
        cols[f"lower{tag}cl"] = part["lower"]
        cols[f"upper{tag}cl"] = part["upper"]
        cols["value"] = part["value"]
    return pd.DataFrame(cols)


def assert_close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=RTOL,
                               equal_nan=True)


def test_proportion_wilson_95_and_998(shared):
    ref = pd.read_csv(shared(PHE + "testdata_Proportion__testdata_Prop.csv"))
    assert len(ref) == 19
    for mult, rows in ref.groupby("multiplier", sort=False):
        out = proportion_ci(rows["Numerator"], rows["Denominator"], confidence=(0.95, 0.998),
                            multiplier=mult)
        got = wide(out)
        for col in ("value", "lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl"):
            assert_close(got[col], rows[col])
        assert set(out["method"]) == {"wilson"}


def test_proportion_wilson_grouped(shared):
    ref = pd.read_csv(shared(PHE + "testdata_Proportion__testdata_Prop_g.csv"))
    out = proportion_ci(ref["Numerator"], ref["Denominator"], confidence=0.95)
    assert_close(out["value"], ref["value"])
    assert_close(out["lower"], ref["lowercl"])
    assert_close(out["upper"], ref["uppercl"])
    assert (out["confidence"] == 0.95).all()


def test_rate_exact_and_byars(shared):
    ref = pd.read_csv(shared(PHE + "testdata_Rate__testdata_Rate.csv"))
    assert len(ref) == 20
    for mult, rows in ref.groupby("multiplier", sort=False):
        out = rate_ci(rows["Numerator"], rows["Denominator"], confidence=(0.95, 0.998), multiplier=mult)
        got = wide(out)
        for col in ("value", "lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl"):
            assert_close(got[col], rows[col])
        methods = out[out["confidence"] == 0.95]["method"].to_numpy()
        expected = rows["method"].str.lower()
        for m, e in zip(methods, expected):
            assert (pd.isna(m) and pd.isna(e)) or m == e


def test_rate_grouped(shared):
    ref = pd.read_csv(shared(PHE + "testdata_Rate__testdata_Rate_g.csv"))
    out = rate_ci(ref["Numerator"], ref["Denominator"], multiplier=100000)
    assert_close(out["value"], ref["value"])
    assert_close(out["lower"], ref["lowercl"])
    assert_close(out["upper"], ref["uppercl"])


def test_byars_and_wilson_internals(shared):
    ref = pd.read_csv(shared(PHE + "testdata_Byars_Wilson__testdata_B_W.csv")).dropna(how="all")
    assert len(ref) == 13
    for _, row in ref.iterrows():
        conf = float(row["confidence"].rstrip("%")) / 100
        if row["method"] == "Byars":
            lo, hi = byars_limits(np.array([row["x"]]), conf)
        else:
            out = proportion_ci(row["x"], row["n"], confidence=conf)
            lo, hi = out["lower"].to_numpy(), out["upper"].to_numpy()
        # PHE leaves the x=1, 99.8% Byar's lower limit empty: the cube bracket is negative there.
        assert_close(lo, [row["lowercl"]])
        assert_close(hi, [row["uppercl"]])


def test_byars_published_example():
    # PHEindicatormethods testdata_Byars_Wilson (also quoted in the project design notes): Byar's at x = 65, 95% gives 50.16319 / 82.84914
    lo, hi = byars_limits(np.array([65.0]), 0.95)
    assert lo[0] == pytest.approx(50.16319, abs=5e-6)
    assert hi[0] == pytest.approx(82.84914, abs=5e-6)


# --- directly and indirectly standardised (testdata_DSR_ISR__*, testresults_DSR / testresults_ISR) ---

def _dsr_expected(shared, area, multiplier):
    ref = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testresults_DSR.csv"))
    stat = f"dsr per {multiplier}"
    return ref[(ref["area"] == area) & ref["statistic"].isin([stat, "dsr NA for total count < 10"])
               & (ref["method"] == "Dobson")]


@pytest.mark.parametrize("multiplier", [10000, 100000])
def test_dsr_multiarea_esp2013(shared, multiplier):
    from cluster_eval.stats import dsr
    from cluster_eval.stats.esp2013 import ESP2013
    data = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testdata_multiarea.csv"))
    # PHE's test data label the 55-59 band '55-69' (a typo in their sheet): match the standard by position.
    out = dsr(data["count"], data["pop"], by=data["area"], standard=np.tile(ESP2013.to_numpy(), 3),
              confidence=(0.95, 0.998), multiplier=multiplier)
    got = wide(out.assign(value=out["value"]))
    for i, area in enumerate(["testdata_big", "testdata_small", "testdata_tiny"]):
        exp = _dsr_expected(shared, area, multiplier).iloc[0]
        part = out[out["area"] == area]
        assert part["total_count"].iloc[0] == exp["total_count"]
        assert part["total_pop"].iloc[0] == exp["total_pop"]
        for col in ("value", "lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl"):
            assert_close([got[col].iloc[i]], [exp[col]])
    assert out.loc[out["area"] == "testdata_tiny", "note"].iloc[0] == "total count < 10"


def test_dsr_with_age_band_labels_matches_positional(shared):
    from cluster_eval.stats import dsr
    from cluster_eval.stats.esp2013 import AGE_BANDS
    data = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testdata_multiarea.csv"))
    data["age_band"] = np.tile(AGE_BANDS, 3)  # the correct labels, in PHE's row order
    out = dsr(data["count"], data["pop"], by=data["area"], age_band=data["age_band"])
    exp = _dsr_expected(shared, "testdata_big", 100000).iloc[0]
    assert_close(out["value"].iloc[[0]], [exp["value"]])
    assert_close(out["lower"].iloc[[0]], [exp["lower95_0cl"]])


def test_dsr_own_standard_1976(shared):
    from cluster_eval.stats import dsr
    data = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testdata_1976.csv")).dropna(how="all")
    out = dsr(data["count"], data["pop"], standard=data["esp1976"], multiplier=10000)
    exp = _dsr_expected(shared, "testdata_1976", 10000).iloc[0]
    # Only the value and the 95% limits: PHE's sheet holds 99.8% limits for this row that are ten
    # times too large (7659 < value < 9599 cannot bracket 859.2), an error in their spreadsheet.
    assert_close(out[["value", "lower", "upper"]].iloc[0], exp[["value", "lower95_0cl", "upper95_0cl"]])


@pytest.mark.parametrize(("statistic", "multiplier", "label"), [
    ("rate", 100000, "indirectly standardised rate per 100000"),
    ("rate", 1000, "indirectly standardised rate per 1000"),
    ("ratio", 1, "indirectly standardised ratio x 1"),
    ("ratio", 100, "indirectly standardised ratio x 100"),
])
def test_isr_multiarea(shared, statistic, multiplier, label):
    from cluster_eval.stats import isr
    data = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testdata_multiarea_isr.csv"))
    ref = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testresults_ISR.csv"))
    exp = ref[(ref["statistic"] == label) & ref["area"].str.startswith("testdata")].reset_index(drop=True)
    out = isr(data["count"], population=data["pop"], reference_count=data["refcount"],
              reference_population=data["refpop"], by=data["area"], confidence=(0.95, 0.998),
              multiplier=multiplier, statistic=statistic)
    got = wide(out)
    assert list(out["area"].unique()) == list(exp["area"])
    assert_close(out["observed"].iloc[::2], exp["observed"])
    assert_close(out["expected"].iloc[::2], exp["expected"])
    for col in ("value", "lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl"):
        assert_close(got[col], exp[col])
    assert list(out["method"].iloc[::2]) == [m.lower() for m in exp["method"]]


def test_isr_zero_population_stratum(shared):
    """PHE's Area1/Area2 rows: testdata_err2 (a zero population in one stratum) against refdata."""
    from cluster_eval.stats import isr
    data = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testdata_err2.csv"),
                       usecols=[0, 1, 2]).dropna(subset=["area"])
    refd = pd.read_csv(shared(PHE + "testdata_DSR_ISR__refdata.csv"))
    ref = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testresults_ISR.csv"))
    exp = ref[ref["area"].isin(["Area1", "Area2"])]
    rc = np.tile(refd["refcount"].to_numpy(), 2)
    rp = np.tile(refd["refpop"].to_numpy(), 2)
    for stat, mult, label in [("rate", 100000, "indirectly standardised rate per 100000"),
                              ("ratio", 100, "indirectly standardised ratio x 100")]:
        out = isr(data["count"], population=data["pop"], reference_count=rc, reference_population=rp,
                  by=data["area"], multiplier=mult, statistic=stat)
        e = exp[exp["statistic"] == label]
        assert_close(out["expected"], e["expected"])
        assert_close(out["value"], e["value"])
        assert_close(out["lower"], e["lower95_0cl"])
        assert_close(out["upper"], e["upper95_0cl"])


def test_dsr_non_independent_events(shared):
    """PHE's testdata_nonind_* rows: unique persons by event frequency (f1..f4) per age band."""
    from cluster_eval.stats import dsr
    from cluster_eval.stats.esp2013 import ESP2013
    data = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testdata_nonindepe.csv"))
    ref = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testresults_DSR.csv"))
    exp = ref[ref["method"] == "Dobson, with confidence adjusted for non-independent events"]
    freq = data[["f1", "f2", "f3", "f4"]]
    out = dsr(data["count"], data["pop"], by=data["area"], standard=np.tile(ESP2013.to_numpy(), 4),
              confidence=(0.95, 0.998), event_frequencies=freq)
    got = wide(out)
    assert list(out["area"].unique()) == list(exp["area"])
    assert_close(out["total_count"].iloc[::2], exp["total_count"])
    # PHE's sheet holds these results to 11-13 significant figures (e.g. 9532.9497786200009)
    for col in ("value", "lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl"):
        np.testing.assert_allclose(got[col], exp[col], rtol=1e-6, equal_nan=True)
    assert set(out["method"]) == {"dobson, non-independent events"}


def test_dsr_event_frequencies_must_add_up():
    from cluster_eval.errors import ArgumentError
    from cluster_eval.stats import dsr
    with pytest.raises(ArgumentError) as err:
        dsr([5, 4], [100, 100], standard=[1, 1], event_frequencies={"f1": [5, 2], "f2": [0, 0]})
    assert str(err.value) == ("count must equal the events implied by event_frequencies (Σ k × persons); "
                              "got count=4 but 2 events at position 1")
