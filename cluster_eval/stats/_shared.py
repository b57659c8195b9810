"""Internal helpers shared by the indicator statistics: confidence labels, z values, tidy output.

Not public: the public functions live in :mod:`proportions`, :mod:`rates`, :mod:`standardise`,
:mod:`funnel`, :mod:`variation` and :mod:`benchmarks`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..validation import check_positive


def z_value(confidence: float) -> float:
    """Two-sided standard normal quantile for a confidence level: Φ⁻¹(1 − (1 − c)/2)."""
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def level_label(confidence: float) -> str:
    """'95%' for 0.95, '99.8%' for 0.998 (shortest exact percentage)."""
    pct = round(confidence * 100, 10)
    return f"{pct:g}%"


def level_suffix(confidence: float) -> str:
    """Column-name suffix for a level: '95' for 0.95, '99_8' for 0.998."""
    return level_label(confidence)[:-1].replace(".", "_")


def statistic_name(kind: str, multiplier: float) -> str:
    """'proportion', 'percentage', 'rate per 1,000' ... (the `statistic` column)."""
    if kind == "proportion":
        if multiplier == 1:
            return "proportion"
        if multiplier == 100:
            return "percentage"
    if multiplier == 1:
        return kind
    return f"{kind} per {multiplier:,.10g}"


def source_index(*inputs) -> pd.Index | None:
    """The index of the first pandas Series among the inputs (the rows' identifiers), if any."""
    for x in inputs:
        if isinstance(x, pd.Series):
            return x.index
    return None


def checked_multiplier(multiplier) -> float:
    return check_positive(multiplier, "multiplier")


def long_frame(index: pd.Index | None, n: int, row_cols: dict, level_cols: dict,
               levels: tuple[float, ...]) -> pd.DataFrame:
    """Assemble a tidy long table: one row per input row and confidence level (row-major).

    ``row_cols`` hold arrays of length n (repeated for each level); ``level_cols`` hold arrays of
    shape (n_levels, n). The output keeps the input index (repeated) when one is given.
    """
    k = len(levels)
    data = {name: np.repeat(np.asarray(v), k) if np.ndim(v) else np.repeat(v, n * k)
            for name, v in row_cols.items()}
    for name, arr in level_cols.items():
        data[name] = np.asarray(arr).T.reshape(-1)
    data["confidence"] = np.tile(np.asarray(levels, dtype=float), n)
    out = pd.DataFrame(data)
    if index is not None and len(index) == n:
        out.index = index.repeat(k)
    return out
