"""The output audit: an independent check that nothing written to a run folder shows a small count.

It reads what was written, not what the pipeline meant to write: every HTML page (its ``<table>`` elements
and every element carrying ``data-count``), Parquet and CSV table, JSON file and executed notebook
(``.ipynb``: the HTML of its outputs) under the folder. It shares no code with :mod:`cluster_eval.disclosure`.

Which cells hold counts (the convention reports follow)
-------------------------------------------------------
1. **Declared**: a Parquet table's ``count_columns`` (pandas ``attrs``, stored by ``DataFrame.to_parquet``
   in the schema metadata); an HTML cell (``td``/``th``) with the class ``count`` or a ``data-count``
   attribute (its value is the number shown, e.g. ``<td class="count" data-count="12">12</td>``); an HTML
   column whose header cell has the class ``count`` or a ``data-count`` attribute.
2. **By name** (column names, HTML headers, JSON keys), after lower-casing and turning every run of
   non-letters into ``_``: a name is a count if one of its words is a count word (``numerator``,
   ``denominator``, ``count``, ``n``, ``persons``, ``patients``, ``people``, ``events``, ``cases``,
   ``prescriptions``, ``deaths``, ``admissions``, ``listed``, ``population``, Danish
   ``antal``, ``personer``, ``patienter``, ``borgere``, ``tæller``, ``nævner``), so ``n_patients``,
   ``persons_65plus``, ``event_count`` are counts; unless one of its words says it is something else
   (a rate or statistic: ``rate``, ``share``, ``per``, ``pct``, ``mean``, ``lower`` ...; a unit that is not
   a person: ``practices``, ``clusters``, ``reports``, ``months``, ``meetings``, ``runs``, ``crossings``
   ...; see :data:`NOT_COUNT_WORDS`) or it holds ``%``. So ``patients_per_1000``, ``n_practices`` and
   ``share (%)`` are not counts. In a row-oriented table (a label cell, then values) the row's label is
   read the same way: the row ``Listed patients | 12,400`` holds a count.

Rules (a :class:`Finding` names file, location, value and rule)
--------------------------------------------------------------
* ``small count``: a count cell shows a number above 0 and below ``threshold + 1`` (default: 1 to 4). In
  HTML only whole numbers are read as counts (``2.5`` in a count column is a statistic); in tables every
  number is.
* ``small complement``: a row shows both ``numerator`` and ``denominator`` and their difference is a
  small count (the persons without the attribute).
* ``value from a hidden count``: a row hides its numerator or denominator but shows a value, rate,
  proportion or limit computed from it.
* ``recoverable from total``: in a table with a total row or column (a label ``Total``, ``I alt``,
  ``All``, ``Overall``, ``Samlet``), a published total whose parts hide exactly one count (or a hidden
  total whose parts are all shown): the hidden cell is the total minus the others.
* ``unreadable``: a table file that cannot be read is reported, not skipped: it cannot be checked.

What it does not see: numbers in running text and in images (figures must be drawn from suppressed
tables), and totals that can only be matched across two different files.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ArgumentError
from .validation import check_whole_number

THRESHOLD = 4
"""Counts from 1 to THRESHOLD may not be shown (Statistics Denmark: no cell below 5 persons)."""

COUNT_WORDS = frozenset({
    "numerator", "denominator", "count", "counts", "n", "persons", "patients", "people", "events", "cases",
    "prescriptions", "deaths", "admissions", "listed", "population", "antal", "personer",
    "patienter", "borgere", "tæller", "nævner"})
NOT_COUNT_WORDS = frozenset({
    # statistics
    "rate", "rates", "share", "pct", "percent", "percentage", "proportion", "prop", "per", "mean", "median",
    "avg", "average", "ratio", "value", "lower", "upper", "ci", "sd", "se", "z", "score", "limit", "lcl",
    "ucl", "cl", "std", "standardised", "standardized", "dsr", "isr", "phi", "tau", "p", "rank",
    "percentile", "expected", "effect", "threshold", "rounding", "suppressed", "reason", "mde",
    # units that are not persons
    "practices", "practice", "clusters", "cluster", "reports", "report", "periods", "period", "months",
    "month", "quarters", "years", "year", "weeks", "days", "topics", "topic", "indicators", "indicator",
    "units", "jobs", "files", "meetings", "signals", "signal", "runs", "run", "longest", "crossings",
    "crossing", "useful", "obs", "observations", "points", "rows", "regions", "municipalities", "id",
    "seconds", "duration", "bytes", "version", "hash", "iterations", "workers", "failed", "ok", "skipped",
    "lag", "window", "draws", "bootstrap", "groups", "group", "timeout", "grid",
    # units of the impact models (practices)
    "treated", "control", "controls", "comparison"})
DERIVED_WORDS = frozenset({"value", "rate", "proportion", "share", "pct", "percent", "lower", "upper", "z",
                           "ratio", "dsr", "isr", "percentile"})
TOTAL_WORDS = frozenset({"total", "i alt", "all", "overall", "samlet", "alle", "national total"})

RULE_SMALL = "small count"
RULE_COMPLEMENT = "small complement"
RULE_DERIVED = "value from a hidden count"
RULE_RECOVERABLE = "recoverable from total"
RULE_UNREADABLE = "unreadable"

KINDS = {".html": "html", ".htm": "html", ".parquet": "parquet", ".pq": "parquet", ".csv": "csv",
         ".json": "json", ".ipynb": "ipynb"}


@dataclass(frozen=True)
class Finding:
    """One cell that breaks a disclosure rule.

    Attributes
    ----------
    file : str
        Path relative to the audited folder.
    location : str
        Where in the file: ``table 2 ('Practices'), row 3 ('P0012'), column 'numerator'``; ``row 17
        (practice_id='P0012', period='2024-01-01'), column 'numerator'``; ``$.clusters[3].n_patients``.
    value : object
        The value as written.
    rule : str
        One of the ``RULE_*`` names.
    """

    file: str
    location: str
    value: object
    rule: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.location}" if self.location else self.file
        return f"{where}: {self.value!r} ({self.rule})"


# ---------------------------------------------------------------------------------------------
# Names and numbers
# ---------------------------------------------------------------------------------------------

def _words(name) -> list[str]:
    return [w for w in re.split(r"[^\w]+|_", str(name).lower()) if w]


def is_count_name(name) -> bool:
    """Whether a column name, header or key names a person count (see the module docstring)."""
    if "%" in str(name):
        return False
    words = _words(name)
    return any(w in COUNT_WORDS for w in words) and not any(w in NOT_COUNT_WORDS for w in words)


def _is_derived_name(name) -> bool:
    return any(w in DERIVED_WORDS for w in _words(name)) and not is_count_name(name)


def _is_total_label(text) -> bool:
    return str(text).strip().lower() in TOTAL_WORDS


_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+")
_PLAIN = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_LEADING = re.compile(r"([-+]?\d[\d,.\u00a0\u202f ]*?)\s*\([^()]*%\s*\)")


def parse_number(text) -> float | None:
    """The number a cell shows: ``12``, ``1,234``, ``1.234`` (Danish thousands), ``3,5``, ``12 (4.1%)``.

    Percentages, estimates with intervals (``0.48 (-0.90 to 1.86)``) and text return None.
    """
    t = str(text).strip().replace("\u2212", "-")
    if not t or "%" in t.split("(")[0]:
        return None
    if _THOUSANDS.fullmatch(t):
        return float(re.sub(r"[,.\u00a0\u202f ]", "", t))
    if _PLAIN.fullmatch(t):
        return float(t.replace(",", "."))
    m = _LEADING.match(t)
    if m:
        return parse_number(m.group(1).strip())
    return None


def _small(v, threshold) -> bool:
    return v is not None and 0 < v < threshold + 1


# ---------------------------------------------------------------------------------------------
# Tables (Parquet, CSV, JSON tables)
# ---------------------------------------------------------------------------------------------

def _key_columns(df: pd.DataFrame, exclude=()) -> list[str]:
    out = []
    for c in df.columns:
        if c in exclude or c == "suppressed_reason":
            continue
        dt = df[c].dtype
        if pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt):
            continue
        out.append(c)
    return out


def _row_label(df: pd.DataFrame, i: int, keys: list[str]) -> str:
    parts = []
    for k in keys[:4]:
        v = df[k].iloc[i]
        if isinstance(v, pd.Timestamp):
            v = v.strftime("%Y-%m-%d")
        parts.append(f"{k}={v!r}" if not isinstance(v, str) else f"{k}={v!r}")
    return f"row {i + 1}" + (f" ({', '.join(parts)})" if parts else "")


def audit_frame(df: pd.DataFrame, file: str, threshold: int = THRESHOLD, declared=()) -> list[Finding]:
    """Findings in one table (already read). Rows are numbered from 1 as in the file."""
    df = df.reset_index(drop=True)
    counts = [c for c in df.columns if c in set(declared) or is_count_name(c)]
    keys = _key_columns(df, exclude=counts)
    num = {}
    for c in counts:
        num[c] = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    found: list[tuple[int, str, object, str]] = []
    for c in counts:
        for i in np.flatnonzero((num[c] > 0) & (num[c] < threshold + 1)):
            found.append((i, c, df[c].iloc[i], RULE_SMALL))
    if "numerator" in num and "denominator" in num:
        diff = num["denominator"] - num["numerator"]
        for i in np.flatnonzero((diff > 0) & (diff < threshold + 1)):
            found.append((i, "denominator - numerator", float(diff[i]), RULE_COMPLEMENT))
        hidden = np.isnan(num["numerator"]) | np.isnan(num["denominator"])
        for c in df.columns:
            if c in counts or not _is_derived_name(c) or not pd.api.types.is_numeric_dtype(df[c].dtype):
                continue
            vals = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            for i in np.flatnonzero(hidden & ~np.isnan(vals)):
                found.append((i, c, df[c].iloc[i], RULE_DERIVED))
    found += _recoverable_in_frame(df, counts, num, keys)
    return [Finding(file, f"{_row_label(df, i, keys)}, column {c!r}", _plain(v), rule)
            for i, c, v, rule in sorted(found, key=lambda f: (f[0], str(f[1])))]


def _recoverable_in_frame(df, counts, num, keys) -> list:
    out = []
    for d in keys:
        if pd.api.types.is_datetime64_any_dtype(df[d].dtype):
            continue
        labels = df[d]
        if isinstance(labels.dtype, pd.CategoricalDtype):
            labels = labels.astype(object)
        is_tot = labels.astype("string").str.strip().str.lower().isin(TOTAL_WORDS).fillna(False) \
            .to_numpy(dtype=bool)
        if not is_tot.any():
            continue
        others = [k for k in keys if k != d]
        gid = df.groupby(others, dropna=False, sort=False).ngroup().to_numpy() if others \
            else np.zeros(len(df), dtype=int)
        for c in counts:
            hid = np.isnan(num[c])
            n_tot = np.bincount(gid, weights=is_tot)
            tot_hidden = np.bincount(gid, weights=is_tot & hid) > 0
            part_hidden = np.bincount(gid, weights=~is_tot & hid)
            n_parts = np.bincount(gid, weights=~is_tot)
            bad = (n_tot == 1) & (n_parts >= 1) & (part_hidden + tot_hidden == 1)
            for i in np.flatnonzero(bad[gid] & hid):
                out.append((i, c, None, RULE_RECOVERABLE))
    return out


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _declared_parquet_counts(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"PANDAS_ATTRS")
    if not raw:
        return []
    try:
        attrs = json.loads(raw)
    except ValueError:
        return []
    cols = attrs.get("count_columns", []) if isinstance(attrs, dict) else []
    return [str(c) for c in cols] if isinstance(cols, list) else []


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

class _Tables(HTMLParser):
    """Collects tables (rows of cells with tag, attributes and text), headings, and data-count values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self.stack, self.heading, self.marked = [], [], "", []
        self._cell = None
        self._skip = 0
        self._head_text = None
        self._in_thead = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if "data-count" in a and tag not in ("td", "th"):
            self.marked.append((tag, a.get("data-count")))
        if tag in ("h1", "h2", "h3", "h4"):
            self._head_text = []
        elif tag == "table":
            self.stack.append({"rows": [], "heading": self.heading, "thead": set()})
        elif tag == "thead" and self.stack:
            self._in_thead = True
        elif tag == "tr" and self.stack:
            t = self.stack[-1]
            t["rows"].append([])
            if self._in_thead:
                t["thead"].add(len(t["rows"]) - 1)
        elif tag in ("td", "th") and self.stack and self.stack[-1]["rows"]:
            self._cell = {"tag": tag, "attrs": a, "text": []}
            self.stack[-1]["rows"][-1].append(self._cell)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("h1", "h2", "h3", "h4") and self._head_text is not None:
            self.heading = " ".join("".join(self._head_text).split())
            self._head_text = None
        elif tag == "thead":
            self._in_thead = False
        elif tag in ("td", "th"):
            self._cell = None
        elif tag == "table" and self.stack:
            self.tables.append(self.stack.pop())

    def handle_data(self, data):
        if self._skip:
            return
        if self._cell is not None:
            self._cell["text"].append(data)
        if self._head_text is not None:
            self._head_text.append(data)


