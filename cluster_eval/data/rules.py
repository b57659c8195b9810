"""The data contract's rules (docs/data.md), checked on the tables of a data folder.

Every broken rule becomes a :class:`~cluster_eval.errors.Problem` naming file, column, rule and the first
offending rows; :func:`cluster_eval.data.load_dataset` collects them all and raises one
:class:`~cluster_eval.errors.InputError`. The tables and column kinds are declared in
:mod:`cluster_eval.data.contract`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import Problem
from . import contract as C

MAX_ROWS_SHOWN = 5
LINE = "__line__"
"""Hidden column carrying each row's location in its source file: a number, ``n > 0`` for "line n" of a CSV
file and ``-n`` for "row n" of a Parquet file (numbers, not text: a national table has tens of millions of
rows), or the label itself as text (e.g. "rows[3]" of inline rows). :func:`location` turns it into words."""


def location(value) -> str:
    """The words of a :data:`LINE` value: 7 -> "line 7", -7 -> "row 7", text as it is."""
    if isinstance(value, int | np.integer):
        return f"line {value}" if value > 0 else f"row {-value}"
    return str(value)


def csv_lines(n: int) -> np.ndarray:
    """:data:`LINE` values of ``n`` data rows of a CSV file with a header (lines 2 .. n + 1)."""
    return np.arange(2, n + 2, dtype=np.int64)


def table_rows(n: int) -> np.ndarray:
    """:data:`LINE` values of ``n`` rows of a table without line numbers, e.g. Parquet (rows 1 .. n)."""
    return -np.arange(1, n + 1, dtype=np.int64)


def problem(file, column, rule, mask=None, frame=None, rows=None, count=None) -> Problem:
    """A :class:`~cluster_eval.errors.Problem`; with ``mask`` (bad rows of ``frame``) its count and first rows."""
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(mask)
        count = int(idx.size)
        labels = frame[LINE].to_numpy()[idx[:MAX_ROWS_SHOWN]] if LINE in frame else idx[:MAX_ROWS_SHOWN] + 1
        rows = tuple(location(x) if LINE in frame else str(x) for x in labels)
    return Problem(str(file), column, rule, tuple(rows or ()), int(count or 0))


def check_file_bytes(path, label) -> list:
    """A file exists, is not empty and is UTF-8 text (CSV only). Returns problems."""
    path = Path(path)
    if not path.exists():
        return [problem(label, None, "file not found")]
    if path.suffix.lower() == ".parquet":
        return [] if path.stat().st_size else [problem(label, None, "file is empty")]
    if path.stat().st_size > _CHUNK and _large_text_ok(path):
        return []   # checked in chunks (a national measures file has hundreds of MB); else the whole file below
    data = path.read_bytes()
    if not data.strip() or data.strip() == b"\xef\xbb\xbf":
        return [problem(label, None, "file is empty (no header, no rows)")]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [problem(label, None,
                         f"file is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); "
                         "save it as UTF-8", rows=(f"line {line}",), count=1)]
    return []


_CHUNK = 1 << 24


def _large_text_ok(path: Path) -> bool:
    """Whether a file is UTF-8 text with something besides white space and a BOM, read 16 MiB at a time (not held
    whole in memory). False sends it to :func:`check_file_bytes`'s whole-file reading, which words the problem."""
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")()
    content = False
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                dec.decode(chunk)
            except UnicodeDecodeError:
                return False
            if not content:
                content = bool(chunk.replace(b"\xef\xbb\xbf", b"").strip())
    try:
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return content


def _label(colmap, col):
    src = colmap.get(col, col)
    return src if src == col else f"'{src}' (contract column '{col}')"


