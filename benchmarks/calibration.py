"""Calibration of the report's descriptive claims on the synthetic Denmark: SPC signals and standing.

For each seed the synthetic data are generated (``simulate(scale, seed)``) and, for the three rate
indicators the generator gives an age-sex profile, split into sex x age-band cells
(``ce.synthetic.casemix``). Then, as the analyse stage does:

**SPC relative to the nation** (``ce.spc.relative.relative_charts``): per cluster and indicator the O/E
series (E from each month's national band rates for banded indicators, the cluster's denominator times the
nation's value otherwise), 24 months before and 24 after a start, baseline frozen on the months before,
Laney's u′ where overdispersed. Three panel sets:

* ``never``: topics the cluster never took up (true effect 0), at a start drawn uniformly from the uptake
  window;
* ``fake_pre``: topics taken up, at a fake start 24 months before the true start (its 24 months "after"
  end the month before the true start: true effect 0);
* ``taken``: the true start. Detection is counted where the mean true effect over months 0-12 is at least
  2x the per-cluster minimum detectable effect (``ce.impact.cluster_effects``' ``mde``), and the rule fired
  in the better direction.

Beside it, the old run chart (crude cluster series, centre = median of all months before the start, Anhøj
rules on all months from the start) on the same panels.

**Standing** (``ce.stats.standing``): each cluster's last 12 months against the nation, random-effects
limits with tau² from the same 12 months, verdict at 99.8 %; crude and (banded indicators) standardised;
and the old method (Wilson / Byar's 95 % interval of 12 summed months vs the national value).

Scenarios: ``default`` (the generator as it is), ``null`` (no true differences between clusters beyond
practice variation and case mix: cluster and region random effects 0, true effects 0) and ``large`` (the
default with every mean effect times :data:`LARGE` = 3, for the detection rate of effects >= 2x the MDE).

    .venv/bin/python benchmarks/calibration.py --scale denmark --seeds 0 1 --scenario default null --out rows
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cluster_eval.impact.cluster import cluster_effects  # noqa: E402
from cluster_eval.report.descriptive import observed_expected, standing_frame  # noqa: E402
from cluster_eval.spc.relative import RULES, relative_charts  # noqa: E402
from cluster_eval.spc.runs import runs_analysis  # noqa: E402
from cluster_eval.stats import proportion_ci, rate_ci  # noqa: E402
from cluster_eval.synthetic import generator  # noqa: E402
from cluster_eval.synthetic.casemix import banded_arrays, banded_indicator_ids  # noqa: E402

BEFORE, AFTER = 24, 24
SCALE = ["denmark"]   # set by main()
VARIANTS = ("moving_range", "baseline_sd", "autocorrelated", "ar1_noise")
#: Effect multiplier of the ``large`` scenario (more panels with effects of at least 2x the MDE for detection).
LARGE = 3.0


def catalogue_meta():
    """id -> (kind, better, counts) from the catalogue (counts: events or persons)."""
    from cluster_eval.indicators import load_catalogue
    from cluster_eval.stats.standing import counts_kind

    return {k: (v.kind, v.better, counts_kind(v)) for k, v in load_catalogue().items()}


@contextlib.contextmanager
def scaled_effects(factor: float):
    """The generator with every indicator's mean effect times ``factor`` (restored afterwards); the
    generator's headroom cap still applies, and the dips before some starts scale with the effect."""
    saved = generator.INDICATORS
    generator.INDICATORS = tuple(dataclasses.replace(s, model=dataclasses.replace(s.model, effect=s.model.effect * factor))
                                 for s in saved)
    try:
        yield
    finally:
        generator.INDICATORS = saved


@contextlib.contextmanager
def null_scenario():
    """The generator without cluster or region differences and without effects (restored afterwards)."""
    saved = generator.INDICATORS
    off = dict(sd_cluster=1e-12, sd_region=0.0, effect=0.0)
    generator.INDICATORS = tuple(dataclasses.replace(s, model=dataclasses.replace(s.model, **off))
                                 if hasattr(s, "model") else dataclasses.replace(s, **off) for s in saved)
    try:
        yield
    finally:
        generator.INDICATORS = saved


