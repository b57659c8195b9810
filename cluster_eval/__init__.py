"""cluster_eval: did Danish general-practice quality clusters change clinical practice?

Subpackages (imported lazily, so ``import cluster_eval as ce`` stays fast)::

    ce.load_dataset(path_or_params)   the data contract, loaded and validated
    ce.synthetic.generate(...)        a synthetic Denmark with known true effects
    ce.stats                          indicators and variation (proportion_ci, rate_ci, dsr, isr, funnel, ...)
    ce.spc                            run and control charts (qic) with the Anhøj rules
    ce.impact                         staggered DiD (att_gt), per-cluster effects, ITS, pooling
    ce.indicators                     the indicator catalogue and the DuckDB engine over events
    ce.extracts                       register extracts (SAS, Stata, Parquet, Danish CSV) -> event tables
    ce.disclosure                     small-cell suppression
    ce.audit                          the independent disclosure audit of written outputs
    ce.report                         the batch runner: analyse once, papermill, nbconvert, audit
    ce.resources                      the shipped report notebooks and demo params

docs/architecture.md describes the data flow and where to make the typical changes.
"""
from __future__ import annotations

import importlib

from .errors import (  # noqa: F401
    ArgumentError,
    CatalogueError,
    ClusterEvalError,
    ConfigError,
    InputError,
    Problem,
)

__version__ = "0.1.0"

_SUBMODULES = {"synthetic", "stats", "spc", "impact", "indicators", "disclosure", "audit", "report", "data",
               "validation", "errors", "plots", "resources", "extracts"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in ("load_dataset", "Dataset"):
        from .data import loading
        return getattr(loading, name)
    raise AttributeError(f"module 'cluster_eval' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES) + ["load_dataset", "Dataset"])
