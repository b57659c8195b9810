"""True effects of a cluster's topic work: sizes, ramp-up, and the ``truth`` table.

For cluster c and indicator k of topic j the full effect is

    δ_ck = effect_k · h_cj · exp(ε_ck − σ²/2),   ε_ck ~ N(0, σ² = INDICATOR_SD²),

where ``effect_k`` is the indicator's mean effect (signed, in the better direction) and the
cluster-topic multiplier h_cj is ~0 (|N(0, NEAR_ZERO_SD²)|) with probability ``NEAR_ZERO_P``
and Gamma(shape ``GAMMA_SHAPE``, mean 1) otherwise: heterogeneous, some clusters near zero,
never in the worse direction. δ_ck is then capped at ``HEADROOM`` times the cluster's smallest
distance to the boundary (0 for lower-better indicators, 1 for higher-better proportions) over
its practice-months, so the expected value never leaves its valid range and clipping never binds.

The effect at event time e = month − start month (0 = the start month, the first exposed month) is

    effect_ck(e) = δ_ck · min(1, (e + 1) / ramp_k)     for e >= 0, and 0 before,

so the full effect is reached at e = ramp_k − 1.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .indicators_model import TOPICS, IndicatorSpec

NEAR_ZERO_P = 0.2
NEAR_ZERO_SD = 0.05
GAMMA_SHAPE = 4.0
INDICATOR_SD = 0.25
HEADROOM = 0.5


def draw_multipliers(rng: np.random.Generator, n_clusters: int) -> np.ndarray:
    """Cluster-topic effect multipliers h (C, n_topics): near 0 w.p. NEAR_ZERO_P, else Gamma mean 1."""
    shape = (n_clusters, len(TOPICS))
    near = rng.random(shape) < NEAR_ZERO_P
    return np.where(near, np.abs(rng.normal(0.0, NEAR_ZERO_SD, shape)),
                    rng.gamma(GAMMA_SHAPE, 1.0 / GAMMA_SHAPE, shape))


def effect_sizes(rng: np.random.Generator, specs: tuple[IndicatorSpec, ...], h: np.ndarray,
                 headroom: np.ndarray) -> np.ndarray:
    """Full effects δ (C, K) in the reported unit, signed, capped at HEADROOM · headroom (C, K)."""
    topic_idx = np.array([TOPICS.index(s.topic) for s in specs])
    mean = np.array([s.model.effect for s in specs])
    eps = rng.normal(0.0, INDICATOR_SD, h.shape[:1] + (len(specs),))
    delta = mean * h[:, topic_idx] * np.exp(eps - INDICATOR_SD**2 / 2)
    cap = HEADROOM * np.maximum(headroom, 0.0)
    return np.sign(delta) * np.minimum(np.abs(delta), cap)


def ramp(event_time: np.ndarray, months: int) -> np.ndarray:
    """Share of the full effect reached at ``event_time`` (0 before 0, 1 from ``months`` − 1 on)."""
    e = np.asarray(event_time, dtype=float)
    return np.where(e >= 0, np.minimum(1.0, (e + 1.0) / months), 0.0)


def truth_frame(cluster_ids, specs: tuple[IndicatorSpec, ...], start: np.ndarray, delta: np.ndarray,
                last_month: int, never: int, var_change: np.ndarray | None = None,
                variation_ratio: float = 1.0, dipped: np.ndarray | None = None) -> pd.DataFrame:
    """The ``truth`` table: one row per treated cluster, indicator of the topic and event time in the data.

    ``start`` (C, n_topics) holds absolute start months (``year*12 + month-1``) or ``never``;
    ``last_month`` is the absolute index of the data's last period. ``var_change`` (C, n_topics, bool)
    marks the cluster-topics whose within-cluster spread of practice levels changes to
    ``variation_ratio`` at the full ramp (column ``sd_ratio``, 1 elsewhere); ``dipped`` marks the starts
    that follow a transient bad spell (column ``dip``).
    """
    var_change = np.zeros(start.shape, bool) if var_change is None else var_change
    dipped = np.zeros(start.shape, bool) if dipped is None else dipped
    frames = []
    cluster_ids = np.asarray(cluster_ids, dtype=object)
    for k, spec in enumerate(specs):
        j = TOPICS.index(spec.topic)
        ci = np.flatnonzero((start[:, j] != never) & (start[:, j] <= last_month))
        n_e = last_month - start[ci, j] + 1
        rows_c = np.repeat(ci, n_e)
        e = np.arange(n_e.sum()) - np.repeat(np.cumsum(n_e) - n_e, n_e)
        s = start[rows_c, j]
        frames.append(pd.DataFrame({
            "cluster_id": cluster_ids[rows_c],
            "topic": spec.topic,
            "indicator_id": spec.id,
            "start": pd.to_datetime({"year": s // 12, "month": s % 12 + 1, "day": 1}).to_numpy(),
            "event_time": e.astype(int),
            "effect": delta[rows_c, k] * ramp(e, spec.model.ramp),
            "sd_ratio": np.where(var_change[rows_c, j], 1.0 - (1.0 - variation_ratio) * ramp(e, spec.model.ramp),
                                 1.0),
            "dip": dipped[rows_c, j],
        }))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["cluster_id", "topic", "indicator_id", "event_time"], kind="stable",
                           ignore_index=True)
