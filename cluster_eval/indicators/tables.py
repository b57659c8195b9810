"""The patient-level event tables: finding the files, checking them (in DuckDB, out of core), and the
typed views the compiled SQL reads (``ce_patients``, ``ce_listings``, ``ce_prescriptions``,
``ce_lab_tests``, ``ce_diagnoses``). The contract is documented in ``docs/events.md``.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError, Problem

# table -> (required columns, optional columns)
EVENT_TABLES = {
    "patients": (("patient_id", "sex", "birth_date"), ("death_date",)),
    "listings": (("patient_id", "practice_id", "listed_from"), ("listed_to",)),
    "prescriptions": (("patient_id", "date", "atc", "ddd"), ("packages",)),
    "lab_tests": (("patient_id", "date", "npu_code", "value"), ("unit",)),
    "diagnoses": (("patient_id", "date", "code", "system"), ()),
}
DATE_COLUMNS = {"birth_date", "death_date", "listed_from", "listed_to", "date"}
NUMBER_COLUMNS = {"ddd", "packages", "value"}
REQUIRED_VALUES = {"patient_id", "sex", "birth_date", "practice_id", "listed_from", "date", "atc", "npu_code",
                   "code", "system"}
SHOW = 5

# Regular expressions for the codes found in event rows (matched whole: see ``_full_match``).
ATC_SQL = r"[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?"
LAB_SQL = r"(NPU|DNK)[0-9]{5}|SSR[0-9]{4}"
ICPC_SQL = r"[A-Z][0-9]{2}(\.[0-9]{1,2})?"
ICD_SQL = r"[A-Z][0-9]{2}[0-9A-Z]{0,4}"


def find_table(events_dir: Path, table: str) -> tuple[str, str] | None:
    """``(reader SQL, file label)`` for a table, or None if absent.

    Looks for ``<table>.parquet``, ``<table>.csv`` (or ``.csv.gz``) or a folder ``<table>/`` of parts.
    """
    candidates = []
    for suffix, kind in ((".parquet", "parquet"), (".csv", "csv"), (".csv.gz", "csv")):
        path = events_dir / f"{table}{suffix}"
        if path.is_file():
            candidates.append((kind, str(path), path.name))
    folder = events_dir / table
    if folder.is_dir():
        for kind, pattern in (("parquet", "*.parquet"), ("csv", "*.csv")):
            if any(folder.glob(pattern)):
                candidates.append((kind, str(folder / pattern), f"{table}/{pattern}"))
    if not candidates:
        return None
    if len(candidates) > 1:
        names = ", ".join(c[2] for c in candidates)
        raise InputError(Problem(table, None, f"more than one file holds this table ({names}); keep one"))
    kind, path, label = candidates[0]
    quoted = path.replace("'", "''")
    if kind == "parquet":
        return f"read_parquet('{quoted}')", label
    return f"read_csv('{quoted}', header = true, all_varchar = true)", label


def _full_match(expr: str, pattern: str) -> str:
    """SQL: the whole of ``expr`` matches ``pattern`` (anchored ``regexp_matches``, which sqlglot
    transpiles, e.g. to Spark's RLIKE; ``regexp_full_match`` is DuckDB's own)."""
    return f"regexp_matches({expr}, '^(?:{pattern})$')"


def _is_text(types: dict, col: str) -> bool:
    return types.get(col, "VARCHAR").upper() == "VARCHAR"


def _describe(con, reader: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    return {r[0]: r[1] for r in rows}


def _checks(table: str, cols: dict) -> list[tuple[str, str, str]]:
    """(column, rule, SQL predicate of a bad row) for one table."""
    out = []
    for col in cols:
        text = _is_text(cols, col)
        present = f"{col} IS NOT NULL" + (f" AND TRIM({col}) <> ''" if text else "")
        if col in REQUIRED_VALUES:
            out.append((col, "value is missing", f"NOT ({present})"))
        if col in DATE_COLUMNS and text:
            out.append((col, "not a date (YYYY-MM-DD)", f"{present} AND TRY_CAST({col} AS DATE) IS NULL"))
        if col in NUMBER_COLUMNS and text:
            out.append((col, "not a number", f"{present} AND TRY_CAST({col} AS DOUBLE) IS NULL"))
    if "sex" in cols:
        out.append(("sex", "must be 'F' or 'M'", "sex IS NOT NULL AND CAST(sex AS VARCHAR) NOT IN ('F', 'M')"))
    if "atc" in cols:
        out.append(("atc", "not an ATC code (e.g. J01CE02)",
                    f"atc IS NOT NULL AND NOT {_full_match('CAST(atc AS VARCHAR)', ATC_SQL)}"))
    if "npu_code" in cols:
        out.append(("npu_code", "not an NPU/DNK laboratory code (NPU27300) or SSR service code (SSR7113)",
                    f"npu_code IS NOT NULL AND NOT {_full_match('CAST(npu_code AS VARCHAR)', LAB_SQL)}"))
    if "system" in cols:
        out.append(("system", "must be 'ICPC2' or 'ICD10'",
                    "system IS NOT NULL AND CAST(system AS VARCHAR) NOT IN ('ICPC2', 'ICD10')"))
        if "code" in cols:
            out.append(("code", "not an ICPC-2 code (e.g. T90)",
                        f"system = 'ICPC2' AND code IS NOT NULL AND NOT {_full_match('code', ICPC_SQL)}"))
            out.append(("code", "not an ICD-10 code (e.g. E11, E11.9 or SKS DE119)",
                        f"system = 'ICD10' AND code IS NOT NULL AND NOT {_full_match(icd_normalised('code'), ICD_SQL)}"))
    for a, b, rule in (("listed_to", "listed_from", "listed_to is before listed_from"),
                       ("death_date", "birth_date", "death_date is before birth_date")):
        if a in cols and b in cols:
            out.append((a, rule, f"TRY_CAST({a} AS DATE) < TRY_CAST({b} AS DATE)"))
    if "ddd" in cols:
        out.append(("ddd", "must not be negative", "TRY_CAST(ddd AS DOUBLE) < 0"))
    return out


def icd_normalised(col: str) -> str:
    """ICD-10 code without dots and without the Danish SKS 'D' prefix (DE119 -> E119)."""
    c = f"REPLACE(CAST({col} AS VARCHAR), '.', '')"
    return (f"(CASE WHEN {c} LIKE 'D%' AND SUBSTRING({c}, 2, 1) BETWEEN 'A' AND 'Z' "
            f"THEN SUBSTRING({c}, 2) ELSE {c} END)")


def validate_tables(con, readers: dict[str, tuple[str, str]]) -> None:
    """Check every table against the contract; raise one :class:`InputError` with all problems."""
    problems = []
    types = {}
    for table, (reader, label) in readers.items():
        cols = _describe(con, reader)
        types[table] = cols
        required, optional = EVENT_TABLES[table]
        missing = [c for c in required if c not in cols]
        for c in missing:
            problems.append(Problem(label, c, "required column is missing"))
        if missing:
            continue
        known = {c: t for c, t in cols.items() if c in required + optional}
        checks = _checks(table, known)
        if not checks:
            continue
        counts = con.execute("SELECT " + ", ".join(f"COUNT(*) FILTER (WHERE {pred})" for _, _, pred in checks)
                             + f" FROM {reader}").fetchone()
        for (col, rule, pred), n in zip(checks, counts):
            if n:
                ex = con.execute(f"SELECT patient_id, {col} FROM {reader} WHERE {pred} LIMIT {SHOW}").fetchall()
                rows = tuple(f"patient_id={pid}: {val!r}" for pid, val in ex)
                problems.append(Problem(label, col, rule, rows, int(n)))
    if "listings" in readers and not any(p.file == readers["listings"][1] for p in problems):
        problems += _listing_problems(con, readers)
    if problems:
        raise InputError(problems)


def _listing_problems(con, readers) -> list[Problem]:
    reader, label = readers["listings"]
    out = []
    sql = f"""
