"""Register-shaped extracts of the small synthetic events (SAS transport, Danish CSV with semicolons, decimal
comma, Windows-1252 and æ/ø/å, dd-mm-yyyy, SAS date numbers, Stata, Parquet, gzip) converted with
params/examples/register_extracts.yaml give the same measures as the events in the engine's own layout and
as the engine's ISO-CSV path; unchanged sources are skipped."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cluster_eval.cli import main
from cluster_eval.extracts import convert
from cluster_eval.extracts.example import write_register_extracts
from cluster_eval.indicators import compute_measures
from cluster_eval.synthetic import write

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "params" / "examples" / "register_extracts.yaml"


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    """Small synthetic events (2 % of the listed patients), their measures, and register-shaped extracts."""
    base = tmp_path_factory.mktemp("extracts")
    ev = write(base / "events", scale="small", seed=5, events=True, events_scale=0.02)
    measures = compute_measures(ev, progress=False)
    regs = write_register_extracts(ev, base / "register")
    params = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    params["events"]["folder"] = str(regs)
    (base / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    return {"base": base, "events": ev, "measures": measures, "register": regs, "params": base / "params.yaml"}


def test_example_params_convert_then_measures_equal_the_engine_layout(events, tmp_path, capsys):
    out = tmp_path / "converted"
    assert main(["convert", str(events["params"]), "--out", str(out), "--quiet"]) == 0
    for t in ("patients", "listings", "prescriptions", "lab_tests", "diagnoses"):
        assert list((out / t).glob("part-*.parquet")), t
    assert main(["validate", str(out)]) == 0
    assert main(["measures", str(out), "--out", str(tmp_path / "m"), "--quiet"]) == 0
    got = pd.read_parquet(tmp_path / "m" / "measures.parquet")
    pd.testing.assert_frame_equal(got, events["measures"], check_dtype=False)
    assert got["numerator"].sum() > 0 and got["indicator_id"].nunique() == 11


def test_the_converted_values_equal_the_synthetic_events(events, tmp_path):
    out = tmp_path / "converted"
    convert(events["params"], out, progress=False)
    for t, key in (("patients", ["patient_id"]), ("prescriptions", ["patient_id", "date", "atc"]),
                   ("lab_tests", ["patient_id", "date", "npu_code"])):
        a = pd.read_parquet(events["events"] / f"{t}.parquet")
        b = pd.read_parquet(out / t)
        a["patient_id"] = a["patient_id"].astype(str).str.zfill(10)
        a, b = (x.sort_values(key + list(x.columns.difference(key))).reset_index(drop=True) for x in (a, b))
        cols = [c for c in a.columns if c not in ("packages", "unit")]      # packages re-cut, '' unit -> missing
        pd.testing.assert_frame_equal(a[cols], b[cols], check_dtype=False)


def test_measures_equal_the_iso_csv_path(events, tmp_path):
    """The same events written by hand as the engine's plain ISO CSV files."""
    iso = tmp_path / "iso"
    iso.mkdir()
    for t in ("patients", "listings", "prescriptions", "lab_tests", "diagnoses"):
        pd.read_parquet(events["events"] / f"{t}.parquet").to_csv(iso / f"{t}.csv", index=False,
                                                                   date_format="%Y-%m-%d")
    via_csv = compute_measures(iso, progress=False)
    out = tmp_path / "converted"
    convert(events["params"], out, progress=False)
    pd.testing.assert_frame_equal(compute_measures(out, progress=False), via_csv, check_dtype=False)


def test_unchanged_sources_are_skipped_and_changed_ones_reconverted(events, tmp_path):
    out = tmp_path / "converted"
    first = convert(events["params"], out, progress=False)
    assert {t.status for t in first.tables} == {"converted"}
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    second = convert(events["params"], out, progress=False)
    assert {t.status for t in second.tables} == {"unchanged"}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == before
    assert "source unchanged, skipped" in second.summary()
    # a new lab extract (one more row): only lab_tests is converted again
    labka = events["base"] / "register2"
    import shutil
    shutil.copytree(events["register"], labka)
    import pyreadstat
    df, _ = pyreadstat.read_dta(str(labka / "labka.dta"))
    pyreadstat.write_dta(pd.concat([df, df.iloc[:1]], ignore_index=True), str(labka / "labka.dta"))
    params = yaml.safe_load(events["params"].read_text())
    params["events"]["folder"] = str(labka)
    third = convert(params, out, progress=False)
    status = {t.table: t.status for t in third.tables}
    assert status["lab_tests"] == "converted" and status["prescriptions"] == "converted"  # new folder = new files
    fourth = convert(params, out, progress=False)
    assert {t.status for t in fourth.tables} == {"unchanged"}
    rows = {t.table: t.rows for t in fourth.tables}
    assert rows["lab_tests"] == len(df) + 1
    os.utime(labka / "labka.dta")                      # touched, same content: the hash decides, still skipped
    assert {t.status for t in convert(params, out, progress=False).tables} == {"unchanged"}
    assert "unchanged" in fourth._repr_html_()


def test_force_converts_again(events, tmp_path):
    out = tmp_path / "converted"
    convert(events["params"], out, progress=False)
    again = convert(events["params"], out, progress=False, force=True)
    assert {t.status for t in again.tables} == {"converted"}
