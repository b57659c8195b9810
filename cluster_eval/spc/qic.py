"""``qic()``: run and control chart data with the Anhøj rules, as qicharts2 v0.8.1 computes them.

The steps follow qicharts2's ``qic()`` and ``qic.agg()``:

1. (with ``n``) observations missing ``y`` or ``n`` lose both (complete cases);
2. rows with missing ``x`` are dropped; observations are aggregated into one subgroup per facet and
   ``x`` value, in the order of ``x`` (numbers and dates sorted, categories in category order);
3. within each facet, subgroups are numbered 1.. (``index``), split into phases after the positions in
   ``part``, marked as ``baseline`` (index <= ``freeze``; ignored when ``part`` is given) and ``include``
   (index not in ``exclude``);
4. per facet and phase, the chart's centre line and limits are computed from the baseline, included
   points (:mod:`cluster_eval.spc.charts`), and the Anhøj rules are applied to the included points
   (:mod:`cluster_eval.spc.runs`);
5. ``y``, ``cl`` and the limits are multiplied by ``multiply``; infinite limits become missing; a point
   beyond a limit is a ``sigma_signal``; categorical subgroups and MR charts get no runs signal.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..validation import (
    as_float_array,
    check_choice,
    check_positions,
    check_positive,
    check_required,
    check_same_length,
)
from .charts import CHART_FUNCTIONS, NEEDS_N, Part
from .runs import runs_analysis

CHARTS = tuple(CHART_FUNCTIONS)
AGG_FUNS = ("mean", "median", "sum", "sd")

#: qicharts2 chart-data column -> cluster_eval column.
QICHARTS2_COLUMNS = {
    "x": "x", "facet1": "<first facet>", "facet2": "<second facet>", "y.sum": "y_sum",
    "y.length": "y_length", "y.mean": "y_mean", "y.sd": "y_sd", "n": "n", "y": "y", "cl": "cl",
    "target": "target", "notes": "notes", "part": "part", "xx": "index", "baseline": "baseline",
    "include": "include", "lcl": "lcl", "ucl": "ucl", "lcl.95": "lcl_95", "ucl.95": "ucl_95",
    "n.obs": "n_obs", "n.useful": "n_useful", "runs.signal": "runs_signal",
    "longest.run": "longest_run", "longest.run.max": "longest_run_max", "n.crossings": "n_crossings",
    "n.crossings.min": "n_crossings_min", "sigma.signal": "sigma_signal",
}

#: qicharts2 ``summary()`` column -> :func:`summary` column.
QICHARTS2_SUMMARY_COLUMNS = {
    "facet1": "<first facet>", "facet2": "<second facet>", "part": "part", "n.obs": "n_obs",
    "n.useful": "n_useful", "longest.run": "longest_run", "longest.run.max": "longest_run_max",
    "n.crossings": "n_crossings", "n.crossings.min": "n_crossings_min", "runs.signal": "runs_signal",
    "aLCL": "lcl_mean", "aLCL.95": "lcl_95_mean", "CL": "cl_mean", "aUCL.95": "ucl_95_mean",
    "aUCL": "ucl_mean", "sigma.signal": "n_sigma_signals",
}

_LIMITS = ("lcl", "ucl", "lcl_95", "ucl_95")
_RUNS = ("n_obs", "n_useful", "runs_signal", "longest_run", "longest_run_max", "n_crossings",
         "n_crossings_min")


def _column(value, data, name):
    """A column of ``data`` named by a string, or the value itself."""
    if isinstance(value, str):
        if data is None:
            raise ArgumentError(f"{name} names a column ({value!r}) but no data frame was given")
        if value not in data.columns:
            raise ArgumentError(f"{name} must name a column of data; got {value!r}")
        return data[value]
    return value


def _facet_frame(facets, data) -> pd.DataFrame:
    if facets is None:
        return pd.DataFrame(index=range(0))
    if isinstance(facets, pd.DataFrame):
        return facets.reset_index(drop=True)
    if isinstance(facets, str) or isinstance(facets, pd.Series):
        facets = [facets]
    cols = {}
    for i, f in enumerate(facets, start=1):
        values = _column(f, data, "facets")
        name = f if isinstance(f, str) else (getattr(values, "name", None) or f"facet{i}")
        cols[str(name)] = pd.Series(values).reset_index(drop=True)
    return pd.DataFrame(cols)


def _as_series(values) -> pd.Series:
    """Any scalar, list, array, Index, Categorical or Series as a Series with a 0.. index."""
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if pd.api.types.is_list_like(values) and not isinstance(values, dict | set):
        return pd.Series(list(values) if isinstance(values, range) else values)
    return pd.Series([values])


def _broadcast(values, length: int) -> pd.Series:
    s = _as_series(values)
    if len(s) == 1 and length != 1:
        s = pd.Series(np.repeat(s.to_numpy(), length), dtype=s.dtype)
    return s


def _is_categorical(x: pd.Series) -> bool:
    """qicharts2's ``dots.only``: subgroups without a numeric or time order."""
    if isinstance(x.dtype, pd.PeriodDtype) or pd.api.types.is_timedelta64_dtype(x):
        return False
    return not (pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)) \
        and not pd.api.types.is_datetime64_any_dtype(x)


