"""Descriptive tables of the analyse stage: observed and expected counts, standing, SPC relative to the nation.

Array-based helpers that the analyse stage (:mod:`cluster_eval.report.analyse`) and
``benchmarks/calibration.py`` share, so that the calibration measures exactly what the report shows. The
statistics are the packages' (:mod:`cluster_eval.stats.indirect`, :mod:`cluster_eval.stats.standing`,
:mod:`cluster_eval.spc.relative`); see ``docs/descriptive.md``.

Shapes: P practices, T months, C clusters, B strata (sex x age band).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..spc.relative import SIGNAL_RULES, relative_charts
from ..stats.funnel_limits import limit_arrays
from ..stats.indirect import expected_counts, expected_from_bands, reference_rates
from ..stats.standing import (
    SHOWN,
    VERDICT,
    measure_label,
    standing,
    verdict_words,
    window_counts,
    window_tau2,
)


def cluster_onehot(cluster_of_practice, cluster_ids) -> np.ndarray:
    """(C, P) membership matrix: 1 where practice p belongs to cluster c (practices in no cluster: all 0)."""
    ids = pd.Index(cluster_ids)
    cl = pd.Series(cluster_of_practice, dtype=object)
    ci = ids.get_indexer(cl.where(cl.notna(), None))
    out = np.zeros((len(ids), len(ci)))
    out[ci[ci >= 0], np.flatnonzero(ci >= 0)] = 1.0
    return out


def banded_matrices(banded: pd.DataFrame | None, indicator_id, pids, periods):
    """One indicator's banded counts as (P, T, B) arrays and the strata (sex, age_band); None if not banded.

    Strata in (sex, age band) order; rows of practices or months not in ``pids`` / ``periods`` are left out.
    Keys are factorised once (the banded table of a nation has tens of millions of rows).
    """
    if banded is None or not len(banded):
        return None
    rows = np.flatnonzero((banded["indicator_id"] == indicator_id).to_numpy(dtype=bool, na_value=False))
    if not rows.size:
        return None
    contiguous = rows[-1] - rows[0] + 1 == rows.size      # the usual layout: no copy of the rows
    b = banded.iloc[rows[0]:rows[-1] + 1] if contiguous else banded.iloc[rows]
    pc, pu = pd.factorize(b["practice_id"])
    r = pd.Index(pids).get_indexer(pu)[pc]
    tc, tu = pd.factorize(b["period"])
    months = pd.DatetimeIndex(pd.to_datetime(tu)).to_period("M").to_timestamp()
    c = pd.DatetimeIndex(periods).get_indexer(months)[tc]
    sc, su = pd.factorize(b["sex"])
    ac, au = pd.factorize(b["age_band"])
    code = sc.astype(np.int64) * len(au) + ac
    used = np.flatnonzero(np.bincount(code, minlength=len(su) * len(au)))
    strata = pd.DataFrame({"sex": np.asarray(su, dtype=object)[used // len(au)],
                           "age_band": np.asarray(au, dtype=object)[used % len(au)], "_code": used})
    strata = strata.assign(_s=strata["sex"].astype(str), _a=strata["age_band"].astype(str)).sort_values(
        ["_s", "_a"]).reset_index(drop=True)
    lut = np.full(len(su) * len(au), -1)
    lut[strata["_code"].to_numpy()] = np.arange(len(strata))
    k = lut[code]
    strata = strata[["sex", "age_band"]]
    ok = (r >= 0) & (c >= 0)
    shape = (len(pids), len(periods), len(strata))
    flat = np.ravel_multi_index((r[ok], c[ok], k[ok]), shape)
    size = int(np.prod(shape))
    num = np.bincount(flat, weights=np.nan_to_num(b["numerator"].to_numpy(float)[ok]), minlength=size)
    den = np.bincount(flat, weights=np.nan_to_num(b["denominator"].to_numpy(float)[ok]), minlength=size)
    return num.reshape(shape), den.reshape(shape), strata


def practice_expected(banded) -> np.ndarray | None:
    """(P, T) expected counts of every practice-month from the nation's sex/age-band rates of the same month
    (``ce.stats.indirect.expected_from_bands``; the reference is every practice of the arrays); None if not
    banded. A cluster's or region's expected count is the sum of its practices'."""
    if banded is None:
        return None
    return expected_from_bands(banded[0], banded[1], reference_axis=0)


