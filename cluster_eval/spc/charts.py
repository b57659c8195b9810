"""Centre lines and control limits, one function per chart type (qicharts2 v0.8.1's ``qic.*`` helpers).

Each function works on ONE chart part (one facet, one phase) of aggregated subgroups and returns the
plotted ``y`` (some charts transform it), the centre line ``cl`` and the 3-sigma (``lcl``, ``ucl``) and
2-sigma (``lcl_95``, ``ucl_95``) limits as arrays of the part's length. ``base`` marks the subgroups
that enter the calculations: inside the baseline (``freeze``) and not excluded (``exclude``).

Formulas (Montgomery, *Introduction to Statistical Quality Control*, 6th ed.; Provost & Murray 2011):

========  ========================================  ==============================================
chart     centre line (over the base points)        sigma
========  ========================================  ==============================================
run       median(y)                                 (no limits)
i         mean(y)                                   AMR / 1.128, AMR = mean |y_i - y_(i-1)|,
                                                    moving ranges above 3.267 AMR screened out
                                                    (Nelson 1982) when ``screened_mr``
mr        mean(MR), MR_i = |y_i - y_(i-1)|          UCL = 3.267 CL, LCL = 0
xbar      sum(n_i xbar_i) / sum(n_i)                limits CL +- A3(n_i) s, s = mean(s_i) for equal
                                                    n, pooled sqrt(sum((n_i-1)s_i^2)/sum(n_i-1))
                                                    for unequal n (Montgomery 6.29-6.31)
s         mean(s_i) or the pooled s (as xbar)       UCL = B4(n_i) CL, LCL = B3(n_i) CL
t         i chart on y^(1/3.6), back-transformed    (Nelson 1994); LCL < 0 set to 0
p         sum(y_i) / sum(n_i)                       sqrt(CL (1 - CL) / n_i); limits kept in [0, 1]
pp        as p                                      p sigma x sigma_z (Laney 2002)
c         mean(c_i)                                 sqrt(CL); LCL >= 0
u         sum(c_i) / sum(n_i)                       sqrt(CL / n_i); LCL >= 0
up        as u                                      u sigma x sigma_z (Laney 2002)
========  ========================================  ==============================================

Laney's sigma_z is the moving-range sigma of the z-scores z_i = (y_i - CL) / sigma_i over the base
points (AMR_z / 1.128, screened like the i chart); for categorical subgroups (funnel-style charts) it is
the standard deviation of the z-scores.

The constants are exact, not tabulated: c4(n) = sqrt(2 / (n - 1)) Gamma(n / 2) / Gamma((n - 1) / 2),
c5 = sqrt(1 - c4^2), A3 = k / (c4 sqrt(n)), B3 = max(0, 1 - k c5 / c4), B4 = 1 + k c5 / c4 with k = 3
(or 2 for the 95 % limits); n <= 1 gives missing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

D2 = 1.128  # E(MR) / sigma for moving ranges of two (Montgomery table VI, d2 for n = 2)
D4 = 3.267  # upper range limit factor for moving ranges of two


@dataclass
class Part:
    """The aggregated subgroups of one chart part (all arrays of one length)."""

    y: np.ndarray        # the plotted statistic (mean, rate, proportion ...), before `multiply`
    y_sum: np.ndarray    # sum of the observations (numerator)
    y_length: np.ndarray  # number of non-missing observations
    y_mean: np.ndarray
    y_sd: np.ndarray
    n: np.ndarray        # denominator (sum of n), NaN when no n was given
    cl: np.ndarray       # a given centre line, or NaN to compute it
    base: np.ndarray     # bool: baseline and not excluded
    categorical: bool = False  # subgroups are categories (no time order)


def _mean(a: np.ndarray) -> float:
    """R's mean(a, na.rm = TRUE): NaN for no values, without a warning."""
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else np.nan


def _sum(a: np.ndarray) -> float:
    """R's sum(a, na.rm = TRUE)."""
    return float(np.nansum(a))


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0 else np.nan


def _centre(part: Part, computed) -> np.ndarray:
    """The given centre line if complete, else the computed one (qicharts2: ``if (anyNA(cl))``)."""
    if np.isnan(part.cl).any():
        value = computed() if callable(computed) else computed
        return np.broadcast_to(np.asarray(value, dtype=float), part.y.shape).copy()
    return part.cl.astype(float).copy()


def c4(n) -> np.ndarray:
    """Bias constant c4(n) = E(s) / sigma of the sample standard deviation (Montgomery 2009, appendix VI).

    Parameters
    ----------
    n : array_like
        Subgroup sizes.

    Returns
    -------
    numpy.ndarray
        ``sqrt(2 / (n - 1)) * Gamma(n / 2) / Gamma((n - 1) / 2)``; NaN for n <= 1.
    """
    n = np.asarray(n, dtype=float).copy()
    n[n <= 1] = np.nan
    with np.errstate(invalid="ignore"):
        return np.sqrt(2 / (n - 1)) * np.exp(gammaln(n / 2) - gammaln((n - 1) / 2))


