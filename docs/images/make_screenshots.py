"""Refresh the README screenshots from a finished demo run (headless Debian chromium via playwright).

    .venv/bin/cluster-eval demo --out /tmp/demo --scale small
    .venv/bin/python docs/images/make_screenshots.py /tmp/demo/reports
"""
from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent


def main(run_dir: str) -> None:
    run = Path(run_dir)
    cluster = sorted((run / "clusters").glob("*.html"))[0]
    pages = {"cluster_report.png": cluster, "national_overview.png": run / "national" / "overview.html",
             "index.png": run / "index.html"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1100, "height": 1500})
        for name, path in pages.items():
            page.goto(path.as_uri())
            page.screenshot(path=str(HERE / name), full_page=False)
            print(f"{name} <- {path}")
        browser.close()
    pdf = cluster.with_suffix(".pdf")   # the demo's A4 PDF (report.pdf; on for the Denmark demo): its first page
    if pdf.exists():
        import subprocess

        subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(HERE / "pdf_page")], check=True)
        print(f"pdf_page.png <- {pdf}")


if __name__ == "__main__":
    main(sys.argv[1])
