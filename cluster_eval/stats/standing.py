"""Standing against the nation, with overdispersion: window counts, cluster-level funnels, verdict words.

A unit (cluster, practice) is compared with the nation over a window of months by
:func:`cluster_eval.stats.funnel` with additive random-effects limits (Spiegelhalter 2005): the
between-unit variance τ² is estimated from the units of the same window as the values shown, so a unit is
"better" or "worse than expected" only when it lies outside what the spread between comparable units
explains, not just outside its own sampling error. The verdict is taken at 99.8 % (:data:`VERDICT`); the
95 % limits are shown beside it.

The measure is either the indirectly standardised ratio O/E (expected counts from national sex- and
age-band rates, :mod:`cluster_eval.stats.indirect`; ``statistic="ratio"``, target 1) or, without banded
data, the crude proportion or rate against the national value. :func:`measure_label` gives the words that
say which.

Windows and persons
-------------------
Summing a window's monthly numerators and denominators is right for events (prescriptions: each is a new
event, person-months are person-time) but counts the same persons up to 12 times for indicators whose
numerator is a number of persons ("patients with HbA1c measured in the past 12 months", "opioid users in
the month"): the interval would be sqrt(12) times too narrow. With only the monthly series available,
:func:`window_counts` uses the monthly means (Σ/m over the m months with data) as the window's counts: the
distinct persons of a window are approximated by the persons of an average month. Turnover of lists makes
the true number of distinct persons somewhat larger, so the intervals are somewhat conservative.

References
----------
Spiegelhalter DJ (2005). Handling over-dispersion of performance indicators. BMJ Qual Saf 14:347-351.
Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance. Stat Med 24:1185-1202.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..validation import check_choice, check_confidence
from ._shared import level_label, level_suffix
from .funnel import funnel, funnel_dispersion

#: The level at which a unit is called better or worse than expected.
VERDICT = 0.998
#: The level shown beside it.
SHOWN = 0.95
COUNTS = ("events", "persons")
BETTER = ("lower", "higher", "none")
STATISTICS = ("ratio", "proportion", "rate")

APPROXIMATION = ("persons counted once: the window's counts are the monthly means (distinct persons "
                 "approximated by the persons of an average month)")


def counts_kind(indicator) -> str:
    """``"persons"`` when the indicator's numerator counts persons (catalogue ``numerator.has``), else
    ``"events"``. Indicators without a definition (params-only) count as persons: the safer choice."""
    num = getattr(indicator, "numerator", None)
    if num is None:
        return "persons"
    return "events" if getattr(num, "count", None) is not None else "persons"


def window_counts(numerator, denominator, *, counts: str = "events", axis: int = -1):
    """A window's numerator and denominator from monthly values (units x months).

    Parameters
    ----------
    numerator, denominator : array-like
        Monthly counts, months along ``axis`` (missing months as NaN).
    counts : {"events", "persons"}
        events: sums over the months. persons: sums divided by the number of months with a denominator
        above 0 (the monthly means; module docstring).

    Returns
    -------
    (numerator, denominator, months) : tuple of arrays
        One value per unit; ``months`` is the number of months with a denominator above 0.
    """
    check_choice(counts, "counts", COUNTS)
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    if num.shape != den.shape:
        raise ArgumentError(f"numerator and denominator must have the same shape; got {num.shape} and {den.shape}")
    has = np.nan_to_num(den, nan=0.0) > 0
    months = has.sum(axis=axis)
    n = np.where(has, np.nan_to_num(num, nan=0.0), 0.0).sum(axis=axis)
    d = np.where(has, den, 0.0).sum(axis=axis)
    if counts == "persons":
        with np.errstate(invalid="ignore", divide="ignore"):
            n = np.where(months > 0, n / np.maximum(months, 1), 0.0)
            d = np.where(months > 0, d / np.maximum(months, 1), 0.0)
    return n, d, months


def verdict_words(side, better) -> np.ndarray:
    """The words for a unit's side of the limits, with the indicator's direction applied.

    ``side`` is "above", "below", "inside" or "missing" per unit; ``better`` is "lower", "higher" or
    "none" (one value or one per unit). Above the limits is "worse than expected" when lower is better,
    "better than expected" when higher is better, "higher than expected" when there is no direction.
    """
    side = np.asarray(side, dtype=object)
    better = np.broadcast_to(np.asarray(better, dtype=object), side.shape)
    bad = sorted({str(b) for b in np.unique(better) if b not in BETTER})
    if bad:
        raise ArgumentError(f"better must be one of 'lower', 'higher', 'none'; got {bad[0]!r}")
    out = np.full(side.shape, "as expected", dtype=object)
    hi, lo = side == "above", side == "below"
    out[hi & (better == "higher")] = "better than expected"
    out[hi & (better == "lower")] = "worse than expected"
    out[hi & (better == "none")] = "higher than expected"
    out[lo & (better == "higher")] = "worse than expected"
    out[lo & (better == "lower")] = "better than expected"
    out[lo & (better == "none")] = "lower than expected"
    out[side == "missing"] = "too few to say"
    return out


def measure_label(statistic: str, standardised: bool, rate: bool = False) -> str:
    """What a standing, funnel or trend value is, in words for labels.

    ``rate=True`` for a standardised value shown as the indirectly standardised rate (O/E x the nation's
    value, in the indicator's unit) rather than as the ratio O/E.
    """
    if standardised and rate:
        return ("indirectly standardised for age and sex (observed / expected from national age- and sex-specific "
                "rates, times the nation's value)")
    if standardised:
        return "standardised ratio (observed / expected from national age- and sex-specific rates)"
    return {"proportion": "crude proportion (not standardised for age and sex)",
            "rate": "crude rate (not standardised for age and sex)",
            "ratio": "crude ratio to the nation (not standardised for age and sex)"}[statistic]


def _side(value, lower, upper) -> np.ndarray:
    side = np.full(np.shape(value), "inside", dtype=object)
    with np.errstate(invalid="ignore"):
        side[value > upper] = "above"
        side[value < lower] = "below"
    side[np.isnan(value)] = "missing"
    return side


class StandingResult:
    """Results of :func:`standing`.

    Attributes
    ----------
    table : DataFrame
        One row per unit: ``unit, numerator, denominator, value, lower_95, upper_95, lower_99_8, upper_99_8``
        (for the levels computed), ``side_95``, ``side`` (at the verdict level: above / below / inside /
        missing), ``standing`` (better / worse / higher / lower than expected, as expected, too few to say).
    tau2, phi : float
        Between-unit variance and dispersion ratio of the window (transformed scale).
    """

    def __init__(self, table, funnel_result, *, verdict, shown, better, label, standardised):
        self.table = table
        self.funnel = funnel_result
        self.tau2 = funnel_result.tau2
        self.phi = funnel_result.phi
        self.verdict = verdict
        self.shown = shown
        self.better = better
        self.label = label
        self.standardised = standardised

    def called(self) -> pd.DataFrame:
        """The units called better or worse (outside the verdict level's limits)."""
        return self.table[self.table["side"].isin(["above", "below"])]

    def summary(self) -> str:
        """Text: the measure, the verdict level and limits used, τ², and how many units got each word."""
        counts = self.table["standing"].value_counts()
        adj = "random-effects limits (additive tau2 from the same units and window)" \
            if self.funnel.overdispersion else "limits without overdispersion (none found)"
        return "\n".join([
            f"Standing of {len(self.table)} units: {self.label}.",
            f"Verdict at {level_label(self.verdict)} ({adj}; tau2 = {self.tau2:.4g}), "
            f"{level_label(self.shown)} limits shown.",
            "; ".join(f"{k}: {v}" for k, v in counts.items()),
        ])

    def __repr__(self) -> str:
        return f"<StandingResult {len(self.table)} units, tau2={self.tau2:.4g}, called={len(self.called())}>"

    def _repr_html_(self) -> str:
        text = "".join(f"<p>{html.escape(line)}</p>" for line in self.summary().splitlines())
        return f"<div>{text}{self.table.head(20).to_html(index=False)}</div>"


def standing(numerator, denominator, units=None, *, statistic: str = "ratio", better="lower", target=None,
             standardised: bool = False, verdict: float = VERDICT, shown: float = SHOWN, multiplier: float = 1,
             trim: float = 0.1) -> StandingResult:
    """Each unit against the nation over one window, with overdispersion-aware limits.

    Parameters
    ----------
    numerator, denominator : array-like
        Per unit: observed and expected counts (``statistic="ratio"``: the standardised ratio O/E), or the
        window's numerator and denominator (crude proportion or rate; see :func:`window_counts`).
    units : array-like, optional
        Unit identifiers.
    statistic : {"ratio", "proportion", "rate"}
    better : {"lower", "higher", "none"}
        The indicator's direction.
    target : float, optional
        The national value (unmultiplied). Default 1 for ratios, Σnumerator/Σdenominator otherwise; pass
        the whole nation's value when the units do not cover it.
    standardised : bool
        Whether expected counts come from national age- and sex-specific rates (for the label only).
    verdict, shown : float
        Levels of the verdict (default 0.998) and of the limits shown beside it (default 0.95).
    multiplier : float
        Scale of values and limits.
    trim : float
        Winsorisation of the z-scores that estimate τ² (:func:`cluster_eval.stats.funnel`).

    Returns
    -------
    StandingResult

    Notes
    -----
    ``funnel(numerator, denominator, units, statistic=statistic, overdispersion="additive",
    confidence=(shown, verdict))``: on the transformed scale (square root for ratios and rates, arcsine for
    proportions) a unit's limits are y0 ± z·sqrt(s_i² + τ²), τ² the DerSimonian-Laird-type estimate over the
    same units. A unit is called only outside the ``verdict`` limits; the words apply ``better``.
    """
    check_choice(statistic, "statistic", STATISTICS)
    better = check_choice(better, "better", BETTER)
    levels = check_confidence((shown, verdict))
    if verdict <= shown:
        raise ArgumentError(f"verdict must be a higher level than shown; got verdict={verdict!r}, shown={shown!r}")
    res = funnel(numerator, denominator, units, statistic=statistic, target=target, confidence=levels,
                 overdispersion="additive", trim=trim, multiplier=multiplier)
    u = res.units
    t = u[["unit", "numerator", "denominator", "value"]].copy()
    for c in levels:
        sfx = level_suffix(c)
        t[f"lower_{sfx}"] = u[f"lower_{sfx}"]
        t[f"upper_{sfx}"] = u[f"upper_{sfx}"]
    v = t["value"].to_numpy(float)
    s_sh, s_v = level_suffix(shown), level_suffix(verdict)
    t[f"side_{s_sh}"] = _side(v, t[f"lower_{s_sh}"].to_numpy(float), t[f"upper_{s_sh}"].to_numpy(float))
    t["side"] = _side(v, t[f"lower_{s_v}"].to_numpy(float), t[f"upper_{s_v}"].to_numpy(float))
    t["standing"] = verdict_words(t["side"].to_numpy(), better)
    t["measure"] = measure_label(statistic, standardised)
    t["tau2"] = res.tau2
    return StandingResult(t, res, verdict=verdict, shown=shown, better=better,
                          label=measure_label(statistic, standardised), standardised=standardised)


def funnel_outliers(result, better, *, confidence: float = VERDICT) -> pd.DataFrame:
    """The units of a funnel outside its ``confidence`` limits (default 99.8 %), worded with the direction.

    Parameters
    ----------
    result : FunnelResult
        From :func:`cluster_eval.stats.funnel` (computed with ``confidence`` among its levels).
    better : {"lower", "higher", "none"}

    Returns
    -------
    DataFrame
        ``unit, value, lower, upper, side`` ("above" / "below" the limits), ``standing`` ("better than
        expected", "worse than expected" ...), ``limits`` (e.g. "99.8%").
    """
    check_choice(better, "better", BETTER)
    lim = result.conf_int(confidence)
    t = lim.assign(value=result.units["value"].to_numpy())
    t["side"] = _side(t["value"].to_numpy(float), t["lower"].to_numpy(float), t["upper"].to_numpy(float))
    t = t[t["side"].isin(["above", "below"])].copy()
    t["standing"] = verdict_words(t["side"].to_numpy(), better)
    t["limits"] = level_label(confidence)
    return t[["unit", "value", "lower", "upper", "side", "standing", "limits"]].reset_index(drop=True)


def window_tau2(numerator, denominator, *, statistic: str, counts: str = "events", trim: float = 0.1) -> float:
    """τ² between units from the months of one window (units x months): the funnel's additive estimate.

    0 when it cannot be estimated (fewer than three units with a denominator, no events, or every unit
    at 100 % for a proportion).
    """
    n, d, _ = window_counts(numerator, denominator, counts=counts)
    ok = d > 0
    n, d = n[ok], d[ok]
    if n.size < 3 or n.sum() == 0 or (statistic == "proportion" and np.all(n >= d)):
        return 0.0
    _, tau2 = funnel_dispersion(n, d, statistic=statistic, trim=trim)   # funnel(...).tau2 without the limits
    return float(tau2) if np.isfinite(tau2) else 0.0
