"""Conversion benchmark: a prescription-register extract of N rows to the engine's Parquet event tables.

    nice -n 10 .venv/bin/python benchmarks/convert.py --rows 10_000_000 [--xpt] [--keep DIR]

Generates, in a temporary folder deleted afterwards, an extract shaped like the National Prescription
Registry as delivered (PNR text; EKSD dd-mm-yyyy; ATC; APK; PACKSIZE; VOLUME with a decimal comma;
semicolons) plus small patients and listings tables, then times, each in its own process (peak RSS of that
process):

* floor: DuckDB ``read_csv`` of the same file -> ``COPY ... TO`` Parquet (no mapping, no checks);
* convert (CSV): ``cluster_eval.extracts.convert`` with the mapping of the Danish conventions, including
  the row checks and the event contract checks on the written Parquet;
* with ``--xpt``: the same rows as a SAS transport (XPT v5) file, converted through pyreadstat. The XPT
  file is written by pyreadstat for one block of rows and the block's observation records repeated (XPT
  v5 has no row count in its header), so that writing it does not hold 100 M rows in memory.

Prints one JSON line per stage and a summary with the ratios to the floor.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATIENTS = 1_000_000
XPT_BLOCK = 1_000_000            # rows per repeated XPT block (a multiple of 80: whole 80-byte records)


def _child_stats(t0: float) -> dict:
    """Wall seconds since t0, CPU seconds (user + system, all threads) and peak RSS of this process."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"seconds": round(time.perf_counter() - t0, 2), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
            "peak_rss_mib": round(ru.ru_maxrss / 1024, 1)}


# -- stages (each run in its own process) ------------------------------------------------------------
def stage_generate(tmp: Path, rows: int) -> dict:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET memory_limit = '2GB'")
    con.execute(f"SET temp_directory = '{tmp / 'duckdb_gen'}'")
    con.execute(f"""COPY (
        SELECT lpad(CAST(i AS VARCHAR), 10, '0') AS PNR, strftime(DATE '2015-01-01' + CAST(h % 3650 AS INTEGER),
               '%d-%m-%Y') AS EKSD,
               ['J01CE02', 'J01CA04', 'N02AA01', 'A10BA02', 'M01AE01', 'C07AB02'][1 + (h // 7) % 6] AS ATC,
               1 + (h // 11) % 3 AS APK, 20 + 10 * ((h // 13) % 5) AS PACKSIZE,
               replace(CAST(round(1 + ((h // 17) % 900) / 10, 1) AS VARCHAR), '.', ',') AS VOLUME
        FROM (SELECT range AS r, range % {PATIENTS} + 1 AS i, CAST(hash(range) % 1000003 AS BIGINT) AS h FROM range({rows})))
        TO '{tmp / 'lmdb.csv'}' (HEADER, DELIMITER ';')""")
    con.execute(f"""COPY (SELECT lpad(CAST(range + 1 AS VARCHAR), 10, '0') AS PNR, 1 + range % 2 AS KOEN,
        strftime(DATE '1930-01-01' + CAST(range % 30000 AS INTEGER), '%d-%m-%Y') AS FOED_DAG FROM range({PATIENTS}))
        TO '{tmp / 'bef.csv'}' (HEADER, DELIMITER ';')""")
    con.execute(f"""COPY (SELECT lpad(CAST(range + 1 AS VARCHAR), 10, '0') AS PNR,
        'P' || lpad(CAST(range % 1500 AS VARCHAR), 4, '0') AS PRAKSIS, '01-01-2010' AS TILM_FRA FROM range({PATIENTS}))
        TO '{tmp / 'tilm.csv'}' (HEADER, DELIMITER ';')""")
    return _child_stats(t0) | {"csv_bytes": (tmp / "lmdb.csv").stat().st_size}


