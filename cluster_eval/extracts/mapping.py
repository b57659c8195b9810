"""The params ``events:`` section: how register extracts map onto the engine's event tables.

::

    events:
      folder: "{root}/outputs/register_extracts"  # base of relative file names ({shared}, {root}, ~, $VARS)
      patient_id: text                  # output type of patient_id: text (default) or integer
      tables:
        prescriptions:                  # one of patients, listings, prescriptions, lab_tests, diagnoses
          folder: lmdb                  # or file: one file, or files: [a list]
          pattern: "lmdb_*.csv.gz"      # with folder: which files (default: every file)
          format: csv                   # default from the suffix: sas7bdat, xpt, dta, parquet, csv (.gz)
          encoding: cp1252              # text encoding (CSV, SAS, Stata); CSV default: sniffed
          sep: ";"                      # CSV separator (default: sniffed); quote: '"'
          decimal: ","                  # decimal mark of numbers held as text (default "," if sep is ";")
          columns: {patient_id: PNR, date: EKSD, atc: ATC, packages: APK}   # engine column: extract column
          derived: {ddd: "APK * VOLUME"}                                     # arithmetic over extract columns
          constant: {}                  # engine column: one value for every row
          values: {}                    # engine column: {extract value: engine value}, e.g. sex {1: M, 2: F}
          dates: "%d-%m-%Y"             # every date column; or sas (days since 1960-01-01); or per column
        diagnoses:
          parts:                        # one table from several extracts, each mapped on its own
            - {file: lpr_diag.sas7bdat, columns: {...}, constant: {system: ICD10}}
            - {file: gp_diag.parquet, columns: {...}, constant: {system: ICPC2}}

The engine columns of each table are those of docs/events.md; a table may be given by any of the keys
above, every required column must be mapped, and every key is checked strictly (closest key suggested).
"""
from __future__ import annotations

import codecs
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..data.mapping import expand_path
from ..data.params import check_keys, read_params_file
from ..errors import ConfigError
from ..indicators.tables import DATE_COLUMNS, EVENT_TABLES, NUMBER_COLUMNS
from .expressions import columns_of, parse_expression

EVENTS_KEYS = {"folder", "tables", "patient_id"}
PART_KEYS = {"file", "files", "folder", "pattern", "format", "encoding", "sep", "quote", "decimal", "columns",
             "derived", "constant", "values", "dates"}
FORMATS = {".sas7bdat": "sas7bdat", ".xpt": "xpt", ".xport": "xpt", ".dta": "dta", ".parquet": "parquet",
           ".pq": "parquet", ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".csv.gz": "csv", ".txt.gz": "csv",
           ".tsv.gz": "csv"}
FORMAT_NAMES = ("sas7bdat", "xpt", "dta", "parquet", "csv")
SAS_DATES = "sas"
SAS_EPOCH = "1960-01-01"


def format_of(path: Path) -> str | None:
    """The reader for a file, from its suffix (``.csv.gz`` counts as CSV)."""
    name = path.name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    return None


@dataclass(frozen=True)
class Part:
    """One extract (one or more files with one mapping) feeding an event table."""

    table: str
    where: str                       # path in the params file (events.tables.<table>), for messages
    files: tuple[Path, ...]
    fmt: str
    encoding: str | None = None
    sep: str | None = None
    quote: str = '"'
    decimal: str | None = None
    columns: dict = field(default_factory=dict)     # engine column -> extract column
    derived: dict = field(default_factory=dict)     # engine column -> expression text
    constant: dict = field(default_factory=dict)    # engine column -> value
    values: dict = field(default_factory=dict)      # engine column -> {extract value (text): engine value}
    dates: dict = field(default_factory=dict)       # engine date column -> strftime format or 'sas'

    def source_columns(self) -> list[str]:
        """Every extract column the mapping reads."""
        out = list(dict.fromkeys(self.columns.values()))
        for text in self.derived.values():
            out += [c for c in columns_of(parse_expression(text, f"params '{self.where}'")) if c not in out]
        return out

    def key(self) -> str:
        """The mapping as canonical text (part of the skip-if-unchanged hash)."""
        d = {k: getattr(self, k) for k in ("fmt", "encoding", "sep", "quote", "decimal", "columns", "derived",
                                           "constant", "values", "dates")}
        d["files"] = [str(p) for p in self.files]
        return json.dumps(d, sort_keys=True, default=str)


@dataclass(frozen=True)
class Extracts:
    """The validated ``events:`` section."""

    tables: dict[str, tuple[Part, ...]]
    patient_id: str = "text"
    base: Path = Path(".")


