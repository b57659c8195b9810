"""Base classes of the impact models' results: ``summary()`` as text/HTML and notebook display.

Each result class lives beside the function that makes it (``ATTgtResults`` in :mod:`.did`,
``AggregateResults`` in :mod:`.aggregate`, ...); this module holds only what they share.
"""
from __future__ import annotations

import html

import pandas as pd


def _fmt_table(df: pd.DataFrame, digits: int = 4) -> str:
    return df.to_string(index=False, float_format=lambda v: f"{v:.{digits}f}")


class _Results:
    title = "Results"

    def _header(self) -> list[tuple[str, str]]:
        return []

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - overridden
        raise NotImplementedError

    def summary(self, digits: int = 4) -> str:
        """Plain-text summary: a header of settings, then the table."""
        head = [self.title, "=" * len(self.title)]
        head += [f"{k}: {v}" for k, v in self._header()]
        return "\n".join(head) + "\n\n" + _fmt_table(self.to_frame(), digits)

    def summary_html(self, digits: int = 4) -> str:
        """The summary as HTML (what a notebook shows): the settings as a small table, then the results table."""
        items = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                        for k, v in self._header())
        table = self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0)
        return f"<div><h4>{html.escape(self.title)}</h4><table>{items}</table>{table}</div>"

    def _repr_html_(self) -> str:
        return self.summary_html()

    def __repr__(self) -> str:
        return self.summary()


class _EffectsResults(_Results):
    """Effects tables of many estimates (per cluster or per indicator): ``effects``, ``event_study``, settings."""

    def __init__(self, effects: pd.DataFrame, event_study: pd.DataFrame, settings: dict):
        self.effects = effects
        self.event_study = event_study
        self.settings = settings

    def _header(self):
        return list(self.settings.items())

    def to_frame(self) -> pd.DataFrame:
        """The effects table (a copy)."""
        return self.effects.copy()
