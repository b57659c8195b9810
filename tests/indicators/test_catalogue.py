"""The catalogue: the shipped Danish definitions, and every validation rule with its message word for word."""
from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml

from cluster_eval.errors import CatalogueError, ConfigError
from cluster_eval.indicators import Indicator, load_catalogue
from cluster_eval.indicators.catalogue import AnyOf, ConcurrentDrugs, EventCriterion, parse_catalogue

# (id, topic, kind, multiplier, better, standardised) as fixed in the project's common rules.
EXPECTED = [
    ("abx_rate", "antibiotics", "rate", 1000, "lower", True),
    ("abx_penv_share", "antibiotics", "proportion", 100, "higher", False),
    ("abx_quinolone_share", "antibiotics", "proportion", 100, "lower", False),
    ("t2d_hba1c_measured", "diabetes", "proportion", 100, "higher", False),
    ("t2d_hba1c_below59", "diabetes", "proportion", 100, "higher", False),
    ("copd_spirometry", "copd", "proportion", 100, "higher", False),
    ("copd_ics", "copd", "proportion", 100, "lower", False),
    ("dep_opioid_users", "dependence", "rate", 1000, "lower", False),
    ("dep_benzo_users", "dependence", "rate", 1000, "lower", False),
    ("eld_polypharmacy", "elderly", "proportion", 100, "lower", False),
    ("eld_nsaid", "elderly", "proportion", 100, "lower", False),
]


def test_shipped_catalogue_has_the_eleven_indicators_with_their_metadata():
    cat = load_catalogue()
    assert list(cat) == [e[0] for e in EXPECTED]
    for iid, topic, kind, mult, better, std in EXPECTED:
        ind = cat[iid]
        assert isinstance(ind, Indicator)
        assert (ind.id, ind.topic, ind.kind, ind.multiplier, ind.better, ind.standardised) == \
            (iid, topic, kind, mult, better, std)
        assert ind.title and (ind.target is None or isinstance(ind.target, float))
        assert ind.title_da and ind.title_da != ind.title      # every shipped indicator has its Danish title
    with pytest.raises(dataclasses.FrozenInstanceError):
        cat["abx_rate"].kind = "proportion"


def test_shipped_definitions_use_the_danish_codes():
    cat = load_catalogue()
    assert cat["abx_penv_share"].numerator.count.codes == ("J01CE02",)
    assert cat["abx_penv_share"].denominator.count.codes == ("J01",)
    assert cat["abx_quinolone_share"].numerator.count.codes == ("J01MA",)
    t2d = cat["t2d_hba1c_measured"].denominator.population.require
    assert isinstance(t2d, AnyOf)
    assert {c.source: c.codes for c in t2d.items} == {
        "diagnoses": (("ICD10", "E11"), ("ICPC2", "T90")), "prescriptions": ("A10",)}
    assert all(c.months == 24 for c in t2d.items)
    below = cat["t2d_hba1c_below59"].numerator.has
    assert isinstance(below, EventCriterion)
    assert (below.codes, below.months, below.comparison, below.threshold, below.latest) == \
        (("NPU27300",), 12, "<", 59.0, True)
    assert cat["dep_benzo_users"].numerator.has.codes == ("N05BA", "N05CD", "N05CF")
    assert cat["dep_opioid_users"].numerator.has.codes == ("N02A",)
    assert cat["eld_polypharmacy"].numerator.has == ConcurrentDrugs(10)
    assert cat["eld_polypharmacy"].denominator.population.age_min == 65
    # indicators sharing a denominator share one (equal) definition, so the engine computes it once
    assert cat["t2d_hba1c_measured"].denominator == cat["t2d_hba1c_below59"].denominator
    assert cat["copd_spirometry"].denominator == cat["copd_ics"].denominator


BASE = {"id": "x1", "title": "X", "topic": "antibiotics", "kind": "proportion", "multiplier": 1,
        "better": "lower", "denominator": {"population": "listed"},
        "numerator": {"has": {"prescription": ["J01"], "months": 1}}}


def parse_one(**changes):
    ind = copy.deepcopy(BASE)
    ind.update(changes)
    return parse_catalogue({"populations": {"listed": {}}, "indicators": [ind]})


def has(**criterion):
    return {"has": criterion}


