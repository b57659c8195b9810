"""The audit on a real run of the batch job (small synthetic Denmark, one cluster report).

The run is made once per module with the public runner (``cluster_eval.report.run``) and the project's
``params/demo.yaml``; the test skips only when the runner is not installed. The untouched run must pass;
a copy with planted violations in a Parquet table, a cluster report, an executed notebook and the
manifest must give exactly those findings.
"""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import cluster_eval as ce
from cluster_eval.audit import RULE_SMALL, audit_dir, main_audit

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    try:
        from cluster_eval.report import run
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"the report runner is not installed: {exc}")
    yaml = pytest.importorskip("yaml")
    out = tmp_path_factory.mktemp("real_run")
    ce.synthetic.generate(scale="small", seed=7).write(out / "data")
    params = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    params.update(data=str(out / "data"), output=str(out / "reports"), run_name="audit-test")
    run(params, jobs=2, only=["K001"], quiet=True)
    reports = out / "reports"
    assert (reports / "clusters" / "K001.html").exists(), "the runner wrote no cluster report"
    return reports


@pytest.fixture
def copy(real_run, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(real_run, dst, ignore=shutil.ignore_patterns("*.lock", ".lock"))
    return dst


def test_untouched_real_run_passes(copy):
    found = audit_dir(copy)
    assert found == [], "\n".join(str(f) for f in found[:20])
    # not vacuous: the run holds count columns, hidden cells and report tables the audit reads
    funnel = pd.read_parquet(copy / "tables" / "funnel.parquet")
    assert {"numerator", "denominator"} <= set(funnel.columns)
    assert "<table" in (copy / "clusters" / "K001.html").read_text()


def test_planted_violations_in_a_real_run_are_found(copy):
    # 1. a Parquet table: the first numerator shows 3
    path = copy / "tables" / "funnel.parquet"
    funnel = pd.read_parquet(path)
    funnel.loc[funnel.index[0], "numerator"] = 3.0
    funnel.to_parquet(path, index=False)
    # 2. the cluster report: a profile-style row with a small count, at the end of the first table
    page = copy / "clusters" / "K001.html"
    html = page.read_text()
    at = html.index("</table>")
    body_end = html.rfind("</tbody>", 0, at)
    at = body_end if body_end != -1 else at
    page.write_text(html[:at] + "<tr><td>Listed patients</td><td>3</td></tr>" + html[at:])
    # 3. the executed notebook: an element marked as a count in the first HTML output
    nb_path = copy / "notebooks" / "K001.ipynb"
    nb = json.loads(nb_path.read_text())
    spot = next((c, o) for c, cell in enumerate(nb["cells"], 1) for o, out in enumerate(cell.get("outputs", []), 1)
                if "text/html" in (out.get("data") or {}))
    out = nb["cells"][spot[0] - 1]["outputs"][spot[1] - 1]["data"]
    html_out = out["text/html"]
    out["text/html"] = ("".join(html_out) if isinstance(html_out, list) else html_out) + \
        '<p><span data-count="4">4 patients</span></p>'
    nb_path.write_text(json.dumps(nb))
    # 4. the manifest: a small count under a count-named key
    man = json.loads((copy / "manifest.json").read_text())
    man["n_persons"] = 2
    (copy / "manifest.json").write_text(json.dumps(man))

    found = audit_dir(copy)
    got = sorted((f.file, f.value, f.rule) for f in found)
    assert got == sorted([
        ("tables/funnel.parquet", 3.0, RULE_SMALL),
        ("clusters/K001.html", "3", RULE_SMALL),
        ("notebooks/K001.ipynb", "4", RULE_SMALL),
        ("manifest.json", 2, RULE_SMALL),
    ]), "\n".join(str(f) for f in found)
    where = {f.file: f.location for f in found}
    assert where["tables/funnel.parquet"].startswith("row 1 (") and where["tables/funnel.parquet"].endswith(
        "column 'numerator'")
    assert "row" in where["clusters/K001.html"] and "('Listed patients')" in where["clusters/K001.html"]
    assert where["notebooks/K001.ipynb"] == f"cell {spot[0]}, output {spot[1]}: <span data-count>"
    assert where["manifest.json"] == "$.n_persons"
    assert main_audit(copy, out=io.StringIO()) == 1
