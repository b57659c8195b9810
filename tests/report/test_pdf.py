"""The A4 PDFs (report.pdf): printed by Debian's Chromium, checked with poppler (pdfinfo, pdftoppm, pdftotext,
pdfimages): A4, 2-15 pages, the cluster named, the footer with the report, the run and the page number on every
page, figures as vectors; one failed print leaves nothing half-written and the others go on; the runner lists
the PDFs and keeps them current. Skipped without chromium/playwright/poppler, failed under CI
(CLUSTER_EVAL_REQUIRE_BROWSER=1)."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest


def pdfinfo(path: Path) -> dict:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def page_text(path: Path, page: int) -> str:
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(path), "-"],
                          capture_output=True, text=True, check=True).stdout


def check_pdf(path: Path, tmp_path: Path, names: list[str], footer: list[str]) -> int:
    """The checks every report's PDF must pass; returns its number of pages."""
    info = pdfinfo(path)
    w, h = (float(x) for x in re.findall(r"[\d.]+", info["Page size"])[:2])
    assert abs(w - 595.3) < 2 and abs(h - 841.9) < 2, info["Page size"]          # A4 in points
    # every page rendered to PNG: as many images as pages, each with ink on it
    prefix = tmp_path / path.stem
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(path), str(prefix)], check=True)
    pngs = sorted(tmp_path.glob(f"{path.stem}-*.png"))
    pages = int(info["Pages"])
    assert len(pngs) == pages and 2 <= pages <= 15, (path.name, pages)
    from PIL import Image

    for png in pngs:
        image = Image.open(png)
        assert abs(image.width / image.height - 210 / 297) < 0.01, png.name      # portrait A4
        assert image.convert("L").getextrema()[0] < 200, png.name                 # ink on it
    first = page_text(path, 1)
    for name in names:
        assert name in first, (path.name, name)
    for i in range(1, pages + 1):                                                 # the footer on every page
        text = " ".join(page_text(path, i).split())
        assert f"Page {i} of {pages}" in text, (path.name, i)
        for word in footer:
            assert word in text, (path.name, i, word)
        body = text.replace(f"Page {i} of {pages}", "")
        for word in footer:
            body = body.replace(word, "")
        assert len(body.split()) >= 3, (path.name, i, text)                       # more than the footer
    # figures stay vector: the PDF holds no raster image at all (the reports embed SVG)
    listed = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    assert len(listed.strip().splitlines()) == 2, listed                         # the header lines only
    return pages


def test_print_pdfs_writes_a4_reports_and_isolates_a_failure(shared_run, cluster_ids, chromium, poppler,
                                                             tmp_path):
    from cluster_eval.report.pdf import footer_template, print_pdfs

    out, status = shared_run
    assert status == 0
    cid = cluster_ids[0]
    html = out / "clusters" / f"{cid}.html"
    name = re.search(r"<h1[^>]*>(.*?)</h1>", html.read_text(), re.S).group(1).strip()
    stale = tmp_path / "gone.pdf"
    stale.write_bytes(b"%PDF-1.4 an older PDF")
    items = [{"id": cid, "html": str(html), "pdf": str(tmp_path / f"{cid}.pdf"),
              "footer": footer_template(f"{name} ({cid})", "test")},
             {"id": "gone", "html": str(tmp_path / "missing.html"), "pdf": str(stale),
              "footer": footer_template("gone", "test")},
             {"id": "national", "html": str(out / "national" / "overview.html"),
              "pdf": str(tmp_path / "overview.pdf"), "footer": footer_template("National overview", "test")}]
    res = print_pdfs(items, chromium=chromium, timeout=60)
    assert res[cid]["status"] == "ok" and res["national"]["status"] == "ok", res
    assert res["gone"]["status"] == "failed" and res["gone"]["error"]
    # the failed one left nothing: no temporary file, and the older PDF is gone rather than looking current
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{cid}.pdf", "overview.pdf"])
    check_pdf(tmp_path / f"{cid}.pdf", tmp_path, [name, cid], [name, "run test"])
    check_pdf(tmp_path / "overview.pdf", tmp_path, ["National overview"], ["National overview", "run test"])