def _grid(rows):
    """Expand colspan/rowspan into a rectangular grid of cells (a spanned cell repeats)."""
    grid, pending = [], {}
    for r, row in enumerate(rows):
        out, col, it = [], 0, iter(row)
        while True:
            while (r, col) in pending:
                out.append(pending.pop((r, col)))
                col += 1
            cell = next(it, None)
            if cell is None:
                break
            cell["text"] = " ".join("".join(cell["text"]).split()) if isinstance(cell["text"], list) \
                else cell["text"]
            span_c = int(re.sub(r"\D", "", str(cell["attrs"].get("colspan", "1"))) or 1)
            span_r = int(re.sub(r"\D", "", str(cell["attrs"].get("rowspan", "1"))) or 1)
            for k in range(span_c):
                out.append(cell if k == 0 else dict(cell, spanned=True))
                for rr in range(1, span_r):
                    pending[(r + rr, col + k)] = dict(cell, spanned=True)
            col += span_c
        grid.append(out)
    return grid


def _marked(cell) -> bool:
    a = cell["attrs"]
    return "data-count" in a or "count" in str(a.get("class", "")).split()


def audit_html(text: str, file: str, threshold: int = THRESHOLD, where: str = "") -> list[Finding]:
    """Findings in one HTML document: every table, and every element with a ``data-count`` attribute."""
    p = _Tables()
    p.feed(text)
    p.close()
    found = []
    for tag, val in p.marked:
        v = parse_number(val)
        if _small(v, threshold):
            found.append(Finding(file, f"{where}<{tag} data-count>", val, RULE_SMALL))
    for k, table in enumerate(p.tables, start=1):
        found += _audit_html_table(table, k, file, threshold, where)
    return found