def counted(num, den):
    """Practice-month counts as the cluster and national sums use them: NaN as 0, and a numerator whose
    denominator is not positive (a closing practice, STAR-PU 0) left out, since it would inflate the rate."""
    d = np.nan_to_num(den)
    return np.where(d > 0, np.nan_to_num(num), 0.0), d


def observed_expected(num, den, onehot, banded=None, window: slice | None = None):
    """Clusters' observed counts and the counts expected from the nation, per month of ``window``.

    Parameters
    ----------
    num, den : (P, T) arrays
        Practice-month numerators and denominators (NaN where missing). A practice-month without a positive
        denominator counts in neither the observed nor the expected counts (crude O/E).
    onehot : (C, P) array
        Cluster membership (:func:`cluster_onehot`).
    banded : tuple, optional
        :func:`banded_matrices` output: expected counts from the national sex/age-band rates.
    window : slice, optional
        Months to use. None: every month, each with its own national rates (for SPC). A slice: the national
        rates pooled over the window's months (for standing over a window).

    Returns
    -------
    (observed, expected, standardised) : ((C, T'), (C, T'), bool)
    """
    sl = slice(None) if window is None else window
    if banded is not None:
        bnum, bden, strata = banded
        bnum, bden = bnum[:, sl], bden[:, sl]
        C, T, B = onehot.shape[0], bnum.shape[1], bnum.shape[2]
        cn = np.einsum("cp,ptk->ctk", onehot, bnum)
        cd = np.einsum("cp,ptk->ctk", onehot, bden)
        sex, band = strata["sex"].to_numpy(object), strata["age_band"].to_numpy(object)
        nat = pd.DataFrame({"period": np.repeat(np.arange(T), B), "sex": np.tile(sex, T), "age_band": np.tile(band, T),
                            "numerator": bnum.sum(axis=0).reshape(-1), "denominator": bden.sum(axis=0).reshape(-1)})
        over = ("period",) if window is None else ()
        ref = reference_rates(nat, over=over)
        rows = pd.DataFrame({"unit": np.repeat(np.arange(C), T * B), "period": np.tile(np.repeat(np.arange(T), B), C),
                             "sex": np.tile(sex, C * T), "age_band": np.tile(band, C * T),
                             "numerator": cn.reshape(-1), "denominator": cd.reshape(-1)})
        e = expected_counts(rows, by=("unit", "period"), over=over, reference=ref)
        return e["observed"].to_numpy().reshape(C, T), e["expected"].to_numpy().reshape(C, T), True
    n, d = counted(num[:, sl], den[:, sl])
    o, cd = onehot @ n, onehot @ d
    nat_n, nat_d = n.sum(axis=0), d.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(nat_d > 0, nat_n / nat_d, np.nan) if window is None else \
            np.full(nat_d.shape, nat_n.sum() / nat_d.sum() if nat_d.sum() > 0 else np.nan)
    return o, cd * rate[None, :], False


def standing_frame(num, den, onehot, cluster_ids, *, kind: str, better: str, counts: str, banded=None,
                   window: slice) -> pd.DataFrame:
    """Each cluster's standing over ``window`` (module ``ce.stats.standing``): one row per cluster.

    Standardised O/E when ``banded`` is given, else the crude proportion or rate against the nation's value
    over the same window; persons counted once (``counts="persons"``: monthly means).
    """
    if banded is not None:
        o, e, _ = observed_expected(num, den, onehot, banded, window)
        n_w, d_w, months = window_counts(o, e, counts=counts)
        statistic, target, standardised = "ratio", None, True
    else:
        n, d = counted(num[:, window], den[:, window])
        cn, cd = onehot @ n, onehot @ d
        n_w, d_w, months = window_counts(cn, cd, counts=counts)
        nat_d = d.sum()
        statistic, standardised = kind, False
        target = n.sum() / nat_d if nat_d > 0 else None
    ok = d_w > 0
    out = pd.DataFrame({"cluster_id": np.asarray(cluster_ids, dtype=object), "numerator": n_w, "denominator": d_w,
                        "months": months})
    if ok.sum() < 3 or (target is not None and not np.isfinite(target)):
        out["standing"] = "too few to say"
        out["measure"] = measure_label(statistic, standardised)
        return out
    res = standing(n_w[ok], d_w[ok], out["cluster_id"].to_numpy()[ok], statistic=statistic, better=better,
                   target=target, standardised=standardised)
    t = res.table.drop(columns=["numerator", "denominator"]).rename(columns={"unit": "cluster_id"})
    out = out.merge(t, on="cluster_id", how="left")
    out["standing"] = out["standing"].fillna("too few to say")
    out["measure"] = measure_label(statistic, standardised)
    out["statistic"] = statistic
    out["counts"] = counts
    return out


