"""Impact of a cluster's topic work: staggered DiD, per-cluster effects, ITS, pooling, variation change.

``att_gt`` (Callaway & Sant'Anna 2021) with ``.aggregate(...)``; ``cluster_effects`` (each cluster as its own
treated group); ``its`` (segmented regression); ``pool`` (random-effects meta-analysis); ``variation_change``.
"""
from __future__ import annotations

from .analysis import impact_tables
from .cluster import cluster_effects
from .did import att_gt
from .its import its
from .national import national_effects
from .pool import pool
from .variation_change import variation_change

__all__ = ["att_gt", "cluster_effects", "impact_tables", "its", "national_effects", "pool", "variation_change"]
