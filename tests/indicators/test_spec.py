"""Spec tests: tiny literal event tables, expected numerators and denominators worked out by hand.

Each expected figure has its reasoning beside it. Rules (docs/events.md): a patient counts where listed
on the period's last day, if alive on that day (death on the last day: not counted); ``listed_to`` is
the last day listed; age is in completed years on the period's last day, a birthday in the period's
month counts as reached; windows are calendar months ending with the period's month.
"""
from __future__ import annotations

HEADER = """\
version: 1
populations:
  listed: {}
  aged_65_plus: {age: {min: 65}}
indicators:
"""


def ind(iid, kind, denominator, numerator, extra=""):
    mult = 1000 if kind == "rate" else 1
    return f"""
  - id: {iid}
    title: {iid}
    topic: test
    kind: {kind}
    multiplier: {mult}
    better: lower
    denominator: {denominator}
    numerator: {numerator}
{extra}"""


PATIENTS_A = """
patient_id,sex,birth_date,death_date
1,F,1950-06-15,
2,M,1959-02-10,
3,M,1980-01-01,2024-02-15
4,F,1990-05-05,
5,M,2000-01-01,
6,F,1970-01-01,
7,F,1959-03-31,
8,M,1990-01-01,2024-01-31
"""
LISTINGS_A = """
patient_id,practice_id,listed_from,listed_to
1,A,2000-01-01,
2,A,2000-01-01,
3,A,2000-01-01,
4,A,2000-01-01,2024-02-10
4,B,2024-02-11,
5,A,2024-03-31,
6,A,2020-01-01,2024-01-31
7,B,2000-01-01,
8,A,2000-01-01,
9,C,2000-01-01,2023-06-30
"""
PRESCRIPTIONS_A = """
patient_id,date,atc,ddd,packages
1,2024-01-05,J01CE02,7,1
4,2024-02-05,J01MA02,7,1
4,2024-02-25,J01CA04,7,1
3,2024-02-10,J01CA04,7,1
6,2024-02-03,J01CE02,7,1
2,2024-03-31,J01CE02,7,1
5,2024-03-01,N02AA01,10,1
5,2024-03-15,N02AX02,10,1
1,2024-04-01,J01CE02,7,1
8,2024-01-10,J01CE02,7,1
"""


def tables_a():
    """Patients 1-9; patient 9 was listed with practice C until June 2023 only."""
    return {"patients": PATIENTS_A.rstrip() + "\n9,M,1980-01-01,\n", "listings": LISTINGS_A,
            "prescriptions": PRESCRIPTIONS_A}


CAT_A = HEADER + ind("listed_n", "rate", "{population: listed}",
                     "{count: {prescription: [J01], months: 1}}") \
    + ind("penv", "proportion", "{population: listed, count: {prescription: [J01], months: 1}}",
          "{count: {prescription: [J01CE02], months: 1}}") \
    + ind("opioid_users", "rate", "{population: listed}", "{has: {prescription: [N02A], months: 1}}") \
    + ind("old_j01", "proportion", "{population: aged_65_plus}", "{has: {prescription: [J01], months: 1}}") \
    + ind("young_women", "proportion", "{population: {sex: F, age: {max: 64}}}",
          "{has: {prescription: [J01], months: 1}}")

PERIODS_Q1 = ("2024-01-01", "2024-03-01")


def test_listing_deaths_moves_and_age_on_period_end(run_engine):
    r = run_engine(tables_a(), CAT_A, PERIODS_Q1)
    den = {k: v[1] for k, v in r.items()}
    # Listed at A: Jan = 1, 2, 3, 4, 6 (8 died on 31 Jan; 5 listed from 31 Mar) = 5;
    # Feb = 1, 2 (3 died 15 Feb, 4 moved to B on 11 Feb, 6 left after 31 Jan) = 2; Mar = 1, 2, 5 = 3.
    assert [den[("listed_n", "A", m)] for m in ("2024-01", "2024-02", "2024-03")] == [5, 2, 3]
    # Listed at B: Jan = 7; Feb, Mar = 4, 7.
    assert [den[("listed_n", "B", m)] for m in ("2024-01", "2024-02", "2024-03")] == [1, 2, 2]
    # 65+ at A: Jan = 1 (2 is 64 until 10 Feb); Feb, Mar = 1, 2. At B: 7 turns 65 on 31 Mar.
    assert [den[("old_j01", "A", m)] for m in ("2024-01", "2024-02", "2024-03")] == [1, 2, 2]
    assert [den[("old_j01", "B", m)] for m in ("2024-01", "2024-02", "2024-03")] == [0, 0, 1]
    # Women under 65: A Jan = 4, 6; Feb, Mar none. B Jan = 7; Feb = 4, 7; Mar = 4 (7 is 65).
    assert [den[("young_women", "A", m)] for m in ("2024-01", "2024-02", "2024-03")] == [2, 0, 0]
    assert [den[("young_women", "B", m)] for m in ("2024-01", "2024-02", "2024-03")] == [1, 2, 1]
    # Practice C had its only patient until June 2023: no rows.
    assert not any(k[1] == "C" for k in r)


