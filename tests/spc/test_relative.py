"""SPC relative to the nation (cluster_eval.spc.relative) on hand-made series."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.spc import qic
from cluster_eval.spc.relative import expected_from_nation, relative_chart

MONTHS = pd.date_range("2015-01-01", periods=100, freq="MS")
START = MONTHS[60]


def _series(step=1.0, seed=1, e=400.0, extra_sd=0.0):
    rng = np.random.default_rng(seed)
    exp = np.full(MONTHS.size, e)
    level = np.where(np.arange(MONTHS.size) >= 60, step, 1.0) * np.exp(rng.normal(0, extra_sd, MONTHS.size))
    return rng.poisson(exp * level).astype(float), exp


def test_window_and_frozen_baseline_by_hand():
    o, e = _series()
    o[10] = 5000          # far outside the window (month -50): must not matter
    chart, rules = relative_chart(MONTHS, o, e, START)
    assert len(chart) == 48 and chart["x"].iloc[0] == MONTHS[36] and chart["x"].iloc[-1] == MONTHS[83]
    assert rules["n_baseline"] == 24 and rules["n_after"] == 24
    assert rules["centre"] == pytest.approx(o[36:60].sum() / e[36:60].sum())
    assert (chart["phase"] == "baseline").sum() == 24
    # the same limits as ce.spc.qic's u chart frozen on the 24 baseline months
    ref = qic(MONTHS[36:84], o[36:84], e[36:84], chart=rules["chart"], freeze=24)
    np.testing.assert_allclose(chart["ucl"], ref["ucl"])


def test_no_change_gives_no_rule_and_a_step_is_found():
    o, e = _series(seed=3)
    _, quiet = relative_chart(MONTHS, o, e, START)
    assert not quiet["beyond_limits"] and not quiet["shift_mean"]
    o, e = _series(step=1.3, seed=3)
    _, moved = relative_chart(MONTHS, o, e, START)
    assert moved["beyond_limits"] and moved["shift_mean"] and moved["two_of_three"]
    assert moved["direction"] == "above"


def test_laney_adjustment_when_overdispersed():
    o, e = _series(seed=4, extra_sd=0.15)
    _, rules = relative_chart(MONTHS, o, e, START)
    assert rules["chart"] == "up" and rules["sigma_z"] > 2
    o, e = _series(seed=4)
    _, plain = relative_chart(MONTHS, o, e, START, laney="never")
    assert plain["chart"] == "u"


def test_too_short_baseline_and_arguments():
    o, e = _series()
    chart, rules = relative_chart(MONTHS, o, e, MONTHS[5])
    assert chart.empty and rules["reason"] == "fewer than 12 months before the start"
    with pytest.raises(ArgumentError, match="laney must be one of"):
        relative_chart(MONTHS, o, e, START, laney="yes")
    with pytest.raises(ArgumentError, match="same length"):
        relative_chart(MONTHS, o[:-1], e, START)


def test_expected_from_nation():
    np.testing.assert_allclose(expected_from_nation([100, 200, 5], [10, 30, 1], [1000, 1000, 0]), [1, 6, np.nan])
