"""The indicator catalogue: read from YAML and validated when loaded (:func:`load_catalogue`), and its
metadata as a table (:func:`catalogue_table`).

An indicator's definition, the vocabulary of criteria: :mod:`.definitions`; the rules of the YAML grammar
and their checks: :mod:`.grammar`. The engine that evaluates definitions lives in
:mod:`cluster_eval.indicators.sql` and :mod:`cluster_eval.indicators.engine`.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import CatalogueError

# the dataclasses and the grammar's names stay importable from here (sql.py, engine.py and the tests import
# them); the dataclasses as explicit re-exports (``X as X``)
from .definitions import AllOf as AllOf
from .definitions import AnyOf as AnyOf
from .definitions import ConcurrentDrugs as ConcurrentDrugs
from .definitions import Denominator as Denominator
from .definitions import EventCriterion as EventCriterion
from .definitions import Indicator as Indicator
from .definitions import Not as Not
from .definitions import Numerator as Numerator
from .definitions import Population as Population
from .grammar import (  # noqa: F401
    ATC_RE,
    BETTER,
    COMPARISONS,
    CRITERION_KEYS,
    DIAGNOSIS_SYSTEMS,
    EVENT_SOURCES,
    ICD10_RE,
    ICPC2_RE,
    ID_RE,
    INDICATOR_FIELDS,
    INDICATOR_REQUIRED,
    KINDS,
    LAB_RE,
    MAX_COVERAGE_DAYS,
    MAX_OFFSET_MONTHS,
    MAX_WINDOW_MONTHS,
    SEXES,
    parse_catalogue,
    parse_criterion,
    parse_indicator,
    parse_population,
)

DEFAULT_PATH = Path(__file__).with_name("catalogue.yaml")


def load_catalogue(path=None) -> dict[str, Indicator]:
    """Read and validate an indicator catalogue (YAML).

    Parameters
    ----------
    path : str or Path, optional
        The catalogue file; default the Danish catalogue shipped with the package
        (``cluster_eval/indicators/catalogue.yaml``).

    Returns
    -------
    dict of str to Indicator
        Indicators by id, in file order.

    Raises
    ------
    CatalogueError
        Unknown fields, bad ATC/NPU/ICPC-2/ICD-10 codes, impossible windows or ages, duplicate ids,
        inconsistent numerator/denominator: the message names the indicator, field and value.
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"cannot read the indicator catalogue {str(path)!r}: {exc.strerror}") from exc
    key = (str(path), text)
    if key not in _PARSED:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CatalogueError(f"{path.name}: not valid YAML: {exc}") from exc
        if len(_PARSED) >= 8:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = parse_catalogue(doc, source=path.name)
    return dict(_PARSED[key])


#: Parsed catalogues by (path, file text): the file is read on every call (an edit is seen at once), parsed
#: once per content (the analyse stage asks for the catalogue thousands of times at English scale; parsing
#: the YAML takes about 0.25 s). Indicators are frozen; each call returns a new dict.
_PARSED: dict = {}


# ---------------------------------------------------------------------------------------------
# The metadata as a table: the one place the rest of the package reads ids, titles and units from
# ---------------------------------------------------------------------------------------------

TABLE_COLUMNS = ("indicator_id", "title", "topic", "kind", "multiplier", "better", "target", "standardised",
                 "unit", "description", "primary", "title_da")


def unit_label(kind: str, multiplier: float) -> str:
    """The short unit of ``value = numerator / denominator * multiplier``: '%', 'per 1,000', or ''.

    >>> unit_label("proportion", 100), unit_label("rate", 1000), unit_label("proportion", 1)
    ('%', 'per 1,000', '')
    """
    if kind == "proportion":
        return "%" if multiplier == 100 else ""
    return f"per {multiplier:,.0f}" if multiplier != 1 else ""


def catalogue_table(catalogue=None):
    """The catalogue's metadata, one row per indicator in file order.

    Parameters
    ----------
    catalogue : str, Path, dict of str to Indicator, iterable of Indicator, optional
        A catalogue file, or indicators already loaded; default the shipped Danish catalogue.

    Returns
    -------
    pandas.DataFrame
        Columns ``indicator_id, title, topic, kind, multiplier, better, target, standardised, unit,
        description, primary, title_da`` (the topic's pre-specified primary indicator; the Danish title, the
        English one where the catalogue gives none). ``multiplier`` fixes the unit of every value shown, ``value = numerator /
        denominator * multiplier`` (100: per cent; 1,000: per 1,000 listed persons per month); ``better``
        is 'lower', 'higher' or 'none'; ``unit`` is the catalogue's own unit text, or the short label of
        :func:`unit_label` where the catalogue gives none.

    Examples
    --------
    >>> import cluster_eval as ce
    >>> t = ce.indicators.catalogue_table().set_index("indicator_id")
    >>> t.loc["abx_rate", "kind"], float(t.loc["abx_rate", "multiplier"]), t.loc["copd_ics", "unit"]
    ('rate', 1000.0, '%')
    """
    import pandas as pd

    if catalogue is None or isinstance(catalogue, str | Path):
        catalogue = load_catalogue(catalogue)
    items = list(catalogue.values()) if isinstance(catalogue, dict) else list(catalogue)
    rows = [(i.id, i.title, i.topic, i.kind, float(i.multiplier), i.better, i.target, i.standardised,
             i.unit or unit_label(i.kind, i.multiplier), i.description, i.primary, i.title_da or i.title)
            for i in items]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
