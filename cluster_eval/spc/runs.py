"""The Anhøj rules for non-random variation in a run or control chart.

A *run* is a sequence of data points on the same side of the centre line; points on the line and
missing points are not useful and are skipped. With ``n`` useful points the process is signalled as
non-random (a *runs signal*, a persistent shift) when either

* the longest run is longer than ``round(log2(n)) + 3`` (Schilling 2012), or
* the number of times the line is crossed is below the 5 % quantile of Binomial(n - 1, 0.5) (Chen 2010).

References
----------
Anhøj J, Olesen AV (2014). Run charts revisited: a simulation study of run chart rules for detection of
non-random variation in health care processes. PLoS ONE 9(11): e113825.
Anhøj J (2015). Diagnostic value of run chart analysis. PLoS ONE 10(3): e0121349.
Schilling MF (2012). The surprising predictability of long runs. Mathematics Magazine 85(2): 141-149.
Chen Z (2010). A note on the runs test. Model Assisted Statistics and Applications 5: 73-77.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


def longest_run_max(n_useful):
    """Upper limit of the expected longest run: ``round(log2(n_useful)) + 3`` (Schilling 2012; Anhøj 2014).

    Parameters
    ----------
    n_useful : int or array_like
        Number of useful points (not on the centre line, not missing).

    Returns
    -------
    float or numpy.ndarray
        The limit; a longer run is a runs signal. NaN for no useful points.
    """
    n = np.asarray(n_useful, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(n > 0, np.round(np.log2(np.where(n > 0, n, 1))) + 3, np.nan)
    return out if out.ndim else float(out)


def crossings_min(n_useful):
    """Lower limit of the expected number of crossings: the 5 % quantile of Binomial(n_useful - 1, 0.5).

    Equals R's ``qbinom(0.05, max(n_useful - 1, 0), 0.5)``: the smallest k with P(X <= k) >= 0.05
    (Chen 2010; Anhøj & Olesen 2014).

    Parameters
    ----------
    n_useful : int or array_like
        Number of useful points (not on the centre line, not missing).

    Returns
    -------
    float or numpy.ndarray
        The limit; fewer crossings is a runs signal. NaN for no useful points.
    """
    n = np.asarray(n_useful, dtype=float)
    out = np.array([_crossings_min(int(v)) if v > 0 else np.nan for v in n.ravel()]).reshape(n.shape)
    return out if out.ndim else float(out)


@lru_cache(maxsize=4096)
def _crossings_min(n: int) -> float:
    from scipy.stats import binom  # imported on first use: scipy.stats is slow to import

    return float(binom.ppf(0.05, max(n - 1, 0), 0.5))


def runs_analysis(y, cl) -> dict:
    """Runs statistics of one chart part (the included points only, in time order).

    Parameters
    ----------
    y, cl : array_like
        Data and centre line of the points that take part in the analysis.

    Returns
    -------
    dict
        ``n_obs`` (points), ``n_useful`` (points not on the centre line and not missing),
        ``longest_run``, ``longest_run_max``, ``n_crossings``, ``n_crossings_min`` and ``runs_signal``
        (True when the longest run is too long or the crossings too few). Run statistics are NaN and
        the signal False when no point is useful.
    """
    y = np.asarray(y, dtype=float)
    cl = np.asarray(cl, dtype=float)
    with np.errstate(invalid="ignore"):
        side = np.sign(y - cl)
    side = side[(side != 0) & ~np.isnan(side)]
    n_useful = side.size
    out = {"n_obs": int(y.size), "n_useful": int(n_useful)}
    if n_useful == 0:
        out.update(longest_run=np.nan, longest_run_max=np.nan, n_crossings=np.nan,
                   n_crossings_min=np.nan, runs_signal=False)
        return out
    change = np.flatnonzero(side[1:] != side[:-1])          # index before each crossing
    bounds = np.concatenate([[-1], change, [n_useful - 1]])
    run_lengths = np.diff(bounds)
    longest = int(run_lengths.max())
    crossings = int(change.size)
    lmax = float(np.round(np.log2(n_useful)) + 3)
    cmin = _crossings_min(n_useful)
    out.update(longest_run=longest, longest_run_max=lmax, n_crossings=crossings, n_crossings_min=cmin,
               runs_signal=bool(longest > lmax or crossings < cmin))
    return out
