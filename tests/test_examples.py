"""The example notebooks (notebooks/examples/) run top to bottom without error, and are committed clean.

Each notebook is executed with nbclient in its own folder, as JupyterLab would run it. The executed copy is
written to ``outputs/examples/`` with a key of the notebook and the package source in its metadata:
``make docs`` renders those copies instead of executing the notebooks a second time (docs/conf.py), and
a researcher can open them to see the expected output.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "notebooks" / "examples"
EXECUTED = ROOT / "outputs" / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
TIMEOUT = 600  # seconds per cell: a hung kernel fails the test instead of the CI job


def source_key(notebook: Path) -> str:
    """sha256 of the notebook file and the package source: an executed copy with another key is stale.

    docs/conf.py computes the same key (``cluster_eval.report.runner.code_hash`` for the package part).
    """
    from cluster_eval.report.runner import code_hash

    return hashlib.sha256(notebook.read_bytes() + code_hash().encode()).hexdigest()


def test_there_are_examples():
    assert len(NOTEBOOKS) >= 4, f"expected the worked examples in {EXAMPLES}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_example_runs(path, monkeypatch):
    from nbclient import NotebookClient

    shared = os.environ.get("CLUSTER_EVAL_SHARED")
    if shared:  # a relative path (as in .ci/run) is meant from the repository root, not the notebook's folder
        monkeypatch.setenv("CLUSTER_EVAL_SHARED", str((ROOT / shared).resolve()))
    # the package under test, wherever the kernel starts
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    nb.metadata["cluster_eval"] = {"source_key": source_key(path)}
    EXECUTED.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, EXECUTED / path.name)


REPORT_NOTEBOOKS = [ROOT / "notebooks" / "cluster_report.ipynb", ROOT / "notebooks" / "national_overview.ipynb"]


@pytest.mark.parametrize("path", REPORT_NOTEBOOKS, ids=[p.stem for p in REPORT_NOTEBOOKS])
def test_report_notebook_runs_with_its_default_parameters(path, monkeypatch):
    """Opened in JupyterLab and run as it is (run_dir = ""), a report notebook shows the small synthetic demo,
    in the demo's language (params/demo.yaml: Danish)."""
    from nbclient import NotebookClient

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert 'run_dir = ""' in params.source  # the defaults under test
    NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    shown = "\n".join(o.get("data", {}).get(kind, "") for c in nb.cells for o in c.get("outputs", [])
                      for kind in ("text/markdown", "text/html"))
    assert "Ingen kørselsmappe angivet" in shown and "lille syntetiske demo" in shown   # "No run folder given"
    assert "Henvis til denne rapport" in shown and "docs/methods.md" in shown       # "Cite this report as"
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
