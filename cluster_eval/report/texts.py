"""The reports' section headings and their introductions for the reader, in one place (message ids for ``_``).

A notebook shows a section's heading and introduction with ``report.section("name")`` (or
``overview.section("name")``) and then calls the section's method: the notebooks hold no prose of their own,
so every text a reader sees is in the message catalogues (:mod:`.i18n`).
"""
from __future__ import annotations

from .i18n import N_, _

#: name -> (heading level: 0 none, 2 "##", 3 "###"; heading; introduction). Heading and introduction are
#: msgids; the introduction may be "".
SECTIONS = {
    # --- the cluster report -------------------------------------------------------------------------------
    "cluster_intro": (0, "", N_(
        "*Cluster evaluation report.* This report looks at whether the practices in one quality cluster changed "
        "how they work after the cluster took up a clinical topic. It is produced automatically for every cluster "
        "from the same national analysis; numbers resting on too few persons are suppressed (the threshold is "
        "stated in the methods at the end).")),
    "key_messages": (2, N_("Key messages"), N_(
        "The main findings in plain words. An *effect* is how much more (or less) the cluster's practices changed "
        "after the cluster's first meeting on a topic than comparable practices that had not taken the topic up "
        "over the same months.")),
    "profile": (2, N_("Profile"), N_(
        "Who is in the cluster: its region, how many practices and listed patients, and which topics it has "
        "taken up and when.")),
    "topics_up": (2, N_("Topics the cluster took up"), ""),
    "trends": (3, N_("Trends"), N_(
        "Each panel is one indicator, month by month: the cluster (thick line), its region and the whole nation "
        "(crude values, not standardised for age and sex). The dashed vertical line marks the first month counted "
        "as exposed (the first meeting on the topic, plus any lag). The panel title says whether the cluster's "
        "series *relative to the nation* shifted after the start (the SPC chart below); the sentence under the "
        "figure says what such a signal means.")),
    "spc": (3, N_("Relative to the nation: SPC"), N_(
        "Each panel is one indicator: the cluster's observed count over the count expected from the nation's "
        "rates in the same month (1 = as the nation; standardised for age and sex where the data allow), from 24 "
        "months before the start to 24 months after. The centre line and limits come from the months before the "
        "start only; they allow for the cluster's own month-to-month variation, including its persistence.")),
    "funnels": (3, N_("Practices before and after: funnel plots"), N_(
        "Each point is one of the cluster's practices after the start (red) and, in grey and joined to it, the "
        "same practice before the start. The horizontal line is the national average over the same months; the "
        "curves are the 95% (dashed) and 99.8% (solid) limits within which a practice of that size would fall "
        "given chance and the usual spread between practices over those same months (random-effects limits, "
        "Spiegelhalter 2005). Practices outside the 99.8% limits are labelled with a letter (not their name) and "
        "listed below the plot as better or worse than expected. Practices with too few patients to show are "
        "left out.")),
    "effects": (3, N_("Estimated effect"), N_(
        "The estimated effect of the cluster's work on each indicator, with its confidence interval; the line "
        "under the table names the estimator, the interval level, the windows and the comparison group (the "
        "methods at the end describe the estimator). The *placebo* repeats the estimate inside the months before "
        "the start, where there should be no effect: a placebo far from zero warns that the comparison is not "
        "like-for-like. The *minimum detectable effect* is roughly the smallest true effect this cluster's size "
        "would reliably show.")),
    "event_study": (3, N_("Month by month: event study"), N_(
        "The difference between the cluster's practices and the comparison practices for each month before and "
        "after the start, relative to the estimator's base period before the start (named in the methods at the "
        "end). Before the start the points should hover around zero (the pre-period check); an effect shows as a "
        "move away from zero after it.")),
    "forest": (3, N_("Among all clusters: forest plot"), N_(
        "Every cluster that took up the topic, each with its estimated effect and interval; this cluster is "
        "highlighted in red; the vertical band is the pooled effect of all clusters.")),
    "variation": (3, N_("Change in variation between practices"), N_(
        "Did the practices in the cluster become more alike? The table gives the spread (standard deviation) of "
        "the practices' values before and after the start, and the same change on average in comparison "
        "clusters.")),
    "standing": (2, N_("Topics not taken up: standing against the nation"), N_(
        "For the topics the cluster has not (yet) worked on: the cluster's value over the last 12 months, the "
        "national value, the range expected for a cluster of its size (95%), and whether the cluster is better "
        "than expected, as expected or worse than expected at the 99.8% level. The table says for each indicator "
        "whether its values are standardised for age and sex or crude.")),
    "caveats": (2, N_("Methods and caveats"), N_("What the numbers mean and where they should not be trusted.")),
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
