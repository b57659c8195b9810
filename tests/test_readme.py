"""README's library examples run as written (with ../shared read from CLUSTER_EVAL_SHARED), so they keep using
the package's current names and paths."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_library_example_runs(monkeypatch, shared):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Using the library"):text.index("## Command line")]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    mpdta = shared("data/reference/did/mpdta.csv")
    assert '"../shared/data/reference/did/mpdta.csv"' in code
    code = code.replace('"../shared/data/reference/did/mpdta.csv"', repr(str(mpdta)))
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    assert len(namespace["last"]) > 0 and len(namespace["abx"]) > 24