def load_extracts(params) -> Extracts:
    """Validate a params file (path) or dict with an ``events:`` section; return :class:`Extracts`.

    Raises
    ------
    ConfigError
        Unknown or missing keys, unknown engine columns, required columns not mapped, bad expressions,
        formats, encodings or date formats, files that do not exist.
    """
    base = Path.cwd()
    if isinstance(params, str | os.PathLike):
        params, base = read_params_file(params)
    if not isinstance(params, dict) or "events" not in params:
        raise ConfigError("params has no 'events' section (it maps the register extracts onto the event tables; "
                          "see docs/data.md)")
    base = Path(params.get("_base", base))
    ev = params["events"]
    check_keys(ev, EVENTS_KEYS, "params 'events'", required=("tables",))
    folder = expand_path(ev.get("folder", "."), base)
    if not folder.is_dir():
        raise ConfigError(f"params 'events.folder': folder not found: {folder}")
    id_type = ev.get("patient_id", "text")
    if id_type not in ("text", "integer"):
        raise ConfigError(f"params 'events.patient_id' must be 'text' or 'integer'; got {id_type!r}")
    tables = ev["tables"]
    check_keys(tables, set(EVENT_TABLES), "params 'events.tables'", required=("patients", "listings"))
    out = {}
    for name, spec in tables.items():
        where = f"events.tables.{name}"
        if isinstance(spec, dict) and "parts" in spec:
            check_keys(spec, {"parts"}, f"params '{where}'")
            if not isinstance(spec["parts"], list) or not spec["parts"]:
                raise ConfigError(f"params '{where}.parts' must be a non-empty list of extract mappings")
            out[name] = tuple(_part(name, p, f"events.tables.{name}.parts[{i}]", folder)
                              for i, p in enumerate(spec["parts"]))
        else:
            out[name] = (_part(name, spec, where, folder),)
    return Extracts(out, id_type, folder)


def _files(spec: dict, where: str, folder: Path) -> tuple[Path, ...]:
    given = [k for k in ("file", "files", "folder") if k in spec]
    if len(given) != 1:
        raise ConfigError(f"params '{where}' needs exactly one of 'file', 'files' or 'folder'"
                          + (f"; got {', '.join(given)}" if given else ""))
    if "pattern" in spec and "folder" not in spec:
        raise ConfigError(f"params '{where}.pattern' applies only with 'folder'")
    key = given[0]
    if key == "folder":
        d = expand_path(spec["folder"], folder)
        if not d.is_dir():
            raise ConfigError(f"params '{where}.folder': folder not found: {d}")
        pattern = spec.get("pattern", "*")
        files = sorted(p for p in d.glob(pattern) if p.is_file() and not p.name.startswith("."))
        if not files:
            raise ConfigError(f"params '{where}.folder': no files matching {pattern!r} in {d}")
        return tuple(files)
    names = spec[key] if key == "files" else [spec[key]]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"params '{where}.{key}' must be {'a list of file names' if key == 'files' else 'a file name'}; "
                          f"got {spec[key]!r}")
    files = tuple(expand_path(n, folder) for n in names)
    for p in files:
        if not p.is_file():
            raise ConfigError(f"params '{where}.{key}': file not found: {p}")
    return files


def _mapping(spec, key, where) -> dict:
    value = spec.get(key)
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise ConfigError(f"params '{where}.{key}' must map engine columns to values; got {value!r}")
    return value


