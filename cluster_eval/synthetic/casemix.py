"""Banded synthetic measures: numerator and denominator per sex and age band, so that case mix matters.

The synthetic generator (:mod:`cluster_eval.synthetic.generator`) draws each practice-month's count of a rate
indicator around ``level · A_i · exp(random effects) + national pattern``, where ``A_i`` is the practice's
age-sex ratio: its list structure weighted by the indicator's relative band rates ρ_b
(:func:`cluster_eval.synthetic.indicators_model.rate_profile`; antibiotics high in small children and the
old, opioids and benzodiazepines rising steeply with age, women higher). An older list therefore has a
higher crude rate with no difference in care. This module splits those practice-month counts into the 38
sex x age-band cells:

* **denominator** (listed persons in the month): the practice's list ``d_it`` apportioned to the cells in
  proportion to its persons in the population table of that year (largest-remainder rounding, so the cells
  are whole persons and add up exactly to ``d_it``);
* **numerator**: ``X_it`` drawn by the generator, split multinomially with probabilities
  ``π_itb = d_itb ρ_b / Σ_c d_itc ρ_c``. Given the practice-month's gamma factor the cell counts are then
  independent Poisson with means ``μ_it d_it/1000 · π_itb``: band-specific rates ``ρ_b``-proportional within
  the practice, the practice's overdispersion shared by its cells.

The banded rows add up exactly to the practice-level measures (same numerator and denominator), so the
practice-level tables are unchanged. The truth (:func:`banded_truth`) is the expectation of every cell,
``E[X_itb] = μ_it d_it/1000 · π_itb`` with μ the generator's expected value (``diagnostics["expected"]``);
the national band rate is ``r_b(t) = Σ_i E[X_itb] / Σ_i d_itb`` and a unit's true expected count under the
national band rates ``Σ_b d_ub(t) r_b(t)``.

Only the rate indicators with a list denominator have an age-sex profile in the generator (its proportion
indicators have none, so their banded form would carry no case mix); they are the ones banded here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .population import AGE_BANDS, SEXES

#: The 38 cells in the generator's order: F bands, then M bands.
CELL_SEX = np.repeat(np.array(SEXES, dtype=object), len(AGE_BANDS))
CELL_BAND = np.tile(np.array(AGE_BANDS, dtype=object), len(SEXES))
#: Broad age bands (for a compact synthetic export): five-year band -> broad band.
BROAD_BANDS = {b: ("0-14" if i < 3 else "15-44" if i < 9 else "45-64" if i < 13 else "65-79" if i < 16 else "80+")
               for i, b in enumerate(AGE_BANDS)}
#: The stream of random numbers the split uses (independent of the generator's own stream).
STREAM = 0xCA5E


def banded_indicator_ids() -> tuple[str, ...]:
    """The indicators the generator gives an age-sex rate profile (and a list denominator)."""
    from .indicators_model import _RATE_PROFILES

    return tuple(_RATE_PROFILES)


def _profile(indicator_id: str) -> np.ndarray:
    from .indicators_model import rate_profile

    return rate_profile(indicator_id)


@dataclass
class BandedArrays:
    """Banded counts of one indicator as arrays: practice x month x cell (38 cells: F bands, then M bands)."""

    indicator_id: str
    practice_ids: np.ndarray
    periods: pd.DatetimeIndex
    numerator: np.ndarray      # (P, T, 38)
    denominator: np.ndarray    # (P, T, 38)
    present: np.ndarray        # (P, T) the practice-month has a measures row
    probabilities: np.ndarray  # (P, T, 38) the split probabilities π
    cell_sex: np.ndarray = dataclasses.field(default_factory=lambda: CELL_SEX)
    cell_band: np.ndarray = dataclasses.field(default_factory=lambda: CELL_BAND)

    def coarsen(self, bands: dict) -> BandedArrays:
        """The same counts in broader cells: ``bands`` maps each age band to its broader band (sexes kept)."""
        labels = pd.Index([f"{s}|{bands[b]}" for s, b in zip(self.cell_sex, self.cell_band)])
        uniq = pd.Index(pd.unique(labels))
        to = uniq.get_indexer(labels)
        agg = np.zeros((len(self.cell_sex), len(uniq)))
        agg[np.arange(len(to)), to] = 1.0
        sex, band = zip(*(u.split("|", 1) for u in uniq))
        return BandedArrays(self.indicator_id, self.practice_ids, self.periods, self.numerator @ agg,
                            self.denominator @ agg, self.present, self.probabilities @ agg,
                            np.array(sex, dtype=object), np.array(band, dtype=object))


def _matrix(measures: pd.DataFrame, pids: pd.Index, periods: pd.DatetimeIndex):
    r = pids.get_indexer(measures["practice_id"])
    c = periods.get_indexer(measures["period"])
    num = np.zeros((len(pids), len(periods)))
    den = np.zeros((len(pids), len(periods)))
    present = np.zeros((len(pids), len(periods)), dtype=bool)
    num[r, c] = measures["numerator"].to_numpy(float)
    den[r, c] = measures["denominator"].to_numpy(float)
    present[r, c] = True
    return num, den, present


def population_cells(population: pd.DataFrame, pids: pd.Index, years: np.ndarray) -> np.ndarray:
    """Persons per practice, year and cell (P, Y, 38) from the population table (0 where absent)."""
    cell = pd.Index([f"{s}|{b}" for s, b in zip(CELL_SEX, CELL_BAND)])
    out = np.zeros((len(pids), len(years), len(cell)))
    pop = population
    r = pids.get_indexer(pop["practice_id"])
    y = pd.Index(years).get_indexer(pd.to_datetime(pop["period"]).dt.year)
    k = cell.get_indexer(pop["sex"].astype(str) + "|" + pop["age_band"].astype(str))
    ok = (r >= 0) & (y >= 0) & (k >= 0)
    np.add.at(out, (r[ok], y[ok], k[ok]), pop["persons"].to_numpy(float)[ok])
    return out


def apportion(total: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Whole numbers per cell adding up exactly to ``total`` (largest remainder, Hamilton's method).

    ``total`` (...,) whole numbers >= 0, ``weights`` (..., K) >= 0; rows whose weights are all 0 are split
    evenly over the K cells.
    """
    w = np.asarray(weights, float)
    s = w.sum(axis=-1, keepdims=True)
    share = np.where(s > 0, w / np.where(s > 0, s, 1.0), 1.0 / w.shape[-1])
    q = np.asarray(total, float)[..., None] * share
    f = np.floor(q + 1e-9)
    rest = np.rint(np.asarray(total, float) - f.sum(axis=-1)).astype(int)
    order = np.argsort(-(q - f), axis=-1, kind="stable")
    rank = np.argsort(order, axis=-1, kind="stable")
    return f + (rank < rest[..., None])


