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
3. the **floor**, with one job: papermill executing a one-cell notebook in a fresh kernel, ``--floor`` times
   in a row (the reference of issue 14: what any papermill-based report pays at least);

and prints the ratio of (2) to (3). Machine load (``os.getloadavg``) is printed before and after each part.

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


def report_times(run_dir: Path, kind: str = "cluster") -> list[float]:
    man = json.loads((run_dir / "manifest.json").read_text())
    return [r["duration"] for r in man["reports"] if r["kind"] == kind and r["status"] == "ok" and not r["skipped"]]


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


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def bench_scale(scale: str, base: Path, jobs: int, one_job: int, pdf: bool = False) -> dict:
    from cluster_eval.report.demo_run import demo_params, ensure_data
    from cluster_eval.report.runner import run

    out = base / scale
    t0 = time.time()
    ensure_data(out, scale=scale, quiet=True)
    print(f"[{scale}] synthetic data: {time.time() - t0:.1f} s (not counted); {load()}", flush=True)
    params = demo_params(out, scale, pdf=False)
    res = {"scale": scale, "load_before": os.getloadavg()[0]}
    with TreeMemory() as mem:
        t0 = time.time()
        res["status"] = run(params, jobs=jobs, force=True, quiet=True)
        res["total_s"] = time.time() - t0
    res["peak_tree_mib"], res["peak_one_mib"] = mem.peak_sum / 2**20, mem.peak_one / 2**20
    run_dir = Path(params["output"])
    log = (run_dir / "logs" / "run.log").read_text()
    m = re.findall(r"analyse: done in ([\d.]+) s", log)
    res["analyse_s"] = float(m[-1]) if m else float("nan")
    m = re.findall(r"reports: done in ([\d.]+) s; this process used ([\d.]+) s of CPU", log)
    if m:
        res["reports_s"], res["parent_cpu_s"] = float(m[-1][0]), float(m[-1][1])
    per = report_times(run_dir)
    res["n_reports"] = len(per) + 1
    res["per_report_median"] = statistics.median(per)
    res["overview_s"] = (report_times(run_dir, "overview") or [float("nan")])[0]
    res["load_after"] = os.getloadavg()[0]
    print(f"[{scale}] whole run {res['total_s']:.1f} s ({res['total_s'] / 60:.1f} min), exit {res['status']}, "
          f"{len(per)} cluster reports + overview; analyse {res['analyse_s']:.1f} s; report stage "
          f"{res.get('reports_s', float('nan')):.1f} s with the parent using {res.get('parent_cpu_s', float('nan')):.1f}"
          f" s CPU; per report (jobs={jobs}) median {res['per_report_median']:.2f} s; peak memory "
          f"{res['peak_tree_mib']:,.0f} MiB (all processes), {res['peak_one_mib']:,.0f} MiB (largest); "
          f"load {res['load_before']:.1f} -> {res['load_after']:.1f}", flush=True)

    import pandas as pd

    clusters = sorted(pd.read_csv(out / "data" / "clusters.csv", dtype=str)["cluster_id"])[:one_job]
    oparams = dict(params, output=str(out / "one_job"))
    run(oparams, jobs=1, force=True, quiet=True, only=clusters)
    one = report_times(out / "one_job")
    res["per_report_one_job"] = statistics.median(one)
    print(f"[{scale}] per report with one job ({len(one)} clusters): median {res['per_report_one_job']:.2f} s; "
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
    args = ap.parse_args(argv)

    print(f"{os.cpu_count()} CPUs; {load()}", flush=True)
    fl = floor_times(args.floor)
    floor = statistics.median(fl)
    print(f"floor: papermill, one-cell notebook, fresh kernel, one job: median {floor:.2f} s over {len(fl)} "
          f"(min {min(fl):.2f}, max {max(fl):.2f}); {load()}", flush=True)
    results = []
    for scale in args.scales:
        r = bench_scale(scale, Path(args.out), args.jobs, args.one_job, args.pdf)
        r["floor_s"] = floor
        r["ratio_one_job"] = r["per_report_one_job"] / floor
        print(f"[{scale}] ratio per report (one job) / floor: {r['ratio_one_job']:.2f} (aim <= 2)", flush=True)
        results.append(r)
    print(f"\n| scale | reports | whole run | analyse | report stage (parent CPU) | per report, jobs={args.jobs} | "
          "per report, 1 job | / floor | peak memory (all / largest) | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['scale']} | {r['n_reports']} | {r['total_s']:.1f} s | {r['analyse_s']:.1f} s | "
              f"{r.get('reports_s', float('nan')):.1f} s ({r.get('parent_cpu_s', float('nan')):.1f} s) | "
              f"{r['per_report_median']:.2f} s | {r['per_report_one_job']:.2f} s | {r['ratio_one_job']:.2f} | "
              f"{r['peak_tree_mib']:,.0f} / {r['peak_one_mib']:,.0f} MiB | {r['load_before']:.1f}-{r['load_after']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"floor": fl, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
