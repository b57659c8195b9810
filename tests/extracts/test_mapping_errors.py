"""The params ``events:`` mapping: Danish CSV conventions read to exact values, and every mapping and
reading error with its message (file, column, rule, offending rows); the CLI exits 2 and writes nothing."""
from __future__ import annotations

import datetime as dt
import textwrap

import pandas as pd
import pytest

from cluster_eval.cli import main
from cluster_eval.errors import ConfigError, InputError
from cluster_eval.extracts import convert, load_extracts
from cluster_eval.extracts.expressions import parse_expression

PATIENTS = "PNR;KOEN;FOED_DAG\n0001;1;05-03-1950\n0002;2;31-12-1999\n"
LISTINGS = "PNR;PRAKSIS;FRA;TIL\n0001;Lægehuset Ærø;01-01-2010;\n0002;Åbyhøj;15-06-2015;31-12-2020\n"
PRESCRIPTIONS = "PNR;EKSD;ATC;APK;VOLUME\n0001;21915;J01CE02;2;3,5\n0002;22281;N02AA01;1;10\n"


def write(folder, name, text, encoding="cp1252"):
    (folder / name).write_bytes(textwrap.dedent(text).encode(encoding))
    return folder / name


@pytest.fixture
def extracts(tmp_path):
    d = tmp_path / "x"
    d.mkdir()
    write(d, "bef.csv", PATIENTS)
    write(d, "tilm.csv", LISTINGS)
    write(d, "lmdb.csv", PRESCRIPTIONS)
    return d


def params(folder, **over) -> dict:
    tables = {
        "patients": {"file": "bef.csv", "columns": {"patient_id": "PNR", "sex": "KOEN", "birth_date": "FOED_DAG"},
                     "values": {"sex": {1: "M", 2: "F"}}, "dates": "%d-%m-%Y"},
        "listings": {"file": "tilm.csv", "columns": {"patient_id": "PNR", "practice_id": "PRAKSIS",
                                                     "listed_from": "FRA", "listed_to": "TIL"}, "dates": "%d-%m-%Y"},
        "prescriptions": {"file": "lmdb.csv", "decimal": ",", "columns": {"patient_id": "PNR", "date": "EKSD",
                                                                           "atc": "ATC", "packages": "APK"},
                          "derived": {"ddd": "APK * VOLUME"}, "dates": "sas"},
    }
    for key, value in over.items():
        table, _, field = key.partition("__")
        if field:
            tables[table][field] = value
        elif value is None:
            tables.pop(table)
        else:
            tables[table] = value
    return {"events": {"folder": str(folder), "tables": tables}}


def test_danish_csv_reads_to_exact_values(extracts, tmp_path):
    res = convert(params(extracts), tmp_path / "out", progress=False)
    assert [(t.table, t.rows) for t in res.tables] == [("patients", 2), ("listings", 2), ("prescriptions", 2)]
    p = pd.read_parquet(tmp_path / "out" / "patients")
    assert p.to_dict("list") == {"patient_id": ["0001", "0002"], "sex": ["M", "F"],
                                 "birth_date": [dt.date(1950, 3, 5), dt.date(1999, 12, 31)]}
    li = pd.read_parquet(tmp_path / "out" / "listings")
    assert li["practice_id"].tolist() == ["Lægehuset Ærø", "Åbyhøj"]          # Windows-1252 æ/ø/å
    assert li["listed_to"].tolist()[1] == dt.date(2020, 12, 31) and li["listed_to"].isna().tolist()[0]
    rx = pd.read_parquet(tmp_path / "out" / "prescriptions")
    # EKSD 21915 = 2020-01-01 in SAS days; ddd = APK x VOLUME with a decimal comma: 2 x 3,5 = 7
    assert rx["date"].tolist() == [dt.date(2020, 1, 1), dt.date(2021, 1, 1)]
    assert rx["ddd"].tolist() == [7.0, 10.0] and rx["packages"].tolist() == [2.0, 1.0]


