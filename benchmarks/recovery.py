"""Recovery of the true effects on the synthetic Denmark: coverage, placebo size, MDE, dips, wrong-way verdicts.

Three parts, each writing one CSV row per estimate and replication (appended after every replication, so
an interrupted run resumes where it stopped: seeds already in the file are skipped):

``--part cluster``  (Denmark scale)
    the NEW per-cluster estimator (``cluster_effects_premean``: pre-period mean base, practice + cluster-level
    variance from placebos) and the CURRENT one (``cluster_effects``: single base month, practice-level
    variance) on the same replications, at cluster-shock level ``--k`` (AR ``--rho``, region shocks
    ``--region``). Truth: the cluster's true effect (truth.csv) averaged over the event times that entered
    the estimate. Also the shrunk estimates (``shrink_effects``) and their verdicts.
``--part dip``  as ``cluster`` with the Ashenfelter dip switched on (``dip=True``).
``--part national`` (small scale)
    ``national_effects`` (Callaway & Sant'Anna, not-yet-treated) with practice-level SEs, SEs clustered by
    quality cluster (CR0, normal; CR1 with Student's t(G-1)), and the default of ``national_effects``:
    comparison terms clustered (CR1), treated terms modelled (``treated_cluster_variance``), t(G-1).

    python benchmarks/recovery.py --part cluster --k 0.12 --reps 50 --out benchmarks/results/cluster_k0.12.csv
    python benchmarks/recovery.py --part national --reps 200 --out benchmarks/results/national.csv
    python benchmarks/recovery.py --summarise benchmarks/results/*.csv      # the tables of benchmarks/README.md
    python benchmarks/recovery.py --reps 2 --scale small --quiet            # a quick check
    python benchmarks/recovery.py --part cluster --pre weighted ...         # the weighted base (pre="weighted")

Run long parts with ``nice -n 10`` and ``OPENBLAS_NUM_THREADS=1`` on a shared machine.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cluster_eval.impact.cluster import cluster_effects  # noqa: E402
from cluster_eval.impact.cluster_premean import cluster_effects_premean  # noqa: E402
from cluster_eval.impact.inference import influence_se  # noqa: E402
from cluster_eval.impact.multiplicity import shrink_effects, verdict  # noqa: E402
from cluster_eval.impact.national import national_effects  # noqa: E402
from cluster_eval.impact.panel import build_panels  # noqa: E402
from cluster_eval.synthetic import INDICATORS, Nuisance  # noqa: E402
from cluster_eval.synthetic.generator import simulate  # noqa: E402

BETTER = {s.id: s.better for s in INDICATORS}
#: truth.csv holds proportions as fractions; the panels hold values x the catalogue's multiplier (100 = per cent).
TRUTH_SCALE = {s.id: (s.multiplier if s.kind == "proportion" else 1.0) for s in INDICATORS}
BANDS = [(0, 9, "<=9"), (10, 20, "10-20"), (21, 10_000, ">20")]


def _band(n):
    n = np.asarray(n)
    return np.select([n <= 9, n <= 20], ["<=9", "10-20"], ">20")


# ---------------------------------------------------------------------------------------------
# National
# ---------------------------------------------------------------------------------------------

def _truth_lookup(truth: pd.DataFrame, ind: str) -> dict:
    t = truth[truth["indicator_id"] == ind]
    return {(c, int(e)): v * TRUTH_SCALE[ind] for c, e, v in zip(t["cluster_id"], t["event_time"], t["effect"])}


def national_truth(res, panel, lookup) -> tuple[float, float]:
    """True ``simple`` and ``dynamic`` aggregates for the cells of one att_gt result (same cells, weights)."""
    tab = res.table
    ok = tab["value"].notna().to_numpy()
    ids = res.meta["unit_ids"]
    cl = pd.Series(panel.cluster_ids).to_numpy()[ids.astype(int)]
    ug = res.unit_group
    truth_cell = np.full(len(tab), np.nan)
    for j, (g, t) in enumerate(zip(tab["group"], tab["time"])):
        if not ok[j] or t < g:
            continue
        truth_cell[j] = np.mean([lookup.get((c, int(t - g)), 0.0) for c in cl[ug == g]])
    pg = {g: np.mean(res.unit_weights * (ug == g)) for g in np.unique(tab["group"])}
    w = tab["group"].map(pg).to_numpy(float)
    post = ok & (tab["time"] >= tab["group"]).to_numpy()
    simple = float(np.sum(w[post] * truth_cell[post]) / np.sum(w[post]))
    ev = (tab["time"] - tab["group"]).to_numpy()
    thetas = [np.sum(w[post & (ev == e)] * truth_cell[post & (ev == e)]) / np.sum(w[post & (ev == e)])
              for e in np.unique(ev[post])]
    return simple, float(np.mean(thetas))


def national_replication(seed: int, scale: str, nz: Nuisance) -> list[dict]:
    ds, _ = simulate(scale, seed, nz)
    panels = build_panels(ds.measures, ds.practices, ds.activities, INDICATORS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nat = national_effects(None, None, None, None, panels=panels)      # the default: modelled treated side
    rows = []
    for r in nat.effects.dropna(subset=["value"]).itertuples():
        res = nat.results[r.indicator_id]
        truth, _ = national_truth(res, panels[r.indicator_id], _truth_lookup(ds.truth, r.indicator_id))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            simple = res.aggregate("simple")
        g = int(r.n_clusters)
        se_p = float(influence_se(simple.inf[:, None], res.n)[0])
        se_c = float(influence_se(simple.inf[:, None], res.n, res.cluster)[0])
        z = stats.norm.ppf(0.975)
        tq = stats.t.ppf(0.975, g - 1)
        for est, se, q in (("practice_se", se_p, z), ("cluster_se", se_c, z),
                           ("cluster_se_cr1_t", se_c * np.sqrt(g / (g - 1)), tq),
                           ("cluster_modelled_t", r.se, tq)):
            rows.append(dict(seed=seed, part="national", estimator=est, indicator_id=r.indicator_id,
                             value=r.value, se=se, lower=r.value - q * se, upper=r.value + q * se, truth=truth,
                             n_clusters=g))
    return rows


# ---------------------------------------------------------------------------------------------
# Per cluster
# ---------------------------------------------------------------------------------------------

def _truth_mean(truth: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """Mean true effect over event times 0 .. n_post - 1 for rows (cluster_id, indicator_id, n_post)."""
    t = truth[["cluster_id", "indicator_id", "event_time", "effect"]]
    t = t.assign(effect=t["effect"] * t["indicator_id"].map(TRUTH_SCALE).fillna(1.0))
    m = keys[["cluster_id", "indicator_id", "n_post"]].reset_index().merge(t, on=["cluster_id", "indicator_id"],
                                                                           how="left")
    m = m[m["event_time"].isna() | (m["event_time"] < m["n_post"])]
    avg = m.groupby("index")["effect"].mean()
    return avg.reindex(keys.index).fillna(0.0).to_numpy()


def _verdicts(e: pd.DataFrame, lo: str, hi: str) -> np.ndarray:
    out = np.empty(len(e), dtype=object)
    for ind, idx in e.groupby("indicator_id").groups.items():
        pos = e.index.get_indexer(idx)
        out[pos] = verdict(e.loc[idx, lo], e.loc[idx, hi], e.loc[idx, "mde"], BETTER[ind])
    return out


def cluster_replication(seed: int, scale: str, nz: Nuisance, pre: int, after: int, current: bool = True
                        ) -> list[dict]:
    ds, diag = simulate(scale, seed, nz)
    panels = build_panels(ds.measures, ds.practices, ds.activities, INDICATORS)
    dips = ds.truth.drop_duplicates(["cluster_id", "indicator_id"]).set_index(
        ["cluster_id", "indicator_id"])["dip"]
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        new = cluster_effects_premean(panels=panels, pre=pre, after=after, event_study=False).effects
        t_new = time.perf_counter() - t0
        runs = [("new", new, t_new)]
        if current:
            t0 = time.perf_counter()
            cur = cluster_effects(None, None, None, None, before=12, after=after, panels=panels)
            t_cur = time.perf_counter() - t0
            es = cur.event_study
            n_post = es[(es["event_time"] >= 0) & es["value"].notna()].groupby(
                ["cluster_id", "indicator_id"]).size().rename("n_post_es")
            ce = cur.effects.merge(n_post, on=["cluster_id", "indicator_id"], how="left")
            ce["n_post"] = ce["n_post_es"].fillna(ce["n_post"])
            runs.append(("current", ce, t_cur))
    for name, e, secs in runs:
        e = e[e["estimable"]].reset_index(drop=True)
        e["truth"] = _truth_mean(ds.truth, e)
        e = shrink_effects(e)
        e["verdict"] = _verdicts(e, "lower", "upper")
        e["verdict_shrunk"] = _verdicts(e, "shrunk_lower", "shrunk_upper")
        e["dip"] = [bool(dips.get((c, i), False)) for c, i in zip(e["cluster_id"], e["indicator_id"])]
        keep = ["cluster_id", "indicator_id", "n_practices", "n_pre", "n_post", "value", "se", "lower", "upper", "mde",
                "placebo_p_value", "pre_p_value", "truth", "shrunk_value", "shrunk_lower", "shrunk_upper",
                "verdict", "verdict_shrunk", "dip"]
        if name == "new":
            keep += ["se_practice", "var_cluster", "df", "base", "dip_value", "dip_p_value"]
        part = e.reindex(columns=keep).assign(seed=seed, estimator=name, seconds=secs,
                                              k=nz.cluster_shock, region=nz.region_shock, rho=nz.shock_rho,
                                              dip_scenario=nz.dip)
        out += part.to_dict("records")
    return out


# ---------------------------------------------------------------------------------------------
# Driver and summaries
# ---------------------------------------------------------------------------------------------

def run(part: str, reps: int, scale: str, first_seed: int, out: Path | None, nz: Nuisance, pre: int,
        after: int, current_every: int, quiet: bool) -> pd.DataFrame:
    done = set()
    if out is not None and out.exists():
        done = set(pd.read_csv(out, usecols=["seed"])["seed"].unique())
    t0 = time.perf_counter()
    frames = []
    for i in range(reps):
        seed = first_seed + i
        if seed in done:
            continue
        if part == "national":
            rows = national_replication(seed, scale, nz)
        else:
            rows = cluster_replication(seed, scale, nz, pre, after, current=(i % current_every == 0))
        df = pd.DataFrame(rows)
        frames.append(df)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            df.to_csv(out, mode="a", header=not out.exists(), index=False)
        if not quiet:
            print(f"  [{part} {scale} k={nz.cluster_shock}] seed {seed}: {i + 1}/{reps}, "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    if out is not None and out.exists():
        return pd.read_csv(out)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _covered(d):
    return (d["lower"] <= d["truth"]) & (d["truth"] <= d["upper"])


def summarise_cluster(d: pd.DataFrame) -> pd.DataFrame:
    """Coverage overall and by size band, placebo rejection, median MDE, wrong-way verdicts, per estimator."""
    d = d.assign(covered=_covered(d), band=_band(d["n_practices"]))
    better_sign = np.where(d["indicator_id"].map(BETTER) == "higher", 1.0, -1.0)
    d["right_way_or_zero"] = d["truth"] * better_sign >= 0
    rows = []
    for (k, dip, est), g in d.groupby(["k", "dip_scenario", "estimator"]):
        r = {"k": k, "dip": dip, "estimator": est, "reps": g["seed"].nunique(), "estimates": len(g),
             "coverage": g["covered"].mean()}
        for _, _, name in BANDS:
            b = g[g["band"] == name]
            r[f"coverage {name}"] = b["covered"].mean() if len(b) else np.nan
            r[f"n {name}"] = len(b)
        nd = g[~g["dip"].astype(bool)]
        r["placebo rejection (no dip)"] = (nd["placebo_p_value"] < 0.05).mean()
        r["placebo defined"] = nd["placebo_p_value"].notna().mean()
        if "dip_p_value" in g and g["dip_p_value"].notna().any():
            r["dip check rejection (no dip)"] = (nd["dip_p_value"] < 0.05).mean()
            r["dip check defined"] = nd["dip_p_value"].notna().mean()
        rw = g[g["right_way_or_zero"]]
        r["worsened (raw)"] = (rw["verdict"] == "worsened").mean()
        r["worsened (shrunk)"] = (rw["verdict_shrunk"] == "worsened").mean()
        r["shrunk coverage"] = ((g["shrunk_lower"] <= g["truth"]) & (g["truth"] <= g["shrunk_upper"])).mean()
        if dip:
            dd = g[g["dip"].astype(bool)]
            scale = g.groupby("indicator_id")["truth"].transform(lambda x: np.mean(np.abs(x)) or 1.0)
            sign = np.where(g["indicator_id"].map(BETTER) == "higher", 1.0, -1.0)
            rel = (g["value"] - g["truth"]) * sign / scale          # + = biased toward improvement
            r["bias toward improvement, dipped (x mean |effect|)"] = rel[g["dip"].astype(bool)].mean()
            r["bias toward improvement, not dipped"] = rel[~g["dip"].astype(bool)].mean()
            r["improved (raw), dipped"] = (dd["verdict"] == "improved").mean()
            r["improved (raw), not dipped"] = (g.loc[~g["dip"].astype(bool), "verdict"] == "improved").mean()
            r["placebo flags dipped"] = (dd["placebo_p_value"] < 0.05).mean()
            r["coverage dipped"] = dd["covered"].mean()
            if "dip_p_value" in g and g["dip_p_value"].notna().any():
                flag = (g["dip_p_value"] < 0.05).to_numpy()
                dip = g["dip"].astype(bool).to_numpy()
                worse_before = (g["dip_value"] * sign < 0).to_numpy()       # the months before were worse
                r["dip check flags dipped"] = flag[dip].mean()
                r["dip check flags dipped, worse before"] = (flag & worse_before)[dip].mean()
                r["dip check flags not dipped"] = flag[~dip].mean()
                r["bias, dipped and flagged"] = rel[dip & flag].mean()
                r["bias, dipped not flagged"] = rel[dip & ~flag].mean()
                r["improved (raw), dipped, without a dip caution"] = (
                    (g["verdict"] == "improved").to_numpy() & ~flag)[dip].mean()
                either = flag | (g["placebo_p_value"] < 0.05).to_numpy()
                r["dipped with either caution"] = either[dip].mean()
                r["not dipped with either caution"] = either[~dip].mean()
        rows.append(r)
    return pd.DataFrame(rows)


def mde_ratio(d: pd.DataFrame) -> pd.DataFrame:
    """Median MDE of the new estimator over the current one's on the same estimates (same seed, cluster)."""
    rows = []
    for k, g in d[~d["dip_scenario"].astype(bool)].groupby("k"):
        a = g[g["estimator"] == "new"].set_index(["seed", "cluster_id", "indicator_id"])["mde"]
        b = g[g["estimator"] == "current"].set_index(["seed", "cluster_id", "indicator_id"])["mde"]
        j = pd.concat([a.rename("new"), b.rename("current")], axis=1, join="inner")
        if len(j):
            ratio = j["new"] / j["current"]
            by = ratio.groupby(level="indicator_id").median()
            # the current estimator made valid: its intervals widened by the factor that gives them 95% coverage
            cur = g[g["estimator"] == "current"]
            r = ((cur["value"] - cur["truth"]).abs() / (cur["upper"] - cur["value"])).to_numpy(float)
            widen = max(1.0, float(np.nanquantile(r, 0.95)))
            rows.append({"k": k, "pairs": len(j), "median MDE new": j["new"].median(),
                         "median MDE current": j["current"].median(),
                         "ratio of medians": j["new"].median() / j["current"].median(),
                         "median of ratios": ratio.median(), "ratio range by indicator":
                         f"{by.min():.2f}-{by.max():.2f}", "current widened to 95%": widen,
                         "median of ratios vs widened current": (ratio / widen).median()})
    return pd.DataFrame(rows)


