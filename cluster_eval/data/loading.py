"""``load_dataset``: read a data folder (or a params file's data section), validate it once, return a Dataset."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InputError
from . import contract as C
from .mapping import resolve_source
from .rules import LINE, check_relations, coerce_table


@dataclass
class Dataset:
    """The validated tables of one data folder.

    Attributes
    ----------
    practices, clusters, activities, measures : pandas.DataFrame
        The contract's required tables (docs/data.md), with contract column names and dtypes:
        ids as strings, ``period``/``start`` as ``datetime64``, counts as floats.
    population : pandas.DataFrame or None
        practice_id, period, sex, age_band, persons (optional).
    truth : pandas.DataFrame or None
        Synthetic data only: the true effects (``truth.csv``).
    indicators : dict
        Metadata of indicators named in the params' ``data.indicators`` section (for measures that are
        not in the shipped catalogue), id -> dict(title, topic, kind, multiplier, better, ...).
    source : dict
        Where each table came from (path), for messages and the run manifest.
    measures_banded : pandas.DataFrame or None
        The optional banded measures: indicator_id, practice_id, period, sex, age_band, numerator,
        denominator (:mod:`cluster_eval.data.banded`); the report standardises where it is present.
    """

    practices: pd.DataFrame
    clusters: pd.DataFrame
    activities: pd.DataFrame
    measures: pd.DataFrame
    population: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    source: dict = field(default_factory=dict)
    indicators: dict = field(default_factory=dict)
    measures_banded: pd.DataFrame | None = None

    #: Tables written as Parquet whatever ``fmt`` is (millions of rows).
    PARQUET_TABLES = ("measures_banded",)

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {name: getattr(self, name) for name in C.ORDER if getattr(self, name) is not None}
        if self.truth is not None:
            out["truth"] = self.truth
        return out

    def write(self, folder, fmt: str = "csv") -> Path:
        """Write every table as ``<table>.csv`` (or ``.parquet``) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, df in self.tables().items():
            ext = "parquet" if name in self.PARQUET_TABLES else fmt
            path = folder / f"{name}.{ext}"
            tmp = path.with_suffix(path.suffix + ".tmp")
            if ext == "parquet":
                df.to_parquet(tmp, index=False)
            else:
                df.to_csv(tmp, index=False, date_format="%Y-%m-%d")
            tmp.replace(path)
        return folder

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v):,}" for k, v in self.tables().items())
        return f"Dataset({sizes})"




# ---------------------------------------------------------------------------------------------
# Reading a data folder, or a params file's ``data`` section with its column mapping
# ---------------------------------------------------------------------------------------------

def load_dataset(path_or_params, *, validate: bool = True) -> Dataset:
    """Load a data folder (or the ``data`` section of a params file) and check it against the contract.

    Parameters
    ----------
    path_or_params : str, Path or dict
        A data folder holding ``practices``, ``clusters``, ``activities``, ``measures`` (and optionally
        ``population``, ``truth``) as ``.csv`` or ``.parquet``; or a params YAML file / dict whose ``data``
        section maps the user's own files and columns onto the contract (see ``docs/data.md``).
    validate : bool
        Check every rule of the contract (default). All problems are collected and raised together.

    Returns
    -------
    Dataset

    Raises
    ------
    InputError
        The data break the contract: every problem with file, column, rule and first offending rows.
    ConfigError
        The params' ``data`` section is malformed (unknown key, missing file name).
    """
    source = resolve_source(path_or_params)
    raw, labels, colmaps, problems, type_problems, typed = {}, {}, {}, [], [], {}
    for name in C.ORDER + ("truth",):
        df, label, colmap, probs = source.read(name)
        problems += probs
        if df is None:
            continue
        labels[name], colmaps[name] = label, colmap
        if name not in C.SPECS:
            raw[name] = df
            continue
        # typed as soon as read, so that the raw text of one table is let go before the next is read (a
        # national measures_banded has tens of millions of rows); the problems keep their order: those of
        # reading every table first, then the type problems
        t, probs = coerce_table(df, C.SPECS[name], label, colmap)
        del df
        type_problems += probs
        if t is not None:
            typed[name] = t
    problems += type_problems
    if validate and not problems:
        kinds, topics = source.indicator_kinds(), source.topics()
        problems += check_relations(typed, labels, kinds=kinds, topics=topics)
        if "measures_banded" in typed and not problems:
            from .banded import check_banded

            problems += check_banded(typed["measures_banded"], typed.get("measures"), labels,
                                     practices=typed.get("practices"), kinds=kinds)
    if problems:
        raise InputError(problems)
    typed = {k: t.drop(columns=[LINE], errors="ignore").reset_index(drop=True) for k, t in typed.items()}
    truth = raw.get("truth")
    if truth is not None:
        truth = truth.drop(columns=[LINE], errors="ignore")
        for col in ("start",):
            if col in truth:
                truth[col] = pd.to_datetime(truth[col])
        for col in ("event_time", "effect"):
            if col in truth:
                truth[col] = pd.to_numeric(truth[col])
    return Dataset(
        practices=typed["practices"], clusters=typed["clusters"], activities=typed["activities"],
        measures=typed["measures"], population=typed.get("population"), truth=truth,
        source={k: str(v) for k, v in labels.items()}, indicators=source.extra_indicators(),
        measures_banded=typed.get("measures_banded"),
    )
