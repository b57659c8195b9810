"""pool() against R metafor::rma (tests/reference/pool_metafor.R) and basic invariants."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster_eval.errors import ArgumentError
from cluster_eval.impact import pool

HERE = Path(__file__).resolve().parents[1] / "reference"
INPUT = pd.read_csv(HERE / "pool_metafor_input.csv")
REF = pd.read_csv(HERE / "pool_metafor.csv")


@pytest.mark.parametrize("dataset", ["bcg", "homog"])
@pytest.mark.parametrize("method", ["REML", "DL"])
def test_matches_metafor(dataset, method):
    d = INPUT[INPUT["dataset"] == dataset]
    ref = REF[(REF["dataset"] == dataset) & (REF["method"] == method)].iloc[0]
    got = pool(d["yi"], d["sei"], method=method, labels=d["study"]).overall.iloc[0]
    for col in ["value", "se", "lower", "upper", "tau2", "I2", "H2", "Q", "Q_p_value", "pi_lower", "pi_upper"]:
        assert got[col] == pytest.approx(ref[col], rel=1e-6, abs=1e-10), col


def test_weights_and_missing():
    res = pool([0.1, 0.3, np.nan, 0.2], [0.1, 0.2, 0.1, 0.0])
    assert res.overall["k"].iloc[0] == 2 and res.overall["k_excluded"].iloc[0] == 2
    assert res.studies["weight"].sum() == pytest.approx(100)
    assert "tau2" in res.summary()
    with pytest.raises(ArgumentError, match="at least 2 effects"):
        pool([0.1], [0.1])
    with pytest.raises(ArgumentError, match="method must be one of"):
        pool([0.1, 0.2], [0.1, 0.1], method="HS")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(0.01, 3)), min_size=2, max_size=30))
def test_invariants(rows):
    y, s = np.array(rows).T
    for m in ("REML", "DL"):
        o = pool(y, s, method=m).overall.iloc[0]
        assert o["tau2"] >= 0 and 0 <= o["I2"] < 100
        assert o["lower"] <= o["value"] <= o["upper"]
        assert o["pi_lower"] <= o["lower"] + 1e-12 and o["pi_upper"] >= o["upper"] - 1e-12
        assert y.min() - 1e-9 <= o["value"] <= y.max() + 1e-9
