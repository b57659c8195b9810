"""Real data: the report's standing against the nation ("better/worse than the nation") on Manchester practices.

The report calls a cluster "better" or "worse than expected" when its last 12 months lie outside the 99.8 %
limits of a cluster-level random-effects funnel around the nation, τ² estimated from the same clusters and
months (``ce.report.descriptive.standing_frame``, which ``descriptive.standing_table`` calls per indicator;
``docs/descriptive.md``, "Standing"). On the synthetic Denmark 2.2 % of rows were called in the ``null``
scenario, where clusters differ only through their practices (target at most 5 %; ``benchmarks/calibration.py``).

Here the same function on real data: the 96 Manchester practices x 60 months (2014-10 .. 2019-09) of
antibiotic items per 1,000 STAR-PU of ``benchmarks/real_placebo.py`` (its loader; the arrays as the analyse
stage holds them, ``real_spc.load``), the 14 PCNs as clusters and the 96 practices (13 in no PCN) as the
nation. Crude rate (no age/sex bands), better = lower. ``counts="events"`` (items are events, as the
catalogue's ``abx_rate``); ``counts="persons"`` beside it, which is what the analyse stage would use for an
indicator id that is not in the catalogue (``counts_by_indicator``), as this one is not.

Windows: the last 12 months (the report's), and every 12-month window of the 60 months (49, one month
apart) as sensitivities. Two sets of clusters:

``real``      the 14 real PCNs (no truth: which PCNs are called, and how far each is from Manchester);
``shuffled``  ``--shuffles`` times the practices dealt to the 14 PCNs at random, sizes kept
              (``real_placebo.shuffle_clusters``; shuffle ``s`` uses ``default_rng([seed, s])``), so the PCNs
              differ only through their practices: the real-data counterpart of the synthetic ``null``.

One CSV row per (set, shuffle, counts, window) with the number of clusters called at 99.8 % (the verdict)
and outside 95 % (shown), overall and by PCN size, and τ̂² (``--out``, written at the end). ``--summarise CSV``
prints the tables of benchmarks/README.md ("Real data: standing against the nation on Manchester practices"),
with bootstrap SEs resampling whole shuffles (each an independent shuffle; the windows of one shuffle are
strongly correlated) and the per-PCN table of the real PCNs.

    CLUSTER_EVAL_SHARED=../shared nice -n 10 python benchmarks/real_standing.py --shuffles 500 \\
        --out outputs/real_standing.csv
    CLUSTER_EVAL_SHARED=../shared python benchmarks/real_standing.py --summarise outputs/real_standing.csv
    python benchmarks/real_standing.py --shuffles 5                         # a quick check (no CSV)
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from real_placebo import BANDS, boot_se, shuffle_clusters  # noqa: E402
from real_spc import load  # noqa: E402

from cluster_eval.report.descriptive import cluster_onehot, standing_frame  # noqa: E402

KIND, BETTER = "rate", "lower"
COUNTS = ("events", "persons")
WINDOW = 12
TARGET = 0.05            # the synthetic null's target: at most 5 % of rows called
BAND_NAMES = tuple(b[2] for b in BANDS)


def band_of(n) -> np.ndarray:
    """The PCN size band (``real_placebo.BANDS``) of each number of practices."""
    n = np.asarray(n, float)
    return np.select([n <= BANDS[0][1], n <= BANDS[1][1]], [BANDS[0][2], BANDS[1][2]], BANDS[2][2])


def windows(n_months: int, width: int = WINDOW) -> list[slice]:
    """Every ``width``-month window of the data, one month apart; the last one is the report's."""
    return [slice(s, s + width) for s in range(n_months - width + 1)]


def frame(num, den, cluster_of_practice, win: slice, counts: str) -> pd.DataFrame:
    """The analyse stage's standing of the clusters of ``cluster_of_practice`` over ``win`` (one row each)."""
    cids = sorted({c for c in cluster_of_practice if c is not None})
    onehot = cluster_onehot(cluster_of_practice, cids)
    t = standing_frame(num, den, onehot, cids, kind=KIND, better=BETTER, counts=counts, window=win)
    t["n_practices"] = onehot.sum(axis=1).astype(int)
    return t


def tally(t: pd.DataFrame) -> dict:
    """Numbers of clusters called at 99.8 % and outside 95 %, overall and by size band, and τ̂²."""
    t = t[t["standing"] != "too few to say"]
    c998 = t["side"].isin(["above", "below"]).to_numpy()
    c95 = t["side_95"].isin(["above", "below"]).to_numpy()
    band = band_of(t["n_practices"])
    row = {"clusters": len(t), "called_998": int(c998.sum()), "called_95": int(c95.sum()),
           "better_998": int((t["standing"] == "better than expected").sum()),
           "worse_998": int((t["standing"] == "worse than expected").sum()),
           "tau2": float(t["tau2"].iloc[0]) if len(t) else np.nan}
    for b in BAND_NAMES:
        m = band == b
        row[f"n {b}"], row[f"called_998 {b}"], row[f"called_95 {b}"] = int(m.sum()), int(c998[m].sum()), \
            int(c95[m].sum())
    return row


