"""Apache Spark as the indicator engine: the same compiled SQL, transpiled from DuckDB's dialect by sqlglot.

The catalogue is compiled once (:mod:`.sql`) and every statement the engine runs -- the input checks
(:mod:`.tables`), the typed views, the interval steps and the final query -- is written for DuckDB.
:class:`SparkConnection` gives a SparkSession the small part of DuckDB's connection interface the
engine uses (``execute(sql)`` with ``fetchone``/``fetchall``/``df``) and transpiles each statement with
``sqlglot.transpile(sql, read="duckdb", write="spark")``; there is no second compiler. A
``CREATE TEMP TABLE name AS SELECT ...`` is computed at once and kept (memory, spilling to disk) under a
temporary view, so each interval step is computed once, as on DuckDB. In local mode it is kept as a local
checkpoint: later statements are planned over the stored rows rather than over the whole lineage of the
step (back to the file scans), which keeps Spark's planning and JIT costs per statement small. On a
cluster it is persisted (the lineage kept, so rows lost with an executor are recomputed); the session
setting :data:`TEMP_TABLES_CONF` chooses either way.

Files are found through Hadoop's FileSystem API of the session, so an events folder may be any path
Spark reads: local, ``hdfs://``, ``s3a://``, ``abfss://``, ``gs://``. The measures are written by Spark
as Parquet partitioned by indicator (``<out>/measures/indicator_id=<id>/part-*.parquet``);
:func:`cluster_eval.indicators.read_measures` reads them back into the same DataFrame as DuckDB's
``measures.parquet``.
"""
from __future__ import annotations

import re

import pandas as pd

from ..errors import ArgumentError, InputError, OutputError, Problem

#: Spark type names (``DataType.simpleString``) as DuckDB names them, for the checks in :mod:`.tables`.
DUCK_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "smallint": "SMALLINT",
              "tinyint": "TINYINT", "double": "DOUBLE", "float": "FLOAT", "date": "DATE",
              "timestamp": "TIMESTAMP", "timestamp_ntz": "TIMESTAMP", "boolean": "BOOLEAN"}

#: Settings of a session made here (``local[N]`` by default): small shuffles suit the practice-level
#: tables; UTC so that timestamps read from Parquet become the same dates as on DuckDB.
SESSION_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}

#: JVM options of the driver when :func:`session` starts Spark in local mode (``local``, ``local[N]``,
#: ``local[*]``), where the driver JVM is the whole engine: HotSpot's quick JIT tier only (C1, no C2).
#: C2 compiling the planner and every stage's generated code was the largest fixed cost in local mode:
#: C1 only cut the CPU by a third on 2 M event rows, with no measurable difference on 10 M
#: (benchmarks/README.md, "Spark against DuckDB", third session).
#: ``conf={"spark.driver.extraJavaOptions": ...}`` overrides it ("" for the JVM's defaults); a cluster
#: master (``yarn``, ``spark://``, ``k8s://``) or an existing session is left alone.
LOCAL_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1"

#: Session setting choosing how temp tables are kept: ``checkpoint`` (a local checkpoint: lineage cut, rows
#: kept on the executors and lost with one) or ``persist`` (cached, lineage kept). Unset: ``checkpoint``
#: for a local master, ``persist`` otherwise.
TEMP_TABLES_CONF = "spark.cluster_eval.tempTables"

_LOCAL = re.compile(r"local(\[[^\]]*\])?")

_CREATE = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+(TABLE|VIEW)\s+(\w+)\s+AS\s+(.*)$",
                     re.IGNORECASE | re.DOTALL)
_DESCRIBE = re.compile(r"^\s*DESCRIBE\s+(.*)$", re.IGNORECASE | re.DOTALL)


def to_spark_sql(sql: str) -> str:
    """One DuckDB-dialect statement in Spark SQL (sqlglot)."""
    import sqlglot

    out = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    if len(out) != 1:
        raise ValueError(f"expected one SQL statement, got {len(out)}")
    return out[0]


def session_settings(master: str | None, conf: dict | None = None) -> dict:
    """The settings :func:`session` gives a session it makes: :data:`SESSION_DEFAULTS`, then ``conf``,
    and for a local master :data:`LOCAL_JAVA_OPTIONS` unless ``conf`` sets the driver's JVM options."""
    settings = {**SESSION_DEFAULTS, **(conf or {})}
    if master and _LOCAL.fullmatch(master.strip()):
        settings.setdefault("spark.driver.extraJavaOptions", LOCAL_JAVA_OPTIONS)
    return settings


