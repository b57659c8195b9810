"""The analyse-once stage: every statistic the reports need, for every cluster, in one process.

The statistics are the packages' (``ce.spc`` charts relative to the nation, ``ce.stats`` standardisation and
funnel limits,
``ce.impact`` effects, variation change, pooling and national effects); this stage arranges data for them and
tables from them. A failure in one of them fails the stage with a log line naming the step.

Writes tidy Parquet tables into ``<run>/tables/``. Every table that holds person counts (clusters: listed
patients; trends, funnel, standing: numerators and denominators) goes through disclosure control
(``ce.disclosure.suppress_table``: primary and secondary suppression, derived values hidden with their counts;
the trends, which publish cluster, region and national rows together, as one nested table:
:meth:`Analysis.trends_published`) before it is written; the others hold estimates and numbers of practices or
clusters only, and the closing audit checks every written file independently.

=====================  =========================================================================
table                  one row per
=====================  =========================================================================
indicators             indicator (title, topic, kind, multiplier, better)
clusters               cluster (name, region, practices, listed patients, topics taken up)
activities             cluster x topic taken up (start, first exposed month)
trends                 level (cluster/region/nation) x unit x indicator x month (numerator, denominator, value:
                       indirectly standardised for age and sex where banded, else crude; ``measure`` says which)
spc                    cluster x indicator taken up: SPC relative to the nation (O/E), rules and signal
spc_chart              cluster x indicator taken up x month (24 before to 24 after the start): O/E, centre, limits
funnel                 cluster x topic x indicator x phase (before/after) x practice (pseudonymised; standardised
                       where banded)
effects                cluster x topic x indicator: effect, interval, placebo, minimum detectable effect
event_study            cluster x topic x indicator x month since start
pooled                 topic x indicator: pooled effect, tau², I², prediction interval
pooled_event_study     topic x indicator x month since start
variation              cluster x topic x indicator: between-practice SD before/after vs comparison
variation_trend        indicator x year: between-practice variation nationally
standing               cluster x indicator (all topics): last 12 months vs the nation (standardised when banded)
national_effects       indicator: national staggered DiD (``impact.national``)
national_event_study   indicator x month since start (``impact.national``)
its                    cluster x indicator: segmented regression level/slope change (``impact.its``)
truth_check            cluster x indicator: estimate vs the true effect (synthetic data only)
=====================  =========================================================================

The per-cluster effects and event studies come from the estimator that ``impact.estimator`` names in the
registry :data:`cluster_eval.impact.estimators.ESTIMATORS` (schema there); the panels are built once
(:attr:`Analysis.impact_inputs`) and shared by the estimator, the change in variation and the national DiD.

Notebooks only read these tables; nothing is refitted in a notebook.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..disclosure import TOTAL
from ..errors import ClusterEvalWarning
from . import descriptive
from .impact_tables import ImpactTables
from .tables import disclose, disclose_nested, hide_windows_over_hidden_months, write_table

NO_CLUSTER = "(practices in no cluster)"
"""The practices of a region in no cluster: a part of the region's total in the trends, never published."""

INDICATOR_COLUMNS = ["indicator_id", "title", "topic", "kind", "multiplier", "better", "unit", "primary", "title_da"]


def indicator_table(dataset, wanted=None, topics=None) -> pd.DataFrame:
    """Metadata of the indicators present in the measures: the catalogue (``cluster_eval.indicators``), or for a
    measure not in it the params' ``data.indicators`` section (``dataset.indicators``).

    Proportions are shown as percentages in the reports (multiplier 100); rates per the catalogue's multiplier.
    """
    from ..indicators import load_catalogue

    meta = {k: {"title": ind.title, "topic": ind.topic, "kind": ind.kind, "multiplier": ind.multiplier,
                "better": ind.better, "primary": ind.primary, "title_da": ind.title_da}
            for k, ind in load_catalogue().items()}
    for k, m in (getattr(dataset, "indicators", None) or {}).items():
        meta.setdefault(k, {}).update({kk: vv for kk, vv in m.items() if vv is not None})
    rows = []
    for k in sorted(dataset.measures["indicator_id"].astype(str).unique()):
        if wanted and k not in wanted:
            continue
        m = meta.get(k, {})
        kind = m.get("kind") or "proportion"
        mult = 100.0 if kind == "proportion" else float(m.get("multiplier") or 1)
        topic = m.get("topic") or "other"
        if topics and topic not in topics:
            continue
        unit = "%" if kind == "proportion" else (f"per {mult:,.0f}" if mult != 1 else "")
        rows.append((k, m.get("title") or k, topic, kind, mult, m.get("better") or "none", unit,
                     bool(m.get("primary", False)), m.get("title_da") or m.get("title") or k))
    return pd.DataFrame(rows, columns=INDICATOR_COLUMNS)


