"""``index.html``: every report with its status and key numbers, the national overview first."""
from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import i18n
from .i18n import N_, _
from .render import check_self_contained, page
from .tables import atomic_write

#: The index's summary of a cluster's effects: (verdict keys of :func:`cluster_eval.report.wording.verdict_key`,
#: label); the keys not listed (a status: not estimated) count as "too few to estimate".
SUMMARY = ((("improved",), N_("{n} improved")), (("no change detected",), N_("{n} no change detected")),
           (("worsened",), N_("{n} worsened")), (("increased", "decreased"), N_("{n} changed (no better direction)")))


def _esc(x) -> str:
    return html.escape(str(x))


def _rel(folder: Path, path) -> str:
    return Path(os.path.relpath(path, folder)).as_posix()


def _topics(text) -> str:
    """The clusters table's "topics" (comma-separated topic ids) in the report's language."""
    return ", ".join(i18n.translate_value(t.strip()) for t in str(text).split(",")) if str(text) else ""


def _key_numbers(tables: Path) -> dict:
    """Per cluster: a short summary of its effects (how many improved / unclear / worsened / too few)."""
    from .wording import VERDICT_WORDS, verdict_key

    out = {}
    try:
        eff = pd.read_parquet(tables / "effects.parquet")
        meta = pd.read_parquet(tables / "indicators.parquet").set_index("indicator_id")
    except (OSError, ValueError):
        return out
    for cid, g in eff.groupby("cluster_id"):
        keys = [verdict_key(r, meta.loc[r["indicator_id"], "better"]) for r in g.to_dict("records")]
        parts = []
        for group, label in (*SUMMARY, (None, N_("{n} too few to estimate"))):
            n = sum((k in group) if group else (k not in VERDICT_WORDS) for k in keys)
            if n:
                parts.append(_(label).format(n=n))
        out[str(cid)] = ", ".join(parts)
    return out


def write_index(folder: Path, cfg, jobs: list[dict], results: dict) -> Path:
    """``index.html`` in the run's language (``report.language``)."""
    with i18n.language(cfg.report.get("language", i18n.DEFAULT_LANGUAGE)):
        return _write_index(folder, cfg, jobs, results)


def _write_index(folder: Path, cfg, jobs: list[dict], results: dict) -> Path:
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
                label = _esc(_("executed notebook"))
                link += f' — <a href="{_esc(_rel(folder, nb))}">{label}</a>'
            log = Path(job["log"])
            if log.exists():
                label = _esc(_("log"))
                link += f' · <a href="{_esc(_rel(folder, log))}">{label}</a>'
        st = f'<span class="{"ok" if ok else "failed"}">{_esc(i18n.translate_value(status))}</span>'
        if r.get("skipped") and ok:
            st += " " + _esc(_("(unchanged)"))
        if not ok and r.get("error"):
            st += f"<br><small>{_esc(str(r['error'])[:300])}</small>"
        if job["kind"] == "overview":
            region, npr, topics, key = _("all"), _("{n} clusters").format(n=len(clusters)), "", ""
        else:
            c = clusters.loc[job["id"]] if job["id"] in clusters.index else {}
            region = c.get("region", "") if len(c) else ""
            npr = c.get("n_practices", "") if len(c) else ""
            topics = _topics(c.get("topics", "")) if len(c) else ""
            key = keys.get(job["id"], "")
        dur = r.get("duration")
        dur = f"{i18n.decimal(dur, 1)} s" if isinstance(dur, int | float) and np.isfinite(dur) else ""
        rows.append(f"<tr><td>{link}</td><td>{st}</td><td>{_esc(region)}</td><td>{_esc(npr)}</td>"
                    f"<td>{_esc(topics)}</td><td>{_esc(key)}</td><td>{dur}</td></tr>")
    heads = "".join(f"<th>{_esc(_(h))}</th>" for h in (N_("report"), N_("status"), N_("region"), N_("practices"),
                                                        N_("topics taken up"), N_("effects"), N_("time")))
    body = (f"<h1>cluster_eval — {_esc(cfg.run_name)}</h1>"
            "<p>" + _esc(_("{n_ok} of {n} reports ok. Effects are each cluster's indicators after its first meeting "
                           "on a topic compared with practices not (yet) working on it; see each report's methods "
                           "section.").format(n_ok=n_ok, n=len(jobs))) + "</p>"
            "<table><thead><tr>" + heads + "</tr></thead><tbody>" + "\n".join(rows) + "</tbody></table>"
            '<p><a href="manifest.json">manifest.json</a> · <a href="logs/run.log">' + _esc(_("run log")) + "</a></p>")
    text = page(f"cluster_eval — {cfg.run_name}", body, lang=i18n.get_language())
    check_self_contained(text, "index.html")
    path = folder / "index.html"
    atomic_write(path, text)
    return path
