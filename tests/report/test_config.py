"""Params validation: unknown keys, bad values and unknown notebook parameters are refused before any work."""
from __future__ import annotations

import json

import pytest

from cluster_eval.errors import ConfigError
from cluster_eval.report import run
from cluster_eval.report.config import NOTEBOOK_DIR, check_notebook_parameters, load_params


def test_valid_params_fill_defaults(small_data, params_for, tmp_path):
    cfg = load_params(params_for(small_data, tmp_path / "out"))
    assert cfg.impact["comparison"] == "not_yet_treated"
    assert cfg.disclosure["threshold"] == 4
    assert cfg.output == tmp_path / "out"


@pytest.mark.parametrize("patch, message", [
    ({"ouptut": "x"}, "unknown key 'ouptut' in params; did you mean 'output'?"),
    ({"impact": {"lagg": 1}}, "unknown key 'lagg' in params 'impact'; did you mean 'lag'?"),
    ({"report": {"timout": 5}}, "unknown key 'timout' in params 'report'; did you mean 'timeout'?"),
    ({"disclosure": {"treshold": 4}}, "unknown key 'treshold' in params 'disclosure'; did you mean 'threshold'?"),
])
def test_misspelt_key_is_named_with_a_suggestion(small_data, params_for, tmp_path, patch, message):
    params = params_for(small_data, tmp_path / "out")
    for key, value in patch.items():
        if isinstance(value, dict):
            params.setdefault(key, {}).update(value)
        else:
            params[key] = value
    with pytest.raises(ConfigError) as err:
        load_params(params)
    assert str(err.value) == message


@pytest.mark.parametrize("patch, message", [
    ({"impact": {"comparison": "nevertreated"}}, "params 'impact.comparison' must be one of not_yet_treated, never_treated; "
                                          "got 'nevertreated'; did you mean 'never_treated'?"),
    ({"impact": {"lag": -1}}, "params 'impact.lag' must be at least 0; got -1"),
    ({"impact": {"estimator": "cs-2x2-basemonth"}}, "params 'impact.estimator' must name a registered estimator; "
                                                   "got 'cs-2x2-basemonth'; did you mean 'cs-2x2-base-month'?"),
    ({"impact": {"its": "no"}}, "params 'impact.its' must be true or false; got 'no'"),
    ({"impact": {"confidence": 95}}, "params 'impact.confidence' must be a number in [0.5, 1); got 95"),
    ({"jobs": 0}, "params 'jobs' must be at least 1; got 0"),
    ({"report": {"pseudonymise": "yes"}}, "params 'report.pseudonymise' must be true or false; got 'yes'"),
    ({"periods": {"start": "2022-01", "end": "2021-01"}},
     "params 'periods.start' (2022-01) is after 'periods.end' (2021-01)"),
])
def test_bad_values_are_refused(small_data, params_for, tmp_path, patch, message):
    params = params_for(small_data, tmp_path / "out", **patch)
    with pytest.raises(ConfigError) as err:
        load_params(params)
    assert str(err.value) == message


def test_unknown_notebook_parameter_is_refused(small_data, params_for, tmp_path):
    params = params_for(small_data, tmp_path / "out", report={"parameters": {"dpii": 90}})
    with pytest.raises(ConfigError) as err:
        load_params(params)
    assert "unknown parameter 'dpii' for the cluster notebook cluster_report.ipynb; did you mean 'dpi'?" in str(err.value)


def test_notebook_declares_what_the_runner_passes():
    # the shipped notebooks declare every parameter the runner passes (papermill would only warn)
    check_notebook_parameters(NOTEBOOK_DIR / "cluster_report.ipynb", ["run_dir", "cluster_id", "dpi"])
    check_notebook_parameters(NOTEBOOK_DIR / "national_overview.ipynb", ["run_dir", "dpi"])
    with pytest.raises(ConfigError, match="unknown parameter 'cluster_id' for the overview notebook"):
        check_notebook_parameters(NOTEBOOK_DIR / "national_overview.ipynb", ["run_dir", "cluster_id"], "overview")


def test_notebook_without_parameters_cell(tmp_path):
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": [],
                     "execution_count": None}],
          "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}},
          "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "bare.ipynb"
    path.write_text(json.dumps(nb))
    with pytest.raises(ConfigError, match="has no cell tagged 'parameters'"):
        check_notebook_parameters(path, ["run_dir"])


def test_events_section_is_accepted_and_ignored_by_the_run(small_data, params_for, tmp_path):
    """One params file serves `cluster-eval convert` (its events: section) and `cluster-eval run`."""
    params = params_for(small_data, tmp_path / "out")
    params["events"] = {"folder": str(tmp_path), "tables": {}}
    cfg = load_params(params)
    assert cfg.output == tmp_path / "out"
    del params["events"]
    params["event"] = {}
    with pytest.raises(ConfigError, match="unknown key 'event' in params; did you mean 'events'"):
        load_params(params)


def test_bad_params_refused_before_any_work(small_data, params_for, tmp_path):
    out = tmp_path / "never-created"
    params = params_for(small_data, out, impact={"windw": 3})
    with pytest.raises(ConfigError, match="did you mean 'window'|unknown key 'windw'"):
        run(params, quiet=True)
    assert not out.exists()


def test_params_file_not_found(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_shipped_params_files_validate(shared):
    from cluster_eval.report.config import PROJECT_ROOT

    shared("data/real/manchester_practice_month_antibiotics_with_pcn.csv")
    cfg = load_params(PROJECT_ROOT / "params" / "examples" / "manchester.yaml")
    assert cfg.run_name == "manchester"


def test_impact_base_accepts_auto_or_months(small_data, params_for, tmp_path):
    assert load_params(params_for(small_data, tmp_path / "o1")).impact["base"] is None
    assert load_params(params_for(small_data, tmp_path / "o2", impact={"base": "auto"})).impact["base"] == "auto"
    assert load_params(params_for(small_data, tmp_path / "o3", impact={"base": 36})).impact["base"] == 36
    assert load_params(params_for(small_data, tmp_path / "o5", impact={"base": "weighted"})
                       ).impact["base"] == "weighted"
    with pytest.raises(ConfigError, match=r"params 'impact.base' \(or \"auto\" or \"weighted\"\) must be a whole "
                                          r"number; got 'automatic'"):
        load_params(params_for(small_data, tmp_path / "o4", impact={"base": "automatic"}))


def test_methods_text_states_the_base_length():
    from cluster_eval.report.wording import Settings

    text = "mean over the {base} months before the start; window {pre}"
    assert Settings(pre=24).fill(text) == "mean over the 24 months before the start; window 24"
    assert Settings(pre=24, base=36).fill(text) == "mean over the 36 months before the start; window 24"
    assert "12, 24, 36 or 48" in Settings(pre=24, base="auto").fill(text)
