"""The scheduled batch job: load, analyse once, one notebook per report in a spawn pool, index, manifest, audit.

Order of work (a refusal with exit status 2 comes before anything is written):

1. params validated (:class:`ConfigError`), output folder checked (:class:`OutputError`), lock checked
   (:class:`RunLockedError`), data loaded and validated (:class:`InputError`);
2. the output folder is locked for the run (``.lock``, released by the OS if the run is killed);
3. the analyse stage writes ``tables/`` (skipped when its inputs are unchanged);
4. every report whose key (params, input hashes, notebook, package version and code) changed — or
   whose HTML is missing or altered — runs in a fresh kernel in a ``spawn`` process pool;
5. with ``report.pdf``, every report whose A4 PDF is missing or older than its HTML is printed (one browser,
   :mod:`.pdf`);
6. ``index.html`` and ``manifest.json`` are written; the disclosure audit runs; exit 1 on any failure.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from ..errors import ClusterEvalError, ConfigError, OutputError
from ..impact.estimators import get_estimator
from ..validation import did_you_mean, hint
from .config import RunConfig, load_params
from .i18n import _, language
from .kernel import provide_kernel, worker_init
from .lock import RunLock, check_unlocked
from .tables import atomic_write
from .worker import execute_report, file_hash

LOG = logging.getLogger("cluster_eval.report")
SUBDIRS = ("clusters", "national", "tables", "notebooks", "logs", ".state")
#: params that do not change what a report shows (left out of the skip-if-unchanged key)
NOT_CONTENT = ("output", "jobs")


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and of its children waited for so far."""
    import resource

    me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def check_output(folder: Path) -> None:
    """The output folder is a folder (or can be one) and can be written; else :class:`OutputError`."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"the output path {folder} exists but is not a folder")
    probe_dir = folder
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise OutputError(f"cannot create the output folder {folder}: {probe_dir} is not a folder")
    probe = probe_dir / f".cluster-eval-write-test-{os.getpid()}"
    try:
        with open(probe, "w") as f:
            f.write("x")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"the output folder {probe_dir} cannot be written ({exc.strerror or exc}); "
                          "choose another 'output' in the params or fix its permissions") from exc


def make_dirs(folder: Path) -> None:
    try:
        for sub in SUBDIRS:
            (folder / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folders in {folder}: {exc.strerror or exc}") from exc


def clean_temporaries(folder: Path) -> int:
    """Remove temporary files a killed run left behind (they are never 'current')."""
    n = 0
    for sub in SUBDIRS:
        for p in (folder / sub).glob(".*.tmp*"):
            p.unlink(missing_ok=True)
            n += 1
    return n


def code_hash(root=None) -> str:
    """Hash of the whole package's source, shipped catalogue and message catalogues (statistics, report sections,
    figures, translations): a changed estimator, figure or translation means changed tables and reports, so nothing
    is skipped as unchanged after a code change."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted([*root.rglob("*.py"), *root.rglob("*.yaml"), *root.rglob("*.po")]):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def write_run_config(cfg: RunConfig, folder: Path) -> Path:
    """``run_config.json``: the run's settings, and the estimator in the registry's words, for the reports."""
    est = get_estimator(cfg.impact["estimator"])
    described = {**_jsonable(cfg.params), "estimator_description": {"label": est.label, "methods": est.methods}}
    atomic_write(folder / "run_config.json", json.dumps(described, indent=1))
    return folder / "run_config.json"


