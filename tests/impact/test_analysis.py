"""impact_tables: the analyse stage's tables are consistent with the functions they come from."""
import numpy as np
import pytest

from cluster_eval.impact import cluster_effects, impact_tables, pool


def test_tables_consistent(tiny):
    prac, acts, meas = tiny
    ind = {"ind_a": {"topic": "abx", "multiplier": 1.0}}
    t = impact_tables(meas, prac, acts, ind, before=6, after=6, with_its=True)
    assert set(t) == {"national", "national_event_study", "cluster_effects", "cluster_event_study", "pooled",
                      "variation_change", "its"}
    ce_ = cluster_effects(meas, prac, acts, ind, before=6, after=6).effects
    np.testing.assert_allclose(t["cluster_effects"]["value"], ce_["value"])
    e = ce_[ce_["estimable"]]
    assert t["pooled"]["value"].iloc[0] == pytest.approx(pool(e["value"], e["se"]).overall["value"].iloc[0])
    nat = t["national"].iloc[0]
    assert nat["lower"] < 0.05 < nat["upper"]  # the tiny panels' true effect
    its_ = t["its"].set_index("cluster_id")
    assert its_.loc["C00", "family"] == "binomial" and its_.loc["C00", "level_ratio"] > 1
    assert not its_.loc["C05", "estimable"]  # starts after the data
