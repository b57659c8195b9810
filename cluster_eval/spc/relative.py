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
from ..validation import check_columns, check_whole_number
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


def _two_of_three(beyond: np.ndarray) -> np.ndarray:
    """Per row: two of three consecutive columns True (points beyond 2 sigma on one side)."""
    b = np.nan_to_num(beyond.astype(float), nan=0.0)
    if b.shape[1] < 2:
        return np.zeros(b.shape[0], dtype=bool)
    win = b[:, :-1] + b[:, 1:]
    if b.shape[1] >= 3:
        win = np.maximum(win, np.pad(b[:, :-2] + b[:, 1:-1] + b[:, 2:], ((0, 0), (0, 1))))
    return (win >= 2).any(axis=1)


def _month_number(x) -> np.ndarray:
    x = pd.DatetimeIndex(pd.to_datetime(np.asarray(x)))
    return np.asarray(x.year * 12 + x.month - 1)


def relative_charts(data: pd.DataFrame, by, *, before: int = 24, after: int = 24, min_baseline: int = 12,
                    laney: str = "auto") -> tuple[pd.DataFrame, pd.DataFrame]:
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
    sigma_z = np.full(k, np.nan)
    sigma_z[have] = np.nanmedian(ratio[have], axis=1)
    use_up = np.full(k, laney == "always") | ((laney == "auto") & np.isfinite(sigma_z) & (sigma_z > 1))
    rows = np.repeat(use_up, width)
    chart = u.copy()
    for col in ("lcl", "ucl", "lcl_95", "ucl_95", "sigma_signal"):
        chart[col] = np.where(rows, up[col].to_numpy(), u[col].to_numpy())
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
        sd_mean = np.where(use_up, sigma_z, 1.0) * np.sqrt(cl / ee)
    shift = np.isfinite(mean_ratio) & (np.abs(mean_ratio - cl) > 3 * sd_mean)
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
                   min_baseline: int = 12, laney: str = "auto") -> tuple[pd.DataFrame, dict]:
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
                                   laney=laney)
    out = rules.drop(columns="panel").iloc[0].to_dict()
    return (chart.drop(columns="panel") if len(chart) else chart), out
