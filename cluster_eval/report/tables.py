"""Writing and reading the run's tables: disclosure control on the way out, atomic Parquet, slices back in."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import OutputError


def disclose(df: pd.DataFrame, counts=("numerator", "denominator"), derived=("value",), threshold: int = 4,
             rounding=None, by=None, total_published: bool = True) -> pd.DataFrame:
    """Suppress small counts (1..threshold) and what is computed from them, before a table is written.

    ``by`` names the strata (e.g. one cluster's practices in one window); when ``total_published`` the
    stratum's total is taken as published elsewhere, so a single hidden cell gets a complement.
    Uses :func:`cluster_eval.disclosure.suppress_table` (primary + secondary suppression) when installed;
    the fallback here hides counts 1..threshold, one complementary cell in a stratum with exactly one hidden
    cell, and optionally rounds to a multiple of ``rounding``. Either way: a boolean ``suppressed`` column,
    suppressed counts and derived values missing, ``attrs["count_columns"]`` naming the count columns.
    """
    if df is None or not len(df):
        return df
    try:
        from ..disclosure import suppress_table
    except ImportError:
        suppress_table = None
    if suppress_table is not None:
        return suppress_table(df, count_cols=list(counts), by=list(by) if by else None,
                              groups=[[]] if (by and total_published) else None, threshold=threshold,
                              derived=[c for c in derived if c in df], rounding=rounding)
    out = df.copy()
    small = np.zeros(len(out), dtype=bool)
    for c in counts:
        v = out[c].to_numpy(dtype=float)
        small |= (v >= 1) & (v <= threshold)
    if by and total_published:
        key = out[list(by)].astype(str).agg("|".join, axis=1)
        first = out[counts[0]].to_numpy(dtype=float)
        tmp = pd.DataFrame({"k": key.to_numpy(), "s": small, "v": first}, index=range(len(out)))
        for _, g in tmp.groupby("k"):
            if g["s"].sum() == 1 and len(g) > 1:
                rest = g[~g["s"]]
                small[rest["v"].idxmin()] = True
    for c in counts:
        vals = out[c].to_numpy(dtype=float).copy()
        if rounding:
            vals = np.round(vals / rounding) * rounding
        vals[small] = np.nan
        out[c] = vals
    for c in derived:
        if c in out:
            vals = out[c].to_numpy(dtype=float).copy()
            vals[small] = np.nan
            out[c] = vals
    out["suppressed"] = small
    out.attrs["count_columns"] = list(counts)
    return out


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """Write a Parquet file atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def read_table(run_dir, name: str, **equal) -> pd.DataFrame:
    """Read ``<run_dir>/tables/<name>.parquet``, keeping only rows where each given column equals its value."""
    path = Path(run_dir) / "tables" / f"{name}.parquet"
    filters = [(k, "==", v) for k, v in equal.items()] or None
    try:
        return pd.read_parquet(path, filters=filters)
    except (ValueError, KeyError):
        df = pd.read_parquet(path)
        for k, v in equal.items():
            if k in df:
                df = df[df[k] == v]
        return df
