"""Statistical process control: run and control charts with the Anhøj rules (qicharts2 v0.8.1)::

    ce.spc.qic(x, y, n, chart="run"|"i"|"mr"|"xbar"|"s"|"t"|"p"|"pp"|"c"|"u"|"up", freeze=, part=,
               exclude=, multiply=, facets=)   chart data, one row per subgroup
    ce.spc.qic_grouped(data, x, y, n, by=[...])   one chart per group (qicharts2's facets)
    ce.spc.summary(chart_data)                     one row per facet and phase (qicharts2's summary())
    ce.plots.spc.plot_qic(chart_data)              the chart, drawn as qicharts2 draws it

Column names are qicharts2's in snake_case (``n.useful`` -> ``n_useful``, ``xx`` -> ``index``, facets keep
their own column names instead of ``facet1``/``facet2``); :data:`QICHARTS2_COLUMNS` and
:data:`QICHARTS2_SUMMARY_COLUMNS` give the full mapping. Defaults follow qicharts2 v0.8.1 with the
package attached (``screened_mr=True``: moving ranges above the upper range limit are left out of sigma).
"""
from __future__ import annotations

from .charts import a3, b3, b4, c4, c5
from .qic import CHARTS, QICHARTS2_COLUMNS, QICHARTS2_SUMMARY_COLUMNS, qic, qic_grouped, summary
from .runs import crossings_min, longest_run_max, runs_analysis

__all__ = ["qic", "qic_grouped", "summary", "CHARTS", "QICHARTS2_COLUMNS", "QICHARTS2_SUMMARY_COLUMNS",
           "runs_analysis",
           "longest_run_max", "crossings_min", "a3", "b3", "b4", "c4", "c5"]
