"""Fixtures of the synthetic-data tests: one generation per scale and seed per test session."""
from __future__ import annotations

import pytest

from cluster_eval.synthetic.generator import simulate


@pytest.fixture(scope="session")
def denmark():
    """(Dataset, diagnostics) of the denmark scale, seed 0."""
    return simulate("denmark", 0)


@pytest.fixture(scope="session")
def small():
    """(Dataset, diagnostics) of the small scale, seed 0."""
    return simulate("small", 0)
