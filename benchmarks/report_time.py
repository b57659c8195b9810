"""The cluster report's own work (reading, wording, drawing every figure to SVG) in-process, this source tree
against another one (e.g. a ``git archive`` of main), on the same run's tables, in alternating rounds.

    git archive main | tar -x -C /tmp/base
    .venv/bin/python benchmarks/report_time.py RUN_DIR --base /tmp/base [--clusters 12] [--rounds 3]

Each round runs, in a fresh interpreter per tree, every section the tree's notebook calls for the first
``--clusters`` clusters (display replaced by SVG/HTML rendering into memory: no kernel, no nbconvert, which
cost the same for both), and prints the seconds per report of each tree and their ratio (this / base). The
sections are the code cells of each tree's ``notebooks/cluster_report.ipynb`` after its setup cell.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, re, sys, time
import nbformat
run, ids, notebook = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
from cluster_eval.report import cluster_sections as CS
from cluster_eval.report import figures as F
sink = []
CS.show_figure = lambda fig, dpi, fmt="svg": sink.append(F.svg(fig))
CS.show_table = lambda df, *a, **k: sink.append(df.to_html())
CS.show_markdown = lambda text, *a, **k: sink.append(text)
if hasattr(CS, "show_html"):
    CS.show_html = lambda text: sink.append(text)
nb = nbformat.read(notebook, as_version=4)
calls = [l.split("#")[0].strip() for c in nb.cells if c.cell_type == "code"
         for l in c.source.splitlines() if re.match(r"\s*report\.\w+\(\)", l)]
t0 = time.perf_counter()
for cid in ids:
    report = CS.ClusterReport(run, cid)
    for call in calls:
        eval(call, {"report": report})
print(json.dumps({"seconds": time.perf_counter() - t0, "calls": calls, "chars": sum(map(len, sink))}))
"""


def one(tree: Path, run: str, ids: list) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, run, json.dumps(ids),
                          str(tree / "notebooks" / "cluster_report.ipynb")],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="a finished run's folder (tables/ inside)")
    ap.add_argument("--base", required=True, help="the other source tree (package and notebooks/)")
    ap.add_argument("--clusters", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    import pandas as pd

    ids = sorted(pd.read_parquet(Path(args.run_dir) / "tables" / "clusters.parquet")["cluster_id"])[: args.clusters]
    times = {"this": [], "base": []}
    for r in range(args.rounds):
        for name, tree in (("base", Path(args.base)), ("this", ROOT)):
            res = one(tree, args.run_dir, ids)
            times[name].append(res["seconds"] / len(ids))
            print(f"round {r + 1} {name}: {res['seconds'] / len(ids):.2f} s per report ({len(res['calls'])} "
                  f"sections, {res['chars'] / len(ids) / 1e3:,.0f} kB of output per report)", flush=True)
    this, base = statistics.median(times["this"]), statistics.median(times["base"])
    print(f"{len(ids)} cluster reports, median of {args.rounds} rounds: this tree {this:.2f} s, base {base:.2f} s "
          f"per report; ratio {this / base:.2f} (load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
