"""The command line: exit statuses and messages (README.md's command line)."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd

from cluster_eval.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "cluster_eval", *args], capture_output=True, text=True)


def test_synth_then_validate_small(tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["synth", "--out", str(out), "--scale", "small", "--seed", "3", "--quiet"]) == 0
    for table in ("practices", "clusters", "activities", "measures", "population", "truth"):
        assert (out / f"{table}.csv").exists(), table
    assert main(["validate", str(out)]) == 0
    assert "valid" in capsys.readouterr().out


def test_synth_events_then_measures_end_to_end(tmp_path):
    out = tmp_path / "ev"
    assert main(["synth", "--out", str(out), "--scale", "small", "--events", "--events-scale", "0.05",
                 "--quiet"]) == 0
    assert main(["validate", str(out)]) == 0
    assert main(["measures", str(out), "--out", str(tmp_path / "m"), "--quiet"]) == 0
    m = pd.read_parquet(tmp_path / "m" / "measures.parquet")
    assert set(m.columns) == {"indicator_id", "practice_id", "period", "numerator", "denominator"}
    assert m["indicator_id"].nunique() == 11


def test_bad_events_scale_is_refused(capsys):
    assert main(["synth", "--out", "unused", "--events", "--events-scale", "3"]) == 2
    assert "--events-scale must be in (0, 1]; got 3.0" in capsys.readouterr().err


def test_unknown_command_exits_2():
    proc = run_cli("frobnicate")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_run_missing_params_file_is_exit_2_without_traceback(tmp_path):
    proc = run_cli("run", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "nope.yaml" in proc.stderr


def test_validate_empty_folder_lists_missing_tables(tmp_path):
    proc = run_cli("validate", str(tmp_path))
    assert proc.returncode == 2
    assert "4 problems in the input data:" in proc.stderr
    assert "required table 'measures' is missing" in proc.stderr


def test_audit_of_missing_folder_is_exit_2(tmp_path):
    proc = run_cli("audit", str(tmp_path / "none"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
