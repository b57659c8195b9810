"""report.tables.read_table: the indexed selection gives the rows a plain boolean filter gives, in file order,
and a rewritten file is read again (the cache is keyed by modification time and size)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from cluster_eval.report import tables as T


def _run(tmp_path, df: pd.DataFrame, name: str = "trends"):
    (tmp_path / "tables").mkdir(exist_ok=True)
    df.to_parquet(tmp_path / "tables" / f"{name}.parquet", index=False)
    return tmp_path


def test_selection_equals_boolean_filter(tmp_path):
    rng = np.random.default_rng(3)
    n = 500
    df = pd.DataFrame({"unit_id": rng.choice(["C1", "C2", "C3", "R1", "nation", None], n),
                       "indicator_id": rng.choice(["a", "b", "c"], n), "k": rng.integers(0, 4, n),
                       "value": rng.normal(size=n)})
    run = _run(tmp_path, df)
    cases = [dict(unit_id="C2"), dict(unit_id=["C1", "nation", "absent"]),
             dict(unit_id=("R1", "C3"), indicator_id=["b", "c"]), dict(k=2), dict(k=[0, 3], unit_id="C1"),
             dict(unit_id="absent"), dict(no_such_column="x")]
    for equal in cases:
        keep = np.ones(n, bool)
        for col, v in equal.items():
            if col in df:
                keep &= df[col].isin(list(v) if isinstance(v, list | tuple) else [v]).to_numpy()
        want = df[keep].reset_index(drop=True)
        for _ in range(2):   # the second call goes through the cached index
            pd.testing.assert_frame_equal(T.read_table(run, "trends", **equal), want)


def test_result_is_a_copy_and_a_new_file_is_read_again(tmp_path):
    run = _run(tmp_path, pd.DataFrame({"cluster_id": ["A", "B", "A"], "x": [1.0, 2.0, 3.0]}), "effects")
    got = T.read_table(run, "effects", cluster_id="A")
    got.loc[0, "x"] = 99.0
    assert T.read_table(run, "effects", cluster_id="A")["x"].tolist() == [1.0, 3.0]
    _run(tmp_path, pd.DataFrame({"cluster_id": ["B", "A", "C", "A"], "x": [5.0, 6.0, 7.0, 8.0]}), "effects")
    assert T.read_table(run, "effects", cluster_id="A")["x"].tolist() == [6.0, 8.0]
