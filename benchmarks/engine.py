"""Benchmark of the indicator engine: rows per second and peak memory of

* ``floor``  : reading the Parquet files alone (pyarrow, every column of every table, streamed);
* ``engine`` : ``compute_measures`` (DuckDB, out of core) on the same files;
* ``pandas`` : the straightforward pandas implementation of the tests (``Oracle`` in
  ``tests/indicators/conftest.py``), which loads the tables into memory,
* ``spark1``, ``spark2`` : ``compute_measures(engine="spark")`` on a new local SparkSession with
  ``local[1]`` / ``local[2]`` (``--spark``; times exclude starting the JVM, reported apart; peak memory
  = the Python driver plus the JVM),

each in its own subprocess (peak memory = that process's maximum resident set size). Events are the
synthetic Denmark's (``write_events``) at ``--scale-factor`` (1.0 = the national lists, about 5.9 million
patients); ``--periods N`` restricts every run to the last N months (the pandas oracle is slow).

    .venv/bin/python benchmarks/engine.py --scale-factor 0.02 --periods 12
    .venv/bin/python benchmarks/engine.py --scale-factor 0.26 --skip-pandas     # ~100 million prescriptions
    .venv/bin/python benchmarks/engine.py --scale-factor 0.023 --skip-pandas --spark   # ~10 M rows, both engines
    .venv/bin/python benchmarks/engine.py --scale-factor 0.005 --only-spark --steps --cores 2 --java-opts=

Ratios are printed against the floor and against pandas, and with ``--spark`` Spark local[2] / DuckDB,
local[1] / DuckDB and local[1] / local[2], each in wall clock and in CPU seconds (all threads of the
process, the JVM's included: the fair figure on a shared machine). ``--java-opts=...`` (with ``=``: the
value starts with a dash) sets the driver JVM's options; ``--java-opts=`` gives none, i.e. HotSpot's
defaults instead of the C1-only default of a local session (``spark.LOCAL_JAVA_OPTIONS``). Results are
recorded in benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("patients", "listings", "prescriptions", "lab_tests", "diagnoses")


def _rows(folder: Path) -> dict:
    import pyarrow.parquet as pq

    return {t: pq.ParquetFile(folder / f"{t}.parquet").metadata.num_rows for t in TABLES}


def _periods(folder: Path, n: int | None):
    if not n:
        return None
    import pandas as pd
    import pyarrow.parquet as pq

    stats = pq.ParquetFile(folder / "prescriptions.parquet").metadata
    last = max(stats.row_group(i).column(1).statistics.max for i in range(stats.num_row_groups))
    end = pd.Timestamp(last).to_period("M").to_timestamp()
    return [str(d.date()) for d in pd.date_range(end=end, periods=n, freq="MS")]


def measure(kind: str, folder: Path, periods) -> dict:
    """Run one measurement in this process; returns seconds and peak RSS (MiB)."""
    t0 = time.perf_counter()
    out = {}
    if kind == "floor":
        import pyarrow.parquet as pq

        nbytes = 0
        for t in TABLES:
            for batch in pq.ParquetFile(folder / f"{t}.parquet").iter_batches(batch_size=1 << 20):
                nbytes += batch.nbytes
        out["bytes"] = nbytes
    elif kind == "engine":
        sys.path.insert(0, str(ROOT))
        from cluster_eval.indicators import compute_measures

        m = compute_measures(folder, periods=periods, progress=False, threads=2)
        out["measure_rows"] = len(m)
    elif kind.startswith("spark"):
        sys.path.insert(0, str(ROOT))
        from cluster_eval.indicators import compute_measures
        from cluster_eval.indicators.spark import session

        cores = int(kind[-1])
        cpu0 = cpu_s()
        conf = {"spark.ui.enabled": "false", "spark.driver.memory": "3g",
                "spark.sql.shuffle.partitions": str(4 * cores), "spark.local.dir": str(folder.parent / "spark_tmp")}
        if "CE_BENCH_JAVA_OPTS" in os.environ:   # "" = none (the JVM's defaults, C2 included)
            conf["spark.driver.extraJavaOptions"] = os.environ["CE_BENCH_JAVA_OPTS"]
        spark = session(f"local[{cores}]", conf=conf)
        spark.sparkContext.setLogLevel("ERROR")
        out["startup_s"] = time.perf_counter() - t0
        cpu0 = cpu_s() + cpu_s(spark.sparkContext._gateway.proc.pid)
        steps = _time_steps() if os.environ.get("CE_BENCH_STEPS") else None
        t0 = time.perf_counter()
        m = compute_measures(folder, periods=periods, progress=False, engine="spark", spark=spark)
        if steps is not None:
            out["steps"] = steps
        out["measure_rows"] = len(m)
        out["seconds"] = time.perf_counter() - t0
        jvm = spark.sparkContext._gateway.proc.pid
        out["peak_mib"] = peak_mib() + peak_mib(jvm)
        out["jvm_peak_mib"] = peak_mib(jvm)
        out["cpu_s"] = cpu_s() + cpu_s(jvm) - cpu0
        out["jvm_threads"] = jvm_threads(jvm)
        spark.stop()
        return out
    elif kind == "pandas":
        import importlib.util

        import pandas as pd

        sys.path.insert(0, str(ROOT))
        spec = importlib.util.spec_from_file_location(
            "oracle", ROOT / "tests" / "indicators" / "conftest.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        from cluster_eval.indicators import load_catalogue

        ps = pd.to_datetime(periods) if periods else None
        oracle = mod.Oracle(folder)
        if ps is None:
            d = oracle.t["prescriptions"]["date"]
            ps = pd.date_range(d.min().to_period("M").to_timestamp() + pd.DateOffset(months=23),
                               d.max().to_period("M").to_timestamp(), freq="MS")
        m = oracle.measures(load_catalogue().values(), ps)
        out["measure_rows"] = len(m)
    out["seconds"] = time.perf_counter() - t0
    out["peak_mib"] = peak_mib()
    out["cpu_s"] = cpu_s()
    return out


def _time_steps() -> list:
    """Record the wall seconds of every statement the Spark connection runs (``--steps``), including the
    collection of its result (``fetchall``/``df``)."""
    from cluster_eval.indicators import spark as sp

    steps, execute = [], sp.SparkConnection.execute

    def timed(self, sql):
        t = time.perf_counter()
        res = execute(self, sql)
        steps.append([round(time.perf_counter() - t, 2), " ".join(sql.split())[:90]])
        return res

    def collecting(method):
        def wrapper(self, *a):
            t = time.perf_counter()
            try:
                return method(self, *a)
            finally:
                if steps:
                    steps[-1][0] = round(steps[-1][0] + time.perf_counter() - t, 2)
        return wrapper

    sp.SparkConnection.execute = timed
    sp._Result.fetchall = collecting(sp._Result.fetchall)
    sp._Result.df = collecting(sp._Result.df)
    return steps


def jvm_threads(pid) -> dict:
    """CPU seconds of the JVM's threads by kind (JIT compilers, garbage collection, Spark's task threads, the
    rest: planning, scheduling, py4j), from ``jstack`` (empty when there is no jstack). Only threads alive
    now are seen: Spark's task threads exit after a minute idle, so ``tasks`` is a lower bound."""
    import re
    import shutil

    jstack = shutil.which("jstack") or str(Path(os.environ.get("JAVA_HOME", "/usr/lib/jvm/default-java")) / "bin" / "jstack")
    try:
        text = subprocess.run([jstack, str(pid)], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    out = {"jit": 0.0, "gc": 0.0, "tasks": 0.0, "other": 0.0}
    for name, ms in re.findall(r'^"([^"]+)".*?cpu=([0-9.]+)ms', text, re.MULTILINE):
        kind = ("jit" if "CompilerThread" in name else "gc" if re.search(r"GC|G1|VM Thread", name)
                else "tasks" if name.startswith("Executor task") else "other")
        out[kind] += float(ms) / 1000
    return {k: round(v, 1) for k, v in out.items()}


def cpu_s(pid="self") -> float:
    """CPU seconds (user + system, all threads) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_mib(pid="self") -> float:
    """Peak resident memory of a process (VmHWM; ru_maxrss survives exec, so it is not used)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(kind: str, folder: Path, periods) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--events", str(folder)]
    if periods:
        cmd += ["--period-list", ",".join(periods)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"exit {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale-factor", type=float, default=0.02)
    ap.add_argument("--workdir", default=str(ROOT / "outputs" / "bench_engine"))
    ap.add_argument("--periods", type=int, default=None, help="last N months only")
    ap.add_argument("--skip-pandas", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--spark", action="store_true", help="also Spark local[1] and local[2]")
    ap.add_argument("--only-spark", action="store_true", help="Spark only (with the floor)")
    ap.add_argument("--steps", action="store_true", help="Spark: print the slowest statements")
    ap.add_argument("--java-opts", default=None,
                    help="Spark: JVM options of the driver (local mode: the whole engine), e.g. -XX:TieredStopAtLevel=1")
    ap.add_argument("--cores", nargs="+", type=int, default=[1, 2], help="Spark: local[N] for each N given")
    ap.add_argument("--child", choices=("floor", "engine", "pandas", "spark1", "spark2"))
    ap.add_argument("--events")
    ap.add_argument("--period-list")
    args = ap.parse_args(argv)
    if args.child:
        periods = args.period_list.split(",") if args.period_list else None
        print(json.dumps(measure(args.child, Path(args.events), periods)))
        return 0

    folder = Path(args.workdir) / f"events_sf{args.scale_factor:g}_seed{args.seed}"
    if not (folder / "diagnoses.parquet").exists():
        sys.path.insert(0, str(ROOT))
        from cluster_eval.synthetic.events import write_events
        from cluster_eval.synthetic.generator import simulate

        t0 = time.perf_counter()
        ds, _ = simulate("denmark", args.seed)
        write_events(ds, folder, seed=args.seed, scale_factor=args.scale_factor, progress=True)
        print(f"wrote events in {time.perf_counter() - t0:.1f} s -> {folder}")
    rows = _rows(folder)
    total = sum(rows.values())
    size = sum((folder / f"{t}.parquet").stat().st_size for t in TABLES) / 2**20
    periods = _periods(folder, args.periods)
    print(f"events: {', '.join(f'{k} {v:,}' for k, v in rows.items())}; {total:,} rows, {size:,.0f} MiB Parquet")
    print(f"periods: {'last ' + str(args.periods) + ' months' if periods else 'all (default rule)'}; "
          f"{os.cpu_count()} CPUs")
    results = {}
    kinds = ("floor",) + (() if args.only_spark else ("engine",)) + \
        (() if args.skip_pandas or args.only_spark else ("pandas",)) + \
        (tuple(f"spark{c}" for c in args.cores) if args.spark or args.only_spark else ())
    if args.steps:
        os.environ["CE_BENCH_STEPS"] = "1"
    if args.java_opts is not None:
        os.environ["CE_BENCH_JAVA_OPTS"] = args.java_opts
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for kind in kinds:
        results[kind] = r = run_child(kind, folder, periods)
        if "error" in r:
            print(f"{kind:7s} failed: {r['error']}")
            continue
        extra = f"  (JVM start {r['startup_s']:.1f} s, JVM peak {r['jvm_peak_mib']:,.0f} MiB)" if "startup_s" in r else ""
        if r.get("jvm_threads"):
            extra += "  JVM thread CPU s: " + ", ".join(f"{k} {v}" for k, v in r["jvm_threads"].items())
        print(f"{kind:7s} {r['seconds']:9.2f} s  {total / r['seconds']:14,.0f} rows/s  peak {r['peak_mib']:8,.0f} MiB"
              f"  CPU {r.get('cpu_s', float('nan')):8.1f} s ({r.get('cpu_s', float('nan')) * 1e6 / total:.2f} µs/row)"
              f"  load {os.getloadavg()[0]:.1f}{extra}")
        for sec, sql in sorted(r.get("steps", []), reverse=True)[:12]:
            print(f"    {sec:8.2f} s  {sql}")
    f, e, p = results.get("floor", {}), results.get("engine", {}), results.get("pandas", {})
    if "seconds" in e and "seconds" in f:
        print(f"engine / floor: time x{e['seconds'] / f['seconds']:.2f}, peak memory x{e['peak_mib'] / f['peak_mib']:.2f}")
    s1, s2 = results.get("spark1", {}), results.get("spark2", {})
    if "seconds" in e and "seconds" in s2:
        print(f"spark local[2] / duckdb (2 threads): wall clock x{s2['seconds'] / e['seconds']:.2f}, "
              f"CPU x{s2['cpu_s'] / e['cpu_s']:.2f}, peak memory x{s2['peak_mib'] / e['peak_mib']:.2f}")
    if "seconds" in e and "seconds" in s1:
        print(f"spark local[1] / duckdb (2 threads): wall clock x{s1['seconds'] / e['seconds']:.2f}, "
              f"CPU x{s1['cpu_s'] / e['cpu_s']:.2f}, peak memory x{s1['peak_mib'] / e['peak_mib']:.2f}")
    if "seconds" in s1 and "seconds" in s2:
        print(f"spark local[1] / local[2]: wall clock x{s1['seconds'] / s2['seconds']:.2f}, "
              f"CPU x{s1['cpu_s'] / s2['cpu_s']:.2f}, peak memory x{s1['peak_mib'] / s2['peak_mib']:.2f}")
    if "seconds" in e and "seconds" in p:
        print(f"pandas / engine: time x{p['seconds'] / e['seconds']:.2f}, peak memory x{p['peak_mib'] / e['peak_mib']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
