"""The banded form of the measures from patient-level events: numerator and denominator per sex and age band.

Each banded indicator is computed by the indicator engine itself (:func:`cluster_eval.indicators.compute_measures`)
as a set of derived indicators whose denominator population is restricted to one sex and one age band
(age in completed years on the period's last day, the engine's rule). A person belongs to exactly one sex and
one band in a period, so the bands partition the population: their numerators and denominators add up to
the indicator's own row (the data contract's ``measures_banded`` rules, :mod:`cluster_eval.data.banded`).

    banded = ce.indicators.compute_banded_measures("events/", out_dir="data/")   # measures_banded.parquet

By default the indicators marked ``standardised: true`` in the catalogue are banded, in the population
table's 19 bands (``0-4`` … ``85-89``, ``90+``) and both sexes. Each band is one more population for the
engine (38 per indicator), so this costs about as much as computing 38 indicators.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from ..errors import ArgumentError

#: The population table's five-year bands: (label, min age, max age or None).
FIVE_YEAR_BANDS = tuple((f"{a}-{a + 4}", a, a + 4) for a in range(0, 90, 5)) + (("90+", 90, None),)
SEXES = ("F", "M")
SEP = "@"
BANDED_COLUMNS = ["indicator_id", "practice_id", "period", "sex", "age_band", "numerator", "denominator"]


def _overlap(pop, lo, hi):
    a = lo if pop.age_min is None else max(lo, pop.age_min)
    if hi is None:
        b = pop.age_max
    else:
        b = hi if pop.age_max is None else min(hi, pop.age_max)
    return (a, b) if b is None or a <= b else None


def banded_indicators(indicators, bands=FIVE_YEAR_BANDS, sexes=SEXES) -> list:
    """Derived indicators, one per indicator, sex and age band, with ids ``<id>@<sex>@<band>``.

    Each keeps the indicator's definition with its denominator population further restricted to the sex
    and band (bands that cannot overlap the population's own age or sex limits are left out: they are 0).
    """
    out = []
    for ind in indicators:
        if SEP in ind.id:
            raise ArgumentError(f"indicator ids must not contain {SEP!r} to be banded; got {ind.id!r}")
        pop = ind.denominator.population
        for sex in sexes:
            if pop.sex is not None and pop.sex != sex:
                continue
            for label, lo, hi in bands:
                ages = _overlap(pop, lo, hi)
                if ages is None:
                    continue
                p = dataclasses.replace(pop, age_min=ages[0], age_max=ages[1], sex=sex)
                den = dataclasses.replace(ind.denominator, population=p, population_name=None)
                out.append(dataclasses.replace(ind, id=f"{ind.id}{SEP}{sex}{SEP}{label}", denominator=den))
    return out


def split_banded(measures: pd.DataFrame) -> pd.DataFrame:
    """The engine's output for derived indicators as the ``measures_banded`` table (rows with neither
    persons nor events left out)."""
    parts = measures["indicator_id"].astype(str).str.split(SEP, n=2, expand=True)
    out = measures.assign(indicator_id=parts[0], sex=parts[1], age_band=parts[2])
    out = out[(out["numerator"] > 0) | (out["denominator"] > 0)]
    return out[BANDED_COLUMNS].reset_index(drop=True)


def compute_banded_measures(events_dir, out_dir=None, catalogue=None, periods=None, *, indicators=None,
                            bands=FIVE_YEAR_BANDS, fmt: str = "parquet", **kwargs) -> pd.DataFrame:
    """Compute the ``measures_banded`` table from patient-level events (module docstring).

    Parameters
    ----------
    events_dir, catalogue, periods
        As :func:`cluster_eval.indicators.compute_measures` (use the same periods as for the measures).
    out_dir : str or Path, optional
        When given, ``measures_banded.parquet`` (or ``.csv``) is written there.
    indicators : list of str, optional
        Indicator ids to band. Default: those marked ``standardised: true`` in the catalogue.
    bands : sequence of (label, min age, max age or None)
        Default: the 19 five-year bands of the population table.
    **kwargs
        Passed on to ``compute_measures`` (``progress``, ``validate``, ``memory_limit``, ``threads``).

    Returns
    -------
    DataFrame
        indicator_id, practice_id, period, sex, age_band, numerator, denominator.
    """
    from .engine import _resolve_catalogue, compute_measures

    cat = _resolve_catalogue(catalogue)
    by_id = {i.id: i for i in cat}
    if indicators is None:
        chosen = [i for i in cat if getattr(i, "standardised", False)]
    else:
        unknown = [i for i in indicators if i not in by_id]
        if unknown:
            raise ArgumentError(f"indicators must be catalogue ids; got {unknown[0]!r}")
        chosen = [by_id[i] for i in indicators]
    cols = BANDED_COLUMNS
    if not chosen:
        out = pd.DataFrame(columns=cols)
    else:
        raw = compute_measures(events_dir, catalogue=banded_indicators(chosen, bands), periods=periods, **kwargs)
        out = split_banded(raw)
    if out_dir is not None:
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"measures_banded.{fmt}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        if fmt == "parquet":
            out.to_parquet(tmp, index=False)
        else:
            out.to_csv(tmp, index=False, date_format="%Y-%m-%d")
        tmp.replace(path)
    return out
