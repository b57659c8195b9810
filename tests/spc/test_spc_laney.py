"""Laney's p' and u' charts against a hand calculation (Laney 2002), which qicharts2 does not test.

Laney DB (2002). Improved control charts for attributes. Quality Engineering 14(4): 531-537:

    p-bar = sum(x) / sum(n),  sigma_pi = sqrt(p-bar (1 - p-bar) / n_i)   (u: sqrt(u-bar / n_i))
    z_i = (p_i - p-bar) / sigma_pi
    sigma_z = mean |z_i - z_(i-1)| / 1.128   (moving ranges above 3.267 x their mean screened out
                                               first, as qicharts2 does by default; Nelson 1982)
    limits = p-bar +- 3 sigma_pi sigma_z       (p' limits kept in [0, 1], lower u' limit >= 0)

The expected numbers are computed below line by line with the math module on small tables, like a
spreadsheet, independently of cluster_eval's code.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import cluster_eval as ce

# Table 1: monthly counts x out of n (e.g. penicillin V among antibiotic prescriptions), overdispersed
P_N = [1000, 1200, 900, 1100, 1050, 950, 1300, 1000]
P_X = [120, 150, 90, 160, 100, 130, 140, 95]

# Table 2: events per exposure with one wild month (month 5), so screening matters
U_N = [1000, 1100, 950, 1050, 1000, 980, 1120, 900, 1010, 990]
U_C = [26, 34, 38, 46, 110, 44, 40, 30, 28, 24]


def hand_laney(x, n, kind, screened=True, categorical=False):
    """Spreadsheet-style Laney limits: one list per column, plain arithmetic."""
    k = len(x)
    centre = sum(x) / sum(n)
    rate = [x[i] / n[i] for i in range(k)]
    if kind == "p":
        sigma = [math.sqrt(centre * (1 - centre) / n[i]) for i in range(k)]
    else:
        sigma = [math.sqrt(centre / n[i]) for i in range(k)]
    z = [(rate[i] - centre) / sigma[i] for i in range(k)]
    if categorical:
        zbar = sum(z) / k
        sigma_z = math.sqrt(sum((zi - zbar) ** 2 for zi in z) / (k - 1))
        removed = 0
    else:
        mr = [abs(z[i] - z[i - 1]) for i in range(1, k)]
        mrbar = sum(mr) / len(mr)
        kept = [r for r in mr if r < 3.267 * mrbar] if screened else mr
        removed = len(mr) - len(kept)
        sigma_z = (sum(kept) / len(kept)) / 1.128
    ucl = [centre + 3 * sigma[i] * sigma_z for i in range(k)]
    lcl = [max(0.0, centre - 3 * sigma[i] * sigma_z) for i in range(k)]
    if kind == "p":
        ucl = [min(1.0, u) for u in ucl]
    return {"y": rate, "cl": centre, "lcl": lcl, "ucl": ucl, "sigma_z": sigma_z, "removed": removed,
            "ucl_plain": [centre + 3 * s for s in sigma]}


def test_table_1_centre_line_is_the_pooled_proportion():
    assert Fraction(sum(P_X), sum(P_N)) == Fraction(985, 8500)
    got = ce.spc.qic(range(1, 9), P_X, P_N, chart="pp")
    np.testing.assert_allclose(got["cl"], 985 / 8500, rtol=1e-12)


@pytest.mark.parametrize("screened", [True, False])
def test_p_prime_chart_matches_hand_calculation(screened):
    hand = hand_laney(P_X, P_N, "p", screened=screened)
    got = ce.spc.qic(range(1, 9), P_X, P_N, chart="pp", screened_mr=screened)
    np.testing.assert_allclose(got["y"], hand["y"], rtol=1e-12)
    np.testing.assert_allclose(got["ucl"], hand["ucl"], rtol=1e-12)
    np.testing.assert_allclose(got["lcl"], hand["lcl"], rtol=1e-12)
    # overdispersed table: Laney's limits are wider than the plain p chart's
    assert hand["sigma_z"] > 1
    assert (got["ucl"].to_numpy() > np.array(hand["ucl_plain"])).all()


@pytest.mark.parametrize("screened", [True, False])
def test_u_prime_chart_matches_hand_calculation_with_screening(screened):
    hand = hand_laney(U_C, U_N, "u", screened=screened)
    if screened:
        assert hand["removed"] == 2  # the two moving ranges around month 5 are screened out
    got = ce.spc.qic(range(1, 11), U_C, U_N, chart="up", multiply=1000, screened_mr=screened)
    np.testing.assert_allclose(got["cl"], hand["cl"] * 1000, rtol=1e-12)
    np.testing.assert_allclose(got["ucl"], np.array(hand["ucl"]) * 1000, rtol=1e-12)
    np.testing.assert_allclose(got["lcl"], np.array(hand["lcl"]) * 1000, rtol=1e-12)
    assert got["sigma_signal"].iloc[4]  # the wild month is beyond the limits either way
    if screened:  # without the wild month's moving ranges, the limits are much narrower
        unscreened = hand_laney(U_C, U_N, "u", screened=False)
        assert (np.array(hand["ucl"]) < np.array(unscreened["ucl"])).all()


def test_laney_for_categories_uses_the_standard_deviation_of_z():
    hand = hand_laney(P_X, P_N, "p", categorical=True)
    practices = [f"practice {c}" for c in "ABCDEFGH"]
    got = ce.spc.qic(practices, P_X, P_N, chart="pp")
    np.testing.assert_allclose(got["ucl"], hand["ucl"], rtol=1e-12)
    np.testing.assert_allclose(got["lcl"], hand["lcl"], rtol=1e-12)
    assert not got["runs_signal"].any()


def test_plain_p_chart_is_the_laney_chart_with_sigma_z_one():
    hand = hand_laney(P_X, P_N, "p")
    got = ce.spc.qic(range(1, 9), P_X, P_N, chart="p")
    np.testing.assert_allclose(got["ucl"], hand["ucl_plain"], rtol=1e-12)
