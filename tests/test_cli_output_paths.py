"""``--out`` that cannot be a folder (a parent is a regular file, or it is a file itself): exit 2, a message
naming the path, no traceback, nothing written — for every command that writes (issue 11)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from cluster_eval.cli import main


@pytest.fixture
def blocker(tmp_path):
    f = tmp_path / "afile"
    f.write_text("not a folder\n")
    return f


def _listing(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


COMMANDS = {
    "demo": lambda out, events: ["demo", "--out", out, "--scale", "small", "--quiet"],
    "synth": lambda out, events: ["synth", "--out", out, "--scale", "small", "--quiet"],
    "measures": lambda out, events: ["measures", events, "--out", out, "--quiet"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_out_below_a_regular_file_is_exit_2_and_writes_nothing(command, blocker, tmp_path, capsys):
    out = blocker / "sub" / "dir"
    assert main(COMMANDS[command](str(out), str(tmp_path))) == 2
    err = capsys.readouterr().err
    assert f"cluster-eval {command}: cannot create the output folder {out}: {blocker} is not a folder" in err
    assert _listing(tmp_path) == ["afile"]
    assert blocker.read_text() == "not a folder\n"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_out_that_is_a_regular_file_is_exit_2(command, blocker, tmp_path, capsys):
    assert main(COMMANDS[command](str(blocker), str(tmp_path))) == 2
    assert f"the output path {blocker} exists but is not a folder" in capsys.readouterr().err
    assert _listing(tmp_path) == ["afile"]


def test_demo_out_below_a_file_has_no_traceback(blocker):
    """The reported case, through the real entry point: a message, not NotADirectoryError's traceback."""
    proc = subprocess.run([sys.executable, "-m", "cluster_eval", "demo", "--out", str(blocker / "demo"),
                           "--scale", "small", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "NotADirectoryError" not in proc.stderr
    assert str(blocker) in proc.stderr
