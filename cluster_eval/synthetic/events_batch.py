"""Simulation of one batch of practices for :mod:`.events` (which states the model): slots and their
holders (deaths, replacements, moves between practices), listings, and the month events that realise the
practices' targets.
"""
from __future__ import annotations

import numpy as np

HISTORY = 23                       # months before the first period: a 24-month window at the first period is full
OTHER_J01 = np.array(["J01CA04", "J01CF01", "J01FA09", "J01XE01", "J01EA01", "J01AA02"])
OPIOIDS = np.array(["N02AJ06", "N02AX02", "N02AA01"])
BENZOS = np.array(["N05BA04", "N05CF01", "N05CD02"])
CHRONIC = np.array(["C10AA01", "C09AA05", "B01AC06", "C07AB02", "C03CA01", "A02BC01", "N06AB04", "C08CA01",
                    "H03AA01", "A12AX", "G04CA02", "S01ED51"])
DEATH_PER_MONTH = {True: 0.004, False: 0.0002}   # 65+ / under 65
MOVE_SHARE = 0.02                  # share of slots whose holder swaps practice once
EPOCH = np.datetime64("1970-01-01", "D")


def _month_start(m) -> np.ndarray:
    """Days since 1970 of the first day of month index m (array)."""
    m = np.asarray(m, dtype=np.int64)
    return (np.array(m - 1970 * 12, dtype="timedelta64[M]") + np.datetime64("1970-01", "M")).astype(
        "datetime64[D]").astype(np.int64)


def _days_in(m) -> np.ndarray:
    return _month_start(np.asarray(m) + 1) - _month_start(m)


def _day_in_month(rng, m, lo=None, hi=None) -> np.ndarray:
    """A random date (days since 1970) in month m; days lo..hi (1-based) when given."""
    m = np.asarray(m, dtype=np.int64)
    n = _days_in(m)
    lo = np.ones_like(n) if lo is None else np.broadcast_to(lo, n.shape)
    hi = n if hi is None else np.minimum(np.broadcast_to(hi, n.shape), n)
    return _month_start(m) + lo - 1 + np.floor(rng.random(m.shape) * (hi - lo + 1)).astype(np.int64)


def _runs(status: np.ndarray):
    """Runs of True along axis 1: (row, start, end) arrays (inclusive)."""
    pad = np.zeros((status.shape[0], 1), dtype=bool)
    d = np.diff(np.concatenate([pad, status, pad], axis=1).astype(np.int8), axis=1)
    r0, a = np.nonzero(d == 1)
    r1, b = np.nonzero(d == -1)
    order0, order1 = np.lexsort((a, r0)), np.lexsort((b, r1))
    return r0[order0], a[order0], b[order1] - 1


