"""Sphinx configuration: the API reference from the docstrings, the guides in docs/ and the example notebooks.

Build with ``make docs`` (``sphinx-build -W --keep-going docs outputs/docs``): offline, warnings are errors.
The example notebooks are rendered with their outputs: the copies executed by ``tests/test_examples.py``
(``outputs/examples/``) when they are current for the notebook and the package source, else myst-nb executes
the notebook during the build.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import nbformat

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import cluster_eval  # noqa: E402

project = "cluster_eval"
author = "cluster_eval contributors"
release = version = cluster_eval.__version__
copyright = "cluster_eval contributors (MIT licence)"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_nb"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
suppress_warnings = ["misc.highlighting_failure"]  # e.g. ```cron blocks in the guides: shown as plain text
exclude_patterns = ["_build", "images/*.md", "**.ipynb_checkpoints"]
html_theme = "alabaster"
html_title = f"cluster_eval {release}"
html_static_path: list[str] = []
html_theme_options = {"page_width": "1320px", "sidebar_width": "230px", "fixed_sidebar": True}

# docstrings: numpydoc style, parsed by napoleon
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_preprocess_types = False
napoleon_use_ivar = True  # "Attributes" as fields: no second description of dataclass fields
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc Parameters sections state the types
autodoc_mock_imports: list[str] = []

# Markdown guides
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# example notebooks
nb_execution_mode = "off"           # per notebook: "force" for those staged without outputs (below)
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

EXAMPLES = ROOT / "notebooks" / "examples"
EXECUTED = ROOT / "outputs" / "examples"
STAGED = DOCS / "examples"  # generated at build time, not committed (.gitignore)


def source_key(notebook: Path) -> str:
    """The key tests/test_examples.py stores in an executed copy: the notebook and the package source."""
    from cluster_eval.report.runner import code_hash

    return hashlib.sha256(notebook.read_bytes() + code_hash().encode()).hexdigest()


def stage_examples() -> dict[str, str]:
    """Copy each example into docs/examples/: the executed copy when it is current, else the clean notebook."""
    if STAGED.exists():
        shutil.rmtree(STAGED)
    STAGED.mkdir()
    how = {}
    for nb_path in sorted(EXAMPLES.glob("*.ipynb")):
        done = EXECUTED / nb_path.name
        if done.exists():
            nb = nbformat.read(done, as_version=4)
            if nb.metadata.get("cluster_eval", {}).get("source_key") == source_key(nb_path):
                shutil.copyfile(done, STAGED / nb_path.name)
                how[nb_path.name] = "executed by the tests"
                continue
        nb = nbformat.read(nb_path, as_version=4)
        nb.metadata["mystnb"] = {"execution_mode": "force"}
        nbformat.write(nb, STAGED / nb_path.name)
        how[nb_path.name] = "executed now"
    return how


_how = stage_examples()
print("example notebooks: " + ", ".join(f"{k} ({v})" for k, v in _how.items()))
# the notebooks find the shared data from their own folder; a relative CLUSTER_EVAL_SHARED means the repo root
if os.environ.get("CLUSTER_EVAL_SHARED"):
    os.environ["CLUSTER_EVAL_SHARED"] = str((ROOT / os.environ["CLUSTER_EVAL_SHARED"]).resolve())
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
