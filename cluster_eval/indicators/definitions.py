"""The definition of an indicator: frozen dataclasses (built from the catalogue's YAML by :mod:`.grammar`).

An indicator is data, not code (docs/events.md): a :class:`Indicator` names its metadata (id, title, topic,
kind, multiplier, better direction, target, standardisation) and a :class:`Denominator` and
:class:`Numerator`, built from a small vocabulary of *criteria* evaluated for every patient at the
end of every period (month):

``prescription`` / ``diagnosis`` / ``lab``  (:class:`EventCriterion`)
    the patient has at least one matching event in a look-back window of ``months`` calendar months
    ending with the period's month (``offset`` months earlier when given). ``lab`` may compare the
    value (``value: {lt: 59}``), and with ``latest: true`` the comparison applies to the latest test
    with a value in the window.
``concurrent_drugs``  (:class:`ConcurrentDrugs`)
    at least ``min`` different substances (ATC level 5) in use on the period's last day, a dispensing
    covering ``ddd`` days from its date (one DDD a day, at most 365 days).
``any_of`` / ``all_of`` / ``not``  (:class:`AnyOf`, :class:`AllOf`, :class:`Not`)
    combinations.

The engine that evaluates definitions lives in :mod:`cluster_eval.indicators.sql` and
:mod:`cluster_eval.indicators.engine`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventCriterion:
    """At least one matching event in a look-back window (periods ``p-offset-months+1 .. p-offset``).

    ``codes`` are prefixes (ATC, NPU) or ``(system, prefix)`` pairs for diagnoses.
    ``comparison``/``threshold`` filter lab values; ``latest`` applies them to the latest test.
    """

    source: str                       # 'prescriptions' | 'diagnoses' | 'lab_tests'
    codes: tuple
    months: int = 1
    offset: int = 0
    comparison: str | None = None     # '<', '<=', '>', '>='
    threshold: float | None = None
    latest: bool = False


@dataclass(frozen=True)
class ConcurrentDrugs:
    """At least ``min_count`` distinct ATC level-5 substances in use on the period's last day."""

    min_count: int
    codes: tuple = ()                 # ATC prefixes to consider (empty: all)


@dataclass(frozen=True)
class AnyOf:
    items: tuple


@dataclass(frozen=True)
class AllOf:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: object


@dataclass(frozen=True)
class Population:
    """Patients listed (and alive) at the period's end, optionally filtered.

    Age is in completed years on the period's last day; ``age_max`` is inclusive.
    """

    age_min: int | None = None
    age_max: int | None = None
    sex: str | None = None
    require: object = None            # a criterion or None


@dataclass(frozen=True)
class Denominator:
    """A population (persons), or with ``count`` the matching events of its members."""

    population: Population
    population_name: str | None = None
    count: EventCriterion | None = None


@dataclass(frozen=True)
class Numerator:
    """Exactly one of ``has`` (persons of the denominator's population meeting a criterion) and
    ``count`` (matching events of the denominator's population)."""

    has: object = None
    count: EventCriterion | None = None


@dataclass(frozen=True)
class Indicator:
    """One indicator of the catalogue (metadata plus definition).

    ``value = numerator / denominator * multiplier``.
    """

    id: str
    title: str
    topic: str
    kind: str
    multiplier: float
    better: str
    target: float | None
    standardised: bool
    denominator: Denominator
    numerator: Numerator
    description: str = ""
    unit: str = ""
    primary: bool = False   # the topic's one pre-specified primary indicator (``primary: true``)
    title_da: str = ""      # the Danish title of the reports (``report.language: da``); "" falls back to title
