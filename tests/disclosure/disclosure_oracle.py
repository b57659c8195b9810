"""The attacker's oracle for disclosure tests: the lines of a long table and a linear program per hidden cell.

For every hidden cell, minimise and maximise its value subject to every line (parts sum to the total)
with the published cells fixed and all values >= 0 (scipy.optimize.linprog, HiGHS). A cell whose
feasible interval is a single value can be recovered by subtraction.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from cluster_eval.disclosure import TOTAL


def lines_of(table: pd.DataFrame, dims: list[str]):
    """Every published or hidden line of a long table with margin rows: (part row labels, total row label)."""
    out = []
    for d in dims:
        others = [x for x in dims if x != d]
        for _, g in table.groupby(others, dropna=False):
            tot = g.index[g[d].astype(object) == TOTAL]
            parts = g.index[g[d].astype(object) != TOTAL]
            if len(tot) == 1 and len(parts):
                out.append((list(parts), tot[0]))
    return out


def attacker_intervals(values: pd.Series, lines) -> dict:
    """{hidden label: (min, max)} of each hidden cell given the published cells and lines, values >= 0."""
    hidden = [i for i in values.index if pd.isna(values[i])]
    if not hidden:
        return {}
    pos = {i: k for k, i in enumerate(hidden)}
    a, b = [], []
    for parts, tot in lines:
        row, rhs = np.zeros(len(hidden)), 0.0
        for i in parts:
            if i in pos:
                row[pos[i]] += 1
            else:
                rhs -= float(values[i])
        if tot in pos:
            row[pos[tot]] -= 1
        elif tot is not None:
            rhs += float(values[tot])
        if row.any():
            a.append(row)
            b.append(rhs)
    kw = {"A_eq": np.array(a), "b_eq": np.array(b)} if a else {}
    out = {}
    for i, k in pos.items():
        c = np.zeros(len(hidden))
        c[k] = 1
        lo = linprog(c, bounds=(0, None), method="highs", **kw)
        hi = linprog(-c, bounds=(0, None), method="highs", **kw)
        assert lo.status == 0, "the published lines must be consistent with the true values"
        out[i] = (lo.fun, -hi.fun if hi.status == 0 else np.inf)
    return out


def assert_safe(raw: pd.Series, published: pd.Series, lines, threshold: int):
    """The four rules: no small published count; no line with one hidden cell; no small difference; no
    hidden cell with a single feasible value."""
    vals = published.astype("float64")
    shown = vals.dropna()
    assert not ((shown > 0) & (shown <= threshold)).any(), shown[(shown > 0) & (shown <= threshold)]
    assert (vals.dropna() == raw[vals.notna()]).all(), "published counts are the true counts"
    for parts, tot in lines:
        cells = parts + [tot]
        n_hidden = int(vals[cells].isna().sum())
        assert n_hidden != 1, f"line {cells} has exactly one hidden cell"
        if pd.notna(vals[tot]) and vals[parts].isna().any():
            diff = vals[tot] - vals[parts].sum()
            assert diff > threshold, f"line {cells}: published total minus published parts is {diff}"
    for i, (lo, hi) in attacker_intervals(vals, lines).items():
        assert hi - lo >= 1 - 1e-7, f"hidden cell {i} (true {raw[i]}) is pinned to [{lo}, {hi}]"
