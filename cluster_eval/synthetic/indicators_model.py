"""Generating parameters of the synthetic indicators (keyed by catalogue id), and their expected values.

Expected value of indicator k for practice i (cluster c, region g) in month t, in the reported
unit (proportion 0-1; rate per 1,000 listed per month), *without* any cluster effect:

    rate:        m_it = level · A_i,y(t) · exp(u_i + v_c + r_g − s²/2)  +  N_k(t)
    proportion:  m_it = expit(logit(level) + u_i + v_c + r_g)            +  N_k(t)

with practice, cluster and region random effects u ~ N(0, sd_practice²), v ~ N(0, sd_cluster²),
r ~ N(0, sd_region²) (each truncated at ±2.5 SD; s² their total variance), ``A`` the practice's
age-sex ratio (its expected crude rate over the national one, rates only), and a national time
pattern that is *additive* on the value scale, so that parallel trends hold exactly in
expectation on the reported scale:

    rate:        N_k(t) = level · (exp(η_k(t)) − 1)
    proportion:  N_k(t) = expit(logit(level) + η_k(t)) − level
    η_k(t) = trend · (t − 2020.0 in years) + season · cos(2π (month − peak) / 12) + covid · C(t)

``C(t)`` is a fixed COVID-19 profile (spring 2020 lockdown, second wave winter 2020/21).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .population import AGE_BANDS, OLD, national_structure


@dataclass(frozen=True)
class IndicatorModel:
    """Generating parameters of one indicator (see the module docstring for the model).

    Only the model lives here; the indicator's id, title, topic, kind, multiplier and better direction
    come from the catalogue (``cluster_eval/indicators/catalogue.yaml``), which :data:`MODEL` is keyed by.
    """

    denominator: str        # "list", "j01" (the practice's J01 prescriptions), "t2d", "copd", "old" (65+)
    level: float            # national expected value in 2020 (value scale, before seasonality)
    sd_practice: float      # log (rate) or logit (proportion) scale
    sd_cluster: float
    sd_region: float
    dispersion: float       # rate: gamma shape k of the Poisson mean; proportion: beta-binomial ICC rho
    trend: float            # per year, link scale
    season: float           # amplitude, link scale
    peak: float             # month of the seasonal peak (1 = January)
    covid: float            # link-scale shift at the COVID profile's maximum
    effect: float           # mean full effect in the reported unit (signed: in the better direction)
    ramp: int               # months until the full effect (event_time ramp-1 reaches it)
    autocorr: float = 0.5   # month-to-month AR(1) correlation of the practice's overdispersion term


#: The generator's model parameters, keyed by catalogue id (the catalogue's order is kept in INDICATORS).
MODEL: dict[str, IndicatorModel] = {
    "abx_rate": IndicatorModel(
        denominator="list", level=30.0, sd_practice=0.18, sd_cluster=0.08, sd_region=0.05, dispersion=40.0,
        trend=-0.025, season=0.18, peak=1.5, covid=-0.28, effect=-2.5, ramp=6, autocorr=0.3),
    "abx_penv_share": IndicatorModel(
        denominator="j01", level=0.60, sd_practice=0.25, sd_cluster=0.12, sd_region=0.05, dispersion=0.01,
        trend=0.02, season=0.12, peak=1.5, covid=-0.10, effect=0.035, ramp=6, autocorr=0.3),
    "abx_quinolone_share": IndicatorModel(
        denominator="j01", level=0.04, sd_practice=0.30, sd_cluster=0.12, sd_region=0.05, dispersion=0.005,
        trend=-0.05, season=-0.10, peak=1.5, covid=0.15, effect=-0.006, ramp=6, autocorr=0.3),
    "t2d_hba1c_measured": IndicatorModel(
        denominator="t2d", level=0.87, sd_practice=0.35, sd_cluster=0.15, sd_region=0.05, dispersion=0.01,
        trend=0.0, season=0.0, peak=1.0, covid=-0.35, effect=0.03, ramp=12, autocorr=0.9),
    "t2d_hba1c_below59": IndicatorModel(
        denominator="t2d", level=0.70, sd_practice=0.20, sd_cluster=0.10, sd_region=0.05, dispersion=0.005,
        trend=0.02, season=0.0, peak=1.0, covid=-0.05, effect=0.02, ramp=12, autocorr=0.9),
    "copd_spirometry": IndicatorModel(
        denominator="copd", level=0.55, sd_practice=0.45, sd_cluster=0.20, sd_region=0.10, dispersion=0.02,
        trend=-0.03, season=0.0, peak=1.0, covid=-0.80, effect=0.06, ramp=12, autocorr=0.9),
    "copd_ics": IndicatorModel(
        denominator="copd", level=0.40, sd_practice=0.30, sd_cluster=0.12, sd_region=0.05, dispersion=0.01,
        trend=-0.04, season=0.0, peak=1.0, covid=0.0, effect=-0.03, ramp=12, autocorr=0.9),
    "dep_opioid_users": IndicatorModel(
        denominator="list", level=20.0, sd_practice=0.25, sd_cluster=0.10, sd_region=0.08, dispersion=60.0,
        trend=-0.03, season=0.0, peak=1.0, covid=0.0, effect=-1.2, ramp=6, autocorr=0.7),
    "dep_benzo_users": IndicatorModel(
        denominator="list", level=12.0, sd_practice=0.25, sd_cluster=0.10, sd_region=0.06, dispersion=60.0,
        trend=-0.04, season=0.0, peak=1.0, covid=0.0, effect=-0.8, ramp=6, autocorr=0.7),
    "eld_polypharmacy": IndicatorModel(
        denominator="old", level=0.20, sd_practice=0.25, sd_cluster=0.10, sd_region=0.05, dispersion=0.005,
        trend=0.02, season=0.0, peak=1.0, covid=0.0, effect=-0.015, ramp=12, autocorr=0.9),
    "eld_nsaid": IndicatorModel(
        denominator="old", level=0.04, sd_practice=0.30, sd_cluster=0.12, sd_region=0.05, dispersion=0.003,
        trend=-0.04, season=0.0, peak=1.0, covid=-0.05, effect=-0.006, ramp=6, autocorr=0.5),
}


@dataclass(frozen=True)
class IndicatorSpec:
    """One synthetic indicator: the catalogue's metadata and the generator's :class:`IndicatorModel`.

    ``id``, ``title``, ``topic``, ``kind``, ``multiplier`` and ``better`` are read from the catalogue;
    ``model`` holds the generating parameters. ``ce.impact.build_panels`` accepts a sequence of these
    (it reads ``id``, ``topic``, ``kind`` and ``multiplier``).
    """

    id: str
    title: str
    topic: str
    kind: str
    multiplier: float
    better: str
    model: IndicatorModel


def _specs(catalogue=None) -> tuple[IndicatorSpec, ...]:
    """The synthetic indicators in catalogue order: every catalogue indicator with a model, checked."""
    if catalogue is None:
        from ..indicators.catalogue import load_catalogue

        catalogue = load_catalogue()
    missing = sorted(set(MODEL) - set(catalogue))
    if missing:
        raise ValueError(f"the synthetic model has parameters for {missing}, which are not in the catalogue")
    out = []
    for iid, ind in catalogue.items():
        m = MODEL.get(iid)
        if m is None:
            continue
        if (m.effect < 0) != (ind.better == "lower"):
            raise ValueError(f"{iid}: the model's mean effect {m.effect} is not in the catalogue's better "
                             f"direction ({ind.better})")
        out.append(IndicatorSpec(iid, ind.title, ind.topic, ind.kind, float(ind.multiplier), ind.better, m))
    return tuple(out)


INDICATORS: tuple[IndicatorSpec, ...] = _specs()
BY_ID = {s.id: s for s in INDICATORS}
#: Topics in the catalogue's order of first appearance (the order the uptake draws use).
TOPICS = tuple(dict.fromkeys(s.topic for s in INDICATORS))

# Relative age profiles (per band) and sex multipliers (F, M) of the rate indicators.
_RATE_PROFILES = {
    "abx_rate": ([1.6, 0.9, 0.6, 0.85, 0.9, 0.9, 0.9, 0.85, 0.85, 0.85, 0.9, 0.95, 1.0, 1.1, 1.2, 1.4,
                  1.6, 1.8, 2.0], (1.25, 0.75)),
    "dep_opioid_users": ([0.02, 0.02, 0.05, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.4, 1.6,
                          1.9, 2.3, 2.8, 3.2], (1.15, 0.85)),
    "dep_benzo_users": ([0.0, 0.0, 0.01, 0.05, 0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.4,
                         1.7, 2.1, 2.6, 3.0], (1.3, 0.7)),
}
# Age profiles and sex multipliers of the diagnosed prevalences, scaled to the national prevalence.
_PREVALENCE = {
    "t2d": ([0, 0, 0.001, 0.002, 0.003, 0.005, 0.008, 0.012, 0.02, 0.03, 0.045, 0.065, 0.09, 0.11, 0.13,
             0.14, 0.14, 0.13, 0.11], (0.85, 1.2), 0.05, 0.15),
    "copd": ([0, 0, 0, 0, 0, 0, 0, 0.002, 0.005, 0.01, 0.02, 0.035, 0.055, 0.08, 0.10, 0.12, 0.13, 0.13,
              0.12], (1.0, 1.0), 0.04, 0.25),
}
assert all(len(p[0]) == len(AGE_BANDS) for p in (*_RATE_PROFILES.values(), *_PREVALENCE.values()))


def _cells(profile, sex_mult) -> np.ndarray:
    band = np.asarray(profile, dtype=float)
    return np.concatenate([band * sex_mult[0], band * sex_mult[1]])


def rate_profile(indicator_id: str) -> np.ndarray:
    """Relative rate per sex-age cell (38,), scaled so that the national crude ratio is 1."""
    cells = _cells(*_RATE_PROFILES[indicator_id])
    return cells / (national_structure() @ cells)


def prevalence_cells(name: str) -> np.ndarray:
    """Diagnosed prevalence per sex-age cell (38,) of ``t2d`` or ``copd``, national prevalence as set."""
    profile, sex_mult, national, _ = _PREVALENCE[name]
    cells = _cells(profile, sex_mult)
    return cells * national / (national_structure() @ cells)


def prevalence_sd(name: str) -> float:
    """Log-scale SD of the practice factor on a diagnosed prevalence."""
    return _PREVALENCE[name][3]


def old_cells() -> np.ndarray:
    """Indicator of the 65+ cells (38,)."""
    return np.tile(OLD, 2).astype(float)


def covid_profile(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """C(t): 0 before March 2020 and from 2022; 1 in the spring 2020 lockdown; intermediate between."""
    ym = np.asarray(year) * 100 + np.asarray(month)
    c = np.zeros(ym.shape)
    for lo, hi, v in ((202003, 202003, 0.5), (202004, 202006, 1.0), (202007, 202010, 0.5),
                      (202011, 202105, 0.8), (202106, 202112, 0.3)):
        c[(ym >= lo) & (ym <= hi)] = v
    return c


def national_pattern(spec: IndicatorSpec, year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """N_k(t): the national time pattern, additive on the value scale (see module docstring)."""
    m = spec.model
    t = np.asarray(year) + (np.asarray(month) - 1) / 12.0 - 2020.0
    eta = (m.trend * t + m.season * np.cos(2 * np.pi * (np.asarray(month) - m.peak) / 12.0)
           + m.covid * covid_profile(year, month))
    if spec.kind == "rate":
        return m.level * (np.exp(eta) - 1.0)
    lo = np.log(m.level / (1 - m.level))
    return 1.0 / (1.0 + np.exp(-(lo + eta))) - m.level


def practice_level(spec: IndicatorSpec, re_sum: np.ndarray, re_var: float) -> np.ndarray:
    """The practice's level before the national pattern: rate per 1,000 (before A) or proportion."""
    if spec.kind == "rate":
        return spec.model.level * np.exp(re_sum - re_var / 2.0)
    lo = np.log(spec.model.level / (1 - spec.model.level))
    return 1.0 / (1.0 + np.exp(-(lo + re_sum)))
