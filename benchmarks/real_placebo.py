"""Placebo starts on real data: size, MDE and false verdicts of the per-cluster estimators on Manchester practices.

A placebo-in-time-and-space validation (Bertrand, Duflo & Mullainathan 2004). The data: 96 Manchester
practices x 60 months (2014-10 .. 2019-09) of antibiotic items per 1,000 STAR-PU (OpenPrescribing), grouped
by Primary Care Network (PCN, England's counterpart of a Danish quality cluster; practices without a PCN are
comparison practices only). No PCN did anything, so every true effect is 0. In each draw (seeded) a random
``--share`` of the PCNs gets a fake start month drawn uniformly from ``--min-pre .. 59 - --after`` (every fake
start has its full post window 0..after and at least ``--min-pre`` months before it; the estimators cut their
pre windows to the data), the other PCNs never start. On the same draws:

``premean-weighted``  ``cluster_effects_premean(pre="weighted", after=12)`` (the shipped estimator)
``premean-auto``      ``cluster_effects_premean(pre="auto", after=12)``
``premean-weighted-practice-only``  the same with ``min_placebos`` out of reach, i.e. the shipped fallback
                      for too few placebo estimates: ``se_basis = "practice only"`` (no cluster-level
                      component) and equal weights on the base months (what it does to size)
``current``           ``cluster_effects(before=12, after=12)`` (single base month, practice-level variance)
``national``          ``national_effects`` (default SEs: by cluster, treated terms modelled), ``max_e=12``

One CSV row per estimate and draw, appended after every draw (an interrupted run resumes: draws already in
the file are skipped). ``--summarise`` prints the tables of benchmarks/README.md ("Real data: placebo starts
on Manchester practices"). Monte-Carlo SEs: the draws share the same 14 PCNs and 60 months, so the estimates
are far from independent; each rate gets the binomial SE (as if independent: too small), and bootstrap SEs
resampling whole draws, distinct (PCN, start month) pairs, and PCNs (all rows of a resampled unit together).

    nice -n 10 python benchmarks/real_placebo.py --draws 300 --out outputs/real_placebo.csv
    python benchmarks/real_placebo.py --summarise outputs/real_placebo.csv
    nice -n 10 python benchmarks/real_placebo.py --draws 1000 --shuffle-pcns --out outputs/real_placebo_shuffled.csv
    python benchmarks/real_placebo.py --draws 2 --quiet                  # a quick check (no CSV)

The data file is read in place from ``$CLUSTER_EVAL_SHARED/data/real`` (default ``../shared``).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cluster_eval.impact.cluster import cluster_effects  # noqa: E402
from cluster_eval.impact.cluster_premean import MIN_PLACEBOS, cluster_effects_premean  # noqa: E402
from cluster_eval.impact.multiplicity import verdict  # noqa: E402
from cluster_eval.impact.national import national_effects  # noqa: E402
from cluster_eval.impact.panel import IndicatorPanel, build_panels  # noqa: E402

DATA = "data/real/manchester_practice_month_antibiotics_with_pcn.csv"
IND = "abx_items_per_starpu"
BETTER = "lower"
ESTIMATORS = ("premean-weighted", "premean-auto", "premean-weighted-practice-only", "current")
#: PCN size bands (practices): the Manchester PCNs have 3 to 9 practices.
BANDS = ((0, 4, "3-4"), (5, 7, "5-7"), (8, 10_000, "8-9"))


def shared_dir() -> Path:
    env = os.environ.get("CLUSTER_EVAL_SHARED")
    return Path(env) if env else ROOT.parent / "shared"


def load_frames(path: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """The Manchester data as the package's tables: (measures, practices, activities (none), indicators)."""
    path = Path(path) if path is not None else shared_dir() / DATA
    d = pd.read_csv(path)
    measures = pd.DataFrame({"indicator_id": IND, "practice_id": d["practice_id"], "period": d["date"],
                             "numerator": d["antibiotic_items"], "denominator": d["star_pu"]})
    practices = d[["practice_id", "pcn_code"]].drop_duplicates("practice_id").rename(
        columns={"pcn_code": "cluster_id"})
    activities = pd.DataFrame({"cluster_id": pd.Series(dtype=object), "topic": pd.Series(dtype=object),
                               "start": pd.Series(dtype="datetime64[ns]")})
    indicators = {IND: {"topic": "antibiotics", "multiplier": 1000.0, "kind": "rate"}}
    return measures, practices, activities, indicators


