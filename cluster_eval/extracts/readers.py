"""Chunked readers for register extracts: SAS7BDAT, SAS transport (XPT), Stata, Parquet, CSV (gzip).

Each reader yields :class:`pyarrow.Table` chunks of at most ``chunk_rows`` rows with only the columns
asked for, so that memory stays bounded whatever the file size. SAS, XPT and Stata are read with
pyreadstat (compressed SAS7BDAT included; text in the file's own encoding, e.g. WINDOWS-1252, or the
one declared); Parquet with pyarrow row batches; CSV with pyarrow's streaming reader (the separator,
quote and encoding declared or sniffed from the first MiB: UTF-8 if it decodes, else Windows-1252).
Reading problems become :class:`~cluster_eval.errors.Problem` objects naming the file.
"""
from __future__ import annotations

import codecs
import csv
import gzip
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from ..errors import InputError, Problem

SNIFF_BYTES = 1 << 20
SEPARATORS = ";,\t|"


class ExtractReader:
    """One extract file: its columns, row count (if known) and chunks.

    Parameters
    ----------
    path : Path
    fmt : {"sas7bdat", "xpt", "dta", "parquet", "csv"}
    encoding, sep, quote : optional; CSV dialect and text encoding (None: sniffed / the file's own)
    """

    def __init__(self, path: Path, fmt: str, encoding=None, sep=None, quote='"'):
        self.path, self.fmt, self.label = Path(path), fmt, str(path)
        self.encoding, self.sep, self.quote = encoding, sep, quote
        self.row_word = "line" if fmt == "csv" else "row"
        self.first_row = 2 if fmt == "csv" else 1      # a CSV's first data row is line 2 (after the header)
        self.bad_rows: list[str] = []                   # CSV rows with the wrong number of fields
        self.bad_count = 0
        if not self.path.is_file():
            raise InputError(Problem(self.label, None, "file not found"))
        if self.path.stat().st_size == 0:
            raise InputError(Problem(self.label, None, "file is empty"))
        self.columns, self.total_rows = self._open()

    # -- metadata ---------------------------------------------------------------------------------
    def _open(self):
        if self.fmt == "parquet":
            import pyarrow.parquet as pq
            try:
                f = pq.ParquetFile(self.path)
            except (pa.ArrowException, OSError) as exc:
                raise InputError(Problem(self.label, None, f"not a readable Parquet file ({exc})")) from None
            return list(f.schema_arrow.names), f.metadata.num_rows
        if self.fmt == "csv":
            return self._sniff(), None
        if self.fmt == "xpt":
            from .xport import XportError, read_header
            try:
                variables, offset = read_header(self.path)
                width = sum(v["length"] for v in variables) or 1
                self.native_xpt = True
                return [v["name"] for v in variables], (self.path.stat().st_size - offset) // width
            except (XportError, ValueError, OSError):
                self.native_xpt = False          # version 8 or unusual: pyreadstat reads it
        func = self._pyreadstat_func()
        try:
            _, meta = func(str(self.path), metadataonly=True, **self._enc())
        except Exception as exc:  # pyreadstat raises its own ReadstatError / PyreadstatError
            raise InputError(Problem(self.label, None, f"not a readable {self._kind()} file ({exc})")) from None
        return list(meta.column_names), (meta.number_rows if meta.number_rows and meta.number_rows > 0 else None)

    def _kind(self) -> str:
        return {"sas7bdat": "SAS7BDAT", "xpt": "SAS transport (XPT)", "dta": "Stata", "parquet": "Parquet",
                "csv": "CSV"}[self.fmt]

    def _pyreadstat_func(self):
        import pyreadstat
        return {"sas7bdat": pyreadstat.read_sas7bdat, "xpt": pyreadstat.read_xport,
                "dta": pyreadstat.read_dta}[self.fmt]

    def _enc(self) -> dict:
        return {"encoding": self.encoding} if self.encoding else {}

    def _raw(self):
        return gzip.open(self.path, "rb") if self.path.name.lower().endswith(".gz") else open(self.path, "rb")

    def _sniff(self) -> list[str]:
        try:
            with self._raw() as fh:
                sample = fh.read(SNIFF_BYTES)
        except (OSError, EOFError) as exc:
            raise InputError(Problem(self.label, None, f"cannot be read ({exc})")) from None
        if sample.startswith(codecs.BOM_UTF8):
            sample = sample[len(codecs.BOM_UTF8):]
            self.encoding = self.encoding or "utf-8"
        if self.encoding is None:
            try:
                codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) < SNIFF_BYTES)
                self.encoding = "utf-8"
            except UnicodeDecodeError:
                self.encoding = "cp1252"
        try:
            text = codecs.getincrementaldecoder(self.encoding)(errors="strict").decode(sample, final=False)
        except UnicodeDecodeError as exc:
            line = sample[: exc.start].count(b"\n") + 1
            raise InputError(Problem(self.label, None, f"not {self.encoding} text (byte 0x{sample[exc.start]:02x} "
                                     f"at line {line}); declare its encoding (e.g. encoding: cp1252)",
                                     (f"line {line}",), 1)) from None
        if not text.strip():
            raise InputError(Problem(self.label, None, "file is empty (no header, no rows)"))
        lines = text.splitlines()
        header = lines[0]
        if self.sep is None:
            try:
                self.sep = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=SEPARATORS).delimiter
            except csv.Error:
                counts = {s: header.count(s) for s in SEPARATORS}
                self.sep = max(counts, key=counts.get) if max(counts.values()) else ","
        names = next(csv.reader([header], delimiter=self.sep, quotechar=self.quote))
        names = [n.strip() for n in names]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InputError(Problem(self.label, dup[0], "column name appears more than once in the header"))
        return names

    # -- chunks ------------------------------------------------------------------------------------
    def chunks(self, columns: list[str], chunk_rows: int) -> Iterator[pa.Table]:
        """Yield tables of the given columns, at most ``chunk_rows`` rows each (CSV: about that many)."""
        if self.fmt == "parquet":
            import pyarrow.parquet as pq
            f = pq.ParquetFile(self.path)
            for batch in f.iter_batches(batch_size=chunk_rows, columns=columns):
                yield pa.Table.from_batches([batch])
        elif self.fmt == "csv":
            yield from self._csv_chunks(columns, chunk_rows)
        elif self.fmt == "xpt" and self.native_xpt:
            from .xport import iter_xport
            try:
                yield from iter_xport(self.path, columns, chunk_rows, self.encoding)
            except UnicodeDecodeError as exc:
                raise InputError(Problem(self.label, None, f"text is not {self.encoding or 'UTF-8 or cp1252'} "
                                         f"({exc.reason}); declare encoding:")) from None
        else:
            import pyreadstat
            try:
                it = pyreadstat.read_file_in_chunks(self._pyreadstat_func(), str(self.path), chunksize=chunk_rows,
                                                    usecols=columns, **self._enc())
                for df, _ in it:
                    yield pa.Table.from_pandas(df, preserve_index=False)
            except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, UnicodeDecodeError) as exc:
                raise InputError(Problem(self.label, None, f"cannot be read as {self._kind()} ({exc}); "
                                         "if the text is not in the file's own encoding, declare encoding:")) from None

    def _csv_chunks(self, columns, chunk_rows):
        import pyarrow.csv as pcsv

        def invalid(row):
            self.bad_count += 1
            if len(self.bad_rows) < 5:
                where = f"line {row.number}" if row.number is not None else "a row"
                self.bad_rows.append(f"{where}: {row.text[:60]!r} has {row.actual_columns} fields, "
                                     f"the header {row.expected_columns}")
            return "skip"

        # block_size is bytes; about 40 bytes a row in register extracts
        block = int(min(max(chunk_rows * 40, 1 << 20), 1 << 28))
        enc = "utf8" if self.encoding.replace("-", "").lower() in ("utf8", "utf8sig") else self.encoding
        # the header's names as sniffed (trimmed), so that " EKSD" in a header still maps as EKSD
        read = pcsv.ReadOptions(block_size=block, encoding=enc, column_names=self.columns, skip_rows=1)
        parse = pcsv.ParseOptions(delimiter=self.sep, quote_char=self.quote or False, invalid_row_handler=invalid,
                                  newlines_in_values=False)
        conv = pcsv.ConvertOptions(column_types={c: pa.string() for c in self.columns}, include_columns=columns,
                                   strings_can_be_null=True, quoted_strings_can_be_null=True, null_values=[""])
        try:
            stream = pa.input_stream(str(self.path), compression="detect")
            reader = pcsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=conv)
            for batch in reader:
                yield pa.Table.from_batches([batch])
        except UnicodeDecodeError as exc:
            raise InputError(Problem(self.label, None, f"not {self.encoding} text (byte 0x{exc.object[exc.start]:02x}); "
                                     "declare its encoding (e.g. encoding: cp1252)")) from None
        except (pa.ArrowInvalid, OSError, EOFError) as exc:
            text = str(exc)
            if "UTF8" in text or "utf8" in text.lower():
                text = "not UTF-8 text; declare its encoding (e.g. encoding: cp1252)"
            raise InputError(Problem(self.label, None, f"cannot be read as CSV ({text})")) from None
