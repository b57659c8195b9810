"""Shared test fixtures: where ../shared is, and skipping (or failing in CI) when it is missing."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    env = os.environ.get("CLUSTER_EVAL_SHARED")
    cand = Path(env) if env else ROOT.parent / "shared"
    if not cand.is_absolute():
        cand = (ROOT / cand).resolve() if (ROOT / cand).exists() else cand.resolve()
    return cand if cand.exists() else None


def shared_file(relpath: str) -> Path:
    """Path of a file under ../shared; skip (or fail with CLUSTER_EVAL_REQUIRE_SHARED=1) if absent."""
    base = shared_dir()
    path = base / relpath if base else None
    if path is None or not path.exists():
        msg = f"shared file {relpath!r} not found (set CLUSTER_EVAL_SHARED to the shared/ folder)"
        if os.environ.get("CLUSTER_EVAL_REQUIRE_SHARED") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture
def shared():
    """Fixture form: ``shared('data/real/medpar.csv')`` returns the path or skips."""
    return shared_file


@pytest.fixture(scope="session")
def benchmark_script():
    """``benchmark_script("recovery")``: the script ``benchmarks/recovery.py`` as a module (the benchmarks are
    scripts, not a package)."""
    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    return load
