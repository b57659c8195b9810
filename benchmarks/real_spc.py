"""Placebo starts on real data: false "signals" of the report's relative SPC chart on Manchester practices.

The report calls a shift of a cluster's observed/expected series relative to the nation after its start a
"signal" (``ce.spc.relative.SIGNAL_RULES``, measured false-signal rate ``FALSE_SIGNAL_RATE`` = 1.5 % on the
synthetic Denmark, ``benchmarks/calibration.py``). Here the same chart is drawn at fake starts on real data:
the 96 Manchester practices x 60 months (2014-10 .. 2019-09) of antibiotic items per 1,000 STAR-PU of
``benchmarks/real_placebo.py`` (its loader and its fake-start draws), grouped by Primary Care Network (14 PCNs;
the 13 practices in no PCN count only for the nation). No PCN did anything at any of these months, so every
signal is a false one in the sense of the report (but see benchmarks/README.md: a PCN that drifts relative to
the nation changes its level relative to the nation, which is what the chart asks).

Each chart is what the analyse stage computes: ``ce.report.descriptive.spc_frame`` (which
``descriptive.spc_tables`` calls per indicator; crude O/E against the nation's rate in the same month,
``ce.spc.relative.relative_charts`` with its defaults, AR(1)-plus-noise structure pooled over the panels of
the call) on the practice x month numerators and denominators exactly as the analyse stage holds them
(``Analysis.matrices_by_indicator``: every row of the measures, also the denominator-0 ones). The nation is the
96 practices. Windows: the report's 24 months before / 24 after (the 60 months allow only the 13 starts
2016-10 .. 2017-10), and 18/18 (25 starts) and 12/12 (37 starts) as sensitivities. Two designs per window:

``every``  every start month once, all 14 PCNs charted at that month in one call (each (PCN, start) once);
``draws``  ``real_placebo.draw_starts``: in each draw a random ``--share`` of the PCNs (default half: 7), each
           at its own uniformly drawn admissible start, charted in one call (as a report pools every cluster
           that took the topic up). φ and λ are pooled over the call's panels: the call's pooled values are
           recorded (columns ``phi``, ``lam``) by wrapping ``relative._pooled_ar1_noise`` without changing it.

``--shuffle-pcns``: before each draw the practices are dealt to the 14 PCNs at random (sizes kept;
``real_placebo.shuffle_clusters``), a control without the PCNs' real shared drifts; ``every`` is then run for
the first ``--every-draws`` draws (each a fresh shuffle). One CSV row per chart (``--out``, written at the end of
each window). ``--summarise CSV`` prints the tables of benchmarks/README.md ("Real data: SPC signals at placebo
starts on Manchester practices"), with bootstrap SEs resampling whole PCNs (real PCNs) or whole draws
(shuffled).

    CLUSTER_EVAL_SHARED=../shared nice -n 10 python benchmarks/real_spc.py --out outputs/real_spc.csv
    CLUSTER_EVAL_SHARED=../shared nice -n 10 python benchmarks/real_spc.py --share 1.0 --out outputs/real_spc_share1.csv
    CLUSTER_EVAL_SHARED=../shared nice -n 10 python benchmarks/real_spc.py --shuffle-pcns --out outputs/real_spc_shuffled.csv
    CLUSTER_EVAL_SHARED=../shared nice -n 10 python benchmarks/real_spc.py --shuffle-pcns --share 1.0 --every-draws 0 \
        --out outputs/real_spc_shuffled_share1.csv
    CLUSTER_EVAL_SHARED=../shared python benchmarks/real_spc.py --summarise outputs/real_spc*.csv
    python benchmarks/real_spc.py --draws 3 --windows 24/24                 # a quick check (no CSV)
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

from real_placebo import (  # noqa: E402
    IND,
    boot_se,
    clusters_of,
    draw_starts,
    load_frames,
    shuffle_clusters,
    start_range,
)

from cluster_eval.impact.panel import build_panels  # noqa: E402
from cluster_eval.report.descriptive import cluster_onehot, observed_expected, spc_frame  # noqa: E402
from cluster_eval.spc import relative  # noqa: E402
from cluster_eval.spc.relative import FALSE_SIGNAL_RATE, RULES, SIGNAL_RULES  # noqa: E402

#: before/after months of the chart: the report's (``descriptive.spc_tables``) and two shorter sensitivities.
WINDOWS = {"24/24": (24, 24), "18/18": (18, 18), "12/12": (12, 12)}
#: The PCNs that drift away from the rest for years (benchmarks/README.md, "Real data: placebo starts on
#: Manchester practices": the per-cluster estimator rejects 0 at 15-21 % of their fake starts).
DRIFTING = ("U78687", "U49529", "U58188")
BETTER = "lower"
PHI_BINS = (0.0, 0.6, 0.75, 0.85, 0.9, 1.0)


def load(path: Path | None = None):
    """(panel, num, den): the Manchester panel (practice and PCN order, months) and the analyse stage's
    practice x month numerator and denominator arrays on it (NaN where a practice-month has no row)."""
    measures, practices, activities, indicators = load_frames(path)
    panel = build_panels(measures, practices, activities, indicators)[IND]
    r = pd.Index(panel.practice_ids).get_indexer(measures["practice_id"].astype(str))
    c = panel.periods.get_indexer(pd.to_datetime(measures["period"]))
    num = np.full(panel.value.shape, np.nan)
    den = np.full(panel.value.shape, np.nan)
    num[r, c] = measures["numerator"].to_numpy(float)
    den[r, c] = measures["denominator"].to_numpy(float)
    return panel, num, den


def chart_starts(rng: np.random.Generator, clusters, n_months: int, before: int, after: int,
                 share: float = 0.5) -> dict:
    """``real_placebo.draw_starts`` for a chart of ``before`` months before the start and ``after`` from it
    (event times -before .. after-1): starts ``before`` .. ``n_months - after``."""
    return draw_starts(rng, clusters, n_months, after=after - 1, min_pre=before, share=share)


def admissible(n_months: int, before: int, after: int) -> range:
    """Every start index whose chart (``before`` months before, ``after`` from it) lies in the data."""
    lo, hi = start_range(n_months, after - 1, before)
    return range(lo, hi + 1)


def charts(num, den, cluster_of_practice, periods, starts: dict, before: int, after: int) -> pd.DataFrame:
    """The analyse stage's relative SPC rules (``spc_frame``) of the clusters in ``starts`` (id -> index)."""
    cids = sorted({c for c in cluster_of_practice if c is not None})
    onehot = cluster_onehot(cluster_of_practice, cids)
    seen = []

    def recording(*args, **kwargs):      # the pooled (phi, lambda) of the call, recorded, not changed
        phi, lam = pooled(*args, **kwargs)
        seen.append((phi, lam))
        return phi, lam

    pooled = relative._pooled_ar1_noise
    relative._pooled_ar1_noise = recording
    try:
        _, rules = spc_frame(num, den, onehot, cids, periods, {c: periods[s] for c, s in starts.items()},
                             before=before, after=after)
    finally:
        relative._pooled_ar1_noise = pooled
    rules = rules.copy()
    if len(seen) == 1 and len(seen[0][0]) == len(rules):     # one value per panel (pooled over the call)
        rules["phi"], rules["lam"] = seen[0]
    rules["start_index"] = rules["cluster_id"].map(starts).astype(int)
    rules["n_practices"] = rules["cluster_id"].map(pd.Series(onehot.sum(axis=1), index=cids)).astype(int)
    good = "below" if BETTER == "lower" else "above"
    rules["reading"] = np.where(rules["signal"], np.where(rules["direction"] == good, "better", "worse"), "")
    return rules