def _audit_html_table(table, k, file, threshold, where) -> list[Finding]:
    grid = _grid(table["rows"])
    if not grid:
        return []
    ncol = max(len(r) for r in grid)
    head = set(table["thead"])
    if not head:
        for i, row in enumerate(grid):
            if row and all(c["tag"] == "th" for c in row):
                head.add(i)
            else:
                break
    names = [[] for _ in range(ncol)]
    col_marked = [False] * ncol
    for i in sorted(head):
        for j, c in enumerate(grid[i]):
            if c["text"]:
                names[j].append(c["text"])
            col_marked[j] |= _marked(c)
    name = [" / ".join(n) for n in names]
    count_col = [col_marked[j] or any(is_count_name(n) for n in names[j]) for j in range(ncol)]
    label = f"table {k}" + (f" ({table['heading']!r})" if table["heading"] else "")
    body = [i for i in range(len(grid)) if i not in head]
    found, shown = [], {}
    for i in body:
        row = grid[i]
        rlabel = next((c["text"] for c in row if c["tag"] == "th" and c["text"]), row[0]["text"] if row else "")
        # a row-oriented table (label | value): the row's label may name a count
        count_row = bool(row) and is_count_name(row[0]["text"]) and not _is_total_label(row[0]["text"])
        for j, c in enumerate(row):
            if c.get("spanned"):
                continue
            is_count = _marked(c) or ((count_col[j] or (count_row and j > 0)) and c["tag"] == "td")
            if not is_count:
                continue
            v = parse_number(c["text"])
            loc = f"{where}{label}, row {i + 1} ({rlabel!r}), column {name[j] or j + 1!r}"
            shown[(i, j)] = v
            if _small(v, threshold) and v == round(v):  # a shown fraction is a statistic, not a count
                found.append(Finding(file, loc, c["text"], RULE_SMALL))
            dv = parse_number(c["attrs"].get("data-count", "")) if "data-count" in c["attrs"] else None
            if _small(dv, threshold) and not _small(v, threshold):
                found.append(Finding(file, loc + " data-count", c["attrs"]["data-count"], RULE_SMALL))
    # recoverable from a total row / total column
    tot_rows = [i for i in body if grid[i] and _is_total_label(grid[i][0]["text"])]
    tot_cols = [j for j in range(ncol) if any(_is_total_label(n) for n in names[j])]
    for t in tot_rows[:1]:
        for j in range(ncol):
            cells = [(i, j) for i in body if i != t and (i, j) in shown]
            if (t, j) not in shown or not cells:
                continue
            found += _line(cells, (t, j), shown, grid, file, where, label, name)
    for t in tot_cols[:1]:
        for i in body:
            cells = [(i, j) for j in range(ncol) if j != t and (i, j) in shown]
            if (i, t) not in shown or not cells:
                continue
            found += _line(cells, (i, t), shown, grid, file, where, label, name)
    return found


