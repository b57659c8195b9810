"""Indicator and variation statistics (see ../shared/design/STATISTICS.md).

Every function is vectorised over arrays or pandas Series and returns a tidy DataFrame whose rows
name their ``statistic``, ``method`` and ``confidence``.
"""
from __future__ import annotations

from .funnel import FunnelResult, funnel
from .funnel_limits import funnel_limits
from .proportions import proportion_ci
from .rates import rate_ci
from .standardise import dsr, isr
from .variation import variation

__all__ = ["proportion_ci", "rate_ci", "dsr", "isr", "funnel_limits", "funnel", "FunnelResult", "variation"]
