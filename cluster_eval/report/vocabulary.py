"""Values the analyse stage and the statistics write in English that a report shows: marked for the message
catalogues (``N_``) and translated when shown (:func:`cluster_eval.report.i18n.translate_value`).

The statistics packages do not import the report layer, so their words (verdicts, standings, funnel positions,
reasons an estimate was not made, run statuses, topic ids of the shipped catalogue) are listed here once; a
message with ``{fields}`` matches values with any text in the fields (e.g. "fewer than 3 practices with data
(2)"); only these messages are matched that way. ``tests/report/test_i18n.py`` checks that every such value of a demo run has a Danish translation.
"""
from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for extraction (as :func:`cluster_eval.report.i18n.N_`; this module imports nothing)."""
    return message


VALUES = (
    # verdicts (cluster_eval.impact.multiplicity.verdict) and the standing words (cluster_eval.stats.standing)
    N_("improved"), N_("worsened"), N_("increased"), N_("decreased"), N_("no change detected"),
    N_("better than expected"), N_("worse than expected"), N_("higher than expected"), N_("lower than expected"),
    N_("as expected"), N_("better"), N_("worse"), N_("higher"), N_("lower"), N_("unknown size"),
    # funnel positions (cluster_eval.report.impact_tables)
    N_("above {level} limit"), N_("below {level} limit"), N_("within 95% limits"), N_("95%"), N_("99.8%"),
    # practice pseudonyms (cluster_eval.report.impact_tables._pseudonyms)
    N_("Practice {letter}"),
    # why an estimate or chart was not made (cluster_eval.impact, cluster_eval.spc.relative)
    N_("not estimable"), N_("estimated"),
    N_("start outside the data (no pre-period or no post-period)"),
    N_("fewer than {min_practices} practices with data ({n_practices})"),
    N_("fewer than {min_practices} practices with pre- and post-period values, or fewer than 2 comparison "
       "practices"),
    N_("no post-period month with comparison practices"),
    N_("fewer than {n} months before the start"), N_("no months after the start"),
    N_("start outside the data or no practices"),
    N_("fewer than {n} practices with values before or after"), N_("fewer than {n} comparison clusters"),
    N_("no cluster took up the topic within the data"),
    N_("fewer than 6 months before or 3 after the start"), N_("model failed: {error}"),
    # pooling methods (cluster_eval.report.impact_tables.pooled_tables)
    N_("random effects ({method})"),
    # comparison groups (params impact.comparison, as Settings.comparison_words)
    N_("not yet treated"), N_("never treated"),
    # run statuses (the index)
    N_("ok"), N_("failed"), N_("not run"),
    # the topics of the shipped catalogue (cluster_eval/indicators/catalogue.yaml) and the analyse stage's
    # topic of indicators without one
    N_("antibiotics"), N_("diabetes"), N_("copd"), N_("dependence"), N_("elderly"), N_("other"),
)
