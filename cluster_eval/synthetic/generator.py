"""Assemble the synthetic Denmark: geography, lists, population, uptake, expected values, draws.

Everything is vectorised over practice × month arrays (P, T); the only Python loops run over the
eleven indicators, the five regions and the clusters of one region.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from ..data.loading import Dataset
from . import geography, nuisance, population, truth, uptake
from .indicators_model import (
    INDICATORS,
    TOPICS,
    national_pattern,
    old_cells,
    practice_level,
    prevalence_cells,
    prevalence_sd,
    rate_profile,
)


@dataclass(frozen=True)
class Scale:
    """Size and time window of one synthetic scale."""

    n_practices: int
    n_clusters: int
    n_unclustered: int
    n_municipalities: int | None
    first: str            # first period, "YYYY-MM"
    n_months: int
    uptake_first: str     # the uptake window, "YYYY-MM"
    uptake_last: str
    n_opening: int        # practices that open during the period
    n_closing: int        # practices that close during the period
    n_gaps: int           # practices with 1-3 missing months (a reporting gap)
    min_cluster: int = geography.MIN_CLUSTER   # practices per cluster
    max_cluster: int = geography.MAX_CLUSTER


SCALES = {
    "small": Scale(120, 12, 3, 15, "2019-01", 48, "2019-07", "2021-12", 2, 2, 2),
    "denmark": Scale(1700, 116, 14, None, "2016-01", 108, "2019-01", "2023-12", 20, 25, 15),
    # English primary care networks' size (about 6,400 practices in 1,250 PCNs of 2-12 practices), laid out
    # on the Danish geography and time window: for estimators' behaviour with many small clusters.
    "england": Scale(6400, 1250, 40, None, "2016-01", 108, "2019-01", "2023-12", 75, 95, 55, 2, 12),
}

#: Practice random effects are truncated (clipped) at this many standard deviations.
TRUNCATE = 2.5
#: Log-scale SD of the yearly change of a practice's list size, and its mean drift.
LIST_DRIFT, LIST_SD = 0.004, 0.03
#: The J01 count (numerator of this indicator) is the denominator of the J01 shares; penicillin V is
#: drawn first and the other shares among the remaining prescriptions.
J01_SOURCE, PENV = "abx_rate", "abx_penv_share"
BY_ID_MULT = {s.id: s.multiplier for s in INDICATORS}
#: Bounds the expected value is clipped to (rates per 1,000; proportions); the tests check they never bind.
RATE_FLOOR, PROP_EPS = 1e-3, 1e-4


def _month_index(ym: str) -> int:
    y, m = (int(x) for x in ym.split("-"))
    return y * 12 + m - 1


def _tnorm(rng, sd, size):
    return sd * np.clip(rng.standard_normal(size), -TRUNCATE, TRUNCATE)


def _date(m: np.ndarray, day=1) -> np.ndarray:
    m = np.asarray(m)
    return pd.to_datetime({"year": m // 12, "month": m % 12 + 1, "day": np.broadcast_to(day, m.shape)}).to_numpy()


def _ar1_normal(rng, shape, phi):
    """Normal scores (P, T) following a stationary AR(1) over months with correlation ``phi`` (SD 1)."""
    eps = rng.standard_normal(shape)
    z = np.empty(shape)
    z[:, 0] = eps[:, 0]
    scale = np.sqrt(1.0 - phi**2)
    for t in range(1, shape[1]):
        z[:, t] = phi * z[:, t - 1] + scale * eps[:, t]
    return z


#: Normal-score grid of the quantile tables (|z| beyond 6.5 has probability < 1e-10 and is clamped).
Z_GRID = np.linspace(-6.5, 6.5, 131)


def _bilinear(table: np.ndarray, x_grid: np.ndarray, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``table`` (len(x_grid), len(Z_GRID)) at points (x, z) (clamped to the grids)."""
    fx = np.interp(x, x_grid, np.arange(len(x_grid)))
    fz = np.interp(z, Z_GRID, np.arange(len(Z_GRID)))
    i = np.minimum(fx.astype(np.int64), len(x_grid) - 2)
    j = np.minimum(fz.astype(np.int64), len(Z_GRID) - 2)
    a, b = fx - i, fz - j
    return ((1 - a) * (1 - b) * table[i, j] + a * (1 - b) * table[i + 1, j]
            + (1 - a) * b * table[i, j + 1] + a * b * table[i + 1, j + 1])