WITH l AS (SELECT CAST(patient_id AS VARCHAR) AS pid, CAST(listed_from AS DATE) AS f,
                  {"CAST(listed_to AS DATE)" if "listed_to" in _describe(con, reader) else "CAST(NULL AS DATE)"} AS t
           FROM {reader}),
o AS (SELECT pid, f, t, LAG(t) OVER (PARTITION BY pid ORDER BY f) AS prev_t,
             LAG(f) OVER (PARTITION BY pid ORDER BY f) AS prev_f FROM l)
SELECT pid, prev_f, prev_t, f FROM o WHERE prev_f IS NOT NULL AND (prev_t IS NULL OR prev_t >= f)"""
    bad = con.execute(f"SELECT COUNT(*) FROM ({sql})").fetchone()[0]
    if bad:
        ex = con.execute(sql + f" ORDER BY pid LIMIT {SHOW}").fetchall()
        rows = tuple(f"patient_id={p}: {pf}..{pt or 'open'} overlaps listing from {f}" for p, pf, pt, f in ex)
        out.append(Problem(label, "listed_from", "a patient's listings overlap (one practice at a time)",
                           rows, int(bad)))
    if "patients" in readers:
        preader = readers["patients"][0]
        sql = (f"SELECT DISTINCT CAST(patient_id AS VARCHAR) AS pid FROM {reader} WHERE CAST(patient_id AS VARCHAR) "
               f"NOT IN (SELECT CAST(patient_id AS VARCHAR) FROM {preader} WHERE patient_id IS NOT NULL)")
        bad = con.execute(f"SELECT COUNT(*) FROM ({sql})").fetchone()[0]
        if bad:
            ex = [r[0] for r in con.execute(sql + f" ORDER BY pid LIMIT {SHOW}").fetchall()]
            out.append(Problem(label, "patient_id", "patient is not in the patients table",
                               tuple(f"patient_id={p}" for p in ex), int(bad)))
    return out


def _date(types: dict, col: str) -> str:
    return col if types.get(col, "").upper() == "DATE" else f"CAST({col} AS DATE)"


def _num(col: str) -> str:
    return f"CAST({col} AS DOUBLE)"


def create_views(con, readers: dict[str, tuple[str, str]]) -> None:
    """The typed relations ``ce_<table>`` that the compiled SQL reads (ids as text unless integer in every
    Parquet file; month indices ``m``): views over Parquet, temporary tables from CSV."""
    from .sql import month_index as mi

    types = {t: _describe(con, r) for t, (r, _) in readers.items()}
    int_ids = all(types[t].get("patient_id", "").upper() in ("BIGINT", "INTEGER", "UBIGINT", "UINTEGER")
                  for t in types)
    pid = "patient_id" if int_ids else "CAST(patient_id AS VARCHAR) AS patient_id"

    def reader(t):
        return readers[t][0]

    def kind(t):
        """Parquet is read in place (a view, with filter pushdown); CSV is parsed once into a DuckDB
        temporary table (columnar, spilled to disk beyond the memory limit) instead of at every step."""
        return "TABLE" if readers[t][0].startswith("read_csv") else "VIEW"
    pt = types["patients"]
    death = f"{mi(_date(pt, 'death_date'))} - 1" if "death_date" in pt else "CAST(NULL AS BIGINT)"
    con.execute(f"""CREATE OR REPLACE TEMP {kind('patients')} ce_patients AS