def load_panel(path: Path | None = None) -> IndicatorPanel:
    """The Manchester panel (antibiotic items per 1,000 STAR-PU, practice x month) with no cluster started."""
    return build_panels(*load_frames(path))[IND]


def clusters_of(panel: IndicatorPanel) -> np.ndarray:
    """The PCNs (sorted), without the practices in no PCN."""
    return np.array(sorted({c for c in panel.cluster_ids if c is not None}), dtype=object)


def start_range(n_months: int, after: int, min_pre: int) -> tuple[int, int]:
    """First and last admissible fake start index: ``min_pre`` months before it, ``after`` + 1 months from it."""
    lo, hi = int(min_pre), int(n_months) - 1 - int(after)
    if hi < lo:
        raise ValueError(f"{n_months} months leave no start with {min_pre} months before and {after} after")
    return lo, hi


def draw_starts(rng: np.random.Generator, clusters, n_months: int, *, after: int = 12, min_pre: int = 12,
                share: float = 0.5) -> dict:
    """One draw: ``round(share * K)`` random clusters, each with a start index uniform on :func:`start_range`."""
    lo, hi = start_range(n_months, after, min_pre)
    k = int(round(share * len(clusters)))
    chosen = rng.choice(np.asarray(clusters, dtype=object), size=k, replace=False)
    return {c: int(s) for c, s in zip(sorted(chosen), rng.integers(lo, hi + 1, size=k))}


def with_starts(panel: IndicatorPanel, starts: dict) -> IndicatorPanel:
    """``panel`` with ``starts`` (cluster id -> start index) as its clusters' starts; the others never start."""
    start_index = np.array([starts.get(c, np.inf) if c is not None else np.inf for c in panel.cluster_ids], float)
    cs = pd.DataFrame({"cluster_id": list(starts),
                       "start": [panel.periods[s] for s in starts.values()],
                       "start_index": np.array(list(starts.values()), float)})
    return dataclasses.replace(panel, start_index=start_index, cluster_start=cs)


def shuffle_clusters(rng: np.random.Generator, panel: IndicatorPanel) -> IndicatorPanel:
    """``panel`` with its PCN members permuted at random (PCN sizes kept; practices in no PCN stay so)."""
    cl = panel.cluster_ids.copy()
    inside = np.flatnonzero(np.array([c is not None for c in cl]))
    cl[inside] = cl[rng.permutation(inside)]
    return dataclasses.replace(panel, cluster_ids=cl)


def one_draw(panel: IndicatorPanel, draw: int, seed: int, after: int, min_pre: int, share: float,
             national: bool = True, shuffle: bool = False) -> list[dict]:
    """All estimators on one draw of fake starts: one row per estimate (and one national row).

    ``shuffle``: first give the PCNs random members (:func:`shuffle_clusters`), a control in which the
    clusters share no shocks.
    """
    rng = np.random.default_rng([seed, draw])
    if shuffle:
        panel = shuffle_clusters(rng, panel)
    starts = draw_starts(rng, clusters_of(panel), panel.value.shape[1], after=after, min_pre=min_pre, share=share)
    panels = {IND: with_starts(panel, starts)}
    rows = []
    fits = {}
    t0 = time.process_time()
    fits["premean-weighted"] = cluster_effects_premean(panels=panels, pre="weighted", after=after,
                                                       event_study=False).effects
    t1 = time.process_time()
    fits["premean-auto"] = cluster_effects_premean(panels=panels, pre="auto", after=after,
                                                   event_study=False).effects
    t2 = time.process_time()
    fits["premean-weighted-practice-only"] = cluster_effects_premean(
        panels=panels, pre="weighted", after=after, event_study=False, min_placebos=10**9).effects
    t2b = time.process_time()
    fits["current"] = cluster_effects(None, None, None, None, before=12, after=after, panels=panels).effects
    t3 = time.process_time()
    cpu = {"premean-weighted": t1 - t0, "premean-auto": t2 - t1, "premean-weighted-practice-only": t2b - t2,
           "current": t3 - t2b}
    for name, e in fits.items():
        e = e[e["estimable"]].copy()
        if e.empty:
            continue
        e["verdict"] = verdict(e["lower"], e["upper"], e["mde"], BETTER)
        for r in e.itertuples(index=False):
            rows.append({"seed": seed, "draw": draw, "estimator": name, "cluster_id": r.cluster_id,
                         "start_index": starts[r.cluster_id], "n_practices": r.n_practices,
                         "n_control": r.n_control, "n_pre": getattr(r, "n_pre", np.nan),
                         "value": r.value, "se": r.se, "lower": r.lower, "upper": r.upper, "mde": r.mde,
                         "df": getattr(r, "df", np.nan), "placebo_p_value": r.placebo_p_value,
                         "pre_p_value": r.pre_p_value,
                         "dip_p_value": getattr(r, "dip_p_value", np.nan),
                         "se_basis": getattr(r, "se_basis", "practice only"),
                         "n_placebos": getattr(r, "n_placebos", np.nan),
                         "var_cluster": getattr(r, "var_cluster", np.nan),
                         "verdict": r.verdict, "cpu": cpu[name]})
    if national:
        t4 = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n = national_effects(None, None, None, None, panels=panels, max_e=after, keep_results=False).effects
        cpu_n = time.process_time() - t4
        for r in n.itertuples(index=False):
            rows.append({"seed": seed, "draw": draw, "estimator": "national", "cluster_id": "",
                         "start_index": np.nan, "n_practices": r.n_practices, "value": r.value, "se": r.se,
                         "lower": r.lower, "upper": r.upper, "df": r.df, "se_basis": "by cluster",
                         "cpu": cpu_n})
    return rows


