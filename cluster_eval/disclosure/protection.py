"""The engine of secondary suppression: extend a hidden pattern until no line leaks and no hidden cell
is pinned (:func:`protect`; the lines, the leak rules and the attacker are stated in :mod:`.secondary`).

Each round first applies the line rules (in every leaking line, its smallest published non-zero cell is
hidden); when no line leaks, the audit (``exact``) looks for pinned cells and gives each group of linked
hidden cells holding one another complement, then the rounds repeat until nothing is pinned:

* tables whose lines form a forest (every cell a part of at most one line: one-way tables, nested
  hierarchies such as nation > region > cluster > practice, one family of ``groups``) are a network:
  lines are nodes (plus a ground node), hidden cells edges from their own line to their parent's. Two
  tables that agree with the published lines differ by a circulation, so a cell can move iff it lies
  on a cycle that can carry one, where a cell at 0 may only be passed forwards. A cell at 0 is pinned
  iff its ends are in different strongly connected components of the residual graph; a positive cell
  iff it is a bridge of its component (every cycle passes the ground, so bridges come from counting
  ground edges on each side). Vectorised over all strata: one sparse strongly-connected-components
  call and a few ``bincount`` per round (:func:`_pinned_network`).
* other tables (crossed margins, several ``groups`` families), per stratum up to :data:`EXACT_LIMIT`
  hidden cells: one LP finds the hidden zeros that no feasible table can raise, then the row-space test
  on the rest (:func:`_determined`); away from its zero bounds the feasible set spans the null space.

With whole counts the constraint matrices of one-way, nested and two-way tables are totally unimodular,
so the attacker's bounds are whole numbers: a hidden cell that is not pinned ranges over at least two
whole values (the property tests' oracle, ``tests/disclosure/disclosure_oracle.py``, checks exactly this
with ``scipy.optimize.linprog``). Not covered: an attacker who combines the numerator, denominator and
difference families (``numerator <= denominator`` row by row); each family is audited on its own lines.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import ClusterEvalWarning

EXACT_LIMIT = 3000
"""Largest number of hidden cells in one stratum for the audit of crossed tables (LP and row space)."""

MAX_TRIES = 5
"""Rounds of extra complements for one cell the crossed-table audit finds pinned, before giving up (warning)."""


# ---------------------------------------------------------------------------------------------
# The engine: cells, lines, hidden flags
# ---------------------------------------------------------------------------------------------

def _first_per_line(rows, line, cell, values, cover=None):
    """For each line among ``rows``, the row of its best complement.

    Best: non-zero before zero, then the cell that lies in the most lines needing a complement (one cell
    at a crossing mends two lines), then the smallest value.
    """
    if rows.size == 0:
        return rows
    v = values[cell[rows]]
    c = np.zeros(rows.size) if cover is None else -cover[cell[rows]]
    order = np.lexsort((cell[rows], v, c, v == 0, line[rows]))
    rows = rows[order]
    keep = np.ones(rows.size, dtype=bool)
    keep[1:] = line[rows][1:] != line[rows][:-1]
    return rows[keep]


def _forced_zero(a: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """Which of the hidden cells at 0 (``zero``) every solution of ``a x = b, x >= 0`` keeps at 0.

    The feasible directions at the true point form the cone ``{d : a d = 0, d_j >= 0 where x_j = 0}``; a
    cell at 0 is fixed iff ``d_j = 0`` on the whole cone. One LP finds all of them at once: maximise
    ``sum t_j`` subject to ``t_j <= d_j``, ``0 <= t_j <= 1`` over the cone (a cone is closed under sums
    and scaling, so every cell that can move gets ``t_j = 1``).
    """
    from scipy.optimize import linprog

    m, nz = a.shape[1], int(zero.sum())
    zi = np.flatnonzero(zero)
    c = np.concatenate([np.zeros(m), -np.ones(nz)])
    a_eq = np.hstack([a, np.zeros((a.shape[0], nz))])
    a_ub = np.zeros((nz, m + nz))
    a_ub[np.arange(nz), zi] = -1.0
    a_ub[np.arange(nz), m + np.arange(nz)] = 1.0
    bounds = [(0, None) if z else (None, None) for z in zero] + [(0, 1)] * nz
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(nz), A_eq=a_eq, b_eq=np.zeros(a.shape[0]), bounds=bounds,
                  method="highs")
    out = np.zeros(m, dtype=bool)
    out[zi] = res.x[m:] < 0.5 if res.status == 0 else True
    return out


def _determined(hidden, vals, line, cell, tot, line_block):
    """Hidden cells that the published lines and ``x >= 0`` fix to one value (general tables, per stratum).

    First the cells at 0 that no feasible table can raise (:func:`_forced_zero`, needed only when some
    hidden cell is 0); with those known, a cell ``x_i`` is fixed iff the unit vector ``e_i`` lies in the
    row space of the remaining matrix (Cox 1980): away from its zero bounds the feasible set spans the
    whole null space, so only linear determination is left.
    """
    h = hidden[cell]
    rows = np.flatnonzero(h)
    out, skipped = [], 0
    blocks = line_block[line[rows]]
    for b in np.unique(blocks):
        r = rows[blocks == b]
        cells, col = np.unique(cell[r], return_inverse=True)
        if cells.size > EXACT_LIMIT:
            skipped += 1
            continue
        lines, row = np.unique(line[r], return_inverse=True)
        a = np.zeros((lines.size, cells.size))
        a[row, col] = np.where(tot[r], -1.0, 1.0)
        zero = vals[cells] <= 0
        fixed = _forced_zero(a, zero) if zero.any() else np.zeros(cells.size, dtype=bool)
        out.append(cells[fixed])
        a = a[:, ~fixed]
        if a.shape[1]:
            _, s, vt = np.linalg.svd(a, full_matrices=False)
            q = vt[: int((s > 1e-9 * max(1.0, s.max(initial=0))).sum())]
            out.append(cells[~fixed][(q**2).sum(axis=0) > 1 - 1e-8])
    if skipped:
        warnings.warn(f"disclosure: the exact check was skipped in {skipped} strata with more than "
                      f"{EXACT_LIMIT} hidden cells", ClusterEvalWarning, stacklevel=4)
    return np.concatenate(out) if out else np.array([], dtype=int)


def _roles(line, cell, tot, ncell):
    """``(part_line, total_line)`` of every cell (-1: none), or None when a cell is a part of two lines.

    When every cell is a part of at most one line and the total of at most one (one-way tables, nested
    hierarchies, one family of published group totals), the lines form a forest and the attacker's
    problem is a network flow: see :func:`_pinned_network`.
    """
    parts = cell[~tot]
    if parts.size and np.bincount(parts, minlength=ncell).max() > 1:
        return None
    part_line = np.full(ncell, -1, dtype=np.int64)
    part_line[parts] = line[~tot]
    total_line = np.full(ncell, -1, dtype=np.int64)
    total_line[cell[tot]] = line[tot]
    return part_line, total_line


def _edges(hidden, part_line, total_line, nl):
    """The hidden cells as edges of the line graph: own line (or ground ``nl``) -> parent line (or ground)."""
    idx = np.flatnonzero(hidden & ((part_line >= 0) | (total_line >= 0)))
    tail = np.where(total_line[idx] >= 0, total_line[idx], nl)
    head = np.where(part_line[idx] >= 0, part_line[idx], nl)
    return idx, tail, head


def _pinned_network(hidden, vals, part_line, total_line, nl) -> np.ndarray:
    """Hidden cells fixed to one value by the published lines and ``x >= 0``, in a forest of lines.

    Each line is a node of a graph, plus one *ground* node; a hidden cell is an edge from its own line
    (ground for a cell that is no line's total) to the line it is a part of (ground for a top total).
    The published lines fix every node's net inflow, so two tables that agree with them differ by a
    circulation, and a hidden cell can change iff it lies on a cycle that can carry one: a cell at 0 may
    only be passed forwards (a circulation may not lower it). Hence, with the residual digraph (forward
    arc for every hidden cell, backward arc for every positive one) and its strongly connected
    components: a cell at 0 is fixed iff its two ends lie in different components; a positive cell
    is fixed iff it is a bridge of its component's undirected graph (if its ends cannot reach each other
    without it, the component splits into two parts joined by it alone). Every cycle passes the ground
    (the lines form a forest), so the bridges are found by counting the ground edges ("ports") on each
    side of a cell. With whole counts the matrix is totally unimodular, so a cell that is not fixed
    ranges over at least two whole values.
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    g = nl
    idx, tail, head = _edges(hidden, part_line, total_line, nl)
    if idx.size == 0:
        return idx
    pos = vals[idx] > 0
    src = np.concatenate([tail, head[pos]])
    dst = np.concatenate([head, tail[pos]])
    graph = sparse.csr_matrix((np.ones(src.size), (src, dst)), shape=(nl + 1, nl + 1))
    _, lab = connected_components(graph, directed=True, connection="strong")
    same = lab[tail] == lab[head]
    internal = same & (tail != g) & (head != g)
    port = same & ~internal
    port_line = np.where(tail == g, head, tail)
    ports = np.bincount(port_line[port], minlength=nl + 1).astype(float)
    child, parent = tail[internal], head[internal]
    sub = ports.copy()
    for _ in range(nl + 1):  # ports in the subtree below each line (the depth of the hierarchy rounds)
        new = ports + np.bincount(parent, weights=sub[child], minlength=nl + 1)
        if np.array_equal(new, sub):
            break
        sub = new
    root = np.arange(nl + 1)
    root[child] = parent
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    total = sub[root]
    bridge = np.where(internal, (sub[tail] == 0) | (total[tail] - sub[tail] == 0),
                      total[root[port_line]] <= 1)
    return idx[~same | bridge]


