"""The indicator catalogue (YAML, validated when loaded) and the DuckDB engine over patient-level events.

    load_catalogue(path=None) -> dict[str, Indicator]
    compute_measures(events_dir, out_dir=None, catalogue=None, periods=None, progress=True) -> DataFrame
"""
from .catalogue import Indicator, load_catalogue  # noqa: F401
from .engine import compute_measures  # noqa: F401

__all__ = ["Indicator", "load_catalogue", "compute_measures"]