def simulate(scale, seed, scenario):
    """The generator's data; ``null``: also no cluster or region shocks (nuisances, where the generator has them)."""
    import inspect

    kwargs = {}
    if scenario == "null" and "nuisances" in inspect.signature(generator.simulate).parameters:
        from cluster_eval.synthetic.nuisance import Nuisance

        kwargs["nuisances"] = Nuisance(cluster_shock=0.0, region_shock=0.0, variation_share=0.0)
    ctx = {"null": null_scenario, "large": lambda: scaled_effects(LARGE)}.get(scenario, contextlib.nullcontext)
    with ctx():
        return generator.simulate(scale, seed, **kwargs)


class Data:
    """Practice x month matrices and their cluster and national sums."""

    def __init__(self, ds):
        self.ds = ds
        self.banded = {}
        self.pids = pd.Index(ds.practices["practice_id"].astype(str))
        self.periods = pd.DatetimeIndex(sorted(ds.measures["period"].unique()))
        cl = ds.practices["cluster_id"].astype(object)
        self.cluster_ids = pd.Index(sorted(ds.clusters["cluster_id"].astype(str)))
        self.ci = self.cluster_ids.get_indexer(cl.where(cl.notna(), "").astype(str))
        self.onehot = np.zeros((len(self.cluster_ids), len(self.pids)))
        self.onehot[self.ci[self.ci >= 0], np.flatnonzero(self.ci >= 0)] = 1.0

    def matrices(self, iid):
        m = self.ds.measures[self.ds.measures["indicator_id"] == iid]
        r, c = self.pids.get_indexer(m["practice_id"]), self.periods.get_indexer(m["period"])
        num = np.full((len(self.pids), len(self.periods)), np.nan)
        den = np.full_like(num, np.nan)
        num[r, c], den[r, c] = m["numerator"].to_numpy(float), m["denominator"].to_numpy(float)
        return num, den

    def cluster_sums(self, a):
        return self.onehot @ np.nan_to_num(a)


def banded_tuple(d: Data, iid, seed):
    """The synthetic banded counts of one indicator in :func:`cluster_eval.report.descriptive.banded_matrices`' form."""
    key = (iid, seed)
    if key not in d.banded:
        a = banded_arrays(d.ds, iid, seed)
        assert (a.practice_ids == d.pids.to_numpy()).all() and (a.periods == d.periods).all()
        d.banded[key] = (a.numerator, a.denominator, pd.DataFrame({"sex": a.cell_sex, "age_band": a.cell_band}))
    return d.banded[key]


# --- standing -------------------------------------------------------------------------------------------

def standing_rows(d: Data, meta, seed, scenario, banded) -> list[dict]:
    rows = []
    win = slice(len(d.periods) - 12, len(d.periods))
    for iid, (kind, better, counts) in meta.items():
        if iid not in set(d.ds.measures["indicator_id"]):
            continue
        num, den = d.matrices(iid)
        cn, cd = d.cluster_sums(num[:, win]), d.cluster_sums(den[:, win])
        target = np.nansum(num[:, win]) / np.nansum(den[:, win])
        has = cd.sum(axis=1) > 0
        # old method: 12 summed months, Wilson / Byar's 95% interval against the national value
        f = proportion_ci if kind == "proportion" else rate_ci
        ci = f(cn.sum(axis=1)[has], cd.sum(axis=1)[has], confidence=0.95)
        old = ((ci["lower"] > target) | (ci["upper"] < target)).to_numpy()
        rows.append(dict(seed=seed, scenario=scenario, indicator_id=iid, method="old: 95% CI of 12 summed months",
                         n=int(has.sum()), called_998=np.nan, called_95=int(old.sum())))
        variants = [("crude, random effects", None)]
        if iid in banded:
            variants.append(("standardised O/E, random effects", banded_tuple(d, iid, seed)))
        for label, b in variants:
            t = standing_frame(num, den, d.onehot, d.cluster_ids, kind=kind, better=better, counts=counts,
                               banded=b, window=win)
            t = t[t["standing"] != "too few to say"]
            rows.append(dict(seed=seed, scenario=scenario, indicator_id=iid, method=label, n=len(t),
                             called_998=int(t["side"].isin(["above", "below"]).sum()),
                             called_95=int(t["side_95"].isin(["above", "below"]).sum()), tau2=t["tau2"].iloc[0]))
    return rows


