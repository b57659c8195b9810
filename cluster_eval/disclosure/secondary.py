"""Secondary (complementary) suppression: no hidden count may be recovered from a published total.

The table is seen as cells tied together by *lines*: a line is a set of part cells whose sum is a total
cell. Totals either sit in the table as margin rows (a dimension column holding :data:`TOTAL`, as in a
two-way table with row and column totals), or are published elsewhere (``groups``: e.g. each cluster's
total over its practices, shown in another table), in which case the total is a *virtual* cell that
cannot be hidden here.

A line leaks when

1. exactly one of its cells (parts and total) is hidden: that cell is the total minus the others; or
2. its total is published and the hidden parts add up to at most ``threshold`` (0 included): the
   published total minus the published parts is then itself a small count.

Each round hides, in every leaking line, the smallest published non-zero cell (zeros last), until no
line leaks. The line rules are not enough: an attacker knows the published lines *and* that no count
is negative, and may solve, for every hidden cell, ``min x_i`` and ``max x_i`` subject to ``A x = b``
and ``x >= 0`` (the attacker's linear programme; Cox 1980, "Suppression methodology and statistical
disclosure control", JASA 75:377-385; the "audit" of Fischetti & Salazar-González 1999, Math. Prog.
86:283-304). A hidden cell is *pinned* when that interval is a single value. Two ways to be pinned:

* linearly: ``e_i`` lies in the row space of ``A`` restricted to the hidden cells (crossed tables, where
  lines that each hold two hidden cells can still bridge two blocks of hidden cells);
* through ``x >= 0``: hidden cells at 0 can only go up, which may fix them and, with them, the rest of
  the line. E.g. in a cluster, ``K1 = P1 + P2 + 0`` with ``P2 = 4`` published, ``K2 = P3``, and the nation
  ``K1 + K2 = 4`` published: ``P1 + K2 = 0``, so ``P1 = K2 = P3 = 0`` and ``K1 = 4``, though no cell is
  fixed by the equations alone.

How the audit finds pinned cells (a network for forests of lines, an LP and the row space for crossed
tables), and what it does not cover: :mod:`.protection`. The lines of a long table: :mod:`.lines`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..validation import check_choice, check_columns, check_whole_number
from .lines import add_margins, build_lines
from .primary import (
    THRESHOLD,
    TOTAL,
    add_flags,
    as_list,
    check_threshold,
    count_values,
    hide_derived,
    put_counts,
    round_counts,
    small,
)

# re-exported from their old home (tests/disclosure/test_nonnegativity.py imports the private ones)
from .protection import EXACT_LIMIT, MAX_TRIES, _determined, _pinned_network, _roles, protect  # noqa: F401

MARGINS = ("given", "crossed", "nested")


# ---------------------------------------------------------------------------------------------
# Public: a whole table
# ---------------------------------------------------------------------------------------------

def suppress_table(df: pd.DataFrame, count_cols=None, *, by=None, dims=None, margins: str = "given",
                   groups=None, threshold: int = THRESHOLD, derived=(), complement=None, rounding=None,
                   total: str = TOTAL, exact="auto", counts=None) -> pd.DataFrame:
    """Primary and secondary suppression of a table whose totals are published.

    Parameters
    ----------
    df : pandas.DataFrame
        A long table, one row per cell (several count columns are protected one after the other, each
        with the same lines).
    count_cols : str or list of str
        Columns holding person counts (``counts`` is accepted as another name for it).
    by : list of str, optional
        Strata: independent sub-tables with no totals across them (e.g. ``["indicator_id", "period"]``).
    dims : list of str, optional
        The table's dimensions. A row whose dimension ``d`` holds ``total`` is the total, along ``d``, of
        the rows that share its other dimensions (and strata).
    margins : {"given", "crossed", "nested"}
        ``"given"``: the margin rows already in ``df`` are the published totals. ``"crossed"`` / ``"nested"``:
        compute them first with :func:`add_margins` (crossed dimensions, or a hierarchy outermost first) and
        return them, protected, with the table: publish totals only from this output.
    groups : list of str, or list of lists of str, optional
        Totals published elsewhere: the sum of the rows sharing these columns (within ``by``), e.g.
        ``["cluster_id"]`` for cluster totals over practices. ``[]`` in the list means the stratum total.
        Such totals cannot be hidden here; when one of them is itself small it must be suppressed where it
        is published (a warning says when a line cannot be protected from here).
    threshold : int, default 4
        Counts from 1 to ``threshold`` are hidden.
    derived : list of str
        Columns computed from the counts: missing in every row where any count is hidden.
    complement : (str, str), bool or None
        ``(numerator, denominator)``: also hide the numerator when ``denominator - numerator`` is from 1 to
        ``threshold`` (the persons *without* the attribute would be a small count); and, when no
        numerator exceeds its denominator, protect the differences along the lines like a count (their
        totals are published too: total denominator minus total numerator). ``None`` (default): applied
        when the count columns are named ``numerator`` and ``denominator``; ``False``: never.
    rounding : int or None
        After suppression, round the published counts to a multiple of this (see :func:`round_counts`).
    total : str
        The label of margin rows (:data:`TOTAL`).
    exact : "auto", bool
        Audit the hidden pattern against the attacker's linear programme (published lines and counts
        ``>= 0``) and add complements until no hidden cell is pinned to one value. ``"auto"`` and ``True``
        (default): always; ``False``: the line rules only (not safe; for comparison).

    Returns
    -------
    pandas.DataFrame
        A copy (with margin rows when ``margins`` computed them) in which hidden counts and derived values
        are missing, plus ``suppressed`` (bool) and ``suppressed_reason``. ``attrs["count_columns"]`` names
        the count columns (written into Parquet metadata; the output audit reads it).

    Notes
    -----
    The rules, for every line (a total and its parts): never exactly one hidden cell, and never a
    published total whose hidden parts add up to ``threshold`` or less; then no hidden cell pinned to
    one value by the published lines and non-negativity (the attacker's LP). Complements are the
    smallest non-zero published cells. See the module docstring for the audit (Cox 1980; Fischetti and
    Salazar-González 1999).
    """
    if count_cols is None:
        count_cols = counts
    threshold = check_threshold(threshold)
    cols = check_columns(df, as_list(count_cols), "suppress_table")
    if not cols:
        raise ArgumentError("suppress_table: count_cols must name at least one count column; got none")
    by, dims = check_columns(df, as_list(by), "suppress_table"), check_columns(df, as_list(dims), "suppress_table")
    derived = check_columns(df, as_list(derived), "suppress_table")
    check_choice(margins, "margins", MARGINS)
    groups = [] if groups is None else list(groups)
    if groups and all(isinstance(g, str) for g in groups):
        groups = [groups]
    groups = [check_columns(df, as_list(g), "suppress_table") for g in groups]
    if rounding is not None:
        rounding = check_whole_number(rounding, "rounding", minimum=1)
    if complement is None:
        complement = ("numerator", "denominator") if {"numerator", "denominator"} <= set(cols) else False
    elif complement is True:
        complement = ("numerator", "denominator")
    if complement:
        complement = tuple(check_columns(df, list(complement), "suppress_table"))
        if len(complement) != 2 or not set(complement) <= set(cols):
            raise ArgumentError(f"suppress_table: complement must name two of the count columns (numerator, "
                                f"denominator); got {complement!r}")
    index = df.index if margins == "given" else None
    if margins != "given":
        if not dims:
            raise ArgumentError(f"suppress_table: margins={margins!r} needs dims (the table's dimensions)")
        df = add_margins(df, cols, dims, by, total=total, nested=margins == "nested")
    out = df.reset_index(drop=True).copy()
    lines, nv, vparts, line_block = build_lines(out, dims, by, groups, total)
    n = len(out)
    exact = exact == "auto" or bool(exact)
    raw = {c: count_values(out, c) for c in cols}
    prim = {c: small(v, threshold) for c, v in raw.items()}
    comp = np.zeros(n, dtype=bool)
    if complement:
        num, den = complement
        diff = raw[den] - raw[num]
        comp = small(diff, threshold) & ~prim[num] & ~prim[den]
    def family(vals, start):
        """Protect one family of counts (the same lines), with published group totals as virtual cells."""
        hid0, frozen = start, np.zeros(n, dtype=bool)
        if nv:
            vrow = vparts["row"].to_numpy(dtype=np.int64)
            vcell = vparts["vcell"].to_numpy(dtype=np.int64) - n
            vsum = np.bincount(vcell, weights=np.nan_to_num(vals[vrow]), minlength=nv)
            vnan = np.bincount(vcell, weights=np.isnan(vals[vrow]), minlength=nv) > 0
            vsize = np.bincount(vcell, minlength=nv)
            vvals = np.where(vnan, np.nan, vsum)
            # a single-part group's published total equals its part: that part cannot be a complement
            single = (vsize == 1) & ~small(vvals, threshold)
            frozen[vrow[single[vcell]]] = True
            vals = np.concatenate([vals, vvals])
            hid0 = np.concatenate([hid0, small(vvals, threshold)])
            frozen = np.concatenate([frozen, np.ones(nv, dtype=bool)])
        return protect(vals, hid0, lines, threshold, frozen=frozen, exact=bool(exact),
                       line_block=line_block)[:n]

    start = {c: prim[c] | (comp if complement and c == complement[0] else False) for c in cols}
    hid = dict(start)
    # the persons without the attribute (denominator - numerator) add up along the same lines: protect
    # them as a third family when every difference is >= 0 (a proportion), hiding the numerator
    comp_family = bool(complement) and len(lines) > 0 and not (raw[complement[1]] - raw[complement[0]] < 0).any()
    for _ in range(len(out) + 2):
        for c in cols:
            hid[c] = family(raw[c], hid[c])
        if not comp_family:
            break
        num, den = complement
        diff_hidden = hid[num] | hid[den]
        extra = family(raw[den] - raw[num], diff_hidden) & ~diff_hidden
        if not extra.any():
            break
        hid[num] = hid[num] | extra
    any_hidden = np.zeros(n, dtype=bool)
    reasons = []
    for c in cols:
        hidden = hid[c] & ~np.isnan(raw[c])
        put_counts(out, c, raw[c], hidden)
        any_hidden |= hidden
        reasons.append((prim[c], f"{c} below {threshold + 1}"))
        if complement and c == complement[0]:
            reasons.append((comp, f"{complement[1]} - {complement[0]} below {threshold + 1}"))
        reasons.append((hidden & ~start[c], f"{c} hidden to protect a total"))
    if rounding:
        out = round_counts(out, cols, base=rounding)
    hide_derived(out, derived, any_hidden)
    add_flags(out, any_hidden, reasons)
    out.attrs["count_columns"] = list(cols)
    out.attrs["disclosure"] = {"threshold": threshold, "rounding": rounding}
    if index is not None:
        out.index = index
    return out