@dataclass(frozen=True, eq=False)
class Analysis(ImpactTables):
    """The prepared data of one run (built once, read-only) and the tables made from it.

    Everything derived is an explicit cached property computed on first use: the indicator table (``ind``),
    the filtered measures, months, practices and activities, the practice x month matrices of every indicator
    (:attr:`matrices_by_indicator`), the expected counts of the banded indicators (:attr:`expected_by_indicator`)
    and the
    impact panels (:attr:`impact_inputs`). :meth:`run` writes every table.
    """

    ds: object
    cfg: object

    @cached_property
    def imp(self) -> dict:
        return self.cfg.params["impact"]

    @property
    def conf(self) -> float:
        return float(self.imp["confidence"])

    @cached_property
    def ind(self) -> pd.DataFrame:
        p = self.cfg.params
        return indicator_table(self.ds, p["indicators"], p["topics"])

    @cached_property
    def measures(self) -> pd.DataFrame:
        m = self.ds.measures
        m = m[m["indicator_id"].isin(self.ind["indicator_id"])].copy()
        per = self.cfg.params["periods"]
        if per["start"]:
            m = m[m["period"] >= pd.Timestamp(per["start"])]
        if per["end"]:
            m = m[m["period"] <= pd.Timestamp(per["end"])]
        m["period"] = m["period"].dt.to_period("M").dt.to_timestamp()
        return m

    @cached_property
    def periods(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(sorted(self.measures["period"].unique()))

    @cached_property
    def practices(self) -> pd.DataFrame:
        prac = self.ds.practices.copy()
        prac["cluster_id"] = prac["cluster_id"].astype("string")
        return prac.set_index("practice_id")

    @cached_property
    def pids(self) -> pd.Index:
        return pd.Index(sorted(self.ds.practices["practice_id"]))

    @cached_property
    def activities(self) -> pd.DataFrame:
        act = self.ds.activities.copy()
        if self.cfg.params["topics"]:
            act = act[act["topic"].isin(self.cfg.params["topics"])]
        act["start"] = pd.to_datetime(act["start"]).dt.to_period("M").dt.to_timestamp()
        act["exposed_from"] = act["start"] + pd.DateOffset(months=int(self.imp["lag"]))
        return act[act["cluster_id"].isin(self.ds.clusters["cluster_id"])].reset_index(drop=True)

    # -- practice x month matrices ----------------------------------------------------------------
    @cached_property
    def matrices_by_indicator(self) -> dict:
        """indicator id -> (numerator, denominator, value) practice x month arrays (value in reported units)."""
        out = {}
        shape = (len(self.pids), len(self.periods))
        mult = self.ind.set_index("indicator_id")["multiplier"]
        for iid, sub in self.measures.groupby("indicator_id", observed=True):
            r = self.pids.get_indexer(sub["practice_id"])
            c = self.periods.get_indexer(sub["period"])
            ok = (r >= 0) & (c >= 0)
            num = np.full(shape, np.nan)
            den = np.full(shape, np.nan)
            num[r[ok], c[ok]] = sub["numerator"].to_numpy(dtype=float)[ok]
            den[r[ok], c[ok]] = sub["denominator"].to_numpy(dtype=float)[ok]
            with np.errstate(all="ignore"):
                val = np.where(den > 0, num / den * float(mult[iid]), np.nan)
            out[str(iid)] = (num, den, val)
        return out

    def matrices(self, indicator_id: str):
        """(numerator, denominator, value) practice x month arrays of one indicator."""
        if indicator_id not in self.matrices_by_indicator:
            empty = np.full((len(self.pids), len(self.periods)), np.nan)
            return empty, empty.copy(), empty.copy()
        return self.matrices_by_indicator[indicator_id]

    @cached_property
    def expected_by_indicator(self) -> dict:
        """indicator id -> practice x month expected counts from the nation's sex/age-band rates of the same
        month, for the indicators the data band (``measures_banded``); the others are reported crude."""
        banded = getattr(self.ds, "measures_banded", None)
        out = {}
        if banded is None or not len(banded):
            return out
        for iid in self.ind["indicator_id"]:
            b = descriptive.banded_matrices(banded, iid, self.pids, self.periods)
            if b is not None:
                out[str(iid)] = descriptive.practice_expected(b)
        return out

    def expected(self, indicator_id: str):
        """Practice x month expected counts of a banded indicator (:attr:`expected_by_indicator`), else None."""
        return self.expected_by_indicator.get(indicator_id)

    # -- tables ---------------------------------------------------------------------------------
    def clusters_table(self) -> pd.DataFrame:
        cl = self.ds.clusters[["cluster_id", "name", "region"]].copy()
        prac = self.practices.reset_index()
        n = prac.groupby("cluster_id").size().rename("n_practices")
        cl = cl.join(n, on="cluster_id")
        pop = self.ds.population
        if pop is not None and len(pop):
            last = pop["period"].max()
            lp = pop[pop["period"] == last].groupby("practice_id")["persons"].sum()
            listed = prac.join(lp.rename("listed"), on="practice_id").groupby("cluster_id")["listed"].sum()
            cl = cl.join(listed.rename("listed_patients"), on="cluster_id")
            cl["listed_year"] = int(last.year)
        else:
            cl["listed_patients"] = np.nan
            cl["listed_year"] = np.nan
        topics = self.activities.groupby("cluster_id")["topic"].agg(lambda s: ", ".join(sorted(s)))
        cl = cl.join(topics.rename("topics"), on="cluster_id")
        cl["topics"] = cl["topics"].fillna("")
        cl["n_practices"] = cl["n_practices"].fillna(0).astype(int)
        return cl.sort_values("cluster_id").reset_index(drop=True)

    def trends_table(self) -> pd.DataFrame:
        """Cluster, region and nation month by month. Where the indicator is banded the value is the indirectly
        standardised rate, O/E x the nation's crude value of the month (E from the nation's sex/age-band rates
        of the same month, :attr:`expected_by_indicator`; the nation's own value is then its crude value), and
        ``standardised`` is True; else the crude value. ``measure`` says which in words."""
        from ..stats.standing import measure_label

        m = self.measures.join(self.practices[["cluster_id", "region"]], on="practice_id")
        m["expected"] = np.nan
        for iid, e in self.expected_by_indicator.items():
            rows = (m["indicator_id"] == iid).to_numpy()
            r = self.pids.get_indexer(m.loc[rows, "practice_id"])
            c = self.periods.get_indexer(m.loc[rows, "period"])
            ok = (r >= 0) & (c >= 0)
            m.loc[rows, "expected"] = np.where(ok, e[np.maximum(r, 0), np.maximum(c, 0)], np.nan)
        parts = []
        for level, key in (("cluster", "cluster_id"), ("region", "region"), ("nation", None)):
            g = m if key else m.assign(nation="nation")
            key = key or "nation"
            g = g.dropna(subset=[key]).groupby(["indicator_id", key, "period"], observed=True)[
                ["numerator", "denominator", "expected"]].sum(min_count=1).reset_index().rename(
                columns={key: "unit_id"})
            g["level"] = level
            parts.append(g)
        t = pd.concat(parts, ignore_index=True)
        meta = self.ind.set_index("indicator_id")
        mult = t["indicator_id"].map(meta["multiplier"]).to_numpy(float)
        nat = parts[-1].set_index(["indicator_id", "period"])
        with np.errstate(invalid="ignore", divide="ignore"):
            crude = np.where(t["denominator"] > 0, t["numerator"] / t["denominator"], np.nan)
            nat_value = (nat["numerator"] / nat["denominator"]).reindex(
                pd.MultiIndex.from_frame(t[["indicator_id", "period"]])).to_numpy(float)
            std = t["indicator_id"].isin(list(self.expected_by_indicator)).to_numpy()
            e = t["expected"].to_numpy(float)
            isr_value = np.where(e > 0, t["numerator"].to_numpy(float) / e * nat_value, np.nan)
        t["value"] = np.where(std, isr_value, crude) * mult
        t["standardised"] = std
        kinds = t["indicator_id"].map(meta["kind"]).astype(str).to_numpy()
        t["measure"] = [measure_label(k, s, rate=True) for k, s in zip(kinds, std)]
        t["unit_id"] = t["unit_id"].astype(str)
        return t[["level", "unit_id", "indicator_id", "period", "numerator", "denominator", "expected", "value",
                  "standardised", "measure"]]

    def trends_published(self, trends: pd.DataFrame, threshold: int, rounding=None) -> pd.DataFrame:
        """The trends table after disclosure control of the whole hierarchy nation > region > cluster.

        Per indicator and month, the clusters of a region and the region's practices in no cluster (not
        published) add up to the region, the regions to the nation: :func:`.tables.disclose_nested` protects
        them as one table, so a hidden cluster count cannot be recovered as its region's total minus the
        region's other clusters (nor a region's from the nation). Assumes each cluster's practices lie in one
        region (a warning names clusters that do not: their counts are then protected within each region only).
        """
        m = self.measures.join(self.practices[["cluster_id", "region"]], on="practice_id")
        spread = m.dropna(subset=["cluster_id"]).groupby("cluster_id")["region"].nunique()
        if (spread > 1).any():
            warnings.warn(f"disclosure: clusters with practices in more than one region: "
                          f"{sorted(spread.index[spread > 1])[:5]}; the trends' suppression assumes one region "
                          "per cluster", ClusterEvalWarning, stacklevel=2)
        parts = (m.assign(region=m["region"].astype(object),
                          unit=m["cluster_id"].astype(object).where(m["cluster_id"].notna(), NO_CLUSTER))
                 .groupby(["indicator_id", "period", "region", "unit"], dropna=False, observed=True)
                 [["numerator", "denominator"]].sum().reset_index())
        sup = disclose_nested(parts, dims=["region", "unit"], by=["indicator_id", "period"], threshold=threshold,
                              rounding=rounding, unpublished=[NO_CLUSTER])
        region_total = sup["region"].astype(object).eq(TOTAL).to_numpy()
        unit_total = sup["unit"].astype(object).eq(TOTAL).to_numpy()
        sup["level"] = np.where(unit_total, np.where(region_total, "nation", "region"), "cluster")
        sup["unit_id"] = np.where(unit_total, np.where(region_total, "nation", sup["region"].astype(str)),
                                  sup["unit"].astype(str))
        sup = sup[~((sup["level"] == "region") & sup["region"].isna())]
        keys = ["level", "unit_id", "indicator_id", "period"]
        out = trends.drop(columns=["numerator", "denominator"]).merge(
            sup[keys + ["numerator", "denominator", "suppressed", "suppressed_reason"]], on=keys, how="left",
            validate="one_to_one")
        out.loc[out["suppressed"].to_numpy(dtype=bool), ["value", "expected"]] = np.nan
        out = out[["level", "unit_id", "indicator_id", "period", "numerator", "denominator", "expected", "value",
                   "standardised", "measure", "suppressed", "suppressed_reason"]]
        out.attrs.update(sup.attrs)
        return out

    def spc_table(self, trends: pd.DataFrame | None = None) -> pd.DataFrame:
        """SPC relative to the nation (``ce.spc.relative``) of every cluster and indicator of a topic it took up:
        O/E by month (standardised where the data are banded), 24 months before and after the start, baseline
        frozen, autocorrelation-aware sigma; ``signal`` only for the rules calibrated in
        ``benchmarks/calibration.py`` (:func:`cluster_eval.report.descriptive.spc_tables`)."""
        return self.spc_tables[0]

    @cached_property
    def spc_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(rules, chart data) of :meth:`spc_table`."""
        return descriptive.spc_tables(self)

    def variation_trend_table(self) -> pd.DataFrame:
        """National between-practice variation per indicator and year (``ce.stats.variation``, descriptive
        figures: CV, systematic component, extremal quotient, interquartile ratio), one row per indicator-year."""
        from ..stats import variation

        years = self.periods.year.to_numpy()
        ind = self.ind.set_index("indicator_id")
        parts = []
        for iid in ind.index:
            num, den, _ = self.matrices(iid)
            blocks = [(int(y), np.nansum(num[:, years == y], axis=1), np.nansum(den[:, years == y], axis=1))
                      for y in np.unique(years)]
            n = np.concatenate([b[1] for b in blocks])
            d = np.concatenate([b[2] for b in blocks])
            grp = np.concatenate([np.full(b[1].size, b[0]) for b in blocks])
            keep = d > 0
            if keep.sum() < 3:
                continue
            v = variation(n[keep], d[keep], by=grp[keep], kind=ind.loc[iid, "kind"], model=False,
                          multiplier=float(ind.loc[iid, "multiplier"]))
            wide = v.pivot(index="group", columns="statistic", values="value").join(
                v.groupby("group")[["n_units", "n_events"]].first()).reset_index()
            parts.append(wide.rename(columns={"group": "year", "n_units": "n_practices"}).assign(indicator_id=iid))
        if not parts:
            return pd.DataFrame(columns=["indicator_id", "year", "n_practices", "n_events", "cv"])
        out = pd.concat(parts, ignore_index=True)
        out.columns.name = None
        out = out[out["n_practices"] >= 3]
        first = ["indicator_id", "year", "n_practices", "n_events"]
        return out[first + [c for c in out.columns if c not in first]].reset_index(drop=True)

    def standing_table(self, trends: pd.DataFrame | None = None) -> pd.DataFrame:
        """Every cluster's last 12 months on every indicator against the nation: standardised where banded,
        cluster funnel with τ² from the same window, verdict at 99.8 %, 95 % shown
        (:func:`cluster_eval.report.descriptive.standing_table`)."""
        return descriptive.standing_table(self)

    # -- everything ---------------------------------------------------------------------------------
    def run(self, tables_dir, log=lambda msg: None, jobs: int = 1) -> dict:
        """Compute and write every table (each through disclosure control). Returns {name: path}.

        With ``jobs`` > 1 (and where processes can be forked) the impact tables (effects, event studies,
        variation, pooling, truth check, national DiD, ITS) are computed by a forked helper process while this
        one computes the descriptive tables (:mod:`.parallel`); the tables are the same as with ``jobs=1``. A
        helper that dies is replaced by computing its tables here.

        A failure is logged as ``analyse: failed during <step>: <error>`` and raised.
        """
        thr = int(self.cfg.params["disclosure"]["threshold"])
        rnd = self.cfg.params["disclosure"]["rounding"]
        out = {}
        step = ["preparing the data"]

        def stage(what, quiet=False):
            step[0] = what
            if not quiet:
                log(f"analyse: {what}")

        def put(name, df, counts=(), derived=(), by=None, hidden=None):
            if counts:
                t0 = time.time()
                stage(f"disclosure control of {name}", quiet=True)
                df = disclose(df, counts=counts, derived=derived, threshold=thr, rounding=rnd, by=by)
                if hidden is not None:  # window sums must not give back a month hidden in the trends
                    df = hide_windows_over_hidden_months(df, hidden, list(counts) + list(derived))
                log(f"analyse: disclosure control on {name} ({len(df):,} rows, {time.time() - t0:.1f} s)")
            out[name] = write_table(df, tables_dir / f"{name}.parquet")

        helper = None
        try:
            self.ind, self.measures, self.practices, self.activities  # noqa: B018 - prepare (fails here on bad data)
            if jobs > 1:
                from .parallel import ForkedPart

                helper = ForkedPart.start(self._impact_part, tables_dir, log)
            stage("clusters", quiet=True)
            put("indicators", self.ind)
            put("clusters", self.clusters_table(), counts=("listed_patients",))
            put("activities", self.activities)
            stage("trends")
            trends = self.trends_table()
            t0 = time.time()
            stage("disclosure control of trends (nation > region > cluster)", quiet=True)
            published = self.trends_published(trends, thr, rnd)
            put("trends", published)
            cells = published[(published["level"] == "cluster") & published["suppressed"].astype(bool)]
            hidden = cells.rename(columns={"unit_id": "cluster_id"})[["cluster_id", "indicator_id", "period"]]
            log(f"analyse: disclosure control on trends, nested ({len(trends):,} rows, {time.time() - t0:.1f} s)")
            del trends, published, cells
            stage("SPC relative to the nation (cluster_eval.spc.relative)")
            rules, chart = self.spc_tables
            put("spc", hide_windows_over_hidden_months(rules, hidden, ["centre", "sigma_z"]))
            put("spc_chart", descriptive.hide_chart_months(chart, hidden))
            if helper is None:
                out.update(self._impact_part(tables_dir, log, step))
            stage("funnels (cluster_eval.stats)")
            fun, limits = self.funnel_tables()
            put("funnel", fun, counts=("numerator", "denominator"), derived=("value", "expected"),
                by=["cluster_id", "topic", "indicator_id", "phase"], hidden=hidden)
            put("funnel_limits", limits)
            stage("national variation and standing")
            put("variation_trend", self.variation_trend_table())
            put("standing", self.standing_table(), counts=("numerator", "denominator"),
                derived=("value", "lower", "upper", "lower_99_8", "upper_99_8", "percentile"), by=["indicator_id"],
                hidden=hidden)
            if helper is not None:
                stage("waiting for the impact tables (helper process)", quiet=True)
                done = helper.join(step)
                if done is None:   # the helper died: its tables are computed here
                    log(f"analyse: the helper process stopped ({helper.exitcode_text()}); the impact tables are "
                        "computed here")
                    done = self._impact_part(tables_dir, log, step)
                out.update(done)
        except Exception as exc:
            if helper is not None:
                helper.stop()
            log(f"analyse: failed during {step[0]}: {type(exc).__name__}: {exc}")
            raise
        return out

    def _impact_part(self, tables_dir, log, step) -> dict:
        """The impact tables (``ce.impact``: effects, event studies, variation, pooling, truth check, national
        DiD, ITS): written into ``tables_dir``; returns {name: path}. ``step[0]`` names the step under way."""
        out = {}

        def stage(what):
            step[0] = what
            log(f"analyse: {what}")

        def put(name, df):
            out[name] = write_table(df, tables_dir / f"{name}.parquet")

        stage("effects, event studies, variation (cluster_eval.impact)")
        eff, es, var = self.effect_tables()
        put("effects", eff)
        put("event_study", es)
        put("variation", var)
        stage("pooling (cluster_eval.impact.pool)")
        pooled, pes = self.pooled_tables(eff, es)
        put("pooled", pooled)
        tc = self.truth_check(eff)
        if tc is not None:
            put("truth_check", tc)
        put("pooled_event_study", pes)
        if self.imp["national"]:
            stage("national staggered DiD (att_gt) per indicator")
            nat_eff, nat_es = self.national_tables()
            put("national_effects", nat_eff)
            put("national_event_study", nat_es)
        if self.imp["its"]:
            stage("interrupted time series per cluster (cluster_eval.impact.its)")
            put("its", self.its_table())
        return out


def analyse(dataset, config, tables_dir, log=lambda msg: None, jobs: int = 1) -> dict:
    """Compute every table the reports need and write them (after disclosure control) into ``tables_dir``.

    ``jobs`` > 1: in two processes (:meth:`Analysis.run`; the same tables). A failure in a statistics package
    is not worked around: it is logged (``analyse: failed during <step>: <error>``) and raised, so the run
    fails and says why.
    """
    return Analysis(dataset, config).run(tables_dir, log=log, jobs=jobs)