# --- SPC ------------------------------------------------------------------------------------------------

def _old_runs(value: np.ndarray, periods, start) -> bool:
    """The old run chart: centre = median of every month before the start, Anhøj rules on every month from it."""
    before = periods < start
    v = value
    base = v[before] if np.isfinite(v[before]).sum() >= 8 else v
    if not np.isfinite(base).any():
        return False
    after = v[~before] if np.isfinite(v[~before]).sum() >= 8 else v
    after = after[np.isfinite(after)]
    ra = runs_analysis(after, np.full(after.size, np.nanmedian(base)))
    return bool(ra["longest_run"] > ra["longest_run_max"] or ra["n_crossings"] < ra["n_crossings_min"])


def spc_rows(d: Data, diag, meta, seed, scenario, banded, mde) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 17])
    ds = d.ds
    act = ds.activities.copy()
    act["start"] = pd.to_datetime(act["start"]).dt.to_period("M").dt.to_timestamp()
    starts = {(c, t): s for c, t, s in zip(act["cluster_id"], act["topic"], act["start"])}
    cfg = generator.SCALES[SCALE[0]]
    window = pd.date_range(cfg.uptake_first + "-01", cfg.uptake_last + "-01", freq="MS")
    truth = ds.truth
    truth = truth[(truth["event_time"] >= 0) & (truth["event_time"] <= 12)]
    true_eff = truth.groupby(["cluster_id", "indicator_id"])["effect"].mean()
    topic_of = {s.id: s.topic for s in generator.INDICATORS}
    frames = []
    for iid in meta:
        if iid not in topic_of:
            continue
        num, den = d.matrices(iid)
        o, e, std = observed_expected(num, den, d.onehot, banded_tuple(d, iid, seed) if iid in banded else None)
        label = "standardised" if std else "crude"
        cd = d.cluster_sums(den)
        with np.errstate(invalid="ignore", divide="ignore"):
            crude_value = np.where(cd > 0, d.cluster_sums(num) / cd, np.nan)
        for ci, cid in enumerate(d.cluster_ids):
            s = starts.get((cid, topic_of[iid]))
            sets = []
            if s is None:
                sets.append(("never", window[rng.integers(len(window))]))
            else:
                sets.append(("taken", s))
                sets.append(("fake_pre", s - pd.DateOffset(months=24)))
            for name, st in sets:
                frames.append(pd.DataFrame({"set": name, "cluster_id": cid, "indicator_id": iid, "measure": label,
                                            "period": d.periods, "start": st, "observed": o[ci], "expected": e[ci],
                                            "_crude": crude_value[ci]}))
    data = pd.concat(frames, ignore_index=True)
    by = ["set", "cluster_id", "indicator_id"]
    parts = []
    for variant in VARIANTS:
        _, r = relative_charts(data, by, before=BEFORE, after=AFTER, sigma=variant, pool_by="indicator_id")
        parts.append(r.assign(sigma=variant))
    rules = pd.concat(parts, ignore_index=True)
    old = data.groupby(by, sort=False).apply(
        lambda g: _old_runs(g["_crude"].to_numpy(float), g["period"].to_numpy(), g["start"].iloc[0]),
        include_groups=False).rename("old_runchart")
    rules = rules.join(old, on=by)
    rules = rules.join(data.drop_duplicates(by).set_index(by)["measure"], on=by)
    rules["seed"], rules["scenario"] = seed, scenario
    rules["better"] = rules["indicator_id"].map({k: v[1] for k, v in meta.items()})
    rules["true_effect"] = [true_eff.get((c, i), 0.0) if s == "taken" else 0.0
                            for s, c, i in zip(rules["set"], rules["cluster_id"], rules["indicator_id"])]
    rules["mde"] = [mde.get((c, i), np.nan) for c, i in zip(rules["cluster_id"], rules["indicator_id"])]
    return rules


