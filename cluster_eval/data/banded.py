"""The optional banded form of the measures: numerator and denominator per sex and age band.

Table ``measures_banded`` (file ``measures_banded.csv`` or ``.parquet``): one row per indicator, practice,
period, sex and age band, with the columns of ``measures`` plus ``sex`` and ``age_band``. It lets the
analyse stage compute expected counts from national band-specific rates (indirect standardisation,
:mod:`cluster_eval.stats.indirect`); without it the report's comparisons are crude and say so.

Rules (on top of the column types, non-negative counts and the unique key that every contract table has):

* ``sex`` is ``F`` or ``M``;
* the practice is in ``practices``;
* for a proportion indicator, numerator <= denominator in every band;
* per indicator, practice and period, the bands add up to the ``measures`` row (numerator and
  denominator), and such a row exists;
* an indicator that has banded rows has them for every practice and period where ``measures`` has a
  denominator above 0 (a partial banding would give wrong national rates).

Indicators without banded rows are allowed (they are reported crude).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .contract import MEASURES_BANDED

SEX_CODES = ("F", "M")
KEY = ["indicator_id", "practice_id", "period"]
#: Relative tolerance of the sums (counts may come as floats from another tool).
TOLERANCE = 1e-9


def _problem(file, column, rule, mask=None, frame=None, rows=None, count=None):
    from .rules import problem

    return problem(file, column, rule, mask, frame, rows, count)


def _key_text(row) -> str:
    return f"{row['indicator_id']}, {row['practice_id']}, {pd.Timestamp(row['period']):%Y-%m-%d}"


def check_banded(banded: pd.DataFrame, measures: pd.DataFrame | None, labels: dict, *,
                 practices: pd.DataFrame | None = None, kinds: dict | None = None) -> list:
    """Rules of ``measures_banded`` against the other tables (module docstring). Returns problems.

    Parameters
    ----------
    banded, measures, practices : DataFrame
        Typed tables (contract names and types; a ``__line__`` column locates each row for messages).
    labels : dict
        Table name -> file label for messages (``measures_banded``, ``measures``).
    kinds : dict, optional
        indicator_id -> "proportion" | "rate" (unknown indicators are not checked for num <= den).
    """
    lab = labels.get("measures_banded", "measures_banded")
    problems = []
    sex = banded["sex"].astype("string")
    bad = ~sex.isin(SEX_CODES)
    if bad.any():
        problems.append(_problem(lab, "sex", f"sex must be F or M (got e.g. {sex[bad].iloc[0]!r})", bad, banded))
    if practices is not None:
        bad = ~banded["practice_id"].isin(practices["practice_id"])
        if bad.any():
            ex = banded.loc[bad, "practice_id"].iloc[0]
            problems.append(_problem(lab, "practice_id",
                                     f"measures_banded for a practice not in practices (e.g. {ex!r})", bad, banded))
    if kinds:
        props = [k for k, v in kinds.items() if v == "proportion"]
        bad = banded["indicator_id"].isin(props) & (banded["numerator"] > banded["denominator"])
        if bad.any():
            r = banded[bad].iloc[0]
            problems.append(_problem(
                lab, "numerator", f"numerator greater than denominator in a band of a proportion indicator "
                f"(e.g. {r['indicator_id']}, {r['sex']} {r['age_band']}: {r['numerator']:g} > {r['denominator']:g})",
                bad, banded))
    if measures is None:
        return problems
    sums = banded.groupby(KEY, observed=True, sort=False)[["numerator", "denominator"]].sum()
    me = measures[measures["indicator_id"].isin(banded["indicator_id"].unique())].set_index(KEY)
    joined = sums.join(me[["numerator", "denominator"]].add_suffix("_measures"), how="left")
    no_row = joined["numerator_measures"].isna()
    if no_row.any():
        first = joined.index[no_row.to_numpy()][0]
        mask = pd.MultiIndex.from_frame(banded[KEY]).isin(joined.index[no_row.to_numpy()])
        problems.append(_problem(lab, "period", "banded rows without a measures row for their indicator, practice "
                                 f"and period (e.g. {_key_text(dict(zip(KEY, first)))})", mask, banded))
    for col in ("numerator", "denominator"):
        a, b = joined[col].to_numpy(float), joined[f"{col}_measures"].to_numpy(float)
        off = ~no_row.to_numpy() & (np.abs(a - b) > TOLERANCE * np.maximum(1.0, np.abs(b)))
        if off.any():
            i = int(np.flatnonzero(off)[0])
            key = dict(zip(KEY, joined.index[i]))
            mask = pd.MultiIndex.from_frame(banded[KEY]).isin(joined.index[off])
            problems.append(_problem(
                lab, col, f"the bands must add up to the measures row ({_key_text(key)}: {col} {a[i]:g} summed over "
                f"the bands, {b[i]:g} in {labels.get('measures', 'measures')})", mask, banded))
    need = me[me["denominator"] > 0].index.difference(sums.index)
    if len(need):
        first = dict(zip(KEY, need[0]))
        m_lab = labels.get("measures", "measures")
        mask = pd.MultiIndex.from_frame(measures[KEY]).isin(need)
        problems.append(_problem(
            m_lab, "indicator_id", f"measures rows of a banded indicator without banded rows in {lab} (e.g. "
            f"{_key_text(first)}); band an indicator for every practice and period or not at all", mask, measures))
    return problems


def validate_banded(raw: pd.DataFrame, measures: pd.DataFrame | None = None, *, practices=None, kinds=None,
                    labels: dict | None = None, colmap=None) -> pd.DataFrame:
    """Check a raw ``measures_banded`` table (types, key, and :func:`check_banded`) and return it typed.

    Raises
    ------
    InputError
        Every problem found, each naming file, column, rule and the first offending rows.
    """
    from ..errors import InputError
    from . import rules as V

    labels = dict(labels or {})
    lab = labels.setdefault("measures_banded", "measures_banded")
    typed, problems = V.coerce_table(raw, MEASURES_BANDED, lab, colmap)
    if typed is not None and not problems:
        problems += check_banded(typed, measures, labels, practices=practices, kinds=kinds)
    if problems:
        raise InputError(problems)
    return typed.drop(columns=[V.LINE], errors="ignore").reset_index(drop=True)
