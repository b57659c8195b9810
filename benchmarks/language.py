"""What the Danish reports cost against the English ones: the same runs, per-report worker time, ratio da / en.

    .venv/bin/python benchmarks/language.py [--scale small] [--jobs 1] [--rounds 2] [--out DIR]

The synthetic data (``--scale``) are written once under ``--out/data`` and reused. Then ``--rounds`` times,
alternating the order, the whole run (``force=True``, every cluster report and the national overview) with
``report.language: en`` and with ``da``; per-report worker times come from each run's manifest. Prints the
median per-report time of each language and the ratio da / en (the translation, Babel's number and date
formats and the catalogue read once per kernel are all that differ). Machine load is printed with each run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def report_times(run_dir: Path) -> list[float]:
    man = json.loads((run_dir / "manifest.json").read_text())
    return [r["duration"] for r in man["reports"] if r["status"] == "ok" and not r["skipped"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="small")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "outputs" / "bench_language"))
    args = ap.parse_args()

    from cluster_eval.report import run
    from cluster_eval.report.demo_run import demo_params, ensure_data

    out = Path(args.out)
    ensure_data(out, scale=args.scale, quiet=True)
    times = {"en": [], "da": []}
    for k in range(args.rounds):
        for lang in (("en", "da") if k % 2 == 0 else ("da", "en")):
            params = demo_params(out, args.scale)
            params["output"] = str(out / f"reports_{lang}")
            params["report"] = {**(params.get("report") or {}), "language": lang}
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            status = run(params, jobs=args.jobs, force=True, quiet=True)
            wall = time.perf_counter() - t0
            t = report_times(out / f"reports_{lang}")
            times[lang] += t
            print(f"round {k + 1} {lang}: status {status}, {len(t)} reports, median {statistics.median(t):.2f} s, "
                  f"wall {wall:.1f} s, load {load:.1f}", flush=True)
    en, da = statistics.median(times["en"]), statistics.median(times["da"])
    print(f"median per-report time: en {en:.2f} s, da {da:.2f} s; ratio da / en {da / en:.3f} "
          f"({len(times['en'])} and {len(times['da'])} reports)")


if __name__ == "__main__":
    main()
