"""Margins and lines of a long table: its total rows, and the cells each total sums (see :mod:`.secondary`)."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..validation import check_columns
from .primary import TOTAL, as_list


def add_margins(df: pd.DataFrame, count_cols, dims, by=None, *, total: str = TOTAL,
                nested: bool = False) -> pd.DataFrame:
    """Append margin (total) rows to a long table.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per cell: the dimension columns ``dims``, stratum columns ``by``, counts ``count_cols``.
    count_cols, dims, by : list of str
    total : str
        Label written into a dimension column of a margin row.
    nested : bool
        ``False``: crossed dimensions (every combination of margins, as a two-way table with row, column
        and grand totals). ``True``: a hierarchy, outermost first (e.g. ``["cluster_id", "practice_id"]``):
        cluster totals and the overall total only.

    Returns
    -------
    pandas.DataFrame
        The rows of ``df`` followed by the margin rows (other columns missing there).
    """
    cols = as_list(count_cols)
    dims, by = as_list(dims), as_list(by)
    check_columns(df, cols + dims + by, "add_margins")
    out = df.copy()
    for d in dims:
        out[d] = out[d].astype(object)
    if nested:
        combos = [dims[len(dims) - k:] for k in range(1, len(dims) + 1)]
    else:
        combos = [list(c) for k in range(1, len(dims) + 1) for c in itertools.combinations(dims, k)]
    frames = [out]
    for summed in combos:
        keep = by + [d for d in dims if d not in summed]
        if keep:
            m = out.groupby(keep, dropna=False, sort=False)[cols].sum(min_count=1).reset_index()
        else:
            m = out[cols].sum(min_count=1).to_frame().T
        for d in summed:
            m[d] = total
        frames.append(m)
    return pd.concat(frames, ignore_index=True)[list(df.columns)]


def _codes(df: pd.DataFrame, keys: list[str]) -> np.ndarray:
    if not keys:
        return np.zeros(len(df), dtype=np.int64)
    return df.groupby(keys, dropna=False, sort=False).ngroup().to_numpy(dtype=np.int64)


def build_lines(df: pd.DataFrame, dims, by, groups, total: str):
    """Lines of a long table: margins along each dimension, and external group totals (virtual cells).

    Returns ``(lines, n_virtual, virtual_parts, line_block)`` where virtual total cells are numbered from
    ``len(df)`` on and ``virtual_parts`` maps each virtual cell to the table rows it sums.
    """
    n = len(df)
    frames, block, next_line = [], [], 0
    strat = _codes(df, by)
    is_margin = np.zeros(n, dtype=bool)
    for d in dims:
        is_margin |= (df[d].astype(object) == total).to_numpy()
    for d in dims:
        lid = _codes(df, by + [x for x in dims if x != d])
        is_tot = (df[d].astype(object) == total).to_numpy()
        n_tot = np.bincount(lid, weights=is_tot)
        n_part = np.bincount(lid, weights=~is_tot)
        if (n_tot > 1).any():
            raise ArgumentError(f"suppress_table: {int(n_tot.max())} rows are the {total!r} of one line along "
                                f"{d!r}; each line needs one total row")
        use = (n_tot == 1) & (n_part >= 1)
        keep = use[lid]
        uniq, new = np.unique(lid[keep], return_inverse=True)
        frames.append(pd.DataFrame({"line": new + next_line, "cell": np.flatnonzero(keep),
                                    "total": is_tot[keep]}))
        first = np.zeros(uniq.size, dtype=np.int64)
        first[new] = strat[np.flatnonzero(keep)]
        block.append(first)
        next_line += uniq.size
    virtual = []
    nv = 0
    for fam in groups:
        parts = ~is_margin
        gid = _codes(df, by + fam)[parts]
        rows = np.flatnonzero(parts)
        uniq, new = np.unique(gid, return_inverse=True)
        vcell = n + nv + new
        frames.append(pd.DataFrame({"line": next_line + new, "cell": rows, "total": False}))
        frames.append(pd.DataFrame({"line": next_line + np.arange(uniq.size),
                                    "cell": n + nv + np.arange(uniq.size), "total": True}))
        virtual.append(pd.DataFrame({"vcell": vcell, "row": rows}))
        b = np.zeros(uniq.size, dtype=np.int64)
        b[new] = strat[rows]
        block.append(b)
        next_line += uniq.size
        nv += uniq.size
    lines = pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame({"line": [], "cell": [], "total": []})
    vparts = pd.concat(virtual, ignore_index=True) if virtual else pd.DataFrame({"vcell": [], "row": []})
    line_block = np.concatenate(block) if block else np.zeros(0, dtype=np.int64)
    return lines, nv, vparts, line_block
