"""SPC of a cluster relative to the nation: O/E by month, window-limited around the start, baseline frozen.

A cluster's crude monthly series carries the national trend, the season and COVID; a run chart of it
"signals" almost always. Charted here instead is the cluster's observed count over the count expected from
the nation in the same month,

    y_t = O_t / E_t,    E_t = Σ_b d_cb(t) r_b(t)   (national sex/age-band rates of month t, when banded)
                        E_t = d_c(t) · R(t)        (the national crude value of month t, otherwise),

so national movements cancel. Only the months from ``before`` months before the start to ``after`` months
after it are charted (default 24 and 24), and the centre line and limits are those of the months before the
start (qicharts2's ``freeze``): a u chart of O/E (y = O, n = E), with Laney's adjustment (u′ chart, the
``"up"`` chart of :func:`cluster_eval.spc.qic`) when the baseline is overdispersed (σ_z > 1). The centre
and limits are computed by ``ce.spc.qic`` (the one implementation).

Rules, applied to the months from the start on only (:data:`RULES`):

* ``beyond_limits``: a month outside the 3-sigma limits;
* ``two_of_three``: two of three consecutive months beyond 2 sigma on the same side (Western Electric 2);
* ``runs``: the Anhøj rules (longest run, crossings) against the frozen centre;
* ``shift_mean``: the mean of the months after the start outside the baseline's 3-sigma limits for a mean
  of that many months (σ_z-scaled Poisson; the months taken as independent).

Which of them the report may call a "signal" is decided by their measured false-signal rate
(``benchmarks/calibration.py``; :data:`SIGNAL_RULES`).

References
----------
Laney DB (2002). Improved control charts for attributes. Quality Engineering 14(4): 531-537.
Anhøj J, Olesen AV (2014). Run charts revisited. PLoS ONE 9(11): e113825.
Western Electric (1956). Statistical Quality Control Handbook.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..validation import check_whole_number
from .qic import qic
from .runs import runs_analysis

RULES = ("beyond_limits", "two_of_three", "runs", "shift_mean")
#: Rules whose false-signal rate was measured low enough to be called a "signal" (benchmarks/README.md,
#: "Calibration of descriptive claims"); the others are reported as patterns, not signals.
SIGNAL_RULES = ("beyond_limits",)
#: One sentence for the report: what a signal means.
SIGNAL_MEANING = ("A signal means that, after the start, the cluster moved away from its own level relative to "
                  "the nation before the start by more than month-to-month variation explains; in charts "
                  "without any true change this happens in about {rate} of charts.")


def expected_from_nation(denominator, national_numerator, national_denominator) -> np.ndarray:
    """Crude expected counts: the cluster's denominator times the nation's value in the same month."""
    d = np.asarray(denominator, float)
    nn = np.asarray(national_numerator, float)
    nd = np.asarray(national_denominator, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return d * np.where(nd > 0, nn / nd, np.nan)


def _two_of_three(y, cl, sd, sign) -> bool:
    beyond = sign * (y - cl) > 2 * sd
    beyond = np.nan_to_num(beyond.astype(float), nan=0.0)
    if beyond.size < 2:
        return False
    win = np.convolve(beyond, np.ones(3), mode="full")[: beyond.size]
    return bool((win >= 2).any())


def relative_chart(periods, observed, expected, start, *, before: int = 24, after: int = 24,
                   min_baseline: int = 12, laney: str = "auto") -> tuple[pd.DataFrame, dict]:
    """Chart data and rules of one cluster's O/E series around its start.

    Parameters
    ----------
    periods : array-like of datetime
        Months of the series (sorted or not; one value per month).
    observed, expected : array-like
        The cluster's observed count and expected count per month (see the module docstring).
    start : datetime
        The first exposed month (the first month after the baseline).
    before, after : int
        Months charted before the start and from the start on.
    min_baseline : int
        Fewest baseline months with an expected count above 0 for a chart (else no limits: ``reason`` says).
    laney : {"auto", "always", "never"}
        Laney's u′ chart when the baseline is overdispersed (auto), always, or never (a plain u chart).

    Returns
    -------
    (chart, rules) : (DataFrame, dict)
        ``chart``: ``ce.spc.qic`` chart data of the window (``y`` = O/E, ``cl``, ``lcl``, ``ucl`` ...) with a
        ``phase`` column ("baseline" / "after start"). ``rules``: ``n_baseline``, ``n_after``, ``centre``,
        ``sigma_z``, ``chart`` ("u" or "up"), one boolean per rule of :data:`RULES`, ``direction`` of the
        mean O/E after the start against the centre ("above" / "below" / ""), and ``reason`` (empty, or why there is no
        chart).
    """
    before = check_whole_number(before, "before")
    after = check_whole_number(after, "after")
    if laney not in ("auto", "always", "never"):
        raise ArgumentError(f"laney must be one of 'auto', 'always', 'never'; got {laney!r}")
    x = pd.DatetimeIndex(pd.to_datetime(np.asarray(periods)))
    o = np.asarray(observed, float)
    e = np.asarray(expected, float)
    if not (len(x) == len(o) == len(e)):
        raise ArgumentError(f"periods, observed and expected must have the same length; got {len(x)}, {len(o)}, "
                            f"{len(e)}")
    start = pd.Timestamp(start).to_period("M").to_timestamp()
    months = (x.year - start.year) * 12 + (x.month - start.month)
    keep = (months >= -before) & (months < after)
    order = np.argsort(months[keep], kind="stable")
    x, o, e, months = x[keep][order], o[keep][order], e[keep][order], np.asarray(months[keep])[order]
    ok = np.isfinite(e) & (e > 0) & np.isfinite(o)
    o, e = np.where(ok, o, np.nan), np.where(ok, e, np.nan)
    n_base = int((ok & (months < 0)).sum())
    n_after = int((ok & (months >= 0)).sum())
    rules = {"n_baseline": n_base, "n_after": n_after, "centre": np.nan, "sigma_z": np.nan, "chart": "",
             **{r: False for r in RULES}, "direction": "", "reason": ""}
    if n_base < min_baseline:
        rules["reason"] = f"fewer than {min_baseline} months before the start"
        return pd.DataFrame(), rules
    if n_after == 0:
        rules["reason"] = "no months after the start"
        return pd.DataFrame(), rules
    freeze = int((months < 0).sum())
    u = qic(x, o, e, chart="u", freeze=freeze)
    up = qic(x, o, e, chart="up", freeze=freeze)
    cl = float(u["cl"].iloc[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (up["ucl"] - up["cl"]).to_numpy(float) / (u["ucl"] - u["cl"]).to_numpy(float)
    sigma_z = float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else np.nan
    use_up = laney == "always" or (laney == "auto" and np.isfinite(sigma_z) and sigma_z > 1)
    chart = up if use_up else u
    chart = chart.assign(phase=np.where(months < 0, "baseline", "after start"))
    rules.update(centre=cl, sigma_z=sigma_z, chart="up" if use_up else "u")
    y = chart["y"].to_numpy(float)
    c = chart["cl"].to_numpy(float)
    sd = (chart["ucl"].to_numpy(float) - c) / 3.0
    post = months >= 0
    yp, cp, sp = y[post], c[post], sd[post]
    with np.errstate(invalid="ignore"):
        rules["beyond_limits"] = bool(np.nan_to_num((yp > chart["ucl"].to_numpy(float)[post])
                                                    | (yp < chart["lcl"].to_numpy(float)[post])).any())
    rules["two_of_three"] = _two_of_three(yp, cp, sp, 1) or _two_of_three(yp, cp, sp, -1)
    ra = runs_analysis(yp[np.isfinite(yp)], cp[np.isfinite(yp)])
    rules["runs"] = bool(ra["longest_run"] > ra["longest_run_max"] or ra["n_crossings"] < ra["n_crossings_min"])
    # the mean O/E after the start against limits for a mean of that many months
    eo, ee = np.nansum(o[post]), np.nansum(e[post])
    mean_ratio = eo / ee if ee > 0 else np.nan
    sd_mean = (sigma_z if use_up else 1.0) * np.sqrt(cl / ee) if ee > 0 else np.nan
    rules["shift_mean"] = bool(np.isfinite(mean_ratio) and abs(mean_ratio - cl) > 3 * sd_mean)
    if np.isfinite(mean_ratio) and mean_ratio != cl:
        rules["direction"] = "above" if mean_ratio > cl else "below"
    return chart, rules
