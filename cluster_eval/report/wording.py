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
from .i18n import _

TOO_SMALL = "too few to say"
#: The first words of every verdict that states a reading (see :func:`verdict`).
VERDICT_WORDS = ("improved", "no change detected", "worsened", "increased", "decreased")


def num(x, digits: int | None = None) -> str:
    """A number for reading: 1-2 decimals, a real minus sign; a dash when missing."""
    if x is None or not np.isfinite(x):
        return "–"
    if digits is None:
        digits = 2 if abs(x) < 10 else 1
    return f"{x:,.{digits}f}".replace("-", "−")


def interval(est, lo, hi) -> str:
    if not np.isfinite(est):
        return TOO_SMALL
    return f"{num(est)} ({num(lo)} to {num(hi)})"


def short_title(title: str, n: int = 40) -> str:
    return title if len(title) <= n else title[: n - 1] + "…"


def diff_unit(meta_row) -> str:
    return "percentage points" if meta_row["unit"] == "%" else meta_row["unit"]


def verdict(row, better: str, unit: str = "") -> str:
    """Plain-language reading of an effect row (:func:`cluster_eval.impact.multiplicity.verdict`).

    "improved" / "worsened" by the indicator's better direction when the interval excludes 0 ("increased" /
    "decreased" for ``better = "none"``), otherwise "no change detected (this cluster could detect changes of
    about <MDE> or more)" with the row's ``mde`` (or 2.8 × se where a row has none, e.g. a pooled effect).
    """
    if row["status"] != "estimated":
        return str(row["status"])
    lo, hi = row["lower"], row["upper"]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return TOO_SMALL
    mde = row.get("mde", np.nan)
    if not np.isfinite(mde if mde is not None else np.nan):
        mde = 2.8 * row.get("se", np.nan)
    return str(impact_verdict(lo, hi, mde, better if better in BETTER else "none",
                              fmt=lambda x: f"{num(x)} {unit}".strip())[0])


def placebo_flag(row) -> bool:
    lo, hi = row.get("placebo_lower", np.nan), row.get("placebo_upper", np.nan)
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))


GENERAL_METHODS = (
    "- **What it is not.** Clusters choose their topics; a cluster that picks a topic where it is doing badly "
    "may improve anyway (regression to the mean). The placebo check (the same calculation inside the months "
    "before the start) and the event study's pre-period show whether the comparison was like-for-like.\n"
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

    @classmethod
    def from_config(cls, config: dict) -> Settings:
        imp = config.get("impact") or {}
        est = config.get("estimator_description") or {}
        keys = ("confidence", "pre", "base", "post", "lag", "comparison", "min_practices", "estimator")
        return cls(**{k: imp[k] for k in keys if k in imp},
                   threshold=(config.get("disclosure") or {}).get("threshold", 4),
                   estimator_label=est.get("label", ""), estimator_methods=est.get("methods", ""))

    @property
    def base_words(self) -> str:
        """How many months make the base: ``impact.base`` (``"auto"``: chosen per indicator), else ``pre``."""
        if self.base == "auto":
            return "12, 24, 36 or 48 (per indicator, the length whose placebo estimates vary least)"
        return str(self.pre if self.base is None else self.base)

    @property
    def pct(self) -> str:
        """The interval level as a percentage: '95%', '90%', '97.5%'."""
        return f"{100 * float(self.confidence):g}%"

    @property
    def ci(self) -> str:
        """'95% CI' at the run's level."""
        return f"{self.pct} CI"

    @property
    def comparison_words(self) -> str:
        return str(self.comparison).replace("_", " ")

    def fill(self, text: str) -> str:
        """``text`` with ``{pre}``, ``{base}``, ``{post}``, ``{lag}``, ``{comparison}``, ``{confidence_pct}``,
        ``{min_practices}`` and ``{threshold}`` replaced by the run's settings (other braces left alone)."""
        values = {"pre": self.pre, "base": self.base_words, "post": self.post, "lag": self.lag, "comparison": self.comparison_words,
                  "confidence_pct": self.pct.rstrip("%"), "min_practices": self.min_practices,
                  "threshold": self.threshold}
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
        return text

    def note(self) -> str:
        """One line stating the estimator and its settings."""
        label = self.estimator_label or self.estimator
        return (f"Estimator: {label}. {self.pct} confidence intervals; window {self.pre} months before and "
                f"{self.post} from the start (lag {self.lag} months); comparison: practices {self.comparison_words} "
                "on the topic.")

    def methods_text(self) -> str:
        """The methods and caveats: the estimator's own text (registry), then what holds for every estimator."""
        head = f"- **Estimator.** {self.estimator_label or self.estimator} (`{self.estimator}`).\n"
        own = self.fill(self.estimator_methods) + "\n" if self.estimator_methods else ""
        return head + own + self.fill(GENERAL_METHODS)


# --- descriptive claims (docs/descriptive.md) ----------------------------------------------------------------

def spc_note(spc: pd.DataFrame) -> str:
    """One sentence on what the trends panels' SPC "signal" means (with its measured false-signal rate)."""
    from ..spc.relative import FALSE_SIGNAL_RATE, SIGNAL_MEANING

    standardised = len(spc) > 0 and "measure" in spc and spc["measure"].astype(str).str.startswith(
        "standardised").any()
    return ("*SPC: each panel's title says whether the cluster's series relative to the nation (observed over "
            "expected from the nation's rates in the same month"
            + (", standardised for age and sex where the data allow" if standardised else "")
            + ") shifted after the start. " + SIGNAL_MEANING.format(rate=FALSE_SIGNAL_RATE) + "*")


def standing_note(st: pd.DataFrame) -> str:
    """How the standing table was made, and whether it is standardised."""
    n_std = int(st["standardised"].astype(bool).sum()) if "standardised" in st else 0
    if n_std == 0:
        std = ("The data have no age/sex-banded measures: every value is **crude** (not standardised for age "
               "and sex), so a cluster with an older or younger list can differ for that reason alone.")
    elif n_std == len(st):
        std = ("Values are **indirectly standardised** for age and sex: observed over the count expected from "
               "the nation's age- and sex-specific rates, times the nation's value.")
    else:
        std = ("Values marked *standardised* are indirectly standardised for age and sex (observed over the count "
               "expected from the nation's age- and sex-specific rates, times the nation's value); *crude* values "
               "are not standardised.")
    return ("*The last 12 months against the nation. \"Better\" or \"worse than expected\" means outside the "
            "99.8% limits of a funnel of all clusters over the same 12 months that allows for the spread between "
            "clusters (random effects); the 95% range is shown. Indicators counting persons count each person "
            "once in the 12 months (approximated by the persons of an average month). " + std + "*")


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