def mde_ratio_by_indicator(d: pd.DataFrame) -> pd.DataFrame:
    """Median of the per-estimate MDE ratios new / current, by indicator (rows) and k (columns)."""
    out = {}
    for k, g in d[~d["dip_scenario"].astype(bool)].groupby("k"):
        a = g[g["estimator"] == "new"].set_index(["seed", "cluster_id", "indicator_id"])["mde"]
        b = g[g["estimator"] == "current"].set_index(["seed", "cluster_id", "indicator_id"])["mde"]
        r = (a / b).dropna()
        if len(r):
            out[f"k={k}"] = r.groupby(level="indicator_id").median()
    return pd.DataFrame(out)


def base_weights_summary(d: pd.DataFrame) -> pd.DataFrame:
    """Weighted base (``pre="weighted"``): median block weight per indicator over the estimates with a 48-month
    base (parsed from the ``base`` column, e.g. "weighted mean of 48 months (-1: 0.21; -3..-2: 0.05; ...)")."""
    if "base" not in d:
        return pd.DataFrame()
    e = d[(d["estimator"] == "new") & d["base"].astype(str).str.startswith("weighted mean of 48 months")]
    e = e.drop_duplicates(["seed", "k", "indicator_id", "base"])
    rows = []
    for ind, text in zip(e["indicator_id"], e["base"]):
        inner = text[text.index("(") + 1:-1]
        rows.append({"indicator_id": ind, **{p.split(": ")[0]: float(p.split(": ")[1]) for p in inner.split("; ")}})
    return pd.DataFrame(rows).groupby("indicator_id").median() if rows else pd.DataFrame()


