"""Results objects of the impact models: tidy tables, ``summary()`` as text/HTML, ``conf_int``, notebook display."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
from scipy import stats

from ..validation import check_confidence


def _fmt_table(df: pd.DataFrame, digits: int = 4) -> str:
    return df.to_string(index=False, float_format=lambda v: f"{v:.{digits}f}")


class _Results:
    title = "Results"

    def _header(self) -> list[tuple[str, str]]:
        return []

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - overridden
        raise NotImplementedError

    def summary(self, digits: int = 4) -> str:
        """Plain-text summary: a header of settings, then the table."""
        head = [self.title, "=" * len(self.title)]
        head += [f"{k}: {v}" for k, v in self._header()]
        return "\n".join(head) + "\n\n" + _fmt_table(self.to_frame(), digits)

    def summary_html(self, digits: int = 4) -> str:
        items = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                        for k, v in self._header())
        table = self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0)
        return f"<div><h4>{html.escape(self.title)}</h4><table>{items}</table>{table}</div>"

    def _repr_html_(self) -> str:
        return self.summary_html()

    def __repr__(self) -> str:
        return self.summary()


class _EffectsResults(_Results):
    """Effects tables of many estimates (per cluster or per indicator): ``effects``, ``event_study``, settings."""

    def __init__(self, effects: pd.DataFrame, event_study: pd.DataFrame, settings: dict):
        self.effects = effects
        self.event_study = event_study
        self.settings = settings

    def _header(self):
        return list(self.settings.items())

    def to_frame(self) -> pd.DataFrame:
        return self.effects.copy()


class ATTgtResults(_Results):
    """Group-time ATTs with their influence functions (from :func:`cluster_eval.impact.att_gt`).

    Attributes
    ----------
    table : DataFrame
        group, time, base_time, event_time, post, att, se (analytic), lower, upper (pointwise, 1 - alpha),
        and with the bootstrap se_boot, band_lower, band_upper (uniform band, critical value in
        ``critical_value``).
    inf : ndarray
        n x cells influence-function matrix (did's scaling: ``se = sqrt(sum IF^2) / n``).
    """

    title = "Group-time average treatment effects (Callaway & Sant'Anna 2021)"

    def __init__(self, table, inf, n, unit_group, unit_weights, cluster, alpha, confidence, draws, cband,
                 critical_value, meta):
        self.table = table
        self.inf = inf
        self.n = n
        self.unit_group = unit_group
        self.unit_weights = unit_weights
        self.cluster = cluster
        self.alpha = alpha
        self.confidence = confidence
        self.draws = draws
        self.cband = cband
        self.critical_value = critical_value
        self.meta = meta

    @classmethod
    def from_influence(cls, table, inf, *, n, unit_group, unit_weights, cluster, alpha, confidence, bstrap,
                       biters, cband, seed, meta):
        from .did import influence_se, mammen_weights, multiplier_bootstrap

        z = stats.norm.ppf(1 - alpha / 2)
        table = table.copy()
        table["se"] = influence_se(inf, n, cluster)
        table.loc[table["att"].isna(), "se"] = np.nan
        table["lower"] = table["att"] - z * table["se"]
        table["upper"] = table["att"] + z * table["se"]
        draws, crit = None, None
        if bstrap:
            rng = np.random.default_rng(seed)
            m = n if cluster is None else pd.Series(cluster).nunique()
            draws = mammen_weights((int(biters), m), rng)
            se_b, crit = multiplier_bootstrap(inf, n, draws, alpha, cluster)
            if not cband:
                crit = z
            table["se_boot"] = se_b
            table["band_lower"] = table["att"] - crit * table["se_boot"]
            table["band_upper"] = table["att"] + crit * table["se_boot"]
        return cls(table, inf, n, unit_group, unit_weights, cluster, alpha, confidence, draws, cband, crit, meta)

    def _header(self):
        m = self.meta
        out = [("outcome", m.get("yname")), ("units", self.n), ("comparison group", m.get("control_group")),
               ("estimation", m.get("est_method")), ("base period", m.get("base_period")),
               ("anticipation", m.get("anticipation")), ("standard errors",
               "analytic (influence function)" + (f", clustered by {m['clustervars']}" if m.get("clustervars")
                                                  else ", by unit"))]
        if self.critical_value is not None:
            out.append(("uniform band critical value", f"{self.critical_value:.3f}"))
        return out

    def to_frame(self) -> pd.DataFrame:
        """The group-time table (one row per cell)."""
        return self.table.copy()

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Pointwise analytic confidence intervals at ``level``."""
        (level,) = check_confidence(level)
        z = stats.norm.ppf(0.5 + level / 2)
        t = self.table
        return pd.DataFrame({"group": t["group"], "time": t["time"], "lower": t["att"] - z * t["se"],
                             "upper": t["att"] + z * t["se"], "confidence": level})

    def vcov(self) -> np.ndarray:
        """Covariance matrix of the cells from the influence functions (unit level)."""
        return self.inf.T @ self.inf / self.n ** 2

    def aggregate(self, kind: str = "simple", **kwargs):
        """``"simple" | "dynamic" | "group" | "calendar"``: see :func:`cluster_eval.impact.aggregate.aggregate`."""
        from .aggregate import aggregate
        return aggregate(self, kind, **kwargs)


class AggregateResults(_Results):
    """An aggregate of group-time ATTs: the overall effect and (except "simple") its components."""

    def __init__(self, kind, overall, table, alpha, inf, meta):
        self.kind = kind
        self.overall = overall
        self.table = table
        self.alpha = alpha
        self.inf = inf
        self.meta = meta
        self.title = f"Aggregated ATT ({kind})"

    @property
    def att(self) -> float:
        return self.overall["att"]

    @property
    def se(self) -> float:
        return self.overall["se"]

    def _header(self):
        o = self.overall
        conf = 1 - self.alpha
        return [("overall ATT", f"{o['att']:.4f}"), ("standard error", f"{o['se']:.4f}"),
                (f"{conf:.0%} CI", f"[{o['lower']:.4f}, {o['upper']:.4f}]"),
                ("comparison group", self.meta.get("control_group"))]

    def to_frame(self) -> pd.DataFrame:
        """Component table (event times, groups or periods), or the one-row overall effect for ``simple``."""
        if self.table is None:
            return pd.DataFrame([{"kind": self.kind, **self.overall}])
        return self.table.copy()

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        (level,) = check_confidence(level)
        z = stats.norm.ppf(0.5 + level / 2)
        o = self.overall
        return pd.DataFrame([{"kind": self.kind, "lower": o["att"] - z * o["se"], "upper": o["att"] + z * o["se"],
                              "confidence": level}])
