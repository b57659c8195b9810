"""Unit-level funnel analysis with Spiegelhalter (2005) overdispersion: :func:`funnel` and its results."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ArgumentError
from ..validation import check_choice, check_confidence, check_counts, check_same_length
from ._shared import checked_multiplier, level_label, level_suffix, statistic_name
from .funnel_limits import (
    POISSON_METHODS,
    STATISTICS,
    TRANSFORMS,
    _check_target,
    adjusted_limits,
    default_transform,
    funnel_limits,
    phe_axis,
    to_scale,
    unadjusted_limits,
)

TRIM_METHODS = ("winsorise", "truncate")
OVERDISPERSION = (None, "multiplicative", "additive")


def winsorised_z(z: np.ndarray, trim: float) -> tuple[np.ndarray, np.ndarray]:
    """Z-scores pulled in to their ``trim`` and ``1 − trim`` quantiles (numpy 'linear' = R type 7).

    Returns (z used for φ, mask of units used): every finite z-score is used.
    """
    used = np.isfinite(z)
    if trim == 0 or not used.any():
        return z[used], used
    lo, hi = np.quantile(z[used], [trim, 1 - trim])
    return np.clip(z[used], lo, hi), used


def truncated_z(z: np.ndarray, trim: float) -> tuple[np.ndarray, np.ndarray]:
    """SHMI truncation: drop the units in the lowest and highest ``trim`` of the ranked z-scores.

    Units are ranked (ties averaged) and split into 1/trim groups as ``floor(rank·k/(n + 1))``;
    the first and last groups are dropped (NHS Digital SHMI specification; FunnelPlotR).
    """
    finite = np.isfinite(z) | np.isinf(z)
    used = np.zeros(z.shape, bool)
    if trim == 0:
        used = np.isfinite(z)
        return z[used], used
    k = 1.0 / trim
    zz = z[finite]
    rank = stats.rankdata(zz, method="average")
    group = np.floor(rank * k / (len(zz) + 1))
    keep = (group > 0) & (group < k - 1)
    used[np.flatnonzero(finite)[keep]] = True
    used &= np.isfinite(z)
    return z[used], used


def dispersion(z_used: np.ndarray, s_used: np.ndarray) -> tuple[float, float]:
    """φ = mean(z²) and the DerSimonian-Laird-type τ² = max(0, (nφ − (n − 1)) / (Σw − Σw²/Σw)), w = 1/s²."""
    n = len(z_used)
    if n == 0:
        return float("nan"), float("nan")
    phi = float(np.mean(z_used ** 2))
    w = 1.0 / s_used ** 2
    denom = w.sum() - (w ** 2).sum() / w.sum()
    if n * phi < n - 1 or denom <= 0:
        return phi, 0.0
    return phi, float(max(0.0, (n * phi - (n - 1)) / denom))


def _label(value, lowers, uppers, levels):
    """'inside', 'above 95%', 'below 99.8%' ...: the highest level whose limit the value is outside."""
    label = np.full(value.shape, "inside", dtype=object)
    for c, lo, hi in sorted(zip(levels, lowers, uppers), key=lambda t: t[0]):
        label[value > hi] = f"above {level_label(c)}"
        label[value < lo] = f"below {level_label(c)}"
    label[np.isnan(value)] = "missing"
    return label


class FunnelResult:
    """Results of :func:`funnel`.

    Attributes
    ----------
    units : pandas.DataFrame
        One row per unit: ``unit, numerator, denominator, value, z, used, lower_<lvl>, upper_<lvl>``
        for each level (``lower_95``, ``upper_99_8`` ...), and ``label``.
    phi, tau2 : float
        Dispersion ratio and between-unit variance (on the transformed scale), estimated whether or not
        the limits are adjusted.
    n_units, n_used, n_missing : int
        Units in the input; units whose z-score entered φ; units left out because their denominator
        is zero or missing.
    target : float
        The centre line (× multiplier).
    overdispersion : str or None
        The adjustment applied to the limits: None when none was asked for, or when it was asked for
        but the data show none (φ ≤ 1 for multiplicative, τ² = 0 for additive; the unadjusted limits
        are used then, as FunnelPlotR does). ``requested_overdispersion`` keeps what was asked.
    """

    def __init__(self, units, *, phi, tau2, n_used, n_missing, target, statistic, levels, overdispersion,
                 requested, trim, trim_method, transform, multiplier, poisson_method, denominators_for_limits):
        self.units = units
        self.phi = phi
        self.tau2 = tau2
        self.n_units = len(units)
        self.n_used = n_used
        self.n_missing = n_missing
        self.target = target
        self.statistic = statistic
        self.confidence = levels
        self.overdispersion = overdispersion
        self.requested_overdispersion = requested
        self.trim = trim
        self.trim_method = trim_method
        self.transform = transform
        self.multiplier = multiplier
        self.poisson_method = poisson_method
        self._size = denominators_for_limits

    # -- tables ------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """The per-unit table (a copy of :attr:`units`)."""
        return self.units.copy()

    def outliers(self, confidence: float | None = None) -> pd.DataFrame:
        """Units outside the limits at ``confidence`` (default: the highest level)."""
        c = max(self.confidence) if confidence is None else confidence
        sfx = level_suffix(c)
        if f"lower_{sfx}" not in self.units:
            raise ArgumentError(f"confidence must be one of the levels computed {self.confidence!r}; got {c!r}")
        v = self.units["value"]
        return self.units[(v < self.units[f"lower_{sfx}"]) | (v > self.units[f"upper_{sfx}"])]

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """Each unit's control limits at one level: columns ``unit, lower, upper``."""
        c = max(self.confidence) if level is None else level
        sfx = level_suffix(c)
        if f"lower_{sfx}" not in self.units:
            raise ArgumentError(f"level must be one of the levels computed {self.confidence!r}; got {c!r}")
        return self.units[["unit", f"lower_{sfx}", f"upper_{sfx}"]].set_axis(["unit", "lower", "upper"], axis=1)

    def limits(self, denominator=None, points: int = 100) -> pd.DataFrame:
        """Smooth limits for drawing: at ``denominator`` or on PHE's 100-point axis over the units'.

        For ratios the axis is the expected count; for rates, the person-time.
        """
        target = self.target / self.multiplier
        den = phe_axis(self._size[np.isfinite(self._size) & (self._size > 0)], self.statistic, points) \
            if denominator is None else denominator
        out = funnel_limits(target, den, self.statistic, self.confidence, self.multiplier,
                            self.poisson_method)
        if self.overdispersion is not None:
            adj = funnel_limits(target, den, self.statistic, self.confidence, self.multiplier,
                                self.poisson_method, self.overdispersion, self.phi, self.tau2, self.transform)
            out = pd.concat([out, adj], ignore_index=True)
        return out

    # -- text and HTML -----------------------------------------------------------------------
    def summary(self) -> str:
        """Plain text: the statistic and target, units left out and outside the limits, φ and τ², labels."""
        top = max(self.confidence)
        n_out = len(self.outliers(top))
        if self.overdispersion is not None:
            adj = f"adjusted for overdispersion ({self.overdispersion}, {self.transform} scale)"
        elif self.requested_overdispersion is not None:
            adj = "not adjusted: no overdispersion found"
        else:
            adj = "not adjusted for overdispersion"
        counts = self.units["label"].value_counts()
        lines = [
            f"Funnel analysis: {statistic_name(self.statistic, self.multiplier)}, target {self.target:.6g}",
            f"{self.n_units} units ({self.n_missing} left out: zero or missing denominator); "
            f"{n_out} outside the {level_label(top)} limits; limits {adj}.",
            f"Dispersion ratio phi = {self.phi:.6g}; between-unit variance tau2 = {self.tau2:.6g} "
            f"(from {self.n_used} units, {self.trim_method} at {self.trim:g}).",
            "Labels: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<FunnelResult {self.statistic}: {self.n_units} units, phi={self.phi:.4g}, tau2={self.tau2:.4g}>"

    def _repr_html_(self) -> str:
        text = "".join(f"<p>{html.escape(line)}</p>" for line in self.summary().splitlines())
        return f"<div>{text}{self.units.head(20).to_html(index=False)}</div>"


def _aggregate(num, den, units):
    """Sum numerators and denominators per unit (order of first appearance)."""
    if units is None:
        ids = pd.RangeIndex(len(num))
        return num, den, np.asarray(ids)
    ids = pd.Series(np.asarray(units), name="unit")
    frame = pd.DataFrame({"unit": ids, "num": num, "den": den})
    agg = frame.groupby("unit", sort=False).agg(num=("num", lambda x: x.sum(min_count=1)),
                                                den=("den", lambda x: x.sum(min_count=1)))
    return agg["num"].to_numpy(float), agg["den"].to_numpy(float), agg.index.to_numpy()


def _dispersion_parts(numerator, denominator, units, statistic, target, trim, trim_method, transform):
    """The checks and the overdispersion of :func:`funnel` (one implementation for it and
    :func:`funnel_dispersion`): (num, den, ids, ok, target, transform, value, size, z, used, phi, tau2)."""
    check_choice(statistic, "statistic", STATISTICS)
    check_choice(trim_method, "trim_method", TRIM_METHODS)
    if transform is not None:
        check_choice(transform, "transform", TRANSFORMS)
    try:
        trim = float(trim)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"trim must be a number at least 0 and below 0.5; got {trim!r}") from exc
    if not (0 <= trim < 0.5):
        raise ArgumentError(f"trim must be at least 0 and below 0.5; got {trim!r}")
    num, den = check_counts(numerator, denominator, proportion=(statistic == "proportion"))
    if units is not None:
        check_same_length(numerator=num, units=np.asarray(units))
    num, den, ids = _aggregate(num, den, units)
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
    if target is None:
        target = 1.0 if statistic == "ratio" else num[ok].sum() / den[ok].sum()
    t = _check_target(statistic, target)
    tr = transform or default_transform(statistic, trim_method)

    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(ok, num / den, np.nan)           # proportion, ratio or rate per unit
    size = den if statistic == "proportion" else t * den  # n, or expected count under the target
    if statistic == "proportion":
        y, y0, s = to_scale(tr, value, t, size)
    else:
        y, y0, s = to_scale(tr, value / t, 1.0, size)
    with np.errstate(invalid="ignore"):
        z = np.where(ok, (y - y0) / s, np.nan)
    zi = z[ok]
    if trim_method == "truncate":
        z_used, used_ok = truncated_z(zi, trim)
    else:
        z_used, used_ok = winsorised_z(zi, trim)
    used = np.zeros(len(z), bool)
    used[np.flatnonzero(ok)[used_ok]] = True
    phi, tau2 = dispersion(z_used, s[used])
    return num, den, ids, ok, t, tr, value, size, z, used, phi, tau2


