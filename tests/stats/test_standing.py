"""Standing against the nation (cluster_eval.stats.standing) on hand-made data: window counts, the
window of tau², the limits and the verdict words with the indicator's direction."""
from __future__ import annotations

import numpy as np
import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.stats import funnel
from cluster_eval.stats.standing import (
    counts_kind,
    funnel_outliers,
    measure_label,
    standing,
    verdict_words,
    window_counts,
    window_tau2,
)


def test_window_counts_events_and_persons_by_hand():
    num = np.array([[1, 2, 3, np.nan], [4, 4, 4, 4]])
    den = np.array([[10, 10, 10, 0], [20, 20, 20, 20]])
    n, d, m = window_counts(num, den, counts="events")
    np.testing.assert_array_equal(n, [6, 16])
    np.testing.assert_array_equal(d, [30, 80])
    np.testing.assert_array_equal(m, [3, 4])
    n, d, m = window_counts(num, den, counts="persons")
    np.testing.assert_array_equal(n, [2, 4])      # monthly means over the months with a denominator
    np.testing.assert_array_equal(d, [10, 20])
    with pytest.raises(ArgumentError, match="counts must be one of 'events', 'persons'; got 'people'"):
        window_counts(num, den, counts="people")


def test_counts_kind_from_the_catalogue():
    from cluster_eval.indicators import load_catalogue

    cat = load_catalogue()
    assert counts_kind(cat["abx_rate"]) == "events"
    assert counts_kind(cat["abx_penv_share"]) == "events"
    assert counts_kind(cat["t2d_hba1c_measured"]) == "persons"
    assert counts_kind(cat["dep_opioid_users"]) == "persons"
    assert counts_kind(None) == "persons"


def test_verdict_words_apply_the_direction():
    side = ["above", "below", "inside", "missing"]
    assert list(verdict_words(side, "lower")) == ["worse than expected", "better than expected", "as expected",
                                                  "too few to say"]
    assert list(verdict_words(side, "higher")) == ["better than expected", "worse than expected", "as expected",
                                                   "too few to say"]
    assert list(verdict_words(side, "none"))[:2] == ["higher than expected", "lower than expected"]
    with pytest.raises(ArgumentError, match="better must be one of 'lower', 'higher', 'none'; got 'low'"):
        verdict_words(side, "low")


def _clusters():
    """20 clusters with E = 400 each; O spread beyond Poisson (a true between-cluster SD of ~10%), one far low."""
    o = np.array([400, 430, 370, 455, 345, 410, 390, 420, 380, 440, 360, 405, 395, 415, 385, 450, 350, 425, 375,
                  160], dtype=float)
    return o, np.full(o.size, 400.0), [f"K{i:02d}" for i in range(o.size)]


def test_standing_uses_random_effects_limits_and_words():
    o, e, ids = _clusters()
    res = standing(o, e, ids, statistic="ratio", better="lower", standardised=True)
    ref = funnel(o, e, ids, statistic="ratio", overdispersion="additive", confidence=(0.95, 0.998))
    assert res.tau2 == pytest.approx(ref.tau2) and res.tau2 > 0
    np.testing.assert_allclose(res.table["upper_99_8"], ref.units["upper_99_8"])
    t = res.table.set_index("unit")
    # K19 (O/E 0.40) is far below the 99.8% limits: lower is better -> better than expected
    assert t.loc["K19", "side"] == "below" and t.loc["K19", "standing"] == "better than expected"
    # K03 (O/E 1.14) is outside Poisson 99.8% limits (1.16 would be ~ +3 SD) but inside the random-effects ones
    plain = funnel(o, e, ids, statistic="ratio", confidence=(0.95, 0.998)).units.set_index("unit")
    assert plain.loc["K03", "label"] != "inside"
    assert t.loc["K03", "standing"] == "as expected"
    assert list(res.called()["unit"]) == ["K19"]
    assert t["measure"].iloc[0].startswith("standardised ratio")
    # the same data on a higher-is-better indicator: worse than expected
    res_h = standing(o, e, ids, statistic="ratio", better="higher")
    assert res_h.table.set_index("unit").loc["K19", "standing"] == "worse than expected"
    assert "crude ratio" in res_h.label
    assert "99.8%" in res.summary() and "95%" in res.summary()


def test_standing_arguments():
    o, e, ids = _clusters()
    with pytest.raises(ArgumentError, match="verdict must be a higher level than shown"):
        standing(o, e, ids, verdict=0.9, shown=0.95)
    with pytest.raises(ArgumentError, match="better must be one of"):
        standing(o, e, ids, better="down")


def test_tau2_comes_from_the_window_only():
    """Months 0-11: practices identical but for binomial noise; months 12-23: a large spread. The tau² of a
    window uses that window's months only."""
    rng = np.random.default_rng(5)
    units, months = 40, 24
    den = np.full((units, months), 200.0)
    p = np.where(np.arange(months) < 12, 0.3, 0.0)[None, :] + np.where(
        np.arange(months) >= 12, rng.uniform(0.1, 0.6, units)[:, None], 0.0)
    num = rng.binomial(den.astype(int), p).astype(float)
    quiet = window_tau2(num[:, :12], den[:, :12], statistic="proportion")
    noisy = window_tau2(num[:, 12:], den[:, 12:], statistic="proportion")
    assert quiet == pytest.approx(0.0, abs=2e-4)
    assert noisy > 0.01
    # same as the funnel of the window's sums
    n, d = num[:, 12:].sum(axis=1), den[:, 12:].sum(axis=1)
    assert noisy == pytest.approx(funnel(n, d, statistic="proportion", overdispersion="additive").tau2)


def test_funnel_outliers_are_worded_with_the_direction():
    """Practices below the 99.8% limit of a lower-is-better indicator are doing well: 'better than expected'."""
    num = np.array([20, 50, 52, 48, 51, 49, 50, 53, 47, 90], dtype=float)
    den = np.full(10, 100.0)
    res = funnel(num, den, [f"P{i}" for i in range(10)], statistic="proportion", confidence=(0.95, 0.998))
    out = funnel_outliers(res, "lower")
    assert list(out["unit"]) == ["P0", "P9"]
    assert list(out["side"]) == ["below", "above"]
    assert list(out["standing"]) == ["better than expected", "worse than expected"]
    assert set(out["limits"]) == {"99.8%"}
    assert list(funnel_outliers(res, "higher")["standing"]) == ["worse than expected", "better than expected"]
    # 95% on request lists at least the same practices
    assert set(funnel_outliers(res, "lower", confidence=0.95)["unit"]) >= {"P0", "P9"}


def test_measure_labels():
    assert measure_label("proportion", False) == "crude proportion (not standardised for age and sex)"
    assert "national age- and sex-specific rates" in measure_label("ratio", True)