# --- practice funnels ------------------------------------------------------------------------------------

LEVELS = (SHOWN, VERDICT)


def window_values(num, den, window: slice, *, counts: str, expected=None):
    """Every practice's window counts: (numerator, denominator, expected or None); persons counted once
    (``ce.stats.standing.window_counts``; the expected counts over the same months as the denominator)."""
    n, d, _ = window_counts(num[:, window], den[:, window], counts=counts)
    e = None
    if expected is not None:
        e, _, _ = window_counts(expected[:, window], den[:, window], counts=counts)
    return n, d, e


def practice_window_tau2(num, den, window: slice, *, kind: str, counts: str, expected=None) -> float:
    """τ² between all practices of the nation over the months of ``window`` (``ce.stats.standing.window_tau2``):
    of the standardised ratio O/E when ``expected`` is given, else of the crude proportion or rate."""
    if expected is not None:
        return window_tau2(num[:, window], expected[:, window], statistic="ratio", counts=counts)
    return window_tau2(num[:, window], den[:, window], statistic="proportion" if kind == "proportion" else "rate",
                       counts=counts)


def funnel_limits_at(target, size, *, kind: str, standardised: bool, tau2, confidence: float):
    """Funnel limits around ``target`` (the nation's value, unmultiplied) at ``size``: the denominator (crude)
    or the expected count E (standardised: limits of O/E at E, times the target, i.e. of the indirectly
    standardised value). Additive random effects where τ² > 0, else PHE's unadjusted limits
    (``ce.stats.funnel_limits.limit_arrays``). All arguments broadcast; ``kind`` and ``standardised`` are
    one value per call."""
    target, size, tau2 = np.broadcast_arrays(np.asarray(target, float), np.asarray(size, float),
                                             np.asarray(tau2, float))
    lo, hi = np.full(size.shape, np.nan), np.full(size.shape, np.nan)
    statistic = "rate" if standardised or kind != "proportion" else "proportion"
    with np.errstate(invalid="ignore", divide="ignore"):
        den = size / target if standardised else size   # E = target x den for the rate limits
    for adjusted in (False, True):
        m = (tau2 > 0) == adjusted
        if m.any():
            lo[m], hi[m] = limit_arrays(target[m], den[m], statistic, confidence,
                                        overdispersion="additive" if adjusted else None, tau2=tau2[m])
    return lo, hi


def position_words(value, limits: dict) -> np.ndarray:
    """'within 95% limits', 'above 95% limit', 'below 99.8% limit' ...: the highest level whose limits the
    value is outside (``limits``: level -> (lower, upper))."""
    value = np.asarray(value, float)
    pos = np.full(value.shape, "within 95% limits", dtype=object)
    for conf in sorted(limits):
        lo, hi = limits[conf]
        tag = "99.8%" if conf == VERDICT else f"{100 * conf:g}%"
        with np.errstate(invalid="ignore"):
            pos = np.where(value > hi, f"above {tag} limit", np.where(value < lo, f"below {tag} limit", pos))
    return pos