def run(draws: int, seed: int, windows, shuffle: bool, every_draws: int, share: float = 0.5,
        out: Path | None = None, quiet: bool = False) -> pd.DataFrame:
    panel, num, den = load()
    T = len(panel.periods)
    parts = []
    for w in windows:
        before, after = WINDOWS[w]
        t0 = time.time()
        rows = []
        for dr in range(draws):
            rng = np.random.default_rng([seed, dr])
            p = shuffle_clusters(rng, panel) if shuffle else panel
            starts = chart_starts(rng, clusters_of(p), T, before, after, share)
            rows.append(charts(num, den, p.cluster_ids, panel.periods, starts, before, after).assign(
                design="draws", draw=dr))
            if dr < (every_draws if shuffle else 1):
                for s in admissible(T, before, after):
                    st = dict.fromkeys(clusters_of(p), s)
                    rows.append(charts(num, den, p.cluster_ids, panel.periods, st, before, after).assign(
                        design="every", draw=dr))
            if not quiet and (dr + 1) % 100 == 0:
                print(f"{w}: draw {dr + 1}/{draws}  {time.time() - t0:.0f} s", flush=True)
        d = pd.concat(rows, ignore_index=True).assign(window=w, before=before, after=after, seed=seed,
                                                       shuffled=shuffle, share=share)
        d["start"] = panel.periods[d["start_index"].to_numpy()].strftime("%Y-%m")
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            d.to_csv(out, mode="a", header=not out.exists(), index=False)
        parts.append(d)
        if not quiet:
            print(f"{w}: {draws} draws, {len(d)} charts, {time.time() - t0:.0f} s", flush=True)
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------

