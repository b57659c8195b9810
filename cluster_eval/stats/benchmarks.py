"""National benchmarks of practice values: per-period deciles and each practice's percentile rank."""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..validation import as_float_array, check_same_length

DECILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)


@dataclass
class BenchmarkResult:
    """Results of :func:`benchmarks`.

    Attributes
    ----------
    deciles : pandas.DataFrame
        ``period, percentile, value, n_practices``: one row per period and requested percentile.
    ranks : pandas.DataFrame
        ``practice, period, value, percentile``: each practice-period's percentile rank (0-100).
    """

    deciles: pd.DataFrame
    ranks: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The practice table (:attr:`ranks`)."""
        return self.ranks.copy()

    def wide(self) -> pd.DataFrame:
        """Deciles with one row per period and one column per percentile (p10 ... p90)."""
        out = self.deciles.pivot(index="period", columns="percentile", values="value")
        out.columns = [f"p{c:g}" for c in out.columns]
        return out

    def summary(self) -> str:
        """One line: the periods, the practices and the practice-periods left unranked (missing value)."""
        periods = self.deciles["period"].nunique()
        practices = self.ranks["practice"].nunique()
        missing = int(self.ranks["value"].isna().sum())
        return (f"Benchmarks: {periods} period(s), {practices} practice(s); "
                f"{missing} practice-period value(s) missing and not ranked.")

    def __repr__(self) -> str:
        return f"<BenchmarkResult: {self.summary()}>"

    def _repr_html_(self) -> str:
        return f"<div><p>{html.escape(self.summary())}</p>{self.wide().head(24).to_html()}</div>"


def benchmarks(values, practice, period, percentiles=DECILES) -> BenchmarkResult:
    """Per-period national percentiles of practice values, and each practice's percentile rank.

    Parameters
    ----------
    values : array-like
        One indicator value per practice and period (e.g. a proportion or a rate per 1,000); missing
        values are left out of the percentiles and get no rank (OpenPrescribing sets a missing ratio
        to 0 instead; we do not).
    practice, period : array-like
        Identifiers of each value's practice and period.
    percentiles : sequence of float
        Which percentiles to report, each in [0, 100]; default the deciles 10 ... 90.

    Returns
    -------
    BenchmarkResult
        ``.deciles`` and ``.ranks`` tables (see :class:`BenchmarkResult`).

    Notes
    -----
    Percentiles interpolate linearly between order statistics (numpy's default 'linear', R type 7),
    as OpenPrescribing computes its measure deciles. The percentile rank is SQL's
    ``PERCENT_RANK() OVER (PARTITION BY period ORDER BY value)`` × 100, also as OpenPrescribing:
    (r − 1)/(n − 1) × 100 with r the lowest rank among ties and n the practices with a value in the
    period (0 when a period has a single practice).

    References
    ----------
    Curtis HJ, Goldacre B (2018). OpenPrescribing: normalised data and software tool to research trends in
    English NHS primary care prescribing 1998-2016. BMJ Open 8: e019921.
    Hyndman RJ, Fan Y (1996). Sample quantiles in statistical packages. Am Stat 50(4): 361-365.
    """
    v = as_float_array(values, "values")
    prac = np.asarray(practice)
    per = np.asarray(period)
    check_same_length(values=v, practice=np.atleast_1d(prac), period=np.atleast_1d(per))
    pct = [float(p) for p in np.atleast_1d(percentiles)]
    bad = [p for p in pct if not 0 <= p <= 100]
    if bad:
        raise ArgumentError(f"percentiles must be between 0 and 100; got {bad[0]!r}")
    frame = pd.DataFrame({"practice": prac, "period": per, "value": v})
    if frame.duplicated(["practice", "period"]).any():
        dup = frame[frame.duplicated(["practice", "period"])].iloc[0]
        raise ArgumentError(f"each practice may have one value per period; got a second value for practice "
                            f"{dup['practice']!r} in period {dup['period']!r}")
    grouped = frame.groupby("period", sort=True)["value"]
    q = grouped.quantile([p / 100 for p in pct], interpolation="linear")
    deciles = q.rename("value").reset_index().rename(columns={"level_1": "percentile"})
    deciles["percentile"] = np.round(deciles["percentile"] * 100, 10)
    deciles = deciles.merge(grouped.count().rename("n_practices").reset_index(), on="period")
    rank = grouped.rank(method="min")
    count = grouped.transform("count")
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["percentile"] = np.where(count > 1, (rank - 1) / (count - 1) * 100, 0.0)
    frame.loc[frame["value"].isna(), "percentile"] = np.nan
    return BenchmarkResult(deciles=deciles[["period", "percentile", "value", "n_practices"]], ranks=frame)