def session(master: str | None = None, app_name: str = "cluster_eval", conf: dict | None = None):
    """The active SparkSession, or a new one (``master``, e.g. ``local[2]`` or ``spark://host:7077``).

    Under ``spark-submit`` (or a notebook of a managed service) the existing session is returned
    unchanged; a session made here gets :data:`SESSION_DEFAULTS` and ``conf``, and in local mode the
    driver JVM options :data:`LOCAL_JAVA_OPTIONS` unless ``conf`` sets ``spark.driver.extraJavaOptions``.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:   # pragma: no cover - depends on the environment
        raise ArgumentError("engine='spark' needs PySpark: pip install 'cluster_eval[spark]' "
                            "(and Java 17, e.g. apt-get install openjdk-17-jre-headless)") from exc
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for k, v in session_settings(master, conf).items():
        builder = builder.config(k, v)
    return builder.getOrCreate()


class _Result:
    """What ``con.execute(...)`` returns: ``fetchone``, ``fetchall`` and ``df`` like DuckDB's."""

    def __init__(self, df=None, rows=None):
        self._df, self._rows = df, rows

    def fetchall(self) -> list[tuple]:
        if self._rows is None:
            self._rows = [tuple(r) for r in self._df.collect()]
        return self._rows

    def fetchone(self):
        rows = self.fetchall()
        return rows[0] if rows else None

    def df(self) -> pd.DataFrame:
        return self._df.toArrow().to_pandas()


class SparkConnection:
    """A SparkSession behind DuckDB's ``execute`` interface (the statements are transpiled by sqlglot).

    ``CREATE TEMP TABLE t AS q`` computes ``q`` at once and keeps its rows (``storage_level``, default
    memory and disk): as a local checkpoint (``temp_tables="checkpoint"``), which cuts the lineage, so
    statements reading ``t`` are analysed and optimised over a scan of the stored rows and not over every
    step before it; or persisted (``"persist"``), keeping the lineage. Default: the session's
    :data:`TEMP_TABLES_CONF`, else ``checkpoint`` for a local master and ``persist`` on a cluster (a local
    checkpoint lost with an executor cannot be recomputed). ``CREATE TEMP VIEW v AS q`` registers ``q``
    lazily; ``DESCRIBE q`` gives DuckDB's type names. :meth:`close` frees the stored rows and drops every
    view made here.
    """

    def __init__(self, spark, storage_level: str = "MEMORY_AND_DISK", temp_tables: str | None = None):
        self.spark = spark
        self.storage_level = storage_level
        if temp_tables is None:
            temp_tables = spark.conf.get(TEMP_TABLES_CONF, None) or (
                "checkpoint" if _LOCAL.fullmatch(spark.sparkContext.master.strip()) else "persist")
        if temp_tables not in ("checkpoint", "persist"):
            raise ArgumentError(f"{TEMP_TABLES_CONF} must be 'checkpoint' or 'persist'; got {temp_tables!r}")
        self.temp_tables = temp_tables
        self._views: list[str] = []
        self._cached: list = []
        self._rdds: list = []

    def _persist(self, df):
        from pyspark import StorageLevel

        df = df.persist(getattr(StorageLevel, self.storage_level))
        self._cached.append(df)
        return df

    def _checkpoint(self, df):
        """``df`` computed now and kept (a local checkpoint: its rows on the executors, its plan a scan of
        them). The stored RDD is remembered so that :meth:`close` frees it at once (otherwise Spark's
        cleaner frees it only when the JVM collects it)."""
        from pyspark import StorageLevel

        try:
            out = df.localCheckpoint(eager=True, storageLevel=getattr(StorageLevel, self.storage_level))
        except TypeError:   # PySpark 3.5: no storageLevel (a local checkpoint is kept in memory and disk)
            out = df.localCheckpoint(eager=True)
        try:
            self._rdds.append(out._jdf.queryExecution().logical().rdd())
        except Exception:   # pragma: no cover - another plan shape (e.g. Spark Connect): left to the cleaner
            pass
        return out

    def register(self, name: str, df, cache: bool = False) -> None:
        """Register a DataFrame under a temporary view (persisted, lazily, when ``cache``)."""
        if cache:
            df = self._persist(df)
        df.createOrReplaceTempView(name)
        self._views.append(name)

    def execute(self, sql: str) -> _Result:
        m = _CREATE.match(sql)
        if m:
            kind, name, query = m.groups()
            df = self.spark.sql(to_spark_sql(query))
            if kind.upper() == "TABLE":
                if self.temp_tables == "checkpoint":
                    df = self._checkpoint(df)
                else:
                    df = self._persist(df)
                    df.count()
            self.register(name, df)
            return _Result(rows=[])
        m = _DESCRIBE.match(sql)
        if m:
            schema = self.spark.sql(to_spark_sql(m.group(1))).schema
            return _Result(rows=[(f.name, DUCK_TYPES.get(f.dataType.simpleString(),
                                                         f.dataType.simpleString().upper()))
                                 for f in schema.fields])
        return _Result(df=self.spark.sql(to_spark_sql(sql)))

    def close(self) -> None:
        for df in self._cached:
            df.unpersist()
        for rdd in self._rdds:
            rdd.unpersist(False)
        for name in self._views:
            self.spark.catalog.dropTempView(name)
        self._cached, self._rdds, self._views = [], [], []