def banded_arrays(dataset, indicator_id: str, seed: int = 0) -> BandedArrays:
    """Split one rate indicator's practice-month counts into the 38 sex x age-band cells (module docstring).

    ``dataset`` is a synthetic :class:`~cluster_eval.data.loading.Dataset` with its population table; the
    split draws from its own stream (``seed`` and :data:`STREAM`), so the practice-level data are untouched.
    """
    if dataset.population is None or not len(dataset.population):
        raise ValueError("banded measures need the population table (persons by sex and age band)")
    m = dataset.measures[dataset.measures["indicator_id"] == indicator_id]
    pids = pd.Index(dataset.practices["practice_id"].astype(str))   # the generator's order (diagnostics rows)
    periods = pd.DatetimeIndex(sorted(m["period"].unique()))
    num, den, present = _matrix(m, pids, periods)
    years = np.arange(periods.year.min(), periods.year.max() + 1)
    cells = population_cells(dataset.population, pids, years)            # (P, Y, 38)
    yi = periods.year.to_numpy() - years[0]
    d_b = apportion(den, cells[:, yi, :])                                # (P, T, 38)
    w = d_b * _profile(indicator_id)
    s = w.sum(axis=-1, keepdims=True)
    p = np.where(s > 0, w / np.where(s > 0, s, 1.0), 0.0)
    p[(s[..., 0] == 0)] = 1.0 / p.shape[-1]   # no listed persons: the count is 0 anyway
    rng = np.random.default_rng([int(seed), STREAM, sum(map(ord, indicator_id))])
    x_b = rng.multinomial(np.rint(num).astype(np.int64), p).astype(float)
    return BandedArrays(indicator_id, pids.to_numpy(), periods, x_b, d_b, present, p)


