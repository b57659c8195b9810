"""Disclosure control: no output may show a count of 1 to 4 persons, directly or by subtraction.

"By subtraction" means against an attacker who knows every published total and that counts are never
negative: no hidden count may be pinned to one value by them (see :mod:`.secondary`).

Thresholds (constants named at the top of :mod:`.primary`)::

    MIN_COUNT = 5        smallest non-zero count that may be published
    THRESHOLD = 4        counts 1..THRESHOLD are suppressed (configurable per call)
    ROUND_TO = 5         the optional rounding mode's multiple (midpoint up, as OpenSAFELY)

Functions::

    suppress_counts(df, count_cols, threshold=4)          primary suppression
    suppress_table(df, count_cols, by=, dims=, groups=)   primary + secondary, totals cannot reveal a cell
    suppress_measures(df, numerator, denominator, ...)    practice-level measures, cluster and national totals
    round_counts(df, cols, base=5)                        optional rounding
    add_margins(df, count_cols, dims, by=)                margin (total) rows of a long table
    format_counts(df, cols)                               display text for report tables ([s] when hidden)

Conventions for outputs (the audit, :mod:`cluster_eval.audit`, relies on them): a hidden count is missing
(NaN / null) in Parquet and CSV and shows as :data:`SUPPRESSED_TEXT` in HTML; every table that went through
this module has a boolean ``suppressed`` column, a ``suppressed_reason`` and ``attrs["count_columns"]``.
"""
from __future__ import annotations

from .measures import suppress_measures
from .primary import (
    MIN_COUNT,
    ROUND_TO,
    SUPPRESSED_TEXT,
    THRESHOLD,
    TOTAL,
    format_counts,
    round_counts,
    suppress_counts,
)
from .secondary import add_margins, protect, suppress_table

__all__ = ["MIN_COUNT", "THRESHOLD", "ROUND_TO", "TOTAL", "SUPPRESSED_TEXT", "suppress_counts", "suppress_table",
           "suppress_measures", "round_counts", "add_margins", "protect", "format_counts"]
