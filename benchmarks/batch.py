"""The batch job's speed: the full Denmark demo, per-report time, and the ratio to an empty-notebook floor.

    .venv/bin/python benchmarks/batch.py [--out outputs/bench] [--scale denmark] [--jobs N] [--floor-clusters 24]

1. writes the synthetic Denmark (not timed; reused when present),
2. runs the whole job (load, analyse, 116 cluster reports + the national overview, index, manifest, audit)
   with ``force=True`` and times it (wall clock),
3. runs the same runner on an *empty* cluster notebook (only the parameters cell) for ``--floor-clusters``
   clusters: the floor every report pays (spawned worker, fresh kernel, papermill, HTML render, atomic write),
4. prints per-report times (from the manifest: worker time of each report), the ratio report / floor, and what
   dominates inside a report (papermill's per-cell durations of the executed notebooks).
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def empty_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    cell = nbformat.v4.new_code_cell('run_dir = ""\ncluster_id = ""\ndpi = 80')
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Empty report"), cell]
    path = folder / "empty_cluster_report.ipynb"
    nbformat.write(nb, path)
    return path


def report_times(run_dir: Path, kind: str = "cluster") -> list[float]:
    man = json.loads((run_dir / "manifest.json").read_text())
    return [r["duration"] for r in man["reports"] if r["kind"] == kind and r["status"] == "ok" and not r["skipped"]]


def cell_profile(run_dir: Path) -> list[tuple[str, float]]:
    """Mean papermill duration per code cell of the executed cluster notebooks (first line of each cell)."""
    sums, n = {}, 0
    for path in sorted((run_dir / "notebooks").glob("*.ipynb")):
        if path.stem == "national":
            continue
        nb = nbformat.read(path, as_version=4)
        n += 1
        for i, c in enumerate(c for c in nb.cells if c.cell_type == "code"):
            label = c.source.strip().splitlines()[-1][:50] if c.source.strip() else f"cell {i}"
            d = c.metadata.get("papermill", {}).get("duration") or 0.0
            sums[(i, label)] = sums.get((i, label), 0.0) + d
    return [(label, total / max(n, 1)) for (_, label), total in sorted(sums.items())]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "outputs" / "bench"))
    ap.add_argument("--scale", default="denmark", choices=("small", "denmark"))
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--floor-clusters", type=int, default=24)
    args = ap.parse_args(argv)

    import os

    from cluster_eval.report.demo_run import demo_params, ensure_data
    from cluster_eval.report.runner import run

    out = Path(args.out)
    t0 = time.time()
    ensure_data(out, scale=args.scale, quiet=True)
    print(f"synthetic data ({args.scale}): {time.time() - t0:.1f} s (not counted)")
    jobs = args.jobs or os.cpu_count()

    params = demo_params(out, args.scale)
    t0 = time.time()
    status = run(params, jobs=jobs, force=True, quiet=True)
    wall = time.time() - t0
    run_dir = Path(params["output"])
    log = (run_dir / "logs" / "run.log").read_text()
    m = re.findall(r"analyse: done in ([\d.]+) s", log)
    analyse_s = float(m[-1]) if m else float("nan")
    per = report_times(run_dir)
    overview = report_times(run_dir, "overview")

    with tempfile.TemporaryDirectory() as tmp:
        nb = empty_notebook(Path(tmp))
        fparams = demo_params(out, args.scale)
        fparams["output"] = str(out / "floor")
        fparams["report"] = {"cluster_notebook": str(nb)}
        import pandas as pd

        clusters = sorted(pd.read_csv(out / "data" / "clusters.csv", dtype=str)["cluster_id"])
        t1 = time.time()
        run(fparams, jobs=jobs, force=True, quiet=True, only=clusters[: args.floor_clusters])
        floor_wall = time.time() - t1
    floor = report_times(out / "floor")

    med, fmed = statistics.median(per), statistics.median(floor)
    print(f"exit status {status}; jobs {jobs}")
    print(f"full run ({len(per)} cluster reports + overview): {wall:.1f} s wall "
          f"({wall / 60:.2f} min; target < 4 min) — analyse stage {analyse_s:.1f} s")
    print(f"per cluster report (worker time): median {med:.2f} s, mean {statistics.mean(per):.2f} s, "
          f"max {max(per):.2f} s; national overview {overview[0] if overview else float('nan'):.2f} s")
    print(f"floor (empty notebook, same runner, {len(floor)} reports, {floor_wall:.1f} s incl. analyse): "
          f"median {fmed:.2f} s")
    print(f"ratio report / floor: median {med / fmed:.2f} (target < 2)")
    print("mean time per notebook cell (papermill):")
    for label, d in cell_profile(run_dir):
        print(f"  {d:6.2f} s  {label}")
    return status


if __name__ == "__main__":
    sys.exit(main())