def run(shuffles: int, seed: int, quiet: bool = False, path: Path | None = None) -> pd.DataFrame:
    panel, num, den = load(path)
    wins = windows(len(panel.periods))
    rows = []
    t0 = time.time()
    for s in range(-1, shuffles):          # -1: the real PCNs
        cl = panel.cluster_ids if s < 0 else shuffle_clusters(np.random.default_rng([seed, s]), panel).cluster_ids
        for counts in COUNTS:
            for w in wins:
                r = tally(frame(num, den, cl, w, counts))
                rows.append({"set": "real" if s < 0 else "shuffled", "shuffle": s, "counts": counts,
                             "window_start": panel.periods[w.start].strftime("%Y-%m"),
                             "report_window": w.stop == len(panel.periods), **r})
        if not quiet and (s + 1) % 100 == 0 and s >= 0:
            print(f"shuffle {s + 1}/{shuffles}  {time.time() - t0:.0f} s", flush=True)
    return pd.DataFrame(rows).assign(seed=seed)


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------

def _rate(g: pd.DataFrame, called: str, n: str, reps: int = 1000) -> str:
    """``share (bootstrap SE over shuffles)`` of ``called`` / ``n``, summed over rows."""
    tot = g[n].sum()
    if not tot:
        return "—"
    r = g[called].sum() / tot
    se = boot_se(g.assign(_x=g[called] / g[n].where(g[n] > 0)), "_x", "shuffle", reps=reps) \
        if g["shuffle"].nunique() > 1 else np.nan
    # boot_se averages row shares; with equal cluster counts per row it is the SE of the pooled share
    return f"{r:.4f} ({se:.4f})" if np.isfinite(se) else f"{r:.4f}"


