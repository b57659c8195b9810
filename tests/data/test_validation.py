"""Every rule of the data contract, each with its own message (docs/data.md)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import cluster_eval as ce
from cluster_eval.cli import main
from cluster_eval.errors import ConfigError, InputError

VALID = {
    "practices": "practice_id,cluster_id,region,municipality\nP1,C1,Hovedstaden,København\n"
                 "P2,C1,Hovedstaden,København\nP3,,Sjælland,Køge\n",
    "clusters": "cluster_id,name,region\nC1,Klynge Nord,Hovedstaden\n",
    "activities": "cluster_id,topic,start,meetings\nC1,antibiotics,2020-03-12,4\n",
    "measures": "indicator_id,practice_id,period,numerator,denominator\n"
                "abx_penv_share,P1,2020-01-01,30,50\nabx_penv_share,P2,2020-01-01,0,0\n"
                "abx_rate,P3,2020-04-01,70,2500\n",
}


def write_folder(tmp_path: Path, **changes) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    for name, text in {**VALID, **changes}.items():
        if text is None:
            continue
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (folder / f"{name}.csv").write_bytes(data)
    return folder


def problems(tmp_path, **changes) -> list[str]:
    with pytest.raises(InputError) as info:
        ce.load_dataset(write_folder(tmp_path, **changes))
    return [str(p) for p in info.value.problems]


def test_valid_folder_loads_with_contract_types(tmp_path):
    ds = ce.load_dataset(write_folder(tmp_path))
    assert len(ds.practices) == 3 and pd.isna(ds.practices.loc[2, "cluster_id"])
    assert ds.measures["period"].dtype.kind == "M"
    assert ds.measures["numerator"].tolist() == [30.0, 0.0, 70.0]
    # a zero denominator is not an error: the row is kept, its value is missing downstream
    assert ds.measures["denominator"].iloc[1] == 0


def test_byte_order_mark_is_handled(tmp_path):
    ds = ce.load_dataset(write_folder(tmp_path, clusters=b"\xef\xbb\xbf" + VALID["clusters"].encode()))
    assert list(ds.clusters.columns) == ["cluster_id", "name", "region"]


def test_parquet_tables_load(tmp_path):
    folder = write_folder(tmp_path)
    df = pd.read_csv(folder / "measures.csv", parse_dates=["period"])
    df.to_parquet(folder / "measures.parquet")
    (folder / "measures.csv").unlink()
    ds = ce.load_dataset(folder)
    assert ds.measures["period"].iloc[2] == pd.Timestamp("2020-04-01")


def test_missing_table(tmp_path):
    msgs = problems(tmp_path, activities=None)
    assert len(msgs) == 1
    assert msgs[0].endswith("activities.csv: required table 'activities' is missing "
                            f"(looked for activities.csv or activities.parquet in {tmp_path / 'data'})")


def test_missing_required_column(tmp_path):
    msgs = problems(tmp_path, clusters="cluster_id,region\nC1,Hovedstaden\n")
    assert msgs == [f"{tmp_path / 'data' / 'clusters.csv'}, column 'name': required column is missing"]


def test_unparseable_number(tmp_path):
    bad = VALID["measures"].replace("30,50", "thirty,50")
    msgs = problems(tmp_path, measures=bad)
    assert msgs == [f"{tmp_path / 'data' / 'measures.csv'}, column 'numerator': value is not a number "
                    "(got e.g. 'thirty') — 1 row (first: line 2)"]


def test_unparseable_date(tmp_path):
    bad = VALID["activities"].replace("2020-03-12", "12/03/2020")
    msgs = problems(tmp_path, activities=bad)
    assert msgs == [f"{tmp_path / 'data' / 'activities.csv'}, column 'start': date cannot be parsed "
                    "(expected YYYY-MM-DD; got e.g. '12/03/2020') — 1 row (first: line 2)"]


def test_period_not_first_of_month(tmp_path):
    bad = VALID["measures"].replace("P1,2020-01-01", "P1,2020-01-15").replace("P3,2020-04-01", "P3,2020-04-30")
    msgs = problems(tmp_path, measures=bad)
    assert msgs == [f"{tmp_path / 'data' / 'measures.csv'}, column 'period': period must be the first day of a "
                    "month or quarter (got e.g. 2020-01-15) — 2 rows (first: line 2, line 4)"]


def test_negative_count(tmp_path):
    bad = VALID["measures"].replace("70,2500", "-3,2500")
    msgs = problems(tmp_path, measures=bad)
    assert msgs == [f"{tmp_path / 'data' / 'measures.csv'}, column 'numerator': count must not be negative "
                    "(got e.g. -3) — 1 row (first: line 4)"]


@pytest.mark.parametrize("value", ["1e400", "inf", "-inf"])
def test_non_finite_count_is_refused(tmp_path, value):
    bad = VALID["measures"].replace("70,2500", f"70,{value}")
    msgs = problems(tmp_path, measures=bad)
    assert msgs == [f"{tmp_path / 'data' / 'measures.csv'}, column 'denominator': value must be a finite number "
                    f"(got e.g. {value!r}) — 1 row (first: line 4)"]


def test_numerator_greater_than_denominator_for_a_proportion(tmp_path):
    bad = VALID["measures"].replace("30,50", "60,50")
    msgs = problems(tmp_path, measures=bad)
    assert msgs == [f"{tmp_path / 'data' / 'measures.csv'}, column 'numerator': numerator greater than "
                    "denominator for a proportion indicator (e.g. abx_penv_share: 60 > 50) — 1 row (first: line 2)"]


def test_numerator_above_denominator_allowed_for_a_rate(tmp_path):
    ok = VALID["measures"].replace("70,2500", "70,20")
    ce.load_dataset(write_folder(tmp_path, measures=ok))


def test_duplicate_measure_rows(tmp_path):
    bad = VALID["measures"] + "abx_penv_share,P1,2020-01-01,31,50\n"
    msgs = problems(tmp_path, measures=bad)
    assert msgs == [f"{tmp_path / 'data' / 'measures.csv'}, column 'period': duplicate rows for "
                    "(indicator_id, practice_id, period): each combination may appear once — 2 rows "
                    "(first: line 2, line 5)"]


def test_measures_for_unknown_practice(tmp_path):
    bad = VALID["measures"] + "abx_rate,P9,2020-04-01,1,100\n"
    msgs = problems(tmp_path, measures=bad)
    assert msgs == [f"{tmp_path / 'data' / 'measures.csv'}, column 'practice_id': measures for a practice not "
                    "in practices (e.g. 'P9') — 1 row (first: line 5)"]


def test_practice_cluster_not_in_clusters(tmp_path):
    bad = VALID["practices"].replace("P2,C1", "P2,C7")
    msgs = problems(tmp_path, practices=bad)
    assert msgs == [f"{tmp_path / 'data' / 'practices.csv'}, column 'cluster_id': practice's cluster is not in "
                    "clusters (e.g. 'C7') — 1 row (first: line 3)"]


def test_activity_for_unknown_cluster(tmp_path):
    bad = VALID["activities"] + "C5,copd,2021-01-01,2\n"
    msgs = problems(tmp_path, activities=bad)
    assert msgs == [f"{tmp_path / 'data' / 'activities.csv'}, column 'cluster_id': activity for a cluster not "
                    "in clusters (e.g. 'C5') — 1 row (first: line 3)"]


def test_activity_for_unknown_topic(tmp_path):
    bad = VALID["activities"] + "C1,dermatology,2021-01-01,2\n"
    msgs = problems(tmp_path, activities=bad)
    assert len(msgs) == 1
    assert msgs[0].startswith(f"{tmp_path / 'data' / 'activities.csv'}, column 'topic': activity for an unknown "
                              "topic (e.g. 'dermatology'; known topics: antibiotics, copd, ")
    assert msgs[0].endswith(") — 1 row (first: line 3)")


def test_empty_file(tmp_path):
    msgs = problems(tmp_path, clusters="")
    assert msgs == [f"{tmp_path / 'data' / 'clusters.csv'}: file is empty (no header, no rows)"]


def test_header_without_rows(tmp_path):
    msgs = problems(tmp_path, practices="practice_id,cluster_id,region\n")
    assert msgs == [f"{tmp_path / 'data' / 'practices.csv'}: file has a header but no data rows"]


def test_file_not_utf8(tmp_path):
    latin1 = VALID["practices"].encode("latin-1")  # 'ø' as a single byte
    msgs = problems(tmp_path, practices=latin1)
    assert msgs == [f"{tmp_path / 'data' / 'practices.csv'}: file is not UTF-8 text (byte 0xf8 at line 2); "
                    "save it as UTF-8 — 1 row (first: line 2)"]


def test_all_problems_reported_not_just_the_first(tmp_path):
    msgs = problems(tmp_path, clusters="", measures=VALID["measures"].replace("30,50", "x,50"),
                    activities=VALID["activities"].replace("2020-03-12", "2020-13-01"))
    assert len(msgs) == 3


def test_cli_validate_exit_status_and_no_traceback(tmp_path):
    folder = write_folder(tmp_path, measures=VALID["measures"].replace("30,50", "-1,50"), clusters="")
    proc = subprocess.run([sys.executable, "-m", "cluster_eval", "validate", str(folder)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "2 problems in the input data:" in proc.stderr
    assert "count must not be negative" in proc.stderr and "file is empty" in proc.stderr


def test_cli_validate_clean_folder(tmp_path, capsys):
    assert main(["validate", str(write_folder(tmp_path))]) == 0
    assert "valid" in capsys.readouterr().out


def test_cli_validate_missing_folder(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    assert f"data folder not found: {tmp_path / 'nowhere'}" in capsys.readouterr().err


def test_params_mapping_unknown_key_is_refused(tmp_path):
    params = {"data": {"folder": str(write_folder(tmp_path)), "tabels": {}}}
    with pytest.raises(ConfigError, match=r"unknown key 'tabels' in params 'data'; did you mean 'tables'\?"):
        ce.load_dataset(params)


def test_params_mapping_column_not_in_file(tmp_path):
    folder = write_folder(tmp_path)
    params = {"data": {"folder": str(folder), "tables": {"clusters": {
        "file": "clusters.csv", "columns": {"cluster_id": "cluster_id", "name": "navn", "region": "region"}}}}}
    with pytest.raises(InputError) as info:
        ce.load_dataset(params)
    assert str(info.value.problems[0]) == (f"{folder / 'clusters.csv'}, column 'navn' (mapped to contract column "
                                           "'name'): column named in the params mapping is not in the file")


def test_real_manchester_file_loads_through_params_mapping_alone(shared):
    shared("data/real/manchester_practice_month_antibiotics_with_pcn.csv")
    root = Path(__file__).resolve().parents[2]
    ds = ce.load_dataset(root / "params" / "examples" / "manchester.yaml")
    assert len(ds.practices) == 96 and len(ds.measures) == 5760
    assert ds.practices["cluster_id"].isna().sum() == 13          # practices with no PCN: in no cluster
    assert len(ds.clusters) == 14
    assert (ds.measures["denominator"] == 0).sum() == 341          # zero STAR-PU: kept, value missing
    assert ds.measures["period"].min() == pd.Timestamp("2014-10-01")
    assert ds.indicators["abx_items_per_starpu"]["kind"] == "rate"


def test_mapped_column_is_named_with_its_contract_column(tmp_path):
    folder = write_folder(tmp_path)
    (folder / "m.csv").write_text("ind,prac,month,num,den\nabx_rate,P1,2020-01-15,1,10\n")
    params = {"data": {"folder": str(folder), "tables": {"measures": {"file": "m.csv", "columns": {
        "indicator_id": "ind", "practice_id": "prac", "period": "month", "numerator": "num", "denominator": "den"}}}}}
    with pytest.raises(InputError) as info:
        ce.load_dataset(params)
    assert str(info.value.problems[0]) == (
        f"{folder / 'm.csv'}, column 'month' (contract column 'period'): period must be the first day of a "
        "month or quarter (got e.g. 2020-01-15) — 1 row (first: line 2)")


def test_params_file_not_yaml(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"^params file {bad} is not valid YAML: "):
        ce.load_dataset(bad)


def test_params_table_needs_file_or_rows(tmp_path):
    params = {"data": {"folder": str(write_folder(tmp_path)), "tables": {"clusters": {"columns": {}}}}}
    with pytest.raises(ConfigError) as info:
        ce.load_dataset(params)
    assert str(info.value) == ("params 'data.tables.clusters' needs 'file' (a file name) or 'rows' (inline rows)")


def test_params_indicator_kind_must_be_known(tmp_path):
    params = {"data": {"folder": str(write_folder(tmp_path)),
                       "indicators": {"x": {"kind": "ratio", "topic": "antibiotics"}}}}
    with pytest.raises(ConfigError) as info:
        ce.load_dataset(params)
    assert str(info.value) == "params 'data.indicators.x.kind' must be 'proportion' or 'rate'; got 'ratio'"


@pytest.mark.parametrize("better, tail", [("lowre", "; did you mean 'lower'?"), ("up", "; allowed: higher, lower, none")])
def test_params_indicator_better_must_be_a_direction(tmp_path, better, tail):
    folder = write_folder(tmp_path)
    params = {"data": {"folder": str(folder),
                       "indicators": {"x": {"kind": "rate", "topic": "antibiotics", "better": better}}}}
    with pytest.raises(ConfigError) as info:
        ce.load_dataset(params)
    assert str(info.value) == ("params 'data.indicators.x.better' must be 'lower', 'higher' or 'none' (none: no "
                               f"verdict words); got {better!r}" + tail)



def test_malformed_csv(tmp_path):
    msgs = problems(tmp_path, clusters='cluster_id,name,region\n"C1,Klynge,Hovedstaden\n')
    assert len(msgs) == 1
    assert msgs[0].startswith(f"{tmp_path / 'data' / 'clusters.csv'}: file is not valid CSV (")
