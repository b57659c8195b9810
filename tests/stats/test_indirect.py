"""Indirect standardisation of banded counts (cluster_eval.stats.indirect) against PHEindicatormethods'
ISR test data and hand calculations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.stats.indirect import expected_counts, reference_rates, standardised_ratios

PHE = "data/reference/phe/"


def _phe_banded(shared):
    data = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testdata_multiarea_isr.csv"))
    banded = data.rename(columns={"area": "practice_id", "ageband": "age_band", "count": "numerator",
                                  "pop": "denominator"}).assign(sex="P")
    ref = data[data["area"] == data["area"].iloc[0]].rename(
        columns={"ageband": "age_band", "refcount": "numerator", "refpop": "denominator"}).assign(sex="P")
    return banded, reference_rates(ref, over=())


def test_expected_and_ratio_match_phe_isr(shared):
    """E = Σ pop_b · refcount_b / refpop_b; O/E and its limits as PHE's calculate_ISRatio (x 100)."""
    banded, ref = _phe_banded(shared)
    exp = pd.read_csv(shared(PHE + "testdata_DSR_ISR__testresults_ISR.csv"))
    exp = exp[(exp["statistic"] == "indirectly standardised ratio x 100")
              & exp["area"].str.startswith("testdata")].reset_index(drop=True)
    e = expected_counts(banded, by="practice_id", over=(), reference=ref)
    np.testing.assert_allclose(e["expected"], exp["expected"], rtol=1e-9)
    np.testing.assert_array_equal(e["observed"], exp["observed"])
    out = standardised_ratios(banded, by="practice_id", reference=ref, confidence=(0.95, 0.998),
                              multiplier=100)
    lo95 = out[out["confidence"] == 0.95]
    lo998 = out[out["confidence"] == 0.998]
    np.testing.assert_allclose(lo95["value"], exp["value"], rtol=1e-6)
    np.testing.assert_allclose(lo95["lower"], exp["lower95_0cl"], rtol=1e-6)
    np.testing.assert_allclose(lo95["upper"], exp["upper95_0cl"], rtol=1e-6)
    np.testing.assert_allclose(lo998["lower"], exp["lower99_8cl"], rtol=1e-6)
    np.testing.assert_allclose(lo998["upper"], exp["upper99_8cl"], rtol=1e-6)


def _toy():
    # two practices, two periods, two strata (young, old); hand-made counts
    return pd.DataFrame({
        "practice_id": ["A", "A", "B", "B"] * 2,
        "period": ["2020-01"] * 4 + ["2020-02"] * 4,
        "sex": ["F"] * 8,
        "age_band": ["young", "old"] * 4,
        "numerator": [1, 10, 3, 30, 2, 10, 2, 10],
        "denominator": [100, 100, 300, 300, 100, 50, 100, 50],
    })


def test_reference_rates_per_period_by_hand():
    r = reference_rates(_toy())
    # Jan: young 4/400, old 40/400; Feb: young 4/200, old 20/100
    np.testing.assert_allclose(r["reference_rate"], [0.1, 0.01, 0.2, 0.02])
    assert list(r["age_band"]) == ["old", "young", "old", "young"]


def test_expected_counts_per_period_and_pooled_by_hand():
    e = expected_counts(_toy())
    # A, Jan: 100·0.01 + 100·0.1 = 11;  A, Feb: 100·0.02 + 50·0.2 = 12
    # B, Jan: 300·0.01 + 300·0.1 = 33;  B, Feb: 100·0.02 + 50·0.2 = 12
    np.testing.assert_allclose(e["expected"], [11, 12, 33, 12])
    np.testing.assert_allclose(e["observed"], [11, 12, 33, 12])
    pooled = expected_counts(_toy(), by="practice_id", over=())
    # pooled rates: young 8/600, old 60/500
    np.testing.assert_allclose(pooled["expected"], [200 * 8 / 600 + 150 * 0.12, 400 * 8 / 600 + 350 * 0.12])
    assert pooled["expected"].sum() == pytest.approx(pooled["observed"].sum())


def test_case_mix_alone_gives_ratio_one():
    """A practice with the national band rates but an older list: crude rate high, O/E exactly 1."""
    d = pd.DataFrame({"practice_id": ["old", "old", "young", "young"], "sex": "M",
                      "age_band": ["0-39", "40+"] * 2, "numerator": [10, 200, 40, 100],
                      "denominator": [1000, 2000, 4000, 1000]})
    out = standardised_ratios(d, by="practice_id")
    np.testing.assert_allclose(out["value"], [1.0, 1.0])
    crude = d.groupby("practice_id")[["numerator", "denominator"]].sum()
    assert crude.loc["old", "numerator"] / crude.loc["old", "denominator"] > 2 * (
        crude.loc["young", "numerator"] / crude.loc["young", "denominator"])


def test_stratum_without_reference_rate_is_counted():
    d = _toy()
    ref = reference_rates(d[d["age_band"] == "young"], over=("period",))
    e = expected_counts(d, reference=ref)
    assert list(e["strata_without_rate"]) == [1, 1, 1, 1]
    np.testing.assert_allclose(e["expected"], [1, 2, 3, 2])


def test_messages():
    with pytest.raises(ArgumentError, match="banded measures: column 'age_band' not found"):
        expected_counts(_toy().drop(columns="age_band"))
    with pytest.raises(ArgumentError, match="by must name at least one column"):
        expected_counts(_toy(), by=())


def test_expected_from_bands_arrays_by_hand():
    """The array form on the toy data: (practice, period, stratum) arrays, strata (young, old)."""
    from cluster_eval.stats.indirect import expected_from_bands

    t = _toy()
    num = t["numerator"].to_numpy(float).reshape(2, 2, 2).transpose(1, 0, 2)   # rows: A/B within Jan, Feb
    den = t["denominator"].to_numpy(float).reshape(2, 2, 2).transpose(1, 0, 2)
    # each month its own rates (as test_expected_counts_per_period_and_pooled_by_hand)
    np.testing.assert_allclose(expected_from_bands(num, den), [[11, 12], [33, 12]])
    # rates pooled over the months: young 8/600, old 60/500; per practice-month
    e = expected_from_bands(num, den, pooled_axes=(1,))
    np.testing.assert_allclose(e.sum(axis=1), [200 * 8 / 600 + 150 * 0.12, 400 * 8 / 600 + 350 * 0.12])
    # a stratum without reference denominator gives no expected count; missing counts count as 0
    den2 = den.copy()
    den2[:, :, 1] = 0.0
    num2 = num.copy()
    num2[0, 0, 0] = np.nan
    np.testing.assert_allclose(expected_from_bands(num2, den2), [[100 * 3 / 400, 2], [300 * 3 / 400, 2]])
    with pytest.raises(ArgumentError, match="strata along the last axis"):
        expected_from_bands(num[..., 0], den)
    with pytest.raises(ArgumentError, match="strata axis"):
        expected_from_bands(num, den, pooled_axes=(2,))