SELECT {pid}, CAST(sex AS VARCHAR) AS sex, {mi(_date(pt, 'birth_date'))} AS bm, {death} AS de
FROM {reader('patients')}""")
    lt = types["listings"]
    to = (f"{mi(_date(lt, 'listed_to') + ' + INTERVAL 1 DAY')} - 1" if "listed_to" in lt
          else "CAST(NULL AS BIGINT)")
    con.execute(f"""CREATE OR REPLACE TEMP {kind('listings')} ce_listings AS
SELECT {pid}, CAST(practice_id AS VARCHAR) AS practice_id, {mi(_date(lt, 'listed_from'))} AS ls, {to} AS le
FROM {reader('listings')}""")
    empty = {
        "prescriptions": "CAST(NULL AS VARCHAR) AS atc, CAST(NULL AS DOUBLE) AS ddd",
        "lab_tests": "CAST(NULL AS VARCHAR) AS npu_code, CAST(NULL AS DOUBLE) AS value",
        "diagnoses": "CAST(NULL AS VARCHAR) AS code, CAST(NULL AS VARCHAR) AS system",
    }
    for t in ("prescriptions", "lab_tests", "diagnoses"):
        if t not in readers:
            idt = "BIGINT" if int_ids else "VARCHAR"
            con.execute(f"CREATE OR REPLACE TEMP TABLE ce_{t} AS SELECT CAST(NULL AS {idt}) AS patient_id, "
                        f"CAST(NULL AS DATE) AS date, CAST(NULL AS BIGINT) AS m, {empty[t]} WHERE FALSE")
            continue
        ty = types[t]
        d = _date(ty, "date")
        extra = {
            "prescriptions": f"CAST(atc AS VARCHAR) AS atc, {_num('ddd')} AS ddd",
            "lab_tests": f"CAST(npu_code AS VARCHAR) AS npu_code, {_num('value')} AS value",
            "diagnoses": f"CASE WHEN system = 'ICD10' THEN {icd_normalised('code')} ELSE CAST(code AS VARCHAR) END "
                         "AS code, CAST(system AS VARCHAR) AS system",
        }[t]
        con.execute(f"""CREATE OR REPLACE TEMP {kind(t)} ce_{t} AS
SELECT {pid}, {d} AS date, {mi(d)} AS m, {extra} FROM {reader(t)}""")
