"""Fault behaviour of the batch job (issue 8): failures isolated, hung and dying kernels stopped, SIGKILL and
rerun, one run per output folder, unwritable output, bad input refused before any work."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from cluster_eval.errors import InputError, OutputError, RunLockedError
from cluster_eval.report import run
from cluster_eval.report.config import NOTEBOOK_DIR
from cluster_eval.report.lock import RunLock


def faulty_notebook(tmp_path: Path, fail: str, hang: str, die: str) -> Path:
    """The shipped cluster notebook with one cell that fails, hangs or kills the kernel for given clusters."""
    nb = nbformat.read(NOTEBOOK_DIR / "cluster_report.ipynb", as_version=4)
    code = (f"import os, time\nif cluster_id == {fail!r}:\n    raise RuntimeError('forced failure for the test')\n"
            f"if cluster_id == {hang!r}:\n    time.sleep(3600)\nif cluster_id == {die!r}:\n    os._exit(1)")
    idx = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(idx + 1, nbformat.v4.new_code_cell(code))
    path = tmp_path / "faulty_cluster_report.ipynb"
    nbformat.write(nb, path)
    return path


def test_failures_are_isolated_and_reported(small_data, params_for, cluster_ids, tmp_path, capsys):
    fail, hang, die, *ok = cluster_ids
    out = tmp_path / "out"
    nb = faulty_notebook(tmp_path, fail, hang, die)
    params = params_for(small_data, out, report={"timeout": 30, "cluster_notebook": str(nb)})
    t0 = time.time()
    status = run(params, quiet=True)
    assert status == 1
    assert time.time() - t0 < 600
    err = capsys.readouterr().err  # even with quiet=True the failures are named on stderr (cron mails them)
    assert "3 report(s) failed" in err and fail in err and hang in err and die in err
    man = {r["id"]: r for r in json.loads((out / "manifest.json").read_text())["reports"]}
    assert man[fail]["status"] == "failed" and "forced failure" in man[fail]["error"]
    assert man[hang]["status"] == "timeout"
    assert man[die]["status"] == "failed" and "kernel died" in man[die]["error"]
    for cid in ok:
        assert man[cid]["status"] == "ok" and (out / "clusters" / f"{cid}.html").is_file()
    assert man["national"]["status"] == "ok"
    for cid in (fail, hang, die):
        assert not (out / "clusters" / f"{cid}.html").exists()
        assert (out / "logs" / f"{cid}.log").is_file()
    index = (out / "index.html").read_text()
    # the failed cluster's row links its executed notebook (with the error in it)
    assert f'href="notebooks/{fail}.ipynb"' in index
    executed = nbformat.read(out / "notebooks" / f"{fail}.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in executed.cells if c.cell_type == "code"
               for o in c.get("outputs", []))
    assert json.loads((out / "manifest.json").read_text())["status"] == "failed"


def _wait_for(predicate, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_sigkill_mid_run_then_rerun_completes(small_data, params_for, cluster_ids, tmp_path):
    out = tmp_path / "out"
    params = params_for(small_data, out, jobs=1)
    script = ("import json, sys\nfrom cluster_eval.report import run\n"
              f"sys.exit(run(json.loads({json.dumps(json.dumps(params))}), quiet=True))")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        # kill once the first report has been written (the others are in flight or pending)
        assert _wait_for(lambda: any((out / "clusters").glob("*.html")) or
                         (out / "national" / "overview.html").exists(), 240), "no report written in time"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "running"  # the killed run never claims to be complete
    assert json.loads((out / ".lock").read_text())["pid"] == proc.pid  # its lock file is left behind
    # rerun: takes over the stale lock, clears temporaries, completes every report
    assert run(params_for(small_data, out), quiet=True) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete"
    for r in man["reports"]:
        path = out / r["output"]
        text = path.read_text()
        assert text.rstrip().endswith("</html>"), path
        import hashlib

        assert hashlib.sha256(path.read_bytes()).hexdigest() == r["output_sha256"]
    assert not list(out.rglob(".*.tmp*"))
    assert "stale lock" in (out / "logs" / "run.log").read_text()


def _hold_lock(folder: Path) -> subprocess.Popen:
    code = ("import sys, time\nfrom cluster_eval.report.lock import RunLock\n"
            f"RunLock({str(folder)!r}).acquire()\nprint('locked', flush=True)\ntime.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_on_same_folder_is_refused_and_a_dead_holder_does_not_block(small_data, params_for, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = _hold_lock(out)
    try:
        with pytest.raises(RunLockedError) as err:
            run(params_for(small_data, out), quiet=True)
        msg = str(err.value)
        assert f"another run (PID {holder.pid}" in msg and str(out) in msg
        with pytest.raises(RunLockedError):
            RunLock(out).acquire()
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed: its lock file stays, but it no longer blocks anyone
    lock = RunLock(out).acquire()
    assert lock.stale["pid"] == holder.pid
    lock.release()


def test_output_path_that_is_a_file_gives_output_error(small_data, params_for, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    with pytest.raises(OutputError, match="exists but is not a folder"):
        run(params_for(small_data, target), quiet=True)


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nobody can write into: chmod for ordinary users; a read-only tmpfs for root (else skip)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], capture_output=True)
    if res.returncode != 0:
        pytest.skip("running as root and cannot mount a read-only tmpfs to test an unwritable folder")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_read_only_output_gives_clear_output_error(small_data, params_for, read_only_dir):
    with pytest.raises(OutputError) as err:
        run(params_for(small_data, read_only_dir / "reports"), quiet=True)
    assert "cannot be written" in str(err.value) and str(read_only_dir) in str(err.value)


def test_read_only_output_exits_2_on_the_command_line(small_data, params_for, read_only_dir, tmp_path):
    import yaml

    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump(params_for(small_data, read_only_dir / "reports")))
    res = subprocess.run([sys.executable, "-m", "cluster_eval", "run", str(params), "--quiet"], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "cannot be written" in res.stderr


def test_bad_input_data_refused_before_any_work(small_data, params_for, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    m = (data / "measures.csv").read_text().splitlines()
    m[1] = m[1].rsplit(",", 1)[0] + ",-5"  # a negative denominator
    (data / "measures.csv").write_text("\n".join(m) + "\n")
    out = tmp_path / "out"
    with pytest.raises(InputError):
        run(params_for(data, out), quiet=True)
    assert not out.exists()


def test_full_output_folder_gives_clear_output_error(small_data, params_for, tmp_path):
    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs that fills up")
    try:
        with pytest.raises(OutputError) as err:
            run(params_for(small_data, folder / "reports"), quiet=True)
        assert "No space left on device" in str(err.value)
        assert not list(folder.rglob(".*.tmp*"))  # no half-written file left behind
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_analyse_failure_fails_the_run_and_the_manifest_says_so(small_data, params_for, tmp_path, monkeypatch):
    """A bug in the analysis (not bad input) ends the run with exit 1, no report, manifest status 'failed'."""
    import json

    from cluster_eval.report import analyse as A
    from cluster_eval.report import run

    def broken(*args, **kwargs):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(A, "analyse", broken)
    out = tmp_path / "out"
    assert run(params_for(small_data, out), quiet=True) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert not list((out / "clusters").glob("*.html")) if (out / "clusters").exists() else True
    log = (out / "logs" / "run.log").read_text()
    assert "analyse: the analysis failed (RuntimeError: planted failure); no report was written" in log