def c5(n) -> np.ndarray:
    """c5(n) = sqrt(1 - c4(n)^2) = sd(s) / sigma (Montgomery 2009, section 6.3).

    Parameters
    ----------
    n : array_like
        Subgroup sizes.

    Returns
    -------
    numpy.ndarray
        The factor for each size; NaN for n <= 1.
    """
    return np.sqrt(1 - c4(n) ** 2)


def a3(n, k: float = 3) -> np.ndarray:
    """A3(n) = k / (c4(n) sqrt(n)): xbar limits are CL +- A3 s-bar (Montgomery 2009, eq. 6.29).

    Parameters
    ----------
    n : array_like
        Subgroup sizes.
    k : float
        Number of sigmas (3 for the control limits, 2 for the 95% limits).

    Returns
    -------
    numpy.ndarray
        The factor for each size; NaN for n <= 1.
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        return k / (c4(n) * np.sqrt(n))


def b3(n, k: float = 3) -> np.ndarray:
    """B3(n) = max(0, 1 - k c5 / c4): the s chart's lower limit factor (Montgomery 2009, eq. 6.27).

    Parameters
    ----------
    n : array_like
        Subgroup sizes.
    k : float
        Number of sigmas.

    Returns
    -------
    numpy.ndarray
        The factor for each size (NaN stays NaN).
    """
    v = 1 - k * c5(n) / c4(n)
    return np.where(np.isnan(v), np.nan, np.maximum(0, v))


def b4(n, k: float = 3) -> np.ndarray:
    """B4(n) = 1 + k c5 / c4: the s chart's upper limit factor (Montgomery 2009, eq. 6.27).

    Parameters
    ----------
    n : array_like
        Subgroup sizes.
    k : float
        Number of sigmas.

    Returns
    -------
    numpy.ndarray
        The factor for each size; NaN for n <= 1.
    """
    return 1 + k * c5(n) / c4(n)


def _limits(cl, sd):
    return {"lcl": cl - 3 * sd, "ucl": cl + 3 * sd, "lcl_95": cl - 2 * sd, "ucl_95": cl + 2 * sd}


def _clamp(lim: dict, lower: bool = True, upper: bool = False) -> dict:
    """Clip finite limits to [0, 1] like qicharts2 (infinite limits are left for later removal)."""
    out = dict(lim)
    for k in ("lcl", "lcl_95"):
        v = out[k].copy()
        if lower:
            v[np.isfinite(v) & (v < 0)] = 0
        out[k] = v
    for k in ("ucl", "ucl_95"):
        v = out[k].copy()
        if upper:
            v[np.isfinite(v) & (v > 1)] = 1
        out[k] = v
    return out


def _screened_amr(mr: np.ndarray, screened: bool) -> float:
    """Average moving range, optionally after removing ranges >= 3.267 x the first average (Nelson 1982)."""
    amr = _mean(mr)
    if screened:
        keep = ~(mr >= D4 * amr)  # NaN ranges are kept (then ignored by the mean), as in R
        amr = _mean(mr[keep])
    return amr


def chart_run(p: Part, screened_mr: bool = True) -> dict:
    base_y = p.y[p.base]
    base_y = base_y[~np.isnan(base_y)]
    cl = _centre(p, lambda: float(np.median(base_y)) if base_y.size else np.nan)
    nan = np.full(p.y.shape, np.nan)
    return {"y": p.y, "cl": cl, "lcl": nan, "ucl": nan.copy(), "lcl_95": nan.copy(), "ucl_95": nan.copy()}


def chart_i(p: Part, screened_mr: bool = True) -> dict:
    cl = _centre(p, lambda: _mean(p.y[p.base]))
    with np.errstate(invalid="ignore"):
        mr = np.abs(np.diff(p.y[p.base] - cl[p.base]))
    sd = _screened_amr(mr, screened_mr) / D2
    return {"y": p.y, "cl": cl, **_limits(cl, sd)}


def chart_mr(p: Part, screened_mr: bool = True) -> dict:
    y = np.concatenate([[np.nan], np.abs(np.diff(p.y))])
    cl = _centre(p, lambda: _mean(y[p.base]))
    return {"y": y, "cl": cl, "lcl": np.zeros_like(cl), "ucl": D4 * cl,
            "lcl_95": np.zeros_like(cl), "ucl_95": D4 / 3 * 2 * cl}


def _pooled_sd(p: Part) -> float:
    """s-bar: mean of s_i for equal subgroup sizes, pooled for unequal sizes (over base points)."""
    var_n = np.unique(p.y_length).size > 1
    if var_n:
        nb, sb = p.y_length[p.base], p.y_sd[p.base]
        with np.errstate(invalid="ignore"):
            return float(np.sqrt(_sum((nb - 1) * sb**2) / _sum(nb - 1)))
    return _mean(p.y_sd[p.base])


def chart_xbar(p: Part, screened_mr: bool = True) -> dict:
    nb = p.y_length[p.base]
    cl = _centre(p, lambda: _ratio(_sum(nb * p.y_mean[p.base]), _sum(nb)))
    s = _pooled_sd(p)
    k3, k2 = a3(p.y_length), a3(p.y_length, k=2)
    return {"y": p.y, "cl": cl, "lcl": cl - k3 * s, "ucl": cl + k3 * s,
            "lcl_95": cl - k2 * s, "ucl_95": cl + k2 * s}


def chart_s(p: Part, screened_mr: bool = True) -> dict:
    cl = _centre(p, lambda: _pooled_sd(p))
    n = p.y_length
    return {"y": p.y_sd.copy(), "cl": cl, "lcl": b3(n) * cl, "ucl": b4(n) * cl,
            "lcl_95": b3(n, k=2) * cl, "ucl_95": b4(n, k=2) * cl}


def chart_t(p: Part, screened_mr: bool = True) -> dict:
    # y > 0 is checked by the caller; transform (Nelson 1994), I chart, back-transform
    ty = p.y ** (1 / 3.6)
    res = chart_i(Part(ty, p.y_sum, p.y_length, p.y_mean, p.y_sd, p.n, p.cl, p.base, p.categorical),
                  screened_mr)
    with np.errstate(invalid="ignore"):
        out = {k: v ** 3.6 for k, v in res.items()}
    lcl = out["lcl"]
    lcl[np.isnan(lcl) | (lcl < 0)] = 0  # negative transformed limits give NaN: no lower limit
    return out


def _laney_sigma_z(p: Part, cl: np.ndarray, sd: np.ndarray, screened_mr: bool) -> float:
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (p.y[p.base] - cl[p.base]) / sd[p.base]
    if p.categorical:
        return float(np.std(z, ddof=1)) if z.size > 1 else np.nan
    with np.errstate(invalid="ignore"):
        mr = np.abs(np.diff(z))
    return _screened_amr(mr, screened_mr) / D2


def _binomial(p: Part):
    cl = _centre(p, lambda: _ratio(_sum(p.y_sum[p.base]), _sum(p.n[p.base])))
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(cl * (1 - cl) / p.n)
    return cl, sd


def _poisson(p: Part):
    cl = _centre(p, lambda: _ratio(_sum(p.y_sum[p.base]), _sum(p.n[p.base])))
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(cl / p.n)
    return cl, sd


def chart_p(p: Part, screened_mr: bool = True) -> dict:
    cl, sd = _binomial(p)
    return {"y": p.y, "cl": cl, **_clamp(_limits(cl, sd), lower=True, upper=True)}


def chart_pp(p: Part, screened_mr: bool = True) -> dict:
    cl, sd = _binomial(p)
    sd = sd * _laney_sigma_z(p, cl, sd, screened_mr)
    return {"y": p.y, "cl": cl, **_clamp(_limits(cl, sd), lower=True, upper=True)}


def chart_c(p: Part, screened_mr: bool = True) -> dict:
    y = p.y_sum.copy()
    cl = _centre(p, lambda: _mean(y[p.base]))
    with np.errstate(invalid="ignore"):
        sd = np.sqrt(cl)
    return {"y": y, "cl": cl, **_clamp(_limits(cl, sd), lower=True)}


def chart_u(p: Part, screened_mr: bool = True) -> dict:
    cl, sd = _poisson(p)
    return {"y": p.y, "cl": cl, **_clamp(_limits(cl, sd), lower=True)}


def chart_up(p: Part, screened_mr: bool = True) -> dict:
    cl, sd = _poisson(p)
    sd = sd * _laney_sigma_z(p, cl, sd, screened_mr)
    return {"y": p.y, "cl": cl, **_clamp(_limits(cl, sd), lower=True)}


CHART_FUNCTIONS = {
    "run": chart_run, "i": chart_i, "mr": chart_mr, "xbar": chart_xbar, "s": chart_s, "t": chart_t,
    "p": chart_p, "pp": chart_pp, "c": chart_c, "u": chart_u, "up": chart_up,
}

#: Charts whose y is a ratio of counts to a denominator: they need ``n``.
NEEDS_N = ("p", "pp", "u", "up")
