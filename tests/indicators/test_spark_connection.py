"""The Spark connection's own behaviour: the settings of a session it makes (no JVM needed), and temp
tables kept as local checkpoints (lineage cut, freed on close) on the tests' local session."""
from __future__ import annotations

import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.indicators.spark import (
    LOCAL_JAVA_OPTIONS,
    TEMP_TABLES_CONF,
    SparkConnection,
    session_settings,
)

JAVA = "spark.driver.extraJavaOptions"


def test_spark_local_master_gets_the_quick_jit_tier_by_default():
    for master in ("local", "local[1]", "local[2]", "local[*]", " local[4] "):
        assert session_settings(master)[JAVA] == "-XX:TieredStopAtLevel=1" == LOCAL_JAVA_OPTIONS


def test_spark_cluster_masters_and_existing_settings_leave_the_jvm_alone():
    for master in (None, "yarn", "spark://host:7077", "k8s://https://host:443", "local-cluster[2,1,1024]"):
        assert JAVA not in session_settings(master)
    assert session_settings("local[2]", {JAVA: ""})[JAVA] == ""
    assert session_settings("local[2]", {JAVA: "-Xss4m"})[JAVA] == "-Xss4m"
    assert session_settings("yarn", {JAVA: "-Xss4m"})[JAVA] == "-Xss4m"
    # the other defaults stay, and conf wins over them
    s = session_settings("local[2]", {"spark.sql.shuffle.partitions": "3"})
    assert s["spark.sql.shuffle.partitions"] == "3" and s["spark.sql.session.timeZone"] == "UTC"


A = "CREATE TEMP TABLE ce_t_a AS SELECT * FROM (VALUES (1, 'x'), (4, 'y'), (5, 'y'), (9, 'z')) t(k, v)"
B = "CREATE TEMP TABLE ce_t_b AS SELECT v, sum(k) AS s FROM ce_t_a WHERE k > 3 GROUP BY v"


def test_spark_temp_tables_are_checkpointed_in_local_mode_and_freed_on_close(spark_session):
    con = SparkConnection(spark_session)
    assert con.temp_tables == "checkpoint"          # the tests' session is local[2]
    jsc = spark_session.sparkContext._jsc
    before = set(dict(jsc.getPersistentRDDs()).keys())
    try:
        con.execute(A)
        con.execute(B)
        assert sorted(con.execute("SELECT v, s FROM ce_t_b").fetchall()) == [("y", 9), ("z", 9)]
        # b's plan is a scan of its stored rows: nothing of a's query (the VALUES, the filter) is left in it
        plan = spark_session.table("ce_t_b")._jdf.queryExecution().optimizedPlan().toString()
        assert plan.startswith("LogicalRDD") and "LocalRelation" not in plan and "Filter" not in plan
        kept = set(dict(jsc.getPersistentRDDs()).keys()) - before
        assert len(kept) == 2
    finally:
        con.close()
    assert not (set(dict(jsc.getPersistentRDDs()).keys()) & kept)
    assert not {"ce_t_a", "ce_t_b"} & {t.name for t in spark_session.catalog.listTables()}


def test_spark_temp_tables_persisted_keep_their_lineage_and_give_the_same_rows(spark_session):
    con = SparkConnection(spark_session, temp_tables="persist")
    try:
        con.execute(A)
        con.execute(B)
        assert sorted(con.execute("SELECT v, s FROM ce_t_b").fetchall()) == [("y", 9), ("z", 9)]
        plan = spark_session.table("ce_t_b")._jdf.queryExecution().optimizedPlan().toString()
        assert "InMemoryRelation" in plan and "LogicalRDD" not in plan
    finally:
        con.close()


def test_spark_temp_tables_setting_is_checked(spark_session):
    spark_session.conf.set(TEMP_TABLES_CONF, "persist")
    try:
        assert SparkConnection(spark_session).temp_tables == "persist"
        spark_session.conf.set(TEMP_TABLES_CONF, "cache")
        with pytest.raises(ArgumentError, match="'checkpoint' or 'persist'; got 'cache'"):
            SparkConnection(spark_session)
    finally:
        spark_session.conf.unset(TEMP_TABLES_CONF)
