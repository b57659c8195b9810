"""Callaway & Sant'Anna (2021) group-time average treatment effects for staggered adoption.

:func:`att_gt` follows R ``did::att_gt`` (panel data): the same group and period bookkeeping (varying or
universal base period, never-treated or not-yet-treated comparison units, anticipation), the same two-period
estimators (``DRDID``'s outcome regression, standardised IPW and doubly robust), the same influence functions
(scaled by ``n / n1`` for the units used in a cell) and the same Mammen multiplier bootstrap for uniform bands.
Standard errors are analytic, ``sqrt(mean(IF**2) / n)``, i.e. what ``did`` reports with ``bstrap = FALSE``;
bootstrap standard errors are reported beside them when ``bstrap=True``.

Differences from ``did`` worth knowing: with ``clustervars`` the analytic SEs are clustered
(``sqrt(sum_c S_c^2) / n``, S_c the cluster sums of the influence function) and the bootstrap draws one
multiplier per cluster on the cluster sums (``did`` uses cluster means, identical for equal cluster sizes);
``balanced_panel=False`` keeps units with gaps (each cell uses the units observed in both of its periods)
where ``did`` would switch to its repeated cross-section estimator; units first treated after the last
period (plus anticipation) count as never treated; only panel data are supported.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from ..errors import ArgumentError, EstimationWarning, SmallNumbersWarning
from ..validation import check_choice, check_confidence
from .aggregate import aggregate
from .drdid import ESTIMATORS
from .inference import influence_se, mammen_weights, multiplier_bootstrap, n_clusters, normal_critical_value
from .results import _Results


class ATTgtResults(_Results):
    """Group-time ATTs with their influence functions (from :func:`att_gt`).

    Attributes
    ----------
    table : DataFrame
        group, time, base_time, event_time, post, value (the ATT), se (analytic), lower, upper (pointwise, at
        ``confidence``), and with the bootstrap se_boot, band_lower, band_upper (uniform band, critical value
        in ``critical_value``).
    inf : ndarray
        n x cells influence-function matrix (did's scaling: ``se = sqrt(sum IF^2) / n``).
    """

    title = "Group-time average treatment effects (Callaway & Sant'Anna 2021)"

    def __init__(self, table, inf, *, n, unit_group, unit_weights, cluster, confidence, bstrap, biters, cband,
                 seed, meta):
        z = normal_critical_value(confidence)
        table = table.copy()
        table["se"] = influence_se(inf, n, cluster)
        table.loc[table["value"].isna(), "se"] = np.nan
        table["lower"] = table["value"] - z * table["se"]
        table["upper"] = table["value"] + z * table["se"]
        self.draws, self.critical_value = None, None
        if bstrap:
            rng = np.random.default_rng(seed)
            self.draws = mammen_weights((int(biters), n_clusters(n, cluster)), rng)
            se_b, crit = multiplier_bootstrap(inf, n, self.draws, confidence, cluster)
            self.critical_value = crit if cband else z
            table["se_boot"] = se_b
            table["band_lower"] = table["value"] - self.critical_value * table["se_boot"]
            table["band_upper"] = table["value"] + self.critical_value * table["se_boot"]
        self.table = table
        self.inf = inf
        self.n = n
        self.unit_group = unit_group
        self.unit_weights = unit_weights
        self.cluster = cluster
        self.confidence = confidence
        self.cband = cband
        self.meta = meta

    def _header(self):
        m = self.meta
        out = [("outcome", m.get("yname")), ("units", self.n), ("comparison group", m.get("control_group")),
               ("estimation", m.get("est_method")), ("base period", m.get("base_period")),
               ("anticipation", m.get("anticipation")), ("standard errors",
               "analytic (influence function)" + (f", clustered by {m['clustervars']}" if m.get("clustervars")
                                                  else ", by unit"))]
        if self.critical_value is not None:
            out.append(("uniform band critical value", f"{self.critical_value:.3f}"))
        return out

    def to_frame(self) -> pd.DataFrame:
        """The group-time table (one row per cell)."""
        return self.table.copy()

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Pointwise analytic confidence intervals at ``level``."""
        (level,) = check_confidence(level)
        z = normal_critical_value(level)
        t = self.table
        return pd.DataFrame({"group": t["group"], "time": t["time"], "lower": t["value"] - z * t["se"],
                             "upper": t["value"] + z * t["se"], "confidence": level})

    def vcov(self) -> np.ndarray:
        """Covariance matrix of the cells from the influence functions (unit level)."""
        return self.inf.T @ self.inf / self.n ** 2

    def aggregate(self, kind: str = "simple", **kwargs):
        """``"simple" | "dynamic" | "group" | "calendar"``: see :func:`cluster_eval.impact.aggregate.aggregate`."""
        return aggregate(self, kind, **kwargs)


def _parse_covariates(covariates, xformla) -> list[str]:
    if covariates is not None and xformla is not None:
        raise ArgumentError("give covariates or xformla, not both; got both")
    if xformla is not None:
        text = str(xformla).strip()
        if not text.startswith("~"):
            raise ArgumentError(f"xformla must be a one-sided formula such as '~ x1 + x2'; got {xformla!r}")
        terms = [t.strip() for t in text[1:].split("+") if t.strip()]
        terms = [t for t in terms if t != "1"]
        for t in terms:
            if not re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*", t):
                raise ArgumentError(f"xformla may only add column names (no transformations); got term {t!r}")
        return terms
    if covariates is None:
        return []
    if isinstance(covariates, str):
        return [covariates]
    return list(covariates)


class Panel:
    """A balanced unit x period panel in wide form, checked once at the boundary."""

    def __init__(self, data, yname, tname, idname, gname, covariates, weights_name, clustervars,
                 anticipation, control_group, balanced=True):
        needed = [yname, tname, idname, gname, *covariates]
        if weights_name:
            needed.append(weights_name)
        if clustervars:
            needed.append(clustervars)
        missing = [c for c in needed if c not in data.columns]
        if missing:
            raise ArgumentError(f"data has no column(s) {missing}; columns are {list(data.columns)}")
        df = data[list(dict.fromkeys(needed))].copy()
        if df.duplicated([idname, tname]).any():
            raise ArgumentError(f"each ({idname}, {tname}) pair must appear once; found duplicates")
        df[gname] = pd.to_numeric(df[gname], errors="coerce").fillna(0).astype(float)
        if (df.groupby(idname)[gname].nunique() > 1).any():
            raise ArgumentError(f"{gname} must be constant within each {idname}")
        tlist = np.sort(pd.unique(df[tname].astype(float)))
        self.dropped = {}
        # groups first treated after the last period are never treated within the data
        df.loc[df[gname] > tlist[-1] + anticipation, gname] = 0.0
        early = (df[gname] > 0) & (df[gname] <= tlist[0] + anticipation)
        if early.any():
            n_early = df.loc[early, idname].nunique()
            warnings.warn(f"dropped {n_early} units already treated in the first period", SmallNumbersWarning,
                          stacklevel=3)
            self.dropped["treated_in_first_period"] = n_early
            df = df[~early]
        if not (df[gname] == 0).any():
            if control_group == "nevertreated":
                raise ArgumentError("control_group='nevertreated' needs never-treated units (gname 0); none found")
            gmax = df[gname].max()
            df = df[df[tname] < gmax - anticipation].copy()
            df.loc[df[gname] == gmax, gname] = 0.0
            tlist = np.sort(pd.unique(df[tname].astype(float)))
        wide = df.pivot(index=idname, columns=tname, values=yname).reindex(columns=tlist)
        keep = wide.notna().all(axis=1) if balanced else wide.notna().any(axis=1)
        for cov in covariates:
            covw = df.pivot(index=idname, columns=tname, values=cov).reindex(index=wide.index, columns=tlist)
            keep &= covw.notna().all(axis=1) if balanced else True
        if (~keep).any():
            self.dropped["incomplete"] = int((~keep).sum())
            warnings.warn(f"dropped {int((~keep).sum())} units with missing outcome or covariates "
                          "(balanced panel)", SmallNumbersWarning, stacklevel=3)
        self.ids = wide.index[keep]
        self.y = wide.loc[keep].to_numpy(float)
        self.tlist = tlist
        first = df.sort_values(tname).groupby(idname).first().reindex(self.ids)
        self.g = first[gname].to_numpy(float)
        self.w = first[weights_name].to_numpy(float) if weights_name else np.ones(len(self.ids))
        if np.any(~np.isfinite(self.w)) or np.any(self.w < 0):
            raise ArgumentError(f"weights in {weights_name!r} must be non-negative numbers")
        self.cluster = first[clustervars].to_numpy() if clustervars else None
        # covariates per unit and period (the earlier period of each pair is used, as did's panel2cs2)
        self.x = np.ones((len(self.ids), len(tlist), 1 + len(covariates)))
        for j, cov in enumerate(covariates):
            covw = df.pivot(index=idname, columns=tname, values=cov).reindex(index=self.ids, columns=tlist)
            self.x[:, :, j + 1] = covw.to_numpy(float)
        self.n = len(self.ids)
        glist = np.sort(np.unique(self.g[self.g > 0]))
        self.glist = glist[glist > tlist[0] + anticipation]


def _cells(panel: Panel, base_period: str, anticipation: float):
    """(group, current-period index, base-period index) of every cell, in did's order."""
    tlist = panel.tlist
    tfac = 0 if base_period == "universal" else 1
    out = []
    for g in panel.glist:
        pre_idx = np.flatnonzero(tlist + anticipation < g)
        if pre_idx.size == 0:
            warnings.warn(f"no pre-treatment period for group {g:g}; its units are not used as treated",
                          SmallNumbersWarning, stacklevel=3)
            continue
        last_pre = pre_idx[-1]
        for t in range(len(tlist) - tfac):
            cur = t + tfac
            base = last_pre if (base_period == "universal" or g <= tlist[cur]) else t
            out.append((g, cur, base, max(t, base) + tfac if base_period != "universal" else max(cur, base)))
    return out


def att_gt(data: pd.DataFrame, yname: str, tname: str, idname: str, gname: str, *, covariates=None,
           xformla=None, control_group: str = "nevertreated", est_method: str = "dr",
           anticipation: int = 0, base_period: str = "varying", clustervars: str | None = None,
           bstrap: bool = False, biters: int = 999, cband: bool = True, confidence: float = 0.95,
           weights_name: str | None = None, panel: bool = True, balanced_panel: bool = True,
           seed: int | None = None) -> ATTgtResults:
    r"""Group-time average treatment effects ATT(g, t) of Callaway & Sant'Anna (2021).

    For a group ``g`` (units first treated in period ``g``) and a period ``t``,

    .. math:: ATT(g,t) = E[Y_t - Y_{b} \mid G = g] - E[Y_t - Y_{b} \mid C],

    where the base period ``b`` is ``g - 1 - anticipation`` for ``t >= g - anticipation`` and, with the
    default varying base period, ``t - 1`` before; ``C`` is the never-treated units or the not-yet-treated
    units (never treated, or first treated after ``max(t, b) + anticipation``, other than group ``g``).
    With covariates the comparison is adjusted by outcome regression (``"reg"``), standardised inverse
    probability weighting (``"ipw"``) or both (``"dr"``, doubly robust).

    Parameters
    ----------
    data : DataFrame
        Long panel: one row per unit and period.
    yname, tname, idname, gname : str
        Outcome, period (numeric), unit id and first-treated period (0 or NaN = never treated) columns.
    covariates : list of str, optional
        Pre-treatment covariates (the value in the earlier period of each pair is used). Or ``xformla``,
        an R-style ``"~ x1 + x2"`` (column names only).
    control_group : {"nevertreated", "notyettreated"}
    est_method : {"dr", "ipw", "reg"}
    anticipation : int
        Periods of anticipation (treatment effects may start this many periods before ``g``).
    base_period : {"varying", "universal"}
    clustervars : str, optional
        A unit-level column to cluster standard errors on (analytic: ``sqrt(sum_c (sum_i IF_i)^2) / n``;
        the bootstrap draws one multiplier per cluster). Default: by unit.
    bstrap, biters, cband : bool, int, bool
        Multiplier bootstrap (Mammen weights) with ``biters`` draws; with ``cband`` its ``confidence``
        quantile of the maximal t-statistic gives simultaneous (uniform) bands.
    confidence : float
        Level of the intervals and bands.
    weights_name : str, optional
        Unit sampling weights (constant over time; the first period's value is used).
    panel : bool
        Only panel data are supported (repeated cross-sections raise ``ArgumentError``).
    balanced_panel : bool
        True (did's rule): drop units with any missing outcome. False: a unit contributes to every cell
        whose two periods it has (its influence function is zero elsewhere).
    seed : int, optional
        Seed of the bootstrap draws.

    Returns
    -------
    ATTgtResults
        ``.table`` (group, time, base_time, event_time, post, value (the ATT), se, lower, upper, ...),
        ``.aggregate(kind)``, ``.summary()``, ``.conf_int(level)``.

    References
    ----------
    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time periods.
    Journal of Econometrics 225(2), 200-230. R package ``did`` (Callaway & Sant'Anna).
    """
    check_choice(control_group, "control_group", ("nevertreated", "notyettreated"))
    check_choice(est_method, "est_method", tuple(ESTIMATORS))
    check_choice(base_period, "base_period", ("varying", "universal"))
    (confidence,) = check_confidence(confidence)
    if not panel:
        raise ArgumentError("only panel data are supported (panel=True); got panel=False")
    if anticipation < 0:
        raise ArgumentError(f"anticipation must be 0 or more periods; got {anticipation!r}")
    covs = _parse_covariates(covariates, xformla)
    p = Panel(data, yname, tname, idname, gname, covs, weights_name, clustervars, anticipation,
              control_group, balanced=balanced_panel)
    if p.glist.size == 0:
        raise ArgumentError("no treated group with a pre-treatment period in the data")
    cells = _cells(p, base_period, anticipation)
    n, tlist = p.n, p.tlist
    k = len(cells)
    att = np.full(k, np.nan)
    inf = np.zeros((n, k))
    if covs:
        _conditional_cells(p, cells, control_group, anticipation, base_period, ESTIMATORS[est_method], att, inf)
    else:
        _unconditional_cells(p, cells, control_group, anticipation, base_period, att, inf)
    rows = [(g, tlist[cur], tlist[base], float(g <= tlist[cur])) for g, cur, base, _ in cells]
    table = pd.DataFrame(rows, columns=["group", "time", "base_time", "post"])
    table["event_time"] = table["time"] - table["group"]
    table["value"] = att
    return ATTgtResults(
        table, inf, n=n, unit_group=p.g, unit_weights=p.w, cluster=p.cluster, confidence=confidence,
        bstrap=bstrap, biters=biters, cband=cband, seed=seed,
        meta=dict(yname=yname, control_group=control_group, est_method=est_method, base_period=base_period,
                  anticipation=anticipation, covariates=covs, n_units=n, clustervars=clustervars,
                  dropped=p.dropped, tlist=tlist, glist=p.glist, unit_ids=np.asarray(p.ids)),
    )


def _conditional_cells(p: Panel, cells, control_group, anticipation, base_period, estimator, att, inf):
    """Cell by cell with covariates: the two-period estimator on the units of the cell's two periods."""
    n, tlist = p.n, p.tlist
    for j, (g, cur, base, ctrl_idx) in enumerate(cells):
        if base_period == "universal" and cur == base:
            att[j] = 0.0
            continue
        treat = p.g == g
        if control_group == "nevertreated":
            ctrl = p.g == 0
        else:
            ctrl = (p.g == 0) | ((p.g > tlist[ctrl_idx] + anticipation) & (p.g != g))
        dy = p.y[:, cur] - p.y[:, base]
        use = (treat | ctrl) & np.isfinite(dy)
        n1 = int(use.sum())
        d = treat[use].astype(float)
        if d.sum() == 0 or (1 - d).sum() == 0:
            warnings.warn(f"no {'treated' if d.sum() == 0 else 'comparison'} units for group {g:g} in period "
                          f"{tlist[cur]:g}", SmallNumbersWarning, stacklevel=3)
            continue
        try:
            a, f = estimator(dy[use], d, p.x[use, min(cur, base), :], p.w[use])
        except (np.linalg.LinAlgError, EstimationWarning) as exc:
            warnings.warn(f"group {g:g}, period {tlist[cur]:g}: {exc}", EstimationWarning, stacklevel=3)
            continue
        att[j] = a
        inf[use, j] = (n / n1) * f


def _unconditional_cells(p: Panel, cells, control_group, anticipation, base_period, att, inf):
    """All cells without covariates at once per group: differences of weighted mean changes.

    The influence function of a cell is ``n * (w_i D_i (dy_i - m_T) / sum(w D) - w_i C_i (dy_i - m_C) /
    sum(w C))`` (the ``n / n1``-scaled DRDID influence function with an intercept only).
    """
    n, tlist = p.n, p.tlist
    cells_arr = np.array([(g, cur, base, ci) for g, cur, base, ci in cells], dtype=float).reshape(-1, 4)
    for g in np.unique(cells_arr[:, 0]):
        js = np.flatnonzero(cells_arr[:, 0] == g)
        cur = cells_arr[js, 1].astype(int)
        base = cells_arr[js, 2].astype(int)
        ci = cells_arr[js, 3].astype(int)
        dy = p.y[:, cur] - p.y[:, base]
        fin = np.isfinite(dy)
        treat = (p.g == g)[:, None] & fin
        if control_group == "nevertreated":
            ctrl = (p.g == 0)[:, None] & fin
        else:
            ctrl = ((p.g == 0)[:, None] | ((p.g[:, None] > tlist[ci][None, :] + anticipation)
                                           & (p.g != g)[:, None])) & fin
        wt = np.where(treat, p.w[:, None], 0.0)
        wc = np.where(ctrl, p.w[:, None], 0.0)
        swt, swc = wt.sum(0), wc.sum(0)
        d0 = np.where(fin, dy, 0.0)
        ref = cur == base
        bad = ((swt == 0) | (swc == 0)) & ~ref
        for k in np.flatnonzero(bad):
            warnings.warn(f"no {'treated' if swt[k] == 0 else 'comparison'} units for group {g:g} in period "
                          f"{tlist[cur[k]]:g}", SmallNumbersWarning, stacklevel=3)
        with np.errstate(invalid="ignore", divide="ignore"):
            mt = (wt * d0).sum(0) / swt
            mc = (wc * d0).sum(0) / swc
            f = n * (wt * (d0 - mt) / swt - wc * (d0 - mc) / swc)
        a = mt - mc
        a[bad] = np.nan
        f[:, bad | ref] = 0.0
        a[ref] = 0.0 if base_period == "universal" else a[ref]
        att[js] = a
        inf[:, js] = f
