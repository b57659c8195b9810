"""The national DiD's standard error with the treated side modelled: hand calculation and the diagnosis."""
import numpy as np
import pandas as pd
import pytest

from cluster_eval.impact.did import att_gt
from cluster_eval.impact.inference import influence_se, treated_cluster_variance
from cluster_eval.impact.national import treated_and_comparison_terms


def test_treated_cluster_variance_by_hand():
    # cluster A treated (terms 1, -1, 2, -2), comparison clusters B (1, 2, 3) and C (-1, -3); n = 9 units
    cluster = ["A"] * 4 + ["B"] * 3 + ["C"] * 2
    treated = np.array([1, -1, 2, -2, 0, 0, 0, 0, 0], float)
    control = np.array([0, 0, 0, 0, 1, 2, 3, -1, -3], float)
    se, lam, g = treated_cluster_variance(treated, control, 9, cluster)
    # lambda: sums S_B = 6, S_C = -4; within sums of squares W_B = 2, W_C = 2
    lam_hand = ((36 - 3 / 2 * 2) + (16 - 2 / 1 * 2)) / (9 / 2 * 2 + 4 / 1 * 2)
    assert lam[0] == pytest.approx(lam_hand)
    # treated: m/(m-1) W (1 + m lambda) with m = 4, W = 10; comparison: G/(G-1) * sum S^2, G = 3
    v = 4 / 3 * 10 * (1 + 4 * lam_hand) + 3 / 2 * (36 + 16)
    assert g == 3 and se[0] == pytest.approx(np.sqrt(v) / 9)
    # no between-cluster excess among the comparison clusters: lambda = 0, treated side practice-level only
    se0, lam0, _ = treated_cluster_variance(treated, np.array([0, 0, 0, 0, 1, -1, 0, 1, -1], float), 9, cluster)
    assert lam0[0] == 0.0
    assert se0[0] == pytest.approx(np.sqrt(4 / 3 * 10 + 0) / 9)
    # a weights' term is clustered with the comparison terms when given
    w = np.array([0.5] * 4 + [0.0] * 5)
    se_w, _, _ = treated_cluster_variance(treated, control, 9, cluster, weights=w)
    assert se_w[0] == pytest.approx(np.sqrt(v + 3 / 2 * 2 ** 2) / 9)


def test_one_cluster_per_group_zeroes_the_clustered_treated_side():
    """The diagnosis: a group made of one cluster has treated cluster sums of exactly 0."""
    rng = np.random.default_rng(3)
    units, periods = 24, 8
    cl = np.repeat(["A", "B", "C", "D", "E", "F"], 4)
    g = np.repeat([4, 6, 0, 0, 0, 0], 4)
    y = rng.normal(size=(units, periods)) + np.repeat(rng.normal(size=(6, periods)), 4, axis=0)
    d = pd.DataFrame({"unit": np.repeat(np.arange(units), periods), "t": np.tile(np.arange(1, periods + 1), units),
                      "y": y.ravel(), "g": np.repeat(np.where(g > 0, g + 1, 0), periods),
                      "cl": np.repeat(cl, periods)})
    res = att_gt(d, "y", "t", "unit", "g", clustervars="cl")
    simple = res.aggregate("simple")
    t, c = treated_and_comparison_terms(res, simple.cell_weights)
    # the split is exact: both parts plus the weights' term give the aggregate's influence function
    own = res.unit_group[:, None] == res.table["group"].to_numpy(float)[None, :]
    assert np.allclose(t[:, 0], np.where(own, res.inf, 0.0) @ simple.cell_weights)
    wif = simple.inf - res.inf @ simple.cell_weights
    assert np.allclose(t[:, 0] + c[:, 0] + wif, simple.inf)
    f_t = t[:, 0]
    sums = pd.Series(f_t).groupby(cl).sum()
    assert np.allclose(sums, 0.0) and np.abs(f_t).max() > 0
    # so the clustered SE of the treated terms alone is 0, the practice-level one is not
    assert np.isnan(influence_se(f_t[:, None], res.n, cl)[0])
    assert influence_se(f_t[:, None], res.n)[0] > 0