def drift_table(path: Path | None = None) -> pd.DataFrame:
    """Each PCN's O/E against the nation (``observed_expected``, the charts' series) over the first and the
    last 24 months, its change, and the slope of log O/E (% a year): how much it drifts relative to the nation."""
    panel, num, den = load(path)
    cids = list(clusters_of(panel))
    o, e, _ = observed_expected(num, den, cluster_onehot(panel.cluster_ids, cids))
    first, last = o[:, :24].sum(1) / e[:, :24].sum(1), o[:, -24:].sum(1) / e[:, -24:].sum(1)
    years = np.arange(o.shape[1]) / 12
    slope = [100 * np.polyfit(years, np.log(o[i] / e[i]), 1)[0] for i in range(len(cids))]
    return pd.DataFrame({"O/E first 24 months": first.round(3), "O/E last 24 months": last.round(3),
                         "change %": (100 * (last / first - 1)).round(1), "slope %/year": np.round(slope, 1)},
                        index=pd.Index(cids, name="cluster_id"))


def _prep(d: pd.DataFrame) -> pd.DataFrame:
    d = d[d["reason"].astype(object).fillna("") == ""].copy()
    d.loc[d["design"] == "every", "share"] = 1.0
    d["design"] = np.where(d["design"] == "draws", "draws, " + (d["share"] * 14).round().astype(int).astype(str)
                           + " PCNs", d["design"])
    for col in list(RULES) + ["signal"]:
        d[col] = d[col].astype(str).str.lower().eq("true").astype(float)
    d["better"] = (d["reading"] == "better").astype(float)
    d["worse"] = (d["reading"] == "worse").astype(float)
    d["drifting"] = d["cluster_id"].isin(DRIFTING)
    d["pair"] = d["cluster_id"].astype(str) + "@" + d["start_index"].astype(str)
    return d


def rate(d: pd.DataFrame, col: str, unit: str) -> str:
    """``rate (binomial SE / bootstrap SE over unit)``; the bootstrap one is the honest one."""
    n = len(d)
    if not n:
        return "—"
    r = float(d[col].mean())
    return f"{r:.3f} ({np.sqrt(r * (1 - r) / n):.3f} / {boot_se(d, col, unit, reps=1000):.3f})"


