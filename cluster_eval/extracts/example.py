"""Write patient-level events (the engine's layout) as register-shaped extracts, for the worked example.

``python -m cluster_eval.extracts.example EVENTS_DIR OUT_DIR`` writes the files that
``params/examples/register_extracts.yaml`` maps, with the variable names and formats the Danish registers
deliver (docs/data.md): patients as SAS transport (``bef.xpt``: PNR, KOEN 1/2, FOED_DAG and DOEDDATO as
SAS date numbers), listings as a Danish CSV (``tilmeldinger.csv``: semicolons, Windows-1252 with æ/ø/å,
dd-mm-yyyy), prescriptions as gzipped Danish CSVs per year (``lmdb/lmdb_YYYY.csv.gz``: PNR, EKSD as SAS
date numbers, ATC, APK packages, PACKSIZE, VOLUME = DDD per package with a decimal comma), lab tests as
Stata (``labka.dta``) and diagnoses in two extracts (``lpr_diag.parquet`` with SKS-prefixed ICD-10 codes,
``praksis_diag.csv`` with ICPC-2 codes and yyyymmdd dates). It reads the tables into memory: it is meant
for the small synthetic events, not for national-scale data.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SAS_EPOCH = pd.Timestamp("1960-01-01")
PRACTICE_NAMES = ("Lægehuset Ærøskøbing", "Lægerne på Østerbro", "Åbyhøj Lægecenter", "Lægehuset Søndergade")


def _read(events_dir: Path, table: str) -> pd.DataFrame:
    for path in (events_dir / f"{table}.parquet", events_dir / f"{table}.csv"):
        if path.exists():
            return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
    raise FileNotFoundError(f"{table}.parquet or .csv not found in {events_dir}")


def _pnr(ids: pd.Series) -> pd.Series:
    """A pseudonymised person number as the extracts carry it: 10 characters of text."""
    return ids.astype("int64").astype(str).str.zfill(10)


def _sas_days(dates: pd.Series) -> pd.Series:
    d = pd.to_datetime(dates)
    return ((d - SAS_EPOCH).dt.days).astype("float64")


def _dmy(dates: pd.Series) -> pd.Series:
    return pd.to_datetime(dates).dt.strftime("%d-%m-%Y").fillna("")


def write_register_extracts(events_dir, out_dir) -> Path:
    """Write the register-shaped extracts of an events folder into ``out_dir``; return it."""
    import pyreadstat

    events_dir, out = Path(events_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    p = _read(events_dir, "patients")
    bef = pd.DataFrame({"PNR": _pnr(p["patient_id"]), "KOEN": np.where(p["sex"] == "M", 1.0, 2.0),
                        "FOED_DAG": _sas_days(p["birth_date"]), "DOEDDATO": _sas_days(p["death_date"])})
    pyreadstat.write_xport(bef, str(out / "bef.xpt"), table_name="BEF", file_format_version=5)

    li = _read(events_dir, "listings")
    codes = sorted(li["practice_id"].astype(str).unique())
    names = {c: f"{PRACTICE_NAMES[i % len(PRACTICE_NAMES)]} {i + 1}" for i, c in enumerate(codes)}
    tilm = pd.DataFrame({"PNR": _pnr(li["patient_id"]), "PRAKSIS": li["practice_id"].astype(str),
                         "PRAKSISNAVN": li["practice_id"].astype(str).map(names),
                         "TILM_FRA": _dmy(li["listed_from"]), "TILM_TIL": _dmy(li["listed_to"])})
    tilm.to_csv(out / "tilmeldinger.csv", sep=";", index=False, encoding="cp1252")

    rx = _read(events_dir, "prescriptions")
    ddd = rx["ddd"].astype(float).to_numpy()
    apk = np.where(ddd % 2 == 0, 2, 1)
    date = pd.to_datetime(rx["date"])
    lmdb = pd.DataFrame({"PNR": _pnr(rx["patient_id"]), "EKSD": _sas_days(date).astype("int64"),
                         "ATC": rx["atc"], "APK": apk, "PACKSIZE": 10 * apk,
                         "VOLUME": [f"{v:g}".replace(".", ",") for v in ddd / apk]})
    (out / "lmdb").mkdir(exist_ok=True)
    for year, part in lmdb.groupby(date.dt.year.to_numpy()):
        part.to_csv(out / "lmdb" / f"lmdb_{year}.csv.gz", sep=";", index=False, encoding="cp1252",
                    compression="gzip")

    lab = _read(events_dir, "lab_tests")
    labka = pd.DataFrame({"PATIENT_CPR": _pnr(lab["patient_id"]),
                          "SAMPLINGDATE": pd.to_datetime(lab["date"]).dt.date,
                          "ANALYSISCODE": lab["npu_code"], "VALUE": lab["value"].astype(float),
                          "UNIT": lab["unit"].fillna("").astype(str)})
    pyreadstat.write_dta(labka, str(out / "labka.dta"))

    dg = _read(events_dir, "diagnoses")
    icd = dg[dg["system"] == "ICD10"]
    pd.DataFrame({"PNR": _pnr(icd["patient_id"]), "D_INDDTO": pd.to_datetime(icd["date"]).dt.date,
                  "C_DIAG": "D" + icd["code"].astype(str)}).to_parquet(out / "lpr_diag.parquet", index=False)
    icpc = dg[dg["system"] == "ICPC2"]
    pd.DataFrame({"PNR": _pnr(icpc["patient_id"]), "DATO": pd.to_datetime(icpc["date"]).dt.strftime("%Y%m%d"),
                  "KODE": icpc["code"]}).to_csv(out / "praksis_diag.csv", sep=";", index=False, encoding="cp1252")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cluster_eval.extracts.example",
                                 description="write an events folder as register-shaped extracts")
    ap.add_argument("events", help="events folder (e.g. from cluster-eval synth --events)")
    ap.add_argument("out", help="folder to write the extracts into")
    args = ap.parse_args(argv)
    out = write_register_extracts(args.events, args.out)
    print(f"register-shaped extracts written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
