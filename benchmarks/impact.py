"""Timing of the national impact analysis at Denmark scale, and a comparison with the `differences` package.

    .venv/bin/python benchmarks/impact.py                    # Denmark scale, all topics and clusters
    .venv/bin/python benchmarks/impact.py --compare 2        # also time `differences` on 2 indicators

Steps timed on one synthetic Denmark (``ce.synthetic.generate("denmark", seed)``): building the practice x
month panels of all 11 indicators; ``national_effects`` (Callaway & Sant'Anna group-time ATTs with
not-yet-treated comparison practices, simple and dynamic aggregates, analytic SEs); ``cluster_effects``
(every cluster x indicator, +-12 months); ``variation_change``. Then, for ``--compare`` indicators, the same
group-time ATTs with `differences` (``ATTgt(...).fit(est_method="reg", control_group="not_yet_treated")`` +
``aggregate("simple")``, the 'bench' extra) and with ``att_gt`` alone, printing both times, their ratio and
the largest difference of the estimates.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cluster_eval as ce  # noqa: E402
from cluster_eval.impact import att_gt, cluster_effects, variation_change  # noqa: E402
from cluster_eval.impact.national import national_effects  # noqa: E402
from cluster_eval.impact.panel import build_panels  # noqa: E402


def timed(label, fn, *a, **k):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*a, **k)
    dt = time.perf_counter() - t0
    print(f"{label:<58s} {dt:8.2f} s")
    return out, dt


def compare_differences(panel, label):
    from differences import ATTgt

    d = panel.long()
    # a balanced panel (practices with a value every month), so that both packages use the same units
    complete = d.groupby("unit")["value"].transform(lambda v: v.notna().all())
    d = d[complete]
    ours, t_ours = timed(f"  att_gt + simple aggregate [{label}]",
                         lambda: (r := att_gt(d, "value", "t", "unit", "g", control_group="notyettreated"),
                                  r.aggregate("simple"))[1])
    dd = d[["unit", "t", "value", "g"]].copy()
    dd["cohort"] = dd["g"].where(dd["g"] > 0)
    dd = dd.drop(columns="g").set_index(["unit", "t"])

    def run_diff():
        att = ATTgt(data=dd, cohort_column="cohort", base_period="varying")
        att.fit(formula="value", est_method="reg", control_group="not_yet_treated", n_jobs=1, progress_bar=False)
        a = att.aggregate("simple")
        a.columns = [c[-1] for c in a.columns]
        return a

    theirs, t_theirs = timed(f"  differences ATTgt + simple aggregate [{label}]", run_diff)
    diff = abs(float(theirs["ATT"].iloc[0]) - ours.value)
    dse = abs(float(theirs["std_error"].iloc[0]) - ours.se) / ours.se
    print(f"  ratio differences / cluster_eval: {t_theirs / t_ours:6.1f}x   "
          f"|ATT difference| = {diff:.2e}, relative SE difference = {dse:.2e}")
    return t_ours, t_theirs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="denmark")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compare", type=int, default=1, help="indicators to time with `differences` (0: none)")
    a = ap.parse_args(argv)
    from cluster_eval.synthetic import INDICATORS

    ds, _ = timed(f"generate synthetic data (scale={a.scale})", ce.synthetic.generate, a.scale, a.seed)
    print(f"  {ds}")
    tables = (ds.measures, ds.practices, ds.activities, INDICATORS)
    panels, t_panel = timed("build practice x month panels (11 indicators)", build_panels, *tables)
    n, t = next(iter(panels.values())).value.shape
    print(f"  {n} practices x {t} months; clusters x topics started: {len(ds.activities)}")
    nat, t_nat = timed("national_effects: att_gt + aggregates, all indicators", national_effects, *tables,
                       panels=panels, keep_results=False)
    cells = nat.effects["n_groups"].sum()
    per, t_per = timed("cluster_effects: every cluster x indicator, +-12 months", cluster_effects, *tables,
                       panels=panels)
    var, t_var = timed("variation_change: every cluster x indicator", variation_change, *tables, panels=panels)
    total = t_panel + t_nat + t_per + t_var
    print(f"{'TOTAL national impact analysis (excluding data generation)':<58s} {total:8.2f} s")
    print(f"  {cells} treated groups over all indicators; {int(per.effects['estimable'].sum())} estimable "
          f"cluster x indicator effects of {len(per.effects)}")
    pd.set_option("display.width", 200)
    print(nat.effects[["indicator_id", "value", "se", "lower", "upper", "n_groups"]].to_string(index=False))
    if a.compare:
        try:
            import differences  # noqa: F401
        except ImportError:
            print("`differences` is not installed (pip install '.[bench]'): comparison skipped")
            return
        for ind in list(panels)[: a.compare]:
            compare_differences(panels[ind], ind)


if __name__ == "__main__":
    main()