def _pick_network(pinned, hidden, ok, vals, line, cell, part_line, total_line, nl):
    """One complement per group of linked hidden cells holding a fixed cell, and the fixed cells left without.

    Candidates are the published cells of the lines through a fixed cell; within each group of lines
    linked by hidden totals the best is taken (non-zero first, then the smallest), and the audit runs
    again: one cell usually opens a cycle for the whole group.
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    idx, tail, head = _edges(hidden, part_line, total_line, nl)
    link = (tail < nl) & (head < nl)
    graph = sparse.csr_matrix((np.ones(int(link.sum())), (tail[link], head[link])), shape=(nl, nl))
    _, comp = connected_components(graph, directed=False)
    bad = np.zeros(nl, dtype=bool)
    for lines_of in (part_line[pinned], total_line[pinned]):
        bad[lines_of[lines_of >= 0]] = True
    rows = np.flatnonzero(bad[line] & ~hidden[cell] & ok[cell])
    v = vals[cell[rows]]
    grp = comp[line[rows]]
    order = np.lexsort((cell[rows], v, v == 0, grp))
    rows, grp = rows[order], grp[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = grp[1:] != grp[:-1]
    own = np.where(part_line[pinned] >= 0, part_line[pinned], total_line[pinned])
    left = int((~np.isin(comp[own], grp[first])).sum())
    return cell[rows[first]], left


def protect(values, hidden, lines: pd.DataFrame, threshold: int, *, frozen=None, exact: bool = False,
            line_block=None) -> np.ndarray:
    """Extend a hidden pattern until no line leaks (and, with ``exact``, no hidden cell is pinned).

    Parameters
    ----------
    values : ndarray of float
        Cell values (NaN: unknown, treated as hidden).
    hidden : ndarray of bool
        Cells hidden so far (primary suppression).
    lines : DataFrame
        One row per membership: ``line`` (int, 0..L-1), ``cell`` (int), ``total`` (bool: the line's total).
    frozen : ndarray of bool, optional
        Cells that must not be chosen as complements (totals published elsewhere).
    exact : bool
        Audit the pattern against the attacker's LP (published lines and ``x >= 0``) and add complements
        until no hidden cell is pinned to one value (see the module docstring). ``False``: line rules only.
    line_block : ndarray of int, optional
        Stratum of each line (independent sub-tables), for the audit of crossed tables.

    Returns
    -------
    ndarray of bool
        The final hidden pattern.
    """
    vals = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    hidden = np.asarray(hidden, dtype=bool) | np.isnan(values)
    ok = ~np.isnan(values) if frozen is None else ~np.isnan(values) & ~frozen
    line = lines["line"].to_numpy(dtype=np.int64)
    cell = lines["cell"].to_numpy(dtype=np.int64)
    tot = lines["total"].to_numpy(dtype=bool)
    if line.size == 0:
        return hidden
    nl = int(line.max()) + 1
    line_block = np.zeros(nl, dtype=int) if line_block is None else np.asarray(line_block)
    part_v = np.where(tot, 0.0, vals[cell])
    stuck = 0
    tries = np.zeros(len(values), dtype=int)
    roles = _roles(line, cell, tot, len(values)) if exact else None
    for _ in range(10 * len(values) + 10):
        h = hidden[cell]
        n_hidden = np.bincount(line, weights=h, minlength=nl)
        n_parts = np.bincount(line, weights=h & ~tot, minlength=nl)
        s = np.bincount(line, weights=np.where(h, part_v, 0.0), minlength=nl)
        tot_hidden = np.bincount(line, weights=h & tot, minlength=nl) > 0
        leaky = (n_hidden == 1) | (~tot_hidden & (n_parts >= 1) & (s <= threshold))
        stuck = 0
        if leaky.any():
            rows = np.flatnonzero(leaky[line] & ~h & ok[cell])
            cover = np.bincount(cell[rows], minlength=vals.size)
            pick = _first_per_line(rows, line, cell, vals, cover)
            stuck = int(np.setdiff1d(np.flatnonzero(leaky), line[pick]).size)
            if pick.size:
                hidden[cell[pick]] = True
                continue
        if not exact:
            break
        if roles is not None:
            pinned = _pinned_network(hidden, vals, *roles, nl)
            pinned = pinned[ok[pinned]]
            if pinned.size == 0:
                break
            pick, left = _pick_network(pinned, hidden, ok, vals, line, cell, *roles, nl)
            if pick.size == 0:
                stuck += left
                break
            hidden[pick] = True
            continue
        det = _determined(hidden, vals, line, cell, tot, line_block)
        det = det[ok[det]] if det.size else det
        tries[det] += 1
        given_up = det[tries[det] > MAX_TRIES]
        det = det[tries[det] <= MAX_TRIES]
        if det.size == 0:
            stuck += int(given_up.size)
            break
        with_det = np.isin(line, line[np.isin(cell, det)])
        pick = _first_per_line(np.flatnonzero(with_det & ~h & ok[cell]), line, cell, vals)
        if pick.size == 0:
            stuck += int(det.size)
            break
        hidden[cell[pick]] = True
    if stuck:
        warnings.warn(f"disclosure: {stuck} lines or cells could not be fully protected here (no cell left to "
                      "hide, or totals published elsewhere); suppress those totals where they are published",
                      ClusterEvalWarning, stacklevel=4)
    return hidden
