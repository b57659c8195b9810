"""The attacker knows counts are never negative: hidden cells pinned by the published lines AND ``x >= 0``.

A published total minus published cells leaves a hidden sum; when other hidden cells are 0, the bound
``x >= 0`` can fix them (and with them the rest) although no cell is determined by the equations
alone (Cox 1980's row-space test misses it). Regression cases worked out by hand, and the audit of
:mod:`cluster_eval.disclosure.secondary` against the attacker's LP (:mod:`disclosure_oracle`).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from disclosure_oracle import assert_safe, attacker_intervals, lines_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluster_eval.disclosure import TOTAL, add_margins, suppress_measures
from cluster_eval.disclosure.secondary import _determined, _pinned_network, _roles, build_lines


def shown(series) -> list:
    return [None if pd.isna(v) else v for v in series.astype(object)]


def measures(clusters, num, den):
    return pd.DataFrame({"indicator_id": "copd_ics", "period": pd.Timestamp("2024-01-01"), "cluster_id": clusters,
                         "practice_id": [f"P{i}" for i in range(len(num))], "numerator": num, "denominator": den})


def test_complements_pinned_by_non_negativity_get_another_cell():
    # K1: P0 0/0, P1 2/2, P2 0/4; K2: P3 2/2; threshold 2 (found by Hypothesis). P1 and P3 are hidden
    # (2 <= 2), so are K1's and K2's numerators (2 and 2). The persons without the attribute
    # (denominator - numerator) are P0 0, P1 0, P2 4, P3 0; K1 4, K2 0, nation 4. Before the fix the
    # differences of P1, P3, K1 and K2 were hidden, nation 4 and P2 4 published:
    #   K1 = P1 + 0 + 4,  K2 = P3,  K1 + K2 = 4   ->   P1 + K2 = 0   ->   P1 = K2 = P3 = 0, K1 = 4
    # (no cell is fixed by the equations alone: 4 unknowns, 3 equations). Hiding P2's difference (its
    # numerator, 0) as well gives K1 = P1 + P2, P1 + P2 + P3 = 4: P1 ranges over 0..4.
    m = measures(["K1", "K1", "K1", "K2"], [0, 2, 0, 2], [0, 2, 4, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = suppress_measures(m, threshold=2, totals=True).reset_index(drop=True)
    assert out["practice_id"].tolist() == ["P0", "P1", "P2", "P3", TOTAL, TOTAL, TOTAL]
    assert shown(out["numerator"]) == [0, None, None, None, None, None, 4]
    assert shown(out["denominator"]) == [0, None, 4, None, None, None, 8]
    lines = lines_of(out, ["cluster_id", "practice_id"])
    diff = out["denominator"].astype("float64") - out["numerator"].astype("float64")
    iv = attacker_intervals(diff, lines)
    assert iv[1] == (0, 4) and iv[3] == (0, 4)  # P1 and P3: 0..4 persons without the attribute
    raw_diff = pd.Series([0, 0, 4, 0, 4, 0, 4], dtype=float)
    assert_safe(raw_diff, diff, lines, 2)


# --- the network audit agrees with the attacker's LP on random hidden patterns -------------------

@st.composite
def nested(draw):
    n = draw(st.integers(2, 8))
    clusters = draw(st.lists(st.sampled_from(["K1", "K2", "K3"]), min_size=n, max_size=n))
    regions = {"K1": "R1", "K2": "R1", "K3": draw(st.sampled_from(["R1", "R2"]))}
    vals = draw(st.lists(st.sampled_from([0, 0, 0, 1, 2, 5]), min_size=n, max_size=n))
    df = pd.DataFrame({"region": [regions[c] for c in clusters], "cluster_id": clusters,
                       "practice_id": [f"P{i}" for i in range(n)], "n": vals})
    table = add_margins(df, "n", ["region", "cluster_id", "practice_id"], nested=True)
    hidden = draw(st.lists(st.booleans(), min_size=len(table), max_size=len(table)))
    return table, np.array(hidden)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=nested())
def test_network_audit_finds_exactly_the_cells_the_lp_pins(case):
    table, hidden = case
    dims = ["region", "cluster_id", "practice_id"]
    lines, _, _, block = build_lines(table, dims, [], [], TOTAL)
    line = lines["line"].to_numpy(dtype=np.int64)
    cell = lines["cell"].to_numpy(dtype=np.int64)
    tot = lines["total"].to_numpy(dtype=bool)
    vals = table["n"].to_numpy(dtype=float)
    roles = _roles(line, cell, tot, len(table))
    assert roles is not None  # a hierarchy is a forest of lines
    nl = int(line.max()) + 1
    pinned = set(_pinned_network(hidden, vals, *roles, nl).tolist())
    # the general audit (forced-zero LP, then row space) gives the same answer
    assert set(_determined(hidden, vals, line, cell, tot, block).tolist()) == pinned & set(cell.tolist())
    shown_vals = pd.Series(np.where(hidden, np.nan, vals))
    iv = attacker_intervals(shown_vals, lines_of(table, dims))
    lp_pinned = {i for i, (lo, hi) in iv.items() if hi - lo < 0.5 and i in set(cell.tolist())}
    assert pinned == lp_pinned
    for i in pinned:  # whole counts: a cell that is not pinned ranges over two whole values at least
        assert iv[i][1] - iv[i][0] < 0.5
    for i in set(iv) - pinned:
        assert iv[i][1] - iv[i][0] >= 1 - 1e-7