CASES = [
    ({"colour": "red"}, "indicator 'x1', field 'colour': unknown field (allowed: better, denominator, "
     "description, id, kind, multiplier, numerator, primary, standardised, target, title, title_da, topic, unit); "
     "got 'colour'"),
    ({"title_da": 3}, "indicator 'x1', field 'title_da': must be a string; got 3"),
    ({"numerator": has(prescription=["J1"], months=1)},
     "indicator 'x1', field 'numerator.has.prescription.0': is not a valid ATC code; got 'J1'"),
    ({"numerator": has(prescription=["Q01"], months=1)},
     "indicator 'x1', field 'numerator.has.prescription.0': is not a valid ATC code; got 'Q01'"),
    ({"numerator": has(lab=["NPU2730"], months=12)},
     "indicator 'x1', field 'numerator.has.lab.0': is not a valid NPU/DNK/SSR laboratory code; got 'NPU2730'"),
    ({"numerator": has(diagnosis={"ICPC2": ["T900"]}, months=12)},
     "indicator 'x1', field 'numerator.has.diagnosis.ICPC2.0': is not a valid ICPC-2 code; got 'T900'"),
    ({"numerator": has(diagnosis={"ICD10": ["DE11"]}, months=12)},
     "indicator 'x1', field 'numerator.has.diagnosis.ICD10.0': is not a valid ICD-10 code (write the WHO "
     "code without the Danish SKS 'D' prefix, e.g. E11 not DE11); got 'DE11'"),
    ({"numerator": has(diagnosis={"ICD9": ["250"]}, months=12)},
     "indicator 'x1', field 'numerator.has.diagnosis.ICD9': unknown field (allowed: ICD10, ICPC2); got 'ICD9'"),
    ({"numerator": has(prescription=["J01"], months=0)},
     "indicator 'x1', field 'numerator.has.months': must be between 1 and 240; got 0"),
    ({"numerator": has(prescription=["J01"], months=300)},
     "indicator 'x1', field 'numerator.has.months': must be between 1 and 240; got 300"),
    ({"numerator": has(prescription=["J01"], months=12, offset=-1)},
     "indicator 'x1', field 'numerator.has.offset': must be between 0 and 120; got -1"),
    ({"numerator": has(prescription=["J01"], months=1.5)},
     "indicator 'x1', field 'numerator.has.months': must be a whole number; got 1.5"),
    ({"denominator": {"population": "adults"}},
     "indicator 'x1', field 'denominator.population': names no population of the catalogue (known: listed); "
     "got 'adults'"),
    ({"denominator": {"population": {"age": {"min": 70, "max": 65}}}},
     "indicator 'x1', field 'denominator.population.age': min must not exceed max; got {'min': 70, 'max': 65}"),
    ({"denominator": {"population": {"sex": "K"}}},
     "indicator 'x1', field 'denominator.population.sex': must be 'F' or 'M'; got 'K'"),
    ({"numerator": has(lab=["NPU27300"], months=12, latest=True)},
     "indicator 'x1', field 'numerator.has.latest': needs a 'value' comparison to apply to the latest test; "
     "got True"),
    ({"numerator": has(lab=["NPU27300"], months=12, value={"below": 59})},
     "indicator 'x1', field 'numerator.has.value.below': unknown field (allowed: ge, gt, le, lt); got 'below'"),
    ({"kind": "ratio"}, "indicator 'x1', field 'kind': must be 'proportion' or 'rate'; got 'ratio'"),
    ({"better": "up"}, "indicator 'x1', field 'better': must be 'lower', 'higher' or 'none' (none: no verdict words); got 'up'"),
    ({"multiplier": 0}, "indicator 'x1', field 'multiplier': must be a positive number; got 0"),
    ({"target": 1.5}, "indicator 'x1', field 'target': must be between 0 and 1 for a proportion; got 1.5"),
    ({"id": "Abx-Rate"}, "indicator 'Abx-Rate', field 'id': must be lower-case letters, digits and "
     "underscores, starting with a letter; got 'Abx-Rate'"),
    ({"denominator": {"population": "listed", "count": {"prescription": ["J01"]}},
      "numerator": {"count": {"prescription": ["N02A"]}}},
     "indicator 'x1', field 'numerator.count': must count a subset of the denominator's events (same source "
     "and window, codes within the denominator's codes); got {'prescription': ['N02A']}"),
    ({"numerator": {"count": {"prescription": ["J01"]}}},
     "indicator 'x1', field 'numerator.count': a proportion of persons needs a 'has' numerator, not an event "
     "count; got {'prescription': ['J01']}"),
    ({"numerator": {"has": {"prescripton": ["J01"]}}},
     "indicator 'x1', field 'numerator.has': must name one criterion (all_of, any_of, concurrent_drugs, "
     "diagnosis, lab, not, prescription); got 'prescripton'"),
    ({"numerator": {"has": {"concurrent_drugs": {"min": 0}}}},
     "indicator 'x1', field 'numerator.has.concurrent_drugs.min': must be between 1 and 100; got 0"),
    ({"numerator": {"has": {"any_of": []}}},
     "indicator 'x1', field 'numerator.has.any_of': must be a non-empty list of criteria; got []"),
]


@pytest.mark.parametrize("changes, message", CASES, ids=[c[1].split("field ")[1][:40] for c in CASES])
def test_bad_definitions_raise_catalogue_errors_naming_indicator_field_and_value(changes, message):
    with pytest.raises(CatalogueError) as err:
        parse_one(**changes)
    assert str(err.value) == message
    assert isinstance(err.value, ConfigError)


