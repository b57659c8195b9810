"""The one validation module: every input check of cluster_eval lives here.

Two kinds of check:

* **Arguments** of the statistical functions (``check_*``): convert once, at the boundary, into
  float arrays and raise :class:`~cluster_eval.errors.ArgumentError` with a message that states the
  rule and quotes the offending value.
* **The data contract** (``validate_tables``): every rule of ARCHITECTURE.md's data contract, each
  producing a :class:`~cluster_eval.errors.Problem` naming file, column, rule and offending rows. All
  problems are collected and raised together as one :class:`~cluster_eval.errors.InputError`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import ArgumentError

# ---------------------------------------------------------------------------------------------
# Arguments of statistical functions
# ---------------------------------------------------------------------------------------------


def _fmt(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return repr(value)


def as_float_array(x, name: str) -> np.ndarray:
    """Convert a scalar, list, array or Series to a 1-d float array (NaN for missing)."""
    if isinstance(x, pd.Series | pd.Index):
        arr = pd.to_numeric(x, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            arr = np.asarray(x, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ArgumentError(f"{name} must be numeric; got {x!r}") from exc
    return np.atleast_1d(arr).astype(float, copy=False)


def check_same_length(**arrays: np.ndarray) -> int:
    """All arrays have one length (length-1 arrays broadcast). Returns the common length."""
    lengths = {k: len(v) for k, v in arrays.items()}
    n = max(lengths.values())
    bad = {k: m for k, m in lengths.items() if m not in (1, n)}
    if bad:
        text = ", ".join(f"{k} has {m}" for k, m in lengths.items())
        raise ArgumentError(f"arguments must have the same length (or length 1): {text}")
    return n


def check_nonnegative(x: np.ndarray, name: str) -> None:
    """No negative values (NaN allowed: missing)."""
    neg = np.flatnonzero(x < 0)
    if neg.size:
        raise ArgumentError(f"{name} must not be negative; got {_fmt(float(x[neg[0]]))} at position {neg[0]}")


def check_integer_counts(x: np.ndarray, name: str) -> None:
    """Counts are whole numbers."""
    finite = np.isfinite(x)
    frac = np.flatnonzero(finite & (np.abs(x - np.round(x)) > 1e-9))
    if frac.size:
        raise ArgumentError(f"{name} must be whole numbers; got {_fmt(float(x[frac[0]]))} at position {frac[0]}")


def check_numerator_le_denominator(num: np.ndarray, den: np.ndarray, num_name="numerator",
                                   den_name="denominator") -> None:
    """A proportion's numerator may not exceed its denominator."""
    num_b, den_b = np.broadcast_arrays(num, den)
    bad = np.flatnonzero(num_b > den_b)
    if bad.size:
        i = bad[0]
        raise ArgumentError(
            f"{num_name} must not be greater than {den_name}; got {num_name}={_fmt(float(num_b[i]))} > "
            f"{den_name}={_fmt(float(den_b[i]))} at position {i}"
        )


def check_confidence(confidence) -> tuple[float, ...]:
    """One confidence level or a tuple of them, each strictly between 0 and 1.

    Levels given as percentages above 1 and up to 100 (e.g. 95, 99.8) are refused: say 0.95.
    """
    levels = confidence if isinstance(confidence, Sequence | np.ndarray) and not isinstance(confidence, str) \
        else (confidence,)
    out = []
    for c in levels:
        try:
            c = float(c)
        except (TypeError, ValueError) as exc:
            raise ArgumentError(f"confidence must be a number between 0 and 1; got {c!r}") from exc
        if not (0 < c < 1):
            raise ArgumentError(f"confidence must be between 0 and 1 (exclusive); got {_fmt(c)}")
        out.append(c)
    if not out:
        raise ArgumentError("confidence must name at least one level; got an empty sequence")
    return tuple(out)


def check_choice(value, name: str, choices: Sequence[str]):
    """A string argument is one of the allowed choices."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ArgumentError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def check_positive(value, name: str) -> float:
    """A scalar argument is a finite number above zero."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"{name} must be a positive number; got {value!r}") from exc
    if not np.isfinite(v) or v <= 0:
        raise ArgumentError(f"{name} must be a positive number; got {value!r}")
    return v


