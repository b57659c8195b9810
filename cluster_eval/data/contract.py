"""The data contract (docs/data.md), as data: which tables, which columns, which types.

The rules themselves are checked in :mod:`cluster_eval.data.rules`; this module only declares them.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Column kinds: ``id`` (text identifier), ``text``, ``date`` (ISO YYYY-MM-DD), ``period`` (a date that
#: is the first day of a month or quarter), ``count`` (number >= 0), ``int`` (whole number >= 0).
ID, TEXT, DATE, PERIOD, COUNT, INT = "id", "text", "date", "period", "count", "int"


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract.

    Attributes
    ----------
    name : str
        Table (and file stem) name.
    columns : dict
        Column name -> kind, required and optional alike.
    required : tuple
        Columns that must be present.
    nonempty : tuple
        Required columns whose values may not be missing (``cluster_id`` may be empty: no cluster).
    key : tuple
        Columns that identify a row; duplicates are an error.
    required_table : bool
        Whether the table must exist in a data folder.
    allow_no_rows : bool
        Whether a header with no data rows is acceptable.
    """

    name: str
    columns: dict
    required: tuple
    nonempty: tuple
    key: tuple = ()
    required_table: bool = True
    allow_no_rows: bool = False


PRACTICES = TableSpec(
    "practices",
    {"practice_id": ID, "cluster_id": ID, "region": TEXT, "municipality": TEXT, "opened": DATE, "closed": DATE},
    required=("practice_id", "cluster_id", "region"),
    nonempty=("practice_id", "region"),
    key=("practice_id",),
)
CLUSTERS = TableSpec(
    "clusters",
    {"cluster_id": ID, "name": TEXT, "region": TEXT},
    required=("cluster_id", "name", "region"),
    nonempty=("cluster_id", "name", "region"),
    key=("cluster_id",),
)
ACTIVITIES = TableSpec(
    "activities",
    {"cluster_id": ID, "topic": ID, "start": DATE, "meetings": INT},
    required=("cluster_id", "topic", "start"),
    nonempty=("cluster_id", "topic", "start"),
    key=("cluster_id", "topic"),
    allow_no_rows=True,
)
MEASURES = TableSpec(
    "measures",
    {"indicator_id": ID, "practice_id": ID, "period": PERIOD, "numerator": COUNT, "denominator": COUNT},
    required=("indicator_id", "practice_id", "period", "numerator", "denominator"),
    nonempty=("indicator_id", "practice_id", "period", "numerator", "denominator"),
    key=("indicator_id", "practice_id", "period"),
)
POPULATION = TableSpec(
    "population",
    {"practice_id": ID, "period": PERIOD, "sex": ID, "age_band": ID, "persons": COUNT},
    required=("practice_id", "period", "sex", "age_band", "persons"),
    nonempty=("practice_id", "period", "sex", "age_band", "persons"),
    key=("practice_id", "period", "sex", "age_band"),
    required_table=False,
)
MEASURES_BANDED = TableSpec(
    "measures_banded",
    {"indicator_id": ID, "practice_id": ID, "period": PERIOD, "sex": ID, "age_band": ID,
     "numerator": COUNT, "denominator": COUNT},
    required=("indicator_id", "practice_id", "period", "sex", "age_band", "numerator", "denominator"),
    nonempty=("indicator_id", "practice_id", "period", "sex", "age_band", "numerator", "denominator"),
    key=("indicator_id", "practice_id", "period", "sex", "age_band"),
    required_table=False,
)
"""The optional banded form of the measures (numerator and denominator per sex and age band); its rules
across tables are in :mod:`cluster_eval.data.banded`."""

SPECS = {s.name: s for s in (PRACTICES, CLUSTERS, ACTIVITIES, MEASURES, POPULATION, MEASURES_BANDED)}
#: Order in which tables are read and checked.
ORDER = ("practices", "clusters", "activities", "measures", "population", "measures_banded")
