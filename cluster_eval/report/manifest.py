"""``manifest.json``: what was run, on what, with what, and how each report ended; and the closing audit."""
from __future__ import annotations

import json
import platform
import socket
import subprocess
import time
import uuid
from importlib import metadata
from pathlib import Path

from .tables import atomic_write

PACKAGES = ("cluster_eval", "numpy", "pandas", "scipy", "statsmodels", "matplotlib", "seaborn", "pyarrow", "duckdb",
            "papermill", "nbconvert", "nbclient", "ipykernel", "jupyter_client", "pyyaml", "playwright")


def git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        commit = out.stdout.strip() if out.returncode == 0 else None
        if commit:
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return None


def versions() -> dict:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Manifest:
    def __init__(self, folder: Path, cfg, input_hashes: dict, started: float):
        self.folder, self.cfg = folder, cfg
        self.data = {
            "run_id": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-" + uuid.uuid4().hex[:8],
            "run_name": cfg.run_name, "status": "running", "started": _iso(started), "finished": None,
            "host": socket.gethostname(), "git_commit": git_commit(), "versions": versions(),
            "params": json.loads(json.dumps(cfg.params, default=str)),
            "inputs": {p: {"sha256": h} for p, h in input_hashes.items()},
            "reports": [], "audit": None,
        }

    def write(self, status: str, reports=None, results=None, audit=None) -> Path:
        self.data["status"] = status
        if status != "running":
            self.data["finished"] = _iso(time.time())
        if reports is not None:
            rows = []
            for job in reports:
                r = (results or {}).get(job["id"], {})
                out = Path(job["html"])
                rows.append({"id": job["id"], "kind": job["kind"], "status": r.get("status", "not run"),
                             "skipped": bool(r.get("skipped")), "duration": r.get("duration"),
                             "cpu_seconds": r.get("cpu_seconds"),
                             "error": r.get("error"),
                             "output": str(out.relative_to(self.folder)) if out.exists() else None,
                             "output_sha256": r.get("output_hash") if out.exists() else None,
                             "notebook": str(Path(job["ipynb"]).relative_to(self.folder)),
                             **self._pdf(job, r), "key": job["key"]})
            self.data["reports"] = rows
        if audit is not None:
            self.data["audit"] = audit
        path = self.folder / "manifest.json"
        atomic_write(path, json.dumps(self.data, indent=1, default=str))
        return path


    def _pdf(self, job, r: dict) -> dict:
        """The report's PDF (when the run prints PDFs or one is current on disk) and how its printing ended."""
        pdf = Path(job.get("pdf") or Path(job["html"]).with_suffix(".pdf"))
        ok = r.get("pdf_status") == "ok" and pdf.exists()
        return {"pdf": str(pdf.relative_to(self.folder)) if ok else None,
                "pdf_sha256": r.get("pdf_hash") if ok else None,
                "pdf_status": r.get("pdf_status"), "pdf_error": r.get("pdf_error")}


def run_audit(folder: Path, cfg) -> dict:
    """The independent disclosure audit (``cluster_eval.audit``) over the written outputs, when installed."""
    try:
        from ..audit import audit_dir
    except ImportError:
        return {"ran": False, "findings": 0, "note": "cluster_eval.audit not installed"}
    try:
        found = audit_dir(folder, threshold=cfg.disclosure["threshold"])
    except TypeError:
        found = audit_dir(folder)
    items = list(found.itertuples(index=False)) if hasattr(found, "itertuples") else list(found or [])
    return {"ran": True, "findings": len(items), "first": [str(x) for x in items[:20]]}
