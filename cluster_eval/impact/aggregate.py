"""Aggregating group-time ATTs into summary effects, as R ``did::aggte`` (Callaway & Sant'Anna 2021, sec. 3).

Weights are the probabilities of group membership ``P(G = g)`` (estimated from the unit weights), normalised
within each aggregate. Because those weights are estimated, the influence function of a weighted aggregate
gets an extra term (``did``'s ``wif``): for cells ``k`` kept with weights ``pg_k / sum(pg)``,

.. math:: \\psi^w_i = \\sum_k ATT_k \\Big[\\frac{w_i 1\\{G_i = g_k\\} - pg_k}{\\sum pg}
          - \\frac{pg_k}{(\\sum pg)^2} \\sum_l (w_i 1\\{G_i = g_l\\} - pg_l)\\Big].

- ``simple``: post-treatment cells weighted by group size;
- ``dynamic``: event-study ``theta(e)``, cells with ``t - g = e`` weighted by group size; overall = the mean
  of ``theta(e)`` over ``e >= 0``;
- ``group``: ``theta(g)`` = mean of group ``g``'s post cells; overall = group-size weighted mean;
- ``calendar``: ``theta(t)`` over groups treated by ``t``; overall = the mean over periods.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import SmallNumbersWarning
from ..validation import check_choice, check_confidence
from .inference import influence_se, multiplier_bootstrap, normal_critical_value
from .results import _Results

KINDS = ("simple", "dynamic", "group", "calendar")


class AggregateResults(_Results):
    """An aggregate of group-time ATTs: the overall effect and (except "simple") its components.

    Attributes
    ----------
    kind : {"simple", "dynamic", "group", "calendar"}
        The aggregation (did's ``aggte`` types; Callaway & Sant'Anna 2021, section 3).
    overall : dict
        The overall effect: ``value``, ``se``, ``lower``, ``upper`` (and the uniform band's critical value).
    table : DataFrame or None
        One row per component (event time, group or period): value, se, lower, upper; None for "simple".
    confidence : float
        Level of the intervals.
    inf : ndarray
        The overall effect's influence function (one value per unit).
    cell_weights : ndarray
        The overall effect's weight on each group-time cell (cells of ``res.table``): its influence function is
        ``res.inf @ cell_weights`` plus the estimated weights' term.
    component_cell_weights : ndarray or None
        The same per component (cells x rows of ``table``); None for "simple".
    """

    def __init__(self, kind, overall, table, confidence, inf, meta, cell_weights=None, component_cell_weights=None):
        self.kind = kind
        self.cell_weights = cell_weights
        self.component_cell_weights = component_cell_weights
        self.overall = overall
        self.table = table
        self.confidence = confidence
        self.inf = inf
        self.meta = meta
        self.title = f"Aggregated ATT ({kind})"

    @property
    def value(self) -> float:
        """The overall aggregate ATT."""
        return self.overall["value"]

    @property
    def se(self) -> float:
        """The overall aggregate's standard error (from its influence function)."""
        return self.overall["se"]

    def _header(self):
        o = self.overall
        return [("overall ATT", f"{o['value']:.4f}"), ("standard error", f"{o['se']:.4f}"),
                (f"{self.confidence:.0%} CI", f"[{o['lower']:.4f}, {o['upper']:.4f}]"),
                ("comparison group", self.meta.get("control_group"))]

    def to_frame(self) -> pd.DataFrame:
        """Component table (event times, groups or periods), or the one-row overall effect for ``simple``."""
        if self.table is None:
            return pd.DataFrame([{"kind": self.kind, **self.overall}])
        return self.table.copy()

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """The overall effect's normal interval at ``level``: one row of kind, lower, upper, confidence."""
        (level,) = check_confidence(level)
        z = normal_critical_value(level)
        o = self.overall
        return pd.DataFrame([{"kind": self.kind, "lower": o["value"] - z * o["se"], "upper": o["value"] + z * o["se"],
                              "confidence": level}])


def _wif(ind: np.ndarray, pg: np.ndarray) -> np.ndarray:
    """Influence function of the estimated weights ``pg / sum(pg)`` (n x k); ``ind`` is n x k of w_i 1{G_i=g_k}."""
    a = ind - pg
    s = pg.sum()
    return a / s - a.sum(axis=1, keepdims=True) * (pg / s ** 2)[None, :]


def _agg_if(att, inf, keep, weights, wif=None) -> np.ndarray:
    out = inf[:, keep] @ weights
    if wif is not None:
        out = out + wif @ att[keep]
    return out


def aggregate(res, kind: str = "simple", *, min_e: float = -np.inf, max_e: float = np.inf,
              balance_e: int | None = None, confidence: float | None = None) -> AggregateResults:
    """Aggregate an :class:`~cluster_eval.impact.did.ATTgtResults` (see module docstring).

    ``min_e``/``max_e`` bound the event times kept, ``balance_e`` keeps only groups observed that many periods
    after treatment, ``confidence`` is the interval level (default: that of ``res``).
    """
    check_choice(kind, "kind", KINDS)
    (confidence,) = check_confidence(res.confidence if confidence is None else confidence)
    tab = res.table
    ok = tab["value"].notna().to_numpy()
    if not ok.all():
        warnings.warn(f"{int((~ok).sum())} group-time cells without an estimate are left out of the aggregate",
                      SmallNumbersWarning, stacklevel=2)
    att_all = tab["value"].to_numpy(float)
    group = tab["group"].to_numpy(float)
    time = tab["time"].to_numpy(float)
    n = res.n
    glist = np.sort(np.unique(group))
    w_unit = res.unit_weights
    pg_group = np.array([np.mean(w_unit * (res.unit_group == g)) for g in glist])
    pg = pg_group[np.searchsorted(glist, group)]
    unit_ind = w_unit[:, None] * (res.unit_group[:, None] == group[None, :])
    att = np.where(ok, att_all, 0.0)
    inf = res.inf
    event = time - group
    if balance_e is not None:
        tmax = time.max()
        ok = ok & (tmax - group >= balance_e) & (event <= balance_e)
    ok = ok & (event >= min_e) & (event <= max_e)
    z = normal_critical_value(confidence)

    cws = []                                    # each call's weights on the cells

    def one(keep, weights, with_wif):
        keep = np.flatnonzero(keep)
        cw = np.zeros(len(att))
        cws.append(cw)
        if keep.size == 0:
            return np.nan, np.zeros(n)
        wts = np.asarray(weights, float)
        cw[keep] = wts
        f = _agg_if(att, inf, keep, wts, _wif(unit_ind[:, keep], pg[keep]) if with_wif else None)
        return float(np.sum(att[keep] * wts)), f

    detail = None
    if kind == "simple":
        keep = ok & (group <= time)
        value, f = one(keep, pg[keep] / pg[keep].sum(), True)
    elif kind == "dynamic":
        eseq = np.unique(event[ok])
        vals, fs = [], []
        for e in eseq:
            keep = ok & (event == e)
            v, f1 = one(keep, pg[keep] / pg[keep].sum(), True)
            vals.append(v)
            fs.append(f1)
        vals, fs = np.array(vals), np.column_stack(fs)
        pos = eseq >= 0
        value = float(np.mean(vals[pos])) if pos.any() else np.nan
        f = fs[:, pos] @ np.full(pos.sum(), 1 / max(pos.sum(), 1))
        detail = pd.DataFrame({"event_time": eseq, "value": vals}), fs
    elif kind == "group":
        gl = np.unique(group[ok & (group <= time)])
        vals, fs = [], []
        for g in gl:
            keep = ok & (group == g) & (g <= time)
            v, f1 = one(keep, np.full(keep.sum(), 1 / keep.sum()), False)
            vals.append(v)
            fs.append(f1)
        vals, fs = np.array(vals), np.column_stack(fs)
        pgg = pg_group[np.searchsorted(glist, gl)]
        value = float(np.sum(vals * pgg) / pgg.sum())
        # weights' influence function over groups (did's wif with keepers = all groups)
        wif = _wif(w_unit[:, None] * (res.unit_group[:, None] == gl[None, :]), pgg)
        f = fs @ (pgg / pgg.sum()) + wif @ vals
        detail = pd.DataFrame({"group": gl, "value": vals}), fs
    else:  # calendar
        tl = np.unique(time[ok & (time >= group.min())])
        tl = tl[[np.any(ok & (time == t1) & (group <= t1)) for t1 in tl]]
        vals, fs = [], []
        for t1 in tl:
            keep = ok & (time == t1) & (group <= t1)
            v, f1 = one(keep, pg[keep] / pg[keep].sum(), True)
            vals.append(v)
            fs.append(f1)
        vals, fs = np.array(vals), np.column_stack(fs)
        value = float(np.mean(vals))
        f = fs @ np.full(len(vals), 1 / len(vals))
        detail = pd.DataFrame({"time": tl, "value": vals}), fs

    se = float(influence_se(f[:, None], n, res.cluster)[0])
    overall = dict(value=value, se=se, lower=value - z * se, upper=value + z * se)
    if res.draws is not None:
        se_b, _ = multiplier_bootstrap(f[:, None], n, res.draws, confidence, res.cluster)
        overall["se_boot"] = float(se_b[0])
    comp_w = np.column_stack(cws) if kind != "simple" else None
    if kind == "simple":
        cell_w = cws[0]
    elif kind == "dynamic":
        cell_w = comp_w[:, pos] @ np.full(pos.sum(), 1 / max(pos.sum(), 1))
    elif kind == "group":
        cell_w = comp_w @ (pgg / pgg.sum())
    else:
        cell_w = comp_w.mean(axis=1)
    table = None
    if detail is not None:
        table, fs = detail
        table["se"] = influence_se(fs, n, res.cluster)
        table["lower"] = table["value"] - z * table["se"]
        table["upper"] = table["value"] + z * table["se"]
        if res.draws is not None:
            se_b, crit = multiplier_bootstrap(fs, n, res.draws, confidence, res.cluster)
            table["se_boot"] = se_b
            c = crit if res.cband else z
            table["band_lower"] = table["value"] - c * table["se_boot"]
            table["band_upper"] = table["value"] + c * table["se_boot"]
            table.attrs["critical_value"] = c
    return AggregateResults(kind=kind, overall=overall, table=table, confidence=confidence, inf=f,
                            meta=dict(res.meta), cell_weights=cell_w, component_cell_weights=comp_w)