def run_key(cfg: RunConfig, input_hashes: dict) -> str:
    from .. import __version__

    content = {k: v for k, v in cfg.params.items() if k not in NOT_CONTENT}
    # neither changes what a report shows: the PDFs are kept current on their own (_pdf_stage)
    content["report"] = {k: v for k, v in content["report"].items() if k not in ("timeout", "pdf")}
    blob = json.dumps({"params": _jsonable(content), "inputs": input_hashes, "version": __version__,
                       "code": code_hash()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _setup_logging(folder: Path, quiet: bool, tty: bool):
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
    for h in list(LOG.handlers):
        LOG.removeHandler(h)
        h.close()
    fh = logging.FileHandler(folder / "logs" / "run.log", encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOG.addHandler(fh)
    sh = logging.StreamHandler(sys.stderr)
    sh.setFormatter(logging.Formatter("cluster-eval: %(message)s"))
    sh.setLevel(logging.ERROR if quiet else logging.WARNING if tty else logging.INFO)
    LOG.addHandler(sh)


def _close_logging():
    for h in list(LOG.handlers):
        LOG.removeHandler(h)
        h.close()


def safe_name(report_id) -> str:
    """A file name for a report id: letters, digits, ``. _ -`` kept, anything else (``/``, spaces) as ``_``
    plus a short hash so that different ids never share a file."""
    import re

    text = str(report_id)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".") or "_"
    if safe != text:
        safe += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return safe


class Reports:
    """The list of reports of a run, with their keys and skip decisions."""

    def __init__(self, cfg: RunConfig, folder: Path, clusters, base_key: str):
        self.cfg, self.folder = cfg, folder
        rep = cfg.report
        nb_hash = {k: file_hash(p) for k, p in cfg.notebooks.items()}
        self.jobs = []
        extra = dict(rep["parameters"])
        self.language = rep.get("language", "en")
        with language(self.language):
            overview_title = _("National overview")
            self.footer = _("cluster_eval · run {run}").format(run=cfg.run_name)
        self.jobs.append(self._job("national", "overview", overview_title, folder / "national" / "overview.html",
                                   {"run_dir": str(folder), "dpi": rep["dpi"], **extra}, base_key, nb_hash))
        for cid, name in clusters:
            self.jobs.append(self._job(str(cid), "cluster", f"{name} ({cid})", folder / "clusters" / f"{safe_name(cid)}.html",
                                       {"run_dir": str(folder), "cluster_id": str(cid), "dpi": rep["dpi"], **extra},
                                       base_key, nb_hash))

    def _job(self, rid, kind, title, html, params, base_key, nb_hash):
        key = hashlib.sha256(f"{base_key}|{kind}|{rid}|{nb_hash[kind]}|{json.dumps(params, sort_keys=True)}"
                             .encode()).hexdigest()
        return {"id": rid, "kind": kind, "title": title, "notebook": str(self.cfg.notebooks[kind]),
                "parameters": params, "html": str(html), "pdf": str(Path(html).with_suffix(".pdf")), "ipynb": str(self.folder / "notebooks" / f"{safe_name(rid)}.ipynb"),
                "timeout": self.cfg.report["timeout"], "log": str(self.folder / "logs" / f"{safe_name(rid)}.log"),
                "key": key, "footer": self.footer, "language": self.language}

    def state_path(self, job) -> Path:
        return self.folder / ".state" / f"{job['kind']}-{safe_name(job['id'])}.json"

    def state(self, job) -> dict:
        try:
            return json.loads(self.state_path(job).read_text())
        except (OSError, ValueError):
            return {}

    def is_current(self, job) -> bool:
        """Unchanged inputs, last status ok, and the HTML on disk is exactly the one that run wrote."""
        st = self.state(job)
        html = Path(job["html"])
        return (st.get("key") == job["key"] and st.get("status") == "ok" and html.exists()
                and st.get("output_hash") == file_hash(html))

    def record(self, job, result: dict) -> None:
        atomic_write(self.state_path(job), json.dumps({**result, "finished": time.time()}))

    def pdf_is_current(self, job) -> bool:
        """The PDF on disk is the one printed from the HTML on disk (both unchanged since)."""
        st, pdf, html = self.state(job), Path(job["pdf"]), Path(job["html"])
        return (pdf.exists() and html.exists() and st.get("pdf_status") == "ok"
                and st.get("pdf_source") == file_hash(html) and st.get("pdf_hash") == file_hash(pdf))


def _remove_orphans(folder: Path, jobs: list[dict]) -> None:
    """Reports of clusters no longer in the data are removed (never listed, never left looking current)."""
    keep = {Path(j[ext]).name for j in jobs if j["kind"] == "cluster" for ext in ("html", "pdf")}
    for p in [*(folder / "clusters").glob("*.html"), *(folder / "clusters").glob("*.pdf")]:
        if p.name not in keep:
            LOG.warning("removing %s: cluster no longer in the data", p.relative_to(folder))
            p.unlink(missing_ok=True)
            (folder / ".state" / f"cluster-{p.stem}.json").unlink(missing_ok=True)


def _execute(todo: list[dict], jobs: int, jupyter_path: Path, on_result, stderr_log=None) -> None:
    """Run the jobs in a spawn pool; a worker that dies is retried once in a fresh pool."""
    attempts = {j["id"]: 0 for j in todo}
    pending = list(todo)
    ctx = get_context("spawn")
    while pending:
        broken = []
        with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(pending))), mp_context=ctx,
                                 initializer=worker_init, initargs=(str(jupyter_path), stderr_log)) as pool:
            futures = {pool.submit(execute_report, j): j for j in pending}
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    res = fut.result()
                except BrokenProcessPool:
                    broken.append(job)
                    continue
                except Exception as exc:  # noqa: BLE001
                    res = {"id": job["id"], "kind": job["kind"], "status": "failed",
                           "error": f"{type(exc).__name__}: {exc}", "duration": None, "output_hash": None,
                           "key": job["key"]}
                on_result(job, res)
        pending = []
        for job in broken:
            attempts[job["id"]] += 1
            if attempts[job["id"]] > 1:
                on_result(job, {"id": job["id"], "kind": job["kind"], "status": "failed",
                                "error": "the worker process died (twice)", "duration": None, "output_hash": None,
                                "key": job["key"]})
            else:
                pending.append(job)


