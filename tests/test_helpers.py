"""The small shared helpers: closest-key suggestions and month arithmetic."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from cluster_eval.data.params import check_keys
from cluster_eval.dates import month_index
from cluster_eval.errors import ConfigError
from cluster_eval.validation import did_you_mean


def test_did_you_mean_suggests_the_closest_key_or_none():
    assert did_you_mean("lgf", ["lag", "pre", "post"]) == "lag"
    assert did_you_mean("confidnce", {"confidence", "estimator"}) == "confidence"
    assert did_you_mean("zzzz", ["lag", "pre"]) is None


def test_params_keys_name_the_closest_allowed_key():
    with pytest.raises(ConfigError, match=r"unknown key 'lgf' in params 'impact'; did you mean 'lag'\?"):
        check_keys({"lgf": 1}, {"lag", "pre"}, "params 'impact'")
    with pytest.raises(ConfigError, match=r"allowed keys: lag, pre$"):
        check_keys({"zzzz": 1}, {"lag", "pre"}, "params 'impact'")


def test_month_index_counts_months_for_every_date_shape():
    # January 2024 is 2024 * 12 months after January of year 0; March 2023 is 10 months before it
    assert month_index(pd.Timestamp("2024-01-15")) == 24288
    assert month_index(dt.date(2023, 3, 1)) == 24278
    s = pd.Series(pd.to_datetime(["2023-12-01", "2024-01-01", "2025-02-28"]))
    assert (month_index(s) - month_index(s.iloc[0])).tolist() == [0, 1, 14]
    idx = pd.DatetimeIndex(s)
    assert list(month_index(idx) - month_index(idx[0])) == [0, 1, 14]
