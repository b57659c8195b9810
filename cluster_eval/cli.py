"""The ``cluster-eval`` command line.

Exit status: 0 all well; 1 some reports failed or the audit found something (the rest are still
written); 2 bad input or configuration, nothing written. Bad input never shows a traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import ClusterEvalError
from .report.i18n import LANGUAGES

SCALES = ("small", "denmark", "england")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cluster-eval",
        description="Evaluate the clinical impact of Danish general-practice quality clusters.",
    )
    p.add_argument("--version", action="version", version=f"cluster_eval {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="generate the synthetic Denmark and run the whole pipeline on it")
    d.add_argument("--out", default="outputs/demo", help="output folder (default: outputs/demo)")
    d.add_argument("--scale", choices=SCALES, default="denmark", help="synthetic scale (default: denmark)")
    d.add_argument("--jobs", type=int, default=None, help="parallel reports (default: number of cores)")
    d.add_argument("--pdf", action=argparse.BooleanOptionalAction, default=None,
                   help="also write an A4 PDF beside every report (default: on for the denmark scale, off for "
                        "the others; needs Debian's chromium)")
    d.add_argument("--language", choices=LANGUAGES, default=None,
                   help="language of the reports: da (Danish, the demo's default) or en (English)")
    d.add_argument("--quiet", action="store_true", help="no progress display")

    s = sub.add_parser("synth", help="write a synthetic data folder with its ground truth (truth.csv)")
    s.add_argument("--out", required=True, help="folder to write")
    s.add_argument("--scale", choices=SCALES, default="denmark")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--events", action="store_true", help="also write patient-level event tables")
    s.add_argument("--events-scale", type=float, default=1.0, metavar="F",
                   help="fraction of listed patients simulated as events (default 1.0 = all)")
    s.add_argument("--quiet", action="store_true")

    v = sub.add_parser("validate", help="check a data folder (or params file) against the data contract")
    v.add_argument("data", help="data folder or params YAML")
    v.add_argument("--quiet", action="store_true")

    m = sub.add_parser("measures", help="compute the measures table from patient-level events")
    m.add_argument("events", help="folder with patients, listings, prescriptions, lab_tests, diagnoses")
    m.add_argument("--out", required=True, help="folder to write measures.parquet into")
    m.add_argument("--catalogue", default=None, help="indicator catalogue YAML (default: the shipped one)")
    m.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                   help="duckdb (default, this machine) or spark (writes OUT/measures/ partitioned by indicator)")
    m.add_argument("--master", default=None, metavar="URL",
                   help="Spark master for --engine spark (e.g. local[4], spark://host:7077, yarn); "
                        "default: the active session's, or local[*]")
    m.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                   help="Spark setting of the session made for --engine spark (repeatable), e.g. "
                        "spark.sql.shuffle.partitions=400, or spark.driver.extraJavaOptions= for the JVM's "
                        "own JIT defaults instead of local mode's C1-only default")
    m.add_argument("--quiet", action="store_true")

    c = sub.add_parser("convert", help="convert register extracts (SAS, Stata, Parquet, CSV) mapped in params "
                                       "to Parquet event tables, once")
    c.add_argument("params", help="params YAML with an 'events:' section (docs/data.md)")
    c.add_argument("--out", required=True, help="events folder to write (then: cluster-eval measures DIR)")
    c.add_argument("--force", action="store_true", help="convert tables whose source did not change too")
    c.add_argument("--chunk-rows", type=int, default=500_000, metavar="N", help="rows per chunk (default 500000)")
    c.add_argument("--quiet", action="store_true")

    r = sub.add_parser("run", help="the scheduled job: load, analyse, report, audit")
    r.add_argument("params", help="params YAML (see params/demo.yaml)")
    r.add_argument("--jobs", type=int, default=None)
    r.add_argument("--only", nargs="+", default=None, metavar="CLUSTER", help="rerun these clusters only")
    r.add_argument("--force", action="store_true", help="rerun reports whose inputs did not change")
    r.add_argument("--pdf", action=argparse.BooleanOptionalAction, default=None,
                   help="also write an A4 PDF beside every report (default: the params' report.pdf; needs "
                        "Debian's chromium)")
    r.add_argument("--language", choices=LANGUAGES, default=None,
                   help="language of the reports, overriding the params' report.language: da (Danish) or en (English)")
    r.add_argument("--quiet", action="store_true")

    a = sub.add_parser("audit", help="scan written outputs for cells that break disclosure rules")
    a.add_argument("output", help="a run's output folder")
    a.add_argument("--threshold", type=int, default=None, help="largest count that must not be shown (default 4)")
    return p


def _say(args, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr)


def _check_out(path) -> None:
    """``--out`` is a folder or can be made one, and can be written: else OutputError (exit 2), before anything
    is written. The same check as ``run`` makes of its params' ``output``."""
    from .report.runner import check_output

    check_output(Path(path).expanduser().resolve())