def summarise_national(d: pd.DataFrame) -> pd.DataFrame:
    d = d.assign(covered=_covered(d))
    return d.groupby("estimator").agg(reps=("seed", "nunique"), estimates=("covered", "size"),
                                      coverage=("covered", "mean"), mean_se=("se", "mean"),
                                      sd_error=("value", lambda v: np.nan)).drop(columns="sd_error").reset_index()


def summarise(files) -> None:
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    d = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    fmt = {"float_format": lambda v: f"{v:.3f}"}
    if "part" in d and (d["part"] == "national").any():
        nat = d[d["part"] == "national"]
        print("National ATT (simple), small scale")
        print(summarise_national(nat).to_string(index=False, **fmt))
        d = d[d["part"] != "national"]
    if len(d):
        print("\nPer-cluster estimates")
        print(summarise_cluster(d).T.to_string(**fmt))
        print("\nMDE, new vs current (same estimates)")
        print(mde_ratio(d).to_string(index=False, **fmt))
        print("\nMedian MDE ratio new / current by indicator")
        print(mde_ratio_by_indicator(d).to_string(**fmt))
        bw = base_weights_summary(d)
        if len(bw):
            print("\nWeighted base: median block weight (48-month windows; one row per replication, k, indicator "
                  "and distinct base)")
            print(bw.to_string(**fmt))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("cluster", "dip", "national"), default="cluster")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--scale", default=None, help="default: denmark for cluster/dip, small for national")
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--k", type=float, default=0.12, help="cluster-shock SD, multiple of the residual SD")
    ap.add_argument("--region", type=float, default=0.06, help="region-shock SD, multiple of the residual SD")
    ap.add_argument("--rho", type=float, default=0.6)
    ap.add_argument("--pre", default="auto", help="base months, auto (default: the length chosen per indicator) or weighted (block weights "
                         "fitted per indicator)")
    ap.add_argument("--after", type=int, default=12)
    ap.add_argument("--current-every", type=int, default=1,
                    help="run the current estimator on every N-th replication (1 = all)")
    ap.add_argument("--out", default=None, help="CSV of per-replication rows (appended; resumable)")
    ap.add_argument("--summarise", nargs="+", default=None, metavar="CSV")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.summarise:
        summarise(a.summarise)
        return None
    scale = a.scale or ("small" if a.part == "national" else "denmark")
    nz = Nuisance(cluster_shock=a.k, region_shock=a.region, shock_rho=a.rho, dip=a.part == "dip")
    pre = a.pre if a.pre in ("auto", "weighted") else int(a.pre)
    rows = run(a.part, a.reps, scale, a.first_seed, Path(a.out) if a.out else None, nz, pre, a.after,
               max(1, a.current_every), a.quiet)
    if not a.quiet and len(rows):
        if a.part == "national":
            print(summarise_national(rows).to_string(index=False))
        else:
            print(summarise_cluster(rows).T.to_string())
            print(mde_ratio(rows).to_string(index=False))
    return rows


if __name__ == "__main__":
    main()