def run(draws: int, seed: int, out: Path | None, after: int, min_pre: int, share: float, national: bool,
        quiet: bool, shuffle: bool = False) -> pd.DataFrame:
    panel = load_panel()
    done = set()
    if out is not None and out.exists():
        done = set(pd.read_csv(out, usecols=["draw"])["draw"].unique())
    parts = []
    t0 = time.time()
    for dr in range(draws):
        if dr in done:
            continue
        df = pd.DataFrame(one_draw(panel, dr, seed, after, min_pre, share, national, shuffle))
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            df.to_csv(out, mode="a", header=not out.exists(), index=False)
        else:
            parts.append(df)
        if not quiet and (dr + 1) % 10 == 0:
            print(f"draw {dr + 1}/{draws}  {time.time() - t0:.0f} s", flush=True)
    if out is not None:
        return pd.read_csv(out)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------

def _band(n):
    n = np.asarray(n, float)
    return np.select([n <= BANDS[0][1], n <= BANDS[1][1]], [BANDS[0][2], BANDS[1][2]], BANDS[2][2])


def boot_se(d: pd.DataFrame, col: str, unit: str, reps: int = 400, seed: int = 1) -> float:
    """Bootstrap SE of the mean of ``col`` resampling whole ``unit`` groups (all their rows together)."""
    g = d.groupby(unit, sort=False)[col].agg(["sum", "count"])
    s, c = g["sum"].to_numpy(float), g["count"].to_numpy(float)
    if len(s) < 2:
        return np.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(s), size=(reps, len(s)))
    return float(np.std(s[idx].sum(1) / c[idx].sum(1), ddof=1))


def rate_row(d: pd.DataFrame, col: str) -> dict:
    x = d[col].dropna().astype(float)
    dd = d.loc[x.index].copy()
    n = len(x)
    r = float(x.mean()) if n else np.nan
    return {"n": n, "rate": r, "se_binom": float(np.sqrt(r * (1 - r) / n)) if n else np.nan,
            "se_draws": boot_se(dd, col, "draw") if n else np.nan,
            "se_pairs": boot_se(dd, col, "pair") if n else np.nan,
            "se_pcns": boot_se(dd, col, "cluster_id") if n else np.nan}


def _prep(d: pd.DataFrame) -> pd.DataFrame:
    d = d.copy()
    d["reject"] = ((d["lower"] > 0) | (d["upper"] < 0)).astype(float)
    d.loc[d[["lower", "upper"]].isna().any(axis=1), "reject"] = np.nan
    if "placebo_p_value" in d:
        # the current estimator's Hotelling placebo is undefined at 11 or fewer practices (every PCN): its
        # t-test of the average pre-period effect (pre_p_value) stands in for it
        pp = d["placebo_p_value"].where(d["estimator"] != "current", d["pre_p_value"])
        d["placebo_reject"] = np.where(pp.notna(), pp < 0.05, np.nan)
        d["hotelling_defined"] = d["placebo_p_value"].notna().astype(float)
        d["dip_reject"] = np.where(d["dip_p_value"].notna(), (d["dip_p_value"] < 0.05), np.nan)
        d["worsened"] = (d["verdict"] == "worsened").astype(float)
        d["improved"] = (d["verdict"] == "improved").astype(float)
        d["cluster_part"] = (d["se_basis"] == "practice + cluster").astype(float)
    d["pair"] = d["cluster_id"].astype(str) + "@" + d["start_index"].astype(str)
    d["band"] = _band(d["n_practices"])
    return d


