"""The extract readers: SAS transport (own streaming reader, checked against pyreadstat and hand values),
Stata, Parquet, CSV with a sniffed or declared dialect and encoding, gzip."""
from __future__ import annotations

import datetime as dt
import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyreadstat
import pytest

from cluster_eval.errors import InputError
from cluster_eval.extracts import ExtractReader
from cluster_eval.extracts.xport import ibm_to_double, iter_xport


def read(path, fmt, chunk_rows=2, **kw) -> pd.DataFrame:
    r = ExtractReader(path, fmt, **kw)
    return pa.concat_tables(list(r.chunks(r.columns, chunk_rows)), promote_options="permissive").to_pandas()


def test_ibm_floats_by_hand():
    # IBM hexadecimal floating point: 1.0 = 41 10 00.., -118.625 = C2 76 A0 00.. (IBM's worked example),
    # 0.0 = all zeros, '.' and '.A' missing; a 4-byte (truncated) 2.5 = 41 28 00 00
    raw = np.array([[0x41, 0x10, 0, 0, 0, 0, 0, 0], [0xC2, 0x76, 0xA0, 0, 0, 0, 0, 0], [0] * 8,
                    [0x2E, 0, 0, 0, 0, 0, 0, 0], [0x41, 0, 0, 0, 0, 0, 0, 0]], dtype=np.uint8)
    got = ibm_to_double(raw, 8)
    assert got[:3].tolist() == [1.0, -118.625, 0.0]
    assert np.isnan(got[3]) and np.isnan(got[4])
    assert ibm_to_double(np.array([[0x41, 0x28, 0, 0]], dtype=np.uint8), 4).tolist() == [2.5]


def test_xport_matches_pyreadstat_with_dates_missing_and_danish_text(tmp_path):
    n = 1003                                              # not a multiple of the chunk: a short last chunk
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"PNR": [f"{i:010d}" for i in range(n)],
                       "KOEN": rng.integers(1, 3, n).astype(float),
                       "FOED_DAG": rng.integers(-20000, 20000, n).astype(float),
                       "BY": rng.choice(["Ærøskøbing", "Åbyhøj", "Odense", ""], n),
                       "VAL": rng.normal(0, 1e4, n)})
    df.loc[5, "VAL"] = np.nan
    path = tmp_path / "bef.xpt"
    pyreadstat.write_xport(df, str(path), file_format_version=5, variable_format={"FOED_DAG": "DATE9."})
    expected, _ = pyreadstat.read_xport(str(path))
    got = pa.concat_tables(list(iter_xport(path, list(df.columns), 100))).to_pandas()
    assert len(got) == n
    assert got["PNR"].tolist() == expected["PNR"].tolist()
    assert got["BY"].fillna("").tolist() == expected["BY"].tolist()
    assert got["BY"].iloc[:4].notna().sum() >= 1 and "Ærøskøbing" in set(got["BY"])
    np.testing.assert_array_equal(got["KOEN"], expected["KOEN"])
    np.testing.assert_array_equal(got["VAL"].to_numpy(), expected["VAL"].to_numpy())   # NaN in place
    # DATE9. -> dates, as pyreadstat reads them; days since 1960-01-01 by hand for the first row
    assert got["FOED_DAG"].tolist() == expected["FOED_DAG"].tolist()
    assert got["FOED_DAG"].iloc[0] == dt.date(1960, 1, 1) + dt.timedelta(days=int(df["FOED_DAG"].iloc[0]))


def test_stata_and_parquet_read_in_chunks(tmp_path):
    df = pd.DataFrame({"PNR": ["01", "02", "03"], "SAMPLINGDATE": [dt.date(2020, 1, 31), dt.date(2021, 2, 1), None],
                       "VALUE": [48.5, np.nan, 61.0]})
    pyreadstat.write_dta(df, str(tmp_path / "labka.dta"))
    got = read(tmp_path / "labka.dta", "dta")
    assert got["PNR"].tolist() == ["01", "02", "03"]
    assert got["SAMPLINGDATE"].tolist()[:2] == [dt.date(2020, 1, 31), dt.date(2021, 2, 1)]
    assert got["VALUE"].tolist()[0] == 48.5 and np.isnan(got["VALUE"].tolist()[1])
    df.to_parquet(tmp_path / "labka.parquet")
    assert read(tmp_path / "labka.parquet", "parquet")["VALUE"].tolist()[2] == 61.0


def test_csv_dialect_and_windows_1252_are_sniffed(tmp_path):
    text = "PNR;BY;VAERDI\n0101;Ærøskøbing;1,5\n0202;Åbyhøj;\n"
    (tmp_path / "a.csv").write_bytes(text.encode("cp1252"))
    r = ExtractReader(tmp_path / "a.csv", "csv")
    assert (r.sep, r.encoding, r.columns) == (";", "cp1252", ["PNR", "BY", "VAERDI"])
    got = read(tmp_path / "a.csv", "csv")
    assert got["BY"].tolist() == ["Ærøskøbing", "Åbyhøj"]
    assert got["VAERDI"].tolist()[0] == "1,5" and got["VAERDI"].isna().tolist()[1]
    # UTF-8 with a byte-order mark, comma-separated, gzip-compressed
    with gzip.open(tmp_path / "b.csv.gz", "wt", encoding="utf-8-sig") as fh:
        fh.write("PNR,BY\n0101,Ærø\n")
    r = ExtractReader(tmp_path / "b.csv.gz", "csv")
    assert (r.sep, r.columns) == (",", ["PNR", "BY"])
    assert read(tmp_path / "b.csv.gz", "csv")["BY"].tolist() == ["Ærø"]


def test_header_names_are_trimmed(tmp_path):
    (tmp_path / "h.csv").write_text("PNR ; EKSD\r\n0101;01-02-2020\r\n", encoding="utf-8")
    assert read(tmp_path / "h.csv", "csv").to_dict("list") == {"PNR": ["0101"], "EKSD": ["01-02-2020"]}


def test_declared_dialect_wins(tmp_path):
    (tmp_path / "c.txt").write_text("A|B\n1|x;y\n", encoding="utf-8")
    got = read(tmp_path / "c.txt", "csv", sep="|")
    assert got.to_dict("list") == {"A": ["1"], "B": ["x;y"]}


def test_reading_errors_name_the_file(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.csv: file is empty"):
        ExtractReader(tmp_path / "empty.csv", "csv")
    with pytest.raises(InputError, match=r"nope\.csv: file not found"):
        ExtractReader(tmp_path / "nope.csv", "csv")
    (tmp_path / "bad.sas7bdat").write_bytes(b"not a sas file at all" * 20)
    with pytest.raises(InputError, match=r"bad\.sas7bdat: not a readable SAS7BDAT file"):
        ExtractReader(tmp_path / "bad.sas7bdat", "sas7bdat")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 nonsense")
    with pytest.raises(InputError, match=r"bad\.parquet: not a readable Parquet file"):
        ExtractReader(tmp_path / "bad.parquet", "parquet")
    (tmp_path / "u.csv").write_bytes("A;B\n1;Ærø\n".encode("cp1252"))
    with pytest.raises(InputError, match=r"u\.csv: not utf-8 text \(byte 0xc6 at line 2\); declare its encoding"):
        ExtractReader(tmp_path / "u.csv", "csv", encoding="utf-8")
    (tmp_path / "dup.csv").write_text("A;A\n1;2\n")
    with pytest.raises(InputError, match=r"dup\.csv, column 'A': column name appears more than once"):
        ExtractReader(tmp_path / "dup.csv", "csv")
