"""Impact of a cluster's topic work: staggered DiD, per-cluster effects, ITS, pooling, variation change.

``att_gt`` (Callaway & Sant'Anna 2021) with ``.aggregate(...)``; ``cluster_effects`` (each cluster as its own
treated group; registered as the default per-cluster estimator in :mod:`.estimators`, the analyse stage's seam);
``its`` (segmented regression); ``pool`` (random-effects meta-analysis); ``variation_change``.
"""
from __future__ import annotations

from .cluster import cluster_effects
from .did import att_gt
from .estimators import ESTIMATORS, EstimatorInput, EstimatorOutput, get_estimator, register_estimator
from .its import its
from .national import national_effects
from .pool import pool
from .variation_change import variation_change

__all__ = ["ESTIMATORS", "EstimatorInput", "EstimatorOutput", "att_gt", "cluster_effects", "get_estimator", "its",
           "national_effects", "pool", "register_estimator", "variation_change"]
