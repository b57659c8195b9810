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
