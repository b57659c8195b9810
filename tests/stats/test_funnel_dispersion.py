"""funnel_dispersion: the overdispersion of funnel() without the units' limits, the same numbers."""
from __future__ import annotations

import numpy as np
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.stats import funnel
from cluster_eval.stats.funnel import funnel_dispersion


@pytest.mark.parametrize("statistic", ["proportion", "rate", "ratio"])
@pytest.mark.parametrize("trim_method", ["winsorise", "truncate"])
def test_same_phi_and_tau2_as_funnel(statistic, trim_method):
    rng = np.random.default_rng(5)
    den = rng.integers(50, 2000, 300).astype(float)
    p = np.clip(rng.normal(0.2, 0.05, 300), 0.01, 0.9)
    num = rng.binomial(den.astype(int), p).astype(float)
    if statistic == "ratio":
        den = den * 0.2          # expected counts
    res = funnel(num, den, statistic=statistic, overdispersion="additive", trim=0.1, trim_method=trim_method)
    phi, tau2 = funnel_dispersion(num, den, statistic=statistic, trim=0.1, trim_method=trim_method)
    assert phi == res.phi and tau2 == res.tau2
    assert tau2 > 0            # overdispersed by construction


def test_same_checks_as_funnel():
    with pytest.raises(ArgumentError, match="trim must be at least 0 and below 0.5"):
        funnel_dispersion([1, 2, 3], [10, 10, 10], trim=0.5)
    with pytest.raises(ArgumentError, match="numerator must not be greater than denominator"):
        funnel_dispersion([11, 2, 3], [10, 10, 10])