def _dates_as_datetime(x: pd.Series) -> pd.Series:
    """Python ``date``/``datetime`` objects become datetime64 (they have a time order)."""
    if x.dtype == object and pd.api.types.infer_dtype(x, skipna=True) in ("date", "datetime"):
        return pd.to_datetime(x)
    return x


def _makeparts(breaks: np.ndarray, m: int) -> np.ndarray:
    """Phase number of each of ``m`` subgroups; a new phase starts after each break position."""
    b = np.unique(np.concatenate([[0], breaks]))
    b = b[(b >= 0) & (b < m)]
    return np.repeat(np.arange(1, b.size + 1), np.diff(np.concatenate([b, [m]])))


def _aggregate(d: pd.DataFrame, keys: list, got_n: bool, agg_fun: str, has_notes: bool) -> pd.DataFrame:
    g = d.groupby(keys, sort=True, observed=True, dropna=True)
    out = pd.DataFrame({
        "size": g.size(),
        "y_length": g["y"].count(),
        "y_sum": g["y"].sum(min_count=0),
        "y_mean": g["y"].mean(),
        "y_sd": g["y"].std(ddof=1),
        "n": g["n"].sum(min_count=0) if got_n else np.nan,
        "cl": g["cl"].first(),
        "target": g["target"].first(),
    })
    # a subgroup of one missing observation has a missing sum (qicharts2: na.rm = length(y) > 1)
    out.loc[(out["size"] == 1) & (out["y_length"] == 0), "y_sum"] = np.nan
    if got_n:
        out["y"] = g["y"].sum(min_count=0) / out["n"].where(out["n"] > 0)
    elif agg_fun == "mean":
        out["y"] = out["y_mean"]
    elif agg_fun == "median":
        out["y"] = g["y"].median()
    elif agg_fun == "sum":
        out["y"] = g["y"].sum(min_count=1)  # all missing -> missing (qicharts2 gives 0)
    else:
        out["y"] = out["y_sd"]
    if has_notes:
        out["notes"] = g["notes"].agg(
            lambda s: " | ".join(dict.fromkeys(v for v in s if isinstance(v, str) and v)) or None)
    else:
        out["notes"] = None
    return out.drop(columns="size").reset_index()


