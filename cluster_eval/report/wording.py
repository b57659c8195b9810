"""The reports' wording: numbers, intervals, verdicts, and every label that states a setting of the run.

Labels that state a setting (the interval level, windows, lag, comparison group, estimator) come from
:class:`Settings`, read from the run's ``run_config.json`` (the validated params, plus the estimator's
``label`` and ``methods`` text from :data:`cluster_eval.impact.estimators.ESTIMATORS`, written by the runner).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..impact.multiplicity import BETTER
from ..impact.multiplicity import verdict as impact_verdict
from . import i18n
from .i18n import N_, _

TOO_SMALL = N_("too few to say")
#: The first words of every verdict that states a reading, in English (see :func:`verdict_key`).
VERDICT_WORDS = ("improved", "no change detected", "worsened", "increased", "decreased")
NO_CHANGE = N_("no change detected (this cluster could detect changes of about {mde} or more)")


def too_small() -> str:
    """"too few to say" in the report's language."""
    return _(TOO_SMALL)


def num(x, digits: int | None = None) -> str:
    """A number for reading: 1-2 decimals, the locale's separators, a real minus sign; a dash when missing."""
    try:
        finite = x is not None and np.isfinite(x)
    except TypeError:
        finite = False
    if not finite:
        return "–"
    if digits is None:
        digits = 2 if abs(x) < 10 else 1
    return i18n.decimal(x, digits)


def interval(est, lo, hi) -> str:
    if not np.isfinite(est):
        return too_small()
    return _("{estimate} ({lower} to {upper})").format(estimate=num(est), lower=num(lo), upper=num(hi))


def short_title(title: str, n: int = 40) -> str:
    return title if len(title) <= n else title[: n - 1] + "…"


def unit_text(kind: str, multiplier: float) -> str:
    """The unit of a value in the report's language: "%", "per 1,000" / "pr. 1.000" (as the analyse stage's
    ``indicators`` table writes it in English)."""
    if kind == "proportion":
        return "%"
    return _("per {n}").format(n=i18n.integer(multiplier)) if float(multiplier) != 1 else ""


def diff_unit(meta_row) -> str:
    return _("percentage points") if meta_row["unit"] == "%" else meta_row["unit"]


def _verdict_row(row, better: str):
    """(key, mde) of an effect row: key "improved", "worsened", "increased", "decreased", "no change detected",
    "too few" (no interval) or the row's status when it is not estimated."""
    if row["status"] != "estimated":
        return str(row["status"]), np.nan
    lo, hi = row["lower"], row["upper"]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "too few", np.nan
    mde = row.get("mde", np.nan)
    if not np.isfinite(mde if mde is not None else np.nan):
        mde = 2.8 * row.get("se", np.nan)
    word = str(impact_verdict(lo, hi, mde, better if better in BETTER else "none")[0])
    return ("no change detected" if word.startswith("no change detected") else word), mde


def verdict_key(row, better: str) -> str:
    """The reading of an effect row, independent of the language: one of :data:`VERDICT_WORDS`, "too few",
    or the row's status (why it was not estimated)."""
    return _verdict_row(row, better)[0]


def verdict(row, better: str, unit: str = "") -> str:
    """Plain-language reading of an effect row (:func:`cluster_eval.impact.multiplicity.verdict`), in the
    report's language.

    "improved" / "worsened" by the indicator's better direction when the interval excludes 0 ("increased" /
    "decreased" for ``better = "none"``), otherwise "no change detected (this cluster could detect changes of
    about <MDE> or more)" with the row's ``mde`` (or 2.8 × se where a row has none, e.g. a pooled effect).
    """
    key, mde = _verdict_row(row, better)
    if key == "too few":
        return too_small()
    if key == "no change detected":
        if not np.isfinite(mde):
            return _(NO_CHANGE).format(mde=_("unknown size"))
        return _(NO_CHANGE).format(mde=f"{num(abs(mde))} {unit}".strip())
    return i18n.translate_value(key)


def _excludes_zero(row, name: str) -> bool:
    lo, hi = row.get(name + "_lower", np.nan), row.get(name + "_upper", np.nan)
    try:
        return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))
    except TypeError:
        return False


def placebo_flag(row) -> bool:
    """The placebo (pre-trend) interval of an effect row excludes 0: already moving before the start."""
    return _excludes_zero(row, "placebo")


def dip_flag(row) -> bool:
    """The dip check's interval excludes 0: the months just before the start were unusual against the earlier
    pre months (an estimator's optional ``dip_lower`` / ``dip_upper``; False where it has none)."""
    return _excludes_zero(row, "dip")


PLACEBO_CAUTION = N_("caution: already moving before the start (placebo check)")
DIP_CAUTION = N_("caution: the months just before the start were unusual (dip check); part of the change may be "
                 "a return to normal")