def _run_months(rows, a, b, last: int, step: int = 3):
    """Event months realising runs of a 12-month criterion: every ``step`` months from the start, the last
    one exactly 11 months before the run's end (runs reaching ``last`` are open-ended)."""
    end = np.where(b >= last, b, np.maximum(a, b - 11))
    n = (end - a) // step + 1
    rr = np.repeat(rows, n)
    start = np.repeat(a, n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    mm = start + step * k
    extra = (end - a) % step != 0
    return np.concatenate([rr, rows[extra]]), np.concatenate([mm, end[extra]])


def _simulate_batch(rng, batch, ctx, next_id: int):
    """Simulate the practices ``batch`` (indices); returns the tables as column dicts and the next id."""
    months, lst, target, prev, pids, scale_factor = ctx
    T0 = len(months)
    T = T0 + HISTORY
    m_all = months[0] - HISTORY + np.arange(T)
    hist = np.concatenate([np.zeros(HISTORY, dtype=int), np.arange(T0)])   # column of the target arrays

    n_slots = np.round(lst[batch] * scale_factor).astype(np.int64)          # (B, T0)
    n_slots = n_slots[:, hist]
    R = n_slots.max(axis=1)
    S = int(R.sum())
    slot_prac = np.repeat(np.arange(len(batch)), R)                         # local practice of each slot
    rank = np.arange(S) - np.repeat(np.cumsum(R) - R, R)
    listed = rank[:, None] < n_slots[slot_prac]                             # (S, T) slot held at month end
    gp = np.asarray(batch)[slot_prac]                                       # global practice of slots

    # first holders: sex, age, chronic conditions
    def new_patients(n, practice):
        old = rng.random(n) < prev["old"][practice]
        age_mid = np.where(old, rng.uniform(65, 95, n), rng.uniform(7, 65, n))
        w = 2.5
        p_t2d_old = np.minimum(1.0, w * prev["t2d"][practice] / (w * prev["old"][practice]
                                                                   + (1 - prev["old"][practice]) + 1e-12))
        t2d = rng.random(n) < np.where(old, p_t2d_old, p_t2d_old / w)
        p_copd_old = np.minimum(1.0, w * prev["copd"][practice] / (w * prev["old"][practice]
                                                                     + (1 - prev["old"][practice]) + 1e-12))
        copd = rng.random(n) < np.where(old, p_copd_old, p_copd_old / w)
        # young chronic patients are adults: 35-64 at the middle of the period
        age_mid = np.where(~old & (t2d | copd), rng.uniform(40, 65, n), age_mid)
        return {"sex": np.where(rng.random(n) < 0.5, "F", "M"), "age_mid": age_mid, "t2d": t2d, "copd": copd}

    first = new_patients(S, gp)
    # deaths of first holders (geometric, by age class), replaced from the death month
    hazard = np.where(first["age_mid"] >= 65, DEATH_PER_MONTH[True], DEATH_PER_MONTH[False])
    death_t = rng.geometric(hazard) + HISTORY - 1                            # column index of the death month
    dies = death_t < T
    holder = np.zeros((S, T), dtype=np.int64)                                # 0 = first holder, 1 = replacement
    holder[dies] = (np.arange(T)[None, :] >= death_t[dies, None]).astype(np.int64)
    n_rep = int(dies.sum())
    second = new_patients(n_rep, gp[dies])
    # ids: first holders next_id.., replacements after
    pid_first = next_id + np.arange(S)
    pid_second = np.full(S, -1, dtype=np.int64)
    pid_second[dies] = next_id + S + np.arange(n_rep)
    occ = np.where(holder == 0, pid_first[:, None], pid_second[:, None])     # (S, T) patient per slot-month
    # moves: pairs of surviving first holders in different practices swap slots from a month on
    movers = np.flatnonzero(~dies)
    n_pairs = int(len(movers) * MOVE_SHARE / 2)
    if n_pairs and len(batch) > 1:
        pick = rng.permutation(movers)[:2 * n_pairs].reshape(-1, 2)
        pick = pick[slot_prac[pick[:, 0]] != slot_prac[pick[:, 1]]]
        at = rng.integers(HISTORY + 1, T, size=len(pick))
        for (a, b), t in zip(pick, at):
            occ[a, t:], occ[b, t:] = occ[b, t:].copy(), occ[a, t:].copy()
    # patient attributes by id
    n_pat = S + n_rep
    attr = {k: np.concatenate([first[k], second[k]]) for k in first}
    pat_ids = np.concatenate([pid_first, pid_second[dies]])
    mid = months[0] + T0 // 2
    birth = _month_start(np.full(n_pat, mid)) - (attr["age_mid"] * 365.25).astype(np.int64)
    death = np.full(n_pat, np.nan)
    death[:S][dies] = _day_in_month(rng, m_all[death_t[dies]], 1, 14)
    # a replacement is at least born before taking the slot
    rep_start = _month_start(m_all[death_t[dies]])
    birth[S:] = np.minimum(birth[S:], rep_start - 30)
    occ_row = occ - next_id                                                  # (S, T) row of the holder
    pe = _month_start(m_all + 1) - 1                                         # (T,) last days
    # 65+ on the month's last day, by the engine's rule (birthday month reached)
    birth_m = birth.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    is_old = (m_all[None, :] - birth_m[occ_row]) >= 12 * 65
    alive_listed = listed                                                    # a holder is alive at month end

    # --- listings: runs of (patient, slot) -----------------------------------------------------
    key = np.where(alive_listed, occ_row, -1)
    change = np.ones((S, T), dtype=bool)
    change[:, 1:] = key[:, 1:] != key[:, :-1]
    seg_id = np.cumsum(change.reshape(-1)).reshape(S, T)
    flat_key, flat_seg = key.reshape(-1), seg_id.reshape(-1)
    valid = flat_key >= 0
    seg_first = np.unique(flat_seg[valid], return_index=True)
    idx = np.flatnonzero(valid)[seg_first[1]]
    seg_len = np.bincount(flat_seg[valid])[seg_first[0]]
    slot_of, t_of = np.divmod(idx, T)
    rows, a, b = flat_key[idx], t_of, t_of + seg_len - 1
    lf = np.where(a == 0, np.maximum(_month_start(np.full(len(a), 2000 * 12)), birth[rows]),
                  _day_in_month(rng, m_all[a], 15, 28))
    lf = np.maximum(lf, birth[rows])
    ends_in_death = ~np.isnan(death[rows]) & (b + 1 < T)
    nxt = m_all[np.minimum(b + 1, T - 1)]
    ends_in_death &= (death[rows] >= _month_start(nxt)) & (death[rows] < _month_start(nxt + 1))
    lt = np.where(b == T - 1, np.nan, _day_in_month(rng, m_all[np.minimum(b + 1, T - 1)], 1, 14).astype(float))
    lt = np.where(ends_in_death, death[rows], lt)
    listings = {"patient_id": pat_ids[rows], "practice_id": np.asarray(pids, dtype=object)[gp[slot_of]],
                "listed_from": lf.astype(float), "listed_to": lt}
    patients = {"patient_id": pat_ids, "sex": attr["sex"], "birth_date": birth.astype(float), "death_date": death}

    # --- month events per slot-month ------------------------------------------------------------
    def tgt(k):
        return target[k][batch][:, hist][slot_prac]                          # (S, T)

    presc = {"patient_id": [], "date": [], "atc": [], "ddd": [], "packages": []}

    def add_presc(s_idx, t_idx, atc, ddd):
        presc["patient_id"].append(pat_ids[occ_row[s_idx, t_idx]])
        presc["date"].append(_day_in_month(rng, m_all[t_idx]).astype(float))
        presc["atc"].append(np.broadcast_to(atc, s_idx.shape).astype(object))
        presc["ddd"].append(np.broadcast_to(np.asarray(ddd, dtype=float), s_idx.shape))
        presc["packages"].append(np.ones(len(s_idx), dtype=np.int32))

    n_j01 = rng.poisson(np.clip(tgt("abx_rate"), 0, None) / 1000.0) * alive_listed
    s_i, t_i = np.nonzero(n_j01)
    s_i, t_i = np.repeat(s_i, n_j01[s_i, t_i]), np.repeat(t_i, n_j01[s_i, t_i])
    p_pen = np.clip(tgt("abx_penv_share")[s_i, t_i], 0, 1)
    p_q = np.clip(tgt("abx_quinolone_share")[s_i, t_i], 0, 1 - p_pen)
    u = rng.random(len(s_i))
    atc = np.where(u < p_pen, "J01CE02", np.where(u < p_pen + p_q, "J01MA02",
                                                   OTHER_J01[rng.integers(0, len(OTHER_J01), len(s_i))]))
    add_presc(s_i, t_i, atc, 7.0)
    for k, codes, old_only in (("dep_opioid_users", OPIOIDS, False), ("dep_benzo_users", BENZOS, False),
                               ("eld_nsaid", np.array(["M01AE01"]), True)):
        p = np.clip(tgt(k) / (1 if old_only else 1000.0), 0, 1)
        hit = (rng.random((S, T)) < p) & alive_listed & (is_old if old_only else True)
        s_i, t_i = np.nonzero(hit)
        add_presc(s_i, t_i, codes[rng.integers(0, len(codes), len(s_i))], 10.0)
    # polypharmacy: ten substances dispensed in the month, covering its last day but not the next one's
    hit = (rng.random((S, T)) < np.clip(tgt("eld_polypharmacy"), 0, 1)) & alive_listed & is_old
    s_i, t_i = np.nonzero(hit)
    for j in range(10):
        sub = CHRONIC[j]
        d = _day_in_month(rng, m_all[t_i])
        ddd = (pe[t_i] - d + 1 + rng.integers(0, 28, len(s_i))).astype(float)
        presc["patient_id"].append(pat_ids[occ_row[s_i, t_i]])
        presc["date"].append(d.astype(float))
        presc["atc"].append(np.broadcast_to(sub, s_i.shape).astype(object))
        presc["ddd"].append(ddd)
        presc["packages"].append(np.ones(len(s_i), dtype=np.int32))

    # --- chronic conditions: patient-month statuses ---------------------------------------------
    lab = {"patient_id": [], "date": [], "npu_code": [], "value": [], "unit": []}
    diag = {"patient_id": [], "date": [], "code": [], "system": []}
    # practice of each patient in each month (the slot held), -1 when not listed
    prac_pm = np.full((n_pat, T), -1, dtype=np.int64)
    s_i, t_i = np.nonzero(alive_listed)
    prac_pm[occ_row[s_i, t_i], t_i] = slot_prac[s_i]

    def status(k, cohort, u_pat):
        w = target[k][batch][:, hist]                                         # (B, T)
        st = np.zeros((n_pat, T), dtype=bool)
        r_, t_ = np.nonzero(prac_pm >= 0)
        keep = cohort[r_]
        r_, t_ = r_[keep], t_[keep]
        st[r_, t_] = u_pat[r_] < w[prac_pm[r_, t_], t_]
        return st

    for cohort_name, code, icd, k_test, test_code, k_drug in (
            ("t2d", "T90", "E11", "t2d_hba1c_measured", "NPU27300", None),
            ("copd", "R95", "J44", "copd_spirometry", "SSR7113", "copd_ics")):
        cohort = attr[cohort_name]
        rows_c = np.flatnonzero(cohort)
        # yearly diagnosis (ICPC-2, sometimes the hospital ICD-10), from the history start
        phase = rng.integers(0, 12, len(rows_c))
        for k in range(0, T, 12):
            tm = phase + k
            ok = tm < T
            r_, tm = rows_c[ok], tm[ok]
            hosp = rng.random(len(r_)) < 0.1
            diag["patient_id"].append(pat_ids[r_])
            diag["date"].append(_day_in_month(rng, m_all[tm]).astype(float))
            diag["code"].append(np.where(hosp, icd + "9", code).astype(object))
            diag["system"].append(np.where(hosp, "ICD10", "ICPC2").astype(object))
        if cohort_name == "t2d":   # metformin every three months
            phase = rng.integers(0, 3, len(rows_c))
            for k in range(0, T, 3):
                tm = phase + k
                ok = tm < T
                r_, tm = rows_c[ok], tm[ok]
                presc["patient_id"].append(pat_ids[r_])
                presc["date"].append(_day_in_month(rng, m_all[tm]).astype(float))
                presc["atc"].append(np.full(len(r_), "A10BA02", dtype=object))
                presc["ddd"].append(np.full(len(r_), 90.0))
                presc["packages"].append(np.ones(len(r_), dtype=np.int32))
        u_test = rng.random(n_pat)
        st = status(k_test, cohort, u_test)
        rr, a, b = _runs(st)
        r_, tm = _run_months(rr, a, b, T - 1)
        r_, tm = r_[tm >= 0], tm[tm >= 0]
        if cohort_name == "t2d":
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = target["t2d_hba1c_below59"][batch] / target["t2d_hba1c_measured"][batch]
            ratio = np.clip(np.nan_to_num(ratio[:, hist], nan=0.0), 0, 1)
            pr = np.maximum(prac_pm[r_, tm], 0)
            below = rng.random(len(r_)) < ratio[pr, tm]
            value = np.where(below, rng.integers(40, 59, len(r_)), rng.integers(59, 91, len(r_))).astype(float)
            unit = "mmol/mol"
        else:
            value = np.full(len(r_), np.nan)
            unit = ""
        lab["patient_id"].append(pat_ids[r_])
        lab["date"].append(_day_in_month(rng, m_all[tm]).astype(float))
        lab["npu_code"].append(np.full(len(r_), test_code, dtype=object))
        lab["value"].append(value)
        lab["unit"].append(np.full(len(r_), unit, dtype=object))
        if k_drug:
            st = status(k_drug, cohort, rng.random(n_pat))
            rr, a, b = _runs(st)
            r_, tm = _run_months(rr, a, b, T - 1)
            presc["patient_id"].append(pat_ids[r_])
            presc["date"].append(_day_in_month(rng, m_all[tm]).astype(float))
            presc["atc"].append(np.where(rng.random(len(r_)) < 0.5, "R03BA02", "R03AK07").astype(object))
            presc["ddd"].append(np.full(len(r_), 90.0))
            presc["packages"].append(np.ones(len(r_), dtype=np.int32))

    def cat(d):
        return {k: (np.concatenate(v) if v else np.array([])) for k, v in d.items()}
    tables = {"patients": patients, "listings": listings, "prescriptions": cat(presc), "lab_tests": cat(lab),
              "diagnoses": cat(diag)}
    # only patients who were ever listed
    return tables, next_id + n_pat
