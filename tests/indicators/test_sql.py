"""The compiled SQL: shared computations are shared, and the SQL stays free of DuckDB-only constructs."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from cluster_eval.indicators import load_catalogue
from cluster_eval.indicators.sql import compile_catalogue, final_query

LO, HI = 2020 * 12, 2024 * 12 + 11


def test_equal_definitions_are_compiled_once():
    cat = load_catalogue()
    plan = compile_catalogue(cat.values(), LO, HI)
    labels = Counter(label for _, _, label in plan.steps)
    # base populations: listed, 65+, T2D (18+), COPD (35+) -- one table each, however many indicators use them
    assert labels["population"] + labels["population (age/sex)"] == 4
    assert labels["any_of"] == 1                       # the T2D case definition, shared by both diabetes indicators
    # J01 counts among the listed are computed once for abx_rate and both share denominators
    num_rate, den_rate = plan.columns["abx_rate"]
    assert plan.columns["abx_penv_share"][1] == plan.columns["abx_quinolone_share"][1] == num_rate
    # the listed count is one table for the five indicators over the listed population
    listed = {plan.columns[k][1] for k in ("abx_rate", "dep_opioid_users", "dep_benzo_users")}
    assert listed == {plan.listed_column}
    assert plan.columns["t2d_hba1c_measured"][1] == plan.columns["t2d_hba1c_below59"][1]
    assert plan.columns["copd_spirometry"][1] == plan.columns["copd_ics"][1]
    assert len({name for name, _, _ in plan.steps}) == len(plan.steps)


DUCKDB_ONLY = [r"::", r"\bQUALIFY\b", r"\bread_parquet\b", r"\bread_csv\b", r"\blist_\w+", r"\bstruct_",
               r"\bregexp_", r"\bEXCLUDE\b", r"\bCOLUMNS\(", r"\bUNNEST\b", r"\brange\(", r"\bgenerate_series\b",
               r"\bdate_trunc\b", r"\bmake_date\b", r"\bASOF\b", r"\bPOSITIONAL\b", r"\bSAMPLE\b", r"\bPIVOT\b",
               r"\bILIKE\b", r"\bTRY_CAST\b"]


def test_compiled_sql_uses_standard_constructs_only():
    plan = compile_catalogue(load_catalogue().values(), LO, HI)
    text = "\n".join(sql for _, sql, _ in plan.steps) + final_query(plan)
    for pattern in DUCKDB_ONLY:
        assert not re.search(pattern, text, flags=re.IGNORECASE), pattern
    assert "date + CAST(" not in text and "range(" not in text


def _statements():
    from cluster_eval.indicators.sql import integers

    plan = compile_catalogue(load_catalogue().values(), LO, HI)
    yield from ((label, sql) for _, sql, label in plan.steps)
    yield "final", final_query(plan)
    yield "integers", integers("k", 0, 240)


def test_every_statement_is_known_to_the_transpiler():
    """The SQL is written once (DuckDB's dialect) and translated by sqlglot: every function must be one
    sqlglot knows (an unknown one would be passed through untranslated), and the Spark SQL it gives
    must parse back (the translations of the dialect-specific pieces are checked by value in the
    engine tests, which run on both engines)."""
    sqlglot = pytest.importorskip("sqlglot")
    from sqlglot import exp

    from cluster_eval.indicators.spark import to_spark_sql

    for label, sql in _statements():
        tree = sqlglot.parse_one(sql, read="duckdb")
        unknown = [f.name for f in tree.find_all(exp.Anonymous)]
        assert not unknown, (label, unknown)
        spark_sql = to_spark_sql(sql)
        sqlglot.parse_one(spark_sql, read="spark")
        assert "INTERVAL (" not in spark_sql


def test_date_plus_days_is_standard_interval_arithmetic():
    from cluster_eval.indicators.sql import month_after_days

    sql = month_after_days("date", "ddd")
    assert "INTERVAL '1' DAY * CAST(ddd AS INTEGER)" in sql