def _pdf_stage(cfg, reports: Reports, results: dict) -> list[str]:
    """Print the A4 PDF of every report that is ok and whose PDF is missing or older than its HTML, in one
    browser; record each outcome in the report's state and result. Returns the ids whose PDF failed."""
    from . import pdf as P

    items, current = [], 0
    for job in reports.jobs:
        r = results.get(job["id"])
        if r is None or r.get("status") != "ok" or not Path(job["html"]).exists():
            continue
        if reports.pdf_is_current(job):
            st = reports.state(job)
            r.update({k: st.get(k) for k in ("pdf_status", "pdf_hash", "pdf_duration")})
            current += 1
            continue
        with language(cfg.report.get("language", "en")):        # the footer's words in the report's language
            footer = P.footer_template(job["title"], cfg.run_name)
        items.append({"id": job["id"], "html": job["html"], "pdf": job["pdf"], "footer": footer})
    if not items:
        LOG.info("pdf: nothing to print, %d PDF(s) current", current)
        return []
    t0 = time.time()
    printed = P.print_pdfs(items, timeout=cfg.report["timeout"])
    failed = []
    by_id = {j["id"]: j for j in reports.jobs}
    for rid, res in printed.items():
        job = by_id[rid]
        pdf = Path(job["pdf"])
        ok = res["status"] == "ok" and pdf.exists()
        fields = {"pdf_status": "ok" if ok else "failed", "pdf_error": res.get("error"),
                  "pdf_duration": res.get("duration"), "pdf_hash": file_hash(pdf) if ok else None,
                  "pdf_source": file_hash(job["html"]) if ok else None}
        results[rid].update(fields)
        st = reports.state(job)
        atomic_write(reports.state_path(job), json.dumps({**st, **fields}))
        if not ok:
            failed.append(rid)
            LOG.warning("pdf %s %s: failed — %s", job["kind"], rid, res.get("error"))
    LOG.info("pdf: %d printed in %.1f s, %d failed", len(items) - len(failed), time.time() - t0, len(failed))
    return failed