def qic(x, y=None, n=None, *, data=None, chart="run", facets=None, notes=None, freeze=None, part=None,
        exclude=None, multiply=1, agg_fun="mean", cl=None, target=None, y_neg=True, screened_mr=True):
    """Run or control chart data with the Anhøj rules (qicharts2's ``qic()``).

    Parameters
    ----------
    x : array_like or str
        Subgroup of each observation: numbers or dates (a time order: runs analysis is done) or
        categories (a categorical or string column: no runs analysis, Laney charts use the standard
        deviation of z). With ``y`` omitted, ``x`` holds the values and the subgroups are 1, 2, ...
    y : array_like or str, optional
        Measurement or count (numerator) of each observation.
    n : array_like or str, optional
        Denominator of each observation; required for p, pp, u and up charts.
    data : DataFrame, optional
        When given, ``x``, ``y``, ``n``, ``notes``, ``cl``, ``target`` and ``facets`` may be column names.
    chart : {'run', 'i', 'mr', 'xbar', 's', 't', 'p', 'pp', 'c', 'u', 'up'}
        Chart type (see :mod:`cluster_eval.spc.charts` for the formulas).
    facets : str, list of str, array_like or DataFrame, optional
        Grouping variables: one independent chart per combination (qicharts2's ``facets``).
    notes : array_like or str, optional
        Text notes per observation, joined per subgroup.
    freeze : int, optional
        The last subgroup (1-based, per facet) of the baseline used for the centre line and limits.
        Ignored when ``part`` is given.
    part : int or sequence of int, optional
        Subgroup positions after which a new phase, with its own centre line and limits, starts.
    exclude : int or sequence of int, optional
        Subgroup positions left out of all calculations (still returned and plotted).
    multiply : float, default 1
        Factor applied to y, centre line and limits (e.g. 100 for percent, 1000 for per 1,000).
    agg_fun : {'mean', 'median', 'sum', 'sd'}
        How several observations of one subgroup become y when no ``n`` is given (run, i, mr charts).
    cl : float or array_like, optional
        A known centre line (used for every phase instead of the computed one).
    target : float or array_like, optional
        A target value carried into the output for plotting.
    y_neg : bool, default True
        If False and no y is negative, negative lower limits are set to 0.
    screened_mr : bool, default True
        Leave moving ranges above 3.267 times the average moving range out of the sigma of the i, t, pp
        and up charts (Nelson 1982; qicharts2's option ``qic.screenedmr``, TRUE once the package is
        attached).

    Returns
    -------
    DataFrame
        One row per subgroup (per facet), in chart order, with the facet columns, ``x``, ``y_sum``,
        ``y_length``, ``y_mean``, ``y_sd``, ``n``, ``y``, ``cl``, ``target``, ``notes``, ``part``,
        ``index``, ``baseline``, ``include``, ``lcl``, ``ucl``, ``lcl_95``, ``ucl_95`` (2-sigma limits),
        ``n_obs``, ``n_useful``, ``runs_signal``, ``longest_run``, ``longest_run_max``,
        ``n_crossings``, ``n_crossings_min``, ``sigma_signal`` and ``chart``. Run statistics repeat on
        every row of a phase. :data:`QICHARTS2_COLUMNS` maps qicharts2's names to these.
        ``attrs`` holds ``chart``, ``multiply``, ``facets`` and ``categorical``.

    Notes
    -----
    Centre lines, limits and runs statistics reproduce qicharts2 v0.8.1 (Anhøj 2018). Deliberate
    differences, all for degenerate input: a subgroup whose denominator sums to 0 has y missing (not
    Inf), ``agg_fun='sum'`` over only missing values gives missing (not 0), and string subgroups sort
    by code point (R sorts by locale).

    References
    ----------
    Anhøj J (2018). qicharts2: Quality Improvement Charts for R. JOSS 3(25): 699.
    Montgomery DC (2009). Introduction to Statistical Quality Control, 6th ed. Wiley.
    Laney DB (2002). Improved control charts for attributes. Quality Engineering 14(4): 531-537.

    Examples
    --------
    >>> import cluster_eval as ce
    >>> d = ce.spc.qic([1, 2, 3, 4], [5, 7, 6, 8], chart="i")
    >>> float(d["cl"].iloc[0])
    6.5
    """
    chart = check_choice(chart, "chart", CHARTS)
    agg_fun = check_choice(agg_fun, "agg_fun", AGG_FUNS)
    multiply = check_positive(multiply, "multiply")
    if data is not None and not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data must be a pandas DataFrame; got {type(data).__name__}")

    x = _column(x, data, "x")
    y = _column(y, data, "y")
    n = _column(n, data, "n")
    notes = _column(notes, data, "notes")
    cl = _column(cl, data, "cl")
    target = _column(target, data, "target")
    if chart in NEEDS_N:
        check_required(n, "n", f"for chart {chart!r} (the denominator of each subgroup)")
    if y is None:
        y = x
        x = np.arange(1, len(as_float_array(y, "y")) + 1)

    ya = as_float_array(y, "y")
    na = as_float_array(n, "n") if n is not None else None
    fac = _facet_frame(facets, data)
    xs = _as_series(x)
    lengths = {"x": np.empty(len(xs)), "y": ya}
    if na is not None:
        lengths["n"] = na
    for name, v in (("notes", notes), ("cl", cl), ("target", target)):
        if v is not None:
            lengths[name] = np.empty(len(_as_series(v)))
    for col in fac.columns:
        lengths[f"facets[{col!r}]"] = np.empty(len(fac))
    m = check_same_length(**lengths)

    freeze_pos = check_positions(freeze, "freeze")
    if freeze_pos.size > 1:
        raise ArgumentError(f"freeze must be one position; got {freeze!r}")
    part_pos = check_positions(part, "part")
    exclude_pos = check_positions(exclude, "exclude")
    freeze_at = float(freeze_pos[0]) if freeze_pos.size and not part_pos.size else np.inf

    d = pd.DataFrame({"x": _broadcast(xs, m), "y": np.broadcast_to(ya, (m,)).copy()})
    d["n"] = np.broadcast_to(na, (m,)).copy() if na is not None else np.nan
    d["notes"] = _broadcast(notes, m) if notes is not None else None
    d["cl"] = np.broadcast_to(as_float_array(cl, "cl"), (m,)).copy() if cl is not None else np.nan
    d["target"] = np.broadcast_to(as_float_array(target, "target"), (m,)).copy() \
        if target is not None else np.nan
    facet_cols = list(fac.columns)
    for col in facet_cols:
        d[col] = _broadcast(fac[col], m)
    if "x" in facet_cols or len(set(facet_cols)) != len(facet_cols):
        raise ArgumentError(f"facet names must be unique and not 'x'; got {facet_cols!r}")

    got_n = na is not None
    if got_n:
        missing = d["y"].isna() | d["n"].isna()
        d.loc[missing, ["y", "n"]] = np.nan
    if chart == "t":
        bad = np.flatnonzero(d["y"].to_numpy() <= 0)
        if bad.size:
            raise ArgumentError("y (time between events) must be greater than zero for chart 't'; "
                                f"got {float(d['y'].iloc[bad[0]])!r} at position {bad[0]}")
    d = d[d["x"].notna()]
    d["x"] = _dates_as_datetime(d["x"])
    categorical = _is_categorical(d["x"])

    agg = _aggregate(d, facet_cols + ["x"], got_n, agg_fun, notes is not None)
    out = _chart_parts(agg, facet_cols, CHART_FUNCTIONS[chart], part_pos, freeze_at, exclude_pos,
                       categorical, screened_mr, multiply)
    for c in _LIMITS:
        v = out[c].to_numpy(dtype=float)
        out[c] = np.where(np.isfinite(v), v, np.nan)
    yv, lcl, ucl = (out[c].to_numpy(dtype=float) for c in ("y", "lcl", "ucl"))
    with np.errstate(invalid="ignore"):
        out["sigma_signal"] = (yv > ucl) | (yv < lcl)
    if categorical or chart == "mr":
        out["runs_signal"] = False
    if not y_neg and np.nanmin(yv, initial=np.inf) >= 0:
        for c in ("lcl", "lcl_95"):
            out[c] = out[c].clip(lower=0)
    out["chart"] = chart
    cols = facet_cols + ["x", "y_sum", "y_length", "y_mean", "y_sd", "n", "y", "cl", "target", "notes",
                         "part", "index", "baseline", "include", *_LIMITS, *_RUNS, "sigma_signal", "chart"]
    out = out[cols]
    out.attrs.update(chart=chart, multiply=multiply, facets=facet_cols, categorical=categorical)
    return out


