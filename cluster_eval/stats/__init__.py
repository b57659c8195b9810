"""Indicator and variation statistics (docs/architecture.md lists the subpackages).

Every function is vectorised over arrays or pandas Series and returns a tidy DataFrame (or a results
object holding tidy DataFrames) whose rows name their ``statistic``, ``method`` and ``confidence``.
Confidence may be one level or a tuple such as (0.95, 0.998): the output is then long, one row per
input row (or group) and level.

- :func:`proportion_ci` Wilson / Clopper-Pearson;  :func:`rate_ci` exact below 10 events, Byar's above
- :func:`dsr` directly standardised rate (Dobson, ESP 2013);  :func:`isr` indirectly standardised ratio
- :func:`funnel_limits` PHE-compatible control limits;  :func:`funnel` unit analysis with overdispersion
- :func:`variation` CV, SCV, EQ, IQR ratio, multilevel variance, ICC and MOR
- :func:`benchmarks` per-period national deciles and percentile ranks
"""
from __future__ import annotations

from .benchmarks import BenchmarkResult, benchmarks
from .esp2013 import ESP2013
from .funnel import FunnelResult, funnel
from .funnel_limits import funnel_limits
from .proportions import proportion_ci
from .rates import rate_ci
from .standardise import dsr, isr
from .variation import variation

__all__ = [
    "proportion_ci", "rate_ci", "dsr", "isr", "ESP2013", "funnel_limits", "funnel", "FunnelResult",
    "variation", "benchmarks", "BenchmarkResult",
]
