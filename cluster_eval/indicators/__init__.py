"""The indicator catalogue (YAML, validated when loaded) and the engine over patient-level events
(DuckDB in process, or Apache Spark: the same compiled SQL, transpiled by sqlglot)::

    load_catalogue(path=None) -> dict[str, Indicator]
    catalogue_table(catalogue=None) -> DataFrame   the metadata (id, title, topic, kind, multiplier, better, ...)
    compute_measures(events_dir, out_dir=None, catalogue=None, periods=None, progress=True,
                     engine="duckdb" | "spark", spark=None) -> DataFrame
    read_measures(path) -> DataFrame       # measures.parquet (DuckDB) or Spark's partitioned folder
    compute_banded_measures(events_dir, out_dir=None, ...) -> DataFrame   the same per sex and age band
"""
from .banded import compute_banded_measures  # noqa: F401
from .catalogue import Indicator, catalogue_table, load_catalogue  # noqa: F401
from .engine import compute_measures, read_measures  # noqa: F401

__all__ = ["Indicator", "load_catalogue", "catalogue_table", "compute_measures", "read_measures",
           "compute_banded_measures"]
