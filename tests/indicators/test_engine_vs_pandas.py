"""The engine against an independent, straightforward pandas implementation, on small synthetic events.

The oracle (tests/indicators/conftest.py) works with dates, one period at a time, directly from the documented rules
(docs/events.md): listed on the period's last day and alive then; age in completed years on that day
with a birthday in the period's month reached; look-back windows of calendar months; the latest lab
value with a value (ties on a date: the highest); a dispensing in use for ceil(min(ddd, 365)) days.
The engine works on month-index intervals in SQL. They must agree exactly.
"""
from __future__ import annotations

import pandas as pd
import pytest

from cluster_eval.indicators import compute_measures, load_catalogue
from cluster_eval.synthetic import generate
from cluster_eval.synthetic.events import write_events


@pytest.fixture(scope="module")
def small_events(tmp_path_factory):
    folder = tmp_path_factory.mktemp("events")
    ds = generate("small", seed=3)
    ds.measures = ds.measures[ds.measures["practice_id"].isin(ds.practices["practice_id"].iloc[:40])]
    write_events(ds, folder / "parquet", seed=4, scale_factor=0.02)
    write_events(ds, folder / "csv", seed=4, scale_factor=0.02, fmt="csv")
    return folder


def test_engine_equals_pandas_oracle_exactly(small_events, oracle, engine):
    cat = load_catalogue()
    periods = pd.date_range("2019-01-01", "2022-12-01", freq="MS")[::5]
    got = compute_measures(small_events / "parquet", catalogue=cat, periods=list(periods), progress=False,
                           **engine)
    want = oracle(small_events / "parquet").measures(cat.values(), periods)
    assert len(want) > 1000 and want["numerator"].sum() > 0
    for k in cat:   # every indicator has some events in this sample
        assert want.loc[want["indicator_id"] == k, "numerator"].sum() > 0, k
    got = got.sort_values(["indicator_id", "practice_id", "period"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[want.columns].astype({"practice_id": str}), want, check_dtype=False)


def test_csv_and_parquet_inputs_give_the_same_measures(small_events, tmp_path):
    periods = ("2020-01-01", "2020-06-01")
    a = compute_measures(small_events / "parquet", out_dir=tmp_path, periods=periods, progress=False)
    b = compute_measures(small_events / "csv", periods=periods, progress=False)
    pd.testing.assert_frame_equal(a, b)
    written = pd.read_parquet(tmp_path / "measures.parquet")
    pd.testing.assert_frame_equal(written, a)
    assert list(a.columns) == ["indicator_id", "practice_id", "period", "numerator", "denominator"]
    assert a["period"].dt.day.eq(1).all()


def test_spark_equals_duckdb_exactly_and_writes_parquet_by_indicator(small_events, tmp_path, spark_session):
    """Same rows, values and dtypes from both engines, on Parquet and CSV input, for every default
    period; Spark's partitioned Parquet reads back (read_measures) as DuckDB's measures.parquet."""
    from cluster_eval.indicators import read_measures

    duck = compute_measures(small_events / "parquet", out_dir=tmp_path / "duck", progress=False)
    spark = compute_measures(small_events / "parquet", out_dir=tmp_path / "spark", progress=False,
                             engine="spark", spark=spark_session)
    assert len(duck) > 10_000
    pd.testing.assert_frame_equal(spark, duck)
    parts = sorted(p.name for p in (tmp_path / "spark" / "measures").iterdir() if p.is_dir())
    assert parts == sorted(f"indicator_id={k}" for k in load_catalogue())
    pd.testing.assert_frame_equal(read_measures(tmp_path / "spark"), read_measures(tmp_path / "duck" / "measures.parquet"))
    pd.testing.assert_frame_equal(read_measures(tmp_path / "spark" / "measures"), duck)
    periods = ("2020-01-01", "2020-06-01")
    csv = compute_measures(small_events / "csv", periods=periods, progress=False, engine="spark", spark=spark_session)
    pd.testing.assert_frame_equal(csv, duck[duck["period"].between(*periods)].reset_index(drop=True))
