"""The nuisances of real data that the synthetic truth must survive (docs/synthetic.md, "Nuisances").

All of them act on the expected value ``mu`` (reported unit) of practice i in cluster c and region g in
month t, for indicator k of topic j, *after* the baseline and the effect:

    mu_it = b_it + effect_c(e) · (1 + eta_i)                  practice-varying effects, mean 0 in a cluster
            − (1 − sd_ratio_c(e)) · (L_it − mean_c L_t)       a true change in within-cluster variation
            + a_it · sigma_k · (k_C · z_ct + k_R · z_gt)      cluster x month and region x month shocks
            + dip_c(e)                                         a transient bad spell before the start

* ``sigma_k`` is the practice-month residual SD of indicator k: the square root of the median, over
  practice-months, of the model's sampling variance of a practice's monthly value at its baseline
  (beta-binomial ``mu(1-mu)/n · (1 + (n-1) rho)``; gamma-Poisson ``(m + m²/shape) · (mult/n)²`` with
  ``m = mu n / mult``). ``z`` are stationary AR(1) series over months (correlation ``shock_rho``, SD 1),
  independent between clusters, regions and indicators. ``k_C = cluster_shock``, ``k_R = region_shock``.
  ``a_it`` (:func:`shock_scale`) is the link's local slope at the practice's value relative to the
  national level's (``mu/level`` for rates, ``mu(1-mu)/(level(1-level))`` for shares): 1 at the national
  level, smaller near a boundary, so the shock is additive with mean 0 and never pushes a value out of range.
* ``eta_i`` = ``effect_sd`` · (z_i − mean_c z), z standard normal truncated at ±2.5, rescaled within a
  cluster when needed so that |eta| <= 0.9: the cluster's equally weighted mean effect is exactly its
  truth, and no practice's effect changes sign or exceeds the headroom (the truth caps δ at half of it).
* ``L_it`` is the practice's baseline level without the national time pattern; for a share
  ``variation_share`` of the treated cluster-topics its deviation from the cluster mean is multiplied by
  ``sd_ratio(e) = 1 − (1 − variation_ratio) · ramp(e)`` (mean unchanged, values move towards the
  cluster mean so they stay in range). The truth table records ``sd_ratio`` per event time.
* With ``dip=True`` a share ``dip_share`` of the treated cluster-topics has a bad spell: in the
  ``dip_months`` months before the start every indicator of the topic is worse by ``dip_size`` times the
  indicator's mean |effect| (Ashenfelter's dip: the spell prompts the uptake and is over by the start),
  capped at half the distance to the worse boundary of a share (1 − mu or mu), so no value leaves its range.
  The truth table flags these starts (``dip``); the effect (``effect``) is unchanged.

These draws use their own random stream (``default_rng([seed, 7])``), so that with every nuisance off
the tables are the generator's without nuisances, draw for draw.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ..errors import ArgumentError

#: |eta| bound of the practice-varying effect factor (1 + eta stays in [0.1, 1.9]).
ETA_MAX = 0.9


@dataclass(frozen=True)
class Nuisance:
    """Switches and sizes of the nuisances (see the module docstring); the defaults are ``generate``'s."""

    cluster_shock: float = 0.12
    region_shock: float = 0.06
    shock_rho: float = 0.6
    effect_sd: float = 0.3
    variation_share: float = 0.25
    variation_ratio: float = 0.7
    dip: bool = False
    dip_share: float = 0.5
    dip_size: float = 1.0
    dip_months: int = 6

    def __post_init__(self):
        for name in ("cluster_shock", "region_shock", "effect_sd", "dip_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) or v < 0:
                raise ArgumentError(f"{name} must be a number >= 0; got {v!r}")
        for name in ("variation_share", "dip_share"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
                raise ArgumentError(f"{name} must be a share between 0 and 1; got {v!r}")
        if isinstance(self.shock_rho, bool) or not isinstance(self.shock_rho, int | float) \
                or not -1 < self.shock_rho < 1:
            raise ArgumentError(f"shock_rho must be an AR(1) correlation strictly between -1 and 1; "
                                f"got {self.shock_rho!r}")
        if isinstance(self.variation_ratio, bool) or not isinstance(self.variation_ratio, int | float) \
                or not 0 < self.variation_ratio <= 2:
            raise ArgumentError(f"variation_ratio must be a factor in (0, 2]; got {self.variation_ratio!r}")
        if not isinstance(self.dip, bool):
            raise ArgumentError(f"dip must be true or false; got {self.dip!r}")
        if isinstance(self.dip_months, bool) or not isinstance(self.dip_months, int) or self.dip_months < 1:
            raise ArgumentError(f"dip_months must be a whole number >= 1; got {self.dip_months!r}")

    @classmethod
    def none(cls) -> Nuisance:
        """Every nuisance off (the generator before the nuisances)."""
        return cls(cluster_shock=0.0, region_shock=0.0, effect_sd=0.0, variation_share=0.0, dip=False)

    def describe(self) -> str:
        """``"cluster_shock=0.12, region_shock=0.06, ..."`` (read back by :meth:`parse`)."""
        return ", ".join(f"{k}={v}" for k, v in asdict(self).items())

    @classmethod
    def parse(cls, text: str) -> Nuisance:
        """The nuisances named in a ``describe()`` text (others at their defaults)."""
        kw = {}
        types = {f.name: f.type for f in fields(cls)}
        for part in str(text).split(","):
            key, _, val = part.strip().partition("=")
            if key in types:
                kw[key] = (val == "True") if key == "dip" else int(val) if key == "dip_months" else float(val)
        return cls(**kw)


NUISANCE_FIELDS = tuple(f.name for f in fields(Nuisance))


def ar1(rng: np.random.Generator, n: int, t: int, rho: float) -> np.ndarray:
    """(n, t) stationary AR(1) series with SD 1 and lag-1 correlation ``rho``."""
    eps = rng.standard_normal((n, t))
    z = np.empty((n, t))
    z[:, 0] = eps[:, 0]
    scale = np.sqrt(1.0 - rho ** 2)
    for i in range(1, t):
        z[:, i] = rho * z[:, i - 1] + scale * eps[:, i]
    return z


def residual_sd(kind: str, mu: np.ndarray, n: np.ndarray, dispersion: float, multiplier: float,
                present: np.ndarray) -> float:
    """sigma_k: sqrt of the median model variance of a practice's monthly value (see module docstring)."""
    ok = present & (n > 0)
    mu, n = mu[ok], n[ok].astype(float)
    if kind == "rate":
        m = mu * n / multiplier
        var = (m + m ** 2 / dispersion) * (multiplier / n) ** 2
    else:
        p = np.clip(mu, 1e-9, 1 - 1e-9)
        var = p * (1 - p) / n * (1 + (n - 1) * dispersion)
    return float(np.sqrt(np.median(var))) if var.size else 0.0


def shock_scale(kind: str, mu: np.ndarray, level: float) -> np.ndarray:
    """Local scale of a shock at expected value ``mu``: the link's slope relative to the national level's.

    rate: ``mu / level`` (a shock on the log scale, linearised); proportion:
    ``mu (1 - mu) / (level (1 - level))`` (on the logit scale, linearised). A practice at the national level
    gets the stated SD; practices near a boundary get proportionally smaller shocks, so the expected value
    stays in range while the shock stays additive with mean 0.
    """
    if kind == "rate":
        return mu / level
    return mu * (1 - mu) / (level * (1 - level))


def effect_factors(rng: np.random.Generator, ci: np.ndarray, n_clusters: int, sd: float) -> np.ndarray:
    """1 + eta_i per practice (1 for practices in no cluster): mean exactly 1 within every cluster."""
    z = np.clip(rng.standard_normal(len(ci)), -2.5, 2.5)
    if sd == 0:
        return np.ones(len(ci))
    inc = ci >= 0
    cnt = np.bincount(ci[inc], minlength=n_clusters)
    mean = np.bincount(ci[inc], weights=z[inc], minlength=n_clusters) / np.maximum(cnt, 1)
    eta = np.where(inc, sd * (z - mean[np.maximum(ci, 0)]), 0.0)
    big = np.zeros(n_clusters)
    np.maximum.at(big, ci[inc], np.abs(eta[inc]))
    shrink = np.where(big > ETA_MAX, ETA_MAX / np.maximum(big, 1e-300), 1.0)
    return 1.0 + eta * np.where(inc, shrink[np.maximum(ci, 0)], 1.0)


def centred_levels(level: np.ndarray, ci: np.ndarray, n_clusters: int) -> np.ndarray:
    """(P, T) deviation of each practice's level from its cluster's mean level (0 outside clusters)."""
    inc = ci >= 0
    cnt = np.bincount(ci[inc], minlength=n_clusters).astype(float)
    sums = np.zeros((n_clusters, level.shape[1]))
    np.add.at(sums, ci[inc], level[inc])
    mean = sums / np.maximum(cnt, 1)[:, None]
    return np.where(inc[:, None], level - mean[np.maximum(ci, 0)], 0.0)


def dip_profile(event_time: np.ndarray, months: int) -> np.ndarray:
    """1 in the ``months`` months before the start (event times -months .. -1), 0 elsewhere."""
    e = np.asarray(event_time)
    return ((e >= -months) & (e <= -1)).astype(float)
