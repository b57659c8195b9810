"""Impact of a cluster's topic work: staggered DiD, per-cluster effects, ITS, pooling, variation change.

``att_gt`` (Callaway & Sant'Anna 2021) with ``.aggregate(...)``; ``cluster_effects_premean`` (each cluster against
its pre-period mean, with a cluster-level variance component from placebos; the default per-cluster estimator
``premean-placebo`` of the registry in :mod:`.estimators`, the analyse stage's seam) and ``cluster_effects`` (the
month before the start as base, ``cs-2x2-base-month``); ``shrink``, ``bh_qvalues``, ``verdict`` (multiplicity);
``its`` (segmented regression); ``pool`` (random-effects meta-analysis); ``variation_change``.
"""
from __future__ import annotations

from .cluster import cluster_effects
from .cluster_premean import cluster_effects_premean
from .did import att_gt
from .estimators import ESTIMATORS, EstimatorInput, EstimatorOutput, get_estimator, register_estimator
from .its import its
from .multiplicity import bh_qvalues, shrink, shrink_effects, verdict
from .national import national_effects
from .pool import pool
from .variation_change import variation_change

__all__ = ["ESTIMATORS", "EstimatorInput", "EstimatorOutput", "att_gt", "bh_qvalues", "cluster_effects",
           "cluster_effects_premean", "get_estimator", "its", "national_effects", "pool", "register_estimator",
           "shrink", "shrink_effects", "variation_change", "verdict"]
