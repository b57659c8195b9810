"""Auditing a run folder: every file by its type, and the command line's ``cluster-eval audit``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from ..errors import ArgumentError
from ..validation import check_whole_number
from .pages import audit_html, audit_notebook
from .rules import RULE_UNREADABLE, THRESHOLD, Finding
from .tables import _declared_parquet_counts, audit_frame, audit_json

KINDS = {".html": "html", ".htm": "html", ".parquet": "parquet", ".pq": "parquet", ".csv": "csv",
         ".json": "json", ".ipynb": "ipynb"}


def _kind(path: Path) -> str | None:
    for suffix in reversed([s.lower() for s in path.suffixes]):
        if suffix in KINDS:
            return KINDS[suffix]
    return None


def audit_file(path, root=None, threshold: int = THRESHOLD) -> list[Finding]:
    """Findings in one file (an unknown file type gives none; an unreadable table gives one finding)."""
    path = Path(path)
    name = str(path.relative_to(root)) if root else str(path)
    kind = _kind(path)
    try:
        if kind == "html":
            return audit_html(path.read_text(encoding="utf-8", errors="replace"), name, threshold)
        if kind == "parquet":
            return audit_frame(pd.read_parquet(path), name, threshold, _declared_parquet_counts(path))
        if kind == "csv":
            return audit_frame(pd.read_csv(path, low_memory=False), name, threshold)
        if kind == "json":
            return audit_json(json.loads(path.read_text(encoding="utf-8")), name, threshold)
        if kind == "ipynb":
            return audit_notebook(json.loads(path.read_text(encoding="utf-8")), name, threshold)
    except Exception as exc:  # noqa: BLE001 - any failure to read means the file was not checked
        return [Finding(name, "", f"{type(exc).__name__}: {exc}", RULE_UNREADABLE)]
    return []


def audit_dir(path, threshold: int = THRESHOLD) -> list[Finding]:
    """Audit every output file under a run folder.

    Parameters
    ----------
    path : str or Path
        The run folder (e.g. ``outputs/demo``); every file below it is read.
    threshold : int, default 4
        Counts from 1 to ``threshold`` may not be shown.

    Returns
    -------
    list of Finding
        Empty when the folder is clean.
    """
    threshold = check_whole_number(threshold, "threshold", minimum=1)
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    found = []
    for f in files:
        found += audit_file(f, root, threshold)
    return found


def _manifest_threshold(root: Path) -> int | None:
    try:
        m = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        t = m["params"]["disclosure"]["threshold"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(t) if isinstance(t, int) and not isinstance(t, bool) else None


def main_audit(path, threshold: int | None = None, out=None, limit: int = 200) -> int:
    """``cluster-eval audit OUTPUT_DIR``: print the findings; exit status 0 clean, 1 findings, 2 bad arguments.

    The threshold is the larger of ``threshold`` (default 4) and the run's own
    ``params.disclosure.threshold`` in ``manifest.json``.
    """
    out = out or sys.stdout
    root = Path(path)
    if not root.is_dir():
        print(f"audit: {str(path)!r} is not a folder", file=out)
        return 2
    try:
        thr = max(check_whole_number(THRESHOLD if threshold is None else threshold, "threshold", minimum=1),
                  _manifest_threshold(root) or 0)
    except ArgumentError as exc:
        print(f"audit: {exc}", file=out)
        return 2
    files = [p for p in root.rglob("*") if p.is_file()]
    checked = sum(_kind(p) is not None for p in files)
    found = audit_dir(root, thr)
    for f in found[:limit]:
        print(str(f), file=out)
    if len(found) > limit:
        print(f"... and {len(found) - limit} more", file=out)
    n_files = len({f.file for f in found})
    status = "clean" if not found else f"{len(found)} finding{'s' if len(found) != 1 else ''} in {n_files} " \
        f"file{'s' if n_files != 1 else ''}"
    print(f"audit: {status} ({checked} files checked, {len(files) - checked} other files not read; "
          f"counts 1-{thr} are not allowed)", file=out)
    return 1 if found else 0
