"""A lower bound for the per-cluster MDE of ANY unbiased estimator with a valid variance on the synthetic Denmark.

Is the power target of issue 12 (median MDE at most 0.60 of the current estimator's on the same estimates)
reachable for a valid estimator? The generator's variance structure (docs/synthetic.md) says what no base and
no comparison group can remove from a cluster's post-window mean over months ``0 .. n-1``:

* **the cluster's own shock** ``sigma_k · k · z_ct`` (AR(1), correlation 0.6, SD 1, independent of every
  other cluster's): even an oracle that knew the cluster's whole past shock series exactly can predict only
  ``E[z_t | z_{-1}] = rho^{t+1} z_{-1}``, so the post mean keeps the variance

      c(rho, n) = Var(mean z_{0..n-1}) - Cov(mean z_{0..n-1}, z_{-1})^2     (unit-variance AR(1));

* **its practices' own noise** in the post months: the binomial/Poisson part is independent over months
  (variance 1/n of a month's per practice) and the persistent over-dispersion part (AR(autocorr)) keeps
  ``c(autocorr, n) >= 1/n`` given its past, so at least ``sigma_k^2 / (n m)`` for ``m`` practices (the
  comparison group's noise, the region shocks and the shock scale's variation are left out: they only add).

Hence for a cluster of ``m`` practices and an indicator with practice-month residual SD ``sigma_k``

    V_LB = sigma_k^2 · (k^2 · c(0.6, n) + 1 / (n m)),      MDE_LB = (z_0.975 + z_0.80) · sqrt(V_LB)

A second, tighter bound holds for estimators whose base uses at most L = 48 pre months (as the new one):
every practice has its own level, which a base must estimate from its pre months, and the independent part
of the noise then adds ``sigma_k^2 / (L m)`` (``1/n`` becomes ``1/n + 1/L``). As the split of
``sigma_k^2`` between the independent and the persistent part is not used, the practice part is
``min(1/n + 1/L, c(autocorr_k, n)) / m`` (an oracle that knew the persistent series still faces the
independent part's ``1/n + 1/L``; the persistent part alone keeps at least ``c(autocorr_k, n)``).

(normal quantiles: Student's t would only make it larger). ``sigma_k`` is the generator's residual SD (the
square root of the MEDIAN practice-month model variance at baseline; ``diagnostics["residual_sd"]``), so the
practice part is approximate (practices with larger variance than the median make the true bound larger).
``--practices`` adds a tighter bound from each cluster's own practices (the generator's parameters for
every seed, :func:`practice_parts`): the independent part ``vb / n`` (``+ vb / L`` with a base of at most
L months), the persistent part ``vod · c(autocorr_k, n)`` (what an oracle that knew the practices' past
over-dispersion terms could not predict; the copula's normal scores are AR(1), the terms themselves only
approximately), and the shock scaled by the practices' mean shock scale.
The bound is compared, estimate by estimate, with the MDE the current estimator reports on the same
replications (rows ``estimator == "current"`` of ``benchmarks/recovery.py --part cluster`` CSVs) and with
the new estimator's.

    python benchmarks/mde_bound.py outputs/recovery/cluster_k*.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cluster_eval.synthetic import INDICATORS, Nuisance  # noqa: E402
from cluster_eval.synthetic.generator import simulate  # noqa: E402

#: proportions: the panels (and the CSVs) are on the catalogue's scale (x multiplier), the generator's sigma on 0-1
SCALE = {s.id: (s.multiplier if s.kind == "proportion" else 1.0) for s in INDICATORS}
SHOCK_RHO = 0.6
#: AR(1) correlation of each indicator's persistent (over-dispersion) practice noise
AUTOCORR = {s.id: s.model.autocorr for s in INDICATORS}
TARGET = 0.60


def ar1_post_mean_conditional_variance(rho: float, n: int) -> float:
    """``Var(mean of z_0..z_{n-1} | z_{-1})`` for a stationary AR(1) with SD 1 and correlation ``rho``."""
    i = np.arange(n)
    var_mean = float(np.sum(rho ** np.abs(i[:, None] - i[None, :]))) / n ** 2
    cov = float(np.sum(rho ** (i + 1))) / n
    return var_mean - cov ** 2


def residual_sds(seed: int = 0) -> dict:
    """Practice-month residual SD per indicator on the CSVs' scale (the generator's ``sigma_k``)."""
    _, diag = simulate("denmark", seed, Nuisance())
    return {ind: float(sd) * SCALE[ind] for ind, sd in zip(diag["indicators"], diag["residual_sd"])}


def mde_bound(sigma: np.ndarray, k: np.ndarray, m: np.ndarray, n_post: np.ndarray, base_months=np.inf,
              autocorr=None) -> np.ndarray:
    """``MDE_LB`` (see the module docstring) per estimate; ``base_months`` L adds the ``1/(L m)`` that a
    practice's level (unknown, different for every practice) costs when estimated from at most L pre months
    of independent noise (``inf``: the oracle bound)."""
    c = np.array([ar1_post_mean_conditional_variance(SHOCK_RHO, int(n)) for n in n_post])
    prac = 1.0 / n_post + 1.0 / base_months
    if np.isfinite(base_months):    # the persistent part's share is unknown: the smaller of the two parts
        prac = np.minimum(prac, [ar1_post_mean_conditional_variance(r, int(n)) for r, n in zip(autocorr, n_post)])
    v = sigma ** 2 * (k ** 2 * c + prac / m)
    return (stats.norm.ppf(0.975) + stats.norm.ppf(0.80)) * np.sqrt(v)


def practice_parts(seed: int) -> pd.DataFrame:
    """Per cluster and indicator of one Denmark replication, from the generator's own parameters: ``vb`` and
    ``vod``, the variance of the cluster's equally weighted practice mean in one month from the independent
    (binomial / Poisson) and the persistent (beta / gamma over-dispersion, AR(autocorr)) parts, and
    ``a``, the mean shock scale of its practices (:func:`cluster_eval.synthetic.nuisance.shock_scale`).

    Beta-binomial value num/n with q ~ Beta(mu, ICC rho): ``Var = mu(1-mu)(1-rho)/n + mu(1-mu) rho``;
    gamma-Poisson value num·mult/n with mean m = mu n / mult: ``Var = (m + m²/shape)(mult/n)²``. Averaged
    over each practice's months with a denominator; quinolones treated as a plain share of J01 (approximate).
    """
    from cluster_eval.synthetic.nuisance import shock_scale

    ds, diag = simulate("denmark", seed, Nuisance())
    pids = ds.practices["practice_id"].astype(str).to_numpy()
    cl = ds.practices["cluster_id"].astype(object).to_numpy()
    rows = []
    for k, spec in enumerate(INDICATORS):
        meas = ds.measures[ds.measures["indicator_id"] == spec.id]
        den = meas.pivot_table(index="practice_id", columns="period", values="denominator", aggfunc="first")
        den = den.reindex(index=pids).to_numpy(float)
        mu = diag["baseline"][k][:, :den.shape[1]]
        m_ = spec.model
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = np.isfinite(den) & (den > 0)
            if spec.kind == "rate":
                mean = mu * den / spec.multiplier
                vb = mean * (spec.multiplier / den) ** 2
                vod = mean ** 2 / m_.dispersion * (spec.multiplier / den) ** 2
            else:
                p = np.clip(mu, 1e-9, 1 - 1e-9)
                vb = p * (1 - p) * (1 - m_.dispersion) / den
                vod = p * (1 - p) * m_.dispersion
            scale = SCALE[spec.id] ** 2
            vb_i = np.nanmean(np.where(ok, vb, np.nan), axis=1) * scale
            vod_i = np.nanmean(np.where(ok, vod, np.nan), axis=1) * scale
            a_i = np.nanmean(np.where(ok, shock_scale(spec.kind, mu, m_.level), np.nan), axis=1)
        f = pd.DataFrame({"cluster_id": cl, "vb": vb_i, "vod": vod_i, "a": a_i}).dropna()
        f = f[f["cluster_id"].notna()]
        g = f.groupby("cluster_id").agg(m=("vb", "size"), vb=("vb", "sum"), vod=("vod", "sum"), a=("a", "mean"))
        g["vb"] /= g["m"] ** 2
        g["vod"] /= g["m"] ** 2
        rows.append(g.reset_index().assign(indicator_id=spec.id, seed=seed))
    return pd.concat(rows, ignore_index=True)


def practice_bound(cur: pd.DataFrame, sd: dict, base_months=np.inf) -> np.ndarray:
    """MDE bound per current-estimator row with the practice parts of :func:`practice_parts` (oracle: the
    independent part's ``1/n``, plus ``1/L`` with a base of at most L months; the persistent part's
    ``c(autocorr, n)``; the shock scaled by the cluster's mean shock scale)."""
    parts = pd.concat([practice_parts(int(sd_)) for sd_ in sorted(cur["seed"].unique())], ignore_index=True)
    j = cur[["seed", "cluster_id", "indicator_id", "k", "n_post"]].merge(
        parts, on=["seed", "cluster_id", "indicator_id"], how="left")
    n = j["n_post"].to_numpy(int)
    c_shock = np.array([ar1_post_mean_conditional_variance(SHOCK_RHO, x) for x in n])
    c_od = np.array([ar1_post_mean_conditional_variance(AUTOCORR[i], x) for i, x in zip(j["indicator_id"], n)])
    sig = j["indicator_id"].map(sd).to_numpy(float)
    v = ((j["k"] * sig * j["a"]) ** 2 * c_shock + j["vb"] * (1.0 / n + 1.0 / base_months) + j["vod"] * c_od)
    return (stats.norm.ppf(0.975) + stats.norm.ppf(0.80)) * np.sqrt(v.to_numpy(float))


def table(d: pd.DataFrame, sd: dict, practices: bool = False) -> pd.DataFrame:
    d = d[~d["dip_scenario"].astype(bool)]
    cur = d[d["estimator"] == "current"].copy()
    key = ["k", "seed", "cluster_id", "indicator_id"]
    new = d[d["estimator"] == "new"].set_index(key)["mde"]
    cur["bound"] = mde_bound(cur["indicator_id"].map(sd).to_numpy(float), cur["k"].to_numpy(float),
                             cur["n_practices"].to_numpy(float), cur["n_post"].to_numpy(float))
    cur["ratio"] = cur["bound"] / cur["mde"]
    cur["ratio48"] = mde_bound(cur["indicator_id"].map(sd).to_numpy(float), cur["k"].to_numpy(float),
                               cur["n_practices"].to_numpy(float), cur["n_post"].to_numpy(float), 48,
                               cur["indicator_id"].map(AUTOCORR).to_numpy(float)) / cur["mde"]
    cur["new_over_bound"] = new.reindex(pd.MultiIndex.from_frame(cur[key])).to_numpy() / cur["bound"].to_numpy()
    if practices:      # the bounds with each cluster's own practices (generator parameters per seed)
        pb = practice_bound(cur, sd)
        cur["ratio_p"] = pb / cur["mde"].to_numpy()
        cur["new_over_p"] = new.reindex(pd.MultiIndex.from_frame(cur[key])).to_numpy() / pb
        cur["ratio_p48"] = practice_bound(cur, sd, 48) / cur["mde"].to_numpy()
    cur["band"] = np.select([cur["n_practices"] <= 9, cur["n_practices"] <= 20], ["<=9", "10-20"], ">20")
    rows = []
    for k, g in cur.groupby("k"):
        by = g.groupby("indicator_id")["ratio"].median()
        r = {"k": k, "estimates": len(g), "median MDE bound": g["bound"].median(),
             "median MDE current": g["mde"].median(), "median of ratios bound/current": g["ratio"].median(),
             f"share with bound/current > {TARGET}": (g["ratio"] > TARGET).mean(),
             "by indicator": f"{by.min():.2f}-{by.max():.2f}"}
        for name in ("<=9", "10-20", ">20"):
            r[f"median ratio {name}"] = g.loc[g["band"] == name, "ratio"].median()
        r["median new MDE / bound"] = np.nanmedian(g["new_over_bound"])
        r["median of ratios, bound with a 48-month base"] = g["ratio48"].median()
        r[f"share > {TARGET}, 48-month base"] = (g["ratio48"] > TARGET).mean()
        if practices:
            r["PRACTICE-LEVEL BOUND: median of ratios"] = g["ratio_p"].median()
            for name in ("<=9", "10-20", ">20"):
                r[f"  median ratio {name}"] = g.loc[g["band"] == name, "ratio_p"].median()
            r[f"  share > {TARGET}"] = (g["ratio_p"] > TARGET).mean()
            r["  median of ratios, 48-month base"] = g["ratio_p48"].median()
            r[f"  share > {TARGET}, 48-month base"] = (g["ratio_p48"] > TARGET).mean()
            by = g.groupby("indicator_id")["ratio_p"].median()
            r["  by indicator"] = f"{by.min():.2f}-{by.max():.2f}"
            r["  median new MDE / this bound"] = np.nanmedian(g["new_over_p"])
        rows.append(r)
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="+", help="benchmarks/recovery.py --part cluster outputs")
    ap.add_argument("--sigma-seed", type=int, default=0, help="seed of the Denmark whose sigma_k are used")
    ap.add_argument("--practices", action="store_true",
                    help="also the bound from each cluster's own practices (simulates every seed: ~5 s each)")
    a = ap.parse_args(argv)
    d = pd.concat([pd.read_csv(f) for f in a.csv], ignore_index=True)
    sd = residual_sds(a.sigma_seed)
    pd.set_option("display.width", 250)
    print("c(0.6, 13) =", round(ar1_post_mean_conditional_variance(SHOCK_RHO, 13), 4), "; 1/13 =", round(1 / 13, 4))
    print("sigma_k:", {k: round(v, 3) for k, v in sd.items()})
    out = table(d, sd, a.practices)
    print(out.T.to_string(float_format=lambda v: f"{v:.3f}"))
    return out


if __name__ == "__main__":
    main()