def cmd_synth(args) -> int:
    from .synthetic import write

    if not 0 < args.events_scale <= 1:
        from .errors import ConfigError
        raise ConfigError(f"--events-scale must be in (0, 1]; got {args.events_scale}")
    _check_out(args.out)
    _say(args, f"writing the synthetic Denmark ({args.scale}, seed {args.seed}) to {args.out} ...")
    out = write(args.out, scale=args.scale, seed=args.seed, events=args.events,
                events_scale=args.events_scale, progress=not args.quiet)
    _say(args, f"done: {out}")
    return 0


def cmd_validate(args) -> int:
    from .data import load_dataset
    from .indicators.tables import EVENT_TABLES

    path = Path(args.data)
    has_events = path.is_dir() and any((path / f"{t}{ext}").exists() or (path / t).is_dir()
                                       for t in EVENT_TABLES for ext in (".csv", ".parquet"))
    has_contract = not path.is_dir() or any(path.glob("measures.*")) or not has_events
    if has_contract:
        ds = load_dataset(args.data)
        print(f"{args.data}: valid — {ds!r}")
    if has_events:
        from .indicators.checks import validate_events
        validate_events(path)
        print(f"{args.data}: patient-level event tables valid")
    return 0


def cmd_measures(args) -> int:
    from .indicators import compute_measures

    _check_out(args.out)
    catalogue = None
    if args.catalogue:
        from .indicators import load_catalogue
        catalogue = load_catalogue(args.catalogue)
    kw = {}
    if args.engine == "spark":
        from .indicators.spark import session
        conf = {}
        for item in args.conf:
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                from .errors import ArgumentError
                raise ArgumentError(f"--conf takes KEY=VALUE (e.g. spark.sql.shuffle.partitions=400); got {item!r}")
            conf[key.strip()] = value
        kw = {"engine": "spark", "spark": session(args.master, conf=conf or None)}
    elif args.master or args.conf:
        from .errors import ArgumentError
        raise ArgumentError(f"{'--master' if args.master else '--conf'} is for --engine spark")
    df = compute_measures(args.events, out_dir=args.out, catalogue=catalogue, progress=not args.quiet, **kw)
    written = f"{args.out.rstrip('/')}/measures/" if args.engine == "spark" else Path(args.out) / "measures.parquet"
    _say(args, f"wrote {len(df):,} measure rows to {written}")
    return 0


def cmd_convert(args) -> int:
    from .extracts import convert

    if args.chunk_rows < 1:
        from .errors import ConfigError
        raise ConfigError(f"--chunk-rows must be a positive number of rows; got {args.chunk_rows}")
    result = convert(args.params, args.out, force=args.force, progress=not args.quiet, chunk_rows=args.chunk_rows)
    _say(args, result.summary())
    return 0


def cmd_run(args) -> int:
    from .report import run

    return run(args.params, jobs=args.jobs, only=args.only, force=args.force, quiet=args.quiet, pdf=args.pdf,
               language=args.language)


def cmd_demo(args) -> int:
    from .report import demo

    _check_out(args.out)
    return demo(out_dir=args.out, scale=args.scale, quiet=args.quiet, jobs=args.jobs, pdf=args.pdf,
                language=args.language)


def cmd_audit(args) -> int:
    from .audit import main_audit

    kw = {} if args.threshold is None else {"threshold": args.threshold}
    return main_audit(args.output, **kw)


COMMANDS = {"synth": cmd_synth, "validate": cmd_validate, "measures": cmd_measures, "convert": cmd_convert,
            "run": cmd_run,
            "demo": cmd_demo, "audit": cmd_audit}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ClusterEvalError as exc:
        print(f"cluster-eval {args.command}: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("cluster-eval: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