def practice_funnel(num, den, members, window: slice, *, kind: str, better: str, counts: str, multiplier: float,
                    expected=None, tau2: float | None = None) -> pd.DataFrame:
    """A cluster's practices over one window against the nation's funnel of the same window.

    Parameters
    ----------
    num, den : (P, T) arrays
        Every practice of the nation (the nation's value and τ² come from all of them).
    members : (P,) bool array
        The practices to return (a cluster's).
    window : slice
        The months: values, the nation's value and τ² all from these months only.
    kind, better, counts : str
        The indicator's kind ("proportion" / "rate"), direction, and whether its numerator counts persons.
    multiplier : float
        Reported unit (100 for %).
    expected : (P, T) array, optional
        Expected counts from the nation's sex/age-band rates (:func:`practice_expected`): the values are then
        indirectly standardised, value = O/E x the nation's value, and the limits those of O/E at E.
    tau2 : float, optional
        τ² of the window if already computed (:func:`practice_window_tau2`).

    Returns
    -------
    DataFrame
        One row per member practice with a denominator (``row``: its index in ``num``): ``numerator,
        denominator, expected, size`` (the funnel's x: denominator, or E when standardised), ``value,
        target, tau2, lower_95, upper_95, lower_99_8, upper_99_8, position, standing`` (outside 99.8 %:
        "better/worse than expected" with the direction; "" inside), ``standing_95``, ``standardised``.
    """
    standardised = expected is not None
    n, d, e = window_values(num, den, window, counts=counts, expected=expected)
    tot = np.nansum(den[:, window])
    target = np.nansum(num[:, window]) / tot if tot > 0 else np.nan
    if tau2 is None:
        tau2 = practice_window_tau2(num, den, window, kind=kind, counts=counts, expected=expected)
    keep = np.asarray(members, bool) & (d > 0)
    if standardised:
        keep &= e > 0
    rows = np.flatnonzero(keep)
    n, d = n[rows], d[rows]
    e = e[rows] if standardised else np.full(rows.size, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = n / e * target if standardised else n / d
    size = e if standardised else d
    out = pd.DataFrame({"row": rows, "numerator": n, "denominator": d, "expected": e, "size": size,
                        "value": value * multiplier, "target": target * multiplier, "tau2": float(tau2)})
    limits = {}
    for conf in LEVELS:
        lo, hi = funnel_limits_at(target, size, kind=kind, standardised=standardised, tau2=tau2, confidence=conf)
        limits[conf] = (lo * multiplier, hi * multiplier)
        sfx = "99_8" if conf == VERDICT else f"{100 * conf:g}"
        out[f"lower_{sfx}"], out[f"upper_{sfx}"] = limits[conf]
    out["position"] = position_words(out["value"].to_numpy(float), limits)
    for col, conf in (("standing", VERDICT), ("standing_95", SHOWN)):
        lo, hi = limits[conf]
        v = out["value"].to_numpy(float)
        side = np.where(v > hi, "above", np.where(v < lo, "below", "inside"))
        out[col] = np.where(side == "inside", "", verdict_words(side, better))
    out["standardised"] = standardised
    out["measure"] = measure_label("ratio" if standardised else kind, standardised, rate=True)
    return out


def funnel_curves(target, top, *, kind: str, standardised: bool, tau2: float, multiplier: float,
                  points: int = 40) -> pd.DataFrame:
    """Limit curves to draw (95 %, 99.8 %) on a grid of ``points`` sizes up to ``top`` (the funnel's x:
    denominator, or expected count when standardised); ``target`` in the reported unit. ``top`` may be an
    array (one funnel each, same target and τ²): the curves one after the other, ``points`` rows each, the
    same values as one call per ``top`` (limits are computed element by element)."""
    top = np.asarray(top, dtype=float)
    size = np.multiply.outer(top, np.linspace(1 / points, 1, points)).reshape(-1)
    out = pd.DataFrame({"size": size})
    for conf, tag in ((SHOWN, "95"), (VERDICT, "998")):
        lo, hi = funnel_limits_at(target / multiplier, size, kind=kind, standardised=standardised, tau2=tau2,
                                  confidence=conf)
        out[f"lower{tag}"], out[f"upper{tag}"] = lo * multiplier, hi * multiplier
    return out


def spc_frame(num, den, onehot, cluster_ids, periods, starts: dict, *, banded=None, before: int = 24,
              after: int = 24):
    """Relative SPC of every cluster with a start (``starts``: cluster_id -> first exposed month) on one
    indicator: ``ce.spc.relative.relative_charts`` on the O/E series. Returns (chart, rules).

    The autocorrelation structure behind the shift rule's standard error (φ, λ) is pooled over the baselines
    of *every* cluster: the clusters without a start are charted at the median start of the others (nothing
    can have changed there) and then dropped. Pooled over a few clusters' baselines alone, φ is so noisy that
    the "signal" fired in 7% of charts without any change on real data (7 Manchester PCNs per call;
    benchmarks/README.md, "Real data: SPC signals at placebo starts"); the 1.5% of ``FALSE_SIGNAL_RATE`` was
    measured with φ pooled over all the clusters of an indicator, as here.
    """
    o, e, standardised = observed_expected(num, den, onehot, banded)
    taken = [cid for cid in cluster_ids if starts.get(cid) is not None]
    if not taken:
        return pd.DataFrame(), pd.DataFrame()
    pseudo = sorted(pd.Timestamp(starts[c]) for c in taken)[len(taken) // 2]
    frames = [pd.DataFrame({"cluster_id": cid, "period": periods,
                            "start": starts[cid] if starts.get(cid) is not None else pseudo,
                            "observed": o[ci], "expected": e[ci]})
              for ci, cid in enumerate(cluster_ids)]
    chart, rules = relative_charts(pd.concat(frames, ignore_index=True), "cluster_id", before=before, after=after)
    if len(taken) < len(cluster_ids):      # the clusters without a start only lent their baselines to φ, λ
        chart = chart[chart["cluster_id"].isin(taken)].reset_index(drop=True) if len(chart) else chart
        rules = rules[rules["cluster_id"].isin(taken)].reset_index(drop=True)
    rules["measure"] = "standardised O/E" if standardised else "crude O/E"
    rules["signal"] = rules[list(SIGNAL_RULES)].any(axis=1)
    return chart, rules


# --- the analyse stage's tables (an Analysis object supplies the prepared data) ----------------------------

def counts_by_indicator(indicator_ids) -> dict:
    """indicator id -> "events" or "persons" from the catalogue (indicators not in it: persons)."""
    from ..stats.standing import counts_kind

    try:
        from ..indicators import load_catalogue

        cat = load_catalogue()
    except Exception:  # noqa: BLE001 - the catalogue is optional here
        cat = {}
    return {i: counts_kind(cat.get(i)) for i in indicator_ids}


def _banded_table(analysis):
    return getattr(analysis.ds, "measures_banded", None)


def _cluster_ids(analysis) -> list:
    return sorted(analysis.ds.clusters["cluster_id"].astype(str))


def standing_table(analysis, window_months: int = 12) -> pd.DataFrame:
    """Every cluster's last ``window_months`` months on every indicator against the nation (``docs/descriptive.md``).

    Standardised where the data have the banded measures (the value is then the indirectly standardised
    rate: O/E × the nation's crude value over the window, in the indicator's unit), crude otherwise; limits
    from a cluster-level random-effects funnel with τ² from the same window; verdict at 99.8 %, 95 % limits
    in ``lower``/``upper``.
    """
    periods = analysis.periods
    if not len(periods):
        return pd.DataFrame()
    win = slice(max(0, len(periods) - window_months), len(periods))
    cids = _cluster_ids(analysis)
    onehot = cluster_onehot(analysis.practices["cluster_id"].reindex(analysis.pids).to_numpy(object), cids)
    ind = analysis.ind.set_index("indicator_id")
    counts = counts_by_indicator(ind.index)
    banded_all = _banded_table(analysis)
    parts = []
    for iid in ind.index:
        num, den, _ = analysis.matrices(iid)
        mult = float(ind.loc[iid, "multiplier"])
        b = banded_matrices(banded_all, iid, analysis.pids, periods)
        t = standing_frame(num, den, onehot, cids, kind=ind.loc[iid, "kind"], better=ind.loc[iid, "better"],
                           counts=counts[iid], banded=b, window=win)
        nat_d = np.nansum(den[:, win])
        national = np.nansum(num[:, win]) / nat_d if nat_d > 0 else np.nan
        scale = national * mult if b is not None else mult   # ratio -> standardised rate; proportion -> unit
        for col in ("value", "lower_95", "upper_95", "lower_99_8", "upper_99_8"):
            if col not in t:
                t[col] = np.nan
            t[col] = t[col] * scale
        t["national"] = national * mult
        if b is not None:   # shown as the indirectly standardised value, not as the ratio
            t["measure"] = measure_label("ratio", True, rate=True)
        t["indicator_id"] = iid
        t["standardised"] = b is not None
        parts.append(t)
    out = pd.concat(parts, ignore_index=True)
    out = out.rename(columns={"lower_95": "lower", "upper_95": "upper"})
    out["percentile"] = out.groupby("indicator_id")["value"].rank(pct=True) * 100
    out["window_start"], out["window_end"] = periods[win.start], periods[win.stop - 1]
    cols = ["cluster_id", "indicator_id", "numerator", "denominator", "value", "lower", "upper", "lower_99_8",
            "upper_99_8", "national", "standing", "percentile", "window_start", "window_end", "measure",
            "standardised", "counts", "months", "tau2"]
    for c in cols:
        if c not in out:
            out[c] = np.nan
    return out[cols]


def spc_tables(analysis, before: int = 24, after: int = 24) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Relative SPC (O/E against the nation) of every cluster and indicator of a topic it took up.

    Returns ``(rules, chart)``: one row per cluster and indicator (``ce.spc.relative`` rules, ``signal``,
    ``measure``), and the chart data (cluster x indicator x month: ``y`` = O/E, ``cl``, ``lcl``, ``ucl``,
    ``lcl_95``, ``ucl_95``, ``phase``).
    """
    cids = _cluster_ids(analysis)
    onehot = cluster_onehot(analysis.practices["cluster_id"].reindex(analysis.pids).to_numpy(object), cids)
    ind = analysis.ind.set_index("indicator_id")
    act = analysis.activities
    banded_all = _banded_table(analysis)
    rules_parts, chart_parts = [], []
    for iid in ind.index:
        topic = ind.loc[iid, "topic"]
        a = act[act["topic"] == topic]
        starts = dict(zip(a["cluster_id"].astype(str), a["exposed_from"]))
        if not starts:
            continue
        num, den, _ = analysis.matrices(iid)
        b = banded_matrices(banded_all, iid, analysis.pids, analysis.periods)
        chart, rules = spc_frame(num, den, onehot, cids, analysis.periods, starts, banded=b, before=before,
                                 after=after)
        if len(rules):
            rules_parts.append(rules.assign(indicator_id=iid))
        if len(chart):
            chart_parts.append(chart.assign(indicator_id=iid))
    rules = pd.concat(rules_parts, ignore_index=True) if rules_parts else pd.DataFrame()
    if len(rules):   # the months the rules read (for disclosure control of the centre)
        starts_all = {(c, t): s for c, t, s in zip(act["cluster_id"].astype(str), act["topic"], act["exposed_from"])}
        st = [starts_all[(c, ind.loc[i, "topic"])] for c, i in zip(rules["cluster_id"], rules["indicator_id"])]
        st = pd.to_datetime(pd.Series(st)).dt.to_period("M")
        rules["window_start"] = (st - before).dt.to_timestamp().to_numpy()
        rules["window_end"] = (st + (after - 1)).dt.to_timestamp().to_numpy()
    chart = pd.concat(chart_parts, ignore_index=True) if chart_parts else pd.DataFrame()
    if len(chart):
        chart = chart[["cluster_id", "indicator_id", "period", "event_time", "phase", "y", "cl", "lcl", "ucl",
                       "lcl_95", "ucl_95", "chart"]]
    return rules, chart


def practice_tau2(analysis, indicator_id: str, window: slice) -> float:
    """τ² between all practices of the nation over the months of ``window`` (the funnel's plotted months): of
    the standardised ratio O/E where the indicator is banded, else of the crude value
    (:func:`practice_window_tau2`)."""
    num, den, _ = analysis.matrices(indicator_id)
    kind = analysis.ind.set_index("indicator_id").loc[indicator_id, "kind"]
    counts = counts_by_indicator([indicator_id])[indicator_id]
    return practice_window_tau2(num, den, window, kind=kind, counts=counts, expected=analysis.expected(indicator_id))


def hide_chart_months(chart: pd.DataFrame, hidden: pd.DataFrame | None) -> pd.DataFrame:
    """The SPC chart data without the cluster-months hidden in the published trends (``y`` missing there), and
    without the centre and limits of a chart whose baseline or post months include a hidden month."""
    if chart is None or not len(chart) or hidden is None or not len(hidden):
        return chart
    key = ["cluster_id", "indicator_id", "period"]
    h = hidden[key].assign(_hidden=True)
    out = chart.merge(h, on=key, how="left")
    hid = out["_hidden"].fillna(False).astype(bool).to_numpy()
    out.loc[hid, "y"] = np.nan
    bad = out.groupby(["cluster_id", "indicator_id"])["_hidden"].transform(lambda s: s.fillna(False).any())
    for c in ("cl", "lcl", "ucl", "lcl_95", "ucl_95"):
        out.loc[bad.astype(bool).to_numpy(), c] = np.nan
    return out.drop(columns="_hidden")