def stage_xpt(tmp: Path, rows: int) -> dict:
    """XPT v5: pyreadstat writes one block; its observation records are repeated to reach ``rows``."""
    import duckdb
    import pyreadstat

    t0 = time.perf_counter()
    block = min(rows, XPT_BLOCK)
    df = duckdb.sql(f"SELECT * FROM read_csv('{tmp / 'lmdb.csv'}', delim=';', header=true, all_varchar=true) "
                    f"LIMIT {block}").df()
    df["EKSD"] = (duckdb.sql("SELECT datediff('day', DATE '1960-01-01', strptime(EKSD, '%d-%m-%Y')) AS d FROM df")
                  .df()["d"].astype(float))
    for c in ("APK", "PACKSIZE"):
        df[c] = df[c].astype(float)
    df["VOLUME"] = df["VOLUME"].str.replace(",", ".").astype(float)
    one = tmp / "block.xpt"
    pyreadstat.write_xport(df, str(one), table_name="LMDB", file_format_version=5)
    data = one.read_bytes()
    width = 10 + 8 + 7 + 8 + 8 + 8                        # PNR $10, EKSD, ATC $7, APK, PACKSIZE, VOLUME
    obs = block * width
    body = data[len(data) - ((obs + 79) // 80) * 80:]     # the observation records (padded to 80 bytes)
    head = data[: len(data) - len(body)]
    if block % 80 or rows % block:
        raise SystemExit("--rows must be a multiple of the XPT block (1,000,000) for --xpt")
    with open(tmp / "lmdb.xpt", "wb") as fh:
        fh.write(head)
        for _ in range(rows // block):
            fh.write(body)
    one.unlink()
    return _child_stats(t0) | {"xpt_bytes": (tmp / "lmdb.xpt").stat().st_size}


def stage_floor(tmp: Path) -> dict:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET memory_limit = '2GB'")
    con.execute(f"SET temp_directory = '{tmp / 'duckdb_floor'}'")
    con.execute(f"COPY (SELECT * FROM read_csv('{tmp / 'lmdb.csv'}', delim=';', header=true)) "
                f"TO '{tmp / 'floor.parquet'}' (FORMAT parquet)")
    return _child_stats(t0)


def _params(tmp: Path, extract: str) -> dict:
    rx = {"file": str(tmp / extract), "columns": {"patient_id": "PNR", "date": "EKSD", "atc": "ATC",
                                                  "packages": "APK"},
          "derived": {"ddd": "APK * VOLUME"}}
    if extract.endswith(".csv"):
        rx |= {"sep": ";", "decimal": ",", "dates": "%d-%m-%Y"}
    else:
        rx |= {"dates": "sas"}
    csv = {"sep": ";", "dates": "%d-%m-%Y"}
    return {"events": {"tables": {
        "patients": {"file": str(tmp / "bef.csv"), "columns": {"patient_id": "PNR", "sex": "KOEN",
                                                               "birth_date": "FOED_DAG"},
                     "values": {"sex": {"1": "M", "2": "F"}}} | csv,
        "listings": {"file": str(tmp / "tilm.csv"), "columns": {"patient_id": "PNR", "practice_id": "PRAKSIS",
                                                                "listed_from": "TILM_FRA"}} | csv,
        "prescriptions": rx}}}


def stage_convert(tmp: Path, extract: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from cluster_eval.extracts import convert

    out = tmp / f"events_{extract.replace('.', '_')}"
    t0 = time.perf_counter()
    res = convert(_params(tmp, extract), out, progress=False)
    stats = _child_stats(t0)
    stats["tables"] = {t.table: {"rows": t.rows, "seconds": round(t.seconds, 2)} for t in res.tables}
    shutil.rmtree(out)
    return stats


# -- driver ------------------------------------------------------------------------------------------
def run_stage(name: str, tmp: Path, *args) -> dict:
    cmd = [sys.executable, __file__, "--stage", name, "--tmp", str(tmp), *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"stage {name} failed:\n{out.stderr[-3000:]}")
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps({"stage": name, **rec}), flush=True)
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    ap.add_argument("--xpt", action="store_true", help="also convert the rows as a SAS transport file")
    ap.add_argument("--keep", default=None, help="work in this folder and keep it (default: a temp dir, deleted)")
    ap.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--tmp", default=None, help=argparse.SUPPRESS)
    ap.add_argument("extract", nargs="?", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.stage:
        tmp = Path(args.tmp)
        rec = {"generate": lambda: stage_generate(tmp, args.rows), "xpt": lambda: stage_xpt(tmp, args.rows),
               "floor": lambda: stage_floor(tmp), "convert": lambda: stage_convert(tmp, args.extract)}[args.stage]()
        print(json.dumps(rec))
        return 0
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ce_convert_bench_"))
    tmp.mkdir(parents=True, exist_ok=True)
    print(json.dumps({"rows": args.rows, "tmp": str(tmp), "cpus": os.cpu_count(),
                      "load": os.getloadavg()[0]}), flush=True)
    try:
        run_stage("generate", tmp, "--rows", args.rows)
        floor = run_stage("floor", tmp)
        conv = run_stage("convert", tmp, "lmdb.csv")
        summary = {"rows": args.rows, "floor_s": floor["seconds"], "convert_csv_s": conv["seconds"],
                   "ratio_csv": round(conv["seconds"] / floor["seconds"], 2),
                   "floor_cpu_s": floor["cpu_s"], "convert_csv_cpu_s": conv["cpu_s"],
                   "cpu_ratio_csv": round(conv["cpu_s"] / floor["cpu_s"], 2),
                   "floor_peak_mib": floor["peak_rss_mib"], "convert_csv_peak_mib": conv["peak_rss_mib"],
                   "prescriptions_csv_s": conv["tables"]["prescriptions"]["seconds"]}
        if args.xpt:
            (tmp / "floor.parquet").unlink(missing_ok=True)
            run_stage("xpt", tmp, "--rows", args.rows)
            convx = run_stage("convert", tmp, "lmdb.xpt")
            summary |= {"convert_xpt_s": convx["seconds"], "ratio_xpt": round(convx["seconds"] / floor["seconds"], 2),
                        "convert_xpt_cpu_s": convx["cpu_s"], "cpu_ratio_xpt": round(convx["cpu_s"] / floor["cpu_s"], 2),
                        "convert_xpt_peak_mib": convx["peak_rss_mib"],
                        "prescriptions_xpt_s": convx["tables"]["prescriptions"]["seconds"]}
        summary["load_end"] = os.getloadavg()[0]
        print(json.dumps({"summary": summary}), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