def _fmt(r: dict) -> str:
    if not r["n"]:
        return "—"
    return f"{r['rate']:.3f} ({r['se_binom']:.3f} / {r['se_draws']:.3f} / {r['se_pairs']:.3f} / {r['se_pcns']:.3f})"


def summary_tables(d: pd.DataFrame) -> dict[str, pd.DataFrame]:
    d = _prep(d)
    c = d[d["estimator"] != "national"]
    out = {}
    rows = []
    for est, g in c.groupby("estimator", sort=False):
        rows.append({"estimator": est, "estimates": len(g), "draws": g["draw"].nunique(),
                     "distinct (PCN, start)": g["pair"].nunique(),
                     "distinct values": g["value"].round(10).nunique(),
                     "reject effect = 0": _fmt(rate_row(g, "reject")),
                     "placebo test rejects": _fmt(rate_row(g, "placebo_reject")),
                     "dip check rejects": _fmt(rate_row(g, "dip_reject")),
                     "worsened": _fmt(rate_row(g, "worsened")), "improved": _fmt(rate_row(g, "improved")),
                     "median MDE": float(g["mde"].median()),
                     "cluster part estimated": float(g["cluster_part"].mean()),
                     "median n_pre": float(g["n_pre"].median()) if g["n_pre"].notna().any() else np.nan})
    out["overall"] = pd.DataFrame(rows)
    rows = []
    for (est, band), g in c.groupby(["estimator", "band"], sort=False):
        rows.append({"estimator": est, "band": band, "estimates": len(g), "PCNs": g["cluster_id"].nunique(),
                     "reject effect = 0": _fmt(rate_row(g, "reject")),
                     "placebo test rejects": _fmt(rate_row(g, "placebo_reject")),
                     "dip check rejects": _fmt(rate_row(g, "dip_reject")),
                     "median MDE": float(g["mde"].median())})
    out["bands"] = pd.DataFrame(rows).sort_values(["estimator", "band"], kind="stable")
    rows = []
    for (est, basis), g in c[c["estimator"].str.startswith("premean")].groupby(["estimator", "se_basis"], sort=False):
        rows.append({"estimator": est, "se_basis": basis, "estimates": len(g),
                     "share": len(g) / (c["estimator"] == est).sum(),
                     "median n_placebos": float(g["n_placebos"].median()),
                     "reject effect = 0": _fmt(rate_row(g, "reject")), "median se": float(g["se"].median())})
    out["se_basis"] = pd.DataFrame(rows)
    # n_pre used, by estimator
    npre = (c[c["estimator"].str.startswith("premean")].groupby(["estimator", "n_pre"]).size()
            .rename("estimates").reset_index())
    out["n_pre"] = npre
    rows = []
    for (est, npr), g in c[c["estimator"].isin(["premean-weighted", "premean-auto"])].groupby(
            ["estimator", "n_pre"], sort=True):
        rows.append({"estimator": est, "n_pre": int(npr), "estimates": len(g),
                     "reject effect = 0": _fmt(rate_row(g, "reject")),
                     "placebo test rejects": _fmt(rate_row(g, "placebo_reject")),
                     "dip check rejects": _fmt(rate_row(g, "dip_reject"))})
    out["by_n_pre"] = pd.DataFrame(rows)
    # what a reader sees: false "effect" verdicts with and without a placebo / dip caution beside them
    rows = []
    for est, g in c.groupby("estimator", sort=False):
        flag = g["placebo_reject"].fillna(0).astype(bool)
        caution = flag | g["dip_reject"].fillna(0).astype(bool) if "dip_reject" in g else flag
        rej = g["reject"].fillna(0).astype(bool)
        rows.append({"estimator": est, "reject where the placebo flags": float(rej[flag].mean()),
                     "reject where it does not": float(rej[~flag].mean()),
                     "caution (placebo or dip flag)": float(caution.mean()),
                     "reject without a caution": float((rej & ~caution).mean())})
    out["reader"] = pd.DataFrame(rows)
    # one PCN at a time: rejection of effect = 0 and the placebo test, and mean (value/se)^2
    pc = c.assign(z2=(c["value"] / c["se"]) ** 2)
    t = pc.pivot_table(index=["cluster_id", "n_practices"], columns="estimator",
                       values=["reject", "placebo_reject", "z2"], aggfunc="mean")
    keep = [e for e in ("premean-weighted", "current") if e in set(c["estimator"])]
    t = t.loc[:, [(v, e) for v in ("reject", "placebo_reject", "z2") for e in keep]]
    t.columns = [f"{v} {e}" for v, e in t.columns]
    out["per_pcn"] = t.reset_index().sort_values(["n_practices", "cluster_id"])
    # MDE ratio new / current on the same (draw, cluster)
    cur = c[c["estimator"] == "current"].set_index(["draw", "cluster_id"])
    rows = []
    for est in ("premean-weighted", "premean-auto", "premean-weighted-practice-only"):
        if est not in set(c["estimator"]):
            continue
        n = c[c["estimator"] == est].set_index(["draw", "cluster_id"])
        j = n[["mde"]].merge(cur[["mde"]].rename(columns={"mde": "mde_cur"}), left_index=True,
                             right_index=True, how="inner")
        ratio = j["mde"] / j["mde_cur"]
        rows.append({"estimator": est, "pairs": len(j), "median MDE new": float(j["mde"].median()),
                     "median MDE current": float(j["mde_cur"].median()),
                     "median of ratios": float(ratio.median()),
                     "ratio of medians": float(j["mde"].median() / j["mde_cur"].median()),
                     "share ratio < 0.6": float((ratio < 0.6).mean())})
    out["mde_ratio"] = pd.DataFrame(rows)
    nat = d[d["estimator"] == "national"]
    if len(nat):
        r = rate_row(nat, "reject")
        out["national"] = pd.DataFrame([{"draws": len(nat), "reject ATT = 0": r["rate"], "se_binom": r["se_binom"],
                                         "median se": float(nat["se"].median()),
                                         "sd of estimates": float(nat["value"].std()),
                                         "median df": float(nat["df"].median())}])
    # spread of the estimates against their SEs: sd(value)/median(se) per estimator
    out["calibration"] = pd.DataFrame([
        {"estimator": est, "sd of estimates": float(g["value"].std()), "median se": float(g["se"].median()),
         "mean of (value/se)^2": float(((g["value"] / g["se"]) ** 2).mean()),
         "CPU s per draw": float(g.drop_duplicates("draw")["cpu"].mean())}
        for est, g in c.groupby("estimator", sort=False)])
    return out


