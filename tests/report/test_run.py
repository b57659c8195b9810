"""End to end on the small synthetic data: outputs, sections, no error cells, self-contained HTML, manifest,
skip-if-unchanged and --only."""
from __future__ import annotations

import hashlib
import json
import re

import nbformat
import pandas as pd
import pytest

from cluster_eval.report import run

#: every cluster report; one that took up a topic adds "Details by topic" and one heading per topic taken up
CLUSTER_SECTIONS = ["Key messages", "For the meeting", "Methods and caveats", "How to cite"]
OVERVIEW_SECTIONS = ["Key messages", "Every cluster: status and effects", "Pooled effects per topic",
                     "Forest plots", "Event studies", "Heterogeneity between clusters",
                     "Trends in variation between practices", "Check against the true effects (synthetic data only)",
                     "Methods and caveats"]
TABLES = ["indicators", "clusters", "activities", "trends", "spc", "funnel", "funnel_limits", "effects",
          "event_study", "variation", "pooled", "pooled_event_study", "variation_trend", "standing",
          "national_effects", "national_event_study", "truth_check"]


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def headings(html: str) -> list[str]:
    found = re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", html, flags=re.S)
    return [re.sub(r"<[^>]+>", "", h).replace("¶", "").strip() for h in found]


def test_run_succeeds_and_writes_the_layout(shared_run, cluster_ids):
    out, status = shared_run
    assert status == 0
    for rel in ["index.html", "manifest.json", "national/overview.html", "logs/run.log", "notebooks/national.ipynb"]:
        assert (out / rel).is_file(), rel
    for cid in cluster_ids:
        assert (out / "clusters" / f"{cid}.html").is_file()
        assert (out / "notebooks" / f"{cid}.ipynb").is_file()
    for name in TABLES:
        assert (out / "tables" / f"{name}.parquet").is_file(), name
    assert not list(out.rglob(".*.tmp*"))


def test_cluster_report_shows_every_section(shared_run, cluster_ids):
    out, _ = shared_run
    acts = pd.read_parquet(out / "tables" / "activities.parquet")
    n_topics = pd.read_parquet(out / "tables" / "indicators.parquet")["topic"].nunique()
    for cid in cluster_ids:
        html = (out / "clusters" / f"{cid}.html").read_text()
        heads = headings(html)
        topics = list(acts[acts["cluster_id"] == cid].sort_values("start")["topic"])
        want = CLUSTER_SECTIONS + (["Details by topic"] if topics else [])
        if len(set(topics)) < n_topics:
            want.append("Topics not taken up: standing against the nation")
        missing = [s for s in want if s not in heads]
        assert not missing, (cid, missing)
        # details grouped by topic: one heading per topic taken up, in the order of the starts
        topic_heads = [h.split(" (")[0] for h in heads if h.split(" (")[0] in set(topics)]
        assert topic_heads == topics, (cid, topic_heads, topics)
        figures = html.count("data:image/svg+xml;base64,") + html.count("<svg ")   # embedded or inline
        assert figures >= 2 * len(topics)  # per topic: the forest strips and the rows of panels


def test_overview_shows_every_section(shared_run):
    out, _ = shared_run
    heads = headings((out / "national" / "overview.html").read_text())
    assert [s for s in OVERVIEW_SECTIONS if s not in heads] == []


def test_no_error_cells_in_executed_notebooks(shared_run):
    out, _ = shared_run
    for path in (out / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata.papermill.get("exception") in (None, False), path.name
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert errors == [], path.name


@pytest.mark.parametrize("rel", ["index.html", "national/overview.html"])
def test_html_is_self_contained(shared_run, cluster_ids, rel):
    out, _ = shared_run
    pages = [out / rel] + [out / "clusters" / f"{c}.html" for c in cluster_ids]
    for page in pages:
        html = page.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, flags=re.I), page.name
        assert "<script" not in html.lower()
        assert "<link" not in html.lower()
        assert "mathjax" not in html.lower()
        imgs = re.findall(r"<img[^>]*src=\"([^\"]{0,30})", html)
        assert all(s.startswith("data:image/") for s in imgs), page.name


def test_code_and_parameters_are_hidden(shared_run, cluster_ids):
    out, _ = shared_run
    html = (out / "clusters" / f"{cluster_ids[0]}.html").read_text()
    assert "run_dir" not in html
    assert "ClusterReport(" not in html
    assert "jp-InputArea" not in html and "input_area" not in html


def test_manifest_records_run_inputs_and_reports(shared_run, small_data, cluster_ids):
    out, _ = shared_run
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete"
    assert man["run_id"] and man["started"] <= man["finished"]
    assert "git_commit" in man and man["versions"]["pandas"] == pd.__version__
    assert man["params"]["disclosure"]["threshold"] == 4
    # every input file, hashed (oracle: hashlib on the file itself)
    want = {str(p.resolve()): sha256(p) for p in [*small_data.glob("*.csv"), *small_data.glob("*.parquet")]}
    got = {str(k): v["sha256"] for k, v in man["inputs"].items()}
    for path, digest in got.items():
        assert want[str(path)] == digest
    assert {"practices", "clusters", "activities", "measures"} <= {p.split("/")[-1][:-4] for p in got}
    assert any(p.endswith("measures_banded.parquet") for p in got)   # the optional banded measures too
    reports = {r["id"]: r for r in man["reports"]}
    assert set(reports) == {"national", *cluster_ids}
    for r in reports.values():
        assert r["status"] == "ok" and r["duration"] > 0
        assert r["output_sha256"] == sha256(out / r["output"])
    assert man["audit"]["findings"] == 0


