"""Writing and reading the run's tables: disclosure control on the way out, atomic writes, slices back in."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..disclosure import suppress_table
from ..errors import OutputError


def disclose(df: pd.DataFrame, counts=("numerator", "denominator"), derived=("value",), threshold: int = 4,
             rounding=None, by=None, total_published: bool = True) -> pd.DataFrame:
    """Suppress small counts (1..threshold) and what is computed from them, before a table is written.

    :func:`cluster_eval.disclosure.suppress_table` (primary and secondary suppression). ``by`` names the
    strata (e.g. one cluster's practices in one window); when ``total_published`` the stratum's total is
    taken as published elsewhere, so a hidden cell always gets a complement. The result has a boolean
    ``suppressed`` column, suppressed counts and derived values missing, and ``attrs["count_columns"]``
    naming the count columns. Tables whose totals are published in the same table (the trends' region and
    national rows) use :func:`disclose_nested` instead.
    """
    if df is None or not len(df):
        return df
    return suppress_table(df, count_cols=list(counts), by=list(by) if by else None,
                          groups=[[]] if (by and total_published) else None, threshold=threshold,
                          derived=[c for c in derived if c in df], rounding=rounding)


def disclose_nested(parts: pd.DataFrame, dims, by, counts=("numerator", "denominator"), threshold: int = 4,
                    rounding=None, unpublished=()) -> pd.DataFrame:
    """Suppression of a table published together with its nested totals (e.g. clusters, regions, nation).

    ``parts`` holds the finest cells (one row per ``by`` stratum and combination of ``dims``, outermost
    first); the totals along the hierarchy are added (``suppress_table(margins="nested")``) and protected
    with the parts, so that no hidden cell equals a published total minus published cells, and no published
    total minus the published cells is itself a small count. Cells whose ``dims[-1]`` is in ``unpublished``
    (e.g. the practices in no cluster of a region) are protected as if they were published (the safe side)
    and dropped from the result. Returns the parts and the margin rows (:data:`~cluster_eval.disclosure.TOTAL`
    in the dimensions summed over).
    """
    out = suppress_table(parts, count_cols=list(counts), by=list(by), dims=list(dims), margins="nested",
                         threshold=threshold, rounding=rounding)
    keep = ~out[dims[-1]].astype(object).isin(list(unpublished)).to_numpy()
    res = out[keep].reset_index(drop=True)
    res.attrs.update(out.attrs)
    return res


def atomic_write(path, content: str | Callable[[Path], None]) -> Path:
    """Write ``path`` atomically: into a temporary file in the same folder (``content`` is text, or a function
    that writes the given path), flushed to disk, then renamed; an interrupted write leaves no half file.
    The temporary file is removed and the error re-raised on any failure."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if callable(content):
            content(tmp)
        else:
            tmp.write_text(content, encoding="utf-8")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """Write a Parquet file atomically (:func:`atomic_write`); an OS error is an :class:`OutputError`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


#: Whole tables already read by this process, keyed by (path, modification time, size): a report kernel is
#: reused across reports (report/worker.py), so each table file is decoded once per kernel, not per report.
_TABLES: dict = {}
#: Row positions of each value of a column of a cached table, keyed by (table key, column): a report selects
#: its cluster's rows by lookup instead of comparing every row of a national table (1,250 clusters in England).
_INDEX: dict = {}
_MAX_CACHED = 64


def _whole(path: Path) -> tuple[tuple, pd.DataFrame]:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    df = _TABLES.get(key)
    if df is None:
        if len(_TABLES) >= _MAX_CACHED:
            _TABLES.clear()
            _INDEX.clear()
        df = _TABLES[key] = pd.read_parquet(path)
    return key, df


def _positions(key: tuple, df: pd.DataFrame, column: str, values) -> np.ndarray:
    """Sorted row positions of ``df`` whose ``column`` equals one of ``values`` (a cached group index)."""
    index = _INDEX.get((key, column))
    if index is None:
        codes, uniques = pd.factorize(df[column], use_na_sentinel=True)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        index = _INDEX[(key, column)] = {v: order[bounds[i]:bounds[i + 1]] for i, v in enumerate(uniques)}
    parts = [index[v] for v in values if v in index]
    return np.sort(np.concatenate(parts)) if len(parts) > 1 else (parts[0] if parts else np.empty(0, np.intp))


def read_table(run_dir, name: str, **equal) -> pd.DataFrame:
    """Read ``<run_dir>/tables/<name>.parquet``, keeping only rows where each given column equals its value
    (or one of its values, given a list, tuple or set).

    Returns a new frame (a copy; index 0..n-1) in the file's row order; the whole file is read once per process
    and kept while the file is unchanged, and the rows of each value of a filtered column are found through an
    index built once per file and column."""
    key, df = _whole(Path(run_dir) / "tables" / f"{name}.parquet")
    rows = None
    for k, v in equal.items():
        if k not in df:
            continue
        values = list(v) if isinstance(v, list | tuple | set | frozenset) else [v]
        if rows is None:
            rows = _positions(key, df, k, values)
        else:
            col = df[k].to_numpy()[rows]
            rows = rows[pd.Series(col).isin(values).to_numpy()]
    out = df.iloc[rows] if rows is not None else df
    return out.reset_index(drop=True).copy()


def hide_windows_over_hidden_months(df: pd.DataFrame, hidden: pd.DataFrame, cols) -> pd.DataFrame:
    """Hide a cluster's window sums when the window covers a month hidden in the published trends.

    A table that publishes counts summed over a window of months (the funnel's practices before and after
    the start, the standing table's last 12 months) would otherwise give back a hidden cluster-month of the
    trends as the window total minus the window's other, published months. Every row of ``df`` whose
    (``cluster_id``, ``indicator_id``) has a hidden month between ``window_start`` and ``window_end`` gets
    ``cols`` missing, ``suppressed`` True and a reason. ``hidden`` holds ``cluster_id, indicator_id, period``.
    """
    if df is None or not len(df) or hidden is None or not len(hidden):
        return df
    pairs = df[["cluster_id", "indicator_id", "window_start", "window_end"]].reset_index().merge(
        hidden[["cluster_id", "indicator_id", "period"]], on=["cluster_id", "indicator_id"])
    inside = (pairs["period"] >= pairs["window_start"]) & (pairs["period"] <= pairs["window_end"])
    rows = pairs.loc[inside, "index"].unique()
    if not len(rows):
        return df
    out = df.copy()
    for c in cols:
        if c in out:
            out[c] = out[c].astype(float)
            out.loc[rows, c] = float("nan")
    out.loc[rows, "suppressed"] = True
    if "suppressed_reason" in out:
        was = out.loc[rows, "suppressed_reason"].astype(object)
        out.loc[rows, "suppressed_reason"] = was.where(was.notna() & (was != ""),
                                                       "window covers a month hidden in the trends")
    return out
