"""Opening a report in headless Chromium makes no network request and shows every section (skipped when no
chromium is installed). A planted external image is the positive control: the same check must see it."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# requests Chromium makes on its own (updates, time, accounts), whatever page is open
BROWSER_HOSTS = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com", "googleusercontent.com")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--proxy-server=127.0.0.1:9", "--virtual-time-budget=3000"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless chromium is not installed")


def page_requests(path, tmp_path) -> tuple[list[str], str]:
    netlog = tmp_path / f"{path.stem}.netlog.json"
    res = subprocess.run([CHROMIUM, *FLAGS, f"--log-net-log={netlog}", "--dump-dom", path.as_uri()],
                         capture_output=True, text=True, timeout=120)
    urls = set(re.findall(r'"url":"([^"]+)"', netlog.read_text()))
    hosts = [u for u in urls if re.match(r"(https?|wss?|ftp)://", u)]
    page = [u for u in hosts if not re.match(r"[a-z]+://([^/]*\.)?(" + "|".join(map(re.escape, BROWSER_HOSTS))
                                             + r")(:\d+)?/", u)]
    return page, res.stdout


def test_positive_control_external_image_is_seen(tmp_path):
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png"></body></html>')
    requests, _ = page_requests(page, tmp_path)
    assert any("example.invalid" in u for u in requests)


CLUSTER_SECTIONS = ["Key messages", "For the meeting", "Details by topic", "Methods and caveats"]
OVERVIEW_SECTIONS = ["Key messages", "Every cluster: status and effects", "Pooled effects per topic",
                     "Heterogeneity between clusters", "Trends in variation between practices"]


def test_reports_make_no_request_and_show_every_section(shared_run, cluster_ids, tmp_path):
    out, _ = shared_run
    for path, sections in ((out / "clusters" / f"{cluster_ids[0]}.html", CLUSTER_SECTIONS),
                           (out / "national" / "overview.html", OVERVIEW_SECTIONS),
                           (out / "index.html", [])):
        requests, dom = page_requests(path, tmp_path)
        assert requests == [], (path.name, requests)
        for s in sections:
            assert s in dom, (path.name, s)


SCREEN = 900        # the first screen at 1100 px wide (issue 17)
AIM = 6000          # every cluster report at most this tall at 1100 px wide
FIRST_SCREEN_JS = """() => {
  const box = e => e ? e.getBoundingClientRect().bottom + scrollY : null;
  const rows = Array.from(document.querySelectorAll('.ce-topics tbody tr')).map(
      r => [Array.from(r.children).map(c => c.textContent.trim()), box(r)]);
  return {rows: rows, next: box(document.querySelector('.ce-next')),
          meeting: box(document.querySelector('.ce-meeting')),
          questions: document.querySelectorAll('.ce-meeting li').length,
          height: document.documentElement.scrollHeight};
}"""


def test_first_screen_answers_and_reports_are_short(shared_run, cluster_ids, record_property):
    """At 1100 px wide, within the first 900 px: every topic taken up with its month, its primary indicator
    (the catalogue's) and a calibrated reading; the look-next line; the meeting box with 2-3 questions. Prints
    each report's height and holds it to the aim (6,000 px)."""
    import pandas as pd

    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    from cluster_eval.report.wording import TOO_SMALL, VERDICT_WORDS

    out, _ = shared_run
    acts = pd.read_parquet(out / "tables" / "activities.parquet").sort_values("start")
    ind = pd.read_parquet(out / "tables" / "indicators.parquet")
    primary = dict(zip(ind.loc[ind["primary"].astype(bool), "topic"], ind.loc[ind["primary"].astype(bool), "title"]))
    heights = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1100, "height": SCREEN})
        for cid in cluster_ids:
            page.goto((out / "clusters" / f"{cid}.html").as_uri())
            got = page.evaluate(FIRST_SCREEN_JS)
            heights[cid] = got["height"]
            mine = acts[acts["cluster_id"] == cid]
            assert len(got["rows"]) == len(mine), cid
            for (cells, bottom), a in zip(got["rows"], mine.itertuples()):
                topic, when, title, reading = cells[:4]
                assert topic == a.topic and f"{pd.Timestamp(a.start):%B %Y}" in when, (cid, cells)
                assert title == primary[a.topic], (cid, cells)
                assert reading.startswith(VERDICT_WORDS) or reading.startswith(TOO_SMALL), (cid, cells)
                assert bottom <= SCREEN, (cid, topic, bottom)
            assert got["next"] is None or got["next"] <= SCREEN, (cid, got["next"])
            assert got["meeting"] is not None and got["meeting"] <= SCREEN, (cid, got["meeting"])
            assert 2 <= got["questions"] <= 3, cid
        browser.close()
    record_property("report_heights_px", heights)   # in the junit XML; printed with -s
    print("\ncluster report heights at 1100 px wide (small demo): "
          + ", ".join(f"{c} {h:,} px" for c, h in heights.items()))
    assert max(heights.values()) <= AIM, heights
