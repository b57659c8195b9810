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
* ``shift_mean``: the mean z-score of the months after the start differs from the baseline's by more than
  3 standard errors (a sustained shift). With ``sigma="ar1_noise"`` (the default) the standard error is that
  of the difference of the two means of a series made of a persistent AR(1) part and month-to-month noise
  (:func:`shift_var`, structure from the baseline's pooled lag-1 and lag-2 autocorrelations,
  :func:`_pooled_ar1_noise`); with ``sigma="autocorrelated"`` it is σ_z · sqrt(1/n_eff,after +
  1/n_eff,baseline) with the effective numbers of months of an AR(1) with the baseline's lag-1
  autocorrelation, which understates persistence that lasts years (``benchmarks/README.md``).

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
from ..validation import check_columns, check_whole_number
from .qic import qic
from .runs import runs_analysis


def N_(message: str) -> str:
    """Marks a text for the reports' message catalogues (gettext convention; :mod:`cluster_eval.report.i18n`)."""
    return message


RULES = ("beyond_limits", "two_of_three", "runs", "shift_mean")
SIGMAS = ("moving_range", "baseline_sd", "autocorrelated", "ar1_noise")
#: Largest AR coefficient of the slow component of :func:`_pooled_ar1_noise`.
MAX_PHI = 0.97
#: Upper bound of 1/n_eff (the baseline's effective number of independent months) in the limits.
MAX_INV_NEFF = 0.8
#: Rules whose false-signal rate was measured low enough to be called a "signal" (benchmarks/README.md,
#: "Calibration of descriptive claims"); the others are reported as patterns, not signals.
SIGNAL_RULES = ("shift_mean",)
#: The measured false-signal rate of :data:`SIGNAL_RULES` (benchmarks/README.md, "Calibration of descriptive
#: claims": topics never taken up and fake starts in the pre-periods).
FALSE_SIGNAL_RATE = N_("1.5% (1.3-2.0%)")
#: One sentence for the report: what a signal means.
SIGNAL_MEANING = N_("A signal means that over the months after the start the cluster's level relative to the "
                    "nation moved away from its level in the months before by more than its own month-to-month "
                    "variation explains; on synthetic data without any true change this happened in about "
                    "{rate} of charts, and about as often on real English practices' data at placebo starts.")


