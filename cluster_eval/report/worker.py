"""Execute one report in a pool worker: papermill in a fresh kernel, then HTML, each written atomically."""
from __future__ import annotations

import hashlib
import os
import time
import traceback
from pathlib import Path

from .kernel import KERNEL_NAME
from .tables import atomic_write


def file_hash(path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _classify(exc: BaseException) -> tuple[str, str]:
    name = type(exc).__name__
    text = str(exc).strip().splitlines()
    if "Timeout" in name or "timed out" in str(exc).lower():
        return "timeout", f"stopped after the per-report timeout: {text[-1] if text else name}"
    if "DeadKernel" in name or "died" in str(exc).lower():
        return "failed", f"the kernel died: {text[-1] if text else name}"
    if name == "PapermillExecutionError":
        return "failed", f"{getattr(exc, 'ename', name)}: {getattr(exc, 'evalue', '')}"
    return "failed", f"{name}: {text[-1] if text else ''}"


def execute_report(job: dict) -> dict:
    """Run one notebook and render it. Never raises: failures come back as a status with the error.

    ``job`` keys: id, kind, title, notebook, parameters, html, ipynb, timeout, log.
    """
    import papermill as pm

    t0 = time.time()
    html_path, nb_path = Path(job["html"]), Path(job["ipynb"])
    tmp_nb = nb_path.with_name(f".{nb_path.stem}.{os.getpid()}.tmp.ipynb")
    status, error, out_hash = "ok", None, None
    deadline = t0 + float(job["timeout"])

    def remaining(cell) -> float:
        # nbclient asks before each cell: the report's whole budget, not a fresh one per cell
        return max(1.0, deadline - time.time())

    try:
        pm.execute_notebook(str(job["notebook"]), str(tmp_nb), parameters=job["parameters"],
                            kernel_name=KERNEL_NAME, language="python", progress_bar=False, log_output=False,
                            execution_timeout=int(job["timeout"]), timeout_func=remaining,
                            start_timeout=min(120, int(job["timeout"])), request_save_on_cell_execute=False,
                            shutdown_kernel="immediate",
                            cwd=str(Path(job["notebook"]).parent))
    except BaseException as exc:  # noqa: BLE001 - every failure is reported, the pool goes on
        if isinstance(exc, KeyboardInterrupt):
            raise
        status, error = _classify(exc)
        Path(job["log"]).parent.mkdir(parents=True, exist_ok=True)
        Path(job["log"]).write_text(f"{job['id']}: {status}\n{error}\n\n{traceback.format_exc()}")
    try:
        if status == "ok":
            from .render import render

            text = render(tmp_nb, job["title"], footer=job.get("footer", ""))
            atomic_write(html_path, text)
            out_hash = file_hash(html_path)
        else:
            html_path.unlink(missing_ok=True)  # never leave an older report looking current
        if tmp_nb.exists():
            os.replace(tmp_nb, nb_path)
    except Exception as exc:  # noqa: BLE001
        status, error = "failed", f"rendering failed: {type(exc).__name__}: {exc}"
        Path(job["log"]).write_text(f"{job['id']}: {status}\n{error}\n\n{traceback.format_exc()}")
        tmp_nb.unlink(missing_ok=True)
    return {"id": job["id"], "kind": job["kind"], "status": status, "error": error,
            "duration": round(time.time() - t0, 3), "output_hash": out_hash, "key": job["key"]}
