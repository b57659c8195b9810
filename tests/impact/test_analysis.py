"""The one analyse stage (``cluster_eval.report.analyse.Analysis``): its impact tables are the ``ce.impact``
functions' results on the panels it builds once, and the estimator seam is checked when an estimator returns."""
import types

import numpy as np
import pandas as pd
import pytest

from cluster_eval.data import Dataset
from cluster_eval.impact import (
    ESTIMATORS,
    EstimatorInput,
    bh_qvalues,
    cluster_effects,
    cluster_effects_premean,
    get_estimator,
    national_effects,
    pool,
    shrink_effects,
)
from cluster_eval.impact import estimators as E
from cluster_eval.report.analyse import Analysis
from cluster_eval.report.config import DEFAULTS


def _analysis(tiny, **impact):
    prac, acts, meas = tiny
    clusters = pd.DataFrame({"cluster_id": sorted(acts["cluster_id"]), "name": "x", "region": "R"})
    ds = Dataset(practices=prac.assign(region="R"), clusters=clusters, activities=acts, measures=meas,
                 indicators={"ind_a": {"topic": "abx", "kind": "proportion", "title": "A", "better": "higher"}})
    params = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    params["impact"].update({"pre": 6, "post": 6, **impact})
    return Analysis(ds, types.SimpleNamespace(params=params))


def test_tables_consistent(tiny):
    # oracles: ce.impact.cluster_effects / pool / national_effects called directly (reported scale: percent)
    prac, acts, meas = tiny
    a = _analysis(tiny)
    eff, es, var = a.effect_tables()
    ind = {"ind_a": {"topic": "abx", "multiplier": 100.0}}
    ce_ = cluster_effects_premean(meas, prac, acts, ind, pre=6, after=6).effects
    np.testing.assert_allclose(eff["estimate"], ce_["value"], rtol=1e-12)
    np.testing.assert_allclose(eff["se"], ce_["se"], rtol=1e-12)
    assert (eff["estimator"] == E.DEFAULT_ESTIMATOR).all() and E.DEFAULT_ESTIMATOR == "premean-placebo"
    # multiplicity columns: shrunk effects (ce.impact.shrink_effects), BH q-values, verdicts
    ok = eff["status"] == "estimated"
    sh = shrink_effects(ce_.assign(estimable=ok.to_numpy()))
    np.testing.assert_allclose(eff.loc[ok, "shrunk_estimate"], sh.loc[ok.to_numpy(), "shrunk_value"], rtol=1e-10)
    np.testing.assert_allclose(eff.loc[ok, "q_value"], bh_qvalues(eff.loc[ok, "p_value"]), rtol=1e-12)
    assert set(eff.loc[ok, "verdict"]) <= {"improved", "worsened"} | {
        v for v in eff["verdict"] if str(v).startswith("no change detected")}
    # the current estimator stays registered beside it
    old = get_estimator("cs-2x2-base-month")(EstimatorInput(panels=a.impact_inputs.panels, before=6, after=6))
    ref_old = cluster_effects(meas, prac, acts, ind, before=6, after=6).effects
    np.testing.assert_allclose(old.effects["estimate"], ref_old["value"], rtol=1e-12)
    pooled, _ = a.pooled_tables(eff, es)
    e = ce_[ce_["estimable"]]
    assert pooled["estimate"].iloc[0] == pytest.approx(pool(e["value"], e["se"]).overall["value"].iloc[0])
    nat_eff, _ = a.national_tables()
    ref = national_effects(meas, prac, acts, ind, min_e=-6, max_e=6, keep_results=False).effects
    assert nat_eff["value"].iloc[0] == pytest.approx(ref["value"].iloc[0], rel=1e-12)
    assert nat_eff["lower"].iloc[0] < 5 < nat_eff["upper"].iloc[0]  # the tiny panels' true effect, 5 points
    assert len(var) == len(eff)


def test_its_table(tiny):
    its_ = _analysis(tiny, its=True).its_table().set_index("cluster_id")
    assert its_.loc["C00", "family"] == "binomial" and its_.loc["C00", "level_ratio"] > 1
    assert not its_.loc["C05", "estimable"]  # starts after the data


def test_the_panels_are_built_once(tiny):
    a = _analysis(tiny)
    assert a.impact_inputs is a.impact_inputs
    a.effect_tables()
    panels = a.impact_inputs.panels
    a.national_tables()
    assert a.impact_inputs.panels is panels


def test_default_estimator_is_registered_with_label_and_methods():
    est = get_estimator(E.DEFAULT_ESTIMATOR)
    assert est.label and "{post}" in est.methods and ESTIMATORS[E.DEFAULT_ESTIMATOR] is est


def test_unknown_estimator_names_the_closest():
    from cluster_eval.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no estimator 'cs-2x2-base-mont'; did you mean 'cs-2x2-base-month'\?"):
        get_estimator("cs-2x2-base-mont")


def test_missing_schema_column_is_named():
    from cluster_eval.errors import ArgumentError

    eff = pd.DataFrame({c: [0.0] for c in E.EFFECT_COLUMNS if c != "mde"})
    es = pd.DataFrame({c: [0.0] for c in E.EVENT_STUDY_COLUMNS})
    with pytest.raises(ArgumentError, match=r"^estimator 'x': the effects table lacks column 'mde' of the schema"):
        E.validate_output("x", E.EstimatorOutput(eff, es))
    with pytest.raises(ArgumentError, match="must return an EstimatorOutput"):
        E.validate_output("x", (eff, es))


def test_an_estimator_that_breaks_the_schema_fails_the_analyse_stage(tiny, monkeypatch):
    from cluster_eval.errors import ArgumentError
    from cluster_eval.impact import register_estimator

    monkeypatch.setattr(E, "ESTIMATORS", dict(ESTIMATORS))  # the registration is undone after the test

    @register_estimator("no-se", label="Broken")
    def no_se(data: E.EstimatorInput) -> E.EstimatorOutput:
        return E.EstimatorOutput(pd.DataFrame({"cluster_id": ["C00"]}), pd.DataFrame())

    assert "no-se" in E.ESTIMATORS
    with pytest.raises(ArgumentError, match="estimator 'no-se': the effects table lacks column 'indicator_id'"):
        _analysis(tiny, estimator="no-se").effect_tables()
