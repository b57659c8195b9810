"""The code paths that keep loading a national data folder cheap: row locations as numbers, chunked UTF-8
checks of large files, the catalogue parsed once per content. Messages must be those of the small paths."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_validation import VALID, problems, write_folder

import cluster_eval as ce
from cluster_eval.data import rules
from cluster_eval.errors import InputError
from cluster_eval.indicators import catalogue


def test_locations_are_words_of_numbers():
    assert rules.location(7) == "line 7"
    assert rules.location(np.int64(-7)) == "row 7"
    assert rules.location("rows[3]") == "rows[3]"
    assert rules.csv_lines(3).tolist() == [2, 3, 4]          # a header, then data rows
    assert rules.table_rows(3).tolist() == [-1, -2, -3]


def test_parquet_rows_are_named_rows(tmp_path):
    folder = write_folder(tmp_path, measures=None)
    df = pd.DataFrame({"indicator_id": ["abx_rate"] * 3, "practice_id": ["P1", "P2", "P9"],
                       "period": pd.to_datetime(["2020-01-01"] * 3), "numerator": [1.0, 2.0, 3.0],
                       "denominator": [10.0, 10.0, 10.0]})
    df.to_parquet(folder / "measures.parquet")
    with pytest.raises(InputError) as info:
        ce.load_dataset(folder)
    assert [str(p) for p in info.value.problems] == [
        f"{folder / 'measures.parquet'}, column 'practice_id': measures for a practice not in practices "
        "(e.g. 'P9') — 1 row (first: row 3)"]


@pytest.mark.parametrize("chunk", [1, 7, 1 << 24])
def test_large_file_check_gives_the_small_files_message(tmp_path, monkeypatch, chunk):
    """A file above the chunk size is checked in chunks; a bad byte still gives the whole-file message, and a
    multi-byte character split across chunks is no error."""
    monkeypatch.setattr(rules, "_CHUNK", chunk)
    bad = "practice_id,cluster_id,region\nP1,C1,K\xf8ge\n".encode("latin-1")
    assert problems(tmp_path, practices=bad) == [
        f"{tmp_path / 'data' / 'practices.csv'}: file is not UTF-8 text (byte 0xf8 at line 2); save it as UTF-8 — 1 row (first: line 2)"]
    ds = ce.load_dataset(write_folder(tmp_path, practices=VALID["practices"]))   # "ø" in København: 2 bytes
    assert ds.practices["municipality"].tolist() == ["København", "København", "Køge"]


def test_large_file_of_white_space_is_empty(tmp_path, monkeypatch):
    monkeypatch.setattr(rules, "_CHUNK", 4)
    msgs = problems(tmp_path, clusters=b"\xef\xbb\xbf \n\n   \n")
    assert msgs == [f"{tmp_path / 'data' / 'clusters.csv'}: file is empty (no header, no rows)"]


def test_catalogue_is_parsed_once_per_content(tmp_path, monkeypatch):
    calls = []
    real = catalogue.parse_catalogue
    monkeypatch.setattr(catalogue, "parse_catalogue", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(catalogue, "_PARSED", {})
    path = tmp_path / "cat.yaml"
    path.write_text(catalogue.DEFAULT_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    a = catalogue.load_catalogue(path)
    a.pop(next(iter(a)))                                   # the caller's dict, not the cached one
    b = catalogue.load_catalogue(path)
    assert len(calls) == 1 and len(b) == len(a) + 1
    text = path.read_text(encoding="utf-8")
    first = next(iter(b))
    path.write_text(text.replace(b[first].title, "A new title", 1), encoding="utf-8")   # an edit is seen
    assert catalogue.load_catalogue(path)[first].title == "A new title" and len(calls) == 2
