"""Property test: on random tiny event tables (dates around month ends, deaths, moves, leap days, ties)
each engine (DuckDB, Spark) equals the independent pandas oracle of conftest.py, for the shipped catalogue and a catalogue
of the remaining criterion kinds (not, all_of, offsets, sex and age bounds, concurrent drugs by group)."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluster_eval.indicators import compute_measures, load_catalogue

EXTRA = """
version: 1
populations:
  listed: {}
indicators:
  - {id: women_under_70_no_j01_lag, title: t, topic: t, kind: proportion, multiplier: 1, better: lower,
     denominator: {population: {sex: F, age: {max: 69}}},
     numerator: {has: {not: {prescription: [J01], months: 2, offset: 1}}}}
  - {id: t2d_and_statin, title: t, topic: t, kind: rate, multiplier: 1000, better: lower,
     denominator: {population: listed},
     numerator: {has: {all_of: [{diagnosis: {ICPC2: [T90], ICD10: [E11]}, months: 6},
                                {prescription: [C10], months: 3}]}}}
  - {id: two_cardio, title: t, topic: t, kind: proportion, multiplier: 1, better: lower,
     denominator: {population: {age: {min: 50}}},
     numerator: {has: {concurrent_drugs: {min: 2, atc: [C, B01]}}}}
  - {id: any_drug_in_use, title: t, topic: t, kind: proportion, multiplier: 1, better: lower,
     denominator: {population: listed},
     numerator: {has: {concurrent_drugs: {min: 1}}}}
  - {id: high_hba1c_tests, title: t, topic: t, kind: rate, multiplier: 1000, better: lower,
     denominator: {population: listed},
     numerator: {count: {lab: [NPU27300], months: 2, value: {ge: 59}}}}
"""

ATC = ["J01CE02", "J01MA02", "J01CA04", "A10BA02", "A10AB01", "N02AA01", "N05BA04", "M01AE01", "R03BA02",
       "C10AA01", "C09AA05", "B01AC06"]
DIAG = [("T90", "ICPC2"), ("E11.9", "ICD10"), ("DE119", "ICD10"), ("R95", "ICPC2"), ("J44", "ICD10"),
        ("T89", "ICPC2")]
START, END = dt.date(2022, 6, 1), dt.date(2024, 7, 31)


def dates(lo=START, hi=END):
    # bias towards month ends and starts, where the rules bite
    edges = [d for d in pd.date_range(lo, hi, freq="MS").date] + \
        [d for d in (pd.date_range(lo, hi, freq="ME") - pd.Timedelta(days=0)).date]
    return st.one_of(st.dates(lo, hi), st.sampled_from(edges))


@st.composite
def tables(draw):
    n = draw(st.integers(1, 7))
    patients, listings, rx, lab, dx = [], [], [], [], []
    for pid in range(1, n + 1):
        birth = draw(st.one_of(st.dates(dt.date(1940, 1, 1), dt.date(2015, 12, 31)),
                               st.sampled_from([dt.date(1956, 2, 29), dt.date(1959, 3, 31), dt.date(1974, 1, 31)])))
        death = draw(st.one_of(st.none(), dates(dt.date(2023, 10, 1), END)))
        patients.append((pid, draw(st.sampled_from("FM")), birth, death))
        start = draw(dates(dt.date(2023, 1, 1), dt.date(2024, 5, 31)))
        first_start = draw(st.sampled_from([dt.date(2000, 1, 1), start]))
        moved = draw(st.booleans())
        if moved:
            to = draw(dates(dt.date(2023, 6, 1), dt.date(2024, 5, 31)))
            first_start = min(first_start, to)
            listings.append((pid, draw(st.sampled_from("AB")), first_start, to))
            gap = draw(st.integers(1, 40))
            listings.append((pid, draw(st.sampled_from("AB")), to + dt.timedelta(days=gap), None))
        else:
            listings.append((pid, draw(st.sampled_from("AB")), first_start, draw(st.one_of(st.none(), dates()))))
        for _ in range(draw(st.integers(0, 8))):
            rx.append((pid, draw(dates()), draw(st.sampled_from(ATC)), draw(st.sampled_from([0, 1, 7, 30.5, 31, 90, 400])), 1))
        for _ in range(draw(st.integers(0, 4))):
            lab.append((pid, draw(dates()), draw(st.sampled_from(["NPU27300", "SSR7113"])),
                        draw(st.sampled_from([None, 50, 58, 59, 60, 70])), ""))
        for _ in range(draw(st.integers(0, 3))):
            code, system = draw(st.sampled_from(DIAG))
            dx.append((pid, draw(dates()), code, system))
    listings = [row for row in listings if row[3] is None or row[3] >= row[2]]
    return {
        "patients": pd.DataFrame(patients, columns=["patient_id", "sex", "birth_date", "death_date"]),
        "listings": pd.DataFrame(listings, columns=["patient_id", "practice_id", "listed_from", "listed_to"]),
        "prescriptions": pd.DataFrame(rx, columns=["patient_id", "date", "atc", "ddd", "packages"]),
        "lab_tests": pd.DataFrame(lab, columns=["patient_id", "date", "npu_code", "value", "unit"]),
        "diagnoses": pd.DataFrame(dx, columns=["patient_id", "date", "code", "system"]),
    }


PERIODS = list(pd.date_range("2024-01-01", "2024-06-01", freq="MS"))


def stack(examples: list[dict]) -> dict:
    """Disjoint union of drawn examples in one set of tables: example i's patients get ids + 100·i and its
    practices the prefix ``e<i>``. Every rule is per patient and per practice, so each example's measures
    are the same alone or stacked; one engine run then checks many examples (Spark's fixed cost per run
    is seconds, DuckDB's milliseconds)."""
    out: dict[str, list] = {}
    for i, ex in enumerate(examples):
        for name, df in ex.items():
            df = df.copy()
            df["patient_id"] = df["patient_id"] + 100 * i
            if name == "listings":
                df["practice_id"] = f"e{i}" + df["practice_id"]
            out.setdefault(name, []).append(df)
    return {name: pd.concat(dfs, ignore_index=True) for name, dfs in out.items()}


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture,
                                                                HealthCheck.data_too_large])
@given(examples=st.lists(tables(), min_size=6, max_size=12))   # two engine runs of 6-12 stacked examples
def test_engine_equals_oracle_on_random_tables(examples, oracle, engine):
    data = stack(examples)
    import yaml

    from cluster_eval.indicators.catalogue import parse_catalogue
    cat = list(load_catalogue().values()) + list(parse_catalogue(yaml.safe_load(EXTRA)).values())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, df in data.items():
            df.to_csv(folder / f"{name}.csv", index=False)
        got = compute_measures(folder, catalogue=cat, periods=PERIODS, progress=False, **engine)
        want = oracle(folder, ext="csv").measures(cat, PERIODS)
    got = got.sort_values(["indicator_id", "practice_id", "period"]).reset_index(drop=True)
    want = want.sort_values(["indicator_id", "practice_id", "period"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[want.columns].astype({"practice_id": str}), want, check_dtype=False)
