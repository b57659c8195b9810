"""Tiny simulated contract tables for the impact tests (independent of the synthetic generator)."""
import numpy as np
import pandas as pd
import pytest


def make_tables(seed=0, n_clusters=6, per_cluster=8, n_never=20, months=36, effect=0.05, starts=None):
    """practices/activities/measures with a proportion indicator 'ind_a' (topic 'abx') and known effect."""
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2020-01-01", periods=months, freq="MS")
    starts = starts or [10, 14, 14, 18, 22, 40][:n_clusters]
    prac, meas = [], []
    pid = 0
    acts = []
    for c in range(n_clusters + 1):
        cid = None if c == n_clusters else f"C{c:02d}"
        size = n_never if cid is None else per_cluster
        if cid is not None:
            s = starts[c]
            acts.append({"cluster_id": cid, "topic": "abx",
                         "start": periods[0] + pd.DateOffset(months=s) + pd.Timedelta(days=5)})
        for _ in range(size):
            pid += 1
            p = f"P{pid:03d}"
            prac.append({"practice_id": p, "cluster_id": cid})
            den = rng.integers(80, 200)
            base = 0.5 + rng.normal(0, 0.05)
            for t in range(months):
                eff = effect if (cid is not None and t >= starts[c]) else 0.0
                mu = np.clip(base + 0.002 * t + eff, 0.01, 0.99)
                meas.append({"indicator_id": "ind_a", "practice_id": p, "period": periods[t],
                             "numerator": float(rng.binomial(den, mu)), "denominator": float(den)})
    return pd.DataFrame(prac), pd.DataFrame(acts), pd.DataFrame(meas)


@pytest.fixture(scope="session")
def tiny():
    return make_tables()


@pytest.fixture(scope="session")
def make_impact_tables():
    """The table factory itself (tests is not a package, so it cannot be imported by name)."""
    return make_tables
