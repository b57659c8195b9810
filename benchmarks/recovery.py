"""Recovery of the true effects on the synthetic Denmark: bias, RMSE and 95% interval coverage.

For each replication (seed) the synthetic data are generated at the chosen scale and analysed as in the
pipeline:

- national: ``national_effects`` (Callaway & Sant'Anna, not-yet-treated comparison) per indicator; its true
  value is the same weighted average of the true effects (``truth.csv``) over the same group-time cells,
  with the same group-size weights (``simple``: post cells; ``dynamic``: mean over e >= 0 of theta(e));
- per cluster: ``cluster_effects`` post-period average (event times 0..after); its truth is the mean of the
  cluster's true effects over the event times that entered the estimate.

    .venv/bin/python benchmarks/recovery.py --reps 200            # the full run (small scale)
    .venv/bin/python benchmarks/recovery.py --reps 3 --quiet      # the CI version

Prints one table per estimand (by indicator and overall) and writes the per-replication rows with
``--out FILE.csv``.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cluster_eval as ce  # noqa: E402
from cluster_eval.impact.cluster import cluster_effects  # noqa: E402
from cluster_eval.impact.inference import influence_se  # noqa: E402
from cluster_eval.impact.national import national_effects  # noqa: E402
from cluster_eval.impact.panel import build_panels  # noqa: E402


def _truth_lookup(truth: pd.DataFrame, ind: str) -> dict:
    t = truth[truth["indicator_id"] == ind]
    return {(c, int(e)): v for c, e, v in zip(t["cluster_id"], t["event_time"], t["effect"])}


def national_truth(res, panel, lookup) -> tuple[float, float]:
    """True simple and dynamic aggregates for the cells of one att_gt result."""
    tab = res.table
    ok = tab["value"].notna().to_numpy()
    ids = res.meta["unit_ids"]
    cl = pd.Series(panel.cluster_ids).to_numpy()[ids.astype(int)]
    ug = res.unit_group
    truth_cell = np.full(len(tab), np.nan)
    for j, (g, t) in enumerate(zip(tab["group"], tab["time"])):
        if not ok[j] or t < g:
            continue
        members = cl[ug == g]
        e = int(t - g)
        truth_cell[j] = np.mean([lookup.get((c, e), 0.0) for c in members])
    glist = np.unique(tab["group"])
    pg = {g: np.mean(res.unit_weights * (ug == g)) for g in glist}
    w = tab["group"].map(pg).to_numpy(float)
    post = ok & (tab["time"] >= tab["group"]).to_numpy()
    simple = float(np.sum(w[post] * truth_cell[post]) / np.sum(w[post]))
    ev = (tab["time"] - tab["group"]).to_numpy()
    thetas = []
    for e in np.unique(ev[post]):
        k = post & (ev == e)
        thetas.append(np.sum(w[k] * truth_cell[k]) / np.sum(w[k]))
    return simple, float(np.mean(thetas))


def one_replication(seed: int, scale: str = "small", before: int = 12, after: int = 12) -> tuple[list, list]:
    from cluster_eval.synthetic import INDICATORS

    ds = ce.synthetic.generate(scale, seed)
    panels = build_panels(ds.measures, ds.practices, ds.activities, INDICATORS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nat = national_effects(ds.measures, ds.practices, ds.activities, INDICATORS, panels=panels)
        per = cluster_effects(ds.measures, ds.practices, ds.activities, INDICATORS, before=before, after=after,
                              panels=panels)
    nat_rows = []
    for _, r in nat.effects.dropna(subset=["value"]).iterrows():
        ind = r["indicator_id"]
        lookup = _truth_lookup(ds.truth, ind)
        ts, td = national_truth(nat.results[ind], panels[ind], lookup)
        res = nat.results[ind]
        dyn = res.aggregate("dynamic")
        simple = res.aggregate("simple")
        units = res.meta["unit_ids"].astype(int)
        cl = pd.Series(panels[ind].cluster_ids[units], dtype=object)
        cl = cl.where(cl.notna(), pd.Series([f"practice-{u}" for u in units])).to_numpy()
        se_sc = float(influence_se(simple.inf[:, None], res.n, cl)[0])
        se_dc = float(influence_se(dyn.inf[:, None], res.n, cl)[0])
        for est, val, se, truth in [("simple", r["value"], r["se"], ts), ("dynamic", dyn.value, dyn.se, td),
                                    ("simple_cluster_se", r["value"], se_sc, ts),
                                    ("dynamic_cluster_se", dyn.value, se_dc, td)]:
            nat_rows.append(dict(seed=seed, estimand=f"national_{est}", indicator_id=ind, value=val, se=se,
                                 lower=val - 1.959964 * se, upper=val + 1.959964 * se, truth=truth))
    es = per.event_study
    es = es[(es["event_time"] >= 0) & es["value"].notna()]
    tr = ds.truth[["cluster_id", "indicator_id", "event_time", "effect"]]
    es = es.merge(tr, on=["cluster_id", "indicator_id", "event_time"], how="left").fillna({"effect": 0.0})
    true_avg = es.groupby(["cluster_id", "indicator_id"])["effect"].mean().rename("truth").reset_index()
    eff = per.effects[per.effects["estimable"]].merge(true_avg, on=["cluster_id", "indicator_id"])
    cl_rows = [dict(seed=seed, estimand="cluster_post_average", indicator_id=r.indicator_id, cluster_id=r.cluster_id,
                    value=r.value, se=r.se, lower=r.lower, upper=r.upper, truth=r.truth,
                    placebo_p_value=r.placebo_p_value, pre_p_value=r.pre_p_value, n_practices=r.n_practices)
               for r in eff.itertuples()]
    return nat_rows, cl_rows


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE, coverage and mean SE by estimand and indicator, plus an 'all' row per estimand."""
    d = rows.assign(error=rows["value"] - rows["truth"],
                    covered=(rows["lower"] <= rows["truth"]) & (rows["truth"] <= rows["upper"]))
    # put indicators on one scale for the 'all' rows: errors relative to the indicator's mean |truth|
    scale = d.groupby("indicator_id")["truth"].transform(lambda x: np.mean(np.abs(x)) or 1.0)
    d["rel_error"] = d["error"] / scale

    def agg(g):
        return pd.Series({"n": len(g), "mean_truth": g["truth"].mean(), "bias": g["error"].mean(),
                          "rmse": np.sqrt(np.mean(g["error"] ** 2)), "mean_se": g["se"].mean(),
                          "sd_estimate_error": g["error"].std(), "coverage": g["covered"].mean(),
                          "rel_bias": g["rel_error"].mean()})

    by = d.groupby(["estimand", "indicator_id"]).apply(agg, include_groups=False).reset_index()
    allr = d.groupby("estimand").apply(agg, include_groups=False).reset_index().assign(indicator_id="(all)")
    return pd.concat([by, allr], ignore_index=True).sort_values(["estimand", "indicator_id"])


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--scale", default="small")
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--before", type=int, default=12)
    ap.add_argument("--after", type=int, default=12)
    ap.add_argument("--out", default=None, help="CSV of per-replication rows")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    nat, cl = [], []
    for i in range(a.reps):
        n, c = one_replication(a.first_seed + i, a.scale, a.before, a.after)
        nat += n
        cl += c
        if not a.quiet and (i + 1) % 10 == 0:
            print(f"  {i + 1}/{a.reps} replications, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    rows = pd.DataFrame(nat + cl)
    if a.out:
        rows.to_csv(a.out, index=False)
    summary = summarise(rows)
    if not a.quiet:
        pd.set_option("display.width", 200)
        print(f"recovery: {a.reps} replications at scale '{a.scale}', {time.perf_counter() - t0:.0f} s")
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return summary


if __name__ == "__main__":
    main()