def _part(table: str, spec, where: str, folder: Path) -> Part:
    check_keys(spec, PART_KEYS, f"params '{where}'")
    files = _files(spec, where, folder)
    fmt = spec.get("format")
    if fmt is not None and fmt not in FORMAT_NAMES:
        raise ConfigError(f"params '{where}.format' must be one of {', '.join(FORMAT_NAMES)}; got {fmt!r}")
    if fmt is None:
        fmts = {format_of(p) for p in files}
        if None in fmts:
            bad = next(p for p in files if format_of(p) is None)
            raise ConfigError(f"params '{where}': cannot tell the format of {bad.name} from its name; say format: one of "
                              f"{', '.join(FORMAT_NAMES)}")
        if len(fmts) > 1:
            raise ConfigError(f"params '{where}': the files have different formats ({', '.join(sorted(fmts))}); "
                              "map each format as its own entry under 'parts'")
        fmt = fmts.pop()
    encoding = spec.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(str(encoding))
        except LookupError:
            raise ConfigError(f"params '{where}.encoding': unknown text encoding {encoding!r} (e.g. utf-8, cp1252, "
                              "latin-1)") from None
    for key, allowed in (("sep", None), ("quote", None), ("decimal", (".", ","))):
        v = spec.get(key)
        if v is not None and (not isinstance(v, str) or len(v) != 1 or (allowed and v not in allowed)):
            rule = "'.' or ','" if allowed else "one character"
            raise ConfigError(f"params '{where}.{key}' must be {rule}; got {v!r}")
    required, optional = EVENT_TABLES[table]
    known = set(required) | set(optional)
    columns, derived = _mapping(spec, "columns", where), _mapping(spec, "derived", where)
    constant, values = _mapping(spec, "constant", where), _mapping(spec, "values", where)
    seen = {}
    for key, mapping in (("columns", columns), ("derived", derived), ("constant", constant)):
        for col, v in mapping.items():
            if col not in known:
                check_keys({col: None}, known, f"params '{where}.{key}' (engine columns of {table})")
            if col in seen:
                raise ConfigError(f"params '{where}': engine column {col!r} is given by both {seen[col]!r} and {key!r}")
            seen[col] = key
            if key == "columns" and (not isinstance(v, str) or not v):
                raise ConfigError(f"params '{where}.columns.{col}' must name a column of the extract; got {v!r}")
            if key == "constant":
                _check_constant(col, v, f"{where}.constant.{col}")
    for col, text in derived.items():
        if col not in NUMBER_COLUMNS:
            raise ConfigError(f"params '{where}.derived.{col}': only number columns ({', '.join(sorted(NUMBER_COLUMNS))}) "
                              "can be derived")
        parse_expression(text, f"params '{where}.derived.{col}'")
    missing = [c for c in required if c not in seen]
    if missing:
        raise ConfigError(f"params '{where}': required engine column{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(repr(c) for c in missing)} of {table} not mapped (give it under 'columns', "
                          "'derived' or 'constant')")
    for col, vmap in values.items():
        if col not in columns:
            raise ConfigError(f"params '{where}.values.{col}': a value map applies to a column mapped under 'columns'")
        if col in DATE_COLUMNS or col in NUMBER_COLUMNS:
            raise ConfigError(f"params '{where}.values.{col}': value maps apply to text columns, not dates or numbers")
        if not isinstance(vmap, dict) or not vmap:
            raise ConfigError(f"params '{where}.values.{col}' must map extract values to engine values; got {vmap!r}")
    values = {col: {_text(k): _text(v) for k, v in vmap.items()} for col, vmap in values.items()}
    return Part(table, where, files, fmt, encoding, spec.get("sep"), spec.get("quote") or '"', spec.get("decimal"),
                dict(columns), dict(derived), {k: _text(v) for k, v in constant.items()}, values,
                _dates(spec.get("dates"), columns, where))


def _check_constant(col: str, v, where: str) -> None:
    import datetime as dt

    if v is None or isinstance(v, dict | list):
        raise ConfigError(f"params '{where}' must be one value; got {v!r}")
    if col in DATE_COLUMNS:
        try:
            dt.date.fromisoformat(str(v))
        except ValueError:
            raise ConfigError(f"params '{where}' must be an ISO date (YYYY-MM-DD); got {v!r}") from None
    if col in NUMBER_COLUMNS:
        try:
            float(v)
        except (TypeError, ValueError):
            raise ConfigError(f"params '{where}' must be a number; got {v!r}") from None


def _text(v) -> str:
    """A YAML scalar as the text a value map or constant compares with (1 -> '1', 1.0 -> '1')."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _dates(spec, columns: dict, where: str) -> dict:
    mapped = [c for c in columns if c in DATE_COLUMNS]
    if spec is None:
        return {}
    if isinstance(spec, str):
        spec = {c: spec for c in mapped}
    if not isinstance(spec, dict):
        raise ConfigError(f"params '{where}.dates' must be a format ('%d-%m-%Y', 'sas') or map date columns to formats; "
                          f"got {spec!r}")
    for col, fmt in spec.items():
        if col not in mapped:
            raise ConfigError(f"params '{where}.dates.{col}': not a date column mapped under 'columns' "
                              f"(date columns here: {', '.join(mapped) or 'none'})")
        if not isinstance(fmt, str) or (fmt != SAS_DATES and "%" not in fmt):
            raise ConfigError(f"params '{where}.dates.{col}' must be 'sas' (SAS date numbers: days since 1960-01-01) or a "
                              f"format such as '%d-%m-%Y' or '%Y%m%d'; got {fmt!r}")
        if fmt != SAS_DATES:
            bad = [d for d in _directives(fmt) if d not in "dmYyBbjHMS%"]
            if bad:
                raise ConfigError(f"params '{where}.dates.{col}': format {fmt!r} uses %{bad[0]}; use %d %m %Y %y %b %B %j")
    return dict(spec)


def _directives(fmt: str) -> list[str]:
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            out.append(fmt[i + 1])
            i += 2
        else:
            i += 1
    return out
