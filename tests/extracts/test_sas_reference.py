"""The SAS7BDAT test files of pyreadstat (../shared/data/reference/sas/, read in place) read chunk by chunk to
their known contents: character, numeric, date, datetime and time columns; binary compression; SAS special
missing values; a WINDOWS-1252 file. Expected values are written out by hand from the files' documented
contents (the README's first row of ``sample``: a, 1.1, 2018-05-06, 2018-05-06 10:10:10)."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from cluster_eval.extracts import ExtractReader

SAMPLE = {
    "mychar": ["a", "b", "c", "d", "e"],
    "mynum": [1.1, 1.2, -1000.3, -1.4, 1000.3],
    "mydate": [dt.date(2018, 5, 6), dt.date(1880, 5, 6), dt.date(1960, 1, 1), dt.date(1583, 1, 1), None],
    "dtime": [dt.datetime(2018, 5, 6, 10, 10, 10), dt.datetime(1880, 5, 6, 10, 10, 10), dt.datetime(1960, 1, 1),
              dt.datetime(1583, 1, 1), None],
    "mylabl": [1.0, 2.0, 1.0, 2.0, 1.0],
    "myord": [1.0, 2.0, 3.0, 1.0, 1.0],
    "mytime": [dt.time(10, 10, 10), dt.time(23, 10, 10), dt.time(0, 0), dt.time(16, 10, 10), None],
}


def read_all(shared, name: str, chunk_rows: int, **kw) -> tuple[ExtractReader, pa.Table, int]:
    reader = ExtractReader(shared(f"data/reference/sas/{name}"), "sas7bdat", **kw)
    chunks = list(reader.chunks(reader.columns, chunk_rows))
    return reader, pa.concat_tables(chunks, promote_options="permissive"), len(chunks)


def _as_python(col):
    out = []
    for v in col.to_pylist():
        if isinstance(v, dt.datetime) and v.tzinfo is None:
            v = v.replace(microsecond=0)
        out.append(v)
    return out


@pytest.mark.parametrize("name", ["sample.sas7bdat", "sample_bincompressed.sas7bdat"])
def test_sample_reads_to_its_contents_in_chunks(shared, name):
    reader, table, n_chunks = read_all(shared, name, chunk_rows=2)
    assert n_chunks == 3                                   # 5 rows in chunks of 2
    assert reader.columns == list(SAMPLE)
    assert reader.total_rows == 5
    for col, expected in SAMPLE.items():
        got = _as_python(table.column(col))
        if col == "mynum":
            assert got == pytest.approx(expected, abs=1e-12)
        else:
            assert got == expected, col


def test_dates_file_fifty_rows_agree_with_their_datetimes(shared):
    reader, table, n_chunks = read_all(shared, "dates.sas7bdat", chunk_rows=7)
    assert n_chunks == 8 and table.num_rows == 50 and reader.total_rows == 50
    dates, stamps, times = (table.column(c).to_pylist() for c in ("date", "dtime", "time"))
    assert dates[0] == dt.date(2061, 4, 15) and stamps[0].replace(microsecond=0) == dt.datetime(2061, 4, 15, 7, 38, 33)
    assert dates[1] == dt.date(1723, 4, 21)                # before 1900, before the pandas Timestamp range
    for d, s, t in zip(dates, stamps, times):
        assert s.date() == d
        assert (s.hour, s.minute, s.second) == (t.hour, t.minute, t.second)


def test_special_missing_values_read_as_missing(shared):
    _, table, _ = read_all(shared, "missing_test.sas7bdat", chunk_rows=10)
    row = table.to_pylist()[0]
    # var1..var7 hold .A .B .C .X .Y .Z ._ (SAS special missing), var8 the ordinary '.', var9 the number 1
    assert all(row[f"var{i}"] is None for i in range(1, 9))
    assert row["var9"] == 1.0


def test_windows_1252_file_is_read_with_its_own_encoding(shared):
    reader, table, _ = read_all(shared, "test_file_label_win.sas7bdat", chunk_rows=2)
    assert table.to_pydict() == {"ID": ["ID1", "ID2", "ID3"], "SEXA": ["1", "2", "1"], "SEXB": ["1", "2", "1"]}
    # declaring the encoding gives the same text
    _, again, _ = read_all(shared, "test_file_label_win.sas7bdat", chunk_rows=2, encoding="WINDOWS-1252")
    assert again.equals(table)


def test_a_sas_file_maps_onto_an_event_table(shared, tmp_path):
    """sample.sas7bdat as a (toy) patients table: text ids, a value map, typed SAS dates."""
    from cluster_eval.extracts.convert import _Collector, _read_file, _Writer
    from cluster_eval.extracts.mapping import load_extracts
    from cluster_eval.extracts.sql import output_schema
    from cluster_eval.indicators.engine import connect

    path = shared("data/reference/sas/sample.sas7bdat")
    params = {"events": {"tables": {
        "patients": {"file": str(path), "columns": {"patient_id": "mychar", "sex": "mylabl", "birth_date": "mydate"},
                     "values": {"sex": {1: "M", 2: "F"}}},
        "listings": {"file": str(path), "columns": {"patient_id": "mychar", "practice_id": "myord",
                                                    "listed_from": "mydate"}}}}}
    part = load_extracts(params).tables["patients"][0]
    cols = ["patient_id", "sex", "birth_date"]
    (tmp_path / "p").mkdir()
    writer, found = _Writer(tmp_path / "p", output_schema("patients", cols, "text")), _Collector()
    _read_file(connect(), ExtractReader(path, "sas7bdat"), part, part.source_columns(), cols, "text", 2, found, None,
               writer)
    writer.close()
    # mydate is missing in row 5: birth_date is a required value
    assert [str(p) for p in found.problems()] == [
        f"{path}, column 'mydate' (contract column 'birth_date'): value is missing — 1 row (first: row 5: None)"]
