"""The per-cluster estimator seam: a registry of estimators, each returning one fixed, documented schema.

The analyse stage (:mod:`cluster_eval.report.analyse`) builds the practice x month panels once
(:func:`cluster_eval.impact.panel.build_panels`) and calls the estimator that ``impact.estimator`` names in
the params (default :data:`DEFAULT_ESTIMATOR`). Adding an estimator is one function, its registration and
its name in the params::

    from cluster_eval.impact.estimators import EstimatorInput, EstimatorOutput, register_estimator

    @register_estimator("my-estimator", label="My estimator (one line, shown in the tables)",
                        methods="- **What an effect is.** ... (markdown bullet(s) for the reports' methods text)")
    def my_estimator(data: EstimatorInput) -> EstimatorOutput:
        ...
        return EstimatorOutput(effects=effects_df, event_study=event_study_df)

The module that holds the function must be imported before the run (the built-in ones are imported by
``cluster_eval.impact``). The ``methods`` text may use ``{pre}``, ``{post}``, ``{lag}``, ``{comparison}``,
``{confidence_pct}`` and ``{min_practices}``: the reports fill them in from the run's settings
(:class:`cluster_eval.report.wording.Settings`); the reports' column headings, key messages and settings line
state the interval level, windows and estimator label themselves.

Input: :class:`EstimatorInput` (the panels by indicator id and the run's settings).

Output schema (checked when the estimator returns: a missing column is an :class:`~cluster_eval.errors.
ArgumentError` naming the estimator, the table and the column):

``effects`` -- one row per cluster and indicator (:data:`EFFECT_COLUMNS`):

=================  =====================================================================================
column             meaning
=================  =====================================================================================
cluster_id         the cluster
indicator_id       the indicator
estimable          bool: False when no estimate could be made (then the numbers are missing)
reason             why not estimable ("" when estimable)
estimate           the effect on the indicator's reported scale (post-period average)
se                 its standard error
lower, upper       its interval at ``confidence``
confidence         the interval's level (the run's ``impact.confidence``)
df                 degrees of freedom of the interval (``inf`` for normal quantiles)
n_practices        the cluster's practices with data
n_control          comparison practices (typical number over the post-period months)
mde                minimum detectable effect at 80% power
placebo            the pre-period (placebo) estimate
placebo_se         its standard error
placebo_lower,     its interval at ``confidence``
placebo_upper
placebo_p_value    p-value of the pre-period (placebo) test
pre_months         months of the pre-period used
post_months        months of the post-period used
=================  =====================================================================================

Any other column (e.g. a variance component) is optional and kept in the effects table after these.

``event_study`` -- one row per cluster, indicator and month since the start (:data:`EVENT_STUDY_COLUMNS`):
cluster_id, indicator_id, event_time, estimate, se, lower, upper, n_treated (optional extra columns kept).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..errors import ArgumentError, ConfigError
from ..validation import hint

EFFECT_COLUMNS = ("cluster_id", "indicator_id", "estimable", "reason", "estimate", "se", "lower", "upper",
                  "confidence", "df", "n_practices", "n_control", "mde", "placebo", "placebo_se", "placebo_lower",
                  "placebo_upper", "placebo_p_value", "pre_months", "post_months")
EVENT_STUDY_COLUMNS = ("cluster_id", "indicator_id", "event_time", "estimate", "se", "lower", "upper", "n_treated")
DEFAULT_ESTIMATOR = "premean-placebo"


@dataclass(frozen=True)
class EstimatorInput:
    """What every per-cluster estimator gets: the panels (built once) and the run's settings.

    Attributes
    ----------
    panels : dict of str to IndicatorPanel
        :func:`cluster_eval.impact.panel.build_panels` output, by indicator id.
    before, after : int
        Months before and from the start (event times ``-before .. after``).
    lag : int
        Months between the first meeting and the first exposed month (already in the panels' starts).
    control_group : {"notyettreated", "nevertreated"}
    min_practices : int
        Fewer practices with data: ``estimable = False``.
    confidence : float
        Interval level.
    weight : {None, "denominator"}
    base : int, "auto", "weighted" or None
        Months averaged into the base of a pre-period-mean estimator (``None``: ``before``; ``"auto"``: chosen
        per indicator from placebo windows; ``"weighted"``: a weighted mean of up to 48 months with block
        weights fitted per indicator on placebo windows; :func:`cluster_eval.impact.cluster_effects_premean`).
        Estimators with another base ignore it.
    """

    panels: dict
    before: int = 12
    after: int = 12
    lag: int = 0
    control_group: str = "notyettreated"
    min_practices: int = 3
    confidence: float = 0.95
    weight: str | None = None
    base: int | str | None = None


@dataclass(frozen=True)
class EstimatorOutput:
    """An estimator's result: the ``effects`` and ``event_study`` tables of the module's schema."""

    effects: pd.DataFrame
    event_study: pd.DataFrame


@dataclass(frozen=True)
class Estimator:
    """A registered estimator: its name, function, one-line ``label`` and ``methods`` text (markdown)."""

    name: str
    function: Callable[[EstimatorInput], EstimatorOutput]
    label: str
    methods: str = ""

    def __call__(self, data: EstimatorInput) -> EstimatorOutput:
        out = self.function(data)
        return validate_output(self.name, out)


ESTIMATORS: dict[str, Estimator] = {}


def N_(message: str) -> str:
    """Marks a label or methods text for the reports' message catalogues (gettext convention; the reports
    translate it, :mod:`cluster_eval.report.i18n`). Returns ``message`` unchanged."""
    return message


def register_estimator(name: str, *, label: str, methods: str = ""):
    """Decorator: register ``function(EstimatorInput) -> EstimatorOutput`` under ``name``.

    Parameters
    ----------
    name : str
        The name params use (``impact.estimator``).
    label : str
        One line naming the estimator in the report tables.
    methods : str
        Markdown bullet(s) for the reports' methods text (may use the settings' placeholders, see above).

    Returns
    -------
    callable
        The decorator; it returns the function unchanged.

    Raises
    ------
    ArgumentError
        ``name`` is already registered to another function.
    """
    def deco(function):
        old = ESTIMATORS.get(name)
        if old is not None and old.function is not function and old.function.__qualname__ != function.__qualname__:
            raise ArgumentError(f"estimator {name!r} is already registered ({old.function.__qualname__})")
        ESTIMATORS[name] = Estimator(name, function, label, methods)
        return function
    return deco


def get_estimator(name: str) -> Estimator:
    """The registered estimator ``name``.

    Parameters
    ----------
    name : str
        A registered name (``ESTIMATORS``' keys).

    Returns
    -------
    Estimator
        ``name``, ``function``, ``label`` and ``methods``.

    Raises
    ------
    ConfigError
        No estimator of that name (the message names the closest registered one).
    """
    if name not in ESTIMATORS:
        raise ConfigError(f"params 'impact.estimator': no estimator {name!r}{hint(name, ESTIMATORS, 'registered')}")
    return ESTIMATORS[name]


def validate_output(name: str, out) -> EstimatorOutput:
    """Check an estimator's result against the schema; return it with the schema's columns first."""
    if not isinstance(out, EstimatorOutput):
        raise ArgumentError(f"estimator {name!r} must return an EstimatorOutput; got {type(out).__name__}")
    tables = {}
    for table, cols in (("effects", EFFECT_COLUMNS), ("event_study", EVENT_STUDY_COLUMNS)):
        df = getattr(out, table)
        if not isinstance(df, pd.DataFrame):
            raise ArgumentError(f"estimator {name!r}: {table} must be a DataFrame; got {type(df).__name__}")
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ArgumentError(f"estimator {name!r}: the {table} table lacks column {missing[0]!r} of the schema "
                                f"(missing: {', '.join(missing)}; see cluster_eval.impact.estimators)")
        tables[table] = df[list(cols) + [c for c in df.columns if c not in cols]].reset_index(drop=True)
    eff = tables["effects"]
    eff["estimable"] = eff["estimable"].eq(True).to_numpy()  # missing: not estimable
    return EstimatorOutput(**tables)