def funnel_dispersion(numerator, denominator, *, statistic: str = "proportion", target=None, trim: float = 0.1,
                      trim_method: str = "winsorise", transform: str | None = None) -> tuple[float, float]:
    """The overdispersion of :func:`funnel` alone, (φ, τ²), without the units' limits: the same checks and
    values as ``funnel(...).phi`` and ``.tau2`` with these arguments (e.g. τ² of many windows)."""
    *_, phi, tau2 = _dispersion_parts(numerator, denominator, None, statistic, target, trim, trim_method, transform)
    return phi, tau2


def funnel(numerator, denominator, units=None, *, statistic: str = "proportion", target=None,
           confidence=(0.95, 0.998), overdispersion=None, trim: float = 0.1,
           trim_method: str = "winsorise", transform: str | None = None, multiplier: float = 1,
           poisson_method: str = "phe") -> FunnelResult:
    """Funnel analysis of units (practices, providers): each unit's value, limits and label.

    Parameters
    ----------
    numerator, denominator : array-like
        proportion: events and persons; ratio: observed and expected counts (value = O/E, the
        standardised ratio); rate: events and person-time. Rows with the same ``units`` id are summed.
    units : array-like, optional
        Unit identifiers (default: row numbers).
    statistic : {"proportion", "ratio", "rate"}
    target : float, optional
        Centre line in the statistic's unit (unmultiplied). Default: ΣO/Σn for proportions and rates,
        1 for ratios.
    confidence : tuple of float
        Default (0.95, 0.998).
    overdispersion : {None, "multiplicative", "additive"}
        None: PHE/exact limits (:func:`funnel_limits`). "multiplicative": transformed-scale limits
        inflated by sqrt(φ) (only when φ > 1). "additive": random-effects limits with τ² added to each
        unit's within-unit variance (only when τ² > 0). Otherwise the unadjusted limits are kept and
        ``result.overdispersion`` is None.
    trim : float
        Share of units at each end winsorised or truncated before estimating φ (default 0.1).
    trim_method : {"winsorise", "truncate"}
        Spiegelhalter's winsorisation, or the SHMI truncation (drop the extremes; n shrinks).
    transform : {None, "arcsine", "sqrt", "log"}
        Scale of the z-scores: default arcsine for proportions; for ratios and rates square root, or
        log with ``trim_method="truncate"`` (the SHMI method).
    multiplier : float
        Scale of values and limits (100 for % or an ISR on the 100 scale).
    poisson_method : {"phe", "funnelplotr"}
        Unadjusted ratio/rate limits (see :func:`poisson_ratio_limits`).

    Returns
    -------
    FunnelResult
        ``.units`` (tidy table), ``.phi``, ``.tau2``, ``.n_used``, ``.n_missing``, ``summary()``,
        ``outliers()``, ``limits()``, ``conf_int(level)``.

    Notes
    -----
    On the transformed scale y_i with target y0 and within-unit standard error s_i, z_i = (y_i − y0)/s_i.
    φ = (1/n) Σ z_i² over winsorised (or truncated) z-scores; τ² = max(0, (nφ − (n − 1)) /
    (Σw_i − Σw_i²/Σw_i)) with w_i = 1/s_i² over the same units. Limits y0 ± z_α·sqrt(φ)·s
    (multiplicative) or y0 ± z_α·sqrt(s² + τ²) (additive), back-transformed. Units are labelled by the
    highest level whose limits they fall outside (strictly).

    References
    ----------
    Spiegelhalter DJ (2005). Handling over-dispersion of performance indicators. BMJ Qual Saf 14:347-351.
    Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance. Stat Med 24:1185-1202.
    NHS Digital. Summary Hospital-level Mortality Indicator (SHMI) methodology specification.
    """
    check_choice(statistic, "statistic", STATISTICS)
    check_choice(overdispersion, "overdispersion", OVERDISPERSION)
    check_choice(poisson_method, "poisson_method", POISSON_METHODS)
    levels = check_confidence(confidence)      # statistic, trim_method, transform, trim: _dispersion_parts
    mult = checked_multiplier(multiplier)
    num, den, ids, ok, t, tr, value, size, z, used, phi, tau2 = _dispersion_parts(
        numerator, denominator, units, statistic, target, trim, trim_method, transform)

    data = {"unit": ids, "numerator": num, "denominator": den, "value": value * mult, "z": z, "used": used}
    adjusted = (overdispersion == "multiplicative" and phi > 1) or (overdispersion == "additive" and tau2 > 0)
    lowers, uppers = [], []
    for c in levels:
        if not adjusted:
            lo, hi = unadjusted_limits(statistic, t, den, c, poisson_method)
        elif statistic == "proportion":
            lo, hi = adjusted_limits(tr, t, size, c, phi, tau2, overdispersion)
        else:
            lo, hi = adjusted_limits(tr, 1.0, size, c, phi, tau2, overdispersion)
            lo, hi = lo * t, hi * t
        lo, hi = np.where(ok, lo, np.nan) * mult, np.where(ok, hi, np.nan) * mult
        data[f"lower_{level_suffix(c)}"] = lo
        data[f"upper_{level_suffix(c)}"] = hi
        lowers.append(lo)
        uppers.append(hi)
    data["label"] = _label(value * mult, lowers, uppers, levels)
    units_df = pd.DataFrame(data)
    return FunnelResult(units_df, phi=phi, tau2=tau2, n_used=int(used.sum()), n_missing=int((~ok).sum()),
                        target=t * mult, statistic=statistic, levels=levels,
                        overdispersion=overdispersion if adjusted else None, requested=overdispersion,
                        trim=trim, trim_method=trim_method, transform=tr, multiplier=mult,
                        poisson_method=poisson_method, denominators_for_limits=den)
