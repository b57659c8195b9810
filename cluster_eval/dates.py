"""Month arithmetic: the one place where a date becomes a month count (``12 * year + month - 1``)."""
from __future__ import annotations

import pandas as pd


def month_index(dates):
    """Whole months since January of year 0: ``12 * year + month - 1``.

    Differences of two indices are numbers of months (``month_index(b) - month_index(a)``). Takes a
    Timestamp (or ``datetime.date``), a DatetimeIndex, or a datetime Series, and returns the same shape.
    """
    d = dates.dt if isinstance(dates, pd.Series) else dates
    return d.year * 12 + d.month - 1
