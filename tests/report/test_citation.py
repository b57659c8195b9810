"""The reports' "How to cite" block: the methods page, the run's version, commit and id, the references."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from cluster_eval.report.citation import METHODS_PAGE, REFERENCES, how_to_cite, run_provenance

ROOT = Path(__file__).resolve().parents[2]


def test_provenance_from_the_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({
        "run_id": "20260101T000000Z-abcdef12", "git_commit": "0123456789abcdef0123456789abcdef01234567-dirty",
        "versions": {"cluster_eval": "9.8.7"}}))
    assert run_provenance(tmp_path) == {"version": "9.8.7", "run_id": "20260101T000000Z-abcdef12",
                                        "commit": "0123456789abcdef0123456789abcdef01234567-dirty"}
    text = how_to_cite(tmp_path)
    assert "cluster_eval 9.8.7, commit 0123456789ab-dirty, run 20260101T000000Z-abcdef12" in text
    assert METHODS_PAGE in text
    for ref in REFERENCES:
        assert ref in text


def test_without_a_manifest_the_installed_version_is_cited(tmp_path):
    import cluster_eval

    assert run_provenance(tmp_path) == {"version": None, "commit": None, "run_id": None}
    text = how_to_cite(tmp_path)
    assert f"cluster_eval {cluster_eval.__version__}, and cite" in text and "commit" not in text.split("cite the")[0]


def test_methods_page_has_the_how_to_cite_section_and_every_reference():
    page = (ROOT / METHODS_PAGE).read_text(encoding="utf-8")
    assert re.search(r"^## How to cite$", page, re.M)
    flat = " ".join(page.split())
    for ref in REFERENCES:
        assert ref in flat, f"{METHODS_PAGE} does not list: {ref}"


def test_every_report_notebook_shows_how_to_cite():
    for name in ("cluster_report.ipynb", "national_overview.ipynb"):
        nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        assert any(c.cell_type == "code" and c.source.strip().endswith(".how_to_cite()") for c in nb.cells), name