def test_event_counts_follow_the_practice_at_period_end(run_engine):
    r = run_engine(tables_a(), CAT_A, PERIODS_Q1)
    num = {k: v[0] for k, v in r.items()}
    # J01 at A: Jan = patient 1 (patient 8's is not counted: dead on 31 Jan); Feb = 0 (3 died, 6 left);
    # Mar = patient 2 on the 31st. At B: Feb = both of patient 4's, one dated while at A.
    assert [num[("listed_n", "A", m)] for m in ("2024-01", "2024-02", "2024-03")] == [1, 0, 1]
    assert [num[("listed_n", "B", m)] for m in ("2024-01", "2024-02", "2024-03")] == [0, 2, 0]
    # Penicillin V share: A Jan 1/1, Feb 0/0, Mar 1/1; B Feb 0/2.
    assert r[("penv", "A", "2024-01")] == (1, 1)
    assert r[("penv", "A", "2024-02")] == (0, 0)
    assert r[("penv", "A", "2024-03")] == (1, 1)
    assert r[("penv", "B", "2024-02")] == (0, 2)
    # Opioid users: patient 5 has two opioid prescriptions in March: one person.
    assert r[("opioid_users", "A", "2024-03")] == (1, 3)
    assert r[("opioid_users", "A", "2024-02")] == (0, 2)
    # 65+ with J01: A Jan 1/1 (patient 1), Feb 0/2, Mar 1/2 (patient 2, now 65).
    assert [r[("old_j01", "A", m)] for m in ("2024-01", "2024-02", "2024-03")] == [(1, 1), (0, 2), (1, 2)]
    # Women under 65 with J01: B Feb = patient 4 -> 1/2.
    assert r[("young_women", "B", "2024-02")] == (1, 2)


ONE_PRACTICE = """
patient_id,practice_id,listed_from,listed_to
1,A,2000-01-01,
2,A,2000-01-01,
3,A,2000-01-01,
4,A,2000-01-01,
5,A,2000-01-01,
"""
FIVE_PATIENTS = """
patient_id,sex,birth_date
1,F,1950-01-01
2,M,1950-01-01
3,F,1950-01-01
4,M,1950-01-01
5,F,1950-01-01
"""


def test_look_back_windows_and_offsets(run_engine):
    prescriptions = """
    patient_id,date,atc,ddd,packages
    1,2023-02-01,C10AA01,30,1
    1,2023-11-30,C10AA01,30,1
    2,2023-01-31,C10AA01,30,1
    2,2024-01-15,C10AA01,30,1
    3,2024-03-31,C10AA01,30,1
    4,2023-03-15,C10AA01,30,1
    5,2022-12-01,C10AA01,30,1
    5,2023-12-31,C10AA01,30,1
    """
    cat = HEADER + ind("statin12", "proportion", "{population: listed}",
                       "{has: {prescription: [C10], months: 12}}") \
        + ind("statin_lag", "proportion", "{population: listed}",
              "{has: {prescription: [C10], months: 3, offset: 1}}") \
        + ind("statin_count3", "rate", "{population: listed}",
              "{count: {prescription: [C10AA01], months: 3}}")
    r = run_engine({"patients": FIVE_PATIENTS, "listings": ONE_PRACTICE, "prescriptions": prescriptions}, cat,
                   PERIODS_Q1)
    months = ("2024-01", "2024-02", "2024-03")
    # 12 months ending Jan 2024 = Feb 2023..Jan 2024: patients 1, 2 (15 Jan), 4, 5 (31 Dec) = 4;
    # (2's 31 Jan 2023 is one day too early). Feb (Mar 2023..): 1 (30 Nov), 2, 4 (15 Mar), 5 = 4;
    # Mar (Apr 2023..Mar 2024): 1, 2, 3 (31 Mar), 5 = 4 (4 drops out, 3 comes in).
    assert [r[("statin12", "A", m)] for m in months] == [(4, 5), (4, 5), (4, 5)]
    # Three months ending the month before: Jan = Oct-Dec 2023: 1 (30 Nov), 5 (31 Dec) = 2;
    # Feb = Nov-Jan: 1, 2, 5 = 3; Mar = Dec-Feb: 2, 5 = 2.
    assert [r[("statin_lag", "A", m)][0] for m in months] == [2, 3, 2]
    # Prescriptions in three months ending the period: Jan (Nov-Jan): 30 Nov, 31 Dec, 15 Jan = 3;
    # Feb (Dec-Feb): 31 Dec, 15 Jan = 2; Mar (Jan-Mar): 15 Jan, 31 Mar = 2.
    assert [r[("statin_count3", "A", m)][0] for m in months] == [3, 2, 2]


