"""From the contract tables to practice x month panels of one indicator, with each practice's treatment start.

A cluster's practices are exposed from the month of the cluster's first meeting on the indicator's topic
(``activities.start`` truncated to the month) plus ``lag`` months; practices in no cluster, or in a cluster
with no row for the topic, are never treated on it. The practice value is ``numerator / denominator *
multiplier`` (missing when the denominator is 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..dates import month_index
from ..errors import ArgumentError


def indicator_map(indicators) -> pd.DataFrame:
    """Normalise the indicator -> topic (multiplier, kind) mapping to a DataFrame indexed by indicator_id.

    Accepts a dict ``{id: topic}``, a dict ``{id: {"topic": ..., "multiplier": ...}}``, a DataFrame with
    columns indicator_id, topic[, multiplier], or an iterable of objects with ``id``, ``topic`` and ``kind``
    attributes (e.g. ``ce.synthetic.INDICATORS``: rates get multiplier 1,000; catalogue ``Indicator`` objects
    give their own ``multiplier``), or a dict ``{id: such object}``.
    """
    if isinstance(indicators, pd.DataFrame):
        df = indicators.copy()
    elif isinstance(indicators, dict):
        rows = []
        for k, v in indicators.items():
            if isinstance(v, dict):
                rows.append({"indicator_id": k, **v})
            elif hasattr(v, "topic"):  # e.g. {id: catalogue Indicator}
                rows.append({"indicator_id": k, "topic": v.topic, "kind": getattr(v, "kind", None),
                             "multiplier": getattr(v, "multiplier", None)})
            else:
                rows.append({"indicator_id": k, "topic": v})
        df = pd.DataFrame(rows)
    else:
        rows = []
        for spec in indicators:
            mult = getattr(spec, "multiplier", None)
            if mult is None:
                mult = 1000.0 if getattr(spec, "kind", "proportion") == "rate" else 1.0
            rows.append({"indicator_id": spec.id, "topic": spec.topic, "multiplier": mult,
                         "kind": getattr(spec, "kind", None)})
        df = pd.DataFrame(rows)
    if "indicator_id" not in df or "topic" not in df:
        raise ArgumentError("indicators must give indicator_id and topic; got columns " + str(list(df.columns)))
    if "multiplier" not in df:
        df["multiplier"] = 1.0
    df["multiplier"] = df["multiplier"].fillna(1.0).astype(float)
    if "kind" not in df:
        df["kind"] = None
    # without a stated kind: a multiplier of 1,000 or more means a rate per 1,000, else a proportion
    df["kind"] = df["kind"].where(df["kind"].notna(), np.where(df["multiplier"] >= 1000, "rate", "proportion"))
    return df.set_index("indicator_id")[["topic", "multiplier", "kind"]]


@dataclass
class IndicatorPanel:
    """Wide arrays of one indicator: ``value``/``denominator`` are practices x periods (NaN = missing)."""

    indicator_id: str
    topic: str
    practice_ids: np.ndarray
    cluster_ids: np.ndarray        # object array, None for no cluster
    periods: pd.DatetimeIndex
    value: np.ndarray
    denominator: np.ndarray
    start_index: np.ndarray        # per practice: index of first exposed period (inf = never / not in data)
    cluster_start: pd.DataFrame    # cluster_id, start (month), start_index (may be outside 0..T-1)

    @classmethod
    def from_array(cls, values, clusters, starts: dict, periods=None, *, indicator_id: str = "ind",
                   topic: str = "topic", denominator: float = 100.0) -> IndicatorPanel:
        """A panel from a practices x months array, for simulations and hand-made examples.

        Parameters
        ----------
        values : array-like
            Practices x months values (NaN = missing).
        clusters : sequence
            Each practice's cluster id, or None for a practice in no cluster.
        starts : dict
            Cluster id -> index of its first exposed month (clusters not in it are never treated).
        periods : DatetimeIndex, optional
            The months (default: monthly from January 2020).
        indicator_id, topic : str
        denominator : float
            Every practice-month's denominator.

        Returns
        -------
        IndicatorPanel
        """
        values = np.asarray(values, float)
        n, t = values.shape
        periods = pd.date_range("2020-01-01", periods=t, freq="MS") if periods is None else pd.DatetimeIndex(periods)
        cl = np.array(clusters, dtype=object)
        start_index = np.array([starts.get(c, np.inf) if c is not None else np.inf for c in cl], float)
        cs = pd.DataFrame({"cluster_id": list(starts),
                           "start": [periods[0] + pd.DateOffset(months=int(s)) for s in starts.values()],
                           "start_index": np.array(list(starts.values()), float)})
        return cls(indicator_id, topic, np.array([f"P{i}" for i in range(n)]), cl, periods, values,
                   np.full(values.shape, float(denominator)), start_index, cs)

    def long(self) -> pd.DataFrame:
        """Long form for :func:`att_gt`: practice, t (1-based period), g (1-based start, 0 never), value, weight."""
        n, t = self.value.shape
        g = np.where(np.isfinite(self.start_index), self.start_index + 1, 0.0)
        return pd.DataFrame({
            "unit": np.repeat(np.arange(n), t), "t": np.tile(np.arange(1, t + 1), n),
            "g": np.repeat(g, t), "value": self.value.ravel(), "denominator": self.denominator.ravel(),
            "weight": np.repeat(np.nanmean(np.where(self.denominator > 0, self.denominator, np.nan), axis=1), t),
            "cluster_id": np.repeat(self.cluster_ids, t)})


def month_start(x) -> pd.Series:
    return pd.to_datetime(pd.Series(x)).dt.to_period("M").dt.to_timestamp()


def build_panels(measures: pd.DataFrame, practices: pd.DataFrame, activities: pd.DataFrame, indicators, *,
                 lag: int = 0, only=None) -> dict[str, IndicatorPanel]:
    """One :class:`IndicatorPanel` per indicator found in both ``measures`` and the ``indicators`` mapping."""
    imap = indicator_map(indicators)
    for name, df, cols in [("measures", measures, ["indicator_id", "practice_id", "period", "numerator",
                                                    "denominator"]),
                           ("practices", practices, ["practice_id", "cluster_id"]),
                           ("activities", activities, ["cluster_id", "topic", "start"])]:
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ArgumentError(f"{name} lacks column(s) {missing}")
    if lag < 0:
        raise ArgumentError(f"lag must be 0 or more months; got {lag!r}")
    m = measures.copy()
    m["period"] = month_start(m["period"]).to_numpy()
    first, last = m["period"].min(), m["period"].max()
    periods = pd.date_range(first, last, freq="MS")  # monthly periods; months without data stay missing
    pid = practices["practice_id"].astype(str).to_numpy()
    pcl = practices["cluster_id"].astype(object).where(practices["cluster_id"].notna(), None).to_numpy()
    pos = pd.Series(np.arange(len(pid)), index=pid)
    act = activities.copy()
    act["month"] = month_start(act["start"]).to_numpy()
    act = act.sort_values("month").drop_duplicates(["cluster_id", "topic"])
    p_index = pd.Series(np.arange(len(periods)), index=periods)
    out = {}
    wanted = [i for i in imap.index if (only is None or i in only)]
    m = m[m["indicator_id"].isin(wanted)]
    for ind, grp in m.groupby("indicator_id", sort=True):
        topic, mult = imap.loc[ind, "topic"], imap.loc[ind, "multiplier"]
        rows = pos.reindex(grp["practice_id"].astype(str)).to_numpy()
        ok = ~np.isnan(rows)
        cols = p_index.reindex(pd.DatetimeIndex(grp["period"])).to_numpy()
        num = np.full((len(pid), len(periods)), np.nan)
        den = np.full((len(pid), len(periods)), np.nan)
        r, c = rows[ok].astype(int), cols[ok].astype(int)
        num[r, c] = grp["numerator"].to_numpy(float)[ok]
        den[r, c] = grp["denominator"].to_numpy(float)[ok]
        with np.errstate(divide="ignore", invalid="ignore"):
            val = np.where(den > 0, num / den * mult, np.nan)
        a = act[act["topic"] == topic]
        months = pd.DatetimeIndex(a["month"]) + pd.DateOffset(months=lag)
        # period index of each cluster's start (months beyond the data get indices outside 0..T-1)
        sidx = month_index(months) - month_index(periods[0])
        cs = pd.DataFrame({"cluster_id": a["cluster_id"].astype(str).to_numpy(), "start": months,
                           "start_index": np.asarray(sidx, float)})
        cmap = dict(zip(cs["cluster_id"], cs["start_index"]))
        start = np.array([cmap.get(cl, np.inf) if cl is not None else np.inf for cl in pcl], float)
        out[ind] = IndicatorPanel(ind, topic, pid, pcl, periods, val, den, start, cs)
    return out
