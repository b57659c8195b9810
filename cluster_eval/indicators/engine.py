"""``compute_measures``: run the catalogue on DuckDB (or Spark) over patient-level event files, in place.

The files are read where they lie (Parquet or CSV, never loaded into pandas); the compiled SQL
(:mod:`.sql`) turns listings and events into interval tables, evaluates every indicator for all
periods at once, and only the final practice × period table (thousands of rows) comes back to pandas.
DuckDB spills to a temporary folder when a step does not fit ``memory_limit``.
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ArgumentError, ClusterEvalWarning, InputError, OutputError, Problem
from . import sql as sqlmod
from .catalogue import AllOf, AnyOf, ConcurrentDrugs, EventCriterion, Indicator, Not, load_catalogue
from .tables import EVENT_TABLES, create_views, find_table, validate_tables

MEASURE_COLUMNS = ["indicator_id", "practice_id", "period", "numerator", "denominator"]


def _criteria(ind: Indicator):
    """Every criterion an indicator uses (flattened)."""
    stack = [ind.denominator.population.require, ind.denominator.count, ind.numerator.has, ind.numerator.count]
    while stack:
        c = stack.pop()
        if c is None:
            continue
        yield c
        if isinstance(c, AnyOf | AllOf):
            stack.extend(c.items)
        elif isinstance(c, Not):
            stack.append(c.item)


def _sources(indicators) -> set[str]:
    out = set()
    for ind in indicators:
        for c in _criteria(ind):
            if isinstance(c, EventCriterion):
                out.add(c.source)
            elif isinstance(c, ConcurrentDrugs):
                out.add("prescriptions")
    return out


def _lookback(indicators) -> int:
    """The longest look-back (months, including offsets) of any criterion: default periods start later."""
    longest = 1
    for ind in indicators:
        for c in _criteria(ind):
            if isinstance(c, EventCriterion):
                longest = max(longest, c.months + c.offset)
            elif isinstance(c, ConcurrentDrugs):
                longest = max(longest, 1)
    return longest


def month_of(value) -> int:
    ts = pd.Timestamp(value)
    return ts.year * 12 + ts.month - 1


def period_of(m: np.ndarray) -> pd.Series:
    m = np.asarray(m, dtype=np.int64)
    return pd.to_datetime(pd.DataFrame({"year": m // 12, "month": m % 12 + 1, "day": 1})).astype("datetime64[ns]")


def _resolve_catalogue(catalogue) -> list[Indicator]:
    if catalogue is None or isinstance(catalogue, str | Path):
        catalogue = load_catalogue(catalogue)
    if isinstance(catalogue, dict):
        catalogue = list(catalogue.values())
    if isinstance(catalogue, Indicator):
        catalogue = [catalogue]
    items = list(catalogue)
    if not items or not all(isinstance(i, Indicator) for i in items):
        raise ArgumentError(f"catalogue must be a path, a dict of Indicator or a list of Indicator; got {catalogue!r}")
    return items


def _resolve_periods(con, periods, sources, indicators) -> tuple[int, int, set[int] | None]:
    if periods is not None:
        if isinstance(periods, tuple) and len(periods) == 2:
            lo, hi = month_of(periods[0]), month_of(periods[1])
            if lo > hi:
                raise ArgumentError(f"periods (start, end) must have start <= end; got {periods!r}")
            return lo, hi, None
        wanted = {month_of(p) for p in (periods if not isinstance(periods, str) else [periods])}
        if not wanted:
            raise ArgumentError("periods must name at least one month; got an empty list")
        return min(wanted), max(wanted), wanted
    bounds = []
    for t in sorted(sources):
        lo_hi = con.execute(f"SELECT MIN(date), MAX(date) FROM ce_{t}").fetchone()
        if lo_hi[0] is not None:
            bounds.append((month_of(lo_hi[0]), month_of(lo_hi[1])))
    if not bounds:
        raise InputError(Problem("events", None, "no events: the event tables the catalogue uses are empty"))
    first, last = min(b[0] for b in bounds), max(b[1] for b in bounds)
    lo = first + _lookback(indicators) - 1
    if lo > last:
        warnings.warn(f"the events span {last - first + 1} months, less than the longest look-back window "
                      f"({_lookback(indicators)} months): every period is computed, the early ones on "
                      "incomplete look-back", ClusterEvalWarning, stacklevel=3)
        lo = first
    return int(lo), int(last), None


def connect(memory_limit: str = "2.5GB", threads: int | None = None, temp_directory=None):
    """A DuckDB connection configured for out-of-core work."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    tmp = temp_directory or str(Path(tempfile.gettempdir()) / "cluster_eval_duckdb")
    con.execute(f"SET temp_directory = '{tmp}'")
    return con


