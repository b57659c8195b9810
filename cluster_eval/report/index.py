"""``index.html``: every report with its status and key numbers, the national overview first."""
from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .i18n import _
from .render import check_self_contained, page
from .tables import atomic_write


def _esc(x) -> str:
    return html.escape(str(x))


def _rel(folder: Path, path) -> str:
    return Path(os.path.relpath(path, folder)).as_posix()


def _key_numbers(tables: Path) -> dict:
    """Per cluster: a short summary of its effects (how many improved / unclear / worsened / too few)."""
    from .wording import VERDICT_WORDS, verdict

    out = {}
    try:
        eff = pd.read_parquet(tables / "effects.parquet")
        meta = pd.read_parquet(tables / "indicators.parquet").set_index("indicator_id")
    except (OSError, ValueError):
        return out
    for cid, g in eff.groupby("cluster_id"):
        words = [verdict(r, meta.loc[r["indicator_id"], "better"]) for r in g.to_dict("records")]
        parts = []
        for label, test in (("improved", lambda w: w.startswith("improved")),
                            ("no change detected", lambda w: w.startswith("no change detected")),
                            ("worsened", lambda w: w.startswith("worsened")),
                            ("changed (no better direction)", lambda w: w.startswith(("increased", "decreased"))),
                            ("too few to estimate", lambda w: not w.startswith(VERDICT_WORDS))):
            n = sum(test(w) for w in words)
            if n:
                parts.append(f"{n} {label}")
        out[str(cid)] = ", ".join(parts)
    return out


def write_index(folder: Path, cfg, jobs: list[dict], results: dict) -> Path:
    tables = folder / "tables"
    try:
        clusters = pd.read_parquet(tables / "clusters.parquet").set_index("cluster_id")
    except (OSError, ValueError):
        clusters = pd.DataFrame()
    keys = _key_numbers(tables)
    rows = []
    n_ok = sum(1 for r in results.values() if r.get("status") == "ok")
    for job in jobs:
        r = results.get(job["id"], {})
        status = r.get("status", "not run")
        ok = status == "ok"
        if ok:
            link = f'<a href="{_esc(_rel(folder, job["html"]))}">{_esc(job["title"])}</a>'
            pdf = Path(job.get("pdf") or "")
            if r.get("pdf_status") == "ok" and pdf.is_file():
                label = _esc(_("PDF"))
                link += f' · <a href="{_esc(_rel(folder, pdf))}">{label}</a>'
            elif r.get("pdf_status") == "failed":
                label = _esc(_("PDF failed"))
                link += f' · <span class="failed">{label}</span>'
        else:
            nb = Path(job["ipynb"])
            link = _esc(job["title"])
            if nb.exists():
                link += f' — <a href="{_esc(_rel(folder, nb))}">executed notebook</a>'
            log = Path(job["log"])
            if log.exists():
                link += f' · <a href="{_esc(_rel(folder, log))}">log</a>'
        st = f'<span class="{"ok" if ok else "failed"}">{_esc(status)}</span>'
        if r.get("skipped") and ok:
            st += " (unchanged)"
        if not ok and r.get("error"):
            st += f"<br><small>{_esc(str(r['error'])[:300])}</small>"
        if job["kind"] == "overview":
            region, npr, topics, key = "all", f"{len(clusters)} clusters", "", ""
        else:
            c = clusters.loc[job["id"]] if job["id"] in clusters.index else {}
            region = c.get("region", "") if len(c) else ""
            npr = c.get("n_practices", "") if len(c) else ""
            topics = c.get("topics", "") if len(c) else ""
            key = keys.get(job["id"], "")
        dur = r.get("duration")
        dur = f"{dur:.1f} s" if isinstance(dur, int | float) and np.isfinite(dur) else ""
        rows.append(f"<tr><td>{link}</td><td>{st}</td><td>{_esc(region)}</td><td>{_esc(npr)}</td>"
                    f"<td>{_esc(topics)}</td><td>{_esc(key)}</td><td>{dur}</td></tr>")
    body = (f"<h1>cluster_eval — {_esc(cfg.run_name)}</h1>"
            f"<p>{n_ok} of {len(jobs)} reports ok. Effects are each cluster's indicators after its first meeting on a "
            "topic compared with practices not (yet) working on it; see each report's methods section.</p>"
            "<table><thead><tr><th>report</th><th>status</th><th>region</th><th>practices</th><th>topics taken up</th>"
            "<th>effects</th><th>time</th></tr></thead><tbody>" + "\n".join(rows) + "</tbody></table>"
            '<p><a href="manifest.json">manifest.json</a> · <a href="logs/run.log">run log</a></p>')
    text = page(f"cluster_eval — {cfg.run_name}", body)
    check_self_contained(text, "index.html")
    path = folder / "index.html"
    atomic_write(path, text)
    return path
