"""Timing of disclosure control and the audit at the national scale (not a test; run it by hand).

    .venv/bin/python benchmarks/disclosure.py [n_indicators]

A random practice-level measures table: 1,700 practices in 116 clusters (3% in none) and 5 regions,
11 indicators x 108 months (2.0 million rows), binomial numerators at 4% of denominators 5-399. Times
``suppress_measures`` with the region > cluster > practice hierarchy (totals returned) and ``audit_frame``
on its output, each as a ratio to the floor: the same table's plain aggregation to cluster, region and
nation totals (one pandas groupby-sum per level), timed in the same process. Wall-clock ratios and CPU
(process time) ratios are printed: on a loaded machine the CPU ratio is the steadier one.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from cluster_eval.audit import audit_frame
from cluster_eval.disclosure import suppress_measures


def table(n_ind=11, n_months=108, n_practices=1700, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cl = rng.integers(0, 116, n_practices)
    region = (cl % 5).astype(str).astype(object)
    cluster = cl.astype(str).astype(object)
    cluster[rng.random(n_practices) < 0.03] = None
    den = rng.integers(5, 400, n_practices)
    idx = pd.MultiIndex.from_product(
        [[f"i{k}" for k in range(n_ind)], pd.date_range("2016-01-01", periods=n_months, freq="MS"),
         range(n_practices)], names=["indicator_id", "period", "p"]).to_frame(index=False)
    idx["practice_id"] = "P" + idx["p"].astype(str)
    idx["cluster_id"] = cluster[idx["p"]]
    idx["region"] = region[idx["p"]]
    idx["denominator"] = den[idx["p"]].astype(float)
    idx["numerator"] = rng.binomial(den[idx["p"]], 0.04).astype(float)
    idx["value"] = idx["numerator"] / idx["denominator"]
    return idx.drop(columns="p")


if __name__ == "__main__":
    n_ind = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    df = table(n_ind)
    t, c = time.perf_counter(), time.process_time()
    for level in (["region", "cluster_id"], ["region"], []):
        df.groupby(["indicator_id", "period", *level], dropna=False)[["numerator", "denominator"]].sum()
    floor, cfloor = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    out = suppress_measures(df, within=("region", "cluster_id"), totals=True)
    t1, c1 = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    found = audit_frame(out, "bench")
    t2, c2 = time.perf_counter() - t, time.process_time() - c
    print(f"{len(df):,} practice rows -> {len(out):,} with totals; suppress_measures {t1:.1f} s "
          f"({out['suppressed'].mean():.1%} of rows with a hidden count); audit_frame {t2:.1f} s, "
          f"{len(found)} findings")
    print(f"floor (groupby-sum to cluster, region, nation) {floor:.2f} s; ratio suppress_measures / floor "
          f"{t1 / floor:.0f}; audit_frame / floor {t2 / floor:.0f}")
    print(f"CPU time: floor {cfloor:.2f} s, suppress_measures {c1:.1f} s, audit_frame {c2:.1f} s; ratio "
          f"suppress_measures / floor {c1 / cfloor:.1f}; audit_frame / floor {c2 / cfloor:.1f}; hidden "
          f"numerators {int(out['numerator'].isna().sum()):,}, denominators {int(out['denominator'].isna().sum()):,}")
