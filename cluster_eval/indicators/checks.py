"""Checking a folder of patient-level event tables (docs/events.md) without computing anything.

The rules themselves are SQL predicates in :mod:`cluster_eval.indicators.tables`, run in DuckDB out of core;
this is the entry point for a folder (``cluster-eval validate`` on an events folder).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import InputError, Problem
from .engine import connect
from .tables import EVENT_TABLES, find_table, validate_tables


def validate_events(events_dir, tables=None) -> None:
    """Check the patient-level event tables of a folder (patients, listings, prescriptions, lab_tests,
    diagnoses; those present, or ``tables``) without loading them into memory.

    Raises :class:`~cluster_eval.errors.InputError` with one Problem per broken rule (file, column,
    rule, first offending rows, count). The rules are those of ``docs/events.md``; the checks run in
    DuckDB (``cluster_eval.indicators.tables``) so that hundreds of millions of rows can be checked.
    """
    events_dir = Path(events_dir)
    names = tuple(tables) if tables is not None else EVENT_TABLES
    readers, problems = {}, []
    for t in names:
        found = find_table(events_dir, t)
        if found is not None:
            readers[t] = found
        elif tables is not None:
            problems.append(Problem(f"{t}.parquet|csv", None, "table is missing from the events folder"))
    if problems:
        raise InputError(problems)
    if not readers:
        return
    with tempfile.TemporaryDirectory(prefix="cluster_eval_duckdb_") as spill:
        con = connect(temp_directory=spill)
        try:
            validate_tables(con, readers)
        finally:
            con.close()