def _chart_parts(agg: pd.DataFrame, facet_cols: list, chart_fun, part_pos, freeze_at, exclude_pos,
                 categorical: bool, screened_mr: bool, multiply: float) -> pd.DataFrame:
    """Number, phase and chart every facet (``agg`` is sorted by facet, then x)."""
    m = len(agg)
    if facet_cols and m:
        facet_id = agg.groupby(facet_cols, sort=False, observed=True).ngroup().to_numpy()
    else:
        facet_id = np.zeros(m, dtype=int)
    starts = np.flatnonzero(np.r_[True, facet_id[1:] != facet_id[:-1]]) if m else np.array([], int)
    ends = np.r_[starts[1:], m]
    index = np.zeros(m, dtype=int)
    part = np.zeros(m, dtype=int)
    for a, b in zip(starts, ends):
        index[a:b] = np.arange(1, b - a + 1)
        part[a:b] = _makeparts(part_pos, b - a)
    baseline = index <= freeze_at
    include = ~np.isin(index, exclude_pos)
    base = baseline & include
    arr = {c: agg[c].to_numpy(dtype=float) for c in ("y", "y_sum", "y_length", "y_mean", "y_sd", "n", "cl")}
    res = {c: np.full(m, np.nan) for c in ("y", "cl") + _LIMITS}
    runs = {c: np.full(m, np.nan) for c in _RUNS}
    runs["runs_signal"] = np.zeros(m, dtype=bool)
    cuts = np.flatnonzero(np.r_[True, (facet_id[1:] != facet_id[:-1]) | (part[1:] != part[:-1])]) \
        if m else np.array([], int)
    for a, b in zip(cuts, np.r_[cuts[1:], m]):
        sl = slice(a, b)
        r = chart_fun(Part(base=base[sl], categorical=categorical, **{c: v[sl] for c, v in arr.items()}),
                      screened_mr=screened_mr)
        inc = include[sl]
        ra = runs_analysis(r["y"][inc], r["cl"][inc])
        for c in res:
            res[c][sl] = r[c] * multiply
        for c in _RUNS:
            runs[c][sl] = ra[c]
    out = agg.copy()
    out["part"], out["index"], out["baseline"], out["include"] = part, index, baseline, include
    for c, v in res.items():
        out[c] = v
    for c in ("n_obs", "n_useful"):
        out[c] = runs[c].astype(int)
    for c in ("longest_run", "longest_run_max", "n_crossings", "n_crossings_min", "runs_signal"):
        out[c] = runs[c]
    return out


