"""The audit's rules: which names hold counts, how a shown number is read, and the Finding record."""
from __future__ import annotations

import re
from dataclasses import dataclass

THRESHOLD = 4
"""Counts from 1 to THRESHOLD may not be shown (Statistics Denmark: no cell below 5 persons)."""

COUNT_WORDS = frozenset({
    "numerator", "denominator", "count", "counts", "n", "persons", "patients", "people", "events", "cases",
    "prescriptions", "deaths", "admissions", "listed", "population", "antal", "personer",
    "patienter", "borgere", "tæller", "nævner"})
NOT_COUNT_WORDS = frozenset({
    # statistics
    "rate", "rates", "share", "pct", "percent", "percentage", "proportion", "prop", "per", "mean", "median",
    "avg", "average", "ratio", "value", "lower", "upper", "ci", "sd", "se", "z", "score", "limit", "lcl",
    "ucl", "cl", "std", "standardised", "standardized", "dsr", "isr", "phi", "tau", "p", "rank",
    "percentile", "expected", "effect", "threshold", "rounding", "suppressed", "reason", "mde",
    # units that are not persons
    "practices", "practice", "clusters", "cluster", "reports", "report", "periods", "period", "months",
    "month", "quarters", "years", "year", "weeks", "days", "topics", "topic", "indicators", "indicator",
    "units", "jobs", "files", "meetings", "signals", "signal", "runs", "run", "longest", "crossings",
    "crossing", "useful", "obs", "observations", "points", "rows", "regions", "municipalities", "id",
    "seconds", "duration", "bytes", "version", "hash", "iterations", "workers", "failed", "ok", "skipped",
    "lag", "window", "draws", "bootstrap", "groups", "group", "timeout", "grid",
    # units of the impact models (practices)
    "treated", "control", "controls", "comparison"})
DERIVED_WORDS = frozenset({"value", "rate", "proportion", "share", "pct", "percent", "lower", "upper", "z",
                           "ratio", "dsr", "isr", "percentile"})
TOTAL_WORDS = frozenset({"total", "i alt", "all", "overall", "samlet", "alle", "national total"})

RULE_SMALL = "small count"
RULE_COMPLEMENT = "small complement"
RULE_DERIVED = "value from a hidden count"
RULE_RECOVERABLE = "recoverable from total"
RULE_UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Finding:
    """One cell that breaks a disclosure rule.

    Attributes
    ----------
    file : str
        Path relative to the audited folder.
    location : str
        Where in the file: ``table 2 ('Practices'), row 3 ('P0012'), column 'numerator'``; ``row 17
        (practice_id='P0012', period='2024-01-01'), column 'numerator'``; ``$.clusters[3].n_patients``.
    value : object
        The value as written.
    rule : str
        One of the ``RULE_*`` names.
    """

    file: str
    location: str
    value: object
    rule: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.location}" if self.location else self.file
        return f"{where}: {self.value!r} ({self.rule})"


def _words(name) -> list[str]:
    return [w for w in re.split(r"[^\w]+|_", str(name).lower()) if w]


def is_count_name(name) -> bool:
    """Whether a column name, header or key names a person count (see the module docstring)."""
    if "%" in str(name):
        return False
    words = _words(name)
    return any(w in COUNT_WORDS for w in words) and not any(w in NOT_COUNT_WORDS for w in words)


def _is_derived_name(name) -> bool:
    return any(w in DERIVED_WORDS for w in _words(name)) and not is_count_name(name)


def _is_total_label(text) -> bool:
    return str(text).strip().lower() in TOTAL_WORDS


_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+")
_PLAIN = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_LEADING = re.compile(r"([-+]?\d[\d,.\u00a0\u202f ]*?)\s*\([^()]*%\s*\)")


def parse_number(text) -> float | None:
    """The number a cell shows: ``12``, ``1,234``, ``1.234`` (Danish thousands), ``3,5``, ``12 (4.1%)``.

    Percentages, estimates with intervals (``0.48 (-0.90 to 1.86)``) and text return None.
    """
    t = str(text).strip().replace("\u2212", "-")
    if not t or "%" in t.split("(")[0]:
        return None
    if _THOUSANDS.fullmatch(t):
        return float(re.sub(r"[,.\u00a0\u202f ]", "", t))
    if _PLAIN.fullmatch(t):
        return float(t.replace(",", "."))
    m = _LEADING.match(t)
    if m:
        return parse_number(m.group(1).strip())
    return None


def _small(v, threshold) -> bool:
    return v is not None and 0 < v < threshold + 1
