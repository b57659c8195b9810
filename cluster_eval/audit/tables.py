"""Auditing tables (Parquet, CSV, pandas 'split' JSON) and JSON documents."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .rules import (
    RULE_COMPLEMENT,
    RULE_DERIVED,
    RULE_RECOVERABLE,
    RULE_SMALL,
    THRESHOLD,
    TOTAL_WORDS,
    Finding,
    _is_derived_name,
    _small,
    is_count_name,
)


def _key_columns(df: pd.DataFrame, exclude=()) -> list[str]:
    out = []
    for c in df.columns:
        if c in exclude or c == "suppressed_reason":
            continue
        dt = df[c].dtype
        if pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt):
            continue
        out.append(c)
    return out


def _row_label(df: pd.DataFrame, i: int, keys: list[str]) -> str:
    parts = []
    for k in keys[:4]:
        v = df[k].iloc[i]
        if isinstance(v, pd.Timestamp):
            v = v.strftime("%Y-%m-%d")
        parts.append(f"{k}={v!r}" if not isinstance(v, str) else f"{k}={v!r}")
    return f"row {i + 1}" + (f" ({', '.join(parts)})" if parts else "")


def audit_frame(df: pd.DataFrame, file: str, threshold: int = THRESHOLD, declared=()) -> list[Finding]:
    """Findings in one table (already read). Rows are numbered from 1 as in the file."""
    df = df.reset_index(drop=True)
    counts = [c for c in df.columns if c in set(declared) or is_count_name(c)]
    keys = _key_columns(df, exclude=counts)
    num = {}
    for c in counts:
        num[c] = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    found: list[tuple[int, str, object, str]] = []
    for c in counts:
        for i in np.flatnonzero((num[c] > 0) & (num[c] < threshold + 1)):
            found.append((i, c, df[c].iloc[i], RULE_SMALL))
    if "numerator" in num and "denominator" in num:
        diff = num["denominator"] - num["numerator"]
        for i in np.flatnonzero((diff > 0) & (diff < threshold + 1)):
            found.append((i, "denominator - numerator", float(diff[i]), RULE_COMPLEMENT))
        hidden = np.isnan(num["numerator"]) | np.isnan(num["denominator"])
        for c in df.columns:
            if c in counts or not _is_derived_name(c) or not pd.api.types.is_numeric_dtype(df[c].dtype):
                continue
            vals = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            for i in np.flatnonzero(hidden & ~np.isnan(vals)):
                found.append((i, c, df[c].iloc[i], RULE_DERIVED))
    found += _recoverable_in_frame(df, counts, num, keys)
    return [Finding(file, f"{_row_label(df, i, keys)}, column {c!r}", _plain(v), rule)
            for i, c, v, rule in sorted(found, key=lambda f: (f[0], str(f[1])))]


def _recoverable_in_frame(df, counts, num, keys) -> list:
    out = []
    for d in keys:
        if pd.api.types.is_datetime64_any_dtype(df[d].dtype):
            continue
        labels = df[d]
        if isinstance(labels.dtype, pd.CategoricalDtype):
            labels = labels.astype(object)
        is_tot = labels.astype("string").str.strip().str.lower().isin(TOTAL_WORDS).fillna(False) \
            .to_numpy(dtype=bool)
        if not is_tot.any():
            continue
        others = [k for k in keys if k != d]
        gid = df.groupby(others, dropna=False, sort=False).ngroup().to_numpy() if others \
            else np.zeros(len(df), dtype=int)
        for c in counts:
            hid = np.isnan(num[c])
            n_tot = np.bincount(gid, weights=is_tot)
            tot_hidden = np.bincount(gid, weights=is_tot & hid) > 0
            part_hidden = np.bincount(gid, weights=~is_tot & hid)
            n_parts = np.bincount(gid, weights=~is_tot)
            bad = (n_tot == 1) & (n_parts >= 1) & (part_hidden + tot_hidden == 1)
            for i in np.flatnonzero(bad[gid] & hid):
                out.append((i, c, None, RULE_RECOVERABLE))
    return out


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _declared_parquet_counts(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"PANDAS_ATTRS")
    if not raw:
        return []
    try:
        attrs = json.loads(raw)
    except ValueError:
        return []
    cols = attrs.get("count_columns", []) if isinstance(attrs, dict) else []
    return [str(c) for c in cols] if isinstance(cols, list) else []


def audit_json(obj, file: str, threshold: int = THRESHOLD) -> list[Finding]:
    """Findings in a parsed JSON document: numbers under count-named keys, and pandas 'split' tables."""
    found = []

    def walk(x, path, counted):
        if isinstance(x, dict):
            if isinstance(x.get("columns"), list) and isinstance(x.get("data"), list):
                try:
                    df = pd.DataFrame(x["data"], columns=x["columns"])
                except (ValueError, TypeError):
                    df = None
                if df is not None:
                    for f in audit_frame(df, file, threshold):
                        found.append(Finding(file, f"{path}: {f.location}", f.value, f.rule))
                    return
            for key, v in x.items():
                walk(v, f"{path}.{key}", is_count_name(key))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]", counted)
        elif counted and isinstance(x, int | float) and not isinstance(x, bool):
            if _small(float(x), threshold):
                found.append(Finding(file, path, x, RULE_SMALL))

    walk(obj, "$", False)
    return found
