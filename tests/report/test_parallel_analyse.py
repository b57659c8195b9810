"""The analyse stage on two processes gives the serial tables; a failing or dying helper; funnels of clusters
that share a start month computed together give the rows of one call per cluster."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def cfg(small_data, params_for, tmp_path_factory):
    from cluster_eval.report.config import load_params

    return load_params(params_for(small_data, tmp_path_factory.mktemp("par_run")))


@pytest.fixture(scope="module")
def dataset(cfg):
    from cluster_eval.data import load_dataset

    return load_dataset(cfg.data_spec())


def _tables(folder: Path) -> dict:
    return {p.name: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


@pytest.fixture(scope="module")
def serial(dataset, cfg, tmp_path_factory):
    from cluster_eval.report.analyse import analyse

    folder = tmp_path_factory.mktemp("serial")
    analyse(dataset, cfg, folder, jobs=1)
    return _tables(folder)


def test_two_processes_give_the_serial_tables(dataset, cfg, serial, tmp_path):
    from cluster_eval.report.analyse import analyse

    lines = []
    out = analyse(dataset, cfg, tmp_path, log=lines.append, jobs=2)
    par = _tables(tmp_path)
    assert sorted(par) == sorted(serial) and {Path(p).name for p in out.values()} == set(par)
    assert "effects.parquet" in par and "funnel.parquet" in par and "national_effects.parquet" in par
    for name, table in serial.items():
        pd.testing.assert_frame_equal(par[name], table, check_exact=True, obj=name)
    # the helper's log lines reach the parent's log
    assert "analyse: effects, event studies, variation (cluster_eval.impact)" in lines
    assert "analyse: pooling (cluster_eval.impact.pool)" in lines


def test_a_failure_in_the_helper_is_raised_with_its_step(dataset, cfg, tmp_path, broken_estimator):
    from cluster_eval.errors import ArgumentError
    from cluster_eval.report.analyse import analyse

    lines = []
    with pytest.raises(ArgumentError, match="broken on purpose"):
        analyse(dataset, cfg, tmp_path, log=lines.append, jobs=2)
    assert lines[-1] == broken_estimator


def test_a_dead_helper_is_replaced_by_the_parent(dataset, cfg, serial, tmp_path, monkeypatch):
    from cluster_eval.report.analyse import Analysis, analyse

    parent = os.getpid()
    real = Analysis.effect_tables

    def dies_in_the_helper(self):
        if os.getpid() != parent:
            os._exit(3)
        return real(self)

    monkeypatch.setattr(Analysis, "effect_tables", dies_in_the_helper)
    lines = []
    analyse(dataset, cfg, tmp_path, log=lines.append, jobs=2)
    assert any("helper process stopped (exit code 3)" in x for x in lines)
    par = _tables(tmp_path)
    for name, table in serial.items():
        pd.testing.assert_frame_equal(par[name], table, check_exact=True, obj=name)


def test_funnels_of_clusters_with_one_start_month_are_those_of_one_call_per_cluster(dataset, cfg):
    """Every cluster starts every topic in the same month: the grouped computation against the loop of one
    ``practice_funnel`` / ``funnel_curves`` call per cluster, indicator and phase (the code before grouping)."""
    from cluster_eval.report.analyse import Analysis
    from cluster_eval.report.descriptive import counts_by_indicator, funnel_curves, practice_funnel

    ds = dataclasses_replace(dataset)
    # one start month for all; the rows reversed, so that the clusters of a month are not in the table's order
    ds.activities = ds.activities.assign(start=pd.Timestamp("2020-06-01")).iloc[::-1].reset_index(drop=True)
    a = Analysis(ds, cfg)
    assert a.activities.groupby(["topic", "exposed_from"]).size().max() >= 2
    fun, lim = a.funnel_tables()

    parts, curves = [], []
    labels = a._labels()
    ind = a.ind.set_index("indicator_id")
    counts = counts_by_indicator(ind.index)
    cl = a.practices["cluster_id"].reindex(a.pids).fillna("").astype(str).to_numpy()
    for act in a.activities.itertuples(index=False):
        pre, post = a._windows(act.exposed_from)
        for iid in ind.index[ind["topic"] == act.topic]:
            num, den, _ = a.matrices(iid)
            kind, mult = ind.loc[iid, "kind"], float(ind.loc[iid, "multiplier"])
            for phase, win in (("before", pre), ("after", post)):
                f = practice_funnel(num, den, cl == act.cluster_id, win, kind=kind, better=ind.loc[iid, "better"],
                                    counts=counts[iid], multiplier=mult, expected=a.expected(iid),
                                    tau2=a.window_tau2(iid, win))
                if not len(f):
                    continue
                keys = {"cluster_id": act.cluster_id, "topic": act.topic, "indicator_id": iid, "phase": phase}
                parts.append(f.assign(practice=labels[f["row"].to_numpy()], **keys,
                                      window_start=a.periods[win.start], window_end=a.periods[win.stop - 1]))
                t = float(f["target"].iloc[0])
                c = funnel_curves(t, float(f["size"].max()) * 1.15, kind=kind, standardised=a.expected(iid) is not None,
                                  tau2=float(f["tau2"].iloc[0]), multiplier=mult)
                curves.append(c.assign(**keys, target=t, tau2=float(f["tau2"].iloc[0]),
                                       standardised=a.expected(iid) is not None))
    want = pd.concat(parts, ignore_index=True)[list(fun.columns)]
    want_lim = pd.concat(curves, ignore_index=True)[list(lim.columns)]
    assert len(fun) > 100 and fun["cluster_id"].nunique() >= 3 and fun["cluster_id"].iloc[0] == ds.activities["cluster_id"].iloc[0]
    pd.testing.assert_frame_equal(fun, want, check_exact=True)
    pd.testing.assert_frame_equal(lim, want_lim, check_exact=True)
    assert np.isfinite(lim["upper998"]).any()


def dataclasses_replace(ds):
    import copy

    return copy.copy(ds)


def test_the_helpers_warnings_reach_the_parent_once_each(dataset, cfg, tmp_path, monkeypatch):
    import warnings

    from cluster_eval.errors import ClusterEvalWarning
    from cluster_eval.report.analyse import Analysis, analyse

    parent = os.getpid()
    real = Analysis.pooled_tables

    def warns(self, eff, es):
        for _ in range(3):   # the same warning three times: shown once, as the default filter would
            warnings.warn(f"from pid {'helper' if os.getpid() != parent else 'parent'}", ClusterEvalWarning,
                          stacklevel=1)
        return real(self, eff, es)

    monkeypatch.setattr(Analysis, "pooled_tables", warns)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        analyse(dataset, cfg, tmp_path, jobs=2)
    mine = [str(w.message) for w in caught if issubclass(w.category, ClusterEvalWarning)]
    assert mine == ["from pid helper"]
