"""Event-table validation: every rule, its message word for word (file, column, rule, first rows, count),
the same on both engines (the checks are one SQL text, transpiled for Spark)."""
from __future__ import annotations

import textwrap

import pytest

from cluster_eval.errors import InputError
from cluster_eval.indicators import compute_measures


def write_tables(folder, tables):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(textwrap.dedent(text).strip() + "\n")
    return folder

BAD = {
    "patients": """
        patient_id,sex,birth_date,death_date
        1,F,1950-06-15,
        2,X,1959-02-30,
        3,M,1980-01-01,1979-01-01
        """,
    "listings": """
        patient_id,practice_id,listed_from,listed_to
        1,A,2000-01-01,2010-01-01
        1,B,2009-06-01,
        3,A,2000-01-01,
        4,A,2000-01-01,
        """,
    "prescriptions": """
        patient_id,date,atc,ddd,packages
        1,2024-01-05,J01CE02,7,1
        1,2024-01-05,J1,seven,1
        1,,J01CE02,-1,1
        """,
    "diagnoses": """
        patient_id,date,code,system
        1,2024-01-05,T90,ICPC2
        1,2024-01-05,T90,ICD11
        1,2024-01-05,E11X9999,ICD10
        1,2024-01-05,DE119,ICD10
        1,2024-01-05,T90.00,ICPC2
        """,
    "lab_tests": """
        patient_id,date,npu_code
        1,2024-01-05,NPU27300
        """,
}


def test_every_problem_is_reported_at_once_with_file_column_rule_and_rows(tmp_path, engine):
    folder = write_tables(tmp_path, BAD)
    with pytest.raises(InputError) as err:
        compute_measures(folder, progress=False, **engine)
    lines = [str(p) for p in err.value.problems]
    assert lines == [
        "patients.csv, column 'birth_date': not a date (YYYY-MM-DD) — 1 row (first: patient_id=2: '1959-02-30')",
        "patients.csv, column 'sex': must be 'F' or 'M' — 1 row (first: patient_id=2: 'X')",
        "patients.csv, column 'death_date': death_date is before birth_date — 1 row (first: patient_id=3: "
        "'1979-01-01')",
        "prescriptions.csv, column 'date': value is missing — 1 row (first: patient_id=1: None)",
        "prescriptions.csv, column 'ddd': not a number — 1 row (first: patient_id=1: 'seven')",
        "prescriptions.csv, column 'atc': not an ATC code (e.g. J01CE02) — 1 row (first: patient_id=1: 'J1')",
        "prescriptions.csv, column 'ddd': must not be negative — 1 row (first: patient_id=1: '-1')",
        "lab_tests.csv, column 'value': required column is missing",
        "diagnoses.csv, column 'system': must be 'ICPC2' or 'ICD10' — 1 row (first: patient_id=1: 'ICD11')",
        "diagnoses.csv, column 'code': not an ICD-10 code (e.g. E11, E11.9 or SKS DE119) — 1 row (first: "
        "patient_id=1: 'E11X9999')",
        "listings.csv, column 'listed_from': a patient's listings overlap (one practice at a time) — 1 row "
        "(first: patient_id=1: 2000-01-01..2010-01-01 overlaps listing from 2009-06-01)",
        "listings.csv, column 'patient_id': patient is not in the patients table — 1 row (first: patient_id=4)",
    ]
    assert str(err.value).startswith("12 problems in the input data:\n  - patients.csv, column 'birth_date'")


def test_missing_tables_and_folder(tmp_path, engine):
    folder = write_tables(tmp_path / "ev", {"patients": BAD["patients"]})
    with pytest.raises(InputError) as err:
        compute_measures(folder, progress=False, **engine)
    assert [str(p) for p in err.value.problems] == [
        "listings.parquet|csv: table is missing from the events folder",
        "prescriptions.parquet|csv: table is missing from the events folder",
        "lab_tests.parquet|csv: table is missing from the events folder",
        "diagnoses.parquet|csv: table is missing from the events folder",
    ]
    with pytest.raises(InputError, match="events folder does not exist"):
        compute_measures(tmp_path / "nowhere", progress=False, **engine)


def test_two_files_for_one_table_are_refused(tmp_path, engine):
    folder = write_tables(tmp_path, {"patients": BAD["patients"]})
    (folder / "patients").mkdir()
    (folder / "patients" / "part-0.csv").write_text("patient_id,sex,birth_date\n")
    with pytest.raises(InputError) as err:
        compute_measures(folder, progress=False, **engine)
    assert str(err.value.problems[0]) == ("patients: more than one file holds this table (patients.csv, "
                                          "patients/*.csv); keep one")


def test_validate_events_checks_a_folder_without_computing(tmp_path):
    from cluster_eval.indicators.checks import validate_events

    folder = write_tables(tmp_path / "bad", {"patients": BAD["patients"]})
    with pytest.raises(InputError) as err:
        validate_events(folder)
    assert len(err.value.problems) == 3 and err.value.problems[1].column == "sex"
    good = write_tables(tmp_path / "good", {"patients": "patient_id,sex,birth_date\n1,F,1950-01-01\n"})
    validate_events(good)   # clean: no error
    with pytest.raises(InputError, match="listings.parquet|csv: table is missing"):
        validate_events(good, tables=["patients", "listings"])


def test_engine_argument_is_checked(tmp_path):
    from cluster_eval.errors import ArgumentError

    folder = write_tables(tmp_path, {"patients": BAD["patients"]})
    with pytest.raises(ArgumentError, match="engine must be one of 'duckdb', 'spark'; got 'trino'"):
        compute_measures(folder, progress=False, engine="trino")
    with pytest.raises(ArgumentError, match="engine='spark' writes Parquet only; got fmt='csv'"):
        compute_measures(folder, progress=False, engine="spark", fmt="csv")
