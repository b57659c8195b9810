"""A streaming reader of SAS transport files (XPORT version 5, the FDA/SAS ``.xpt`` format), in numpy.

pyreadstat reads an XPT file in chunks by re-reading it from the start for each chunk (the format has no
index), so its chunked reading is quadratic in the file size; this reader walks the fixed-width
observation records once, converts IBM 370 floating point to IEEE with numpy, and yields pyarrow tables.

Format (SAS Institute, "The record layout of a data set in SAS transport (XPORT) format", TS-140):
80-byte header records; a NAMESTR record of 140 bytes per variable (type 1 numeric / 2 character, length,
name, format name, position); then the observations, fixed width, padded with blanks to a multiple of 80
bytes at the end of the file. Numbers are IBM hexadecimal floating point, big-endian, 2-8 bytes; a missing
value is ``.``, ``._`` or ``.A``-``.Z`` (first byte 0x2E, 0x5F or 0x41-0x5A, the rest zero). Variables with
a SAS date format (DATE9., YYMMDD10., ...) come back as dates, with a datetime format as timestamps, as
pyreadstat reads them. Version 8 files (``LIBV8``) and files of several members are left to pyreadstat.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RECORD = 80
NAMESTR = 140
DATE_FORMATS = {"DATE", "DAY", "DDMMYY", "DDMMYYB", "DDMMYYC", "DDMMYYD", "DDMMYYN", "DDMMYYP", "DDMMYYS",
                "E8601DA", "B8601DA", "EURDFDD", "JULDAY", "JULIAN", "MMDDYY", "MMDDYYB", "MMDDYYC", "MMDDYYD",
                "MMDDYYN", "MMDDYYP", "MMDDYYS", "MONYY", "NLDATE", "WEEKDATE", "WORDDATE", "YYMMDD",
                "YYMMDDB", "YYMMDDC", "YYMMDDD", "YYMMDDN", "YYMMDDP", "YYMMDDS", "YYMON", "YYQ", "MINGUO"}
DATETIME_FORMATS = {"DATETIME", "E8601DT", "B8601DT", "DATEAMPM", "NLDATM"}
SAS_TO_UNIX_DAYS = 3653          # 1960-01-01 -> 1970-01-01


class XportError(ValueError):
    """The file is not a version-5 SAS transport file this reader handles."""


def read_header(path: Path) -> tuple[list[dict], int]:
    """``(variables, offset of the first observation)``; each variable: name, numeric, length, pos, format."""
    with open(path, "rb") as fh:
        head = fh.read(RECORD * 3)
        if not head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD"):
            raise XportError("not a SAS transport version 5 file (no LIBRARY header record)")
        fh.seek(RECORD * 3)
        member = fh.read(RECORD)
        if not member.startswith(b"HEADER RECORD*******MEMBER  HEADER RECORD"):
            raise XportError("no MEMBER header record")
        size = int(member[74:78]) if member[74:78].strip() else NAMESTR
        fh.seek(RECORD * 7)                              # DSCRPTR header + two member data records
        names_rec = fh.read(RECORD)
        if not names_rec.startswith(b"HEADER RECORD*******NAMESTR HEADER RECORD"):
            raise XportError("no NAMESTR header record")
        nvars = int(names_rec[54:58])
        raw = fh.read(nvars * size)
        pad = (-nvars * size) % RECORD
        fh.seek(pad, 1)
        obs = fh.read(RECORD)
        if not obs.startswith(b"HEADER RECORD*******OBS     HEADER RECORD"):
            raise XportError("no OBS header record after the variables (several members, or version 8?)")
        offset = fh.tell()
    variables = []
    for i in range(nvars):
        r = raw[i * size:(i + 1) * size]
        variables.append({
            "name": r[8:16].decode("latin-1").rstrip(),
            "numeric": int.from_bytes(r[0:2], "big") == 1,
            "length": int.from_bytes(r[4:6], "big"),
            "format": r[56:64].decode("latin-1").rstrip().upper(),
            "pos": int.from_bytes(r[84:88], "big"),
        })
    return variables, offset


def ibm_to_double(raw: np.ndarray, length: int) -> np.ndarray:
    """IBM 370 hexadecimal floats (big-endian, ``length`` bytes, as an (n, length) uint8 array) to float64;
    SAS missing values (``.``, ``._``, ``.A``-``.Z``) to NaN."""
    full = np.zeros((raw.shape[0], 8), dtype=np.uint8)
    full[:, :length] = raw
    u = full.view(">u8").ravel().astype(np.uint64)
    sign = (u >> np.uint64(63)).astype(bool)
    exp = ((u >> np.uint64(56)) & np.uint64(0x7F)).astype(np.int64)
    frac = (u & np.uint64(0x00FFFFFFFFFFFFFF)).astype(np.float64)
    value = np.ldexp(frac, (4 * (exp - 64) - 56).astype(np.int32))
    value = np.where(sign, -value, value)
    first = full[:, 0]
    missing = (frac == 0) & ((first == 0x2E) | (first == 0x5F) | ((first >= 0x41) & (first <= 0x5A)))
    value[missing] = np.nan
    return value


def _text(col: np.ndarray, encoding: str | None) -> pa.Array:
    arr = pa.array(col, type=pa.binary(col.dtype.itemsize))
    enc = (encoding or "utf-8").replace("-", "").replace("_", "").lower()
    if enc in ("utf8", "ascii", "usascii"):
        try:
            text = pc.cast(pc.cast(arr, pa.binary()), pa.string())
        except pa.ArrowInvalid:
            text = None
        if text is not None:
            text = pc.utf8_rtrim(text, characters=" \x00")
            return pc.if_else(pc.equal(text, ""), None, text)
    values = [None if not v.rstrip(b" \x00") else v.rstrip(b" \x00").decode(encoding or "cp1252")
              for v in col.tolist()]
    return pa.array(values, type=pa.string())


def iter_xport(path: Path, columns: list[str], chunk_rows: int, encoding: str | None = None) -> Iterator[pa.Table]:
    """Yield the chosen columns in tables of up to ``chunk_rows`` rows (text decoded with ``encoding``,
    default UTF-8 and Windows-1252 where it is not UTF-8)."""
    variables, offset = read_header(path)
    by_name = {v["name"]: v for v in variables}
    width = sum(v["length"] for v in variables)
    dtype = np.dtype({"names": [v["name"] for v in variables],
                      "formats": [f"V{v['length']}" for v in variables],
                      "offsets": [v["pos"] for v in variables], "itemsize": width})
    with open(path, "rb") as fh:
        fh.seek(offset)
        rest = b""
        while True:
            data = fh.read(chunk_rows * width)
            buf = rest + data
            at_end = len(data) < chunk_rows * width or not data
            n = len(buf) // width
            if at_end:
                tail = np.frombuffer(buf[: n * width], dtype=np.uint8).reshape(n, width) if n else None
                while n and (tail[n - 1] == 0x20).all():     # blank padding at the end of the file
                    n -= 1
            rest = buf[n * width:]
            if n:
                rec = np.frombuffer(buf[: n * width], dtype=dtype, count=n)
                out = {}
                for name in columns:
                    v = by_name[name]
                    raw = np.frombuffer(rec[name].tobytes(), dtype=np.uint8).reshape(n, v["length"])
                    if v["numeric"]:
                        x = ibm_to_double(raw, v["length"])
                        fmt = v["format"].rstrip("0123456789.")
                        if fmt in DATE_FORMATS:
                            ok = np.isfinite(x)
                            days = np.where(ok, x, 0).astype(np.int64) - SAS_TO_UNIX_DAYS
                            out[name] = pa.array(days.astype(np.int32), mask=~ok).cast(pa.date32())
                        elif fmt in DATETIME_FORMATS:
                            ok = np.isfinite(x)
                            secs = np.where(ok, x, 0).astype(np.int64) - SAS_TO_UNIX_DAYS * 86400
                            out[name] = pa.array(secs, mask=~ok).cast(pa.timestamp("s"))
                        else:
                            out[name] = pa.array(x, from_pandas=True)
                    else:
                        out[name] = _text(raw.view(f"S{v['length']}").ravel(), encoding)
                yield pa.table(out)
            if at_end:
                return