def _problems(p, tmp_path) -> str:
    with pytest.raises(InputError) as exc:
        convert(p, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()                  # nothing half-written
    return str(exc.value)


def test_bad_dates_numbers_and_values_name_file_column_rule_rows(extracts, tmp_path):
    write(extracts, "bef.csv", "PNR;KOEN;FOED_DAG\n0001;1;1950-03-05\n0002;3;31-12-1999\n0003;2;32-01-2000\n")
    write(extracts, "lmdb.csv", "PNR;EKSD;ATC;APK;VOLUME\n0001;21915;J01CE02;2;3.5\n0002;x;N02AA01;1;1\n")
    text = _problems(params(extracts), tmp_path)
    bef, lmdb = extracts / "bef.csv", extracts / "lmdb.csv"
    assert (f"{bef}, column 'FOED_DAG' (contract column 'birth_date'): not a date in the format dd-mm-yyyy "
            "(%d-%m-%Y) — 2 rows (first: line 2: '1950-03-05', line 4: '32-01-2000')") in text
    assert (f"{bef}, column 'KOEN' (contract column 'sex'): value not in the params value map (1 → M, 2 → F) "
            "— 1 row (first: line 3: '3')") in text
    assert (f"{lmdb}, column 'EKSD' (contract column 'date'): not a SAS date number (whole days since "
            "1960-01-01) — 1 row (first: line 3: 'x')") in text
    assert (f"{lmdb}, column 'VOLUME' (in derived column 'ddd'): not a number (decimal mark ',') — 1 row "
            "(first: line 2: '3.5')") in text


def test_missing_values_and_integer_ids(extracts, tmp_path):
    write(extracts, "bef.csv", "PNR;KOEN;FOED_DAG\n;1;05-03-1950\nA7;2;31-12-1999\n")
    p = params(extracts)
    p["events"]["patient_id"] = "integer"
    text = _problems(p, tmp_path)
    assert "column 'PNR' (contract column 'patient_id'): value is missing — 1 row (first: line 2: None)" in text
    assert ("column 'PNR' (contract column 'patient_id'): not a whole number (events.patient_id is integer) "
            "— 1 row (first: line 3: 'A7')") in text


def test_column_not_in_the_file_is_suggested(extracts, tmp_path):
    text = _problems(params(extracts, patients__columns={"patient_id": "pnr", "sex": "KOEN",
                                                         "birth_date": "FOED_DAG"}), tmp_path)
    assert (f"{extracts / 'bef.csv'}, column 'pnr' (contract column 'patient_id'): column named in the params "
            "mapping is not in the file; did you mean 'PNR'?") in text


def test_wrong_field_count_and_encoding(extracts, tmp_path):
    write(extracts, "tilm.csv", "PNR;PRAKSIS;FRA;TIL\n0001;P1;01-01-2010;\n0002;P2\n")
    text = _problems(params(extracts), tmp_path)
    assert "tilm.csv: row has the wrong number of fields (check sep and quote) — 1 row (first: " in text
    assert "'0002;P2' has 2 fields, the header 4" in text
    write(extracts, "tilm.csv", LISTINGS)
    text = _problems(params(extracts, listings__encoding="utf-8"), tmp_path)
    assert "tilm.csv: not utf-8 text (byte 0xe6 at line 2); declare its encoding (e.g. encoding: cp1252)" in text


def test_engine_contract_problems_name_the_extract(extracts, tmp_path):
    write(extracts, "lmdb.csv", "PNR;EKSD;ATC;APK;VOLUME\n0001;21915;J01 CE02;2;3,5\n0002;22281;N02AA01;1;-1\n")
    text = _problems(params(extracts), tmp_path)
    lmdb = extracts / "lmdb.csv"
    assert (f"{lmdb}, column 'ATC' (contract column 'atc'): not an ATC code (e.g. J01CE02) — 1 row "
            "(first: patient_id=0001: 'J01 CE02')") in text
    assert f"{lmdb}, column 'ddd': must not be negative — 1 row (first: patient_id=0002: -1.0)" in text


def test_a_number_without_a_date_format_is_refused(tmp_path):
    import pyreadstat

    d = tmp_path / "x"
    d.mkdir()
    pyreadstat.write_xport(pd.DataFrame({"PNR": ["0001", "0002"], "KOEN": [1.0, 2.0],
                                           "FOED_DAG": [-3000.0, 0.0]}), str(d / "bef.xpt"))
    write(d, "tilm.csv", LISTINGS)
    p = params(d, patients__file="bef.xpt", prescriptions=None)
    p["events"]["tables"]["patients"].pop("dates")
    text = _problems(p, tmp_path)
    assert ("bef.xpt, column 'FOED_DAG' (contract column 'birth_date'): is a number, not a date: declare its "
            "format under 'dates' (sas for SAS date numbers, or e.g. '%Y%m%d') — 2 rows (first: row 1: '-3000', "
            "row 2: '0')") in text
    p["events"]["tables"]["patients"]["dates"] = "sas"
    convert(p, tmp_path / "ok", progress=False)
    assert pd.read_parquet(tmp_path / "ok" / "patients")["birth_date"].tolist() == [dt.date(1951, 10, 15),
                                                                                    dt.date(1960, 1, 1)]


@pytest.mark.parametrize("over, message", [
    ({"patients": None}, "missing key 'patients' in params 'events.tables'"),
    ({"lab_test": {"file": "x.csv"}}, "unknown key 'lab_test' in params 'events.tables'; did you mean 'lab_tests'?"),
    ({"patients__colums": {}}, "unknown key 'colums' in params 'events.tables.patients'; did you mean 'columns'?"),
    ({"patients__columns": {"patient_id": "PNR", "sex": "KOEN", "birth_day": "FOED_DAG"}},
     "unknown key 'birth_day' in params 'events.tables.patients.columns' (engine columns of patients); "
     "did you mean 'birth_date'?"),
    ({"patients__columns": {"patient_id": "PNR", "sex": "KOEN"}},
     "params 'events.tables.patients': required engine column 'birth_date' of patients not mapped"),
    ({"patients__file": "nope.csv"}, "params 'events.tables.patients.file': file not found: "),
    ({"patients__files": ["bef.csv", "bef.csv"]}, "needs exactly one of 'file', 'files' or 'folder'; got file, files"),
    ({"patients__format": "sas"}, "params 'events.tables.patients.format' must be one of sas7bdat, xpt, dta, "
                                  "parquet, csv; got 'sas'"),
    ({"patients__encoding": "latin-9x"}, "params 'events.tables.patients.encoding': unknown text encoding 'latin-9x'"),
    ({"patients__decimal": ";"}, "params 'events.tables.patients.decimal' must be '.' or ','; got ';'"),
    ({"patients__dates": "dd-mm-yyyy"}, "params 'events.tables.patients.dates.birth_date' must be 'sas' (SAS date "
                                        "numbers: days since 1960-01-01) or a format such as '%d-%m-%Y'"),
    ({"patients__dates": {"sex": "sas"}}, "params 'events.tables.patients.dates.sex': not a date column mapped"),
    ({"patients__values": {"sex": "M"}}, "params 'events.tables.patients.values.sex' must map extract values to "
                                         "engine values; got 'M'"),
    ({"patients__values": {"birth_date": {1: 2}}}, "values.birth_date': value maps apply to text columns"),
    ({"patients__constant": {"sex": "F"}}, "engine column 'sex' is given by both 'columns' and 'constant'"),
    ({"patients__constant": {"death_date": "31-12-2020"}}, "constant.death_date' must be an ISO date (YYYY-MM-DD)"),
    ({"prescriptions__derived": {"ddd": "__import__('os').system('ls')"}},
     "params 'events.tables.prescriptions.derived.ddd': \"__import__('os').system('ls')\" contains"),
    ({"patients__derived": {"death_date": "FOED_DAG + 1"}}, "derived.death_date': only number columns (ddd, "
                                                                  "packages, value) can be derived"),
    ({"listings__pattern": "*.csv"}, "params 'events.tables.listings.pattern' applies only with 'folder'"),
    ({"diagnoses": {"parts": []}}, "params 'events.tables.diagnoses.parts' must be a non-empty list"),
    ({"patients__file": None, "patients__folder": "nowhere"}, "params 'events.tables.patients' needs exactly one"),
    ({"patients": {"folder": "nowhere", "columns": {}}}, "params 'events.tables.patients.folder': folder not found"),
    ({"patients": {"folder": ".", "pattern": "*.sas7bdat"}},
     "params 'events.tables.patients.folder': no files matching '*.sas7bdat' in"),
    ({"patients": {"folder": ".", "pattern": "*"}}, "the files have different formats (csv, dta); map each format"),
    ({"patients__columns": {"patient_id": 7, "sex": "KOEN", "birth_date": "FOED_DAG"}},
     "params 'events.tables.patients.columns.patient_id' must name a column of the extract; got 7"),
    ({"patients__constant": {"death_date": None}}, "params 'events.tables.patients.constant.death_date' must be one "
                                                   "value; got None"),
    ({"prescriptions__derived": {}, "prescriptions__constant": {"ddd": "two"}}, "constant.ddd' must be a number; "
                                                                              "got 'two'"),
    ({"patients__values": {"death_date": {1: 2}}}, "values.death_date': a value map applies to a column mapped under "
                                                   "'columns'"),
    ({"patients__dates": ["sas"]}, "params 'events.tables.patients.dates' must be a format ('%d-%m-%Y', 'sas') or map"),
    ({"patients__dates": "%d.%m.%Y %Z"}, "dates.birth_date': format '%d.%m.%Y %Z' uses %Z; use %d %m %Y"),
    ({"patients__columns": []}, "params 'events.tables.patients.columns' must map engine columns to values; got []"),
])
def test_mapping_errors(extracts, over, message):
    (extracts / "other.dta").write_bytes(b"x")
    if "patients__file" in over and over["patients__file"] is None:
        over = {k: v for k, v in over.items() if k != "patients__file"}
        over["patients"] = {"file": "bef.csv", "folder": "nowhere"}
    with pytest.raises(ConfigError) as exc:
        load_extracts(params(extracts, **over))
    assert message in str(exc.value)


def test_section_and_format_errors(extracts, tmp_path):
    with pytest.raises(ConfigError, match="params has no 'events' section"):
        load_extracts({"data": {}})
    with pytest.raises(ConfigError, match="unknown key 'tabels' in params 'events'; did you mean 'tables'"):
        load_extracts({"events": {"tabels": {}}})
    with pytest.raises(ConfigError, match="'events.patient_id' must be 'text' or 'integer'; got 'int'"):
        load_extracts({"events": {"patient_id": "int", "tables": {}}})
    (extracts / "bef.dat").write_text("x")
    with pytest.raises(ConfigError, match="cannot tell the format of bef.dat from its name; say format:"):
        load_extracts(params(extracts, patients__file="bef.dat"))


@pytest.mark.parametrize("text, message", [
    ("APK ** 2", "uses an operator that is not allowed (Pow); allowed: + - * / and parentheses"),
    ("APK * 'x'", "contains 'x'; only numbers and column names are allowed"),
    ("APK.real", "contains 'APK.real' (Attribute)"),
    ("APK *", "is not a valid expression"),
    ("", "must be an arithmetic expression over columns"),
    ("APK > 1", "contains 'APK > 1' (Compare)"),
])
def test_expression_grammar_refuses(text, message):
    with pytest.raises(ConfigError) as exc:
        parse_expression(text, "derived.ddd")
    assert message in str(exc.value)


def test_expression_arithmetic_and_division_by_zero(extracts, tmp_path):
    write(extracts, "lmdb.csv", "PNR;EKSD;ATC;APK;VOLUME\n0001;21915;J01CE02;4;3,5\n0002;22281;N02AA01;0;10\n")
    p = params(extracts, prescriptions__derived={"ddd": "-(1 - APK) * VOLUME / (APK / 2) + 0.5"})
    convert(p, tmp_path / "out", progress=False)
    rx = pd.read_parquet(tmp_path / "out" / "prescriptions")
    assert rx["ddd"].tolist()[0] == pytest.approx(3 * 3.5 / 2 + 0.5)        # hand: 5.75
    assert pd.isna(rx["ddd"].tolist()[1])                                   # divided by zero: missing


def test_cli_exit_2_without_traceback_and_nothing_written(extracts, tmp_path, capsys):
    write(extracts, "bef.csv", "PNR;KOEN;FOED_DAG\n0001;9;05-03-1950\n")
    import yaml
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params(extracts)))
    out = tmp_path / "out"
    assert main(["convert", str(tmp_path / "p.yaml"), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cluster-eval convert: 1 problem in the input data:" in err and "Traceback" not in err
    assert not out.exists()
    # an existing output folder keeps its earlier tables untouched
    write(extracts, "bef.csv", PATIENTS)
    assert main(["convert", str(tmp_path / "p.yaml"), "--out", str(out), "--quiet"]) == 0
    before = sorted(p.name for p in out.rglob("*"))
    write(extracts, "bef.csv", "PNR;KOEN;FOED_DAG\n0001;9;05-03-1950\n")
    assert main(["convert", str(tmp_path / "p.yaml"), "--out", str(out), "--quiet"]) == 2
    assert sorted(p.name for p in out.rglob("*")) == before
    (tmp_path / "afile").write_text("x")
    assert main(["convert", str(tmp_path / "p.yaml"), "--out", str(tmp_path / "afile"), "--quiet"]) == 2
    assert "it is a file, not a folder" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "p.yaml"), "--out", str(out), "--chunk-rows", "0"]) == 2
    assert "--chunk-rows must be a positive number of rows; got 0" in capsys.readouterr().err
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "patients.parquet").write_bytes(b"x")
    assert main(["convert", str(tmp_path / "p.yaml"), "--out", str(tmp_path / "mixed"), "--quiet"]) == 2
    assert "patients.parquet is in the output folder; convert writes patients/ there" in capsys.readouterr().err