def qic_grouped(data: pd.DataFrame, x, y=None, n=None, *, by, **kwargs) -> pd.DataFrame:
    """One chart per group of ``data``: ``qic(x, y, n, data=data, facets=by, **kwargs)``.

    Parameters
    ----------
    data : DataFrame
        The observations, one row each.
    x, y, n : str
        Column names of the subgroup, the measurement or count, and the denominator (see :func:`qic`).
    by : str or list of str
        One or more grouping columns (qicharts2's ``facets = by1 ~ by2``).
    **kwargs
        Any other :func:`qic` argument (``chart``, ``freeze``, ``part``, ``exclude``, ``multiply`` ...).
        Freeze, part and exclude positions count subgroups within each group.

    Returns
    -------
    DataFrame
        :func:`qic`'s chart data with the ``by`` columns, one independent chart per group.

    References
    ----------
    Anhøj J (2018). qicharts2: Quality Improvement Charts for R. JOSS 3(25): 699.
    """
    return qic(x, y, n, data=data, facets=by, **kwargs)


def summary(chart_data: pd.DataFrame, facets=None) -> pd.DataFrame:
    """One row per facet and phase, like qicharts2's ``summary.qic()``.

    Parameters
    ----------
    chart_data : DataFrame
        The output of :func:`qic` or :func:`qic_grouped`.
    facets : list of str, optional
        Facet columns; default ``chart_data.attrs['facets']``.

    Returns
    -------
    DataFrame
        Columns: the facets, ``part``, ``n_obs``, ``n_useful``, ``longest_run``, ``longest_run_max``,
        ``n_crossings``, ``n_crossings_min``, ``runs_signal`` (1 if any point of the phase has a runs
        signal), ``lcl_mean`` (qicharts2 ``aLCL``), ``cl_mean`` (``CL``), ``ucl_mean`` (``aUCL``),
        ``lcl_95_mean``, ``ucl_95_mean`` (``aLCL.95``, ``aUCL.95``), ``n_sigma_signals`` (``sigma.signal``:
        the number of points beyond the limits).

    References
    ----------
    Anhøj J (2018). qicharts2: Quality Improvement Charts for R. JOSS 3(25): 699.
    Anhøj J, Olesen AV (2014). Run charts revisited. PLoS ONE 9(11): e113825.
    """
    if facets is None:
        facets = list(chart_data.attrs.get("facets", []))
    keys = list(facets) + ["part"]
    g = chart_data.groupby(keys, sort=True, observed=True)
    out = pd.DataFrame({
        **{c: g[c].first() for c in ("n_obs", "n_useful", "longest_run", "longest_run_max", "n_crossings",
                                     "n_crossings_min")},
        "runs_signal": g["runs_signal"].max().astype(int),
        "lcl_mean": g["lcl"].mean(), "cl_mean": g["cl"].mean(), "ucl_mean": g["ucl"].mean(),
        "lcl_95_mean": g["lcl_95"].mean(), "ucl_95_mean": g["ucl_95"].mean(),
        "n_sigma_signals": g["sigma_signal"].sum().astype(int),
    })
    return out.reset_index()
