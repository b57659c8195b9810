"""What a report notebook shows when it is opened with its default (empty) parameters: the small demo.

The batch job always passes ``run_dir`` (and ``cluster_id``). A researcher who opens
``notebooks/cluster_report.ipynb`` or ``national_overview.ipynb`` in JupyterLab and runs it as it is gets the
small synthetic Denmark, written and analysed on the spot into a temporary folder (about 10 s of computing),
with a message saying so and how to point the notebook at a real run.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from .display import show_markdown
from .i18n import _


def _first_cluster(run_dir: Path) -> str:
    """The cluster of the run with the most estimated effects (ties: the first id)."""
    from .tables import read_table

    eff = read_table(run_dir, "effects")
    if len(eff) and "status" in eff:
        counts = eff[eff["status"] == "estimated"].groupby("cluster_id").size()
        if len(counts):
            return str(counts.sort_index().idxmax())
    return str(sorted(read_table(run_dir, "clusters")["cluster_id"].astype(str))[0])


def make_demo_run(folder) -> Path:
    """Write the small synthetic Denmark into ``folder/data`` and analyse it into ``folder/reports``.

    Parameters
    ----------
    folder : str or Path
        An empty or new folder.

    Returns
    -------
    Path
        The run folder (``tables/``, ``run_config.json`` and ``manifest.json`` inside), as a report notebook's
        ``run_dir``. No report is rendered.
    """
    from ..data import load_dataset
    from . import manifest as M
    from .analyse import analyse
    from .config import load_params
    from .demo_run import demo_params, ensure_data
    from .runner import write_run_config

    folder = Path(folder)
    ensure_data(folder, scale="small", quiet=True)
    cfg = load_params(demo_params(folder, "small"))
    run = cfg.output.resolve()
    (run / "tables").mkdir(parents=True, exist_ok=True)
    man = M.Manifest(run, cfg, {}, time.time())
    analyse(load_dataset(cfg.data_spec()), cfg, run / "tables")
    write_run_config(cfg, run)
    man.write(status="complete", reports=[])
    return run


def _run_language(run: Path) -> None:
    """The run's report language (``run_config.json``) for the messages shown before the report object exists."""
    import json

    from . import i18n

    try:
        lang = (json.loads((run / "run_config.json").read_text()).get("report") or {}).get("language")
    except (OSError, ValueError):
        lang = None
    if lang in i18n.LANGUAGES:
        i18n.set_language(lang)


def demo_run(run_dir="", cluster_id=None, pick_cluster: bool = True) -> tuple[str, str]:
    """The notebook's ``run_dir`` and ``cluster_id``, or the small synthetic demo when ``run_dir`` is empty.

    Parameters
    ----------
    run_dir : str or Path
        The notebook's parameter: a run folder, or ``""`` (its default).
    cluster_id : str, optional
        The notebook's parameter; when empty, the run's cluster with the most estimated effects.
    pick_cluster : bool
        False for the national overview: no cluster is chosen (``cluster_id`` is returned as given).

    Returns
    -------
    tuple of (str, str)
        The run folder and the cluster id to show. A message is displayed when either was filled in.
    """
    if run_dir:
        run = Path(run_dir)
        _run_language(run)
    else:
        run = make_demo_run(tempfile.mkdtemp(prefix="cluster_eval_demo_"))
        _run_language(run)
        show_markdown(_("**No run folder given** (the notebook's `run_dir` parameter is empty): this is the *small "
                        "synthetic demo*, analysed just now into `{run}`. For a real report, run "
                        "`cluster-eval run params.yaml` and set `run_dir` (and `cluster_id`) in the parameters cell; "
                        "`make demo` writes every report of the synthetic Denmark into `outputs/demo`.").format(
            run=run))
    if not cluster_id and pick_cluster:
        cluster_id = _first_cluster(run)
        if run_dir:
            show_markdown(_("**No cluster given** (`cluster_id` is empty): showing cluster `{cluster}`.").format(
                cluster=cluster_id))
    return str(run), str(cluster_id or "")