# ---------------------------------------------------------------------------------------------
# Files through the session's Hadoop FileSystem (local, hdfs://, s3a://, ...)
# ---------------------------------------------------------------------------------------------

class _FS:
    def __init__(self, spark, base: str):
        jvm = spark.sparkContext._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        self.fs = self._Path(base).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def is_file(self, path: str) -> bool:
        p = self._Path(path)
        return bool(self.fs.exists(p) and self.fs.getFileStatus(p).isFile())

    def is_dir(self, path: str) -> bool:
        p = self._Path(path)
        return bool(self.fs.exists(p) and self.fs.getFileStatus(p).isDirectory())

    def any(self, pattern: str) -> bool:
        found = self.fs.globStatus(self._Path(pattern))
        return found is not None and len(found) > 0


def join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def find_tables(spark, events_dir, wanted: dict[str, bool]) -> tuple[dict, list]:
    """Find each table (``wanted``: table -> required) as DuckDB's :func:`.tables.find_table` does:
    ``<t>.parquet`` (a file, or a folder as Spark writes it), ``<t>.csv``, ``<t>.csv.gz`` or a folder
    ``<t>/`` of Parquet or CSV parts. Returns ``({table: (kind, path, label)}, problems)``."""
    base = str(events_dir)
    fs = _FS(spark, base)
    if not fs.is_dir(base):
        raise InputError(Problem(base, None, "events folder does not exist"))
    found, problems = {}, []
    for t, required in wanted.items():
        cands = []
        p = join(base, f"{t}.parquet")
        if fs.is_file(p) or fs.is_dir(p):
            cands.append(("parquet", p, f"{t}.parquet"))
        for suffix in (".csv", ".csv.gz"):
            p = join(base, t + suffix)
            if fs.is_file(p):
                cands.append(("csv", p, t + suffix))
        folder = join(base, t)
        if fs.is_dir(folder):
            for kind, pattern in (("parquet", "*.parquet"), ("csv", "*.csv")):
                if fs.any(join(folder, pattern)):
                    cands.append((kind, join(folder, pattern), f"{t}/{pattern}"))
        if not cands:
            if required:
                problems.append(Problem(f"{t}.parquet|csv", None, "table is missing from the events folder"))
            continue
        if len(cands) > 1:
            names = ", ".join(c[2] for c in cands)
            raise InputError(Problem(t, None, f"more than one file holds this table ({names}); keep one"))
        found[t] = cands[0]
    return found, problems


def register_readers(con: SparkConnection, found: dict) -> dict[str, tuple[str, str]]:
    """Register each table as a raw view ``ce_raw_<table>`` (CSV: header, every column as text, and
    persisted once parsed, as DuckDB parses CSV into a table once); returns the engine's ``readers``."""
    readers = {}
    for t, (kind, path, label) in found.items():
        if kind == "parquet":
            df = con.spark.read.parquet(path)
        else:
            df = con.spark.read.option("header", "true").option("inferSchema", "false").csv(path)
        name = f"ce_raw_{t}"
        con.register(name, df, cache=(kind == "csv"))
        readers[t] = (name, label)
    return readers


def write_measures(spark, measures: pd.DataFrame, out_dir) -> str:
    """Write the measures with Spark as Parquet partitioned by indicator: ``<out_dir>/measures/``
    (``indicator_id=<id>/part-*.parquet``; period as a DATE). Returns the folder written."""
    import pyarrow as pa

    path = join(str(out_dir), "measures")
    table = pa.table({
        "indicator_id": pa.array(measures["indicator_id"].astype(str).tolist(), pa.string()),
        "practice_id": pa.array(measures["practice_id"].astype(str).tolist(), pa.string()),
        "period": pa.array(measures["period"].to_numpy("datetime64[D]"), pa.date32()),
        "numerator": pa.array(measures["numerator"].to_numpy(float), pa.float64()),
        "denominator": pa.array(measures["denominator"].to_numpy(float), pa.float64()),
    })
    try:
        df = spark.createDataFrame(table)
        df.repartition("indicator_id").write.mode("overwrite").partitionBy("indicator_id").parquet(path)
    except Exception as exc:   # py4j / Hadoop errors: one clear message
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OutputError(f"cannot write measures into {path!r}: {first}") from exc
    return path
