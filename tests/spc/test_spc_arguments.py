"""Bad arguments to ce.spc.qic raise ArgumentError (a ValueError) with a message that states the rule."""
from __future__ import annotations

import pandas as pd
import pytest

import cluster_eval as ce
from cluster_eval.errors import ArgumentError

X3 = [1, 2, 3]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(x=X3, y=X3, chart="x"),
         "chart must be one of 'run', 'i', 'mr', 'xbar', 's', 't', 'p', 'pp', 'c', 'u', 'up'; got 'x'"),
        (dict(x=X3, y=[1, 2, 3, 4], chart="i"),
         "arguments must have the same length (or length 1): x has 3, y has 4"),
        (dict(x=X3, y=X3, n=[4, 5], chart="p"),
         "arguments must have the same length (or length 1): x has 3, y has 3, n has 2"),
        (dict(x=X3, y=X3, chart="p"),
         "n is required for chart 'p' (the denominator of each subgroup); got None"),
        (dict(x=X3, y=X3, chart="pp"),
         "n is required for chart 'pp' (the denominator of each subgroup); got None"),
        (dict(x=X3, y=X3, chart="u"),
         "n is required for chart 'u' (the denominator of each subgroup); got None"),
        (dict(x=X3, y=X3, chart="up"),
         "n is required for chart 'up' (the denominator of each subgroup); got None"),
        (dict(x=X3, y=[1, 0, 3], chart="t"),
         "y (time between events) must be greater than zero for chart 't'; got 0.0 at position 1"),
        (dict(x=X3, y=X3, freeze=0), "freeze must hold whole numbers >= 1; got 0"),
        (dict(x=X3, y=X3, freeze=[1, 2]), "freeze must be one position; got [1, 2]"),
        (dict(x=X3, y=X3, exclude=[1.5]), "exclude must hold whole numbers >= 1; got 1.5"),
        (dict(x=X3, y=X3, part="a"), "part must hold whole numbers >= 1; got 'a'"),
        (dict(x=X3, y=X3, multiply=0), "multiply must be a positive number; got 0"),
        (dict(x=X3, y=X3, agg_fun="max"), "agg_fun must be one of 'mean', 'median', 'sum', 'sd'; got 'max'"),
        (dict(x=X3, y=["a", "b", "c"]), "y must be numeric; got ['a', 'b', 'c']"),
        (dict(x=X3, y=X3, facets=[[1, 2]]),
         "arguments must have the same length (or length 1): x has 3, y has 3, facets['facet1'] has 2"),
        (dict(x="a", y="b"), "x names a column ('a') but no data frame was given"),
        (dict(x="a", y="b", data=pd.DataFrame({"a": [1]})), "y must name a column of data; got 'b'"),
    ],
)
def test_bad_arguments_raise_argument_error(kwargs, message):
    with pytest.raises(ArgumentError) as info:
        ce.spc.qic(**kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_data_must_be_a_data_frame():
    with pytest.raises(ArgumentError, match="data must be a pandas DataFrame; got dict"):
        ce.spc.qic("a", "b", data={"a": [1], "b": [2]})