def run(params_path_or_dict, jobs=None, only=None, force=False, quiet=False, pdf=None, language=None) -> int:
    """Run the scheduled job. Returns 0 (all well) or 1 (a report or its PDF failed, or the audit found
    something). ``pdf`` (true/false) overrides the params' ``report.pdf``, ``language`` ("da" or "en") the
    params' ``report.language``.

    Raises ConfigError / InputError / RunLockedError / OutputError (exit status 2) before any work starts,
    among them a ConfigError when PDFs are asked for and Chromium or playwright is missing.
    """
    from ..data import load_dataset
    from ..data.mapping import resolve_source

    t_start = time.time()
    cfg = load_params(params_path_or_dict)
    if pdf is not None:
        cfg.report["pdf"] = bool(pdf)
    if language is not None:
        from .i18n import LANGUAGES

        if language not in LANGUAGES:
            raise ConfigError(f"language must be one of {', '.join(LANGUAGES)}; got {language!r}"
                              f"{hint(str(language), LANGUAGES)}")
        cfg.report["language"] = language
    if cfg.report["pdf"]:
        from .pdf import check_available

        check_available()
    folder = cfg.output.resolve()
    check_output(folder)
    check_unlocked(folder)
    source = resolve_source(cfg.data_spec())
    t_load = time.time()
    dataset = load_dataset(cfg.data_spec())
    t_load = time.time() - t_load
    clusters = list(zip(dataset.clusters["cluster_id"].astype(str), dataset.clusters["name"].astype(str)))
    if only:
        only = [str(c) for c in ([only] if isinstance(only, str) else only)]
        known = {c for c, _ in clusters}
        unknown = [c for c in only if c not in known]
        if unknown:
            close = did_you_mean(unknown[0], known)
            raise ConfigError(f"--only: cluster {unknown[0]!r} is not in the data"
                              + (f"; did you mean {close!r}?" if close else ""))
    n_jobs = int(jobs or cfg.jobs or os.cpu_count() or 1)
    if n_jobs < 1:
        raise ConfigError(f"jobs must be at least 1; got {n_jobs}")

    make_dirs(folder)
    with RunLock(folder) as lock:
        tty = sys.stderr.isatty()
        _setup_logging(folder, quiet, tty)
        LOG.info("data: loaded and validated in %.1f s (%s measure rows)", t_load, f"{len(dataset.measures):,}")
        try:
            return _run_locked(cfg, folder, source, dataset, clusters, only, force, quiet, tty, n_jobs, t_start,
                               lock)
        except OSError as exc:  # a full disk or a folder that became unwritable mid-run: a message, not a traceback
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            raise OutputError(f"cannot write to the output folder {folder}{where}: {exc.strerror or exc}") from exc
        finally:
            _close_logging()


