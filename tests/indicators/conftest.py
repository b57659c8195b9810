"""Helpers for the indicator-engine tests: write literal CSV tables, run the engine (on both engines:
DuckDB and Spark in local mode, one SparkSession for the whole test session), index the result."""
from __future__ import annotations

import operator
import os
import shutil
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml

from cluster_eval.indicators import compute_measures
from cluster_eval.indicators.catalogue import (
    AllOf,
    AnyOf,
    ConcurrentDrugs,
    EventCriterion,
    Not,
    parse_catalogue,
)


def write_tables(folder, tables: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(textwrap.dedent(text).strip() + "\n")
    return folder


def catalogue_from(text: str):
    return parse_catalogue(yaml.safe_load(textwrap.dedent(text)), source="test catalogue")


ENGINES = ("duckdb", "spark")


def _spark_or_skip():
    """Skip when PySpark or Java is missing, unless CLUSTER_EVAL_REQUIRE_SPARK=1 (CI), then fail."""
    missing = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing = "pyspark is not installed (pip install '.[spark]')"
    if missing is None and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing = "java is not installed (apt-get install openjdk-17-jre-headless)"
    if missing:
        if os.environ.get("CLUSTER_EVAL_REQUIRE_SPARK") == "1":
            pytest.fail(missing)
        pytest.skip(missing)


@pytest.fixture(scope="session")
def spark_session():
    """One local SparkSession (local[2]) for every Spark test of the session, set for tiny tables: UI off,
    two shuffle partitions, no adaptive re-planning, expressions interpreted rather than compiled, and a
    JVM that only uses the quick JIT tier (its cost per run on the spec tables is about half of the
    defaults'; none of this changes a result)."""
    _spark_or_skip()
    from cluster_eval.indicators.spark import session

    spark = session("local[2]", app_name="cluster_eval tests", conf={
        "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2",
        "spark.sql.adaptive.enabled": "false", "spark.sql.codegen.wholeStage": "false",
        "spark.sql.codegen.factoryMode": "NO_CODEGEN", "spark.driver.memory": "1g",
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss4m"})
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


@pytest.fixture(params=ENGINES)
def engine(request):
    """Keyword arguments of compute_measures for each engine: {"engine": ..., "spark": ...}."""
    if request.param == "spark":
        return {"engine": "spark", "spark": request.getfixturevalue("spark_session")}
    return {"engine": "duckdb"}


@pytest.fixture
def run_engine(tmp_path, engine):
    """run_engine(tables, catalogue_yaml, periods) -> {(indicator, practice, 'YYYY-MM'): (num, den)},
    on each engine in turn (the fixture is parametrised by ``engine``)."""
    def run(tables, catalogue, periods):
        folder = write_tables(tmp_path / "events", tables)
        cat = catalogue_from(catalogue) if isinstance(catalogue, str) else catalogue
        m = compute_measures(folder, catalogue=cat, periods=periods, progress=False, **engine)
        return {(r.indicator_id, r.practice_id, r.period.strftime("%Y-%m")): (r.numerator, r.denominator)
                for r in m.itertuples()}
    return run


# ---------------------------------------------------------------------------------------------
# The independent pandas implementation (oracle) of the documented rules, by dates, one period at a time.
# ---------------------------------------------------------------------------------------------

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _icd(code: str) -> str:
    code = code.replace(".", "")
    return code[1:] if len(code) > 1 and code[0] == "D" and code[1].isalpha() else code


class Oracle:
    def __init__(self, folder, ext="parquet"):
        read = pd.read_parquet if ext == "parquet" else pd.read_csv
        t = {n: read(folder / f"{n}.{ext}") for n in ("patients", "listings", "prescriptions", "lab_tests",
                                                        "diagnoses")}
        for name, cols in (("patients", ["birth_date", "death_date"]), ("listings", ["listed_from", "listed_to"]),
                           ("prescriptions", ["date"]), ("lab_tests", ["date"]), ("diagnoses", ["date"])):
            for c in cols:
                t[name][c] = pd.to_datetime(t[name][c])
        d = t["diagnoses"]
        d["code"] = np.where(d["system"] == "ICD10", d["code"].map(_icd), d["code"])
        t["listings"]["practice_id"] = t["listings"]["practice_id"].astype(str)
        self.t = t

    def window(self, c: EventCriterion, p0):
        start = p0 - pd.DateOffset(months=c.offset + c.months - 1)
        end = p0 - pd.DateOffset(months=c.offset) + pd.offsets.MonthEnd(0)
        ev = self.t[c.source]
        ev = ev[(ev["date"] >= start) & (ev["date"] <= end)]
        if c.source == "diagnoses":
            keep = np.zeros(len(ev), bool)
            for system, code in c.codes:
                keep |= (ev["system"] == system).to_numpy() & ev["code"].str.startswith(code).to_numpy()
        else:
            col = {"prescriptions": "atc", "lab_tests": "npu_code"}[c.source]
            keep = ev[col].str.startswith(tuple(c.codes)).to_numpy()
        ev = ev[keep]
        if c.comparison is not None and not c.latest:
            ev = ev[OPS[c.comparison](ev["value"], c.threshold)]
        return ev

    def holds(self, c, p0, pe) -> set:
        if isinstance(c, EventCriterion) and c.latest:
            ev = self.window(c, p0)
            ev = ev[ev["value"].notna()]
            last = ev[ev["date"] == ev.groupby("patient_id")["date"].transform("max")]
            value = last.groupby("patient_id")["value"].max()
            return set(value.index[OPS[c.comparison](value, c.threshold)])
        if isinstance(c, EventCriterion):
            return set(self.window(c, p0)["patient_id"])
        if isinstance(c, ConcurrentDrugs):
            rx = self.t["prescriptions"]
            if c.codes:
                rx = rx[rx["atc"].str.startswith(tuple(c.codes))]
            rx = rx[rx["ddd"] > 0]
            days = np.ceil(np.minimum(rx["ddd"], 365)).astype(int)
            use = rx[(rx["date"] <= pe) & (pe < rx["date"] + pd.to_timedelta(days, unit="D"))]
            n = use.assign(s=use["atc"].str[:7]).groupby("patient_id")["s"].nunique()
            return set(n.index[n >= c.min_count])
        if isinstance(c, AnyOf):
            return set().union(*(self.holds(x, p0, pe) for x in c.items))
        if isinstance(c, AllOf):
            return set.intersection(*(self.holds(x, p0, pe) for x in c.items))
        if isinstance(c, Not):
            return set(self.t["patients"]["patient_id"]) - self.holds(c.item, p0, pe)
        raise TypeError(c)

    def measures(self, indicators, periods) -> pd.DataFrame:
        rows = []
        pat, lis = self.t["patients"], self.t["listings"]
        for p0 in periods:
            pe = p0 + pd.offsets.MonthEnd(0)
            listed = lis[(lis["listed_from"] <= pe) & (lis["listed_to"].isna() | (lis["listed_to"] >= pe))]
            listed = listed.merge(pat, on="patient_id")
            listed = listed[listed["death_date"].isna() | (listed["death_date"] > pe)].copy()
            listed["age"] = pe.year - listed["birth_date"].dt.year - (pe.month < listed["birth_date"].dt.month)
            practices = sorted(listed["practice_id"].unique())
            for ind in indicators:
                pop = ind.denominator.population
                members = listed
                if pop.age_min is not None:
                    members = members[members["age"] >= pop.age_min]
                if pop.age_max is not None:
                    members = members[members["age"] <= pop.age_max]
                if pop.sex is not None:
                    members = members[members["sex"] == pop.sex]
                if pop.require is not None:
                    members = members[members["patient_id"].isin(self.holds(pop.require, p0, pe))]

                def persons(crit, members=members, p0=p0, pe=pe):
                    if crit is not None:
                        members = members[members["patient_id"].isin(self.holds(crit, p0, pe))]
                    return members.groupby("practice_id").size()

                def events(crit, members=members, p0=p0):
                    ev = self.window(crit, p0).merge(members[["patient_id", "practice_id"]], on="patient_id")
                    return ev.groupby("practice_id").size()
                dc, nc = ind.denominator.count, ind.numerator.count
                den = events(dc) if dc is not None else persons(None)
                num = events(nc) if nc is not None else persons(ind.numerator.has)
                for pr in practices:
                    rows.append((ind.id, pr, p0, float(num.get(pr, 0)), float(den.get(pr, 0))))
        out = pd.DataFrame(rows, columns=["indicator_id", "practice_id", "period", "numerator", "denominator"])
        return out.sort_values(["indicator_id", "practice_id", "period"]).reset_index(drop=True)


@pytest.fixture
def oracle():
    """The pandas oracle class: ``oracle(folder, ext).measures(indicators, periods)``."""
    return Oracle