def caution(row) -> str:
    """The cautions of an effect row in the report's language ("" when neither check flags it)."""
    return "; ".join(_(text) for flag, text in ((placebo_flag(row), PLACEBO_CAUTION), (dip_flag(row), DIP_CAUTION))
                     if flag)


GENERAL_METHODS = N_(
    "- **What it is not.** Clusters choose their topics; a cluster that picks a topic where it is doing badly "
    "may improve anyway (regression to the mean). The placebo check (the same calculation inside the months "
    "before the start) and the event study's pre-period show whether the comparison was like-for-like; the dip "
    "check flags a cluster whose last months before the start were unusual against its earlier months, where part of "
    "the change may be a return to normal. Both checks miss small spells.\n"
    "- **Small numbers.** Counts of 1 to {threshold} persons, and anything computed from them, are suppressed "
    "(Statistics Denmark's rule); so is a second cell where one suppressed cell could be recovered by "
    "subtraction. Where a cluster has fewer than {min_practices} practices with data, or too few "
    "months around its start, the report says so instead of printing a number.\n"
    "- **Readings.** An interval above or below zero reads \"improved\" or \"worsened\" by the indicator's "
    "better direction (\"increased\"/\"decreased\" where it has none); an interval across zero reads \"no "
    "change detected\" with the minimum detectable effect: the size of change this cluster could have seen. "
    "Each topic has one primary indicator, fixed in the catalogue before the data were seen; the others are "
    "secondary. With many clusters and indicators some intervals miss zero by chance: the shrunk effects and "
    "the national overview's q-values (Benjamini & Hochberg 1995) allow for that.\n"
    "- **Age and sex.** Where the data have age/sex-banded measures, the trends, the practices' funnels and the "
    "standing are indirectly standardised for age and sex (observed over the count expected from the nation's "
    "age- and sex-specific rates, times the nation's value); otherwise they are crude. Each label says "
    "whether a value is standardised or crude. The effects compare each practice with itself before "
    "and after the start, so a stable case mix cancels.")


@dataclass(frozen=True)
class Settings:
    """The run's settings as the reports state them."""

    confidence: float = 0.95
    pre: int = 24
    base: int | str | None = None
    post: int = 12
    lag: int = 0
    comparison: str = "not_yet_treated"
    min_practices: int = 3
    threshold: int = 4
    estimator: str = "premean-placebo"
    estimator_label: str = ""
    estimator_methods: str = ""
    language: str = i18n.DEFAULT_LANGUAGE

    @classmethod
    def from_config(cls, config: dict) -> Settings:
        imp = config.get("impact") or {}
        est = config.get("estimator_description") or {}
        keys = ("confidence", "pre", "base", "post", "lag", "comparison", "min_practices", "estimator")
        return cls(**{k: imp[k] for k in keys if k in imp},
                   threshold=(config.get("disclosure") or {}).get("threshold", 4),
                   estimator_label=est.get("label", ""), estimator_methods=est.get("methods", ""),
                   language=(config.get("report") or {}).get("language", i18n.DEFAULT_LANGUAGE))

    @property
    def base_words(self) -> str:
        """How many months make the base: ``impact.base`` (``"auto"``: chosen per indicator; ``"weighted"``: a
        weighted mean with block weights fitted per indicator), else ``pre``."""
        if self.base == "auto":
            return _("12, 24, 36 or 48 (per indicator, the length whose placebo estimates vary least)")
        if self.base == "weighted":
            return _("48 (36, 24 or 12 where fewer precede the start; a weighted mean: per indicator the "
                     "non-negative weights summing to 1 on blocks of months -1, -3..-2, -6..-4, -12..-7, -24..-13, "
                     "-36..-25 and -48..-37 whose placebo estimates vary least, the time weights of synthetic "
                     "difference-in-differences, Arkhangelsky et al. 2021)")
        return str(self.pre if self.base is None else self.base)

    @property
    def pct(self) -> str:
        """The interval level as a percentage: '95%', '90%', '97.5%' (Danish '95 %', '97,5 %')."""
        return i18n.percent(float(self.confidence))

    @property
    def ci(self) -> str:
        """'95% CI' at the run's level."""
        return _("{pct} CI").format(pct=self.pct)

    @property
    def comparison_words(self) -> str:
        return _(str(self.comparison).replace("_", " "))

    @property
    def label(self) -> str:
        """The estimator's label (registry) in the report's language."""
        return _(self.estimator_label) if self.estimator_label else self.estimator

    def fill(self, text: str) -> str:
        """``text`` with ``{pre}``, ``{base}``, ``{post}``, ``{lag}``, ``{comparison}``, ``{confidence_pct}``,
        ``{min_practices}`` and ``{threshold}`` replaced by the run's settings (other braces left alone)."""
        pct = self.pct
        values = {"pre": self.pre, "base": self.base_words, "post": self.post, "lag": self.lag,
                  "comparison": self.comparison_words, "confidence_pct": pct[: pct.rfind("%")].rstrip("\u00a0 "),
                  "min_practices": self.min_practices,
                  "threshold": self.threshold}
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
        return text

    def note(self) -> str:
        """One line stating the estimator and its settings."""
        return _("Estimator: {label}. {pct} confidence intervals; window {pre} months before and {post} from the "
                 "start (lag {lag} months); comparison: practices {comparison} on the topic.").format(
            label=self.label, pct=self.pct, pre=self.pre, post=self.post, lag=self.lag,
            comparison=self.comparison_words)

    def methods_text(self) -> str:
        """The methods and caveats: the estimator's own text (registry), then what holds for every estimator."""
        head = _("- **Estimator.** {label} (`{name}`).").format(label=self.label, name=self.estimator) + "\n"
        own = self.fill(_(self.estimator_methods)) + "\n" if self.estimator_methods else ""
        return head + own + self.fill(_(GENERAL_METHODS))


