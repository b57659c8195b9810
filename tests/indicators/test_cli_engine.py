"""``cluster-eval measures --engine spark``: Spark writes Parquet partitioned by indicator, equal to DuckDB's file."""
from __future__ import annotations

import pandas as pd
import pytest

from cluster_eval.cli import main
from cluster_eval.indicators import read_measures

EVENTS = {
    "patients.csv": "patient_id,sex,birth_date,death_date\n1,F,1950-06-15,\n2,M,1959-02-10,\n3,M,1980-01-01,2024-02-15\n",
    "listings.csv": "patient_id,practice_id,listed_from,listed_to\n1,A,2000-01-01,\n2,A,2000-01-01,\n3,B,2000-01-01,\n",
    "prescriptions.csv": "patient_id,date,atc,ddd,packages\n1,2024-01-05,J01CE02,7,1\n3,2024-02-10,J01CA04,7,1\n"
                         "2,2024-03-31,M01AE01,30,1\n",
    "lab_tests.csv": "patient_id,date,npu_code,value,unit\n1,2024-01-05,NPU27300,50,\n",
    "diagnoses.csv": "patient_id,date,code,system\n1,2023-06-05,T90,ICPC2\n",
}


def test_measures_command_on_both_engines(tmp_path, spark_session):
    events = tmp_path / "events"
    events.mkdir()
    for name, text in EVENTS.items():
        (events / name).write_text(text)
    assert main(["measures", str(events), "--out", str(tmp_path / "duck"), "--quiet"]) == 0
    # the active session (the tests' local[2]) is used when no --master is given
    assert main(["measures", str(events), "--out", str(tmp_path / "spark"), "--engine", "spark", "--quiet"]) == 0
    duck = pd.read_parquet(tmp_path / "duck" / "measures.parquet")
    assert sorted(p.name for p in (tmp_path / "spark" / "measures").glob("indicator_id=*")) == \
        sorted(f"indicator_id={k}" for k in duck["indicator_id"].unique())
    pd.testing.assert_frame_equal(read_measures(tmp_path / "spark"), read_measures(tmp_path / "duck"
                                                                                    / "measures.parquet"))


def test_master_without_spark_is_refused(tmp_path, capsys):
    assert main(["measures", str(tmp_path), "--out", str(tmp_path / "o"), "--master", "local[2]"]) == 2
    assert "--master is for --engine spark" in capsys.readouterr().err


def test_conf_without_spark_is_refused(tmp_path, capsys):
    assert main(["measures", str(tmp_path), "--out", str(tmp_path / "o"), "--conf", "a=b"]) == 2
    assert "--conf is for --engine spark" in capsys.readouterr().err


def test_spark_conf_reaches_the_session_and_must_be_key_value(tmp_path, capsys, monkeypatch):
    """--conf KEY=VALUE is handed to the session cluster_eval makes (no JVM started here: ``session``
    is replaced by a recorder that stops the command)."""
    from cluster_eval.indicators import spark as sp

    seen = []

    class Stop(Exception):
        pass

    def record(master=None, app_name="cluster_eval", conf=None):
        seen.append((master, conf))
        raise Stop

    monkeypatch.setattr(sp, "session", record)
    with pytest.raises(Stop):
        main(["measures", str(tmp_path), "--out", str(tmp_path / "o"), "--engine", "spark", "--master", "local[2]",
              "--conf", "spark.driver.extraJavaOptions=", "--conf", "spark.sql.shuffle.partitions=7"])
    assert seen == [("local[2]", {"spark.driver.extraJavaOptions": "", "spark.sql.shuffle.partitions": "7"})]
    assert main(["measures", str(tmp_path), "--out", str(tmp_path / "o"), "--engine", "spark",
                 "--conf", "spark.sql.shuffle.partitions"]) == 2
    assert "--conf takes KEY=VALUE" in capsys.readouterr().err
