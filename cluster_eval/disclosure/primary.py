"""Primary suppression and rounding of person counts: the rule and its thresholds.

Statistics Denmark's rule for research output: no cell may show a count of 1 to 4 persons (0 is
allowed). A count is *suppressed* by replacing it with a missing value (NaN / ``<NA>``); reports show
:data:`SUPPRESSED_TEXT` in its place.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..validation import check_columns, check_nonnegative, check_whole_number

MIN_COUNT = 5
"""The smallest non-zero count that may be published."""

THRESHOLD = MIN_COUNT - 1
"""Counts from 1 to ``THRESHOLD`` (default 4) are suppressed; configurable per call."""

ROUND_TO = 5
"""Optional rounding mode: counts are rounded to the nearest multiple of this (midpoint up), as OpenSAFELY does."""

TOTAL = "Total"
"""Label of a margin (total) row in a long table's dimension columns, see :func:`suppress_table`."""

SUPPRESSED_TEXT = "[s]"
"""What a report prints in place of a suppressed count or a value computed from one."""

FLAG = "suppressed"
REASON = "suppressed_reason"


# ---------------------------------------------------------------------------------------------
# Argument checks shared by the disclosure functions
# ---------------------------------------------------------------------------------------------

def check_threshold(threshold) -> int:
    """The largest suppressed count: a whole number of at least 1."""
    return check_whole_number(threshold, "threshold", minimum=1)


def count_values(df: pd.DataFrame, col: str) -> np.ndarray:
    """A count column as a float array (NaN for missing), refusing negative values."""
    try:
        vals = pd.to_numeric(df[col], errors="raise").to_numpy(dtype=float, na_value=np.nan, copy=True)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"column {col!r} must hold counts (numbers); got {df[col].iloc[0]!r} ...") from exc
    check_nonnegative(vals, f"column {col!r}")
    return vals


def as_list(cols) -> list[str]:
    """None, one name or several names, as a list."""
    if cols is None:
        return []
    return [cols] if isinstance(cols, str) else list(cols)


def put_counts(out: pd.DataFrame, col: str, vals: np.ndarray, hidden: np.ndarray) -> None:
    """Write a count column back with hidden cells missing; integer columns become nullable ``Int64``."""
    masked = np.where(hidden, np.nan, vals)
    was_int = pd.api.types.is_integer_dtype(out[col].dtype)
    finite = masked[np.isfinite(masked)]
    if was_int and np.all(finite == np.round(finite)):
        out[col] = pd.array(np.where(np.isfinite(masked), masked, 0).astype("int64"), dtype="Int64")
        out.loc[~np.isfinite(masked), col] = pd.NA
    else:
        out[col] = masked


def add_flags(out: pd.DataFrame, hidden: np.ndarray, reasons: list[tuple[np.ndarray, str]]) -> None:
    """Set (or extend) the boolean ``suppressed`` column and the ``suppressed_reason`` text of each row."""
    text = np.full(len(out), "", dtype=object)
    for mask, why in reasons:
        if mask.any():
            add = np.where(text[mask] == "", why, text[mask].astype(str) + "; " + why)
            text[mask] = add
    if FLAG in out.columns:
        before = out[FLAG].fillna(False).to_numpy(dtype=bool)
        old = out[REASON].fillna("").astype(str).to_numpy(dtype=object) if REASON in out.columns \
            else np.full(len(out), "", dtype=object)
        both = (old != "") & (text != "")
        text = np.where(both, old + "; " + text.astype(str), np.where(old != "", old, text))
        hidden = hidden | before
    out[FLAG] = hidden
    out[REASON] = text.astype(str)


def small(vals: np.ndarray, threshold: int) -> np.ndarray:
    """Cells holding a count from 1 to ``threshold`` (fractions in (0, threshold + 1) count as small)."""
    return (vals > 0) & (vals < threshold + 1)


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------