def _run_locked(cfg, folder, source, dataset, clusters, only, force, quiet, tty, n_jobs, t_start, lock) -> int:
    from . import index as I
    from . import manifest as M
    from .analyse import analyse

    if lock.stale:
        LOG.warning("took over a stale lock left by PID %s (started %s)", lock.stale.get("pid"),
                    lock.stale.get("started"))
    n_tmp = clean_temporaries(folder)
    if n_tmp:
        LOG.warning("removed %d temporary file(s) left by an interrupted run", n_tmp)
    t0 = time.time()
    input_hashes = {str(p): file_hash(p) for p in source.input_files()}
    LOG.info("data: %d input files hashed in %.1f s", len(input_hashes), time.time() - t0)
    base_key = run_key(cfg, input_hashes)
    man = M.Manifest(folder, cfg, input_hashes, t_start)
    man.write(status="running")

    stamp = folder / "tables" / ".stamp"
    if force or not stamp.exists() or stamp.read_text().strip() != base_key:
        t0, c0 = time.time(), _cpu_seconds()
        LOG.info("analyse: computing every table for %d clusters", len(clusters))
        import warnings

        try:
            with warnings.catch_warnings(record=True) as caught:  # into the run log, not onto the terminal
                warnings.simplefilter("always")
                analyse(dataset, cfg, folder / "tables", log=LOG.info, jobs=n_jobs)
        except Exception as exc:
            # the manifest must not stay "running": the run failed before any report was written
            man.write(status="failed")
            if isinstance(exc, ClusterEvalError):
                raise
            LOG.error("analyse: the analysis failed (%s: %s); no report was written; see logs/run.log",
                      type(exc).__name__, exc)
            import traceback

            LOG.info("analyse traceback:\n%s", traceback.format_exc())
            return 1
        for w in {(str(w.message), w.category.__name__, w.filename, w.lineno) for w in caught}:
            LOG.info("analyse: %s: %s (%s:%s)", w[1], w[0], Path(w[2]).name, w[3])
        atomic_write(stamp, base_key)
        LOG.info("analyse: done in %.1f s, %.1f s of CPU", time.time() - t0, _cpu_seconds() - c0)
    else:
        LOG.info("analyse: inputs unchanged, tables reused")
    write_run_config(cfg, folder)

    reports = Reports(cfg, folder, clusters, base_key)
    todo, results = [], {}
    for job in reports.jobs:
        wanted = only is None or (job["kind"] == "cluster" and job["id"] in only)
        if not wanted:
            st = reports.state(job)
            results[job["id"]] = {"id": job["id"], "kind": job["kind"], **st, "skipped": True,
                                  "status": "ok" if reports.is_current(job) else st.get("status", "not run")}
            continue
        if only is None and not force and reports.is_current(job):
            results[job["id"]] = {**reports.state(job), "skipped": True}
            continue
        todo.append(job)
    LOG.info("reports: %d to run, %d unchanged (skipped), %d job(s)", len(todo), len(reports.jobs) - len(todo),
             n_jobs)

    bar = None
    if tty and not quiet and todo:
        from tqdm import tqdm

        cols = shutil.get_terminal_size((80, 24)).columns or 80
        bar = tqdm(total=len(todo), unit="report", desc="reports", file=sys.stderr, ncols=min(cols, 100))
    done = [0]

    def on_result(job, res):
        done[0] += 1
        results[job["id"]] = {**res, "skipped": False}
        reports.record(job, res)
        Path(job["pdf"]).unlink(missing_ok=True)   # printed from the older HTML: never left beside the new one
        msg = f"[{done[0]}/{len(todo)}] {job['kind']} {job['id']}: {res['status']}"
        if res.get("duration") is not None:
            msg += f" ({res['duration']:.1f} s)"
        if res["status"] != "ok":
            LOG.warning("%s — %s", msg, res.get("error"))
        else:
            LOG.info(msg)
        if bar is not None:
            bar.update(1)

    jupyter_path = provide_kernel()
    try:
        if todo:
            t0, cpu0 = time.time(), time.process_time()
            _execute(todo, n_jobs, jupyter_path, on_result, str(folder / "logs" / "kernels.log"))
            LOG.info("reports: done in %.1f s; this process used %.1f s of CPU meanwhile", time.time() - t0,
                     time.process_time() - cpu0)
    finally:
        shutil.rmtree(jupyter_path, ignore_errors=True)
        if bar is not None:
            bar.close()

    if only is None:
        _remove_orphans(folder, reports.jobs)
    # exit status: the reports this invocation ran (with --only, the others keep their last state)
    failed = [r for r in results.values() if not r.get("skipped") and r.get("status") != "ok"]
    if cfg.report["pdf"]:
        failed += [results[rid] for rid in _pdf_stage(cfg, reports, results)]
    I.write_index(folder, cfg, reports.jobs, results)
    audit = M.run_audit(folder, cfg)
    status = "complete" if not failed and not audit.get("findings") else "failed"
    man.write(status=status, reports=reports.jobs, results=results, audit=audit)
    LOG.info("run %s: %d report(s) ok, %d failed, audit %s, %.1f s", status, len(results) - len(failed),
             len(failed), "clean" if not audit.get("findings") else f"{audit['findings']} finding(s)",
             time.time() - t_start)
    if failed:
        LOG.error("%d report(s) failed: %s (see %s and the executed notebooks in %s)", len(failed),
                  ", ".join(sorted(str(r.get("id")) for r in failed)[:20]), folder / "logs", folder / "notebooks")
    if audit.get("findings"):
        LOG.error("the disclosure audit found %d cell(s) that break the rules, first: %s", audit["findings"],
                  (audit.get("first") or ["?"])[0])
    return 0 if status == "complete" else 1
