"""Banded synthetic measures (cluster_eval.synthetic.casemix): consistent with the practice-level measures,
and the expected counts computed from them agree with the generator's truth."""
from __future__ import annotations

import numpy as np
import pytest

from cluster_eval.stats.indirect import expected_counts
from cluster_eval.synthetic.casemix import (
    apportion,
    banded_arrays,
    banded_indicator_ids,
    banded_measures,
    banded_truth,
)
from cluster_eval.synthetic.generator import simulate


@pytest.fixture(scope="module")
def sim():
    return simulate("small", 3)


def test_apportion_by_hand():
    out = apportion(np.array([10, 7, 0]), np.array([[1, 1, 1], [5, 0, 2], [1, 2, 3]]))
    # 10 over thirds: 3.33 each -> 4, 3, 3 (ties: first);  7 · (5/7, 0, 2/7) = 5, 0, 2
    np.testing.assert_array_equal(out, [[4, 3, 3], [5, 0, 2], [0, 0, 0]])


def test_banded_rows_add_up_to_the_measures(sim):
    ds, _ = sim
    b = banded_measures(ds, seed=3)
    assert set(b["indicator_id"]) == set(banded_indicator_ids())
    sums = b.groupby(["indicator_id", "practice_id", "period"])[["numerator", "denominator"]].sum()
    m = ds.measures.set_index(["indicator_id", "practice_id", "period"]).loc[sums.index]
    np.testing.assert_array_equal(sums["numerator"], m["numerator"])
    np.testing.assert_array_equal(sums["denominator"], m["denominator"])
    # every practice-month of a banded indicator is there (rows with a 0 denominator have no cells)
    full = ds.measures[ds.measures["indicator_id"].isin(banded_indicator_ids()) & (ds.measures["denominator"] > 0)]
    assert len(full) == len(sums)
    assert (b["denominator"] == np.round(b["denominator"])).all()
    assert set(b["sex"]) == {"F", "M"} and b["age_band"].nunique() == 19


def test_expected_counts_agree_with_the_truth(sim):
    """E from the data's own national band rates (each month) vs Σ_b d_b r_b(t) with the true rates."""
    ds, diag = sim
    b = banded_measures(ds, seed=3)
    for iid in banded_indicator_ids():
        a = banded_arrays(ds, iid, seed=3)
        truth = banded_truth(a, diag)
        e = expected_counts(b[b["indicator_id"] == iid], by=("practice_id",), over=("period",))
        e = e.set_index("practice_id").reindex(a.practice_ids)
        true_e = truth["expected"].sum(axis=1)
        rel = e["expected"].to_numpy() / true_e - 1
        # the estimated national rates carry sampling error (~120 practices): well below 2% per practice
        assert np.abs(rel).max() < 0.02, (iid, np.abs(rel).max())
        # the observed counts are unbiased for the truth: Σ O vs Σ E[O] within 3%
        assert e["observed"].sum() == pytest.approx(truth["mean"].sum(), rel=0.03)


def test_case_mix_matters(sim):
    """The practices' true expected ratio E_i / (d_i · national crude rate) spans the age-sex effect."""
    ds, diag = sim
    a = banded_arrays(ds, "dep_benzo_users", seed=3)
    t = banded_truth(a, diag)
    den = a.denominator.sum(axis=(1, 2))
    crude = t["mean"].sum() / den.sum()
    ratio = t["expected"].sum(axis=1)[den > 0] / (den[den > 0] * crude)
    assert ratio.min() < 0.75 and ratio.max() > 1.3
    # standardisation removes it: O/E from the true cell means is ~1 where the practice has no own effect
    cells = t["cell_mean"].sum(axis=(0, 1))
    assert cells[:19].sum() > 0 and cells[19:].sum() > 0


def test_split_is_reproducible(sim):
    ds, _ = sim
    a1 = banded_arrays(ds, "abx_rate", seed=3)
    a2 = banded_arrays(ds, "abx_rate", seed=3)
    np.testing.assert_array_equal(a1.numerator, a2.numerator)


def test_broad_bands_keep_the_sums_and_the_truth(sim):
    from cluster_eval.synthetic.casemix import BROAD_BANDS

    ds, diag = sim
    fine = banded_arrays(ds, "dep_opioid_users", seed=3)
    broad = fine.coarsen(BROAD_BANDS)
    assert broad.numerator.shape[-1] == 10 and list(broad.cell_band[:5]) == ["0-14", "15-44", "45-64", "65-79", "80+"]
    np.testing.assert_array_equal(broad.numerator.sum(-1), fine.numerator.sum(-1))
    t = banded_truth(broad, diag)
    np.testing.assert_allclose(t["mean"], banded_truth(fine, diag)["mean"])
    b = banded_measures(ds, seed=3, indicators=["dep_opioid_users"], bands=BROAD_BANDS)
    e = expected_counts(b, by=("practice_id",), over=("period",)).set_index("practice_id").reindex(broad.practice_ids)
    assert np.abs(e["expected"].to_numpy() / t["expected"].sum(axis=1) - 1).max() < 0.02