def mde_lookup(ds):
    """The per-cluster minimum detectable effect of the report's default estimator (the pre-period-mean
    estimator of issue 12 where it exists, else ``cluster_effects``)."""
    from cluster_eval.synthetic import INDICATORS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from cluster_eval.impact.cluster_premean import cluster_effects_premean
        except ImportError:
            eff = cluster_effects(ds.measures, ds.practices, ds.activities, INDICATORS).effects
        else:
            eff = cluster_effects_premean(ds.measures, ds.practices, ds.activities, INDICATORS,
                                          event_study=False).effects
    # the truth is in the generator's unit (proportions 0-1, rates per 1,000); the estimator's in the
    # indicators' multipliers (proportions may be per cent)
    unit = {s.id: (1000.0 if s.kind == "rate" else 1.0) / float(getattr(s, "multiplier", 1.0) or 1.0)
            for s in INDICATORS}
    return {(c, i): m * unit.get(i, 1.0) for c, i, m in zip(eff["cluster_id"], eff["indicator_id"], eff["mde"])}


# --- summaries -------------------------------------------------------------------------------------------

def summarise_spc(rules: pd.DataFrame) -> pd.DataFrame:
    ok = rules[rules["reason"] == ""]
    out = []
    better_dir = np.where(ok["better"] == "lower", "below", "above")
    for (scen, sig, st), g in ok.groupby(["scenario", "sigma", "set"]):
        row = {"scenario": scen, "sigma": sig, "set": st, "panels": len(g)}
        for r in RULES + ("old_runchart",):
            row[r] = g[r].mean()
        out.append(row)
        if st == "taken":
            big = g[np.abs(g["true_effect"]) >= 2 * g["mde"]]
            dirs = pd.Series(better_dir, index=ok.index).loc[big.index]
            row2 = {"scenario": scen, "sigma": sig, "set": "taken, |effect| >= 2 MDE (detected, better direction)",
                    "panels": len(big)}
            for r in RULES:
                row2[r] = (big[r] & (big["direction"] == dirs)).mean() if len(big) else np.nan
            row2["old_runchart"] = big["old_runchart"].mean() if len(big) else np.nan
            out.append(row2)
    return pd.DataFrame(out)


def summarise_standing(rows: pd.DataFrame) -> pd.DataFrame:
    g = rows.groupby(["scenario", "method"])[["n", "called_998", "called_95"]].sum()
    g["share_998"] = g["called_998"] / g["n"]
    g["share_95"] = g["called_95"] / g["n"]
    return g.reset_index()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="denmark")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--scenario", nargs="+", default=["default", "null"], choices=["default", "null", "large"])
    ap.add_argument("--out", help="prefix for the per-panel / per-row CSV files")
    ap.add_argument("--only", choices=["spc", "standing"], help="run one part only")
    args = ap.parse_args(argv)
    SCALE[0] = args.scale
    meta = catalogue_meta()
    banded = set(banded_indicator_ids())
    spc_all, standing_all = [], []
    for scenario in args.scenario:
        for seed in args.seeds:
            t0 = time.time()
            ds, diag = simulate(args.scale, seed, scenario)
            d = Data(ds)
            if args.only != "spc":
                standing_all += standing_rows(d, meta, seed, scenario, banded)
            if args.only != "standing":
                mde = mde_lookup(ds)
                spc_all.append(spc_rows(d, diag, meta, seed, scenario, banded, mde))
            print(f"[{scenario} seed {seed}: {time.time() - t0:.0f} s]", file=sys.stderr)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    if spc_all:
        report_spc(pd.concat(spc_all, ignore_index=True), args.out)
    if standing_all:
        report_standing(pd.DataFrame(standing_all), args.out)


def report_spc(spc, out):
    print("\nSPC: share of panels with each rule firing (months 0-23 after the start)")
    print(summarise_spc(spc).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nSPC by indicator (never + fake_pre, default scenario): share with each rule")
    z = spc[(spc["reason"] == "") & spc["set"].isin(["never", "fake_pre"])]
    print(z.groupby(["scenario", "sigma", "indicator_id", "measure"])[list(RULES) + ["old_runchart"]].mean()
          .to_string(float_format=lambda v: f"{v:.3f}"))
    if out:
        spc.to_csv(f"{out}_spc.csv", index=False)


def report_standing(st, out):
    print("\nStanding: share of cluster x indicator rows called better or worse")
    print(summarise_standing(st).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nStanding by indicator")
    print(st.groupby(["scenario", "method", "indicator_id"])[["n", "called_998", "called_95"]].sum().to_string())
    if out:
        st.to_csv(f"{out}_standing.csv", index=False)


if __name__ == "__main__":
    main()