def test_diagnoses_any_of_all_of_not(run_engine):
    diagnoses = """
    patient_id,date,code,system
    1,2022-02-01,T90,ICPC2
    2,2023-05-05,DE119,ICD10
    3,2023-05-05,E11.9,ICD10
    4,2022-01-31,T90,ICPC2
    5,2023-01-01,T89,ICPC2
    6,2023-01-01,E10,ICD10
    """
    prescriptions = """
    patient_id,date,atc,ddd,packages
    5,2023-06-01,A10AB01,30,1
    """
    patients = FIVE_PATIENTS.rstrip() + "\n6,M,1950-01-01\n"
    listings = ONE_PRACTICE.rstrip() + "\n6,A,2000-01-01,\n"
    t2d = ("{any_of: [{diagnosis: {ICPC2: [T90], ICD10: [E11]}, months: 24}, "
           "{prescription: [A10], months: 24}]}")
    cat = HEADER + ind("t2d", "proportion", "{population: listed}", "{has: " + t2d + "}") \
        + ind("t2d_no_insulin", "proportion", "{population: listed}",
              "{has: {all_of: [" + t2d + ", {not: {prescription: [A10A], months: 24}}]}}") \
        + ind("icpc_only", "proportion", "{population: listed}",
              "{has: {diagnosis: {ICPC2: [T90]}, months: 24}}") \
        + ind("insulin_among_t2d", "proportion", "{population: {require: " + t2d + "}}",
              "{has: {prescription: [A10A], months: 24}}")
    r = run_engine({"patients": patients, "listings": listings, "prescriptions": prescriptions,
                    "diagnoses": diagnoses}, cat, ["2024-01-01"])
    # 24 months ending Jan 2024 = Feb 2022..Jan 2024. T2D: 1 (T90 1 Feb 2022), 2 (SKS DE119),
    # 3 (E11.9), 5 (A10 insulin); not 4 (T90 one day too early), 6 (E10).
    assert r[("t2d", "A", "2024-01")] == (4, 6)
    # ... and no insulin: 1, 2, 3.
    assert r[("t2d_no_insulin", "A", "2024-01")] == (3, 6)
    assert r[("icpc_only", "A", "2024-01")] == (1, 6)
    # Denominator = the T2D population (4), numerator the insulin user (5).
    assert r[("insulin_among_t2d", "A", "2024-01")] == (1, 4)


def test_lab_tests_latest_value_and_comparisons(run_engine):
    lab_tests = """
    patient_id,date,npu_code,value,unit
    1,2023-02-10,NPU27300,50,mmol/mol
    2,2023-06-01,NPU27300,50,mmol/mol
    2,2024-02-10,NPU27300,70,mmol/mol
    3,2024-01-05,NPU27300,60,mmol/mol
    3,2024-01-20,NPU27300,55,mmol/mol
    4,2023-12-01,NPU27300,58,mmol/mol
    4,2023-12-01,NPU27300,60,mmol/mol
    5,2023-08-01,NPU27300,40,mmol/mol
    5,2023-11-11,NPU27300,,mmol/mol
    1,2024-01-10,NPU01370,50,umol/l
    """
    cat = HEADER + ind("measured", "proportion", "{population: listed}", "{has: {lab: [NPU27300], months: 12}}") \
        + ind("below59", "proportion", "{population: listed}",
              "{has: {lab: [NPU27300], months: 12, value: {lt: 59}, latest: true}}") \
        + ind("any_below59", "proportion", "{population: listed}",
              "{has: {lab: [NPU27300], months: 12, value: {lt: 59}}}") \
        + ind("tests3", "rate", "{population: listed}", "{count: {lab: [NPU27300], months: 3}}")
    r = run_engine({"patients": FIVE_PATIENTS, "listings": ONE_PRACTICE, "lab_tests": lab_tests}, cat, PERIODS_Q1)
    months = ("2024-01", "2024-02", "2024-03")
    # Measured (any HbA1c, value or not): Jan all 5; Feb, Mar: 1's test (Feb 2023) has left the window.
    assert [r[("measured", "A", m)][0] for m in months] == [5, 4, 4]
    # Latest value < 59: Jan: 1 (50), 2 (50), 3 (55 on 20 Jan is later than 60 on 5 Jan), 5 (40: the
    # later test has no value); not 4 (same-day 58 and 60: the higher counts) = 4.
    # Feb: 2's latest is 70; 1 has none: 3, 5 = 2. Mar: 2.
    assert [r[("below59", "A", m)][0] for m in months] == [4, 2, 2]
    # Any value < 59 in 12 months: Jan 1, 2, 3, 4 (58), 5 = 5; Feb, Mar: 2 (June 2023 still inside), 3, 4, 5 = 4.
    assert [r[("any_below59", "A", m)][0] for m in months] == [5, 4, 4]
    # HbA1c tests in three months: Jan (Nov-Jan): 5 (11 Nov), 4 x2 (1 Dec), 3 x2 = 5; Feb (Dec-Feb): 4 x2,
    # 3 x2, 2 (10 Feb) = 5; Mar (Jan-Mar): 3 x2, 2 = 3. The NPU01370 test is another analysis.
    assert [r[("tests3", "A", m)][0] for m in months] == [5, 5, 3]


