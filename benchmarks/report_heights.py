"""How tall the cluster reports of a finished run are at 1100 px wide (headless Debian chromium via playwright).

    .venv/bin/cluster-eval demo --out /tmp/demo            # the Denmark demo (or --scale small)
    .venv/bin/python benchmarks/report_heights.py /tmp/demo/reports [--sections K004] [--aim 6000]

Prints the tallest cluster reports' heights in CSS pixels (the page's scroll height in a 1100 x 900 viewport),
then the median, the maximum and how many reports exceed ``--aim`` (issue 17: at most 6,000 px), and where
the first screen ends (the bottom of the "For the meeting" box: it should be within the first 900 px).
``--sections ID`` also prints where each heading of that report starts, to see which part takes the room.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

WIDTH, SCREEN = 1100, 900
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking"]
MEETING_JS = """() => { const m = document.querySelector('.ce-meeting');
    return m ? Math.round(m.getBoundingClientRect().bottom + scrollY) : null; }"""
HEADINGS_JS = """() => Array.from(document.querySelectorAll('h1, h2, h3')).map(
    h => [h.tagName, h.textContent.trim().slice(0, 60), Math.round(h.getBoundingClientRect().top + scrollY)])"""


def heights(paths, sections=None, meeting=None) -> dict:
    """{report stem: height in px} of each HTML file at WIDTH; headings of the ``sections`` report printed;
    the bottom of each report's meeting box put into the dict ``meeting`` if given."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": SCREEN})
        for path in paths:
            page.goto(Path(path).resolve().as_uri())
            out[Path(path).stem] = int(page.evaluate("() => document.documentElement.scrollHeight"))
            if meeting is not None:
                meeting[Path(path).stem] = page.evaluate(MEETING_JS)
            if sections and Path(path).stem == sections:
                for tag, text, top in page.evaluate(HEADINGS_JS):
                    print(f"  {top:>6} px  {tag} {text}")
        browser.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="a finished run's folder (clusters/*.html inside)")
    ap.add_argument("--sections", metavar="ID", help="print where each heading of this cluster's report starts")
    ap.add_argument("--aim", type=int, default=6000, help="height aim in px (default 6000)")
    args = ap.parse_args(argv)
    paths = sorted((Path(args.run_dir) / "clusters").glob("*.html"))
    if not paths:
        print(f"no cluster reports in {args.run_dir}/clusters", file=sys.stderr)
        return 2
    boxes = {}
    h = heights(paths, args.sections, boxes)
    for name, px in sorted(h.items(), key=lambda kv: -kv[1])[:10]:
        print(f"{name:>12} {px:>7,} px")
    values = list(h.values())
    over = sum(v > args.aim for v in values)
    print(f"{len(values)} cluster reports at {WIDTH} px wide: median {statistics.median(values):,.0f} px, "
          f"max {max(values):,} px ({max(h, key=h.get)}), min {min(values):,} px; {over} above {args.aim:,} px")
    ends = {k: v for k, v in boxes.items() if v is not None}
    if ends:
        worst = max(ends, key=ends.get)
        print(f"first screen (bottom of the meeting box): median {statistics.median(ends.values()):,.0f} px, max "
              f"{ends[worst]:,} px ({worst}); {sum(v > SCREEN for v in ends.values())} end beyond the first {SCREEN} px; "
              f"{len(boxes) - len(ends)} reports without the box")
    return 0


if __name__ == "__main__":
    sys.exit(main())
