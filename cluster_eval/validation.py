"""Argument checks of the library's functions, and the one closest-key suggestion helper.

The ``check_*`` functions convert arguments once, at the boundary (into float arrays where numbers are
expected) and raise :class:`~cluster_eval.errors.ArgumentError` with a message that states the rule and
quotes the offending value. This module imports nothing of the package but :mod:`cluster_eval.errors`, so
every other module may use it.

The other input checks live beside what they check: the data contract's rules in
:mod:`cluster_eval.data.rules`, params files' strict keys in :mod:`cluster_eval.data.params`, the
patient-level event tables in :mod:`cluster_eval.indicators.checks`.
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import ArgumentError


def did_you_mean(key, allowed) -> str | None:
    """The allowed key closest to a misspelt ``key`` (``difflib``'s ratio of at least 0.6), or None."""
    close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1)
    return close[0] if close else None


def hint(key, allowed, listing: str = "allowed") -> str:
    """Message tail for an unknown ``key``: "; did you mean 'x'?" (see :func:`did_you_mean`), else the list."""
    close = did_you_mean(key, allowed)
    return f"; did you mean {close!r}?" if close else f"; {listing}: {', '.join(sorted(map(str, allowed)))}"


def as_float_array(x, name: str) -> np.ndarray:
    """Convert a scalar, list, array or Series to a 1-d float array (NaN for missing)."""
    if isinstance(x, pd.Series | pd.Index):
        arr = pd.to_numeric(x, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            arr = np.asarray(x, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ArgumentError(f"{name} must be numeric; got {x!r}") from exc
    return np.atleast_1d(arr).astype(float, copy=False)


def check_same_length(**arrays: np.ndarray) -> int:
    """All arrays have one length (length-1 arrays broadcast). Returns the common length."""
    lengths = {k: len(v) for k, v in arrays.items()}
    n = max(lengths.values())
    bad = {k: m for k, m in lengths.items() if m not in (1, n)}
    if bad:
        text = ", ".join(f"{k} has {m}" for k, m in lengths.items())
        raise ArgumentError(f"arguments must have the same length (or length 1): {text}")
    return n


def check_nonnegative(x: np.ndarray, name: str) -> None:
    """No negative values (NaN allowed: missing)."""
    neg = np.flatnonzero(x < 0)
    if neg.size:
        raise ArgumentError(f"{name} must not be negative; got {repr(float(x[neg[0]]))} at position {neg[0]}")


def check_integer_counts(x: np.ndarray, name: str) -> None:
    """Counts are whole numbers."""
    finite = np.isfinite(x)
    frac = np.flatnonzero(finite & (np.abs(x - np.round(x)) > 1e-9))
    if frac.size:
        raise ArgumentError(f"{name} must be whole numbers; got {repr(float(x[frac[0]]))} at position {frac[0]}")


def check_numerator_le_denominator(num: np.ndarray, den: np.ndarray, num_name="numerator",
                                   den_name="denominator") -> None:
    """A proportion's numerator may not exceed its denominator."""
    num_b, den_b = np.broadcast_arrays(num, den)
    bad = np.flatnonzero(num_b > den_b)
    if bad.size:
        i = bad[0]
        raise ArgumentError(
            f"{num_name} must not be greater than {den_name}; got {num_name}={repr(float(num_b[i]))} > "
            f"{den_name}={repr(float(den_b[i]))} at position {i}"
        )


def check_confidence(confidence) -> tuple[float, ...]:
    """One confidence level or a tuple of them, each strictly between 0 and 1.

    Levels given as percentages above 1 and up to 100 (e.g. 95, 99.8) are refused: say 0.95.
    """
    levels = confidence if isinstance(confidence, Sequence | np.ndarray) and not isinstance(confidence, str) \
        else (confidence,)
    out = []
    for c in levels:
        try:
            c = float(c)
        except (TypeError, ValueError) as exc:
            raise ArgumentError(f"confidence must be a number between 0 and 1; got {c!r}") from exc
        if not (0 < c < 1):
            raise ArgumentError(f"confidence must be between 0 and 1 (exclusive); got {repr(c)}")
        out.append(c)
    if not out:
        raise ArgumentError("confidence must name at least one level; got an empty sequence")
    return tuple(out)


def check_choice(value, name: str, choices: Sequence[str]):
    """A string argument is one of the allowed choices."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ArgumentError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def check_positive(value, name: str) -> float:
    """A scalar argument is a finite number above zero."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"{name} must be a positive number; got {value!r}") from exc
    if not np.isfinite(v) or v <= 0:
        raise ArgumentError(f"{name} must be a positive number; got {value!r}")
    return v


def check_counts(numerator, denominator=None, *, proportion=False, integer=False,
                 num_name="numerator", den_name="denominator"):
    """Convert and check a numerator (and denominator) pair for a statistic.

    Returns float arrays broadcast to a common length. Negative values, mismatched lengths and (for
    proportions) numerator > denominator raise :class:`ArgumentError`.
    """
    num = as_float_array(numerator, num_name)
    check_nonnegative(num, num_name)
    if integer:
        check_integer_counts(num, num_name)
    if denominator is None:
        return num
    den = as_float_array(denominator, den_name)
    check_same_length(**{num_name: num, den_name: den})
    check_nonnegative(den, den_name)
    if proportion:
        check_numerator_le_denominator(num, den, num_name, den_name)
    num, den = np.broadcast_arrays(num, den)
    return num.astype(float), den.astype(float)


def check_required(value, name: str, reason: str):
    """An optional argument that a particular use needs (``reason`` says which use) is given."""
    if value is None:
        raise ArgumentError(f"{name} is required {reason}; got None")
    return value


def check_positions(values, name: str, minimum: int = 1) -> np.ndarray:
    """Whole-number positions (1-based by default), e.g. points to freeze, break or exclude."""
    if values is None:
        return np.array([], dtype=int)
    arr = np.atleast_1d(np.asarray(values, dtype=object))
    out = []
    for v in arr:
        try:
            f = float(v)
        except (TypeError, ValueError) as exc:
            raise ArgumentError(f"{name} must hold whole numbers >= {minimum}; got {v!r}") from exc
        if not np.isfinite(f) or f != round(f) or f < minimum:
            raise ArgumentError(f"{name} must hold whole numbers >= {minimum}; got {v!r}")
        out.append(int(f))
    return np.array(out, dtype=int)


def check_whole_number(value, name: str, minimum: int = 1) -> int:
    """A scalar argument is a whole number of at least ``minimum`` (bools refused)."""
    ok = isinstance(value, int | np.integer | float | np.floating) and not isinstance(value, bool | np.bool_)
    if ok:
        f = float(value)
        ok = np.isfinite(f) and f == round(f) and f >= minimum
    if not ok:
        raise ArgumentError(f"{name} must be a whole number of at least {minimum}; got {value!r}")
    return int(value)


def check_columns(df, columns, where: str) -> list[str]:
    """Every named column is in the DataFrame; the message names the first missing one and lists the table's."""
    cols = [columns] if isinstance(columns, str) else list(columns)
    for col in cols:
        if col not in df.columns:
            have = ", ".join(repr(c) for c in df.columns)
            raise ArgumentError(f"{where}: column {col!r} not found; the table has columns {have}")
    return cols
