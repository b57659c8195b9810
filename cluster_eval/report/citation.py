"""How to cite a run: the methods' own references, and the package version and commit from the run manifest.

The reports' "How to cite" section (:meth:`cluster_eval.report.display.SectionsBase.how_to_cite`) and
``docs/methods.md`` (its "How to cite" section) say the same thing; :data:`REFERENCES` is the one list.
"""
from __future__ import annotations

import json
from pathlib import Path

from .i18n import _

#: The published sources of the methods a report uses, in the order a methods section would cite them (not
#: translated: a reference is cited in its own language).
REFERENCES = (
    "Callaway B, Sant'Anna PHC (2021). Difference-in-differences with multiple time periods. "
    "Journal of Econometrics 225(2): 200-230.",
    "Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance. Statistics in Medicine "
    "24(8): 1185-1202.",
    "Anhøj J, Olesen AV (2014). Run charts revisited: a simulation study of run chart rules for detection of "
    "non-random variation in health care processes. PLoS ONE 9(11): e113825.",
    "DerSimonian R, Laird N (1986). Meta-analysis in clinical trials. Controlled Clinical Trials 7(3): 177-188.",
    "Higgins JPT, Thompson SG, Spiegelhalter DJ (2009). A re-evaluation of random-effects meta-analysis. "
    "Journal of the Royal Statistical Society A 172(1): 137-159.",
    "Wilson EB (1927). Probable inference, the law of succession, and statistical inference. JASA 22: 209-212.",
)
METHODS_PAGE = "docs/methods.md"


def run_provenance(run_dir) -> dict:
    """The package version, commit and run id of a run, from its ``manifest.json``.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (``manifest.json`` inside).

    Returns
    -------
    dict
        ``version``, ``commit`` (with ``-dirty`` when the working tree had changes) and ``run_id``; each None
        when the manifest is missing or does not say.
    """
    try:
        man = json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        man = {}
    return {"version": (man.get("versions") or {}).get("cluster_eval"), "commit": man.get("git_commit"),
            "run_id": man.get("run_id")}


def how_to_cite(run_dir) -> str:
    """The "How to cite" text of a report (markdown): the methods page, the run's provenance, the references.

    Parameters
    ----------
    run_dir : str or Path
        The run folder whose ``manifest.json`` gives the version, commit and run id.

    Returns
    -------
    str
        Markdown: where the methods are described in full, a citation of the software run, and
        :data:`REFERENCES`.
    """
    from .. import __version__

    p = run_provenance(run_dir)
    version = p["version"] or __version__
    commit = (_(", commit {commit}").format(commit=p["commit"][:12] + ("-dirty" if p["commit"].endswith("-dirty") else ""))
              if p["commit"] else "")
    run = _(", run {run}").format(run=p["run_id"]) if p["run_id"] else ""
    refs = "\n".join(f"- {r}" for r in REFERENCES)
    return (_("The methods, with their formulas and references, are described in full in `{page}` of the "
              "cluster_eval source (the *Methods* page of its documentation).").format(page=METHODS_PAGE) + "\n\n"
            + _("**Cite this report as** produced with cluster_eval {version}{commit}{run}, and cite the methods' "
                "own sources:").format(version=version, commit=commit, run=run) + f"\n\n{refs}")