def _beta_quantile(p: np.ndarray, s: float, z: np.ndarray) -> np.ndarray:
    """Quantile of Beta(p·s, (1 − p)·s) at Φ(z), interpolated in a table over logit(p) and z.

    The table holds exact ``betaincinv`` values on 129 logit points spanning the data's range and 131
    normal scores; linear interpolation errs by < 1% of the beta SD (checked in tests/synthetic),
    at a tenth of the cost of evaluating ``betaincinv`` at every practice-month.
    """
    lp = special.logit(np.clip(p, 1e-7, 1 - 1e-7))
    lo, hi = float(lp.min()), float(lp.max())
    x_grid = np.linspace(lo, hi + 1e-9, 129)
    pg = special.expit(x_grid)[:, None]
    table = special.betaincinv(pg * s, (1 - pg) * s, special.ndtr(Z_GRID)[None, :])
    return np.clip(_bilinear(table, x_grid, lp, z), 0.0, 1.0)


def _beta_binomial(rng, n, p, rho, phi=0.0):
    """Beta-binomial draws with mean n·p and intra-class correlation rho (binomial when rho = 0).

    The beta variable is drawn by a Gaussian copula with AR(1) correlation ``phi`` over months
    (axis 1), so a practice's deviations persist while each month's marginal stays Beta.
    """
    n = np.asarray(n, dtype=np.int64)
    if rho > 0:
        s = 1.0 / rho - 1.0
        z = _ar1_normal(rng, np.shape(p), phi)
        p = _beta_quantile(np.asarray(p, float), s, z)
    return rng.binomial(n, p)


def _gamma_poisson(rng, mean, k, phi=0.0):
    """Gamma-Poisson (negative binomial) draws with the given mean and gamma shape k (AR(1) copula as above).

    The Gamma(k, 1/k) quantile at Φ(z) is interpolated on a fine z grid (exact ``gammaincinv`` values).
    """
    z = _ar1_normal(rng, np.shape(mean), phi)
    zg = np.linspace(-6.5, 6.5, 2601)
    g = np.interp(z, zg, special.gammaincinv(k, special.ndtr(zg)) / k)
    return rng.poisson(mean * g)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """The dtypes ``load_dataset`` gives the contract's tables: text as ``string``, dates ``datetime64[ns]``."""
    out = {}
    for col in df.columns:
        x = df[col]
        if pd.api.types.is_datetime64_any_dtype(x):
            out[col] = x.astype("datetime64[ns]")
        elif pd.api.types.is_numeric_dtype(x):
            out[col] = x.astype(float)
        else:
            out[col] = x.astype("string")
    return pd.DataFrame(out)


