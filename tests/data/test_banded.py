"""The rules of the banded measures (cluster_eval.data.banded), each with its message."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from cluster_eval.data.banded import validate_banded
from cluster_eval.errors import InputError

MEASURES = pd.DataFrame({
    "indicator_id": ["abx_rate", "abx_rate", "abx_penv_share"],
    "practice_id": ["P1", "P2", "P1"],
    "period": pd.to_datetime(["2020-01-01"] * 3),
    "numerator": [12.0, 0.0, 3.0],
    "denominator": [1000.0, 0.0, 12.0],
})
PRACTICES = pd.DataFrame({"practice_id": ["P1", "P2"]})
KINDS = {"abx_rate": "rate", "abx_penv_share": "proportion"}
GOOD = ("indicator_id,practice_id,period,sex,age_band,numerator,denominator\n"
        "abx_rate,P1,2020-01-01,F,0-39,5,600\n"
        "abx_rate,P1,2020-01-01,M,0-39,7,400\n")


def raw(text: str) -> pd.DataFrame:
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    df["__line__"] = [f"line {i + 2}" for i in range(len(df))]
    return df


def messages(text, measures=MEASURES) -> list[str]:
    with pytest.raises(InputError) as info:
        validate_banded(raw(text), measures, practices=PRACTICES, kinds=KINDS,
                        labels={"measures_banded": "measures_banded.csv", "measures": "measures.csv"})
    return [str(p) for p in info.value.problems]


def test_valid_table_is_typed():
    out = validate_banded(raw(GOOD), MEASURES, practices=PRACTICES, kinds=KINDS)
    assert out["period"].dtype.kind == "M" and out["numerator"].tolist() == [5.0, 7.0]
    assert "__line__" not in out


def test_sex_code():
    assert messages(GOOD.replace(",M,", ",X,")) == [
        "measures_banded.csv, column 'sex': sex must be F or M (got e.g. 'X') — 1 row (first: line 3)"]


def test_unknown_practice():
    text = GOOD + "abx_rate,P9,2020-01-01,F,0-39,0,10\n"
    msgs = messages(text)
    assert msgs[0] == ("measures_banded.csv, column 'practice_id': measures_banded for a practice not in "
                       "practices (e.g. 'P9') — 1 row (first: line 4)")


def test_bands_must_add_up_to_the_measures_row():
    assert messages(GOOD.replace(",7,400", ",8,400")) == [
        "measures_banded.csv, column 'numerator': the bands must add up to the measures row (abx_rate, P1, "
        "2020-01-01: numerator 13 summed over the bands, 12 in measures.csv) — 2 rows (first: line 2, line 3)"]
    assert "column 'denominator'" in messages(GOOD.replace(",7,400", ",7,401"))[0]


def test_banded_rows_need_a_measures_row():
    text = GOOD + "abx_rate,P2,2020-02-01,F,0-39,0,10\n"
    assert messages(text) == [
        "measures_banded.csv, column 'period': banded rows without a measures row for their indicator, practice "
        "and period (e.g. abx_rate, P2, 2020-02-01) — 1 row (first: line 4)"]


def test_partial_banding_of_an_indicator_is_refused():
    text = GOOD + "abx_penv_share,P1,2020-01-01,F,0-39,1,5\nabx_penv_share,P1,2020-01-01,M,0-39,2,7\n"
    ok = validate_banded(raw(text), MEASURES, practices=PRACTICES, kinds=KINDS)
    assert len(ok) == 4   # P2's abx_rate row has denominator 0: it needs no bands
    measures = pd.concat([MEASURES, MEASURES.iloc[[0]].assign(practice_id="P2",
                                                              period=pd.Timestamp("2020-02-01"))])
    assert messages(GOOD, measures) == [
        "measures.csv, column 'indicator_id': measures rows of a banded indicator without banded rows in "
        "measures_banded.csv (e.g. abx_rate, P2, 2020-02-01); band an indicator for every practice and period "
        "or not at all — 1 row (first: 4)"]


def test_numerator_above_denominator_in_a_proportion_band():
    text = GOOD + "abx_penv_share,P1,2020-01-01,F,0-39,3,2\nabx_penv_share,P1,2020-01-01,M,0-39,0,10\n"
    msgs = messages(text)
    assert msgs == [
        "measures_banded.csv, column 'numerator': numerator greater than denominator in a band of a proportion "
        "indicator (e.g. abx_penv_share, F 0-39: 3 > 2) — 1 row (first: line 4)"]


def test_contract_types_and_key():
    msgs = messages(GOOD + "abx_rate,P1,2020-01-01,M,0-39,7,400\n")
    assert msgs[0].startswith("measures_banded.csv, column 'age_band': duplicate rows for (indicator_id, "
                              "practice_id, period, sex, age_band)")
    assert messages(GOOD.replace(",600", ",-1"))[0].startswith(
        "measures_banded.csv, column 'denominator': count must not be negative")
    assert messages("indicator_id,practice_id,period,sex,numerator,denominator\n") == [
        "measures_banded.csv, column 'age_band': required column is missing"]
