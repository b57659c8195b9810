"""benchmarks(): deciles against numpy 'linear', percentile ranks against DuckDB's PERCENT_RANK()."""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.stats import benchmarks


def test_small_example_by_hand():
    res = benchmarks([1, 2, 3, 4, None, 2, 2, 5], list("abcdabcd"), [1, 1, 1, 1, 2, 2, 2, 2])
    wide = res.wide()
    # 10th percentile of 1, 2, 3, 4 with linear interpolation: 1 + 0.3 × 1 = 1.3
    assert wide.loc[1, "p10"] == pytest.approx(1.3)
    assert wide.loc[2, "p90"] == pytest.approx(2 + 0.8 * 3)  # 2, 2, 5: position 1.8
    ranks = res.ranks.set_index(["practice", "period"])["percentile"]
    assert ranks[("b", 1)] == pytest.approx(100 / 3)
    assert ranks[("b", 2)] == 0 and ranks[("c", 2)] == 0  # ties take the lowest rank
    assert np.isnan(ranks[("a", 2)])
    assert res.deciles.loc[res.deciles["period"] == 2, "n_practices"].iloc[0] == 3


def test_manchester_against_numpy_and_duckdb(shared):
    data = pd.read_csv(shared("data/real/manchester_practice_month_antibiotics_with_pcn.csv"))
    data = data.assign(value=data["antibiotic_items"] / data["star_pu"].where(data["star_pu"] > 0))
    res = benchmarks(data["value"], data["practice_id"], data["date"])
    for month, rows in data.groupby("date"):
        expected = np.percentile(rows["value"].dropna(), np.arange(10, 100, 10), method="linear")
        got = res.deciles.loc[res.deciles["period"] == month, "value"].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    ranked = duckdb.sql(
        "SELECT practice_id, date, PERCENT_RANK() OVER (PARTITION BY date ORDER BY value) * 100 AS pr "
        "FROM data WHERE value IS NOT NULL AND NOT isnan(value)").df()
    merged = res.ranks.merge(ranked, left_on=["practice", "period"], right_on=["practice_id", "date"])
    assert len(merged) == data["value"].notna().sum()
    np.testing.assert_allclose(merged["percentile"], merged["pr"], rtol=1e-12, atol=1e-12)


def test_duplicate_practice_period_is_refused():
    with pytest.raises(ArgumentError) as err:
        benchmarks([1, 2], ["a", "a"], ["2024-01", "2024-01"])
    assert str(err.value) == ("each practice may have one value per period; got a second value for "
                              "practice 'a' in period '2024-01'")


def test_percentiles_out_of_range_are_refused():
    with pytest.raises(ArgumentError) as err:
        benchmarks([1, 2], ["a", "b"], [1, 1], percentiles=[50, 150])
    assert str(err.value) == "percentiles must be between 0 and 100; got 150.0"