def check_counts(numerator, denominator=None, *, proportion=False, integer=False,
                 num_name="numerator", den_name="denominator"):
    """Convert and check a numerator (and denominator) pair for a statistic.

    Returns float arrays broadcast to a common length. Negative values, mismatched lengths and (for
    proportions) numerator > denominator raise :class:`ArgumentError`.
    """
    num = as_float_array(numerator, num_name)
    check_nonnegative(num, num_name)
    if integer:
        check_integer_counts(num, num_name)
    if denominator is None:
        return num
    den = as_float_array(denominator, den_name)
    check_same_length(**{num_name: num, den_name: den})
    check_nonnegative(den, den_name)
    if proportion:
        check_numerator_le_denominator(num, den, num_name, den_name)
    num, den = np.broadcast_arrays(num, den)
    return num.astype(float), den.astype(float)


# ---------------------------------------------------------------------------------------------
# The data contract (tables of a data folder)
# ---------------------------------------------------------------------------------------------

MAX_ROWS_SHOWN = 5
LINE = "__line__"  # hidden column carrying each row's location in its source file (e.g. "line 7")


def _problem(file, column, rule, mask=None, frame=None, rows=None, count=None):
    from .errors import Problem

    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(mask)
        count = int(idx.size)
        labels = frame[LINE].to_numpy()[idx[:MAX_ROWS_SHOWN]] if LINE in frame else idx[:MAX_ROWS_SHOWN] + 1
        rows = tuple(str(x) for x in labels)
    return Problem(str(file), column, rule, tuple(rows or ()), int(count or 0))


