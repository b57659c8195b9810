"""Indirect standardisation of banded counts: national band-specific rates, expected counts, O/E.

The observed count of a unit u (a practice, a cluster) is compared with the count expected if each of its
strata (sex x age band) had the reference (national) rate of that stratum:

    r_b = Σ_j O_jb / Σ_j d_jb            (reference rate of stratum b, over the reference units j)
    E_u = Σ_b d_ub · r_b                  (expected count of unit u)
    SR_u = O_u / E_u                      (the indirectly standardised ratio)

with limits from :func:`cluster_eval.stats.isr` (exact below 10 events, Byar's otherwise; the one
implementation of the ISR, checked against PHEindicatormethods ``calculate_ISRatio``). Reference rates can
be computed per period (``over=("period",)``: a unit's O/E then follows the nation month by month, so that
national trend and season cancel) or pooled over a window (``over=()`` on the window's rows).

A stratum without reference denominator has no rate; units with persons in it get no expected count from it
(``strata_without_rate`` says how many unit-strata were affected).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..validation import check_columns
from .standardise import isr

#: The stratum columns of the banded measures (``measures_banded``) and of the population table.
STRATA = ("sex", "age_band")


def _cols(names, where) -> list[str]:
    if isinstance(names, str):
        return [names]
    return list(names or ())


def reference_rates(banded: pd.DataFrame, *, over=("period",), strata=STRATA) -> pd.DataFrame:
    """Reference (national) stratum-specific rates: Σ numerator / Σ denominator per stratum.

    Parameters
    ----------
    banded : DataFrame
        One row per unit and stratum (and period ...): ``numerator``, ``denominator``, the ``strata``
        columns and the ``over`` columns. Every row is a reference unit (pass the whole nation).
    over : sequence of str
        Columns that get their own set of rates (``("period",)``: each month its own rates; ``()``: one
        set pooled over all rows, e.g. over a window). Add ``"indicator_id"`` when several indicators are
        in ``banded``.
    strata : sequence of str
        Default ``("sex", "age_band")``.

    Returns
    -------
    DataFrame
        ``over`` and ``strata`` columns, ``numerator``, ``denominator`` (the reference sums) and
        ``reference_rate`` (missing where the reference denominator is 0).
    """
    keys = _cols(over, "over") + _cols(strata, "strata")
    check_columns(banded, keys + ["numerator", "denominator"], "banded measures")
    g = banded.groupby(keys, observed=True, sort=True)[["numerator", "denominator"]].sum(min_count=1)
    g = g.reset_index()
    den = g["denominator"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        g["reference_rate"] = np.where(den > 0, g["numerator"].to_numpy(float) / den, np.nan)
    return g


def expected_counts(banded: pd.DataFrame, *, by=("practice_id", "period"), over=("period",), strata=STRATA,
                    reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Observed and expected counts per unit from the reference stratum rates.

    Parameters
    ----------
    banded : DataFrame
        Banded counts of the units (``numerator``, ``denominator``, ``by``, ``over`` and ``strata`` columns).
    by : sequence of str
        The units (and periods ...) to return, e.g. ``("practice_id", "period")`` or ``("cluster_id",)``.
    over : sequence of str
        The columns the reference rates are specific to (see :func:`reference_rates`); each must be in
        ``banded`` (and in ``reference``).
    strata : sequence of str
    reference : DataFrame, optional
        Reference rates as returned by :func:`reference_rates` (``over``, ``strata``, ``reference_rate``).
        Default: computed from ``banded`` itself (all of its rows are the reference population).

    Returns
    -------
    DataFrame
        ``by`` columns, ``observed`` (Σ numerator), ``expected`` (Σ_b d_ub r_b), ``denominator``
        (Σ denominator), ``strata_without_rate`` (unit-strata with persons but no reference rate).

    Notes
    -----
    ``E_u = Σ_b d_ub · r_b`` (Breslow & Day 1987, ch. 2). Missing counts count as 0.

    References
    ----------
    Breslow NE, Day NE (1987). Statistical methods in cancer research, vol II. IARC, Lyon.
    """
    over_c, strata_c, by_c = _cols(over, "over"), _cols(strata, "strata"), _cols(by, "by")
    if not by_c:
        raise ArgumentError("by must name at least one column (the units)")
    check_columns(banded, list(dict.fromkeys(by_c + over_c + strata_c)) + ["numerator", "denominator"],
                  "banded measures")
    ref = reference_rates(banded, over=over_c, strata=strata_c) if reference is None else reference
    check_columns(ref, over_c + strata_c + ["reference_rate"], "reference rates")
    keys = over_c + strata_c
    rate = ref.set_index(keys)["reference_rate"]
    if not rate.index.is_unique:
        raise ArgumentError(f"reference rates must have one row per {', '.join(keys)}")
    idx = pd.MultiIndex.from_frame(banded[keys]) if len(keys) > 1 else pd.Index(banded[keys[0]])
    r = rate.reindex(idx).to_numpy(float)
    den = banded["denominator"].to_numpy(float)
    den0 = np.nan_to_num(den, nan=0.0)
    no_rate = np.isnan(r) & (den0 > 0)
    frame = banded[by_c].copy()
    frame["observed"] = np.nan_to_num(banded["numerator"].to_numpy(float), nan=0.0)
    frame["expected"] = den0 * np.nan_to_num(r, nan=0.0)
    frame["denominator"] = den0
    frame["strata_without_rate"] = no_rate.astype(int)
    out = frame.groupby(by_c, observed=True, sort=True)[
        ["observed", "expected", "denominator", "strata_without_rate"]].sum()
    return out.reset_index()


