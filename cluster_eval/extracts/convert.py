"""``convert``: register extracts, mapped by params, to the engine's Parquet event layout, once.

Each event table is read chunk by chunk (:mod:`.readers`), mapped by DuckDB SQL over the chunk
(:mod:`.sql`), checked, and appended to ``<out>/<table>/part-NNNNN.parquet`` by a pyarrow writer, so
memory stays bounded by the chunk size whatever the extract's size. The finished tables are then checked
against the event contract (``cluster_eval.indicators.tables.validate_tables``, on the Parquet, out of
core) and only then moved into place; on any problem nothing in ``out`` changes. A small manifest
(``<out>/convert_manifest.json``) records each table's source hash (the files' SHA-256 and the mapping),
so a table whose extract and mapping did not change is skipped: the quarterly batch reads SAS only when a
new extract arrives.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError, OutputError, Problem
from ..validation import did_you_mean
from .mapping import Extracts, Part, load_extracts
from .readers import ExtractReader
from .sql import ROW, chunk_plan, label, output_schema, table_columns

MANIFEST = "convert_manifest.json"
VERSION = 1                     # bump when the conversion's output changes for the same input
ROWS_PER_FILE = 25_000_000      # a new part file after this many rows
SHOW = 5


@dataclass
class TableResult:
    table: str
    status: str                 # "converted" or "unchanged"
    rows: int
    sources: list[str]
    seconds: float = 0.0


@dataclass
class ConvertResult:
    """What :func:`convert` did, per table (renders in notebooks).

    Attributes
    ----------
    out_dir : Path
        The events folder written.
    tables : list of TableResult
        One entry per table: its name, status ("converted" or skipped as unchanged), rows and seconds.
    """

    out_dir: Path
    tables: list[TableResult] = field(default_factory=list)

    def summary(self) -> str:
        """Plain text: one line per table with its rows and whether it was converted or skipped."""
        lines = [f"events in {self.out_dir}:"]
        for t in self.tables:
            extra = f" in {t.seconds:.1f} s" if t.status == "converted" else " (source unchanged, skipped)"
            lines.append(f"  {t.table}: {t.rows:,} rows {t.status}{extra}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{t.table}</td><td>{t.status}</td><td>{t.rows:,}</td><td>{t.seconds:.1f}</td></tr>"
                       for t in self.tables)
        return (f"<p>events in <code>{self.out_dir}</code></p><table><tr><th>table</th><th>status</th>"
                f"<th>rows</th><th>seconds</th></tr>{rows}</table>")


# -- hashing -----------------------------------------------------------------------------------------
def _file_digest(path: Path, known: dict) -> str:
    """SHA-256 of a file; reused from the manifest when its size and modification time are unchanged."""
    st = path.stat()
    rec = known.get(str(path))
    if rec and rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns:
        return rec["sha256"]
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _table_hash(parts, id_type: str, known: dict) -> tuple[str, dict]:
    h = hashlib.sha256(f"v{VERSION}|{id_type}".encode())
    files = {}
    for part in parts:
        h.update(part.key().encode())
        for p in part.files:
            d = _file_digest(p, known)
            st = p.stat()
            files[str(p)] = {"sha256": d, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
            h.update(d.encode())
    return h.hexdigest(), files


def read_manifest(out_dir: Path) -> dict:
    try:
        return json.loads((out_dir / MANIFEST).read_text(encoding="utf-8")).get("tables", {})
    except (OSError, ValueError):
        return {}


# -- one table ---------------------------------------------------------------------------------------
class _Collector:
    """Counts and first examples of each broken rule, across chunks."""

    def __init__(self):
        self.found: dict[tuple, list] = {}

    def add(self, key, n, examples):
        rec = self.found.setdefault(key, [0, []])
        rec[0] += n
        rec[1].extend(examples[: SHOW - len(rec[1])])

    def problems(self) -> list[Problem]:
        return [Problem(file, col, rule, tuple(ex), n) for (file, col, rule), (n, ex) in self.found.items()]


class _Writer:
    """Appends mapped chunks to ``part-NNNNN.parquet`` files of one table (a new file every ROWS_PER_FILE)."""

    def __init__(self, dest: Path, schema: pa.Schema):
        self.dest, self.schema = dest, schema
        self.writer, self.part_no, self.in_file, self.rows = None, 0, 0, 0

    def write(self, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        if self.writer is None or self.in_file >= ROWS_PER_FILE:
            self.close()
            self.writer = pq.ParquetWriter(self.dest / f"part-{self.part_no:05d}.parquet", self.schema)
            self.part_no, self.in_file = self.part_no + 1, 0
        self.writer.write_table(table)
        self.in_file += table.num_rows
        self.rows += table.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _missing_columns(reader, part, need, found) -> bool:
    missing = [c for c in need if c not in reader.columns]
    for c in missing:
        dst = next((k for k, v in part.columns.items() if v == c), None)
        close = did_you_mean(c, reader.columns) or next((n for n in reader.columns if n.lower() == c.lower()), None)
        more = " ..." if len(reader.columns) > 12 else ""
        hint = f"; did you mean {close!r}?" if close else f"; the file has {', '.join(reader.columns[:12])}{more}"
        where = label(c, dst) if dst else f"'{c}' (in derived column)"
        found.add((reader.label, where, f"column named in the params mapping is not in the file{hint}"), 0, [])
    return bool(missing)


def _read_file(con, reader, part: Part, need, columns, id_type, chunk_rows, found, bar, writer) -> None:
    """Map, check and write one extract file, chunk by chunk."""
    decimal = part.decimal or ("," if reader.sep == ";" else ".")
    plans, offset = {}, 0
    for chunk in reader.chunks(need, chunk_rows):
        n = chunk.num_rows
        if n == 0:
            continue
        sig = tuple((c, str(chunk.schema.field(c).type)) for c in need)
        if sig not in plans:
            plans[sig] = chunk_plan(part, {c: chunk.schema.field(c).type for c in need}, columns, id_type, decimal)
        select, checks = plans[sig]
        chunk = chunk.append_column(ROW, pa.array(np.arange(offset, offset + n, dtype=np.int64)))
        con.register("chunk", chunk)
        # one pass: the mapped columns and one flag per check (DuckDB shares the common expressions)
        flags = [f"({p}) AS __bad_{i}" for i, (_, _, p, _) in enumerate(checks)]
        mapped = con.sql(f"SELECT {', '.join([select] + flags)} FROM chunk").to_arrow_table()
        for i, (where, rule, pred, shown) in enumerate(checks):
            k = pc.sum(mapped.column(f"__bad_{i}")).as_py()
            if k:
                ex = con.execute(f"SELECT {ROW}, {shown} FROM chunk WHERE {pred} ORDER BY {ROW} "
                                 f"LIMIT {SHOW}").fetchall()
                found.add((reader.label, where, rule), int(k),
                          [f"{reader.row_word} {r + reader.first_row}: {v!r}" for r, v in ex])
        if not found.found:
            writer.write(mapped.select(writer.schema.names).cast(writer.schema))
        con.unregister("chunk")
        offset += n
        if bar is not None:
            bar.update(n)
    if reader.bad_count:
        found.add((reader.label, None, "row has the wrong number of fields (check sep and quote)"),
                  reader.bad_count, reader.bad_rows)


def _convert_table(con, table: str, parts, id_type: str, dest: Path, chunk_rows: int, bar) -> tuple[int, list]:
    """Convert one event table into ``dest``; return ``(rows written, problems)``."""
    import pyarrow.parquet as pq

    columns = table_columns(table, parts)
    dest.mkdir(parents=True)
    writer = _Writer(dest, output_schema(table, columns, id_type))
    found, unreadable = _Collector(), []
    try:
        for part in parts:
            need = part.source_columns()
            for path in part.files:
                try:
                    reader = ExtractReader(path, part.fmt, part.encoding, part.sep, part.quote)
                    if not _missing_columns(reader, part, need, found):
                        _read_file(con, reader, part, need, columns, id_type, chunk_rows, found, bar, writer)
                except InputError as exc:
                    unreadable += exc.problems
        if writer.rows == 0:          # no rows: an empty table still has its columns
            pq.write_table(writer.schema.empty_table(), dest / "part-00000.parquet")
    finally:
        writer.close()
    return writer.rows, unreadable + found.problems()


def _relabel(problems, labels: dict, parts_of: dict) -> list[Problem]:
    """Engine-check problems on the written Parquet, renamed to the extracts and their column names."""
    out = []
    for p in problems:
        table = labels.get(p.file)
        if table is None:
            out.append(p)
            continue
        parts = parts_of[table]
        files = [str(f) for part in parts for f in part.files]
        file = files[0] + (f" (and {len(files) - 1} more files of {table})" if len(files) > 1 else "")
        col = p.column
        srcs = {part.columns.get(col) for part in parts if part.columns.get(col)}
        if col and len(srcs) == 1:
            col = label(srcs.pop(), col)
        out.append(Problem(file, col, p.rule, p.rows, p.count))
    return out


# -- the command -------------------------------------------------------------------------------------
def convert(params, out_dir, *, force: bool = False, progress: bool = True, chunk_rows: int = 500_000,
            memory_limit: str = "2GB") -> ConvertResult:
    """Convert the register extracts mapped in params (``events:``) to Parquet event tables in ``out_dir``.

    Parameters
    ----------
    params : path or dict
        A params YAML file (or dict) with an ``events:`` section (docs/data.md).
    out_dir : path
        Written as ``<out_dir>/<table>/part-NNNNN.parquet`` plus ``convert_manifest.json``; then
        ``cluster-eval measures <out_dir>`` runs on it.
    force : bool
        Convert every table, also those whose source hash is unchanged.
    progress : bool
        A tqdm progress bar over the rows of each table.
    chunk_rows : int
        Rows per chunk (bounds memory; the default 500,000 keeps a chunk near 100 MB).

    Returns
    -------
    ConvertResult

    Raises
    ------
    ConfigError
        The ``events:`` mapping is wrong.
    InputError
        An extract cannot be read or breaks a rule (every problem, with file, column, rule and rows);
        nothing in ``out_dir`` is changed.
    OutputError
        ``out_dir`` cannot be written.
    """
    from ..indicators.engine import connect
    from ..indicators.tables import find_table, validate_tables

    spec: Extracts = load_extracts(params)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"cannot write events into {str(out)!r}: it is a file, not a folder")
    for t in spec.tables:
        for ext in (".parquet", ".csv", ".csv.gz"):
            if (out / f"{t}{ext}").exists():
                raise OutputError(f"{out / (t + ext)} is in the output folder; convert writes {t}/ there, and the "
                                  "engine refuses two files for one table: use an empty folder")
    try:
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".convert-", dir=out))
    except OSError as exc:
        raise OutputError(f"cannot write events into {str(out)!r}: {exc.strerror or exc}") from None
    old = read_manifest(out)
    known = {f: rec for t in old.values() for f, rec in t.get("files", {}).items()}
    result = ConvertResult(out)
    manifest = dict(old)
    try:
        todo = {}
        for t, parts in spec.tables.items():
            digest, files = _table_hash(parts, spec.patient_id, known)
            done = old.get(t, {})
            if not force and done.get("hash") == digest and find_table(out, t) is not None:
                result.tables.append(TableResult(t, "unchanged", done.get("rows", 0), list(files)))
                continue
            todo[t] = (parts, digest, files)
        spill = work / "duckdb"
        con = connect(memory_limit, None, str(spill))
        try:
            problems = []
            for t, (parts, digest, files) in todo.items():
                t0 = time.perf_counter()
                bar = None
                if progress:
                    from tqdm.auto import tqdm
                    total = _known_rows(parts)
                    bar = tqdm(total=total, desc=t, unit="rows", unit_scale=True)
                try:
                    rows, probs = _convert_table(con, t, parts, spec.patient_id, work / t, chunk_rows, bar)
                finally:
                    if bar is not None:
                        bar.close()
                problems += probs
                result.tables.append(TableResult(t, "converted", rows, list(files), time.perf_counter() - t0))
                manifest[t] = {"hash": digest, "rows": rows, "files": files}
            if problems:
                raise InputError(problems)
            if todo:
                readers, labels = {}, {}
                for t in spec.tables:
                    found = find_table(work if t in todo else out, t)
                    if found is not None:
                        readers[t] = found
                        labels[found[1]] = t
                try:
                    validate_tables(con, readers)
                except InputError as exc:
                    raise InputError(_relabel(exc.problems, labels, spec.tables)) from None
        finally:
            con.close()
        for t in todo:
            final = out / t
            if final.exists():
                final.rename(work / f"old-{t}")
            (work / t).rename(final)
        tmp = out / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps({"version": VERSION, "tables": manifest}, indent=1), encoding="utf-8")
        tmp.replace(out / MANIFEST)
    except OSError as exc:
        raise OutputError(f"cannot write events into {str(out)!r}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()
    order = list(spec.tables)
    result.tables.sort(key=lambda r: order.index(r.table))
    return result


def _known_rows(parts) -> int | None:
    """Total rows of the parts' files when every format records it (SAS, Stata, Parquet), else None."""
    total = 0
    for part in parts:
        if part.fmt == "csv":
            return None
        for p in part.files:
            try:
                n = ExtractReader(p, part.fmt, part.encoding).total_rows
            except InputError:
                return None
            if n is None:
                return None
            total += n
    return total