def coerce_table(df: pd.DataFrame, spec, file_label, colmap=None):
    """Check one table against its :class:`~cluster_eval.data.contract.TableSpec` and convert its types.

    ``df`` holds the raw values (strings from CSV, or typed Parquet columns) under contract names and a
    ``__line__`` column locating each row. ``colmap`` maps contract names to the user's source column
    names, for messages. Returns ``(typed frame or None, problems)``.
    """
    colmap = colmap or {}
    problems = []
    missing = [c for c in spec.required if c not in df.columns]
    if missing:
        for c in missing:
            problems.append(problem(file_label, _label(colmap, c), "required column is missing"))
        return None, problems
    if len(df) == 0 and not spec.allow_no_rows:
        return None, [problem(file_label, None, "file has a header but no data rows")]
    out = pd.DataFrame(index=df.index)
    for col, kind in spec.columns.items():
        if col not in df.columns:
            continue
        raw = df[col]
        lab = _label(colmap, col)
        text = raw.dtype == object or pd.api.types.is_string_dtype(raw)
        stripped = raw.astype("string").str.strip() if text else None   # once per column (millions of rows)
        isna = (raw.isna() | stripped.eq("").fillna(False)).astype(bool) if text else raw.isna()
        if col in spec.nonempty and isna.any():
            problems.append(problem(file_label, lab, "value is missing (empty cell)", isna, df))
        if kind in (C.ID, C.TEXT):
            vals = stripped if text else raw.astype("string").str.strip()
            vals = vals.mask(isna) if isna.any() else vals   # no copy of a full column
            # ids that came in as floats from Parquet (e.g. 12.0) are written as 12
            out[col] = vals.str.replace(r"\.0$", "", regex=True) if pd.api.types.is_float_dtype(raw) else vals
        elif kind in (C.DATE, C.PERIOD):
            if pd.api.types.is_datetime64_any_dtype(raw):
                parsed = pd.to_datetime(raw)
            else:
                parsed = pd.to_datetime(stripped if text else raw.astype("string").str.strip(), format="%Y-%m-%d",
                                        errors="coerce")
            bad = parsed.isna() & ~isna
            if bad.any():
                first = raw[bad].astype(str).head(3).tolist()
                problems.append(problem(file_label, lab,
                                         f"date cannot be parsed (expected YYYY-MM-DD; got e.g. {first[0]!r})",
                                         bad, df))
            if kind == C.PERIOD:
                notfirst = parsed.notna() & (parsed.dt.day != 1)
                if notfirst.any():
                    ex = parsed[notfirst].iloc[0].strftime("%Y-%m-%d")
                    problems.append(problem(file_label, lab,
                                             f"period must be the first day of a month or quarter (got e.g. {ex})",
                                             notfirst, df))
            out[col] = parsed.astype("datetime64[ns]")
        else:  # COUNT, INT
            num = pd.to_numeric(raw, errors="coerce") if not pd.api.types.is_numeric_dtype(raw) else raw
            num = num.astype(float)
            bad = num.isna() & ~isna
            if bad.any():
                ex = raw[bad].astype(str).iloc[0]
                problems.append(problem(file_label, lab, f"value is not a number (got e.g. {ex!r})", bad, df))
            inf = np.isinf(num)
            if inf.any():   # "1e400", "inf", "-inf" parse as numbers but are no count
                ex = raw[inf].astype(str).iloc[0]
                problems.append(problem(file_label, lab, f"value must be a finite number (got e.g. {ex!r})", inf, df))
            neg = (num < 0) & ~inf
            if neg.any():
                problems.append(problem(file_label, lab,
                                         f"count must not be negative (got e.g. {num[neg].iloc[0]:g})", neg, df))
            if kind == C.INT:
                frac = num.notna() & (num != np.round(num))
                if frac.any():
                    problems.append(problem(file_label, lab, "value must be a whole number", frac, df))
            out[col] = num
    if spec.key and not problems:
        dup = out.duplicated(list(spec.key), keep=False)
        if dup.any():
            keys = ", ".join(spec.key)
            problems.append(problem(file_label, _label(colmap, spec.key[-1]),
                                     f"duplicate rows for ({keys}): each combination may appear once", dup, df))
    out[LINE] = df[LINE] if LINE in df else table_rows(len(df))
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
            problems.append(problem(labels["practices"], "cluster_id",
                                     f"practice's cluster is not in clusters (e.g. {ex!r})", bad, pr))
    if ac is not None and cl is not None and len(ac):
        bad = ~ac["cluster_id"].isin(cl["cluster_id"])
        if bad.any():
            ex = ac.loc[bad, "cluster_id"].iloc[0]
            problems.append(problem(labels["activities"], "cluster_id",
                                     f"activity for a cluster not in clusters (e.g. {ex!r})", bad, ac))
    if ac is not None and topics is not None and len(ac):
        bad = ~ac["topic"].isin(list(topics))
        if bad.any():
            ex = ac.loc[bad, "topic"].iloc[0]
            known = ", ".join(sorted(topics))
            problems.append(problem(labels["activities"], "topic",
                                     f"activity for an unknown topic (e.g. {ex!r}; known topics: {known})", bad, ac))
    for name in ("measures", "population"):
        t = tables.get(name)
        if t is not None and pr is not None:
            bad = ~t["practice_id"].isin(pr["practice_id"])
            if bad.any():
                ex = t.loc[bad, "practice_id"].iloc[0]
                problems.append(problem(labels[name], "practice_id",
                                         f"{name} for a practice not in practices (e.g. {ex!r})", bad, t))
    if me is not None and kinds:
        props = [k for k, v in kinds.items() if v == "proportion"]
        bad = me["indicator_id"].isin(props) & (me["numerator"] > me["denominator"])
        if bad.any():
            r = me[bad].iloc[0]
            problems.append(problem(
                labels["measures"], "numerator",
                f"numerator greater than denominator for a proportion indicator "
                f"(e.g. {r['indicator_id']}: {r['numerator']:g} > {r['denominator']:g})", bad, me))
    return problems