def banded_measures(dataset, seed: int = 0, indicators=None, bands: dict | None = None) -> pd.DataFrame:
    """The contract's ``measures_banded`` table for the synthetic data set.

    One row per indicator, practice, month (with a measures row), sex and age band with listed persons or
    events: ``indicator_id, practice_id, period, sex, age_band, numerator, denominator``. Cells with neither
    persons nor events are left out (they add nothing). Per indicator, practice and month the rows add up to
    the measures table's numerator and denominator. ``bands`` (e.g. :data:`BROAD_BANDS`) merges the
    five-year bands into broader ones.
    """
    ids = banded_indicator_ids() if indicators is None else tuple(indicators)
    present_ids = set(dataset.measures["indicator_id"].astype(str).unique())
    parts = []
    for iid in ids:
        if iid not in present_ids:
            continue
        a = banded_arrays(dataset, iid, seed)
        if bands is not None:
            a = a.coarsen(bands)
        keep = a.present[..., None] & ((a.denominator > 0) | (a.numerator > 0))
        p_idx, t_idx, k_idx = np.nonzero(keep)
        parts.append(pd.DataFrame({
            "indicator_id": iid,
            "practice_id": a.practice_ids[p_idx],
            "period": a.periods.to_numpy()[t_idx],
            "sex": a.cell_sex[k_idx],
            "age_band": a.cell_band[k_idx],
            "numerator": a.numerator[keep],
            "denominator": a.denominator[keep],
        }))
    cols = ["indicator_id", "practice_id", "period", "sex", "age_band", "numerator", "denominator"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    for c in ("indicator_id", "practice_id", "sex", "age_band"):
        out[c] = out[c].astype("string")
    return out[cols]


def banded_truth(arrays: BandedArrays, diagnostics: dict) -> dict:
    """The true cell expectations and national band rates of one banded indicator.

    Parameters
    ----------
    arrays : BandedArrays
        From :func:`banded_arrays` on the data set that ``diagnostics`` describe.
    diagnostics : dict
        The second value of :func:`cluster_eval.synthetic.generator.simulate` (``expected``,
        ``indicators``, ``months``).

    Returns
    -------
    dict
        ``cell_mean`` (P, T, 38): E[X_itb] = μ_it d_it/1000 · π_itb; ``national_rate`` (T, 38):
        r_b(t) = Σ_i E[X_itb] / Σ_i d_itb (NaN where no persons); ``expected`` (P, T): the practices' true
        expected counts under the national band rates, Σ_b d_itb r_b(t); ``mean`` (P, T): E[X_it].
    """
    k = list(diagnostics["indicators"]).index(arrays.indicator_id)
    mu = np.asarray(diagnostics["expected"][k], float)                  # (P_gen, T_gen), per 1,000
    months = np.asarray(diagnostics["months"])
    gen_periods = pd.to_datetime({"year": months // 12, "month": months % 12 + 1, "day": 1})
    cols = pd.DatetimeIndex(gen_periods).get_indexer(arrays.periods)
    mu = mu[:, cols]
    den = arrays.denominator.sum(axis=-1)
    mean = np.where(arrays.present, mu * den / 1000.0, 0.0)
    cell_mean = mean[..., None] * arrays.probabilities
    d_nat = arrays.denominator.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(d_nat > 0, cell_mean.sum(axis=0) / d_nat, np.nan)
    expected = (arrays.denominator * np.nan_to_num(rate)[None]).sum(axis=-1)
    return {"cell_mean": cell_mean, "national_rate": rate, "expected": expected, "mean": mean}
