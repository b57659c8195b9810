"""The batch runner: analyse once, one parameterised notebook per cluster, self-contained HTML, index, manifest.

Public entry points (wired to the command line as ``cluster-eval run`` and ``cluster-eval demo``):

- :func:`run` ``(params_path_or_dict, jobs=None, only=None, force=False, quiet=False) -> int``
- :func:`demo` ``(out_dir='outputs/demo', scale='denmark', quiet=False, jobs=None) -> int``
- :func:`load_params` ``(params_path_or_dict) -> RunConfig``

Imported lazily: a report notebook's kernel imports only its sections module (:mod:`.cluster_sections` or
:mod:`.overview_sections`, with :mod:`.display`, :mod:`.wording`, :mod:`.tables`) and :mod:`.figures`.
The analyse stage is :mod:`.analyse` (per-cluster estimators through :mod:`cluster_eval.impact.estimators`).
"""
from __future__ import annotations

import importlib

_LAZY = {"run": ".runner", "demo": ".demo_run", "load_params": ".config", "RunConfig": ".config"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'cluster_eval.report' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