def _line(parts, total, shown, grid, file, where, label, name) -> list[Finding]:
    hidden = [c for c in parts + [total] if shown[c] is None and grid[c[0]][c[1]]["text"] != ""]
    if len(hidden) != 1:
        return []
    i, j = hidden[0]
    loc = f"{where}{label}, row {i + 1} ({grid[i][0]['text']!r}), column {name[j] or j + 1!r}"
    return [Finding(file, loc, grid[i][j]["text"], RULE_RECOVERABLE)]


# ---------------------------------------------------------------------------------------------
# JSON and notebooks
# ---------------------------------------------------------------------------------------------

def audit_json(obj, file: str, threshold: int = THRESHOLD) -> list[Finding]:
    """Findings in a parsed JSON document: numbers under count-named keys, and pandas 'split' tables."""
    found = []

    def walk(x, path, counted):
        if isinstance(x, dict):
            if isinstance(x.get("columns"), list) and isinstance(x.get("data"), list):
                try:
                    df = pd.DataFrame(x["data"], columns=x["columns"])
                except (ValueError, TypeError):
                    df = None
                if df is not None:
                    for f in audit_frame(df, file, threshold):
                        found.append(Finding(file, f"{path}: {f.location}", f.value, f.rule))
                    return
            for key, v in x.items():
                walk(v, f"{path}.{key}", is_count_name(key))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]", counted)
        elif counted and isinstance(x, int | float) and not isinstance(x, bool):
            if _small(float(x), threshold):
                found.append(Finding(file, path, x, RULE_SMALL))

    walk(obj, "$", False)
    return found


