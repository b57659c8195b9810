"""The worker's warm kernel: reused across reports, state reset between them, replaced after a timeout,
after a death and every RECYCLE reports; a failing report leaves the next one unaffected."""
from __future__ import annotations

import nbformat
import pytest

from cluster_eval.report import worker as W
from cluster_eval.report.kernel import KERNEL_ENV, provide_kernel

CHECK = ("import os\n"
         "assert 'leftover' not in globals(), 'state of the previous report is still there'\n"
         "leftover = label\n"
         "if label == 'fail':\n    raise RuntimeError('forced failure')\n"
         "if label == 'hang':\n    import time; time.sleep(60)\n"
         "if label == 'die':\n    os._exit(1)\n"
         "print('pid', os.getpid())")


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    path = provide_kernel(tmp_path / "kernelspec")
    monkeypatch.setenv("JUPYTER_PATH", str(path))
    for k, v in KERNEL_ENV.items():
        monkeypatch.setenv(k, v)
    yield
    W._drop_kernel()


def _notebook(tmp_path, code=None, name="nb.ipynb"):
    """A report-like notebook: a tagged parameters cell (``label``), then ``code`` (default ``CHECK``)."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    params = nbformat.v4.new_code_cell('label = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(CHECK if code is None else code)]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def _job(tmp_path, nb, label, timeout=60):
    return {"id": label, "kind": "cluster", "title": label, "notebook": str(nb), "parameters": {"label": label},
            "html": str(tmp_path / f"{label}.html"), "ipynb": str(tmp_path / f"{label}.ipynb"), "timeout": timeout,
            "log": str(tmp_path / "logs" / f"{label}.log"), "key": "k"}


def _pid(tmp_path, label):
    nb = nbformat.read(tmp_path / f"{label}.ipynb", as_version=4)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    return int(text.split()[-1])


def test_state_is_reset_and_the_kernel_reused_until_a_failure_kills_it(tmp_path, kernel_env):
    nb = _notebook(tmp_path)
    a = W.execute_report(_job(tmp_path, nb, "a"))
    b = W.execute_report(_job(tmp_path, nb, "b"))
    assert a["status"] == b["status"] == "ok", (a, b)
    assert _pid(tmp_path, "a") == _pid(tmp_path, "b")          # one warm kernel, its variables reset
    f = W.execute_report(_job(tmp_path, nb, "fail"))
    assert f["status"] == "failed" and f["error"] == "RuntimeError: forced failure"
    executed = nbformat.read(tmp_path / "fail.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for o in executed.cells[-1].outputs)
    assert not (tmp_path / "fail.html").exists()
    c = W.execute_report(_job(tmp_path, nb, "c"))
    assert c["status"] == "ok" and _pid(tmp_path, "c") == _pid(tmp_path, "a")   # an error keeps the kernel
    h = W.execute_report(_job(tmp_path, nb, "hang", timeout=8))
    assert h["status"] == "timeout" and "per-report timeout" in h["error"]
    d = W.execute_report(_job(tmp_path, nb, "d"))
    assert d["status"] == "ok" and _pid(tmp_path, "d") != _pid(tmp_path, "a")   # the hung kernel was killed
    x = W.execute_report(_job(tmp_path, nb, "die"))
    assert x["status"] == "failed" and "kernel died" in x["error"]
    e = W.execute_report(_job(tmp_path, nb, "e"))
    assert e["status"] == "ok" and _pid(tmp_path, "e") != _pid(tmp_path, "d")


def test_a_fresh_kernel_every_recycle_reports(tmp_path, kernel_env, monkeypatch):
    monkeypatch.setattr(W, "RECYCLE", 2)
    nb = _notebook(tmp_path)
    for label in ("r1", "r2", "r3"):
        assert W.execute_report(_job(tmp_path, nb, label))["status"] == "ok"
    assert _pid(tmp_path, "r1") == _pid(tmp_path, "r2") != _pid(tmp_path, "r3")


CYCLE = ("import builtins, gc, weakref\n"
         "class Node:\n    pass\n"
         "if label == 'first':\n"
         "    node = Node()\n    node.me = node          # cyclic: freed by the garbage collector only\n"
         "    builtins._ce_test_ref = weakref.ref(node)\n"
         "else:\n"
         "    print('frozen', gc.get_freeze_count() > 0, 'alive', builtins._ce_test_ref() is not None)")


def test_the_previous_reports_objects_are_collected_before_the_modules_are_frozen(tmp_path, kernel_env):
    """The reset collects a report's garbage (cyclic objects too), then freezes what is left: the next report
    runs with the modules frozen and nothing of the previous report alive."""
    path = _notebook(tmp_path, CYCLE, "cycle.ipynb")
    assert W.execute_report(_job(tmp_path, path, "first"))["status"] == "ok"
    assert W.execute_report(_job(tmp_path, path, "second"))["status"] == "ok"
    out = nbformat.read(tmp_path / "second.ipynb", as_version=4).cells[-1].outputs
    assert "".join(o.get("text", "") for o in out).split() == ["frozen", "True", "alive", "False"]
