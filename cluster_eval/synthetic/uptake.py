"""Staggered topic uptake: when each cluster started each topic (the ``activities`` table).

Each cluster works through the five topics one after another in a random order, tilted towards
the topics on which it does worst (Gumbel-max with weight ``SELECTION`` on the cluster's
standardised badness, so uptake timing is correlated with levels, as in reality, but not with
trends). The first start is uniform over the first ``FIRST_SPAN`` months of the uptake window; each
later topic starts 6-18 months after the previous one. A topic is skipped with probability
``SKIP``, and starts after the end of the window never happen: those clusters never take the
topic up (no row). The first meeting falls on a day 1-28 of the start month; ``meetings`` is
1 + Poisson(1.5 + 1.5 h), h the cluster-topic effect multiplier (see ``truth``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .indicators_model import TOPICS

FIRST_SPAN = 18
GAP_MIN, GAP_MAX = 6, 18
SKIP = 0.25
SELECTION = 0.7
NEVER = -1


def draw_uptake(rng: np.random.Generator, badness: np.ndarray, first: int, last: int) -> np.ndarray:
    """Start month index (absolute months, ``year*12 + month-1``) per cluster and topic; NEVER if none.

    Parameters
    ----------
    badness : array (C, n_topics)
        The cluster's standardised position on each topic (positive = worse than average).
    first, last : int
        The uptake window, absolute month indices (inclusive).
    """
    c, k = badness.shape
    gumbel = rng.gumbel(size=(c, k))
    order = np.argsort(-(SELECTION * badness + gumbel), axis=1)
    skip = rng.random((c, k)) < SKIP
    gaps = rng.integers(GAP_MIN, GAP_MAX + 1, size=(c, k))
    gaps[:, 0] = rng.integers(0, FIRST_SPAN, size=c)
    gaps[:, 1:] = np.where(skip[:, 1:], 0, gaps[:, 1:])   # a skipped topic takes no time
    starts_in_order = first + np.cumsum(gaps, axis=1)
    starts_in_order = np.where(skip | (starts_in_order > last), NEVER, starts_in_order)
    start = np.full((c, k), NEVER, dtype=int)
    np.put_along_axis(start, order, starts_in_order, axis=1)
    return start


def activities_frame(rng: np.random.Generator, cluster_ids, start: np.ndarray,
                     intensity: np.ndarray | None = None) -> pd.DataFrame:
    """The contract's ``activities`` table from a start-month matrix (C, n_topics).

    ``meetings`` = 1 + Poisson(1.5 + 1.5 · intensity), where ``intensity`` (C, n_topics) is the
    cluster-topic effect multiplier h (mean 1): clusters that meet more tend to achieve more.
    """
    ci, ti = np.nonzero(start != NEVER)
    m = start[ci, ti]
    h = np.ones(len(m)) if intensity is None else intensity[ci, ti]
    day = rng.integers(1, 29, size=len(m))
    dates = pd.to_datetime({"year": m // 12, "month": m % 12 + 1, "day": day})
    out = pd.DataFrame({
        "cluster_id": np.asarray(cluster_ids, dtype=object)[ci],
        "topic": np.asarray(TOPICS, dtype=object)[ti],
        "start": dates.to_numpy(),
        "meetings": (1 + rng.poisson(1.5 + 1.5 * h)).astype(float),
    })
    return out.sort_values(["cluster_id", "start"], kind="stable").reset_index(drop=True)