def summary_tables(d: pd.DataFrame) -> dict[str, pd.DataFrame]:
    d = _prep(d)
    out = {}
    rows = []
    for (sh, w, des), g in d.groupby(["shuffled", "window", "design"], sort=False):
        unit = "draw" if sh else "cluster_id"
        rows.append({"PCNs": "shuffled" if sh else "real", "window": w, "design": des, "charts": len(g),
                     "starts": f"{g['start'].min()} .. {g['start'].max()} ({g['start_index'].nunique()})",
                     "signal": rate(g, "signal", unit), "better": rate(g, "better", unit),
                     "worse": rate(g, "worse", unit),
                     "beyond 3σ": f"{g['beyond_limits'].mean():.3f}", "2 of 3": f"{g['two_of_three'].mean():.3f}",
                     "runs": f"{g['runs'].mean():.3f}", "Laney u′": f"{(g['chart'] == 'up').mean():.2f}"})
    out["overall"] = pd.DataFrame(rows)
    real = d[~d["shuffled"].astype(str).str.lower().eq("true")]
    rows = []
    for (w, des), g in real.groupby(["window", "design"], sort=False):
        st = g[~g["drifting"]]
        top = st.groupby("cluster_id")["signal"].mean().idxmax()
        nsig = g["signal"].sum()
        rows.append({"window": w, "design": des, "signals": int(nsig),
                     "from the 3 drifting PCNs": f"{g.loc[g['drifting'], 'signal'].sum() / nsig:.2f}" if nsig else "—",
                     "drifting PCNs: signal": rate(g[g["drifting"]], "signal", "cluster_id"),
                     "other 11 PCNs: signal": rate(st, "signal", "cluster_id"),
                     "other 11: better": rate(st, "better", "cluster_id"),
                     "other 11: worse": rate(st, "worse", "cluster_id"),
                     "other 11: PCNs with any signal": int((st.groupby("cluster_id")["signal"].max() > 0).sum()),
                     "other 11 but their most-signalling PCN": f"{top}: " + rate(st[st["cluster_id"] != top], "signal",
                                                                                  "cluster_id")})
    out["drifting"] = pd.DataFrame(rows)
    rows = []
    if "phi" in d:      # the signal rate by the pooled AR(1) coefficient of the call
        dr = d[d["design"].str.startswith("draws")]
        for (sh, w, des), g in dr.groupby(["shuffled", "window", "design"], sort=False):
            bins = pd.cut(g["phi"], PHI_BINS, right=False)
            for b, h in g.groupby(bins, observed=True):
                rows.append({"PCNs": "shuffled" if sh else "real", "window": w, "design": des,
                             "pooled phi": str(b), "charts": len(h),
                             "calls": h["draw"].nunique(), "mean lambda": round(float(h["lam"].mean()), 2),
                             "signal": round(float(h["signal"].mean()), 3)})
    out["by_phi"] = pd.DataFrame(rows)
    per = []
    for (w, des), g in real.groupby(["window", "design"], sort=False):
        t = g.groupby("cluster_id").agg(practices=("n_practices", "first"), charts=("signal", "size"),
                                        signal=("signal", "mean"), better=("better", "mean"),
                                        worse=("worse", "mean"))
        per.append(t.assign(window=w, design=des).reset_index())
    out["per_pcn"] = pd.concat(per, ignore_index=True) if per else pd.DataFrame()
    return out


def summarise(paths) -> None:
    d = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    # the deterministic "every" design is in each run with real PCNs: keep it once
    every = d["design"] == "every"
    d = pd.concat([d[~every], d[every].drop_duplicates(["shuffled", "window", "draw", "cluster_id", "start_index"])],
                  ignore_index=True)
    d["shuffled"] = d["shuffled"].astype(str).str.lower().eq("true")
    tabs = summary_tables(d)
    print(f"stated false-signal rate (FALSE_SIGNAL_RATE): {FALSE_SIGNAL_RATE}; signal rules: {SIGNAL_RULES}")
    print("rates: rate (binomial SE / bootstrap SE over PCNs (real) or draws (shuffled))\n")
    for name in ("overall", "drifting", "by_phi"):
        print(f"## {name}\n")
        print(tabs[name].to_markdown(index=False))
        print()
    pp = tabs["per_pcn"]
    if len(pp):
        print("## per PCN (signal / better / worse)\n")
        wide = pp.assign(cell=pp.apply(lambda r: f"{r['signal']:.2f} / {r['better']:.2f} / {r['worse']:.2f}",
                                       axis=1))
        wide = wide.pivot_table(index=["cluster_id", "practices"], columns=["window", "design"], values="cell",
                                aggfunc="first")
        try:
            wide.columns = [" ".join(c) for c in wide.columns]
            wide = wide.reset_index().set_index("cluster_id").join(drift_table())
        except FileNotFoundError:
            pass
        print(wide.to_markdown())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=1000, help="draws of fake starts per window (default 1000)")
    ap.add_argument("--seed", type=int, default=2004)
    ap.add_argument("--windows", nargs="+", default=list(WINDOWS), choices=list(WINDOWS))
    ap.add_argument("--share", type=float, default=0.5, help="share of the PCNs started in a draw (default 0.5)")
    ap.add_argument("--shuffle-pcns", action="store_true", help="deal the practices to the PCNs at random first")
    ap.add_argument("--every-draws", type=int, default=40,
                    help="with --shuffle-pcns: draws (shuffles) for which every start is charted (default 40)")
    ap.add_argument("--out", type=Path, help="CSV of one row per chart (appended)")
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
    d = run(a.draws, a.seed, a.windows, a.shuffle_pcns, a.every_draws, a.share, a.out, a.quiet)
    print(f"{len(d)} charts, {time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")
    if a.out is None:
        d["shuffled"] = a.shuffle_pcns
        print(summary_tables(d)["overall"].to_markdown(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
