"""The nuisances of real data in the generator: shocks, practice-varying effects, variation change, dips."""
import numpy as np
import pytest

import cluster_eval as ce
from cluster_eval.errors import ArgumentError
from cluster_eval.synthetic import INDICATORS, Nuisance
from cluster_eval.synthetic.generator import simulate
from cluster_eval.synthetic.nuisance import ETA_MAX, shock_scale

IDS = [s.id for s in INDICATORS]


@pytest.fixture(scope="module")
def shocked():
    """Small scale, strong cluster shocks only (no region shocks), seed 3."""
    return simulate("small", 3, Nuisance(cluster_shock=0.5, region_shock=0.0, shock_rho=0.6))


def test_cluster_shocks_are_shared_ar1_and_sized(shocked):
    ds, d = shocked
    ci, present = d["cluster_index"], d["present"]
    for k, s in enumerate(INDICATORS):
        z = d["shocks"][k] / (d["residual_sd"][k] * shock_scale(s.kind, d["expected"][k] - d["shocks"][k],
                                                                s.model.level))
        zc = np.array([z[ci == c].mean(0) for c in range(ci.max() + 1)])
        for c in range(ci.max() + 1):      # one shock per cluster and month, shared by its practices
            np.testing.assert_allclose(z[ci == c], np.broadcast_to(zc[c], z[ci == c].shape), atol=0.05)
        assert np.all(z[ci < 0] == 0)       # practices in no cluster: no cluster shock
        assert 0.35 < zc.std() < 0.65, (s.id, zc.std())           # SD 0.5 x the residual SD
        lag1 = np.corrcoef(zc[:, 1:].ravel(), zc[:, :-1].ravel())[0, 1]
        assert 0.4 < lag1 < 0.75, (s.id, lag1)
    # at 0.5 x the residual SD a few practice-months of the rarest share reach the floor (counted, < 0.1%)
    assert sum(d["clipped"].values()) < 1e-3 * present.sum() * len(INDICATORS)


def test_region_shocks_are_shared_by_a_region():
    _, d = simulate("small", 4, Nuisance(cluster_shock=0.0, region_shock=0.3))
    ri, k = d["region_index"], IDS.index("abx_rate")
    z = d["shocks"][k] / shock_scale("rate", d["expected"][k] - d["shocks"][k], INDICATORS[k].model.level)
    for r in np.unique(ri):
        np.testing.assert_allclose(z[ri == r], np.broadcast_to(z[ri == r][0], z[ri == r].shape), rtol=1e-9)


def test_shocks_leave_truth_and_denominators_unchanged():
    a, _ = simulate("small", 5, Nuisance.none())
    b, _ = simulate("small", 5, Nuisance(cluster_shock=0.25, region_shock=0.1))
    np.testing.assert_array_equal(a.truth["effect"], b.truth["effect"])
    np.testing.assert_array_equal(a.measures.loc[a.measures["indicator_id"] == "t2d_hba1c_measured", "denominator"],
                                  b.measures.loc[b.measures["indicator_id"] == "t2d_hba1c_measured", "denominator"])


def test_practice_effects_average_to_the_cluster_truth(shocked):
    _, d = shocked
    f, ci = d["effect_factor"], d["cluster_index"]
    assert f.std() > 0.1 and (np.abs(f - 1) <= ETA_MAX + 1e-12).all()
    for c in range(ci.max() + 1):
        assert f[ci == c].mean() == pytest.approx(1.0, abs=1e-12)
    assert (f[ci < 0] == 1).all()


