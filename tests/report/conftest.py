"""Fixtures of the report tests: a trimmed small synthetic data folder and one shared run of it."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

N_CLUSTERS = 4


def make_params(data_dir, out_dir, **sections) -> dict:
    """A params dict for a test run (small, quick); ``sections`` override whole sections or keys."""
    params = {"run_name": "test", "data": str(data_dir), "output": str(out_dir), "jobs": 2,
              "impact": {"pre": 12, "post": 12}, "report": {"timeout": 120, "dpi": 50}}
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(params.get(key), dict):
            params[key] = {**params[key], **value}
        else:
            params[key] = value
    return copy.deepcopy(params)


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    """The small synthetic Denmark cut to its first clusters (plus practices in no cluster), as CSV."""
    import cluster_eval as ce

    ds = ce.synthetic.generate("small", seed=3)
    keep = sorted(ds.clusters["cluster_id"])[:N_CLUSTERS]
    prac = ds.practices[ds.practices["cluster_id"].isin(keep) | ds.practices["cluster_id"].isna()]
    ds.practices = prac.reset_index(drop=True)
    ds.clusters = ds.clusters[ds.clusters["cluster_id"].isin(keep)].reset_index(drop=True)
    ds.activities = ds.activities[ds.activities["cluster_id"].isin(keep)].reset_index(drop=True)
    ids = set(prac["practice_id"])
    ds.measures = ds.measures[ds.measures["practice_id"].isin(ids)].reset_index(drop=True)
    if ds.population is not None:
        ds.population = ds.population[ds.population["practice_id"].isin(ids)].reset_index(drop=True)
    if ds.truth is not None:
        ds.truth = ds.truth[ds.truth["cluster_id"].isin(keep)].reset_index(drop=True)
    from cluster_eval.synthetic.casemix import BROAD_BANDS, banded_measures

    ds.measures_banded = banded_measures(ds, seed=3, bands=BROAD_BANDS)   # standardised where banded
    folder = tmp_path_factory.mktemp("data") / "small"
    ds.write(folder)
    return folder


@pytest.fixture(scope="session")
def cluster_ids(small_data) -> list[str]:
    import pandas as pd

    return sorted(pd.read_csv(small_data / "clusters.csv", dtype=str)["cluster_id"])


@pytest.fixture(scope="session")
def shared_run(small_data, tmp_path_factory):
    """One complete run shared by the tests that only read its outputs: (output folder, exit status)."""
    from cluster_eval.report import run

    out = tmp_path_factory.mktemp("runs") / "shared"
    status = run(make_params(small_data, out), quiet=True)
    return out, status


@pytest.fixture(scope="session")
def params_for():
    """``params_for(data_dir, out_dir, **sections)`` -> a params dict (see :func:`make_params`)."""
    return make_params


# --- the browser tools (PDF and accessibility tests) -------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
#: axe-core's script, installed by .ci/run with npm (``npm install --prefix .ci/node axe-core``)
AXE_JS = ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"


def _missing(what: str) -> None:
    """Skip with the reason, or fail when CLUSTER_EVAL_REQUIRE_BROWSER=1 (CI installs every tool)."""
    import os

    if os.environ.get("CLUSTER_EVAL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{what} (CLUSTER_EVAL_REQUIRE_BROWSER=1)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium and the playwright package (to drive it), or skip."""
    from cluster_eval.report.pdf import find_chromium

    path = find_chromium()
    if path is None:
        _missing("chromium is not installed (Debian: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the Python package playwright is not installed (pip install -e '.[test]')")
    return path


@pytest.fixture(scope="session")
def poppler() -> None:
    """pdftoppm, pdftotext, pdfinfo and pdfimages (Debian: poppler-utils), or skip."""
    import shutil

    for tool in ("pdftoppm", "pdftotext", "pdfinfo", "pdfimages"):
        if shutil.which(tool) is None:
            _missing(f"{tool} is not installed (Debian: apt-get install poppler-utils)")


@pytest.fixture(scope="session")
def axe_js() -> Path:
    """axe-core's ``axe.min.js`` ($CLUSTER_EVAL_AXE or .ci/node), or skip."""
    import os

    path = Path(os.environ.get("CLUSTER_EVAL_AXE") or AXE_JS)
    if not path.is_file():
        _missing(f"axe-core not found at {path} (npm install --prefix .ci/node axe-core, as .ci/run does)")
    return path


#: The log line of an analyse stage whose per-cluster estimator raised (``broken_estimator``).
BROKEN_LINE = ("analyse: failed during effects, event studies, variation (cluster_eval.impact): "
               "ArgumentError: broken on purpose")


@pytest.fixture
def broken_estimator(monkeypatch):
    """The default per-cluster estimator replaced by one that raises ``ArgumentError("broken on purpose")``;
    returns the log line the analyse stage must end with."""
    import dataclasses

    from cluster_eval.errors import ArgumentError
    from cluster_eval.impact.estimators import DEFAULT_ESTIMATOR, ESTIMATORS

    def broken(*args, **kwargs):
        raise ArgumentError("broken on purpose")

    monkeypatch.setitem(ESTIMATORS, DEFAULT_ESTIMATOR,
                        dataclasses.replace(ESTIMATORS[DEFAULT_ESTIMATOR], function=broken))
    return BROKEN_LINE