ENGINES = ("duckdb", "spark")


def compute_measures(events_dir, out_dir=None, catalogue=None, periods=None, progress=True, *,
                     validate=True, memory_limit="2.5GB", threads=None, fmt="parquet", engine="duckdb",
                     spark=None) -> pd.DataFrame:
    """Compute the contract's ``measures`` table from patient-level event files.

    Parameters
    ----------
    events_dir : str or Path
        Folder with ``patients``, ``listings`` and the event tables the catalogue uses
        (``prescriptions``, ``lab_tests``, ``diagnoses``), each as ``<table>.parquet``,
        ``<table>.csv`` or a folder of parts (docs/events.md). With ``engine="spark"`` any path the
        session reads (local, ``hdfs://``, ``s3a://``, ...).
    out_dir : str or Path, optional
        When given, ``measures.parquet`` (or ``.csv`` with ``fmt="csv"``) is written there; with
        ``engine="spark"``, Spark writes ``<out_dir>/measures/`` as Parquet partitioned by indicator
        (read it back with :func:`read_measures`).
    catalogue : path, dict or list of Indicator, optional
        Default: the shipped Danish catalogue.
    periods : optional
        ``None``: every month from the first event month plus the longest look-back window to the last
        event month; ``(start, end)`` tuple: that range of months; a list: those months.
    progress : bool
        Show a tqdm progress bar over the SQL steps.
    validate : bool
        Check the tables against the contract first (one scan each); bad input raises InputError.
    memory_limit, threads : DuckDB settings (spilling to a temporary folder beyond the limit).
    engine : {"duckdb", "spark"}
        DuckDB in this process (default), or Apache Spark: the same compiled SQL transpiled by sqlglot
        (:mod:`cluster_eval.indicators.spark`). Both give the same rows and values.
    spark : pyspark.sql.SparkSession, optional
        The session for ``engine="spark"``; default the active session, or a new local one.

    Returns
    -------
    pandas.DataFrame
        indicator_id, practice_id, period (first day of the month), numerator, denominator (floats),
        one row per indicator, practice and period in which the practice has listed patients.
        ``value = numerator / denominator × multiplier``; a denominator of 0 is kept (value missing).

    Notes
    -----
    A patient counts for the practice he or she is listed with on the period's last day, if alive on
    that day; the events of the look-back window count there too, whichever practice the patient was
    listed with when they happened. Age is in completed years on the period's last day.
    """
    if engine not in ENGINES:
        raise ArgumentError(f"engine must be one of {', '.join(map(repr, ENGINES))}; got {engine!r}")
    if engine == "spark" and fmt != "parquet":
        raise ArgumentError(f"engine='spark' writes Parquet only; got fmt={fmt!r}")
    indicators = _resolve_catalogue(catalogue)
    sources = _sources(indicators)
    wanted = {t: t in ("patients", "listings") or t in sources for t in EVENT_TABLES}
    spill = None
    if engine == "spark":
        from . import spark as sparkmod

        spark = spark if spark is not None else sparkmod.session()
        found, problems = sparkmod.find_tables(spark, events_dir, wanted)
        if problems:
            raise InputError(problems)
        con = sparkmod.SparkConnection(spark)
        readers = sparkmod.register_readers(con, found)
    else:
        events_dir = Path(events_dir)
        if not events_dir.is_dir():
            raise InputError(Problem(str(events_dir), None, "events folder does not exist"))
        readers, problems = {}, []
        for t, required in wanted.items():
            found = find_table(events_dir, t)
            if found is None:
                if required:
                    problems.append(Problem(f"{t}.parquet|csv", None, "table is missing from the events folder"))
                continue
            readers[t] = found
        if problems:
            raise InputError(problems)
        spill = tempfile.TemporaryDirectory(prefix="cluster_eval_duckdb_")
        con = connect(memory_limit, threads, spill.name)
    bar = None
    try:
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=1, desc="indicators", unit="step", postfix="checking the tables")
        if validate:
            validate_tables(con, readers)
        create_views(con, readers)
        lo, hi, wanted_periods = _resolve_periods(con, periods, sources, indicators)
        plan = sqlmod.compile_catalogue(indicators, lo, hi)
        con.execute(f"CREATE TEMP TABLE ce_periods AS {sqlmod.integers('p', lo, hi)}")
        con.execute(f"CREATE TEMP TABLE ce_offsets AS {sqlmod.integers('k', 0, 240)}")
        steps = plan.steps
        if bar is not None:
            bar.total = len(steps) + 2
            bar.update()
        for name, sql, label in steps:
            if bar is not None:
                bar.set_postfix_str(label)
            con.execute(f"CREATE TEMP TABLE {name} AS {sql}")
            if bar is not None:
                bar.update()
        wide = con.execute(sqlmod.final_query(plan)).df()
        if bar is not None:
            bar.update()
    finally:
        if bar is not None:
            bar.close()
        con.close()
        if spill is not None:
            spill.cleanup()

    out = _long(wide, plan, indicators, wanted_periods)
    if out_dir is not None:
        if engine == "spark":
            sparkmod.write_measures(spark, out, out_dir)
        else:
            write_measures(out, out_dir, fmt)
    return out