def summarise(files) -> None:
    d = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    tabs = summary_tables(d)
    print("Rates: value (binomial SE / bootstrap SE over draws / over (PCN, start) pairs / over PCNs)")
    for k, t in tabs.items():
        print(f"\n## {k}\n")
        print(t.to_markdown(index=False, floatfmt=".3g"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--seed", type=int, default=2004)
    ap.add_argument("--after", type=int, default=12)
    ap.add_argument("--min-pre", type=int, default=12, help="fewest months before a fake start (default 12)")
    ap.add_argument("--share", type=float, default=0.5, help="share of the PCNs given a fake start")
    ap.add_argument("--no-national", action="store_true")
    ap.add_argument("--shuffle-pcns", action="store_true",
                    help="control: random PCN members in every draw (sizes kept), so PCNs share no shocks")
    ap.add_argument("--out", default=None, help="CSV of per-draw rows (appended; resumable)")
    ap.add_argument("--summarise", nargs="+", default=None, metavar="CSV")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.summarise:
        summarise(a.summarise)
        return 0
    print(f"MIN_PLACEBOS = {MIN_PLACEBOS}", flush=True)
    d = run(a.draws, a.seed, Path(a.out) if a.out else None, a.after, a.min_pre, a.share, not a.no_national,
            a.quiet, a.shuffle_pcns)
    tabs = summary_tables(d)
    for k, t in tabs.items():
        print(f"\n## {k}\n")
        print(t.to_markdown(index=False, floatfmt=".3g"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
