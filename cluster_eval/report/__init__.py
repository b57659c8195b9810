"""The batch runner: analyse once, one parameterised notebook per cluster, self-contained HTML, index, manifest.

Public entry points (wired to the command line as ``cluster-eval run`` and ``cluster-eval demo``):

- :func:`run` ``(params_path_or_dict, jobs=None, only=None, force=False, quiet=False) -> int``
- :func:`demo` ``(out_dir='outputs/demo', scale='denmark', quiet=False, jobs=None) -> int``
"""
from __future__ import annotations

from .config import load_params  # noqa: F401
from .demo import demo  # noqa: F401
from .runner import run  # noqa: F401
