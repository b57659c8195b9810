"""The estimator seam end to end, and the report's labels from the run's settings.

A trivial estimator (zero effect, unit standard error; known output) is registered in the test, named in the
params (``impact.estimator``) and run through the whole small demo: the analyse stage writes its numbers, the
cluster report and the overview state its label and methods text, and every interval label states the run's
level (``impact.confidence: 0.9``: "90%", never "95% CI").
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cluster_eval.impact import register_estimator
from cluster_eval.impact.estimators import ESTIMATORS, EstimatorInput, EstimatorOutput

NAME = "zero-unit-se"
LABEL = "Zero effect with unit standard error (a test estimator)"
METHODS = "- **What an effect is.** Always zero (test estimator), windows {pre} and {post} months."


def zero_unit_se(data: EstimatorInput) -> EstimatorOutput:
    z = stats.norm.ppf(0.5 + data.confidence / 2)
    eff, es = [], []
    ev = np.arange(-data.before, data.after + 1)
    for iid, p in data.panels.items():
        for cid in p.cluster_start["cluster_id"]:
            n = int((p.cluster_ids == cid).sum())
            eff.append({"cluster_id": cid, "indicator_id": iid, "estimable": True, "reason": "", "estimate": 0.0,
                        "se": 1.0, "lower": -z, "upper": z, "confidence": data.confidence, "df": np.inf,
                        "n_practices": n, "n_control": 0, "mde": 2.8, "placebo": 0.0, "placebo_se": 1.0,
                        "placebo_lower": -z, "placebo_upper": z, "placebo_p_value": 1.0,
                        "pre_months": data.before - 1, "post_months": data.after + 1, "extra_column": 7})
            es.append(pd.DataFrame({"cluster_id": cid, "indicator_id": iid, "event_time": ev, "estimate": 0.0,
                                    "se": 1.0, "lower": -z, "upper": z, "n_treated": n}))
    return EstimatorOutput(pd.DataFrame(eff), pd.concat(es, ignore_index=True))


@pytest.fixture(scope="module")
def seam_run(small_data, params_for, tmp_path_factory, cluster_ids):
    from cluster_eval.report import run

    register_estimator(NAME, label=LABEL, methods=METHODS)(zero_unit_se)
    try:
        out = tmp_path_factory.mktemp("runs") / "seam"
        params = params_for(small_data, out, impact={"pre": 12, "post": 12, "estimator": NAME, "confidence": 0.9,
                                                     "national": False})
        status = run(params, quiet=True)
    finally:
        ESTIMATORS.pop(NAME, None)
    return out, status


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_registered_estimator_runs_end_to_end(seam_run, cluster_ids):
    out, status = seam_run
    assert status == 0
    eff = pd.read_parquet(out / "tables" / "effects.parquet")
    est = eff[eff["status"] == "estimated"]
    assert len(est) and (est["estimate"] == 0).all() and (est["se"] == 1).all()
    assert (eff["estimator"] == NAME).all() and (eff["method"] == LABEL).all()
    assert np.allclose(est["upper"], stats.norm.ppf(0.95))
    es = pd.read_parquet(out / "tables" / "event_study.parquet")
    assert len(es) and (es["estimate"] == 0).all()
    pooled = pd.read_parquet(out / "tables" / "pooled.parquet")
    assert len(pooled) and np.allclose(pooled["estimate"], 0) and np.allclose(pooled["tau2"], 0)
    text = _text((out / "clusters" / f"{cluster_ids[0]}.html").read_text())
    assert LABEL in text
    assert "Always zero (test estimator), windows 12 and 12 months." in text  # the methods text, filled in


def test_every_interval_label_states_the_runs_level(seam_run, cluster_ids):
    out, _ = seam_run
    for path in (out / "clusters" / f"{cluster_ids[0]}.html", out / "national" / "overview.html"):
        text = _text(path.read_text())
        assert "90% CI" in text, path.name
        assert "95% CI" not in text, path.name
        assert "95% confidence" not in text, path.name
    text = _text((out / "clusters" / f"{cluster_ids[0]}.html").read_text())
    assert "Intervals" not in text or "90% confidence intervals" in text