# --- descriptive claims (docs/descriptive.md) ----------------------------------------------------------------

def spc_note(spc: pd.DataFrame) -> str:
    """One sentence on what the trends panels' SPC "signal" means (with its measured false-signal rate)."""
    from ..spc.relative import FALSE_SIGNAL_RATE, SIGNAL_MEANING

    standardised = len(spc) > 0 and "measure" in spc and spc["measure"].astype(str).str.startswith(
        "standardised").any()
    head = (_("SPC: each panel's title says whether the cluster's series relative to the nation (observed over "
              "expected from the nation's rates in the same month, standardised for age and sex where the data "
              "allow) shifted after the start.") if standardised else
            _("SPC: each panel's title says whether the cluster's series relative to the nation (observed over "
              "expected from the nation's rates in the same month) shifted after the start."))
    return "*" + head + " " + _(SIGNAL_MEANING).format(rate=_(FALSE_SIGNAL_RATE)) + "*"


def standing_note(st: pd.DataFrame) -> str:
    """How the standing table was made, and whether it is standardised."""
    n_std = int(st["standardised"].astype(bool).sum()) if "standardised" in st else 0
    if n_std == 0:
        std = _("The data have no age/sex-banded measures: every value is **crude** (not standardised for age "
                "and sex), so a cluster with an older or younger list can differ for that reason alone.")
    elif n_std == len(st):
        std = _("Values are **indirectly standardised** for age and sex: observed over the count expected from "
                "the nation's age- and sex-specific rates, times the nation's value.")
    else:
        std = _("Values marked *standardised* are indirectly standardised for age and sex (observed over the count "
                "expected from the nation's age- and sex-specific rates, times the nation's value); *crude* values "
                "are not standardised.")
    return "*" + _("The last 12 months against the nation. \"Better\" or \"worse than expected\" means outside "
                   "the 99.8% limits of a funnel of all clusters over the same 12 months that allows for the spread "
                   "between clusters (random effects); the 95% range is shown. Indicators counting persons count "
                   "each person once in the 12 months (approximated by the persons of an average month).") \
        + " " + std + "*"


def measure_word(standardised: bool) -> str:
    """The label of a value: "standardised for age and sex" or "crude"."""
    return _("standardised for age and sex") if standardised else _("crude")


def _standardised_share(table: pd.DataFrame) -> str:
    """"all", "some" or "none" of the rows of a table with a ``standardised`` column are standardised."""
    if table is None or not len(table) or "standardised" not in table:
        return "none"
    std = table["standardised"].astype(bool)
    return "all" if std.all() else ("some" if std.any() else "none")


def _age_sex_sentence(share: str, what: str) -> str:
    if share == "all":
        return _("{what} are indirectly standardised for age and sex (observed over the count expected from the "
                 "nation's age- and sex-specific rates, times the nation's value).").format(what=what)
    if share == "some":
        return _("{what} labelled \"age-sex standardised\" are indirectly standardised for age and sex (observed "
                 "over the count expected from the nation's age- and sex-specific rates, times the nation's value); "
                 "those labelled \"crude\" are not.").format(what=what)
    return _("{what} are crude (not standardised for age and sex): the data have no age/sex-banded "
             "measures.").format(what=what)


def trends_note(trends: pd.DataFrame) -> str:
    """Whether the trends are standardised for age and sex."""
    return "*" + _age_sex_sentence(_standardised_share(trends), _("The monthly values")) + "*"


def funnel_note(tag: str, funnel: pd.DataFrame | None = None) -> str:
    """How the practices' funnel limits are made, and whether the values are standardised."""
    share = _standardised_share(funnel)
    x = (_(" Standardised values are plotted against the practice's expected count.") if share != "none" else "")
    return ("*" + _age_sex_sentence(share, _("Practice values")) + x + " "
            + _("Limits: the nation's value over the same months, with the spread between all practices of the "
                "nation over those months allowed for (random effects). \"Better\" or \"worse than expected\" "
                "applies the indicator's direction; practices are listed outside the {tag} limits.").format(tag=tag)
            + "*")
