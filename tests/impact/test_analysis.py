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


def test_national_effects_conf_int_refuses_a_bad_level():
    import pandas as pd
    import pytest

    from cluster_eval.errors import ArgumentError
    from cluster_eval.impact.national import NationalEffects

    res = NationalEffects(pd.DataFrame({"indicator_id": ["a"], "value": [1.0], "se": [0.5]}), pd.DataFrame(),
                          None, {})
    assert res.conf_int(0.95)["lower"].iloc[0] == pytest.approx(1.0 - 1.959963984540054 * 0.5)
    with pytest.raises(ArgumentError, match=r"^confidence must be between 0 and 1 \(exclusive\); got 95.0$"):
        res.conf_int(95)
