"""The indicator mapping and the contract-table panels."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.impact.panel import build_panels, indicator_map


def test_indicator_map_forms():
    a = indicator_map({"x": "t1"})
    assert a.loc["x", "topic"] == "t1" and a.loc["x", "multiplier"] == 1.0
    b = indicator_map([SimpleNamespace(id="r", topic="t2", kind="rate")])
    assert b.loc["r", "multiplier"] == 1000.0
    c = indicator_map({"p": SimpleNamespace(topic="t3", multiplier=100.0)})
    assert c.loc["p", "multiplier"] == 100.0
    d = indicator_map(pd.DataFrame({"indicator_id": ["q"], "topic": ["t4"]}))
    assert d.loc["q", "multiplier"] == 1.0
    with pytest.raises(ArgumentError, match="indicator_id and topic"):
        indicator_map(pd.DataFrame({"id": ["q"]}))


def test_panel_values_starts_and_lag(tiny):
    prac, acts, meas = tiny
    p = build_panels(meas, prac, acts, {"ind_a": {"topic": "abx", "multiplier": 100.0}}, lag=2)["ind_a"]
    assert p.value.shape == (len(prac), 36)
    r = meas.iloc[0]
    i = list(p.practice_ids).index(r["practice_id"])
    assert p.value[i, 0] == pytest.approx(r["numerator"] / r["denominator"] * 100)
    cs = p.cluster_start.set_index("cluster_id")
    assert cs.loc["C00", "start_index"] == 10 + 2  # start month index 10, plus the lag
    assert np.isinf(p.start_index[[c is None for c in p.cluster_ids]]).all()


def test_zero_denominator_is_missing(tiny):
    prac, acts, meas = tiny
    m = meas.copy()
    m.loc[0, "denominator"] = 0.0
    m.loc[0, "numerator"] = 0.0
    p = build_panels(m, prac, acts, {"ind_a": "abx"})["ind_a"]
    i = list(p.practice_ids).index(m.loc[0, "practice_id"])
    assert np.isnan(p.value[i, 0])