def summary_tables(d: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {}
    rows = []
    for (st, counts, rep), g in d.groupby(["set", "counts", "report_window"], sort=False):
        row = {"PCNs": st, "counts": counts, "windows": "last 12 months" if rep else "the other 48",
               "rows": int(g["clusters"].sum()), "shuffles": g["shuffle"].nunique() if st == "shuffled" else "—",
               "called at 99.8 % (the verdict)": _rate(g, "called_998", "clusters"),
               "better": f"{g['better_998'].sum() / g['clusters'].sum():.4f}",
               "worse": f"{g['worse_998'].sum() / g['clusters'].sum():.4f}",
               "outside 95 % (shown)": _rate(g, "called_95", "clusters"),
               "τ̂² = 0": f"{(g['tau2'] <= 0).mean():.3f}",
               "median τ̂²": f"{g['tau2'].median():.3g}"}
        rows.append(row)
    all_w = d.assign(report_window="all 49")
    for (st, counts), g in all_w.groupby(["set", "counts"], sort=False):
        rows.append({"PCNs": st, "counts": counts, "windows": "all 49", "rows": int(g["clusters"].sum()),
                     "shuffles": g["shuffle"].nunique() if st == "shuffled" else "—",
                     "called at 99.8 % (the verdict)": _rate(g, "called_998", "clusters"),
                     "better": f"{g['better_998'].sum() / g['clusters'].sum():.4f}",
                     "worse": f"{g['worse_998'].sum() / g['clusters'].sum():.4f}",
                     "outside 95 % (shown)": _rate(g, "called_95", "clusters"),
                     "τ̂² = 0": f"{(g['tau2'] <= 0).mean():.3f}", "median τ̂²": f"{g['tau2'].median():.3g}"})
    out["overall"] = pd.DataFrame(rows)
    rows = []
    sh = d[d["set"] == "shuffled"]
    for (counts, rep), g in sh.groupby(["counts", "report_window"], sort=False):
        for b in BAND_NAMES:
            rows.append({"counts": counts, "windows": "last 12 months" if rep else "the other 48", "PCN size": b,
                         "rows": int(g[f"n {b}"].sum()),
                         "called at 99.8 %": _rate(g, f"called_998 {b}", f"n {b}"),
                         "outside 95 %": _rate(g, f"called_95 {b}", f"n {b}")})
    out["bands"] = pd.DataFrame(rows)
    rows = []
    for (counts, zero), g in sh.groupby(["counts", sh["tau2"] <= 0], sort=False):
        rows.append({"counts": counts, "τ̂²": "0" if zero else "> 0", "windows x shuffles": len(g),
                     "called at 99.8 %": f"{g['called_998'].sum() / g['clusters'].sum():.4f}",
                     "outside 95 %": f"{g['called_95'].sum() / g['clusters'].sum():.4f}"})
    out["by_tau2"] = pd.DataFrame(rows).sort_values(["counts", "τ̂²"])
    return out


def per_pcn(path: Path | None = None, counts: str = "events") -> pd.DataFrame:
    """The real PCNs: the report window's value, limits and standing, each PCN's distance from Manchester
    (value / the nation's − 1 and its z on the funnel's scale), and the share of the 49 windows it is called."""
    panel, num, den = load(path)
    wins = windows(len(panel.periods))
    frames = [frame(num, den, panel.cluster_ids, w, counts).assign(w=i) for i, w in enumerate(wins)]
    a = pd.concat(frames, ignore_index=True)
    last = frames[-1].set_index("cluster_id")
    nat = np.nansum(num[:, wins[-1]]) / np.nansum(den[:, wins[-1]])
    called = a.assign(c=a["side"].isin(["above", "below"]), c95=a["side_95"].isin(["above", "below"]))
    g = called.groupby("cluster_id")
    t = pd.DataFrame({
        "practices": last["n_practices"],
        "rate (last 12 months)": (1000 * last["value"]).round(2),
        "vs Manchester": (100 * (last["value"] / nat - 1)).round(1).astype(str) + " %",
        "99.8 % limits": [f"{1000 * lo:.1f}-{1000 * hi:.1f}" for lo, hi in zip(last["lower_99_8"],
                                                                            last["upper_99_8"])],
        "standing (last 12 months)": last["standing"],
        "called in the 49 windows": g["c"].mean().round(2),
        "outside 95 %, 49 windows": g["c95"].mean().round(2),
    })
    t.attrs["national"] = 1000 * nat
    t.attrs["tau2"] = float(last["tau2"].iloc[0])
    return t.sort_values("rate (last 12 months)")


def variance_by_size(shuffles: int = 300, seed: int = 2004, path: Path | None = None) -> pd.DataFrame:
    """The null's true between-PCN variance by PCN size against the funnel's one τ̂²: over ``shuffles`` shuffles
    (the run's first ones), the variance of each shuffled PCN's sqrt(O/E) (the funnel's scale) over the last 12
    months, by number of practices, and the mean τ̂² of those funnels."""
    panel, num, den = load(path)
    w = windows(len(panel.periods))[-1]
    target = np.nansum(num[:, w]) / np.nansum(den[:, w])
    parts = []
    for s in range(shuffles):
        cl = shuffle_clusters(np.random.default_rng([seed, s]), panel).cluster_ids
        parts.append(frame(num, den, cl, w, "events").assign(shuffle=s))
    a = pd.concat(parts, ignore_index=True)
    a["y"] = np.sqrt(a["value"] / target)
    t = a.groupby("n_practices")["y"].agg(rows="count", variance="var").reset_index()
    t["mean τ̂²"] = a.groupby("shuffle")["tau2"].first().mean()
    t["limits in true SDs (99.8 %)"] = 3.0902 * np.sqrt(t["mean τ̂²"] / t["variance"])
    return t


def summarise(paths, shared_path: Path | None = None) -> None:
    d = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    d = d.drop_duplicates(["set", "seed", "shuffle", "counts", "window_start"])
    tabs = summary_tables(d)
    print(f"target (synthetic null): at most {TARGET:.0%} of rows called; rates: share (bootstrap SE over shuffles)\n")
    for name, t in tabs.items():
        print(f"## {name}\n")
        print(t.to_markdown(index=False))
        print()
    try:
        for counts in COUNTS:
            t = per_pcn(shared_path, counts)
            print(f"## real PCNs, counts = {counts} (Manchester {t.attrs['national']:.2f} items per 1,000 STAR-PU "
                  f"in the last 12 months; τ̂² = {t.attrs['tau2']:.3g})\n")
            print(t.to_markdown())
            print()
        print("## the null's variance of sqrt(O/E) by PCN size (300 shuffles, last 12 months)\n")
        print(variance_by_size(path=shared_path).to_markdown(index=False, floatfmt=".4g"))
    except FileNotFoundError:
        print("(the data file is not found: no per-PCN table)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shuffles", type=int, default=500, help="random PCN memberships (default 500: about 8 min)")
    ap.add_argument("--seed", type=int, default=2004)
    ap.add_argument("--out", type=Path, help="CSV of one row per (set, shuffle, counts, window)")
    ap.add_argument("--summarise", nargs="+", type=Path, metavar="CSV", help="print the tables of these CSVs")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.summarise:
        summarise(a.summarise)
        return 0
    if a.out is not None and a.out.exists():
        print(f"{a.out} exists; remove it or choose another --out", file=sys.stderr)
        return 2
    t0, c0 = time.time(), time.process_time()
    d = run(a.shuffles, a.seed, a.quiet)
    print(f"{len(d)} rows, {time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        d.to_csv(a.out, index=False)
    print(summary_tables(d)["overall"].to_markdown(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
