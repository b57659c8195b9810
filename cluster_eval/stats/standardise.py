"""Age (and sex) standardisation: directly standardised rates (DSR) and indirectly standardised ratios (ISR)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..validation import as_float_array, check_choice, check_confidence, check_nonnegative, check_same_length
from ._shared import checked_multiplier, statistic_name
from .esp2013 import ESP2013
from .rates import RATE_METHODS, byars_limits, poisson_limits

#: Below this total count a DSR is not reported (PHEindicatormethods ``calculate_dsr``).
DSR_MIN_COUNT = 10


def _group_keys(by, n: int) -> pd.DataFrame:
    """Grouping columns as a DataFrame of n rows (a single all-rows group when ``by`` is None)."""
    if by is None:
        return pd.DataFrame(index=range(n))
    if isinstance(by, pd.DataFrame):
        keys = by.reset_index(drop=True)
    elif isinstance(by, list | tuple) and by and not np.isscalar(by[0]):
        keys = pd.DataFrame({(getattr(b, "name", None) or f"group{i}"): np.asarray(b)
                             for i, b in enumerate(by)})
    else:
        keys = pd.DataFrame({(getattr(by, "name", None) or "group"): np.asarray(by)})
    if len(keys) != n:
        raise ArgumentError(f"arguments must have the same length (or length 1): by has {len(keys)}, "
                            f"count has {n}")
    return keys


def _standard_weights(standard, age_band, n: int) -> np.ndarray:
    if standard is None:
        standard = ESP2013
    if isinstance(standard, dict) or (isinstance(standard, pd.Series)
                                      and not pd.api.types.is_numeric_dtype(standard.index.dtype)):
        if age_band is None:
            raise ArgumentError("age_band is required when standard is a table of age bands "
                                "(the default ESP 2013 is matched on age_band)")
        table = pd.Series(standard, dtype=float)
        bands = pd.Series(np.asarray(age_band), dtype=object).astype(str)
        w = bands.map(table).to_numpy(dtype=float)
        unknown = bands[np.isnan(w)]
        if len(unknown):
            raise ArgumentError(f"age_band must be one of the standard's bands; got {unknown.iloc[0]!r} "
                                f"at position {unknown.index[0]}")
        return w
    w = as_float_array(standard, "standard")
    check_same_length(count=np.empty(n), standard=w)
    check_nonnegative(w, "standard")
    return np.broadcast_to(w, (n,)).astype(float)


def _frequency_variance_weights(event_frequencies, x, n):
    """Σ_k k²·u_ik per row from unique-person counts u_ik by event frequency k (missing counts as 0)."""
    table = pd.DataFrame(event_frequencies).reset_index(drop=True)
    if len(table) != n:
        raise ArgumentError(f"arguments must have the same length (or length 1): count has {n}, "
                            f"event_frequencies has {len(table)}")
    try:
        freqs = np.array([float(str(c).lstrip("f")) for c in table.columns])
    except ValueError as exc:
        raise ArgumentError("event_frequencies columns must be event frequencies (1, 2, 3 ... or "
                            f"'f1', 'f2' ...); got {list(table.columns)!r}") from exc
    u = table.apply(pd.to_numeric, errors="coerce").fillna(0.0).to_numpy(float)
    check_nonnegative(u.reshape(-1), "event_frequencies")
    events = u @ freqs
    bad = np.flatnonzero(np.abs(events - np.nan_to_num(x, nan=0.0)) > 1e-9)
    if bad.size:
        i = bad[0]
        raise ArgumentError(f"count must equal the events implied by event_frequencies (Σ k × persons); got "
                            f"count={float(np.nan_to_num(x[i])):g} but {events[i]:g} events at position {i}")
    return u @ freqs ** 2


def dsr(count, population, *, by=None, standard=None, age_band=None, confidence=0.95,
        multiplier: float = 100000, event_frequencies=None) -> pd.DataFrame:
    """Directly standardised rate with Dobson et al. (1991) confidence limits.

    Parameters
    ----------
    count, population : array-like
        One row per stratum (age band, sex, ...) and group: event counts (missing counts as 0) and
        the population at risk.
    by : array-like, Series, DataFrame or list of them, optional
        Grouping (area, practice, period ...); one output row per group and level. Groups keep their
        order of first appearance.
    standard : None, dict or Series indexed by age-band labels, or array-like per row
        The standard population. Default: ESP 2013 (19 bands), matched on ``age_band``. A dict, or a
        Series with a non-numeric (label) index, is a table matched on ``age_band``; anything else
        (array, list, Series with a numeric index such as a DataFrame column) gives each row's weight.
    age_band : array-like, optional
        Each row's age band, required when ``standard`` is a table.
    confidence : float or tuple of float
    multiplier : float
        Default 100,000.
    event_frequencies : DataFrame or dict, optional
        For events that are not independent (one person can have several): per row, the number of
        unique persons with 1, 2, 3 ... events (columns named 1, 2, 3 ... or 'f1', 'f2' ...). The
        variance becomes Σ_k k²·var_k (PHEindicatormethods ``independent_events = FALSE``); ``count``
        must equal Σ k × persons in each row.

    Returns
    -------
    pandas.DataFrame
        Group columns, ``total_count, total_pop, value, lower, upper, confidence, statistic, method,
        note``. When a group's total count is below 10 its value and limits are missing and ``note``
        says why; a group with a zero or missing population in a stratum is missing too.

    Notes
    -----
    With weights w_i, counts x_i, populations n_i and O = Σx_i:
    ``DSR = Σ(w_i x_i/n_i)/Σw_i``, ``var = Σ x_i (w_i/n_i)² / (Σw_i)²``,
    limits ``DSR + sqrt(var/O)·(O_L − O)`` and ``DSR + sqrt(var/O)·(O_U − O)`` with O_L, O_U Byar's
    limits for O (as PHEindicatormethods ``calculate_dsr``).

    References
    ----------
    Dobson AJ, Kuulasmaa K, Eberle E, Scherer J (1991). Confidence intervals for weighted sums of
    Poisson parameters. Stat Med 10:457-462.
    """
    levels = check_confidence(confidence)
    mult = checked_multiplier(multiplier)
    x = as_float_array(count, "count")
    pop = as_float_array(population, "population")
    n = check_same_length(count=x, population=pop)
    check_nonnegative(x, "count")
    check_nonnegative(pop, "population")
    x = np.broadcast_to(x, (n,))
    pop = np.broadcast_to(pop, (n,))
    w = _standard_weights(standard, age_band, n)
    keys = _group_keys(by, n)
    x0 = np.nan_to_num(x, nan=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        bad = ~(pop > 0)
        ratio = np.where(bad, np.nan, w / pop)
    var_weight = x0 if event_frequencies is None else _frequency_variance_weights(event_frequencies, x, n)
    frame = keys.assign(_x=x0, _pop=pop, _w=w, _wr=x0 * ratio, _sq=var_weight * ratio ** 2, _bad=bad)
    gcols = list(keys.columns)
    grouped = frame.groupby(gcols, sort=False, dropna=False) if gcols else frame.groupby(np.zeros(n))
    agg = grouped.agg(total_count=("_x", "sum"), total_pop=("_pop", "sum"), sw=("_w", "sum"),
                      swr=("_wr", "sum"), ssq=("_sq", "sum"), bad=("_bad", "any"))
    agg = agg.reset_index() if gcols else agg.reset_index(drop=True)
    total = agg["total_count"].to_numpy(float)
    value = agg["swr"].to_numpy(float) / agg["sw"].to_numpy(float)
    var = agg["ssq"].to_numpy(float) / agg["sw"].to_numpy(float) ** 2
    small = total < DSR_MIN_COUNT
    missing = small | agg["bad"].to_numpy(bool)
    note = np.where(small, f"total count < {DSR_MIN_COUNT}",
                    np.where(agg["bad"].to_numpy(bool), "zero or missing population in a stratum", ""))
    rows = []
    for c in levels:
        lo_o, hi_o = byars_limits(total, c)
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = np.sqrt(var / total)
            lower = value + sd * (lo_o - total)
            upper = value + sd * (hi_o - total)
        part = agg[gcols + ["total_count", "total_pop"]].copy()
        part["value"] = np.where(missing, np.nan, value * mult)
        part["lower"] = np.where(missing, np.nan, lower * mult)
        part["upper"] = np.where(missing, np.nan, upper * mult)
        part["confidence"] = c
        part["_order"] = np.arange(len(part))
        rows.append(part)
    out = pd.concat(rows).sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    out["statistic"] = statistic_name("dsr", mult)
    out["method"] = "dobson" if event_frequencies is None else "dobson, non-independent events"
    out["note"] = np.repeat(note, len(levels))
    return out


def isr(observed, expected=None, *, population=None, reference_rate=None, reference_count=None,
        reference_population=None, by=None, confidence=0.95, multiplier: float = 1,
        statistic: str = "ratio", method: str = "auto") -> pd.DataFrame:
    """Indirectly standardised ratio (observed / expected) or rate, with Poisson limits.

    Give either ``expected`` counts per row, or per-stratum ``population`` with the reference
    population's stratum rates (``reference_rate``, or ``reference_count`` / ``reference_population``),
    from which expected = population × reference rate. Rows are summed within ``by`` groups (or each
    row is its own unit when ``by`` is None and ``expected`` is given; all rows one group otherwise).

    Parameters
    ----------
    observed : array-like
        Observed events (missing counts as 0).
    expected : array-like, optional
    population, reference_rate, reference_count, reference_population : array-like, optional
    by : grouping, optional
    confidence : float or tuple of float
    multiplier : float
        Ratio × multiplier (e.g. 100 for an SMR-style 100 scale) or rate per multiplier.
    statistic : {"ratio", "rate"}
        "rate" multiplies the ratio by the reference population's crude rate
        Σreference_count / Σreference_population (needs both).
    method : {"auto", "exact", "byars"}
        "auto": exact chi-square limits for O < 10, Byar's otherwise (PHEindicatormethods
        ``calculate_ISRatio`` / ``calculate_ISRate``).

    Returns
    -------
    pandas.DataFrame
        Group columns, ``observed, expected, reference_rate`` (rate only), ``value, lower, upper,
        confidence, statistic, method``. Expected 0 gives missing values.

    Notes
    -----
    ``ISR = O/E``; limits ``O_L/E`` and ``O_U/E`` with O_L, O_U the Poisson limits for O.

    References
    ----------
    Breslow NE, Day NE (1987). Statistical methods in cancer research, vol II. IARC, Lyon.
    """
    check_choice(statistic, "statistic", ("ratio", "rate"))
    check_choice(method, "method", RATE_METHODS)
    levels = check_confidence(confidence)
    mult = checked_multiplier(multiplier)
    obs = as_float_array(observed, "observed")
    check_nonnegative(obs, "observed")
    n = len(obs)
    crude = None
    if statistic == "rate" and (reference_count is None or reference_population is None):
        raise ArgumentError("statistic='rate' needs reference_count and reference_population "
                            "(the reference crude rate is their ratio of sums)")
    if reference_count is not None or reference_population is not None:
        rc = np.nan_to_num(as_float_array(reference_count, "reference_count"), nan=0.0)
        rp = as_float_array(reference_population, "reference_population")
        check_same_length(observed=obs, reference_count=rc, reference_population=rp)
        check_nonnegative(rc, "reference_count")
        check_nonnegative(rp, "reference_population")
        rc, rp = np.broadcast_to(rc, (n,)), np.broadcast_to(rp, (n,))
        if reference_rate is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                reference_rate = np.where(rp > 0, rc / rp, 0.0)
    if expected is None:
        if population is None or reference_rate is None:
            raise ArgumentError("isr needs expected counts, or population with reference_rate "
                                "(or reference_count and reference_population)")
        pop = as_float_array(population, "population")
        rr = as_float_array(reference_rate, "reference_rate")
        check_same_length(observed=obs, population=pop, reference_rate=rr)
        check_nonnegative(pop, "population")
        check_nonnegative(rr, "reference_rate")
        exp = np.nan_to_num(np.broadcast_to(pop, (n,)) * np.broadcast_to(rr, (n,)), nan=0.0)
        if by is None:
            by = np.zeros(n, dtype=int)
            keys = _group_keys(None, n)
        else:
            keys = _group_keys(by, n)
    else:
        exp = as_float_array(expected, "expected")
        check_same_length(observed=obs, expected=exp)
        check_nonnegative(exp, "expected")
        exp = np.broadcast_to(exp, (n,))
        keys = _group_keys(by, n) if by is not None else pd.DataFrame({"_row": np.arange(n)})
    frame = keys.assign(_o=np.nan_to_num(obs, nan=0.0), _e=exp)
    if statistic == "rate":
        frame = frame.assign(_rc=rc, _rp=np.nan_to_num(rp, nan=0.0))
    gcols = list(keys.columns)
    grouped = frame.groupby(gcols, sort=False) if gcols else frame.groupby(np.zeros(n))
    agg = grouped.sum(numeric_only=True)
    agg = agg.reset_index() if gcols else agg.reset_index(drop=True)
    o = agg["_o"].to_numpy(float)
    e = agg["_e"].to_numpy(float)
    scale = np.where(e > 0, 1.0 / np.where(e > 0, e, 1.0), np.nan) * mult
    if statistic == "rate":
        crude = agg["_rc"].to_numpy(float) / agg["_rp"].to_numpy(float)
        scale = scale * crude
    keep = [c for c in gcols if c != "_row"]
    parts = []
    for c in levels:
        lo, hi, names = poisson_limits(o, c, method)
        part = agg[keep].copy()
        part["observed"] = o
        part["expected"] = e
        if statistic == "rate":
            part["reference_rate"] = crude * mult
        part["value"] = o * scale
        part["lower"] = lo * scale
        part["upper"] = hi * scale
        part["confidence"] = c
        part["method"] = names
        part["_order"] = np.arange(len(part))
        parts.append(part)
    out = pd.concat(parts).sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    label = "indirectly standardised ratio" if statistic == "ratio" else "indirectly standardised rate"
    out["statistic"] = statistic_name(label, mult)
    cols = [c for c in out.columns if c != "method"] + ["method"]
    return out[cols]