def suppress_counts(df: pd.DataFrame, count_cols, threshold: int = THRESHOLD, *,
                    derived=()) -> pd.DataFrame:
    """Primary suppression: hide every count from 1 to ``threshold``.

    A count ``x`` is published when ``x == 0`` or ``x > threshold``; otherwise it becomes missing.
    Zero is allowed: the rule protects groups of 1 to ``threshold`` persons (Statistics Denmark, rules
    for micro-data output: no cell below 5 persons).

    Parameters
    ----------
    df : pandas.DataFrame
        The table, one row per cell or per unit.
    count_cols : str or list of str
        Columns holding person counts.
    threshold : int, default 4
        The largest count suppressed (:data:`THRESHOLD`); a whole number of at least 1.
    derived : list of str, optional
        Columns computed from the counts (rates, proportions, limits); missing in every row where a count
        was suppressed.

    Returns
    -------
    pandas.DataFrame
        A copy with the small counts missing, plus ``suppressed`` (bool: any count or derived value of the
        row hidden) and ``suppressed_reason`` (e.g. ``"numerator below 5"``).

    Notes
    -----
    Primary suppression alone does not stop recovery by subtraction from a published total; use
    :func:`suppress_table` or :func:`suppress_measures` for that.
    """
    threshold = check_threshold(threshold)
    cols = check_columns(df, as_list(count_cols), "suppress_counts")
    derived = check_columns(df, as_list(derived), "suppress_counts")
    out = df.copy()
    any_hidden = np.zeros(len(out), dtype=bool)
    reasons = []
    for col in cols:
        vals = count_values(out, col)
        hid = small(vals, threshold)
        put_counts(out, col, vals, hid)
        any_hidden |= hid
        reasons.append((hid, f"{col} below {threshold + 1}"))
    hide_derived(out, derived, any_hidden)
    add_flags(out, any_hidden, reasons)
    return out


def hide_derived(out: pd.DataFrame, derived, hidden: np.ndarray) -> None:
    """Blank the derived columns in the hidden rows (numbers become NaN, other values missing)."""
    for col in derived:
        s = out[col]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            vals = pd.to_numeric(s).to_numpy(dtype=float, na_value=np.nan, copy=True)
            vals[hidden] = np.nan
            out[col] = vals
        else:
            s = s.astype(object)
            s[hidden] = None
            out[col] = s


def round_counts(df: pd.DataFrame, cols, base: int = ROUND_TO) -> pd.DataFrame:
    """Round counts to the nearest multiple of ``base``, midpoints up (OpenSAFELY's rounding mode).

    ``round(x) = base * floor(x / base + 1/2)``: with ``base=5``, 0-2 → 0, 3-7 → 5, 8-12 → 10. Missing
    values stay missing. Rounding is applied on top of suppression, never instead of it: a rounded count
    of 5 can stand for 3 to 7 persons, so totals no longer give exact differences.

    Parameters
    ----------
    df : pandas.DataFrame
    cols : str or list of str
        Count columns to round.
    base : int, default 5
        :data:`ROUND_TO`; a whole number of at least 1.

    Returns
    -------
    pandas.DataFrame
        A copy with the columns rounded (integer columns stay integer, nullable if they hold missing values).
    """
    base = check_whole_number(base, "base", minimum=1)
    cols = check_columns(df, as_list(cols), "round_counts")
    out = df.copy()
    for col in cols:
        vals = count_values(out, col)
        rounded = base * np.floor(vals / base + 0.5)
        put_counts(out, col, rounded, np.zeros(len(out), dtype=bool))
    return out


def format_counts(df: pd.DataFrame, cols, *, text: str = SUPPRESSED_TEXT) -> pd.DataFrame:
    """Counts as display text for a report table: ``1,234``; hidden counts as ``text`` (:data:`SUPPRESSED_TEXT`).

    Use it on a table that went through suppression, just before ``to_html``: the output audit reads a
    column named for a count (``numerator``, ``patients``, ...) and flags any shown 1 to 4.

    Parameters
    ----------
    df : pandas.DataFrame
        A table after suppression (hidden counts are missing).
    cols : str or list of str
        The count columns to format.
    text : str
        What a hidden count shows.

    Returns
    -------
    pandas.DataFrame
        A copy with those columns as text.
    """
    cols = check_columns(df, as_list(cols), "format_counts")
    out = df.copy()
    for col in cols:
        vals = count_values(out, col)
        out[col] = [text if not np.isfinite(v) else f"{v:,.0f}" if v == round(v) else f"{v:,}" for v in vals]
    return out