def simulate(scale: str = "small", seed: int = 0, nuisances: nuisance.Nuisance | None = None
             ) -> tuple[Dataset, dict]:
    """Generate the synthetic data set and diagnostics (clip counts, expected values). See ``generate``.

    ``nuisances`` (default ``Nuisance()``, the defaults of ``generate``) sets the cluster and region
    shocks, practice-varying effects, variation changes and the dip (``cluster_eval.synthetic.nuisance``).
    """
    cfg = SCALES[scale]
    nz = nuisance.Nuisance() if nuisances is None else nuisances
    rng = np.random.default_rng(seed)
    rng_n = np.random.default_rng([int(seed), 7])     # the nuisances' own stream
    first = _month_index(cfg.first)
    months = first + np.arange(cfg.n_months)
    last = int(months[-1])
    year, month = months // 12, months % 12 + 1
    years = np.arange(year[0], year[-1] + 1)
    yi = year - years[0]

    # --- geography, opening and closing ------------------------------------------------------
    practices, clusters = geography.make_geography(rng, cfg.n_practices, cfg.n_clusters, cfg.n_unclustered,
                                                   cfg.n_municipalities, cfg.min_cluster, cfg.max_cluster)
    P, T = len(practices), len(months)
    cid_to_idx = {c: i for i, c in enumerate(clusters["cluster_id"])}
    ci = np.array([cid_to_idx.get(c, -1) if c is not None else -1 for c in practices["cluster_id"]])
    special = rng.choice(P, size=cfg.n_opening + cfg.n_closing + cfg.n_gaps, replace=False)
    opening = special[:cfg.n_opening]
    closing = special[cfg.n_opening:cfg.n_opening + cfg.n_closing]
    gappy = special[cfg.n_opening + cfg.n_closing:]
    open_m = np.full(P, first - 1)
    open_m[opening] = rng.integers(first + 6, last - 12, size=len(opening))
    close_m = np.full(P, last + 1)
    close_m[closing] = rng.integers(first + 12, last - 6, size=len(closing))
    present = (months >= open_m[:, None]) & (months <= close_m[:, None])
    for g in gappy:   # a reporting gap of 1-3 months (rows absent)
        start = rng.integers(first + 3, last - 3)
        present[g, start - first:start - first + rng.integers(1, 4)] = False
    old_open = _date(rng.integers(1975 * 12, 2015 * 12, size=P), rng.integers(1, 29, size=P))
    practices["opened"] = np.where(open_m >= first, _date(open_m), old_open)
    practices["closed"] = pd.Series(_date(np.minimum(close_m, last)), dtype="datetime64[ns]")
    practices.loc[close_m > last, "closed"] = pd.NaT

    # --- list sizes (monthly) and population (yearly) ------------------------------------------
    growth = np.cumsum(rng.normal(LIST_DRIFT, LIST_SD, (P, len(years) + 1)), axis=1)
    growth -= growth[:, :1]
    list_y = practices["list_size"].to_numpy()[:, None] * np.exp(growth)          # (P, Y+1) at 1 January
    frac = (month - 1) / 12.0
    n_list = list_y[:, yi] * (1 - frac) + list_y[:, yi + 1] * frac                # (P, T)
    since_open = months - open_m[:, None]
    n_list *= np.where(open_m[:, None] >= first, np.clip(0.3 + 0.7 * since_open / 12, 0.3, 1.0), 1.0)
    to_close = close_m[:, None] - months
    n_list *= np.clip(to_close / 6.0, 0.2, 1.0)
    n_list = np.round(n_list)
    n_list[close_m[:, None] == months] = 0        # the closing month: list already transferred
    n_list[~present] = 0

    tilt = practices["age_tilt"].to_numpy()[:, None] + population.AGEING_PER_YEAR * (years - 2016)
    present_y = np.zeros((P, len(years)), dtype=bool)
    first_in_year = np.zeros((P, len(years)))
    for y_idx in range(len(years)):   # list at the first month with patients in each year
        cols = np.flatnonzero(yi == y_idx)
        has = n_list[:, cols] > 0
        present_y[:, y_idx] = has.any(axis=1)
        first_in_year[:, y_idx] = n_list[np.arange(P), cols[np.argmax(has, axis=1)]]
    counts = population.draw_population(rng, first_in_year.astype(np.int64), tilt)
    pop = population.population_frame(practices["practice_id"], years, counts, present_y)
    shares = population.practice_structure(tilt)                                  # (P, Y, 38)

    # sub-populations (denominators)
    t2d = np.round(n_list * (shares @ prevalence_cells("t2d"))[:, yi]
                   * np.exp(_tnorm(rng, prevalence_sd("t2d"), P))[:, None])
    copd = np.round(n_list * (shares @ prevalence_cells("copd"))[:, yi]
                    * np.exp(_tnorm(rng, prevalence_sd("copd"), P))[:, None])
    tot = counts.sum(axis=2)
    old_share = np.where(tot > 0, (counts @ old_cells()) / np.maximum(tot, 1), shares @ old_cells())
    old = np.round(n_list * old_share[:, yi])

    # --- random effects, baseline expected values --------------------------------------------
    K = len(INDICATORS)
    region_idx = pd.Categorical(practices["region"], categories=geography.REGIONS).codes
    baseline = np.empty((K, P, T))
    v_all = np.zeros((len(clusters), K))
    levels = np.empty((K, P, T))
    for k, s in enumerate(INDICATORS):
        m = s.model
        u = _tnorm(rng, m.sd_practice, P)
        v = _tnorm(rng, m.sd_cluster, len(clusters))
        r = _tnorm(rng, m.sd_region, len(geography.REGIONS))
        v_all[:, k] = v / m.sd_cluster * (1 if s.better == "lower" else -1)   # + = worse
        re = u + np.where(ci >= 0, v[np.maximum(ci, 0)], 0.0) + r[region_idx]
        level = practice_level(s, re, m.sd_practice**2 + m.sd_cluster**2 + m.sd_region**2)
        if s.kind == "rate":
            level = level[:, None] * (shares @ rate_profile(s.id))[:, yi]
        else:
            level = np.broadcast_to(level[:, None], (P, T))
        levels[k] = level
        baseline[k] = level + national_pattern(s, year, month)[None, :]

    # --- uptake and effects ---------------------------------------------------------------------
    badness = np.stack([v_all[:, [k for k, s in enumerate(INDICATORS) if s.topic == t]].mean(axis=1)
                        for t in TOPICS], axis=1)
    start = uptake.draw_uptake(rng, badness, _month_index(cfg.uptake_first), _month_index(cfg.uptake_last))
    h = truth.draw_multipliers(rng, len(clusters))
    activities = uptake.activities_frame(rng, clusters["cluster_id"], start, intensity=h)
    headroom = np.full((len(clusters), K), np.inf)
    for k, s in enumerate(INDICATORS):
        dist = baseline[k] if s.better == "lower" else (1.0 - baseline[k] if s.kind == "proportion" else None)
        if dist is None:
            continue
        per_practice = np.where(present, dist, np.inf).min(axis=1)
        np.minimum.at(headroom[:, k], ci[ci >= 0], per_practice[ci >= 0])
    delta = truth.effect_sizes(rng, INDICATORS, h, headroom)

    # --- nuisances (own random stream): practice effects, variation change, dips, shocks ------------
    C, J = len(clusters), len(TOPICS)
    treated = start != uptake.NEVER
    factor = nuisance.effect_factors(rng_n, ci, C, nz.effect_sd)
    var_change = treated & (rng_n.random((C, J)) < nz.variation_share)
    dipped = treated & (rng_n.random((C, J)) < nz.dip_share) & nz.dip
    den_expected = {"list": n_list, "t2d": t2d, "copd": copd, "old": old,
                    "j01": np.round(baseline[[s.id for s in INDICATORS].index(J01_SOURCE)] * n_list
                                    / BY_ID_MULT[J01_SOURCE])}
    sigma = np.array([nuisance.residual_sd(s.kind, baseline[k], den_expected[s.model.denominator],
                                           s.model.dispersion, s.multiplier, present)
                      for k, s in enumerate(INDICATORS)])
    z_cluster = nuisance.ar1(rng_n, C * K, T, nz.shock_rho).reshape(K, C, T)
    z_region = nuisance.ar1(rng_n, len(geography.REGIONS) * K, T, nz.shock_rho).reshape(
        K, len(geography.REGIONS), T)
    truth_df = truth.truth_frame(clusters["cluster_id"], INDICATORS, start, delta, last, uptake.NEVER,
                                 var_change=var_change, variation_ratio=nz.variation_ratio, dipped=dipped)

    # --- expected values with effects, draws ---------------------------------------------------
    denominators = {"list": n_list, "t2d": t2d, "copd": copd, "old": old}
    expected = np.empty_like(baseline)
    clipped = {}
    frames = []
    pid = practices["practice_id"].to_numpy(dtype=object)
    p_idx, t_idx = np.nonzero(present)
    periods = _date(months)[t_idx]
    penv_draw = None
    cl = np.maximum(ci, 0)
    in_cl = (ci >= 0)[:, None]
    shocks = np.zeros((K, P, T))
    for k, s in enumerate(INDICATORS):
        m = s.model
        j = TOPICS.index(s.topic)
        st = np.where(ci >= 0, start[cl, j], uptake.NEVER)
        e = months[None, :] - st[:, None]
        on = st[:, None] != uptake.NEVER
        rp = np.where(on, truth.ramp(e, m.ramp), 0.0)
        eff = rp * np.where(ci >= 0, delta[cl, k], 0.0)[:, None] * factor[:, None]
        mu = baseline[k] + eff
        if nz.variation_share > 0 and var_change.any():
            shrink = np.where(in_cl & var_change[cl, j][:, None], (1 - nz.variation_ratio) * rp, 0.0)
            mu = mu - shrink * nuisance.centred_levels(levels[k], ci, C)
        if nz.dip:
            worse = 1.0 if s.better == "lower" else -1.0
            spell = np.where(in_cl & dipped[cl, j][:, None] & on, nuisance.dip_profile(e, nz.dip_months), 0.0)
            room = np.inf if s.kind == "rate" else (1.0 - mu if worse > 0 else mu)   # to the worse boundary
            mu = mu + worse * np.minimum(nz.dip_size * abs(m.effect), 0.5 * room) * spell
        if nz.cluster_shock > 0 or nz.region_shock > 0:
            shocks[k] = sigma[k] * (nz.cluster_shock * np.where(in_cl, z_cluster[k][cl], 0.0)
                                    + nz.region_shock * z_region[k][region_idx])
            shocks[k] *= nuisance.shock_scale(s.kind, mu, m.level)
            mu = mu + shocks[k]
        lo, hi = (RATE_FLOOR, np.inf) if s.kind == "rate" else (PROP_EPS, 1 - PROP_EPS)
        clipped[s.id] = int(((mu < lo) | (mu > hi))[present].sum())
        mu = np.clip(mu, lo, hi)
        expected[k] = mu
        if s.kind == "rate":
            den = n_list
            num = _gamma_poisson(rng, mu * den / s.multiplier, m.dispersion, m.autocorr)
            if s.id == J01_SOURCE:
                j01 = num
        elif m.denominator == "j01":
            den = j01
            if s.id == PENV:
                num = penv_draw = _beta_binomial(rng, den, mu, m.dispersion, m.autocorr)
                p_penv = mu
            else:   # other J01 shares drawn among the non-penicillin-V prescriptions: E[num] = j01 · mu
                q = np.clip(mu / np.maximum(1 - p_penv, 1e-9), 0.0, 1.0)
                num = _beta_binomial(rng, den - penv_draw, q, m.dispersion, m.autocorr)
        else:
            den = denominators[m.denominator]
            num = _beta_binomial(rng, den, mu, m.dispersion, m.autocorr)
        frames.append(pd.DataFrame({
            "indicator_id": s.id,
            "practice_id": pid[p_idx],
            "period": periods,
            "numerator": num[p_idx, t_idx].astype(float),
            "denominator": den[p_idx, t_idx].astype(float),
        }))
    measures = pd.concat(frames, ignore_index=True)

    practices = practices[["practice_id", "cluster_id", "region", "municipality", "opened", "closed"]]
    ds = Dataset(practices=_typed(practices), clusters=_typed(clusters), activities=_typed(activities),
                 measures=_typed(measures), population=_typed(pop), truth=truth_df,
                 source={"synthetic": f"scale={scale}, seed={seed}"
                         + ("" if nz == nuisance.Nuisance() else ", " + nz.describe())})
    diagnostics = {"clipped": clipped, "expected": expected, "baseline": baseline, "present": present,
                   "months": months, "cluster_index": ci, "delta": delta, "start": start,
                   "indicators": [s.id for s in INDICATORS], "nuisances": nz, "residual_sd": sigma,
                   "shocks": shocks, "effect_factor": factor, "variation_change": var_change,
                   "dipped": dipped, "region_index": region_idx}
    return ds, diagnostics
