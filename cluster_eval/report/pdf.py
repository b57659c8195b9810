"""A4 PDFs of the written HTML reports, printed by Debian's Chromium through Playwright (nothing downloaded).

One browser prints every PDF of a run, :data:`PARALLEL` pages at a time, after the HTML reports are written
(starting a browser costs more than printing one report). Each PDF is written to a temporary file beside its
report and renamed into place when complete, so a failed or interrupted print never leaves half a PDF; a
failure is returned per report and the others go on.

The page numbers and the footer (the report's cluster and the run) are Chromium's print footer on every page;
the reports' print stylesheet (:data:`cluster_eval.report.render.CSS`) keeps figures and tables whole. Figures
stay vector: the reports embed them as inline SVG.

System dependency: ``chromium`` (Debian: ``apt-get install chromium``) and the Python package ``playwright``
(``pip install 'cluster_eval[pdf]'``); Playwright's own browser download is never used.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import time
from pathlib import Path

from ..errors import ConfigError
from .i18n import _

#: reports printed at the same time in the one browser
PARALLEL = 2
#: flags of the headless browser: no sandbox (containers, CI as root), no background requests
FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-default-apps", "--disable-gpu"]
#: where Chromium is looked for, after ``$CLUSTER_EVAL_CHROMIUM``
CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium", "/usr/lib/chromium/chromium")
MARGIN = {"top": "12mm", "bottom": "16mm", "left": "11mm", "right": "11mm"}
NETWORK = re.compile(r"^(https?|wss?|ftp)://", re.IGNORECASE)
HINT = ("install Debian's chromium (apt-get install chromium) and the pdf extra (pip install 'cluster_eval[pdf]'), "
        "set $CLUSTER_EVAL_CHROMIUM to a Chromium executable, or set report.pdf: false")


def find_chromium() -> str | None:
    """The Chromium executable: ``$CLUSTER_EVAL_CHROMIUM``, else the first of :data:`CANDIDATES` found."""
    env = os.environ.get("CLUSTER_EVAL_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def check_available() -> str:
    """The Chromium path when PDFs can be printed; else :class:`ConfigError` (exit 2) saying what to install."""
    chromium = find_chromium()
    if chromium is None:
        where = os.environ.get("CLUSTER_EVAL_CHROMIUM")
        found = f"$CLUSTER_EVAL_CHROMIUM={where} is not an executable" if where else "no chromium was found"
        raise ConfigError(f"report.pdf is on but {found}; {HINT}")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"report.pdf is on but the Python package playwright is not installed; {HINT}") from exc
    return chromium


def footer_template(report: str, run: str) -> str:
    """Chromium's footer: the report (cluster) and the run on the left, 'Page n of m' on the right.

    Chromium fills the ``pageNumber`` and ``totalPages`` spans; the footer has no page styles of its own, so
    its font size is set here."""
    page = _("Page {page} of {pages}").format(page='<span class="pageNumber"></span>',
                                              pages='<span class="totalPages"></span>')
    left = _("{report} · run {run}").format(report=html.escape(report), run=html.escape(run))
    return ('<div style="font-size:8px;font-family:sans-serif;color:#444;width:100%;margin:0 11mm;'
            f'display:flex;justify-content:space-between"><span>{left}</span><span>{page}</span></div>')


def temporary(path: Path) -> Path:
    """The temporary name a PDF is printed to before it is renamed into place (removed by the runner's
    ``clean_temporaries`` when a killed run left it)."""
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp.pdf")


async def _print_all(items: list[dict], chromium: str, timeout_s: float, parallel: int, results: dict) -> None:
    import asyncio

    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
        try:
            context = await browser.new_context(java_script_enabled=False, offline=True)
            await context.route(NETWORK, lambda route: route.abort())   # the reports are self-contained
            queue: asyncio.Queue = asyncio.Queue()
            for item in items:
                queue.put_nowait(item)

            async def worker():
                page = None
                try:
                    while not queue.empty():
                        item = queue.get_nowait()
                        if page is None:
                            page = await context.new_page()
                            page.set_default_timeout(timeout_s * 1000)
                        results[item["id"]] = await _print_one(page, item)
                        if results[item["id"]]["status"] != "ok":   # a failed page may still navigate: a new one
                            await page.close()
                            page = None
                finally:
                    if page is not None:
                        await page.close()

            await asyncio.gather(*(worker() for _ in range(max(1, min(parallel, len(items))))))
        finally:
            await browser.close()


async def _print_one(page, item: dict) -> dict:
    t0 = time.time()
    pdf, tmp = Path(item["pdf"]), temporary(Path(item["pdf"]))
    try:
        await page.goto(Path(item["html"]).resolve().as_uri(), wait_until="load")
        await page.pdf(path=str(tmp), format="A4", print_background=True, display_header_footer=True,
                       header_template="<span></span>", footer_template=item["footer"], margin=MARGIN,
                       prefer_css_page_size=False)
        os.replace(tmp, pdf)
        return {"status": "ok", "error": None, "duration": round(time.time() - t0, 3)}
    except Exception as exc:  # noqa: BLE001 - one report's PDF failing does not stop the others
        tmp.unlink(missing_ok=True)
        pdf.unlink(missing_ok=True)   # never leave an older PDF beside a newer report
        text = str(exc).strip().splitlines()
        return {"status": "failed", "error": f"{type(exc).__name__}: {text[0] if text else ''}",
                "duration": round(time.time() - t0, 3)}


def print_pdfs(items: list[dict], chromium: str | None = None, timeout: float = 120,
               parallel: int = PARALLEL) -> dict:
    """Print each ``{"id", "html", "pdf", "footer"}`` item's HTML to an A4 PDF at ``pdf``, in one browser.

    Returns ``{id: {"status": "ok" | "failed", "error", "duration"}}``; never raises for one report's failure.
    A browser that cannot start fails every item with its error. ``footer`` is a :func:`footer_template`.
    """
    import asyncio

    if not items:
        return {}
    chromium = chromium or check_available()
    results: dict = {}
    error = "not printed"
    try:
        asyncio.run(_print_all(items, chromium, float(timeout), parallel, results))
    except Exception as exc:  # noqa: BLE001 - the browser itself failed: the reports not yet printed failed
        text = str(exc).strip().splitlines()
        error = f"the browser failed: {type(exc).__name__}: {text[0] if text else ''}"
    for item in items:
        if item["id"] not in results:
            temporary(Path(item["pdf"])).unlink(missing_ok=True)
            Path(item["pdf"]).unlink(missing_ok=True)
            results[item["id"]] = {"status": "failed", "error": error, "duration": None}
    return results