def _long(wide: pd.DataFrame, plan, indicators, wanted) -> pd.DataFrame:
    """The wide practice × period table of counts as the long measures table (both engines)."""
    frames = []
    for ind in indicators:
        num, den = plan.columns[ind.id]
        frames.append(pd.DataFrame({"indicator_id": ind.id, "practice_id": wide["practice_id"].astype(str),
                                    "p": wide["p"].to_numpy(np.int64),
                                    "numerator": wide[num].to_numpy(float),
                                    "denominator": wide[den].to_numpy(float)}))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=MEASURE_COLUMNS + ["p"])
    if wanted is not None:
        out = out[out["p"].isin(wanted)]
    out = out.sort_values(["indicator_id", "practice_id", "p"], kind="stable").reset_index(drop=True)
    out.insert(2, "period", period_of(out["p"].to_numpy()))
    return out.drop(columns="p")[MEASURE_COLUMNS]


def read_measures(path) -> pd.DataFrame:
    """Read measures written by :func:`compute_measures`: a ``measures.parquet`` / ``.csv`` file (DuckDB)
    or a folder of Parquet partitioned by indicator (Spark), as the DataFrame ``compute_measures``
    returns (same columns, dtypes and row order). Local paths (or any path pyarrow's filesystems read).

    Parameters
    ----------
    path : str or Path
        A ``measures.parquet`` or ``.csv`` file, a folder partitioned by ``indicator_id``, or a folder holding
        ``measures/``.

    Returns
    -------
    pandas.DataFrame
        ``indicator_id, practice_id, period, numerator, denominator`` as :func:`compute_measures` returns them.
    """
    path = Path(path) if not str(path).startswith(("s3://", "gs://", "hdfs://")) else path
    if isinstance(path, Path) and path.is_dir() and (path / "measures").is_dir():
        path = path / "measures"
    if isinstance(path, Path) and path.suffix == ".csv":
        df = pd.read_csv(path, dtype={"indicator_id": str, "practice_id": str})
    else:
        import pyarrow.dataset as pads

        df = pads.dataset(str(path), format="parquet", partitioning="hive").to_table().to_pandas()
    out = pd.DataFrame({"indicator_id": df["indicator_id"].astype(str).to_numpy(object),
                        "practice_id": df["practice_id"].astype(str).to_numpy(object),
                        "period": pd.to_datetime(df["period"]).astype("datetime64[ns]"),
                        "numerator": df["numerator"].to_numpy(float),
                        "denominator": df["denominator"].to_numpy(float)})
    out = out.sort_values(["indicator_id", "practice_id", "period"], kind="stable").reset_index(drop=True)
    out["indicator_id"] = out["indicator_id"].astype(str)
    out["practice_id"] = out["practice_id"].astype(str)
    return out


def write_measures(measures: pd.DataFrame, out_dir, fmt: str = "parquet") -> Path:
    """Write ``measures.parquet`` (or ``.csv``) atomically into ``out_dir``."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"measures.{fmt}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        if fmt == "parquet":
            measures.to_parquet(tmp, index=False)
        elif fmt == "csv":
            measures.to_csv(tmp, index=False, date_format="%Y-%m-%d")
        else:
            raise ArgumentError(f"fmt must be 'parquet' or 'csv'; got {fmt!r}")
        tmp.replace(path)
    except OSError as exc:
        raise OutputError(f"cannot write measures into {str(out_dir)!r}: {exc.strerror}") from exc
    return path
