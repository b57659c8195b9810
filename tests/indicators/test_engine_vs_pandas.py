"""The engine against an independent, straightforward pandas implementation, on small synthetic events.

The oracle below works with dates, one period at a time, directly from the documented rules
(docs/events.md): listed on the period's last day and alive then; age in completed years on that day
with a birthday in the period's month reached; look-back windows of calendar months; the latest lab
value with a value (ties on a date: the highest); a dispensing in use for ceil(min(ddd, 365)) days.
The engine works on month-index intervals in SQL. They must agree exactly.
"""
from __future__ import annotations

import operator

import numpy as np
import pandas as pd
import pytest

from cluster_eval.indicators import compute_measures, load_catalogue
from cluster_eval.indicators.catalogue import AllOf, AnyOf, ConcurrentDrugs, EventCriterion, Not
from cluster_eval.synthetic import generate
from cluster_eval.synthetic.events import write_events

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _icd(code: str) -> str:
    code = code.replace(".", "")
    return code[1:] if len(code) > 1 and code[0] == "D" and code[1].isalpha() else code


class Oracle:
    def __init__(self, folder, ext="parquet"):
        read = pd.read_parquet if ext == "parquet" else pd.read_csv
        t = {n: read(folder / f"{n}.{ext}") for n in ("patients", "listings", "prescriptions", "lab_tests",
                                                        "diagnoses")}
        for name, cols in (("patients", ["birth_date", "death_date"]), ("listings", ["listed_from", "listed_to"]),
                           ("prescriptions", ["date"]), ("lab_tests", ["date"]), ("diagnoses", ["date"])):
            for c in cols:
                t[name][c] = pd.to_datetime(t[name][c])
        d = t["diagnoses"]
        d["code"] = np.where(d["system"] == "ICD10", d["code"].map(_icd), d["code"])
        t["listings"]["practice_id"] = t["listings"]["practice_id"].astype(str)
        self.t = t

    def window(self, c: EventCriterion, p0):
        start = p0 - pd.DateOffset(months=c.offset + c.months - 1)
        end = p0 - pd.DateOffset(months=c.offset) + pd.offsets.MonthEnd(0)
        ev = self.t[c.source]
        ev = ev[(ev["date"] >= start) & (ev["date"] <= end)]
        if c.source == "diagnoses":
            keep = np.zeros(len(ev), bool)
            for system, code in c.codes:
                keep |= (ev["system"] == system).to_numpy() & ev["code"].str.startswith(code).to_numpy()
        else:
            col = {"prescriptions": "atc", "lab_tests": "npu_code"}[c.source]
            keep = ev[col].str.startswith(tuple(c.codes)).to_numpy()
        ev = ev[keep]
        if c.comparison is not None and not c.latest:
            ev = ev[OPS[c.comparison](ev["value"], c.threshold)]
        return ev

    def holds(self, c, p0, pe) -> set:
        if isinstance(c, EventCriterion) and c.latest:
            ev = self.window(c, p0)
            ev = ev[ev["value"].notna()]
            last = ev[ev["date"] == ev.groupby("patient_id")["date"].transform("max")]
            value = last.groupby("patient_id")["value"].max()
            return set(value.index[OPS[c.comparison](value, c.threshold)])
        if isinstance(c, EventCriterion):
            return set(self.window(c, p0)["patient_id"])
        if isinstance(c, ConcurrentDrugs):
            rx = self.t["prescriptions"]
            if c.codes:
                rx = rx[rx["atc"].str.startswith(tuple(c.codes))]
            rx = rx[rx["ddd"] > 0]
            days = np.ceil(np.minimum(rx["ddd"], 365)).astype(int)
            use = rx[(rx["date"] <= pe) & (pe < rx["date"] + pd.to_timedelta(days, unit="D"))]
            n = use.assign(s=use["atc"].str[:7]).groupby("patient_id")["s"].nunique()
            return set(n.index[n >= c.min_count])
        if isinstance(c, AnyOf):
            return set().union(*(self.holds(x, p0, pe) for x in c.items))
        if isinstance(c, AllOf):
            return set.intersection(*(self.holds(x, p0, pe) for x in c.items))
        if isinstance(c, Not):
            return set(self.t["patients"]["patient_id"]) - self.holds(c.item, p0, pe)
        raise TypeError(c)

    def measures(self, indicators, periods) -> pd.DataFrame:
        rows = []
        pat, lis = self.t["patients"], self.t["listings"]
        for p0 in periods:
            pe = p0 + pd.offsets.MonthEnd(0)
            listed = lis[(lis["listed_from"] <= pe) & (lis["listed_to"].isna() | (lis["listed_to"] >= pe))]
            listed = listed.merge(pat, on="patient_id")
            listed = listed[listed["death_date"].isna() | (listed["death_date"] > pe)].copy()
            listed["age"] = pe.year - listed["birth_date"].dt.year - (pe.month < listed["birth_date"].dt.month)
            practices = sorted(listed["practice_id"].unique())
            for ind in indicators:
                pop = ind.denominator.population
                members = listed
                if pop.age_min is not None:
                    members = members[members["age"] >= pop.age_min]
                if pop.age_max is not None:
                    members = members[members["age"] <= pop.age_max]
                if pop.sex is not None:
                    members = members[members["sex"] == pop.sex]
                if pop.require is not None:
                    members = members[members["patient_id"].isin(self.holds(pop.require, p0, pe))]

                def persons(crit, members=members, p0=p0, pe=pe):
                    if crit is not None:
                        members = members[members["patient_id"].isin(self.holds(crit, p0, pe))]
                    return members.groupby("practice_id").size()

                def events(crit, members=members, p0=p0):
                    ev = self.window(crit, p0).merge(members[["patient_id", "practice_id"]], on="patient_id")
                    return ev.groupby("practice_id").size()
                dc, nc = ind.denominator.count, ind.numerator.count
                den = events(dc) if dc is not None else persons(None)
                num = events(nc) if nc is not None else persons(ind.numerator.has)
                for pr in practices:
                    rows.append((ind.id, pr, p0, float(num.get(pr, 0)), float(den.get(pr, 0))))
        out = pd.DataFrame(rows, columns=["indicator_id", "practice_id", "period", "numerator", "denominator"])
        return out.sort_values(["indicator_id", "practice_id", "period"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def small_events(tmp_path_factory):
    folder = tmp_path_factory.mktemp("events")
    ds = generate("small", seed=3)
    ds.measures = ds.measures[ds.measures["practice_id"].isin(ds.practices["practice_id"].iloc[:40])]
    write_events(ds, folder / "parquet", seed=4, scale_factor=0.02)
    write_events(ds, folder / "csv", seed=4, scale_factor=0.02, fmt="csv")
    return folder


def test_engine_equals_pandas_oracle_exactly(small_events):
    cat = load_catalogue()
    periods = pd.date_range("2019-01-01", "2022-12-01", freq="MS")[::5]
    got = compute_measures(small_events / "parquet", catalogue=cat, periods=list(periods), progress=False)
    want = Oracle(small_events / "parquet").measures(cat.values(), periods)
    assert len(want) > 1000 and want["numerator"].sum() > 0
    for k in cat:   # every indicator has some events in this sample
        assert want.loc[want["indicator_id"] == k, "numerator"].sum() > 0, k
    got = got.sort_values(["indicator_id", "practice_id", "period"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[want.columns].astype({"practice_id": str}), want, check_dtype=False)


def test_csv_and_parquet_inputs_give_the_same_measures(small_events, tmp_path):
    periods = ("2020-01-01", "2020-06-01")
    a = compute_measures(small_events / "parquet", out_dir=tmp_path, periods=periods, progress=False)
    b = compute_measures(small_events / "csv", periods=periods, progress=False)
    pd.testing.assert_frame_equal(a, b)
    written = pd.read_parquet(tmp_path / "measures.parquet")
    pd.testing.assert_frame_equal(written, a)
    assert list(a.columns) == ["indicator_id", "practice_id", "period", "numerator", "denominator"]
    assert a["period"].dt.day.eq(1).all()
