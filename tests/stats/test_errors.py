"""Bad arguments raise ArgumentError whose message states the rule and quotes the value (word for word)."""
from __future__ import annotations

import pytest

from cluster_eval.errors import ArgumentError
from cluster_eval.stats import dsr, funnel, funnel_limits, isr, proportion_ci, rate_ci, variation


def message(fn, *args, **kwargs) -> str:
    with pytest.raises(ArgumentError) as err:
        fn(*args, **kwargs)
    return str(err.value)


@pytest.mark.parametrize("fn", [proportion_ci, funnel, variation])
def test_negative_numerator(fn):
    assert message(fn, [3, -1, 2], [10, 10, 10]) == "numerator must not be negative; got -1.0 at position 1"


def test_negative_denominator():
    assert message(proportion_ci, [3, 1], [10, -10]) == \
        "denominator must not be negative; got -10.0 at position 1"


def test_negative_count_for_rates():
    assert message(rate_ci, [-2], [100]) == "count must not be negative; got -2.0 at position 0"
    assert message(dsr, [5, -1], [100, 100], standard=[1, 1]) == \
        "count must not be negative; got -1.0 at position 1"
    assert message(isr, [-3], [2.0]) == "observed must not be negative; got -3.0 at position 0"


@pytest.mark.parametrize("fn", [proportion_ci, funnel, variation])
def test_numerator_above_denominator(fn):
    assert message(fn, [5, 12], [10, 10]) == \
        "numerator must not be greater than denominator; got numerator=12.0 > denominator=10.0 at position 1"


@pytest.mark.parametrize("bad", [95, 0, 1, -0.5])
def test_confidence_outside_unit_interval(bad):
    expected = f"confidence must be between 0 and 1 (exclusive); got {float(bad)!r}"
    assert message(proportion_ci, [1], [10], confidence=bad) == expected
    assert message(rate_ci, [1], [10], confidence=(0.95, bad)) == expected
    assert message(funnel_limits, 0.5, [10], confidence=bad) == expected
    assert message(dsr, [1], [10], standard=[1], confidence=bad) == expected


def test_mismatched_lengths():
    assert message(proportion_ci, [1, 2, 3], [10, 10]) == \
        "arguments must have the same length (or length 1): numerator has 3, denominator has 2"
    assert message(rate_ci, [1, 2], [10, 10, 10]) == \
        "arguments must have the same length (or length 1): count has 2, denominator has 3"
    assert message(funnel, [1, 2], [10, 10], units=["a", "b", "c"]) == \
        "arguments must have the same length (or length 1): numerator has 2, units has 3"


def test_unknown_choices():
    assert message(proportion_ci, [1], [10], method="score") == \
        "method must be one of 'wilson', 'exact'; got 'score'"
    assert message(funnel, [1], [10], overdispersion="both") == \
        "overdispersion must be one of None, 'multiplicative', 'additive'; got 'both'"
    assert message(funnel_limits, 0.5, [10], statistic="mean") == \
        "statistic must be one of 'proportion', 'ratio', 'rate'; got 'mean'"


def test_funnel_specific_rules():
    assert message(funnel, [1, 2], [10, 10], trim=0.5) == "trim must be at least 0 and below 0.5; got 0.5"
    assert message(funnel_limits, 1.5, [10]) == \
        "target must be between 0 and 1 (exclusive) for a proportion; got 1.5"
    assert message(funnel_limits, -1, [10], statistic="ratio") == \
        "target must be a positive number for a ratio; got -1.0"


def test_standardisation_rules():
    assert message(dsr, [5], [100], age_band=["100+"]) == \
        "age_band must be one of the standard's bands; got '100+' at position 0"
    assert message(dsr, [5], [100]) == ("age_band is required when standard is a table of age bands "
                                        "(the default ESP 2013 is matched on age_band)")
    assert message(isr, [5]) == ("isr needs expected counts, or population with reference_rate "
                                 "(or reference_count and reference_population)")


def test_variation_rules():
    assert message(variation, [1, 2], [10, 10], nagq=0) == "nagq must be a whole number from 1 to 50; got 0"
    assert message(variation, [1, 2], [10, 10], confidence=(0.9, 0.95)) == \
        "confidence must be a single level for variation; got (0.9, 0.95)"
