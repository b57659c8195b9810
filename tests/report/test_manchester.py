"""The real English data (Manchester practices grouped by PCN, artificial start dates): a placebo analysis on
real noise and seasonality runs end to end through the same runner."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from cluster_eval.report import run
from cluster_eval.report.config import PROJECT_ROOT, load_params


def test_manchester_placebo_run(shared, tmp_path):
    shared("data/real/manchester_practice_month_antibiotics_with_pcn.csv")
    cfg = load_params(PROJECT_ROOT / "params" / "examples" / "manchester.yaml")
    params = {**cfg.params, "output": str(tmp_path / "manchester"), "jobs": 2, "_base": str(cfg.base)}
    status = run(params, only=["U98408"], quiet=True)
    assert status == 0
    out = tmp_path / "manchester"
    eff = pd.read_parquet(out / "tables" / "effects.parquet")
    # the four PCNs given artificial starts in the params, each with an estimate and a finite interval
    assert sorted(eff["cluster_id"]) == ["U45992", "U85954", "U94373", "U98408"]
    ok = eff[eff["status"] == "estimated"]
    assert len(ok) == 4
    assert np.isfinite(ok[["estimate", "lower", "upper"]].to_numpy()).all()
    assert (ok["lower"] <= ok["estimate"]).all() and (ok["estimate"] <= ok["upper"]).all()
    html = (out / "clusters" / "U98408.html").read_text()
    assert "West Central Manchester PCN" in html and "Antibiotic items per 1,000 STAR-PU" in html
    man = json.loads((out / "manifest.json").read_text())
    assert any(p.endswith("manchester_practice_month_antibiotics_with_pcn.csv") for p in man["inputs"])
