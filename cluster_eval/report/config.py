"""The run's params file: schema, strict validation, and the notebooks' ``parameters`` cells.

A params file (YAML) describes one scheduled run::

    run_name: demo
    data: "{root}/outputs/demo/data"     # a data folder, or the loader's mapping section (docs/data.md)
    output: "{root}/outputs/demo/reports"
    jobs: null                           # parallel reports (default: number of cores)
    indicators: null                     # list of indicator ids (default: every indicator in the data)
    topics: null                         # list of topics (default: every topic)
    periods: {start: null, end: null}    # months "YYYY-MM" (default: all data)
    impact: {lag: 0, pre: 24, base: null, post: 12, comparison: not_yet_treated, confidence: 0.95, min_practices: 3,
             national: true, its: false, estimator: premean-placebo}
    disclosure: {threshold: 4, rounding: null}
    report: {timeout: 600, dpi: 80, figure_format: svg, pseudonymise: true, pdf: false, language: en,
             cluster_notebook: null, overview_notebook: null,
             parameters: {}}

Every section is checked strictly: an unknown or misspelt key is a :class:`ConfigError` naming the key
and the closest valid one. Relative paths are taken from the params file's folder; ``{root}`` is the
project root and ``{shared}`` the shared data folder.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..data.params import check_keys, read_params_file
from ..errors import ConfigError
from ..impact.estimators import DEFAULT_ESTIMATOR
from ..resources import notebook_dir, project_root
from ..validation import hint

PROJECT_ROOT = project_root()   # what {root} means (cluster_eval/resources.py)
NOTEBOOK_DIR = notebook_dir()   # shipped with the package (cluster_eval/resources.py)

#: ``events`` maps register extracts for ``cluster-eval convert`` (cluster_eval/extracts); the run ignores it, so
#: one params file can describe both steps.
TOP_KEYS = {"run_name", "data", "output", "jobs", "indicators", "topics", "periods", "impact",
            "disclosure", "report", "events"}
DEFAULTS = {
    "run_name": "run",
    "output": None,
    "jobs": None,
    "indicators": None,
    "topics": None,
    "periods": {"start": None, "end": None},
    "impact": {"lag": 0, "pre": 24, "base": None, "post": 12, "comparison": "not_yet_treated", "confidence": 0.95,
               "min_practices": 3, "national": True, "its": False, "estimator": DEFAULT_ESTIMATOR},
    "disclosure": {"threshold": 4, "rounding": None},
    "report": {"timeout": 600, "dpi": 80, "figure_format": "svg", "pseudonymise": True, "pdf": False, "language": "en",
               "cluster_notebook": None, "overview_notebook": None, "parameters": {}},
}
COMPARISONS = ("not_yet_treated", "never_treated")
#: what the runner passes to every notebook (beside ``report.parameters``)
RUNNER_PARAMETERS = {
    "cluster": ("run_dir", "cluster_id", "dpi"),
    "overview": ("run_dir", "dpi"),
}


@dataclass(frozen=True)
class RunConfig:
    """A validated params file.

    Attributes
    ----------
    params : dict
        The full params with defaults filled in (what the manifest records and the hashes cover).
    base : Path
        Folder that relative paths are taken from (the params file's folder).
    output : Path
        The run folder (index.html, manifest.json, clusters/, ...).
    """

    params: dict
    base: Path
    output: Path
    notebooks: dict = field(default_factory=dict)

    @property
    def run_name(self) -> str:
        return str(self.params["run_name"])

    @property
    def impact(self) -> dict:
        return self.params["impact"]

    @property
    def disclosure(self) -> dict:
        return self.params["disclosure"]

    @property
    def report(self) -> dict:
        return self.params["report"]

    @property
    def jobs(self) -> int | None:
        return self.params["jobs"]

    def data_spec(self) -> dict:
        """What :func:`cluster_eval.data.load_dataset` takes: the data section with its base folder."""
        return {"data": self.params["data"], "_base": str(self.base)}


def _expand(text, base: Path) -> Path:
    from ..data.mapping import expand_path

    return expand_path(str(text), base)


def _merge(defaults: dict, given: dict, where: str) -> dict:
    check_keys(given, set(defaults), where)
    out = copy.deepcopy(defaults)
    out.update(given)
    return out


def _int(value, where: str, low: int | None = None, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be a whole number; got {value!r}")
    if low is not None and value < low:
        raise ConfigError(f"{where} must be at least {low}; got {value!r}")
    return value


def _month(value, where: str):
    if value is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(str(value))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where} must be a month such as '2019-01'; got {value!r}") from exc
    return ts.strftime("%Y-%m")


def _str_list(value, where: str):
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise ConfigError(f"{where} must be a list of names; got {value!r}")
    return list(value)


def load_params(params_path_or_dict) -> RunConfig:
    """Read and validate a params file (path) or dict; return a :class:`RunConfig`.

    Raises
    ------
    ConfigError
        The file is missing or not YAML, a key is unknown (the message suggests the closest valid key), a
        value breaks its rule, or a notebook's ``parameters`` cell does not declare what the runner passes.
    """
    if isinstance(params_path_or_dict, str | os.PathLike):
        raw, base = read_params_file(params_path_or_dict)
    elif isinstance(params_path_or_dict, dict):
        raw = copy.deepcopy(params_path_or_dict)
        base = Path(raw.pop("_base", Path.cwd())).resolve()
    else:
        raise ConfigError(f"params must be a YAML file or a dict; got {params_path_or_dict!r}")
    if not isinstance(raw, dict):
        raise ConfigError(f"params must be a mapping of keys to values; got {type(raw).__name__}")
    check_keys(raw, TOP_KEYS, "params", required=("data",))
    p = copy.deepcopy(DEFAULTS)
    p.update({k: v for k, v in raw.items() if k not in ("periods", "impact", "disclosure", "report")})
    for section in ("periods", "impact", "disclosure", "report"):
        given = raw.get(section) or {}
        p[section] = _merge(DEFAULTS[section], given, f"params '{section}'")

    if not isinstance(p["run_name"], str) or not p["run_name"].strip():
        raise ConfigError(f"params 'run_name' must be a non-empty name; got {p['run_name']!r}")
    p["jobs"] = _int(p["jobs"], "params 'jobs'", low=1, allow_none=True)
    p["indicators"] = _str_list(p["indicators"], "params 'indicators'")
    p["topics"] = _str_list(p["topics"], "params 'topics'")
    per = p["periods"]
    per["start"], per["end"] = _month(per["start"], "params 'periods.start'"), _month(per["end"], "params 'periods.end'")
    if per["start"] and per["end"] and per["start"] > per["end"]:
        raise ConfigError(f"params 'periods.start' ({per['start']}) is after 'periods.end' ({per['end']})")
    imp = p["impact"]
    imp["lag"] = _int(imp["lag"], "params 'impact.lag'", low=0)
    imp["pre"] = _int(imp["pre"], "params 'impact.pre'", low=2)
    imp["post"] = _int(imp["post"], "params 'impact.post'", low=1)
    if imp["base"] not in ("auto", "weighted"):
        imp["base"] = _int(imp["base"], "params 'impact.base' (or \"auto\" or \"weighted\")", low=2,
                           allow_none=True)
    imp["min_practices"] = _int(imp["min_practices"], "params 'impact.min_practices'", low=1)
    for key in ("national", "its"):
        if not isinstance(imp[key], bool):
            raise ConfigError(f"params 'impact.{key}' must be true or false; got {imp[key]!r}")
    from ..impact import ESTIMATORS  # importing the package registers the built-in estimators

    if imp["estimator"] not in ESTIMATORS:
        raise ConfigError(f"params 'impact.estimator' must name a registered estimator; got {imp['estimator']!r}"
                          f"{hint(str(imp['estimator']), ESTIMATORS)}")
    if imp["comparison"] not in COMPARISONS:
        raise ConfigError(f"params 'impact.comparison' must be one of {', '.join(COMPARISONS)}; "
                          f"got {imp['comparison']!r}{hint(str(imp['comparison']), COMPARISONS)}")
    conf = imp["confidence"]
    if isinstance(conf, bool) or not isinstance(conf, int | float) or not 0.5 <= conf < 1:
        raise ConfigError(f"params 'impact.confidence' must be a number in [0.5, 1); got {conf!r}")
    dis = p["disclosure"]
    dis["threshold"] = _int(dis["threshold"], "params 'disclosure.threshold'", low=0)
    if dis["rounding"] not in (None, 5, 10):
        raise ConfigError(f"params 'disclosure.rounding' must be empty, 5 or 10; got {dis['rounding']!r}")
    rep = p["report"]
    rep["timeout"] = _int(rep["timeout"], "params 'report.timeout'", low=1)
    rep["dpi"] = _int(rep["dpi"], "params 'report.dpi'", low=20)
    if rep["figure_format"] not in ("svg", "png"):
        raise ConfigError(f"params 'report.figure_format' must be svg or png; got {rep['figure_format']!r}")
    if not isinstance(rep["pseudonymise"], bool):
        raise ConfigError(f"params 'report.pseudonymise' must be true or false; got {rep['pseudonymise']!r}")
    if not isinstance(rep["pdf"], bool):
        raise ConfigError(f"params 'report.pdf' must be true or false; got {rep['pdf']!r}")
    from .i18n import LANGUAGES

    if rep["language"] not in LANGUAGES:
        raise ConfigError(f"params 'report.language' must be one of {', '.join(LANGUAGES)}; "
                          f"got {rep['language']!r}{hint(str(rep['language']), LANGUAGES)}")
    if not isinstance(rep["parameters"] or {}, dict):
        raise ConfigError(f"params 'report.parameters' must map notebook parameters to values; "
                          f"got {rep['parameters']!r}")
    rep["parameters"] = dict(rep["parameters"] or {})

    # the data section: the loader's own strict check (folder exists, keys known)
    from ..data.mapping import resolve_source

    resolve_source({"data": p["data"], "_base": str(base)})

    if p["output"] is None:
        p["output"] = f"{{root}}/outputs/{p['run_name']}"
    output = _expand(p["output"], base)
    notebooks = {
        "cluster": _expand(rep["cluster_notebook"], base) if rep["cluster_notebook"]
        else NOTEBOOK_DIR / "cluster_report.ipynb",
        "overview": _expand(rep["overview_notebook"], base) if rep["overview_notebook"]
        else NOTEBOOK_DIR / "national_overview.ipynb",
    }
    for kind, nb in notebooks.items():
        check_notebook_parameters(nb, list(RUNNER_PARAMETERS[kind]) + list(rep["parameters"]), kind)
    return RunConfig(params=p, base=base, output=output, notebooks=notebooks)


def notebook_parameters(path: Path) -> dict:
    """The names and defaults declared in a notebook's ``parameters``-tagged cell (papermill's inspector)."""
    import papermill as pm

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"notebook not found: {path}")
    try:
        found = pm.inspect_notebook(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a configuration problem
        raise ConfigError(f"cannot read the parameters of notebook {path}: {exc}") from exc
    return found


def check_notebook_parameters(path: Path, passed, kind: str = "cluster") -> None:
    """Refuse a parameter the notebook does not declare (papermill only warns; we refuse).

    Raises
    ------
    ConfigError
        The notebook has no ``parameters`` cell, or a passed name is not declared there (the message names
        it and suggests the closest declared one).
    """
    declared = notebook_parameters(path)
    if not declared:
        raise ConfigError(f"notebook {path} has no cell tagged 'parameters'")
    for name in passed:
        if name not in declared:
            raise ConfigError(f"unknown parameter {name!r} for the {kind} notebook {Path(path).name}"
                              f"{hint(name, declared)} (declared: {', '.join(declared)})")