def test_variation_change_shrinks_the_spread_and_is_in_truth():
    nz = Nuisance(cluster_shock=0.0, region_shock=0.0, effect_sd=0.0, variation_share=1.0, variation_ratio=0.6)
    ds, d = simulate("small", 6, nz)
    k = IDS.index("t2d_hba1c_measured")               # a proportion: levels constant over time
    topic = INDICATORS[k].topic
    ci, start, months = d["cluster_index"], d["start"], d["months"]
    ramp = INDICATORS[k].model.ramp
    checked = 0
    for c in range(ci.max() + 1):
        s = start[c, [t for t in dict.fromkeys(x.topic for x in INDICATORS)].index(topic)]
        if s < 0 or s + ramp - 1 > months[-1] or s - 1 < months[0]:
            continue
        before = int(np.searchsorted(months, s - 1))
        after = int(np.searchsorted(months, s + ramp - 1))
        dev = d["expected"][k][ci == c] - d["baseline"][k][ci == c] + d["baseline"][k][ci == c][:, [before]]
        sd0 = d["baseline"][k][ci == c][:, before].std()
        assert dev[:, after].std() == pytest.approx(0.6 * sd0, rel=1e-6)      # effect_sd 0: only the shrink
        checked += 1
    assert checked >= 3
    tr = ds.truth[ds.truth["indicator_id"] == "t2d_hba1c_measured"]
    assert np.allclose(tr.loc[tr["event_time"] >= ramp - 1, "sd_ratio"], 0.6)
    np.testing.assert_allclose(tr.loc[tr["event_time"] == 0, "sd_ratio"], 1 - 0.4 / ramp)


def test_dip_is_a_bad_spell_before_the_start():
    nz = Nuisance(cluster_shock=0.0, region_shock=0.0, effect_sd=0.0, variation_share=0.0, dip=True,
                  dip_share=1.0, dip_size=1.0, dip_months=6)
    ds, d = simulate("small", 7, nz)
    k = IDS.index("abx_rate")                          # lower is better: the spell is higher
    ci, start, months = d["cluster_index"], d["start"], d["months"]
    spell = d["expected"][k] - d["baseline"][k]
    c = next(c for c in range(ci.max() + 1) if months[0] + 8 <= start[c, 0] <= months[-1])
    s = int(np.searchsorted(months, start[c, 0]))
    np.testing.assert_allclose(spell[ci == c][:, s - 6:s], 2.5)            # |mean effect| of abx_rate
    np.testing.assert_allclose(spell[ci == c][:, s - 8:s - 6], 0.0)
    assert ds.truth["dip"].all() and all(v == 0 for v in d["clipped"].values())
    off, _ = simulate("small", 7, Nuisance(cluster_shock=0.0, region_shock=0.0, effect_sd=0.0,
                                          variation_share=0.0))
    np.testing.assert_array_equal(off.truth["effect"], ds.truth["effect"])   # the dip is not an effect
    assert not off.truth["dip"].any()


def test_generate_arguments_and_source():
    ds = ce.synthetic.generate("small", 1, cluster_shock=0.0, dip=True)
    assert "cluster_shock=0.0" in ds.source["synthetic"] and "dip=True" in ds.source["synthetic"]
    assert Nuisance.parse(ds.source["synthetic"]) == Nuisance(cluster_shock=0.0, dip=True)
    assert ce.synthetic.generate("small", 1).source["synthetic"] == "scale=small, seed=1"
    with pytest.raises(ArgumentError, match="cluster_shock must be a number >= 0; got -1"):
        ce.synthetic.generate("small", 0, cluster_shock=-1)
    with pytest.raises(ArgumentError, match="shock_rho must be an AR"):
        ce.synthetic.generate("small", 0, shock_rho=1.0)
    with pytest.raises(ArgumentError, match="dip_share must be a share"):
        ce.synthetic.generate("small", 0, dip_share=2)


def test_indicators_come_from_the_catalogue():
    from cluster_eval.indicators import load_catalogue
    from cluster_eval.synthetic.indicators_model import MODEL, _specs

    cat = load_catalogue()
    for s in INDICATORS:
        c = cat[s.id]
        assert (s.title, s.topic, s.kind, s.multiplier, s.better) == (c.title, c.topic, c.kind, c.multiplier,
                                                                        c.better)
    assert set(MODEL) <= set(cat)
    # a model effect against the catalogue's direction is refused
    flipped = dict(cat)
    import dataclasses
    flipped["abx_rate"] = dataclasses.replace(cat["abx_rate"], better="higher")
    with pytest.raises(ValueError, match="abx_rate: the model's mean effect"):
        _specs(flipped)
