"""The forest strips' cost at a number of clusters (e.g. England's 1,250) from a finished run's tables.

    .venv/bin/python benchmarks/strip_width.py RUN_DIR [--clusters 116 1250] [--rounds 3]

The run's effects table is repeated with new cluster ids and estimates moved by noise (sd 0.2) until it holds
``--clusters`` clusters; the forest strips of every topic (every indicator) are drawn to SVG, and the CPU seconds
and SVG size per set of strips are printed: the strips are the only figure of a cluster report that shows every
cluster, so they are what could grow with the number of clusters.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--clusters", type=int, nargs="+", default=[116, 1250])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    from cluster_eval.report import figures as F
    from cluster_eval.report import topic_figures as TF
    from cluster_eval.report.display import localise_meta
    from cluster_eval.report.tables import read_table

    run = args.run_dir
    meta = localise_meta(read_table(run, "indicators").set_index("indicator_id"))
    eff, pooled = read_table(run, "effects"), read_table(run, "pooled")
    topics = list(dict.fromkeys(meta["topic"]))
    rng = np.random.default_rng(0)
    for n in args.clusters:
        parts = []
        for r in range(int(np.ceil(n / eff["cluster_id"].nunique()))):
            j = rng.normal(0, 0.2, len(eff))
            parts.append(eff.assign(cluster_id=eff["cluster_id"] + f"_{r}", estimate=eff["estimate"] + j,
                                    lower=eff["lower"] + j, upper=eff["upper"] + j))
        wide = pd.concat(parts)
        keep = sorted(wide["cluster_id"].unique())[:n]
        wide = wide[wide["cluster_id"].isin(keep)]
        t0, size = time.process_time(), 0
        for _round in range(args.rounds):
            for t in topics:
                size += len(F.svg(TF.forest_strips(wide, meta[meta["topic"] == t], pooled, keep[5])))
        print(f"{n} clusters: the forest strips of all {len(meta)} indicators ({len(topics)} topics): "
              f"{(time.process_time() - t0) / args.rounds:.3f} s CPU, {size / args.rounds / 1e3:,.0f} kB of SVG",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