def test_run_with_pdf_lists_the_pdf_and_never_leaves_an_older_one(shared_run, small_data, cluster_ids, params_for,
                                                                   chromium, poppler, tmp_path):
    import hashlib
    import shutil

    from cluster_eval.report import run

    cid = cluster_ids[1]
    out = tmp_path / "run"
    # the shared run's tables: same data and settings (output and pdf are not part of the key), so the analyse
    # stage is skipped and only this cluster's report and its PDF are made
    shutil.copytree(shared_run[0] / "tables", out / "tables")
    params = params_for(small_data, out, report={"pdf": True})
    assert run(params, only=[cid], quiet=True) == 0
    assert "tables reused" in (out / "logs" / "run.log").read_text()
    pdf = out / "clusters" / f"{cid}.pdf"
    man = json.loads((out / "manifest.json").read_text())
    row = next(r for r in man["reports"] if r["id"] == cid)
    assert row["pdf"] == f"clusters/{cid}.pdf" and row["pdf_status"] == "ok"
    assert row["pdf_sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert f'href="clusters/{cid}.pdf"' in (out / "index.html").read_text()
    others = [r for r in man["reports"] if r["id"] != cid]
    assert others and all(r["pdf"] is None for r in others)                # not run here: no PDF listed
    assert not list(out.rglob("*.tmp*"))
    name = pd_name(small_data, cid)
    check_pdf(pdf, tmp_path, [name, cid], [cid, "run test"])
    # the report made again without PDFs: the PDF printed from the older HTML goes, and is no longer listed
    old_html = (out / "clusters" / f"{cid}.html").read_bytes()
    assert run(params_for(small_data, out), only=[cid], quiet=True) == 0
    assert (out / "clusters" / f"{cid}.html").read_bytes() != old_html     # the run id in "how to cite"
    assert not pdf.exists()
    man = json.loads((out / "manifest.json").read_text())
    assert next(r for r in man["reports"] if r["id"] == cid)["pdf"] is None


def pd_name(data: Path, cid: str) -> str:
    import pandas as pd

    clusters = pd.read_csv(data / "clusters.csv", dtype=str).set_index("cluster_id")
    return str(clusters.loc[cid, "name"])


def test_pdf_without_chromium_is_refused_before_anything_is_written(small_data, params_for, tmp_path,
                                                                   monkeypatch, capsys):
    import yaml

    from cluster_eval.cli import main

    monkeypatch.setenv("CLUSTER_EVAL_CHROMIUM", str(tmp_path / "no-chromium"))
    out = tmp_path / "run"
    params = params_for(small_data, out)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    assert main(["run", str(path), "--pdf", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "chromium" in err and "apt-get install chromium" in err and "report.pdf" in err
    assert not out.exists()


@pytest.mark.parametrize("value", ["yes", 1])
def test_report_pdf_must_be_true_or_false(small_data, params_for, tmp_path, value):
    from cluster_eval.errors import ConfigError
    from cluster_eval.report.config import load_params

    with pytest.raises(ConfigError, match="report.pdf"):
        load_params(params_for(small_data, tmp_path / "o", report={"pdf": value}))


def test_demo_prints_pdfs_for_denmark_only_unless_told(tmp_path):
    from cluster_eval.report.demo_run import demo_params

    assert demo_params(tmp_path, "denmark")["report"]["pdf"] is True
    assert demo_params(tmp_path, "small")["report"]["pdf"] is False
    assert demo_params(tmp_path, "small", pdf=True)["report"]["pdf"] is True
    assert demo_params(tmp_path, "denmark", pdf=False)["report"]["pdf"] is False
