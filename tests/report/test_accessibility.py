"""Accessibility of the written pages: axe-core (npm, injected into headless Chromium) finds no serious or
critical violation in a cluster report, the national overview or the index; every figure is a named image
(SVG ``role="img"`` with ``<title>`` and ``<desc>``) and every table header cell has its scope. A planted page
with known violations is the positive control. Skipped without chromium/playwright/axe-core, failed under CI
(CLUSTER_EVAL_REQUIRE_BROWSER=1)."""
from __future__ import annotations

import re
from pathlib import Path

SERIOUS = ("serious", "critical")
RUN_AXE = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                 nodes: v.nodes.slice(0, 3).map(n => n.html.slice(0, 200))}));
}"""


def axe_violations(paths: list[Path], chromium: str, axe_js: Path) -> dict[str, list[dict]]:
    from playwright.sync_api import sync_playwright

    from cluster_eval.report.pdf import FLAGS

    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            for path in paths:
                page.goto(path.resolve().as_uri(), wait_until="load")
                page.add_script_tag(path=str(axe_js))
                out[path.name] = page.evaluate(RUN_AXE)
        finally:
            browser.close()
    return out


def test_positive_control_axe_sees_planted_violations(chromium, axe_js, tmp_path):
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><head><title>control</title></head><body>'
                    '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
                    '<p style="color:#bbb;background:#fff">faint text</p></body></html>')
    found = axe_violations([page], chromium, axe_js)["control.html"]
    ids = {v["id"] for v in found if v["impact"] in SERIOUS}
    assert {"image-alt", "html-has-lang", "color-contrast"} <= ids, found


def test_axe_finds_no_serious_violation(shared_run, cluster_ids, chromium, axe_js):
    out, status = shared_run
    assert status == 0
    pages = [out / "clusters" / f"{cluster_ids[0]}.html", out / "national" / "overview.html", out / "index.html"]
    found = axe_violations(pages, chromium, axe_js)
    serious = {name: [v for v in vs if v["impact"] in SERIOUS] for name, vs in found.items()}
    assert all(not vs for vs in serious.values()), serious


def test_figures_are_named_images_and_headers_have_scopes(shared_run, cluster_ids):
    out, _ = shared_run
    for path in (out / "clusters" / f"{cluster_ids[0]}.html", out / "national" / "overview.html",
                 out / "index.html"):
        text = path.read_text()
        svgs = re.findall(r"<svg\b[^>]*>.*?</svg>", text, re.S)
        if path.name != "index.html":
            assert svgs, path.name
        for s in svgs:
            head = s[:s.find(">") + 1]
            assert 'role="img"' in head, (path.name, head)
            ids = re.search(r'aria-labelledby="([^"]+)"', head).group(1).split()
            title = re.search(rf'<title id="{ids[0]}">(.+?)</title>', s, re.S)
            desc = re.search(rf'<desc id="{ids[1]}">(.+?)</desc>', s, re.S)
            assert title and desc and "panel" in desc.group(1), (path.name, head)
        ths = re.findall(r"<th\b[^>]*>", text)
        assert ths, path.name
        assert all(re.search(r'scope="(col|row)"', th) for th in ths), (path.name, ths[:3])
