"""The national overview's section headings and their introductions for the reader (message ids for ``_``).

The overview notebook shows a section's heading and introduction with ``overview.section("name")`` and then
calls the section's method: the notebook holds no prose of its own, so every text a reader sees is in the
message catalogues (:mod:`.i18n`). (The cluster report's sections write their own headings,
:mod:`.cluster_sections`.)
"""
from __future__ import annotations

from .i18n import N_, _

#: name -> (heading level: 0 none, 2 "##", 3 "###"; heading; introduction). Heading and introduction are
#: msgids; the introduction may be "".
SECTIONS = {
    "how_to_cite": (3, N_("How to cite"), N_(
        "Where the methods are described in full, the software version and commit that produced this report "
        "(from the run's manifest), and the methods' own references.")),
    # --- the national overview ----------------------------------------------------------------------------
    "overview_intro": (0, "", N_(
        "*National overview.* All quality clusters in one place: which topics each cluster took up, the "
        "estimated effects, and what the clusters achieved together. Produced from the same analysis as the "
        "cluster reports; numbers resting on too few persons are suppressed (the threshold is stated in the "
        "methods at the end).")),
    "overview_key_messages": (2, N_("Key messages"), N_("The pooled findings in plain words.")),
    "status_table": (2, N_("Every cluster: status and effects"), N_(
        "One row per cluster and topic taken up: when it started, and for each indicator the estimated effect "
        "with its confidence interval (or why there is none).")),
    "pooled_table": (2, N_("Pooled effects per topic"), N_(
        "The clusters' effects combined by random-effects meta-analysis: the average effect with its confidence "
        "interval, and the prediction interval where a new cluster's effect would be expected to fall. The last "
        "column is the national effect estimated directly over all practices (Callaway & Sant'Anna 2021, "
        "staggered starts).")),
    "overview_forest": (3, N_("Forest plots"), N_(
        "Each cluster's effect with its interval, sorted; the coloured band is the pooled effect.")),
    "event_studies": (3, N_("Event studies"), N_(
        "The pooled difference between clusters' practices and comparison practices month by month around the "
        "start. Points before the start should be near zero.")),
    "heterogeneity": (2, N_("Heterogeneity between clusters"), N_(
        "How much the clusters' true effects seem to differ: tau² (between-cluster variance), I² (the share of "
        "the spread that is not chance) and the prediction interval.")),
    "variation_trends": (2, N_("Trends in variation between practices"), N_(
        "The coefficient of variation of the practices' yearly values for each indicator: a falling line means "
        "practices are becoming more alike.")),
    "truth_check": (2, N_("Check against the true effects (synthetic data only)"), N_(
        "The synthetic data carry the effect each cluster really had. Each cluster's estimate is compared with "
        "its true effect averaged over the same months: the mean error shows bias, and about as many intervals "
        "as their level says (95% of 95% intervals) should contain the truth.")),
    "overview_caveats": (2, N_("Methods and caveats"), ""),
}


def section_markdown(name: str) -> str:
    """The markdown of a section's heading and introduction in the current language."""
    if name not in SECTIONS:
        from ..errors import ArgumentError
        from ..validation import hint

        raise ArgumentError(f"no report section {name!r}{hint(name, SECTIONS)}")
    level, heading, intro = SECTIONS[name]
    parts = []
    if level and heading:
        parts.append("#" * level + " " + _(heading))
    if intro:
        parts.append(_(intro))
    return "\n\n".join(parts)
