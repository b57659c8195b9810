"""The indicator catalogue (YAML, validated when loaded) and the DuckDB engine over patient-level events.

    load_catalogue(path=None) -> dict[str, Indicator]
    catalogue_table(catalogue=None) -> DataFrame   the metadata (id, title, topic, kind, multiplier, better, ...)
    compute_measures(events_dir, out_dir=None, catalogue=None, periods=None, progress=True) -> DataFrame
"""
from .catalogue import Indicator, catalogue_table, load_catalogue  # noqa: F401
from .engine import compute_measures  # noqa: F401

__all__ = ["Indicator", "load_catalogue", "catalogue_table", "compute_measures"]
