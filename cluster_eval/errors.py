"""The one exception tree of cluster_eval, and its warning classes.

Every error a user can cause derives from :class:`ClusterEvalError`. The command line maps
:class:`InputError` and :class:`ConfigError` (bad data, bad parameters) to exit status 2 and prints
their message without a traceback.

Hierarchy::

    ClusterEvalError
    ├── InputError          bad input data: names file, column, rule and offending rows (exit 2)
    ├── ConfigError         bad params / catalogue / notebook parameters (exit 2)
    │   └── CatalogueError  an indicator definition breaks a rule
    ├── ArgumentError       bad arguments to a statistical function (also a ValueError)
    ├── RunLockedError      another run holds the output folder's lock (exit 2)
    └── OutputError         the output folder cannot be written (exit 2)
"""
from __future__ import annotations

from dataclasses import dataclass, field


class ClusterEvalError(Exception):
    """Base class of every error cluster_eval raises on purpose."""

    exit_status = 2


@dataclass(frozen=True)
class Problem:
    """One broken rule in one input file.

    Attributes
    ----------
    file : str
        The file (or table) name.
    column : str or None
        The column concerned, or None for a whole-file rule. A name is shown quoted; a text that already
        starts with a quote is shown as it is (e.g. ``'date' (contract column 'period')``).
    rule : str
        The rule broken, in words.
    rows : tuple
        The first offending rows (1-based data row numbers, or row descriptions).
    count : int
        How many rows break the rule in all.
    """

    file: str
    column: str | None
    rule: str
    rows: tuple = field(default_factory=tuple)
    count: int = 0

    def __str__(self) -> str:
        col = self.column
        if col and not col.startswith("'"):
            col = f"'{col}'"
        where = f"{self.file}" + (f", column {col}" if col else "")
        text = f"{where}: {self.rule}"
        if self.count:
            shown = ", ".join(str(r) for r in self.rows)
            more = f" (first: {shown})" if shown else ""
            text += f" — {self.count} row{'s' if self.count != 1 else ''}{more}"
        return text


class InputError(ClusterEvalError):
    """Input data break the data contract. Holds every problem found, not just the first."""

    def __init__(self, problems):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__(self._text())

    def _text(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the input data:"
        return "\n".join([head] + [f"  - {p}" for p in self.problems])


class ConfigError(ClusterEvalError):
    """A params file, catalogue or notebook parameter is wrong (unknown key, bad value)."""


class CatalogueError(ConfigError):
    """An indicator definition in the catalogue breaks a rule."""


class ArgumentError(ClusterEvalError, ValueError):
    """A statistical function got an argument that breaks its rule (the message quotes the value)."""


class RunLockedError(ClusterEvalError):
    """Another run is using the output folder."""


class OutputError(ClusterEvalError):
    """The output folder cannot be written (read-only, full, not a folder)."""


class ClusterEvalWarning(UserWarning):
    """Base class of cluster_eval's warnings."""


class SmallNumbersWarning(ClusterEvalWarning):
    """Too few units or events for a meaningful estimate; the result says so."""


class EstimationWarning(ClusterEvalWarning):
    """A model did not converge or an estimate rests on a degenerate design."""