def check_file_bytes(path, label) -> list:
    """A file exists, is not empty and is UTF-8 text (CSV only). Returns problems."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        return [_problem(label, None, "file not found")]
    if path.suffix.lower() == ".parquet":
        return [] if path.stat().st_size else [_problem(label, None, "file is empty")]
    data = path.read_bytes()
    if not data.strip() or data.strip() == b"\xef\xbb\xbf":
        return [_problem(label, None, "file is empty (no header, no rows)")]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [_problem(label, None,
                         f"file is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); "
                         "save it as UTF-8", rows=(f"line {line}",), count=1)]
    return []


def _label(colmap, col):
    src = colmap.get(col, col)
    return src if src == col else f"'{src}' (contract column '{col}')"


def coerce_table(df: pd.DataFrame, spec, file_label, colmap=None):
    """Check one table against its :class:`~cluster_eval.data.contract.TableSpec` and convert its types.

    ``df`` holds the raw values (strings from CSV, or typed Parquet columns) under contract names and a
    ``__line__`` column locating each row. ``colmap`` maps contract names to the user's source column
    names, for messages. Returns ``(typed frame or None, problems)``.
    """
    from .data import contract as C

    colmap = colmap or {}
    problems = []
    missing = [c for c in spec.required if c not in df.columns]
    if missing:
        for c in missing:
            problems.append(_problem(file_label, _label(colmap, c), "required column is missing"))
        return None, problems
    if len(df) == 0 and not spec.allow_no_rows:
        return None, [_problem(file_label, None, "file has a header but no data rows")]
    out = pd.DataFrame(index=df.index)
    for col, kind in spec.columns.items():
        if col not in df.columns:
            continue
        raw = df[col]
        lab = _label(colmap, col)
        isna = raw.isna() | (raw.astype(str).str.strip() == "") if raw.dtype == object or \
            pd.api.types.is_string_dtype(raw) else raw.isna()
        if col in spec.nonempty and isna.any():
            problems.append(_problem(file_label, lab, "value is missing (empty cell)", isna, df))
        if kind in (C.ID, C.TEXT):
            vals = raw.astype("string").str.strip()
            vals = vals.mask(isna)
            # ids that came in as floats from Parquet (e.g. 12.0) are written as 12
            out[col] = vals.str.replace(r"\.0$", "", regex=True) if pd.api.types.is_float_dtype(raw) else vals
        elif kind in (C.DATE, C.PERIOD):
            if pd.api.types.is_datetime64_any_dtype(raw):
                parsed = pd.to_datetime(raw)
            else:
                parsed = pd.to_datetime(raw.astype("string").str.strip(), format="%Y-%m-%d", errors="coerce")
            bad = parsed.isna() & ~isna
            if bad.any():
                first = raw[bad].astype(str).head(3).tolist()
                problems.append(_problem(file_label, lab,
                                         f"date cannot be parsed (expected YYYY-MM-DD; got e.g. {first[0]!r})",
                                         bad, df))
            if kind == C.PERIOD:
                notfirst = parsed.notna() & (parsed.dt.day != 1)
                if notfirst.any():
                    ex = parsed[notfirst].iloc[0].strftime("%Y-%m-%d")
                    problems.append(_problem(file_label, lab,
                                             f"period must be the first day of a month or quarter (got e.g. {ex})",
                                             notfirst, df))
            out[col] = parsed.astype("datetime64[ns]")
        else:  # COUNT, INT
            num = pd.to_numeric(raw, errors="coerce") if not pd.api.types.is_numeric_dtype(raw) else raw
            num = num.astype(float)
            bad = num.isna() & ~isna
            if bad.any():
                ex = raw[bad].astype(str).iloc[0]
                problems.append(_problem(file_label, lab, f"value is not a number (got e.g. {ex!r})", bad, df))
            neg = num < 0
            if neg.any():
                problems.append(_problem(file_label, lab,
                                         f"count must not be negative (got e.g. {num[neg].iloc[0]:g})", neg, df))
            if kind == C.INT:
                frac = num.notna() & (num != np.round(num))
                if frac.any():
                    problems.append(_problem(file_label, lab, "value must be a whole number", frac, df))
            out[col] = num
    if spec.key and not problems:
        dup = out.duplicated(list(spec.key), keep=False)
        if dup.any():
            keys = ", ".join(spec.key)
            problems.append(_problem(file_label, _label(colmap, spec.key[-1]),
                                     f"duplicate rows for ({keys}): each combination may appear once", dup, df))
    out[LINE] = df[LINE] if LINE in df else [f"row {i + 1}" for i in range(len(df))]
    return out, problems


def check_relations(tables: dict, labels: dict, kinds: dict | None = None, topics=None) -> list:
    """Rules across tables: known practices, clusters and topics; numerator <= denominator for proportions.

    Parameters
    ----------
    tables : dict of name -> typed frame (from :func:`coerce_table`)
    labels : dict of name -> file label for messages
    kinds : dict indicator_id -> 'proportion' | 'rate' (unknown indicators are not checked for num <= den)
    topics : set of known topic ids, or None to skip the topic check
    """
    problems = []
    pr, cl, ac, me = (tables.get(k) for k in ("practices", "clusters", "activities", "measures"))
    if pr is not None and cl is not None:
        bad = pr["cluster_id"].notna() & ~pr["cluster_id"].isin(cl["cluster_id"])
        if bad.any():
            ex = pr.loc[bad, "cluster_id"].iloc[0]
            problems.append(_problem(labels["practices"], "cluster_id",
                                     f"practice's cluster is not in clusters (e.g. {ex!r})", bad, pr))
    if ac is not None and cl is not None and len(ac):
        bad = ~ac["cluster_id"].isin(cl["cluster_id"])
        if bad.any():
            ex = ac.loc[bad, "cluster_id"].iloc[0]
            problems.append(_problem(labels["activities"], "cluster_id",
                                     f"activity for a cluster not in clusters (e.g. {ex!r})", bad, ac))
    if ac is not None and topics is not None and len(ac):
        bad = ~ac["topic"].isin(list(topics))
        if bad.any():
            ex = ac.loc[bad, "topic"].iloc[0]
            known = ", ".join(sorted(topics))
            problems.append(_problem(labels["activities"], "topic",
                                     f"activity for an unknown topic (e.g. {ex!r}; known topics: {known})", bad, ac))
    for name in ("measures", "population"):
        t = tables.get(name)
        if t is not None and pr is not None:
            bad = ~t["practice_id"].isin(pr["practice_id"])
            if bad.any():
                ex = t.loc[bad, "practice_id"].iloc[0]
                problems.append(_problem(labels[name], "practice_id",
                                         f"{name} for a practice not in practices (e.g. {ex!r})", bad, t))
    if me is not None and kinds:
        props = [k for k, v in kinds.items() if v == "proportion"]
        bad = me["indicator_id"].isin(props) & (me["numerator"] > me["denominator"])
        if bad.any():
            r = me[bad].iloc[0]
            problems.append(_problem(
                labels["measures"], "numerator",
                f"numerator greater than denominator for a proportion indicator "
                f"(e.g. {r['indicator_id']}: {r['numerator']:g} > {r['denominator']:g})", bad, me))
    return problems


# ---------------------------------------------------------------------------------------------
# Configuration (params files): strict keys
# ---------------------------------------------------------------------------------------------

def check_keys(mapping, allowed, where: str, required=()) -> None:
    """Refuse unknown (misspelt) and missing keys in one section of a params file.

    The message names the section, the key, and the closest allowed key.
    """
    import difflib

    from .errors import ConfigError

    if not isinstance(mapping, dict):
        raise ConfigError(f"{where} must be a mapping of keys to values; got {type(mapping).__name__} {mapping!r}")
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), list(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; allowed keys: {', '.join(sorted(allowed))}"
            raise ConfigError(f"unknown key {key!r} in {where}{hint}")
    for key in required:
        if key not in mapping:
            raise ConfigError(f"missing key {key!r} in {where}")


def check_required(value, name: str, reason: str):
    """An optional argument that a particular use needs (``reason`` says which use) is given."""
    if value is None:
        raise ArgumentError(f"{name} is required {reason}; got None")
    return value


def check_positions(values, name: str, minimum: int = 1) -> np.ndarray:
    """Whole-number positions (1-based by default), e.g. points to freeze, break or exclude."""
    if values is None:
        return np.array([], dtype=int)
    arr = np.atleast_1d(np.asarray(values, dtype=object))
    out = []
    for v in arr:
        try:
            f = float(v)
        except (TypeError, ValueError) as exc:
            raise ArgumentError(f"{name} must hold whole numbers >= {minimum}; got {v!r}") from exc
        if not np.isfinite(f) or f != round(f) or f < minimum:
            raise ArgumentError(f"{name} must hold whole numbers >= {minimum}; got {v!r}")
        out.append(int(f))
    return np.array(out, dtype=int)


def check_whole_number(value, name: str, minimum: int = 1) -> int:
    """A scalar argument is a whole number of at least ``minimum`` (bools refused)."""
    ok = isinstance(value, int | np.integer | float | np.floating) and not isinstance(value, bool | np.bool_)
    if ok:
        f = float(value)
        ok = np.isfinite(f) and f == round(f) and f >= minimum
    if not ok:
        raise ArgumentError(f"{name} must be a whole number of at least {minimum}; got {value!r}")
    return int(value)


def check_columns(df, columns, where: str) -> list[str]:
    """Every named column is in the DataFrame; the message names the first missing one and lists the table's."""
    cols = [columns] if isinstance(columns, str) else list(columns)
    for col in cols:
        if col not in df.columns:
            have = ", ".join(repr(c) for c in df.columns)
            raise ArgumentError(f"{where}: column {col!r} not found; the table has columns {have}")
    return cols


