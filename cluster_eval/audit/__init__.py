"""The output audit: an independent check that nothing written to a run folder shows a small count.

It reads what was written, not what the pipeline meant to write: every HTML page (its ``<table>`` elements
and every element carrying ``data-count``), Parquet and CSV table, JSON file and executed notebook
(``.ipynb``: the HTML of its outputs) under the folder. It shares no code with :mod:`cluster_eval.disclosure`.

Which cells hold counts (the convention reports follow)
-------------------------------------------------------
1. **Declared**: a Parquet table's ``count_columns`` (pandas ``attrs``, stored by ``DataFrame.to_parquet``
   in the schema metadata); an HTML cell (``td``/``th``) with the class ``count`` or a ``data-count``
   attribute (its value is the number shown, e.g. ``<td class="count" data-count="12">12</td>``); an HTML
   column whose header cell has the class ``count`` or a ``data-count`` attribute.
2. **By name** (column names, HTML headers, JSON keys), after lower-casing and turning every run of
   non-letters into ``_``: a name is a count if one of its words is a count word (``numerator``,
   ``denominator``, ``count``, ``n``, ``persons``, ``patients``, ``people``, ``events``, ``cases``,
   ``prescriptions``, ``deaths``, ``admissions``, ``listed``, ``population``, Danish
   ``antal``, ``personer``, ``patienter``, ``borgere``, ``tæller``, ``nævner``), so ``n_patients``,
   ``persons_65plus``, ``event_count`` are counts; unless one of its words says it is something else
   (a rate or statistic: ``rate``, ``share``, ``per``, ``pct``, ``mean``, ``lower`` ...; a unit that is not
   a person: ``practices``, ``clusters``, ``reports``, ``months``, ``meetings``, ``runs``, ``crossings``
   ...; see :data:`NOT_COUNT_WORDS`) or it holds ``%``. So ``patients_per_1000``, ``n_practices`` and
   ``share (%)`` are not counts. In a row-oriented table (a label cell, then values) the row's label is
   read the same way: the row ``Listed patients | 12,400`` holds a count.

Rules (a :class:`Finding` names file, location, value and rule)
--------------------------------------------------------------
* ``small count``: a count cell shows a number above 0 and below ``threshold + 1`` (default: 1 to 4). In
  HTML only whole numbers are read as counts (``2.5`` in a count column is a statistic); in tables every
  number is.
* ``small complement``: a row shows both ``numerator`` and ``denominator`` and their difference is a
  small count (the persons without the attribute).
* ``value from a hidden count``: a row hides its numerator or denominator but shows a value, rate,
  proportion or limit computed from it.
* ``recoverable from total``: in a table with a total row or column (a label ``Total``, ``I alt``,
  ``All``, ``Overall``, ``Samlet``), a published total whose parts hide exactly one count (or a hidden
  total whose parts are all shown): the hidden cell is the total minus the others.
* ``unreadable``: a table file that cannot be read is reported, not skipped: it cannot be checked.

What it does not see: numbers in running text and in images (figures must be drawn from suppressed
tables), and totals that can only be matched across two different files.
"""
from __future__ import annotations

from .folder import audit_dir, audit_file, main_audit
from .pages import audit_html, audit_notebook
from .rules import (
    COUNT_WORDS,
    NOT_COUNT_WORDS,
    RULE_COMPLEMENT,
    RULE_DERIVED,
    RULE_RECOVERABLE,
    RULE_SMALL,
    RULE_UNREADABLE,
    THRESHOLD,
    TOTAL_WORDS,
    Finding,
    is_count_name,
    parse_number,
)
from .tables import audit_frame, audit_json

__all__ = ["audit_dir", "audit_file", "main_audit", "audit_html", "audit_notebook", "audit_frame", "audit_json",
           "Finding", "is_count_name", "parse_number", "THRESHOLD", "COUNT_WORDS", "NOT_COUNT_WORDS",
           "TOTAL_WORDS", "RULE_SMALL", "RULE_COMPLEMENT", "RULE_DERIVED", "RULE_RECOVERABLE", "RULE_UNREADABLE"]