def expected_from_nation(denominator, national_numerator, national_denominator) -> np.ndarray:
    """Crude expected counts: the cluster's denominator times the nation's value in the same month."""
    d = np.asarray(denominator, float)
    nn = np.asarray(national_numerator, float)
    nd = np.asarray(national_denominator, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return d * np.where(nd > 0, nn / nd, np.nan)


def _two_of_three(beyond: np.ndarray) -> np.ndarray:
    """Per row: two of three consecutive columns True (points beyond 2 sigma on one side)."""
    b = np.nan_to_num(beyond.astype(float), nan=0.0)
    if b.shape[1] < 2:
        return np.zeros(b.shape[0], dtype=bool)
    win = b[:, :-1] + b[:, 1:]
    if b.shape[1] >= 3:
        win = np.maximum(win, np.pad(b[:, :-2] + b[:, 1:-1] + b[:, 2:], ((0, 0), (0, 1))))
    return (win >= 2).any(axis=1)


def _pooled_lag1(zb: np.ndarray, groups: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation of the baseline z-scores, pooled within groups of panels, bias-corrected.

    Each panel's z-scores are centred on their own mean; r = Σ z_t z_(t-1) / Σ z_t² over the group's panels,
    then r + (1 + 3r)/n (the first-order bias of the lag-1 estimate of an AR(1) from n points; Marriott &
    Pope 1954), clipped to [0, 0.95]. Returns one value per panel.
    """
    zc = zb - np.nanmean(zb, axis=1, keepdims=True)
    prod = np.nansum(zc[:, 1:] * zc[:, :-1], axis=1)
    sq = np.nansum(zc ** 2, axis=1)
    out = np.zeros(zb.shape[0])
    for g in np.unique(groups):
        m = groups == g
        rg = prod[m].sum() / sq[m].sum() if sq[m].sum() > 0 else 0.0
        nb = float(np.mean(n[m])) if m.any() else 1.0
        out[m] = np.clip(rg + (1 + 3 * rg) / max(nb, 1.0), 0.0, 0.95)
    return out


def inv_neff(n, phi, lam) -> np.ndarray:
    """Var(mean of n months) / Var(one month) of an AR(1) component (coefficient ``phi``, share ``lam`` of the
    variance) plus white noise: (1 − λ)/n + λ·[(1 + φ)/(1 − φ) − 2φ(1 − φⁿ)/(n(1 − φ)²)]/n."""
    n = np.maximum(np.asarray(n, float), 1.0)
    phi, lam = np.asarray(phi, float), np.asarray(lam, float)
    g = ((1 + phi) / (1 - phi) - 2 * phi * (1 - phi ** n) / (n * (1 - phi) ** 2)) / n
    return (1 - lam) / n + lam * g


def shift_var(n_before, n_after, phi, lam) -> np.ndarray:
    """Var(mean of the n_after months after − mean of the n_before months just before) / Var(one month) of
    the AR(1)-plus-noise series of :func:`inv_neff`: the two means' variances minus twice their covariance,
    2·λ·φ(1 − φ^n_b)(1 − φ^n_a) / ((1 − φ)² n_b n_a) (adjacent blocks of a persistent series move together)."""
    nb = np.maximum(np.asarray(n_before, float), 1.0)
    na = np.maximum(np.asarray(n_after, float), 1.0)
    phi, lam = np.asarray(phi, float), np.asarray(lam, float)
    cov = lam * phi * (1 - phi ** nb) * (1 - phi ** na) / ((1 - phi) ** 2 * nb * na)
    return np.maximum(inv_neff(nb, phi, lam) + inv_neff(na, phi, lam) - 2 * cov, 0.0)


def _pooled_ar1_noise(zb: np.ndarray, groups: np.ndarray, n: np.ndarray, iterations: int = 20):
    """AR(1)-plus-noise structure of the baseline z-scores, pooled within groups of panels.

    A cluster's O/E deviations are the sum of month-to-month sampling noise and slow, persistent parts
    (practice deviations that last for years, cluster shocks): autocorrelations ρ_h = λ·φ^h (h ≥ 1), an
    ARMA(1,1), decay much more slowly than the lag-1 value alone says. φ = ρ₂/ρ₁ and λ = ρ₁/φ from the
    group's pooled lag-1 and lag-2 autocorrelations of the panel-centred series, corrected for the centring
    (E ρ̂_h ≈ (n − h)/n · (ρ_h − v)/(1 − v), v = :func:`inv_neff`; solved by fixed-point iteration).
    Returns (φ, λ) per panel; λ = 1, φ = ρ₁ (an AR(1)) where ρ₂/ρ₁ < ρ₁.
    """
    zc = zb - np.nanmean(zb, axis=1, keepdims=True)
    p1 = np.nansum(zc[:, 1:] * zc[:, :-1], axis=1)
    p2 = np.nansum(zc[:, 2:] * zc[:, :-2], axis=1)
    sq = np.nansum(zc ** 2, axis=1)
    phi_out, lam_out = np.zeros(zb.shape[0]), np.ones(zb.shape[0])
    for g in np.unique(groups):
        m = groups == g
        if sq[m].sum() <= 0:
            continue
        nb = max(float(np.mean(n[m])), 3.0)
        r1_hat, r2_hat = p1[m].sum() / sq[m].sum(), p2[m].sum() / sq[m].sum()
        phi, lam = 0.0, 1.0
        for _ in range(iterations):
            v = float(np.minimum(inv_neff(nb, phi, lam), MAX_INV_NEFF))
            r1 = np.clip(r1_hat * nb / (nb - 1) * (1 - v) + v, 0.0, MAX_PHI)
            r2 = np.clip(r2_hat * nb / (nb - 2) * (1 - v) + v, 0.0, MAX_PHI)
            if r1 <= 0:
                phi, lam = 0.0, 1.0
                break
            phi = float(np.clip(r2 / r1, r1, MAX_PHI))
            lam = float(np.clip(r1 / phi, 0.0, 1.0)) if phi > 0 else 1.0
        phi_out[m], lam_out[m] = phi, lam
    return phi_out, lam_out


def _month_number(x) -> np.ndarray:
    x = pd.DatetimeIndex(pd.to_datetime(np.asarray(x)))
    return np.asarray(x.year * 12 + x.month - 1)


def relative_charts(data: pd.DataFrame, by, *, before: int = 24, after: int = 24, min_baseline: int = 12,
                    laney: str = "auto", sigma: str = "ar1_noise",
                    pool_by=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Chart data and rules of many O/E series, each around its own start (one ``ce.spc.qic`` call per chart type).

    Parameters
    ----------
    data : DataFrame
        One row per panel and month: the ``by`` columns, ``period`` (a month), ``start`` (the panel's first
        exposed month), ``observed`` and ``expected`` (see the module docstring).
    by : str or list of str
        The columns that identify a panel (e.g. ``["cluster_id", "indicator_id"]``).
    before, after : int
        Months charted before the start and from the start on.
    min_baseline : int
        Fewest baseline months with an expected count above 0 for a chart (else no limits: ``reason`` says).
    laney : {"auto", "always", "never"}
        Laney's u′ chart when the baseline is overdispersed (σ_z > 1, auto), always, or never (a u chart).
    sigma : {"ar1_noise", "autocorrelated", "baseline_sd", "moving_range"}
        How σ_z is estimated from the baseline's z-scores z_t = (y_t − CL)/σ_t: Laney's average moving range
        / 1.128 (``ce.spc.qic``'s u′ chart), or their standard deviation, which keeps the slow, autocorrelated
        part of the variation that the moving range misses; ``"autocorrelated"``: that standard deviation
        corrected for the baseline's lag-1 autocorrelation r (pooled over the panels of ``pool_by``), with
        the effective number of baseline months n_eff = n (1 − r)/(1 + r): σ_z = s_z / sqrt(1 − 1/n_eff),
        and limits widened by sqrt(1 + 1/n_eff) for the uncertainty of the frozen centre (limits for a new
        observation; Quesenberry 1993); ``"ar1_noise"`` (default): the same with 1/n_eff = :func:`inv_neff`
        of an AR(1) part plus noise (φ, λ pooled over the panels of ``pool_by``), and the shift rule's
        standard error from :func:`shift_var`.
    pool_by : str or list of str, optional
        Columns of ``by`` within which the autocorrelation is pooled (default: all panels of the call).

    Returns
    -------
    (chart, rules) : (DataFrame, DataFrame)
        ``chart``: ``ce.spc.qic`` chart data (``y`` = O/E, ``cl``, ``lcl``, ``ucl``, ``lcl_95``, ``ucl_95`` ...)
        of the charted panels, with the ``by`` columns, ``event_time`` (months since the start), ``period`` and
        ``phase`` ("baseline" / "after start"). ``rules``: one row per panel, the ``by`` columns,
        ``n_baseline``, ``n_after``, ``centre``, ``sigma_z``, ``chart`` ("u" or "up"), one boolean per rule
        of :data:`RULES`, ``direction`` of the mean O/E after the start against the centre ("above" /
        "below" / ""), ``reason`` (empty, or why there is no chart).
    """
    before = check_whole_number(before, "before")
    after = check_whole_number(after, "after")
    if laney not in ("auto", "always", "never"):
        raise ArgumentError(f"laney must be one of 'auto', 'always', 'never'; got {laney!r}")
    if sigma not in SIGMAS:
        raise ArgumentError(f"sigma must be one of {', '.join(map(repr, SIGMAS))}; got {sigma!r}")
    by = [by] if isinstance(by, str) else list(by)
    check_columns(data, by + ["period", "start", "observed", "expected"], "relative SPC data")
    width = before + after
    d = data[by + ["period", "start", "observed", "expected"]].copy()
    d["event_time"] = _month_number(d["period"]) - _month_number(d["start"])
    d = d[(d["event_time"] >= -before) & (d["event_time"] < after)]
    panels = data[by + ["start"]].drop_duplicates(by).reset_index(drop=True)
    panels["start"] = pd.to_datetime(panels["start"]).dt.to_period("M").dt.to_timestamp()
    npan = len(panels)
    pid = pd.MultiIndex.from_frame(panels[by]) if len(by) > 1 else pd.Index(panels[by[0]])
    key = pd.MultiIndex.from_frame(d[by]) if len(by) > 1 else pd.Index(d[by[0]])
    r = pid.get_indexer(key)
    c = d["event_time"].to_numpy(int) + before
    o = np.full((npan, width), np.nan)
    e = np.full((npan, width), np.nan)
    o[r, c] = d["observed"].to_numpy(float)
    e[r, c] = d["expected"].to_numpy(float)
    ok = np.isfinite(o) & np.isfinite(e) & (e > 0)
    o[~ok], e[~ok] = np.nan, np.nan
    pre = np.arange(width) < before
    n_base = (ok & pre).sum(axis=1)
    n_after = (ok & ~pre).sum(axis=1)
    rules = panels[by].copy()
    rules["n_baseline"], rules["n_after"] = n_base, n_after
    for col, val in (("centre", np.nan), ("sigma_z", np.nan), ("chart", "")):
        rules[col] = val
    for rule in RULES:
        rules[rule] = False
    rules["direction"] = ""
    rules["reason"] = np.where(n_base < min_baseline, f"fewer than {min_baseline} months before the start",
                               np.where(n_after == 0, "no months after the start", ""))
    charted = np.flatnonzero(rules["reason"].to_numpy() == "")
    if not charted.size:
        return pd.DataFrame(), rules
    k = charted.size
    grid = pd.DataFrame({"_panel": np.repeat(charted, width), "x": np.tile(np.arange(-before, after), k),
                         "y": o[charted].reshape(-1), "n": e[charted].reshape(-1)})
    u = qic("x", "y", "n", data=grid, chart="u", facets="_panel", freeze=before)
    up = qic("x", "y", "n", data=grid, chart="up", facets="_panel", freeze=before)
    shape = (k, width)
    cl = u["cl"].to_numpy(float).reshape(shape)[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = ((up["ucl"] - up["cl"]).to_numpy(float) / (u["ucl"] - u["cl"]).to_numpy(float)).reshape(shape)
    have = np.isfinite(ratio).any(axis=1)
    sigma_i = ((u["ucl"] - u["cl"]).to_numpy(float) / 3.0).reshape(shape)   # Poisson sigma of each month's O/E
    sigma_z = np.full(k, np.nan)
    factor = np.ones(k)          # widening of the limits for the baseline's uncertainty (autocorrelated)
    r = np.zeros(k)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (o[charted] / e[charted] - cl[:, None]) / sigma_i
    zb = np.where(pre[None, :], z, np.nan)
    if sigma == "moving_range":
        sigma_z[have] = np.nanmedian(ratio[have], axis=1)
    else:   # the standard deviation of the baseline months' z-scores
        enough = np.isfinite(zb).sum(axis=1) >= 2
        sigma_z[enough] = np.nanstd(zb[enough], axis=1, ddof=1)
        if sigma in ("autocorrelated", "ar1_noise"):
            groups = (np.zeros(k, dtype=int) if not pool_by else
                      rules.iloc[charted].groupby(pool_by, sort=False, observed=True).ngroup().to_numpy())
            if sigma == "autocorrelated":
                r = _pooled_lag1(zb, groups, n_base[charted])
                inv_b = (1 + r) / ((1 - r) * np.maximum(n_base[charted], 1))
            else:
                phi, lam = _pooled_ar1_noise(zb, groups, n_base[charted])
                inv_b = inv_neff(n_base[charted], phi, lam)
            inv_b = np.minimum(inv_b, MAX_INV_NEFF)
            sigma_z = sigma_z / np.sqrt(1 - inv_b)
            factor = np.sqrt(1 + inv_b)
    use_up = np.full(k, laney == "always") | ((laney == "auto") & np.isfinite(sigma_z) & (sigma_z > 1))
    rows = np.repeat(use_up, width)
    chart = u.copy()
    if sigma == "moving_range":
        for col in ("lcl", "ucl", "lcl_95", "ucl_95", "sigma_signal"):
            chart[col] = np.where(rows, up[col].to_numpy(), u[col].to_numpy())
    else:
        s_adj = (sigma_i * (np.where(use_up, sigma_z, 1.0) * factor)[:, None]).reshape(-1)
        cl_rows = np.repeat(cl, width)
        for col, k_sd in (("lcl", -3), ("ucl", 3), ("lcl_95", -2), ("ucl_95", 2)):
            lim = cl_rows + k_sd * s_adj
            chart[col] = np.maximum(lim, 0.0) if col.startswith("lcl") else lim
        yy = chart["y"].to_numpy(float)
        with np.errstate(invalid="ignore"):
            chart["sigma_signal"] = (yy > chart["ucl"].to_numpy()) | (yy < chart["lcl"].to_numpy())
    chart["chart"] = np.where(rows, "up", "u")
    y = chart["y"].to_numpy(float).reshape(shape)
    lcl = chart["lcl"].to_numpy(float).reshape(shape)
    ucl = chart["ucl"].to_numpy(float).reshape(shape)
    sd = (ucl - cl[:, None]) / 3.0
    post = ~pre
    yp, sp = y[:, post], sd[:, post]
    with np.errstate(invalid="ignore"):
        beyond = np.nan_to_num((yp > ucl[:, post]) | (yp < lcl[:, post]).astype(bool))
        dev = (yp - cl[:, None]) / sp
    two = _two_of_three(dev > 2) | _two_of_three(dev < -2)
    runs = np.zeros(k, dtype=bool)
    for i in range(k):
        fin = np.isfinite(yp[i])
        ra = runs_analysis(yp[i, fin], np.full(fin.sum(), cl[i]))
        runs[i] = bool(ra["longest_run"] > ra["longest_run_max"] or ra["n_crossings"] < ra["n_crossings_min"])
    eo, ee = np.nansum(o[charted][:, post], axis=1), np.nansum(e[charted][:, post], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_ratio = np.where(ee > 0, eo / ee, np.nan)
        # mean z after the start against the baseline's mean z; months weighted equally, AR(1) effective sizes
        zp = z[:, post]
        n_a = np.isfinite(zp).sum(axis=1)
        sz = (np.maximum(sigma_z, 1.0) if sigma in ("autocorrelated", "ar1_noise")
              else np.where(use_up, sigma_z, 1.0))
        if sigma == "ar1_noise":
            sd_shift = sz * np.sqrt(shift_var(n_base[charted], n_a, phi, lam))
        else:
            inv_a = (1 + r) / ((1 - r) * np.maximum(n_a, 1))
            inv_b = (1 + r) / ((1 - r) * np.maximum(n_base[charted], 1))
            sd_shift = sz * np.sqrt(inv_a + inv_b)
        shift = np.abs(np.nanmean(zp, axis=1) - np.nanmean(zb, axis=1)) > 3 * sd_shift
    shift = np.nan_to_num(shift).astype(bool)
    idx = rules.index[charted]
    rules.loc[idx, "centre"] = cl
    rules.loc[idx, "sigma_z"] = sigma_z
    rules.loc[idx, "chart"] = np.where(use_up, "up", "u")
    rules.loc[idx, "beyond_limits"] = beyond.any(axis=1)
    rules.loc[idx, "two_of_three"] = two
    rules.loc[idx, "runs"] = runs
    rules.loc[idx, "shift_mean"] = shift
    rules.loc[idx, "direction"] = np.where(mean_ratio > cl, "above", np.where(mean_ratio < cl, "below", ""))
    for col in RULES:
        rules[col] = rules[col].astype(bool)
    keys = panels.iloc[chart["_panel"].to_numpy()].reset_index(drop=True)
    chart = chart.drop(columns=["_panel"]).rename(columns={"x": "event_time"}).reset_index(drop=True)
    chart.insert(0, "period", (keys["start"].dt.to_period("M")
                               + chart["event_time"].to_numpy()).dt.to_timestamp().to_numpy())
    for col in reversed(by):
        chart.insert(0, col, keys[col].to_numpy())
    chart["phase"] = np.where(chart["event_time"] < 0, "baseline", "after start")
    chart.attrs.update(u.attrs)
    chart.attrs["facets"] = by
    return chart, rules


def relative_chart(periods, observed, expected, start, *, before: int = 24, after: int = 24,
                   min_baseline: int = 12, laney: str = "auto",
                   sigma: str = "ar1_noise") -> tuple[pd.DataFrame, dict]:
    """One cluster's O/E chart around its start: :func:`relative_charts` for a single series.

    Returns ``(chart, rules)`` with ``rules`` a dict (the one row of :func:`relative_charts`' rules).
    """
    x = np.asarray(periods)
    o, e = np.asarray(observed, float), np.asarray(expected, float)
    if not (len(x) == len(o) == len(e)):
        raise ArgumentError(f"periods, observed and expected must have the same length; got {len(x)}, {len(o)}, "
                            f"{len(e)}")
    data = pd.DataFrame({"panel": 0, "period": pd.to_datetime(x), "start": pd.Timestamp(start),
                         "observed": o, "expected": e})
    chart, rules = relative_charts(data, "panel", before=before, after=after, min_baseline=min_baseline,
                                   laney=laney, sigma=sigma)
    out = rules.drop(columns="panel").iloc[0].to_dict()
    return (chart.drop(columns="panel") if len(chart) else chart), out