# ---------------------------------------------------------------------------------------------
# Patient-level event tables (docs/events.md): checked out of core in DuckDB by the indicator engine
# ---------------------------------------------------------------------------------------------

def validate_events(events_dir, tables=None) -> None:
    """Check the patient-level event tables of a folder (patients, listings, prescriptions, lab_tests,
    diagnoses; those present, or ``tables``) without loading them into memory.

    Raises :class:`~cluster_eval.errors.InputError` with one Problem per broken rule (file, column,
    rule, first offending rows, count). The rules are those of ``docs/events.md``; the checks run in
    DuckDB (``cluster_eval.indicators.tables``) so that hundreds of millions of rows can be checked.
    """
    from pathlib import Path

    from .errors import InputError, Problem
    from .indicators.engine import connect
    from .indicators.tables import EVENT_TABLES, find_table, validate_tables

    events_dir = Path(events_dir)
    names = tuple(tables) if tables is not None else EVENT_TABLES
    readers, problems = {}, []
    for t in names:
        found = find_table(events_dir, t)
        if found is not None:
            readers[t] = found
        elif tables is not None:
            problems.append(Problem(f"{t}.parquet|csv", None, "table is missing from the events folder"))
    if problems:
        raise InputError(problems)
    if not readers:
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cluster_eval_duckdb_") as spill:
        con = connect(temp_directory=spill)
        try:
            validate_tables(con, readers)
        finally:
            con.close()