def test_index_lists_overview_first_then_every_cluster(shared_run, cluster_ids):
    out, _ = shared_run
    html = (out / "index.html").read_text()
    links = re.findall(r'href="([^"]+\.html)"', html)
    assert links[0] == "national/overview.html"
    assert sorted(links[1:]) == sorted(f"clusters/{c}.html" for c in cluster_ids)
    assert html.count('class="ok"') == len(cluster_ids) + 1


def test_count_tables_passed_disclosure_control(shared_run):
    out, _ = shared_run
    for name in ("trends", "funnel", "standing"):
        df = pd.read_parquet(out / "tables" / f"{name}.parquet")
        assert "suppressed" in df
        for col in ("numerator", "denominator"):
            v = df[col].dropna()
            assert not ((v >= 1) & (v <= 4)).any(), (name, col)


def test_unchanged_inputs_skip_every_report_and_only_reruns_one(shared_run, small_data, params_for, cluster_ids):
    out, _ = shared_run
    before = {p.name: (p.stat().st_mtime_ns, sha256(p)) for p in (out / "clusters").glob("*.html")}
    assert run(params_for(small_data, out), quiet=True) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert all(r["skipped"] for r in man["reports"])
    after = {p.name: (p.stat().st_mtime_ns, sha256(p)) for p in (out / "clusters").glob("*.html")}
    assert after == before
    # a report altered on disk is no longer current: it is rerun, the others are not
    victim = out / "clusters" / f"{cluster_ids[0]}.html"
    victim.write_text(victim.read_text()[:100])
    assert run(params_for(small_data, out), quiet=True) == 0
    man = {r["id"]: r for r in json.loads((out / "manifest.json").read_text())["reports"]}
    assert not man[cluster_ids[0]]["skipped"]
    assert all(r["skipped"] for k, r in man.items() if k != cluster_ids[0])
    assert victim.read_text().rstrip().endswith("</html>")
    # --only reruns the named cluster even when unchanged
    assert run(params_for(small_data, out), only=[cluster_ids[1]], quiet=True) == 0
    man = {r["id"]: r for r in json.loads((out / "manifest.json").read_text())["reports"]}
    assert [k for k, r in man.items() if not r["skipped"]] == [cluster_ids[1]]


def test_only_unknown_cluster_is_refused(shared_run, small_data, params_for):
    from cluster_eval.errors import ConfigError

    out, _ = shared_run
    with pytest.raises(ConfigError, match="--only: cluster 'NOPE' is not in the data"):
        run(params_for(small_data, out), only=["NOPE"], quiet=True)


def test_audit_finding_fails_the_run_and_orphan_reports_are_removed(shared_run, small_data, params_for):
    out, _ = shared_run
    planted = out / "tables" / "planted.csv"
    planted.write_text("practice_id,numerator,denominator\nP1,3,120\nP2,40,130\n")
    orphan = out / "clusters" / "GONE.html"
    orphan.write_text("<html></html>")
    try:
        assert run(params_for(small_data, out), quiet=True) == 1
        man = json.loads((out / "manifest.json").read_text())
        assert man["status"] == "failed"
        assert man["audit"]["findings"] >= 1 and "planted.csv" in man["audit"]["first"][0]
        assert all(r["status"] == "ok" for r in man["reports"])  # the reports themselves are fine
        assert not orphan.exists()
    finally:
        planted.unlink()
    assert run(params_for(small_data, out), quiet=True) == 0


def test_report_file_names_are_safe_and_distinct():
    from cluster_eval.report.runner import safe_name

    assert safe_name("K001") == "K001"
    names = [safe_name(x) for x in ("../etc/passwd", "A B", "A_B", ".hidden", "a/b")]
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert len(set(names)) == len(names)


def test_a_change_to_the_statistics_code_changes_the_skip_key(tmp_path):
    """Reports are not skipped as unchanged after an estimator changed (not only the report's own code)."""
    import shutil
    from pathlib import Path

    import cluster_eval
    from cluster_eval.report.runner import code_hash

    copy = tmp_path / "cluster_eval"
    shutil.copytree(Path(cluster_eval.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = code_hash(copy)
    assert code_hash(copy) == before
    target = copy / "stats" / "proportions.py"
    target.write_text(target.read_text() + "\n# changed\n")
    assert code_hash(copy) != before
    catalogue = copy / "indicators" / "catalogue.yaml"
    changed = code_hash(copy)
    catalogue.write_text(catalogue.read_text() + "\n# changed\n")
    assert code_hash(copy) != changed
