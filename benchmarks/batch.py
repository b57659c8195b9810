"""The batch job's speed at three scales: total time, analyse stage, per-report time against the floor, memory.

    .venv/bin/python benchmarks/batch.py [--scales small denmark england] [--jobs 2] [--one-job 12] [--floor 12]
                                         [--pdf]

For each scale (the synthetic data are written once under ``--out/<scale>/data`` and reused, not timed):

1. the whole job (load, analyse, every cluster report + the national overview, index, manifest, audit) with
   ``force=True`` and ``--jobs`` workers: wall clock, the analyse stage (from the run log), per-report worker
   times (median, from the manifest), the parent's CPU seconds during the report stage (from the run log),
   and the peak memory of the whole process tree (parent, workers, kernels; sampled every 0.2 s) and of the
   largest single process;
2. per-report time **with one job**: the same runner with ``jobs=1`` on ``--one-job`` clusters (``only=``);
3. the **floor**, with one job, measured just before (2) at about the same machine load: papermill executing a
   one-cell notebook in a fresh kernel, ``--floor`` times in a row (the reference of issue 14: what any
   papermill-based report pays at least);

and prints the ratio of (2) to (3). Machine load (``os.getloadavg``) is printed before and after each part, and the
CPU seconds of the whole process tree (this process and every reaped descendant: pool workers and kernels) beside
each wall time, as the machine may be shared.

``--max-reports N`` (for a scale too large to run in full on a loaded machine): the whole job runs the analyse
stage in full but only the first N cluster reports (``only=``); the report stage of all reports is then
**projected** from the sample (report-stage wall time / N x the number of clusters) and printed as such.

With ``--pdf``, (2) is measured twice side by side in the same invocation: without PDFs, then with
``report.pdf`` on (the same clusters, a fresh output folder); the per-report time with PDF is the median
worker time plus the PDF stage's wall time (one browser for all, from the run log) divided by the number of
PDFs, and its ratio to the time without PDF is printed. The whole run (1) never prints PDFs, at any scale.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one_cell_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("1 + 1")]
    path = folder / "one_cell.ipynb"
    nbformat.write(nb, path)
    return path


def floor_times(n: int) -> list[float]:
    """papermill on a one-cell notebook, a fresh kernel each time, one after the other."""
    import papermill as pm

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        nb = one_cell_notebook(Path(tmp))
        for i in range(n):
            t0 = time.perf_counter()
            pm.execute_notebook(str(nb), str(Path(tmp) / f"out{i}.ipynb"), kernel_name="python3",
                                progress_bar=False, log_output=False)
            out.append(time.perf_counter() - t0)
    return out


def report_times(run_dir: Path, kind: str = "cluster", field: str = "duration") -> list[float]:
    """Wall seconds (or ``field="cpu_seconds"``: CPU of the worker and its kernel) of each report run."""
    man = json.loads((run_dir / "manifest.json").read_text())
    return [r[field] for r in man["reports"] if r["kind"] == kind and r["status"] == "ok" and not r["skipped"]
            and r.get(field) is not None]


class TreeMemory:
    """Peak resident memory of this process and all its descendants (sum), and of the largest one."""

    def __init__(self, interval: float = 0.2):
        import psutil

        self.proc, self.interval = psutil.Process(), interval
        self.peak_sum = self.peak_one = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        import psutil

        while not self._stop.is_set():
            total, one = 0, 0
            for p in [self.proc, *self.proc.children(recursive=True)]:
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                total, one = total + rss, max(one, rss)
            self.peak_sum, self.peak_one = max(self.peak_sum, total), max(self.peak_one, one)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def tree_cpu() -> float:
    """CPU seconds (user + system) of this process and of its reaped descendants so far."""
    me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def bench_scale(scale: str, base: Path, jobs: int, one_job: int, max_reports: int | None = None,
                n_floor: int = 12, pdf: bool = False, one_job_only: bool = False) -> dict:
    from cluster_eval.report.demo_run import demo_params, ensure_data
    from cluster_eval.report.runner import run

    out = base / scale
    t0 = time.time()
    ensure_data(out, scale=scale, quiet=True)
    print(f"[{scale}] synthetic data: {time.time() - t0:.1f} s (not counted); {load()}", flush=True)
    params = demo_params(out, scale, pdf=False)
    import pandas as pd

    all_clusters = sorted(pd.read_csv(out / "data" / "clusters.csv", dtype=str)["cluster_id"])
    sample = all_clusters[:max_reports] if max_reports and max_reports < len(all_clusters) else None
    res = {"scale": scale, "load_before": os.getloadavg()[0], "clusters": len(all_clusters),
           "sample": len(sample) if sample else None}
    if one_job_only:   # (2) and (3) only, on the tables of an earlier whole run of this scale
        run_dir = Path(params["output"])
        if not (run_dir / "tables").is_dir():
            raise SystemExit(f"--one-job-only: no earlier run's tables in {run_dir}; run without it first")
        return res | one_job_part(scale, out, params, run_dir, all_clusters, one_job, n_floor, pdf)
    with TreeMemory() as mem:
        t0, c0 = time.time(), tree_cpu()
        res["status"] = run(params, jobs=jobs, force=True, quiet=True, only=sample)
        res["total_s"], res["total_cpu_s"] = time.time() - t0, tree_cpu() - c0
    res["peak_tree_mib"], res["peak_one_mib"] = mem.peak_sum / 2**20, mem.peak_one / 2**20
    run_dir = Path(params["output"])
    log = (run_dir / "logs" / "run.log").read_text()
    m = re.findall(r"analyse: done in ([\d.]+) s", log)
    res["analyse_s"] = float(m[-1]) if m else float("nan")
    m = re.findall(r"data: loaded and validated in ([\d.]+) s", log)
    res["load_s"] = float(m[-1]) if m else float("nan")
    m = re.findall(r"data: \d+ input files hashed in ([\d.]+) s", log)
    res["hash_s"] = float(m[-1]) if m else float("nan")
    m = re.findall(r"analyse: done in [\d.]+ s, ([\d.]+) s of CPU", log)
    res["analyse_cpu_s"] = float(m[-1]) if m else float("nan")
    m = re.findall(r"reports: done in ([\d.]+) s; this process used ([\d.]+) s of CPU", log)
    if m:
        res["reports_s"], res["parent_cpu_s"] = float(m[-1][0]), float(m[-1][1])
    per = report_times(run_dir)
    cpu = report_times(run_dir, field="cpu_seconds")
    res["cpu_per_report"] = statistics.median(cpu) if cpu else float("nan")
    res["n_reports"] = len(all_clusters) + 1
    res["per_report_median"] = statistics.median(per)
    res["overview_s"] = (report_times(run_dir, "overview") or [float("nan")])[0]
    res["load_after"] = os.getloadavg()[0]
    if sample:
        # the sample's report stage, scaled to every cluster report (the overview is not in the sample)
        res["reports_sample_s"] = res.get("reports_s", float("nan"))
        res["reports_s"] = res["reports_sample_s"] / len(sample) * len(all_clusters)
        res["total_sample_s"] = res["total_s"]
        res["total_s"] = res["total_sample_s"] - res["reports_sample_s"] + res["reports_s"]
        print(f"[{scale}] SAMPLE: analyse stage in full, {len(per)} of {len(all_clusters)} cluster reports run in "
              f"{res['reports_sample_s']:.1f} s (whole job {res['total_sample_s']:.1f} s, CPU of all processes "
              f"{res['total_cpu_s']:.1f} s); PROJECTED report stage {res['reports_s']:.1f} s, whole run "
              f"{res['total_s']:.1f} s ({res['total_s'] / 60:.1f} min)", flush=True)
    print(f"[{scale}] whole run {res['total_s']:.1f} s ({res['total_s'] / 60:.1f} min), exit {res['status']}, "
          f"{len(per)} cluster reports + overview; load + validate {res['load_s']:.1f} s, hash the inputs "
          f"{res['hash_s']:.1f} s; analyse {res['analyse_s']:.1f} s (CPU {res['analyse_cpu_s']:.1f} s); report stage "
          f"{res.get('reports_s', float('nan')):.1f} s with the parent using {res.get('parent_cpu_s', float('nan')):.1f}"
          f" s CPU; per report (jobs={jobs}) median {res['per_report_median']:.2f} s (CPU {res['cpu_per_report']:.2f} s); "
          f"peak memory "
          f"{res['peak_tree_mib']:,.0f} MiB (all processes), {res['peak_one_mib']:,.0f} MiB (largest); "
          f"CPU of all processes {res['total_cpu_s']:.1f} s; "
          f"load {res['load_before']:.1f} -> {res['load_after']:.1f}", flush=True)

    return res | one_job_part(scale, out, params, run_dir, all_clusters, one_job, n_floor, pdf)


def one_job_part(scale: str, out: Path, params: dict, run_dir: Path, all_clusters: list, one_job: int,
                 n_floor: int, pdf: bool) -> dict:
    """(3) the floor, then (2) the cluster reports with one job on the tables of ``run_dir``."""
    import shutil

    from cluster_eval.report.runner import run

    res = {}
    clusters = all_clusters[:one_job]
    # a folder per source tree (the tables are current for the code that wrote them: runner.code_hash); its
    # reports of an earlier invocation go, so every report is run
    from cluster_eval.report.runner import code_hash

    oj = out / f"one_job_{code_hash()[:10]}"
    for p in (oj.iterdir() if oj.is_dir() else []):
        if p.name != "tables":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    if not (oj / "tables").is_dir():
        # the main run's tables (and stamp): the one-job run skips the analyse stage when that run was of this
        # tree; after a code change it analyses once, here, untimed, and keeps the tables for the next time
        shutil.copytree(run_dir / "tables", oj / "tables")
    oparams = dict(params, output=str(oj))
    # one report first, untimed: the tables are analysed here if they are not current for this tree
    run(oparams, jobs=1, force=False, quiet=True, only=clusters[:1])
    for p in oj.iterdir():
        if p.name != "tables":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    # the floor and the one-job reports right after each other, at about the same machine load
    c0 = tree_cpu()
    fl = floor_times(n_floor)
    res["floor_s"], res["floor_runs"] = statistics.median(fl), fl
    res["floor_cpu_s"] = (tree_cpu() - c0) / n_floor
    print(f"[{scale}] floor: papermill, one-cell notebook, fresh kernel, one job: median {res['floor_s']:.2f} s "
          f"over {len(fl)} (min {min(fl):.2f}, max {max(fl):.2f}); {load()}", flush=True)
    res["load_one_job"] = os.getloadavg()[0]
    c0 = tree_cpu()
    run(oparams, jobs=1, force=False, quiet=True, only=clusters)
    one = report_times(oj)
    res["per_report_one_job"] = statistics.median(one)
    cpu = report_times(oj, field="cpu_seconds")
    res["cpu_per_report_one_job"] = statistics.median(cpu) if cpu else float("nan")
    res["one_job_cpu_s"] = tree_cpu() - c0
    print(f"[{scale}] per report with one job ({len(one)} clusters): median {res['per_report_one_job']:.2f} s, "
          f"CPU (worker + kernel) median {res['cpu_per_report_one_job']:.2f} s against the floor's "
          f"{res['floor_cpu_s']:.2f} s CPU per run: CPU ratio {res['cpu_per_report_one_job'] / res['floor_cpu_s']:.2f}; "
          f"{load()}", flush=True)
    if pdf:
        pparams = dict(params, output=str(out / "one_job_pdf"), report={**params["report"], "pdf": True})
        run(pparams, jobs=1, force=True, quiet=True, only=clusters)
        log = (out / "one_job_pdf" / "logs" / "run.log").read_text()
        n_pdf, pdf_s = re.findall(r"pdf: (\d+) printed in ([\d.]+) s", log)[-1]
        with_pdf = report_times(out / "one_job_pdf")
        res["per_report_one_job_nopdf_2"] = statistics.median(with_pdf)
        res["pdf_stage_s"], res["n_pdf"] = float(pdf_s), int(n_pdf)
        res["per_report_one_job_pdf"] = statistics.median(with_pdf) + float(pdf_s) / int(n_pdf)
        res["ratio_pdf"] = res["per_report_one_job_pdf"] / res["per_report_one_job"]
        print(f"[{scale}] with PDF, one job ({len(with_pdf)} clusters): report median {statistics.median(with_pdf):.2f}"
              f" s + PDF stage {pdf_s} s for {n_pdf} PDFs (one browser) = {res['per_report_one_job_pdf']:.2f} s per "
              f"report; with / without PDF: {res['ratio_pdf']:.2f}; {load()}", flush=True)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "outputs" / "bench_batch"))
    ap.add_argument("--scales", nargs="+", default=["small", "denmark", "england"])
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--one-job", type=int, default=12, help="clusters run with jobs=1 for the per-report time")
    ap.add_argument("--floor", type=int, default=12, help="papermill runs of the one-cell notebook")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--pdf", action="store_true", help="also the per-report time with report.pdf on, side by side")
    ap.add_argument("--max-reports", type=int, default=None,
                    help="run only this many cluster reports per scale and project the report stage (see above)")
    ap.add_argument("--one-job-only", action="store_true",
                    help="only the floor and the one-job reports, on the tables of an earlier whole run under --out "
                         "(e.g. to compare two source trees side by side)")
    args = ap.parse_args(argv)

    print(f"{os.cpu_count()} CPUs; {load()}", flush=True)
    results = []
    for scale in args.scales:
        r = bench_scale(scale, Path(args.out), args.jobs, args.one_job, args.max_reports, args.floor, args.pdf,
                        args.one_job_only)
        r["ratio_one_job"] = r["per_report_one_job"] / r["floor_s"]
        r["cpu_ratio_one_job"] = r["cpu_per_report_one_job"] / r["floor_cpu_s"]
        print(f"[{scale}] ratio per report (one job) / floor: {r['ratio_one_job']:.2f} wall, "
              f"{r['cpu_ratio_one_job']:.2f} CPU (aim <= 2)", flush=True)
        results.append(r)
    print(f"\n| scale | reports | whole run (CPU of all processes) | load + validate | analyse (CPU) | "
          f"report stage (parent CPU) | "
          f"per report, jobs={args.jobs} | per report, 1 job | floor | / floor | peak memory (all / largest) | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        if args.one_job_only:
            print(f"| {r['scale']} | one job only: {r['per_report_one_job']:.2f} s (CPU {r['cpu_per_report_one_job']:.2f} s)"
                  f" against the floor {r['floor_s']:.2f} s (CPU {r['floor_cpu_s']:.2f} s): {r['ratio_one_job']:.2f} "
                  f"(CPU {r['cpu_ratio_one_job']:.2f}) | load {r['load_one_job']:.1f} |")
            continue
        proj = f" (projected from {r['sample']} reports)" if r.get("sample") else ""
        print(f"| {r['scale']} | {r['n_reports']} | {r['total_s']:.1f} s{proj} ({r['total_cpu_s']:.0f} s) | "
              f"{r['load_s']:.1f} s | {r['analyse_s']:.1f} s ({r['analyse_cpu_s']:.0f} s) | "
              f"{r.get('reports_s', float('nan')):.1f} s{proj} "
              f"({r.get('parent_cpu_s', float('nan')):.1f} s) | {r['per_report_median']:.2f} s | "
              f"{r['per_report_one_job']:.2f} s | {r['floor_s']:.2f} s | {r['ratio_one_job']:.2f} "
              f"(CPU {r['cpu_ratio_one_job']:.2f}) | "
              f"{r['peak_tree_mib']:,.0f} / {r['peak_one_mib']:,.0f} MiB | {r['load_before']:.1f}-{r['load_after']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
