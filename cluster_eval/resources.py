"""Files the package ships beside its code: the two report notebooks and the demo's default params.

In the repository they live where a researcher looks for them: ``notebooks/*.ipynb`` (opened in
JupyterLab) and ``params/demo.yaml`` (the template for a real run). The wheel carries the same files
as package data, ``cluster_eval/notebooks/`` and ``cluster_eval/params/demo.yaml`` (pyproject.toml maps
those two folders into the package; there is one copy of each file in the repository). This module
finds them with :mod:`importlib.resources` in an installed package and falls back to the source tree
when the package is imported from a checkout (``PYTHONPATH`` or an editable install).

Imports nothing of the package but :mod:`cluster_eval.errors`.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ArgumentError

NOTEBOOKS = ("cluster_report.ipynb", "national_overview.ipynb")
DEMO_PARAMS = "demo.yaml"
_SOURCE_ROOT = Path(__file__).resolve().parents[1]   # the repository, when imported from a checkout


def _shipped(folder: str, name: str) -> Path:
    packaged = resources.files(__package__).joinpath(folder, name)
    if packaged.is_file():
        return Path(str(packaged))
    source = _SOURCE_ROOT / folder / name
    if source.is_file():
        return source
    raise FileNotFoundError(f"{folder}/{name} is neither in the installed package ({packaged}) nor in a source "
                            f"checkout ({source}); reinstall cluster_eval")


def project_root() -> Path:
    """What ``{root}`` in a params file means: the repository in a source checkout, else the current folder.

    An installed package has no project folder of its own (``site-packages`` is not a place to write
    outputs), so a params file run from a wheel install resolves ``{root}`` against the folder it is
    run from.
    """
    if (_SOURCE_ROOT / "pyproject.toml").is_file() and (_SOURCE_ROOT / "cluster_eval").is_dir():
        return _SOURCE_ROOT
    return Path.cwd()


def notebook_dir() -> Path:
    """The folder holding the report notebooks (package data when installed, ``notebooks/`` in a checkout)."""
    return notebook_path(NOTEBOOKS[0]).parent


def notebook_path(name: str) -> Path:
    """Path of a shipped report notebook, ``name`` one of :data:`NOTEBOOKS`."""
    if name not in NOTEBOOKS:
        raise ArgumentError(f"no shipped notebook {name!r}; the package ships {', '.join(NOTEBOOKS)}")
    return _shipped("notebooks", name)


def demo_params_path() -> Path:
    """Path of the demo's default params file (``params/demo.yaml`` in a checkout)."""
    return _shipped("params", DEMO_PARAMS)


def demo_params() -> dict:
    """The demo's default params (``params/demo.yaml``), parsed."""
    import yaml

    return yaml.safe_load(demo_params_path().read_text(encoding="utf-8")) or {}