def test_duplicate_ids_and_missing_fields():
    with pytest.raises(CatalogueError) as err:
        parse_catalogue({"populations": {"listed": {}}, "indicators": [BASE, BASE]})
    assert str(err.value) == "indicator 'x1', field 'id': duplicate id (indicators #1 and #2); got 'x1'"
    ind = {k: v for k, v in BASE.items() if k != "better"}
    with pytest.raises(CatalogueError) as err:
        parse_catalogue({"populations": {"listed": {}}, "indicators": [ind]})
    assert str(err.value) == "indicator 'x1', field 'better': required field is missing"


def test_population_errors_name_the_population(tmp_path):
    doc = {"populations": {"t2d": {"require": {"diagnosis": {"ICPC2": ["T90"]}, "months": 0}}},
           "indicators": [BASE]}
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(doc)
    assert str(err.value) == "population 't2d', field 'require.months': must be between 1 and 240; got 0"


def test_load_catalogue_from_a_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"populations": {"listed": {}}, "indicators": [BASE]}))
    assert list(load_catalogue(path)) == ["x1"]
    path.write_text("indicators: [\n")
    with pytest.raises(CatalogueError, match=r"^mine.yaml: not valid YAML"):
        load_catalogue(path)
    path.write_text(yaml.safe_dump({"indicator": [BASE]}))
    with pytest.raises(CatalogueError) as err:
        load_catalogue(path)
    assert str(err.value) == ("mine.yaml, field 'indicator': unknown field (allowed: indicators, populations, "
                              "version); got 'indicator'")
    with pytest.raises(CatalogueError, match="cannot read the indicator catalogue"):
        load_catalogue(tmp_path / "absent.yaml")


# --- catalogue_table: the one public source of indicator metadata ---------------------------------

def test_catalogue_table_lists_the_shipped_metadata_in_file_order():
    from cluster_eval.indicators import catalogue_table

    t = catalogue_table()
    assert list(t.columns) == ["indicator_id", "title", "topic", "kind", "multiplier", "better", "target",
                               "standardised", "unit", "description", "primary", "title_da"]
    assert [tuple(r) for r in t[["indicator_id", "topic", "kind", "multiplier", "better", "standardised"]]
            .itertuples(index=False)] == [tuple(e) for e in EXPECTED]
    row = t.set_index("indicator_id").loc
    assert row["abx_rate", "title"] == "Antibiotic prescriptions per 1,000 listed patients"
    assert row["abx_rate", "title_da"] == "Antibiotikaordinationer pr. 1.000 tilmeldte patienter"
    assert row["abx_rate", "unit"] == "prescriptions per 1,000 listed per month"   # the catalogue's own text
    assert row["copd_ics", "unit"] == "%"                                          # derived: per cent


def test_catalogue_multipliers_are_per_cent_for_proportions_and_per_1000_for_rates():
    """value = numerator / denominator * multiplier is what the reports show: 100 (%) and 1,000 (per 1,000)."""
    from cluster_eval.indicators import catalogue_table

    t = catalogue_table()
    assert dict(t.groupby("kind")["multiplier"].unique().map(list)) == {"proportion": [100.0], "rate": [1000.0]}


def test_catalogue_table_of_a_given_catalogue(tmp_path):
    from cluster_eval.indicators import catalogue_table

    doc = {"populations": {"listed": {}}, "indicators": [dict(BASE, multiplier=1, target=0.5)]}
    path = tmp_path / "cat.yaml"
    path.write_text(yaml.safe_dump(doc))
    for source in (path, str(path), load_catalogue(path), list(load_catalogue(path).values())):
        t = catalogue_table(source)
        assert t[["indicator_id", "multiplier", "target", "unit"]].values.tolist() == [["x1", 1.0, 0.5, ""]]


def test_one_primary_indicator_per_topic():
    cat = load_catalogue()
    primary = {i.topic: i.id for i in cat.values() if i.primary}
    assert primary == {"antibiotics": "abx_rate", "diabetes": "t2d_hba1c_measured", "copd": "copd_spirometry",
                       "dependence": "dep_opioid_users", "elderly": "eld_polypharmacy"}
    two = [dict(BASE, primary=True), dict(BASE, id="x2", primary=True)]
    with pytest.raises(CatalogueError, match=r"topic 'antibiotics', field 'primary': one primary indicator per "
                                             r"topic; 2 are marked \(x1, x2\)"):
        parse_catalogue({"populations": {"listed": {}}, "indicators": two})
    other = [dict(BASE, primary=True), dict(BASE, id="x2", topic="diabetes")]
    with pytest.raises(CatalogueError, match=r"topic 'diabetes', field 'primary': no indicator of the topic is "
                                             r"marked 'primary: true' \(one of: x2\)"):
        parse_catalogue({"populations": {"listed": {}}, "indicators": other})
    with pytest.raises(CatalogueError, match=r"indicator 'x1', field 'primary': must be true or false; got 'yes'"):
        parse_one(primary="yes")
    assert not parse_one()["x1"].primary                      # a catalogue without primaries is still valid


def test_better_may_be_none_but_nothing_else():
    assert parse_one(better="none")["x1"].better == "none"
    with pytest.raises(CatalogueError, match=r"field 'better': must be 'lower', 'higher' or 'none'"):
        parse_one(better="up")
