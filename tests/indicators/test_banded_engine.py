"""The banded measures from events (cluster_eval.indicators.banded): the bands partition each indicator's
persons and events, with age on the period's last day (hand-checked on the spec tests' tables)."""
from __future__ import annotations

import textwrap

import pandas as pd
import yaml
from test_spec import CAT_A, PERIODS_Q1, tables_a

from cluster_eval.data.banded import validate_banded
from cluster_eval.indicators import compute_measures
from cluster_eval.indicators.banded import banded_indicators, compute_banded_measures
from cluster_eval.indicators.catalogue import parse_catalogue


def write_tables(folder, tables):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(textwrap.dedent(text).strip() + "\n")
    return folder


def catalogue_from(text):
    return parse_catalogue(yaml.safe_load(textwrap.dedent(text)), source="test catalogue")

BANDS = (("0-39", 0, 39), ("40-64", 40, 64), ("65+", 65, None))


def test_bands_add_up_and_follow_age_on_the_last_day(tmp_path):
    folder = write_tables(tmp_path / "events", tables_a())
    cat = list(catalogue_from(CAT_A).values())
    m = compute_measures(folder, catalogue=cat, periods=PERIODS_Q1, progress=False)
    b = compute_banded_measures(folder, catalogue=cat, periods=PERIODS_Q1, progress=False,
                                indicators=["listed_n", "opioid_users", "young_women"], bands=BANDS,
                                out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "measures_banded.parquet").exists()
    # the contract's rules hold: bands add up to the measures rows
    raw = b.astype({"period": str}).astype(str)
    raw["period"] = pd.to_datetime(b["period"]).dt.strftime("%Y-%m-%d")
    validate_banded(raw, m[m["indicator_id"].isin(["listed_n", "opioid_users", "young_women"])])
    key = b.set_index(["indicator_id", "practice_id", "period", "sex", "age_band"])
    jan = pd.Timestamp("2024-01-01")
    # listed at A in January: 1 (F, 73), 2 (M, 64 until 10 Feb), 3 (M, 44), 4 (F, 33), 6 (F, 54)
    assert key.loc[("listed_n", "A", jan, "F", "65+"), "denominator"] == 1
    assert key.loc[("listed_n", "A", jan, "M", "40-64"), "denominator"] == 2
    assert key.loc[("listed_n", "A", jan, "F", "0-39"), "denominator"] == 1
    assert key.loc[("listed_n", "A", jan, "F", "40-64"), "denominator"] == 1
    # patient 1's J01 in January counts in her band
    assert key.loc[("listed_n", "A", jan, "F", "65+"), "numerator"] == 1
    # February: patient 2 turned 65 on 10 February
    feb = pd.Timestamp("2024-02-01")
    assert key.loc[("listed_n", "A", feb, "M", "65+"), "denominator"] == 1
    # the young-women population has no men and no 65+ band
    yw = b[b["indicator_id"] == "young_women"]
    assert set(yw["sex"]) == {"F"} and "65+" not in set(yw["age_band"])


def test_banded_indicator_ids_and_population_limits():
    cat = catalogue_from(CAT_A)
    derived = banded_indicators([cat["old_j01"]], BANDS)
    assert [d.id for d in derived] == ["old_j01@F@65+", "old_j01@M@65+"]
    assert derived[0].denominator.population.age_min == 65 and derived[0].denominator.population.sex == "F"
