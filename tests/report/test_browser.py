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
