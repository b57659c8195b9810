"""Load + validate and the analyse stage of one synthetic scale, with whichever code tree is on PYTHONPATH.

    PYTHONPATH=. nice -n 10 .venv/bin/python benchmarks/analyse_stage.py denmark /tmp/t_new --jobs 2
    git archive 4d7219b | tar -x -C /tmp/base          # "before": a checkout of an older commit
    PYTHONPATH=/tmp/base nice -n 10 .venv/bin/python benchmarks/analyse_stage.py denmark /tmp/t_base
    ... benchmarks/analyse_stage.py denmark /tmp/t_auto --base auto        # another base than the params'

Prints wall and CPU seconds (this process and its reaped children, i.e. the analyse stage's forked helper),
the peak resident memory of this process and of its largest child, and the machine load; the tables are
written into the given folder, so two runs can be compared table by table (``--compare OTHER``: every Parquet
table equal, exactly). The data are written once under ``--data/<scale>/data`` (benchmarks/batch.py's layout).
An older tree without ``jobs`` in ``analyse`` runs serially.
"""
from __future__ import annotations

import argparse
import inspect
import os
import resource
import sys
import time
from pathlib import Path

import pandas as pd


def cpu() -> float:
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def peaks() -> tuple[float, float]:
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def compare(a: Path, b: Path) -> int:
    fa, fb = sorted(p.name for p in a.glob("*.parquet")), sorted(p.name for p in b.glob("*.parquet"))
    if fa != fb:
        print(f"different tables: {sorted(set(fa) ^ set(fb))}")
        return 1
    bad = 0
    for name in fa:
        try:
            pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name), check_exact=True)
        except AssertionError as exc:
            bad += 1
            print(f"{name}: DIFFERENT: {str(exc)[:300]}")
    print(f"{len(fa) - bad} of {len(fa)} tables equal")
    return 1 if bad else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scale")
    ap.add_argument("tables", help="folder for the analyse stage's tables")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "outputs" / "bench_batch"))
    ap.add_argument("--compare", default=None, help="another run's tables folder: are they equal?")
    ap.add_argument("--base", default=None, help="override params impact.base (auto, weighted or months), e.g. to "
                    "compare the cost of two bases side by side")
    args = ap.parse_args(argv)

    from cluster_eval.data import load_dataset
    from cluster_eval.report.analyse import analyse
    from cluster_eval.report.config import load_params
    from cluster_eval.report.demo_run import demo_params, ensure_data

    base = Path(args.data) / args.scale
    ensure_data(base, scale=args.scale, quiet=True)
    params = demo_params(base, args.scale, pdf=False)
    if args.base is not None:
        params["impact"]["base"] = args.base if args.base in ("auto", "weighted") else int(args.base)
    cfg = load_params(params)
    code = os.environ.get("PYTHONPATH", "")
    t0, c0, la = time.time(), cpu(), os.getloadavg()[0]
    ds = load_dataset(cfg.data_spec())
    print(f"[{args.scale}] {code} load + validate: wall {time.time() - t0:.1f} s, CPU {cpu() - c0:.1f} s, peak "
          f"{peaks()[0]:,.0f} MiB; load {la:.1f}", flush=True)
    out = Path(args.tables)
    out.mkdir(parents=True, exist_ok=True)
    kw = {"jobs": args.jobs} if "jobs" in inspect.signature(analyse).parameters else {}
    t0, c0, la = time.time(), cpu(), os.getloadavg()[0]
    analyse(ds, cfg, out, log=lambda m: print(f"  {time.time() - t0:7.1f} s {m}", flush=True), **kw)
    me, child = peaks()
    print(f"[{args.scale}] {code} analyse (jobs={kw.get('jobs', 'serial')}): wall {time.time() - t0:.1f} s, CPU "
          f"{cpu() - c0:.1f} s (with the helper); peak {me:,.0f} MiB, helper {child:,.0f} MiB; load {la:.1f} -> "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    return compare(out, Path(args.compare)) if args.compare else 0


if __name__ == "__main__":
    sys.exit(main())