def test_concurrent_drugs_use_ddd_coverage(run_engine):
    prescriptions = """
    patient_id,date,atc,ddd,packages
    1,2024-01-01,C10AA01,31,1
    1,2024-01-31,C09AA05,1,1
    1,2023-12-01,B01AC06,61,1
    1,2023-11-15,C07AB02,400,1
    2,2024-01-10,C10AA01,30,1
    2,2024-01-20,C10AA01,30,1
    2,2024-01-10,C10AA05,30,1
    2,2024-01-31,C09AA05,0.5,1
    3,2024-01-10,C10AA01,30,1
    3,2024-01-10,C09AA05,30,1
    3,2024-01-01,B01AC06,30,1
    3,2024-01-31,C03CA01,0,1
    4,2023-01-01,C10AA01,366,1
    4,2024-01-10,C09AA05,30,1
    4,2024-01-10,C07AB02,30,1
    """
    cat = HEADER + ind("poly3", "proportion", "{population: listed}", "{has: {concurrent_drugs: {min: 3}}}") \
        + ind("poly3_c", "proportion", "{population: listed}",
              "{has: {concurrent_drugs: {min: 3, atc: [C]}}}")
    r = run_engine({"patients": FIVE_PATIENTS, "listings": ONE_PRACTICE, "prescriptions": prescriptions}, cat,
                   ["2024-01-01"])
    # In use on 31 Jan 2024 (a dispensing covers ceil(ddd) days from its date, at most 365):
    # 1: C10AA01 (1 Jan + 31 days -> 31 Jan), C09AA05 (31 Jan, 1 day), C07AB02 (400 -> 365 days from
    #    15 Nov 2023 -> 13 Nov 2024); not B01AC06 (1 Dec + 61 days ends 30 Jan) -> 3 substances: yes.
    # 2: C10AA01 (twice: one substance), C10AA05, C09AA05 (0.5 DDD -> one day) -> 3: yes.
    # 3: C10AA01, C09AA05; B01AC06 ends 30 Jan; C03CA01 has no DDDs -> 2: no.
    # 4: C10AA01 366 DDD from 1 Jan 2023 is capped at 365 days (ends 31 Dec 2023) -> 2: no.
    assert r[("poly3", "A", "2024-01")] == (2, 5)
    # Only ATC group C: patient 1 loses nothing (C10, C09, C07), patient 2 keeps C10AA01, C10AA05, C09AA05.
    assert r[("poly3_c", "A", "2024-01")] == (2, 5)


def test_age_on_period_end_leap_day_and_last_day_birthdays(run_engine):
    patients = """
    patient_id,sex,birth_date
    1,F,1960-02-29
    2,M,1960-03-31
    3,F,1960-04-01
    """
    listings = """
    patient_id,practice_id,listed_from,listed_to
    1,A,2000-01-01,
    2,A,2000-01-01,
    3,A,2000-01-01,
    """
    cat = HEADER + ind("old", "proportion", "{population: aged_65_plus}", "{has: {prescription: [J01], months: 1}}")
    r = run_engine({"patients": patients, "listings": listings,
                    "prescriptions": "patient_id,date,atc,ddd,packages\n1,2025-02-28,J01CE02,7,1\n"},
                   cat, ("2025-01-01", "2025-03-01"))
    # 1 (29 Feb 1960) is 65 at the end of February 2025 (birthday month reached); 2 turns 65 on 31 March;
    # 3 is still 64 at the end of March.
    assert [r[("old", "A", m)] for m in ("2025-01", "2025-02", "2025-03")] == [(0, 0), (1, 1), (0, 2)]
