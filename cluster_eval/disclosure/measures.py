"""Disclosure control of practice-level measure tables (numerator, denominator, value per practice).

A practice's numerator may be recovered as its cluster's total minus the cluster's other practices, and a
cluster's total as the nation's minus the other clusters'. :func:`suppress_measures` therefore protects
the practices together with the cluster and national totals, as one hierarchical table.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..validation import check_columns
from .primary import FLAG, REASON, THRESHOLD, TOTAL, as_list, check_threshold
from .secondary import suppress_table

KEYS = ("indicator_id", "period")
NOT_DERIVED = ("confidence", "multiplier", "year", "month")


def suppress_measures(df: pd.DataFrame, numerator: str = "numerator", denominator: str = "denominator",
                      value_cols=None, *, by=KEYS, within=("cluster_id",), unit: str = "practice_id",
                      threshold: int = THRESHOLD, complement: bool = True, totals: bool = False,
                      rounding=None) -> pd.DataFrame:
    """Suppress a practice-level measure table so no small count shows, directly or by subtraction.

    1. Primary: a numerator or denominator from 1 to ``threshold`` is hidden; so is the numerator when
       ``denominator - numerator`` is (the persons without the attribute, ``complement=True``).
    2. Secondary: the practices of each group in ``within`` (clusters; practices with no cluster form a
       group of their own), the groups' totals and the national total form one hierarchy per stratum
       ``by``; in every group with a hidden cell another one is hidden (the smallest non-zero), so that no
       hidden count equals a published total minus published counts, and no published total minus the
       published counts is itself from 1 to ``threshold``; then, until no hidden cell is pinned to one
       value by the published lines together with counts being ``>= 0`` (the attacker's linear
       programme), another complement is hidden next to a pinned cell. Numerators, denominators and (for
       proportions, when no numerator exceeds its denominator) the differences ``denominator -
       numerator`` are protected as three families along the same lines, until all three are stable.
    3. Derived values (``value_cols``: rates, proportions, limits, z-scores) are hidden in every row where
       the numerator or denominator is: a rate from a hidden count would reveal it.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per unit (practice) and stratum, with the count columns and the key columns.
    numerator, denominator : str
        The count columns.
    value_cols : list of str, optional
        Columns computed from the counts. Default: every other numeric column except the keys and
        ``confidence``/``multiplier``.
    by : list of str
        Strata with no totals across them, default ``("indicator_id", "period")``; those missing from
        ``df`` are ignored only when given by default.
    within : list of str
        Grouping levels whose totals are published, outermost first, default ``("cluster_id",)``; e.g.
        ``("region", "cluster_id")``. The national (stratum) total is always assumed published.
    unit : str
        The unit column, default ``"practice_id"``.
    threshold : int, default 4
    complement : bool
        Apply the ``denominator - numerator`` rule.
    totals : bool
        Also return the protected group and national totals (rows with :data:`TOTAL` in ``unit`` and in the
        levels summed over). Publish group totals only from these rows.
    rounding : int or None
        Round published counts to a multiple of this after suppression.

    Returns
    -------
    pandas.DataFrame
        The table with hidden counts and derived values missing, plus ``suppressed`` (bool) and
        ``suppressed_reason``.

    Examples
    --------
    >>> import pandas as pd
    >>> from cluster_eval.disclosure import suppress_measures
    >>> m = pd.DataFrame({"indicator_id": "copd_ics", "period": "2024-01-01", "cluster_id": "K1",
    ...                   "practice_id": ["P1", "P2", "P3"], "numerator": [3, 40, 60],
    ...                   "denominator": [50, 90, 120]})
    >>> m["value"] = m["numerator"] / m["denominator"]
    >>> suppress_measures(m)[["practice_id", "numerator", "value", "suppressed"]]
      practice_id  numerator  value  suppressed
    0          P1       <NA>    NaN        True
    1          P2       <NA>    NaN        True
    2          P3         60    0.5       False
    """
    threshold = check_threshold(threshold)
    by = [c for c in as_list(by) if c in df.columns] if by is KEYS else as_list(by)
    within = as_list(within)
    keys = check_columns(df, by + within + [unit], "suppress_measures")
    check_columns(df, [numerator, denominator], "suppress_measures")
    if value_cols is None:
        skip = set(keys) | {numerator, denominator, FLAG, *NOT_DERIVED}
        value_cols = [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c].dtype)
                      and not pd.api.types.is_bool_dtype(df[c].dtype)]
    value_cols = check_columns(df, as_list(value_cols), "suppress_measures")
    dims = within + [unit]
    src = df.reset_index(drop=True).copy()
    src["_row"] = np.arange(len(src))
    out = suppress_table(src, [numerator, denominator], by=by, dims=dims, margins="nested",
                         threshold=threshold, derived=value_cols,
                         complement=(numerator, denominator) if complement else False, rounding=rounding)
    is_total = out[unit].astype(object).eq(TOTAL).to_numpy()
    if totals:
        return out.drop(columns="_row")
    res = out.loc[~is_total].sort_values("_row").drop(columns="_row").reset_index(drop=True)
    res.index = df.index
    for c in dims:
        try:
            res[c] = res[c].astype(df[c].dtype)
        except (TypeError, ValueError):
            pass
    res.attrs.update(out.attrs)
    if REASON in res:
        res[REASON] = res[REASON].astype(str)
    return res