def standardised_ratios(banded: pd.DataFrame, *, by=("practice_id",), over=(), strata=STRATA,
                        reference: pd.DataFrame | None = None, confidence=0.95, multiplier: float = 1,
                        method: str = "auto") -> pd.DataFrame:
    """Indirectly standardised ratios O/E per unit with Poisson limits (:func:`cluster_eval.stats.isr`).

    ``expected_counts(banded, by=by, over=over, ...)`` followed by ``isr(observed, expected, by=...)``;
    the ``by`` columns are kept. Default: one ratio per practice over all rows given, reference rates
    pooled over those rows (pass the window's rows of the whole nation).

    Returns
    -------
    DataFrame
        ``by`` columns, ``observed, expected, value, lower, upper, confidence, statistic, method`` (one
        row per unit and confidence level).
    """
    e = expected_counts(banded, by=by, over=over, strata=strata, reference=reference)
    by_c = _cols(by, "by")
    return isr(e["observed"], e["expected"], by=e[by_c], confidence=confidence, multiplier=multiplier,
               method=method)


def expected_from_bands(numerator, denominator, *, reference_axis: int = 0, pooled_axes=()) -> np.ndarray:
    """Expected counts of every unit from banded count arrays, the reference being all units of the arrays.

    The array form of :func:`reference_rates` + :func:`expected_counts` for the analyse stage (practice x
    month x stratum arrays of a whole nation): ``r_b = Σ_j O_jb / Σ_j d_jb`` summed over ``reference_axis``
    (the units; and over ``pooled_axes``, e.g. the months of a window, for rates pooled over them), then
    ``E = Σ_b d_b · r_b`` over the last axis (the strata). Strata without a reference denominator give no
    expected count (as :func:`expected_counts`). Missing counts count as 0.

    Parameters
    ----------
    numerator, denominator : array-like, shape (..., B)
        Banded counts, strata along the last axis.
    reference_axis : int
        The axis of the units whose sums make the reference rates (default 0).
    pooled_axes : sequence of int
        Further axes summed for the rates (default none: e.g. each month its own rates).

    Returns
    -------
    ndarray
        Expected counts, the input's shape without the strata axis.
    """
    num = np.nan_to_num(np.asarray(numerator, dtype=float), nan=0.0)
    den = np.nan_to_num(np.asarray(denominator, dtype=float), nan=0.0)
    if num.shape != den.shape or num.ndim < 2:
        raise ArgumentError(f"numerator and denominator must be arrays of the same shape with strata along the "
                            f"last axis; got {num.shape} and {den.shape}")
    axes = tuple(sorted({a % num.ndim for a in (reference_axis, *pooled_axes)}))
    if num.ndim - 1 in axes:
        raise ArgumentError("the strata axis (the last) cannot be a reference or pooled axis")
    rn, rd = num.sum(axis=axes, keepdims=True), den.sum(axis=axes, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(rd > 0, rn / np.where(rd > 0, rd, 1.0), 0.0)
    return (den * rate).sum(axis=-1)