def audit_notebook(nb: dict, file: str, threshold: int = THRESHOLD) -> list[Finding]:
    """Findings in the HTML outputs of an executed notebook."""
    found = []
    for c, cell in enumerate(nb.get("cells", []), start=1):
        for o, out in enumerate(cell.get("outputs", []) or [], start=1):
            html = (out.get("data") or {}).get("text/html")
            if html:
                text = "".join(html) if isinstance(html, list) else str(html)
                found += audit_html(text, file, threshold, where=f"cell {c}, output {o}: ")
    return found


# ---------------------------------------------------------------------------------------------
# A folder
# ---------------------------------------------------------------------------------------------

def _kind(path: Path) -> str | None:
    for suffix in reversed([s.lower() for s in path.suffixes]):
        if suffix in KINDS:
            return KINDS[suffix]
    return None


def audit_file(path, root=None, threshold: int = THRESHOLD) -> list[Finding]:
    """Findings in one file (an unknown file type gives none; an unreadable table gives one finding)."""
    path = Path(path)
    name = str(path.relative_to(root)) if root else str(path)
    kind = _kind(path)
    try:
        if kind == "html":
            return audit_html(path.read_text(encoding="utf-8", errors="replace"), name, threshold)
        if kind == "parquet":
            return audit_frame(pd.read_parquet(path), name, threshold, _declared_parquet_counts(path))
        if kind == "csv":
            return audit_frame(pd.read_csv(path, low_memory=False), name, threshold)
        if kind == "json":
            return audit_json(json.loads(path.read_text(encoding="utf-8")), name, threshold)
        if kind == "ipynb":
            return audit_notebook(json.loads(path.read_text(encoding="utf-8")), name, threshold)
    except Exception as exc:  # noqa: BLE001 - any failure to read means the file was not checked
        return [Finding(name, "", f"{type(exc).__name__}: {exc}", RULE_UNREADABLE)]
    return []


