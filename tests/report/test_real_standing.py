"""benchmarks/real_standing.py: the report's standing of the Manchester PCNs, checked by hand on the raw file."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

DATA = "data/real/manchester_practice_month_antibiotics_with_pcn.csv"


@pytest.fixture(scope="module")
def rst(benchmark_script):
    return benchmark_script("real_standing")


def test_windows_are_every_12_months_and_end_with_the_report_window(rst):
    w = rst.windows(60)
    assert len(w) == 49 and w[0] == slice(0, 12) and w[-1] == slice(48, 60)
    assert list(rst.band_of([3, 4, 5, 7, 8, 9])) == ["3-4", "3-4", "5-7", "5-7", "8-9", "8-9"]


def test_last_12_months_of_the_real_pcns_by_hand(rst, shared):
    path = shared(DATA)
    panel, num, den = rst.load(path)
    raw = pd.read_csv(path)
    last = sorted(raw["date"].unique())[-12:]
    r = raw[raw["date"].isin(last)]
    t = rst.frame(num, den, panel.cluster_ids, rst.windows(60)[-1], "events").set_index("cluster_id")
    by = r.groupby("pcn_code")[["antibiotic_items", "star_pu"]].sum()
    assert sorted(t.index) == sorted(by.index) and len(t) == 14
    np.testing.assert_allclose(t["numerator"], by.loc[t.index, "antibiotic_items"])
    np.testing.assert_allclose(t["denominator"], by.loc[t.index, "star_pu"])
    assert (t["n_practices"] == r.drop_duplicates("practice_id").groupby("pcn_code").size()[t.index]).all()
    # the nation: all 96 practices (the 13 in no PCN too); no denominator-0 month in this window
    target = r["antibiotic_items"].sum() / r["star_pu"].sum()
    # Spiegelhalter's additive random-effects limits on the square-root scale of O/E: E = target x STAR-PU,
    # var(sqrt(O/E)) = 1/(4E) + tau2
    e = target * t["denominator"]
    z = norm.ppf(1 - 0.002 / 2)
    half = z * np.sqrt(1 / (4 * e) + t["tau2"])
    np.testing.assert_allclose(t["lower_99_8"], target * (1 - half) ** 2, rtol=1e-6)
    np.testing.assert_allclose(t["upper_99_8"], target * (1 + half) ** 2, rtol=1e-6)
    out = (t["value"] < t["lower_99_8"]) | (t["value"] > t["upper_99_8"])
    assert (t["standing"] != "as expected").equals(out)
    row = rst.tally(t.reset_index())
    assert row["clusters"] == 14 and row["called_998"] == int(out.sum())
    assert row["called_95"] == int(((t["value"] < t["lower_95"]) | (t["value"] > t["upper_95"])).sum())
    assert sum(row[f"n {b}"] for b in rst.BAND_NAMES) == 14


def test_shuffled_pcns_keep_their_sizes(rst, shared):
    panel, num, den = rst.load(shared(DATA))
    real = rst.frame(num, den, panel.cluster_ids, slice(48, 60), "events")
    p = rst.shuffle_clusters(np.random.default_rng([2004, 0]), panel)
    sh = rst.frame(num, den, p.cluster_ids, slice(48, 60), "events")
    assert sorted(sh["n_practices"]) == sorted(real["n_practices"])
    assert not np.allclose(sh["numerator"].to_numpy(), real["numerator"].to_numpy())
    # the nation is the same 96 practices: the PCNs' items add up to the same total
    assert sh["numerator"].sum() == pytest.approx(real["numerator"].sum())
