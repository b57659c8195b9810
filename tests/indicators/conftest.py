"""Helpers for the indicator-engine tests: write literal CSV tables, run the engine, index the result."""
from __future__ import annotations

import textwrap

import pytest
import yaml

from cluster_eval.indicators import compute_measures
from cluster_eval.indicators.catalogue import parse_catalogue


def write_tables(folder, tables: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(textwrap.dedent(text).strip() + "\n")
    return folder


def catalogue_from(text: str):
    return parse_catalogue(yaml.safe_load(textwrap.dedent(text)), source="test catalogue")


@pytest.fixture
def run_engine(tmp_path):
    """run_engine(tables, catalogue_yaml, periods) -> {(indicator, practice, 'YYYY-MM'): (num, den)}."""
    def run(tables, catalogue, periods):
        folder = write_tables(tmp_path / "events", tables)
        cat = catalogue_from(catalogue) if isinstance(catalogue, str) else catalogue
        m = compute_measures(folder, catalogue=cat, periods=periods, progress=False)
        return {(r.indicator_id, r.practice_id, r.period.strftime("%Y-%m")): (r.numerator, r.denominator)
                for r in m.itertuples()}
    return run