def audit_dir(path, threshold: int = THRESHOLD) -> list[Finding]:
    """Audit every output file under a run folder.

    Parameters
    ----------
    path : str or Path
        The run folder (e.g. ``outputs/demo``); every file below it is read.
    threshold : int, default 4
        Counts from 1 to ``threshold`` may not be shown.

    Returns
    -------
    list of Finding
        Empty when the folder is clean.
    """
    threshold = check_whole_number(threshold, "threshold", minimum=1)
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    found = []
    for f in files:
        found += audit_file(f, root, threshold)
    return found


def _manifest_threshold(root: Path) -> int | None:
    try:
        m = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        t = m["params"]["disclosure"]["threshold"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(t) if isinstance(t, int) and not isinstance(t, bool) else None


def main_audit(path, threshold: int | None = None, out=None, limit: int = 200) -> int:
    """``cluster-eval audit OUTPUT_DIR``: print the findings; exit status 0 clean, 1 findings, 2 bad arguments.

    The threshold is the larger of ``threshold`` (default 4) and the run's own
    ``params.disclosure.threshold`` in ``manifest.json``.
    """
    out = out or sys.stdout
    root = Path(path)
    if not root.is_dir():
        print(f"audit: {str(path)!r} is not a folder", file=out)
        return 2
    try:
        thr = max(check_whole_number(THRESHOLD if threshold is None else threshold, "threshold", minimum=1),
                  _manifest_threshold(root) or 0)
    except ArgumentError as exc:
        print(f"audit: {exc}", file=out)
        return 2
    files = [p for p in root.rglob("*") if p.is_file()]
    checked = sum(_kind(p) is not None for p in files)
    found = audit_dir(root, thr)
    for f in found[:limit]:
        print(str(f), file=out)
    if len(found) > limit:
        print(f"... and {len(found) - limit} more", file=out)
    n_files = len({f.file for f in found})
    status = "clean" if not found else f"{len(found)} finding{'s' if len(found) != 1 else ''} in {n_files} " \
        f"file{'s' if n_files != 1 else ''}"
    print(f"audit: {status} ({checked} files checked, {len(files) - checked} other files not read; "
          f"counts 1-{thr} are not allowed)", file=out)
    return 1 if found else 0
