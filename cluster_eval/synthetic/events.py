"""Patient-level events of the synthetic Denmark, whose aggregation by the indicator engine reproduces
the practice-level measures of the same data set.

``write_events(dataset, out_dir, seed, scale_factor=1.0, fmt="parquet")`` writes ``patients``,
``listings``, ``prescriptions``, ``lab_tests`` and ``diagnoses`` (docs/events.md) in batches of
practices, appending each batch to the files (Parquet row groups or CSV chunks), so that national scale
(about 5.9 million patients, tens of millions of prescriptions a year) never sits in memory.

The model (docs/events.md, "Synthetic events", states it in full):

* Each practice has ``round(list × scale_factor)`` *slots* in each month (``list`` = the abx_rate
  denominator). A slot is held by a patient; when the holder dies a new patient takes the slot, and a
  few pairs of patients of different practices swap slots (a move between practices mid-month).
* Targets per practice and month are the generator's *expected* values (re-simulated from the
  dataset's seed, ``Dataset.source``) or, for a data set that is not synthetic, the observed values.
* Month indicators are drawn per slot and month: J01 prescriptions Poisson(rate/1000) with ATC
  J01CE02 / J01MA02 / other by the share targets; opioid, benzodiazepine users Bernoulli(rate/1000);
  NSAID and polypharmacy (ten substances in use on the month's last day) Bernoulli(p) among 65+.
* Diabetes and COPD are patient attributes (T90/R95 yearly, A10 every three months); a patient meets
  a 12-month criterion (HbA1c, spirometry, ICS) in month t when ``u < target(t)`` for a uniform ``u``
  of the patient, realised by events every three months inside each run of such months and a last one
  exactly 11 months before its end; HbA1c values are below 59 with probability below/measured.

Sampling noise: the engine's numerator for a practice-month is binomial (Poisson for abx_rate) around
``target × denominator``; against the generator's own draw (beta-binomial / gamma-Poisson around the
same expectation) the difference has mean 0 and variance the sum of the two.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# the model's constants stay importable from here
from .events_batch import (  # noqa: F401
    BENZOS,
    CHRONIC,
    DEATH_PER_MONTH,
    EPOCH,
    HISTORY,
    MOVE_SHARE,
    OPIOIDS,
    OTHER_J01,
    _simulate_batch,
)
from .indicators_model import BY_ID  # catalogue ids, kinds and multipliers

IDS = tuple(BY_ID)
TABLES = ("patients", "listings", "prescriptions", "lab_tests", "diagnoses")
SCHEMAS = {
    "patients": pa.schema([("patient_id", pa.int64()), ("sex", pa.string()), ("birth_date", pa.date32()),
                           ("death_date", pa.date32())]),
    "listings": pa.schema([("patient_id", pa.int64()), ("practice_id", pa.string()),
                           ("listed_from", pa.date32()), ("listed_to", pa.date32())]),
    "prescriptions": pa.schema([("patient_id", pa.int64()), ("date", pa.date32()), ("atc", pa.string()),
                                ("ddd", pa.float64()), ("packages", pa.int32())]),
    "lab_tests": pa.schema([("patient_id", pa.int64()), ("date", pa.date32()), ("npu_code", pa.string()),
                            ("value", pa.float64()), ("unit", pa.string())]),
    "diagnoses": pa.schema([("patient_id", pa.int64()), ("date", pa.date32()), ("code", pa.string()),
                            ("system", pa.string())]),
}


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------


def _targets(dataset):
    """Per indicator (P, T) target values, the list (P, T) and prevalences, from the data set."""
    m = dataset.measures.copy()
    m["p"] = m["period"].dt.year * 12 + m["period"].dt.month - 1
    pids = list(dataset.practices["practice_id"].astype(str))
    pidx = {p: i for i, p in enumerate(pids)}
    months = np.arange(m["p"].min(), m["p"].max() + 1)
    P, T = len(pids), len(months)
    ii = m["practice_id"].astype(str).map(pidx).to_numpy()
    tt = (m["p"] - months[0]).to_numpy()
    num, den = {}, {}
    for k in IDS:
        sel = (m["indicator_id"] == k).to_numpy()
        a, b = np.full((P, T), np.nan), np.full((P, T), np.nan)
        a[ii[sel], tt[sel]] = m["numerator"].to_numpy(float)[sel]
        b[ii[sel], tt[sel]] = m["denominator"].to_numpy(float)[sel]
        num[k], den[k] = a, b
    expected = _expected(dataset, pids, months)
    target = {}
    for k in IDS:
        with np.errstate(invalid="ignore", divide="ignore"):
            obs = num[k] / den[k]
        if BY_ID[k].kind == "rate":
            obs = obs * BY_ID[k].multiplier
        t = expected[k] if expected is not None else obs
        target[k] = _fill(t)
    lst = _fill(np.where(den["abx_rate"] > 0, den["abx_rate"], np.nan), zero_outside=True)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # practices without measures: no rows
        prev = {name: np.nanmean(den[k] / np.where(den["abx_rate"] > 0, den["abx_rate"], np.nan), axis=1)
                for name, k in (("t2d", "t2d_hba1c_measured"), ("copd", "copd_spirometry"),
                                ("old", "eld_nsaid"))}
    prev = {k: np.nan_to_num(v, nan=0.0) for k, v in prev.items()}
    return pids, months, lst, target, prev


def _fill(a: np.ndarray, zero_outside: bool = False) -> np.ndarray:
    """Forward/backward fill along time (gaps); with zero_outside, 0 before the first / after the last."""
    df = pd.DataFrame(a.T)
    filled = df.ffill().bfill().to_numpy().T
    if zero_outside:
        have = ~np.isnan(a)
        first = np.where(have.any(1), have.argmax(1), a.shape[1])
        last = np.where(have.any(1), a.shape[1] - 1 - have[:, ::-1].argmax(1), -1)
        t = np.arange(a.shape[1])
        filled = np.where((t >= first[:, None]) & (t <= last[:, None]), filled, 0.0)
    return np.nan_to_num(filled, nan=0.0)


def _expected(dataset, pids, months):
    """The generator's expected values when the data set says which scale and seed made it."""
    src = (dataset.source or {}).get("synthetic", "")
    found = re.match(r"scale=(\w+), seed=(-?\d+)", str(src))
    if not found:
        return None
    from .generator import simulate
    from .nuisance import Nuisance

    ds2, diag = simulate(found.group(1), int(found.group(2)), Nuisance.parse(src[found.end():]))
    if list(ds2.practices["practice_id"].astype(str)) != pids or not np.array_equal(diag["months"], months):
        return None
    exp = diag["expected"]
    return {k: exp[diag["indicators"].index(k)] for k in IDS}


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------


class _Writers:
    """Append record batches to one file per table (Parquet row groups or CSV chunks)."""

    def __init__(self, out_dir: Path, fmt: str):
        self.out_dir, self.fmt, self.files = out_dir, fmt, {}

    def write(self, table: str, columns: dict) -> None:
        schema = SCHEMAS[table]
        arrays = []
        for f in schema:
            v = columns[f.name]
            if pa.types.is_date32(f.type):
                v = np.asarray(v, dtype="float64")
                mask = np.isnan(v)
                arrays.append(pa.array(np.where(mask, 0, v).astype(np.int32), type=pa.int32(),
                                       mask=mask).cast(pa.date32()))
            else:
                arrays.append(pa.array(v, type=f.type))
        batch = pa.Table.from_arrays(arrays, schema=schema)
        path = self.out_dir / f"{table}.{self.fmt}"
        if self.fmt == "parquet":
            if table not in self.files:
                self.files[table] = pq.ParquetWriter(path, schema, compression="zstd")
            self.files[table].write_table(batch)
        else:
            import pyarrow.csv as pcsv
            first = table not in self.files
            self.files[table] = True
            with open(path, "ab" if not first else "wb") as fh:
                pcsv.write_csv(batch, fh, pcsv.WriteOptions(include_header=first))

    def close(self) -> None:
        for table in TABLES:
            if table not in self.files:
                self.write(table, {f.name: [] for f in SCHEMAS[table]})
        for w in self.files.values():
            if not isinstance(w, bool):
                w.close()


def write_events(dataset, out_dir, seed: int = 0, scale_factor: float = 1.0, fmt: str = "parquet",
                 batch_size: int | None = None, progress: bool = False) -> Path:
    """Write patient-level event tables whose aggregation reproduces ``dataset.measures``.

    Parameters
    ----------
    dataset : cluster_eval.data.loading.Dataset
        A practice-level data set (``ce.synthetic.generate``); its measures give list sizes,
        prevalences and (without the generator's expected values) the targets.
    out_dir : str or Path
        Folder; ``patients``, ``listings``, ``prescriptions``, ``lab_tests``, ``diagnoses`` are written
        as ``<table>.parquet`` (or ``.csv``).
    seed : int
        Seed of the event simulation.
    scale_factor : float
        Patients per listed patient of the data set (1.0: the full lists; 0.01 for quick tests).
    fmt : {"parquet", "csv"}
    batch_size : int, optional
        Practices simulated together (default: about 60,000 patients a batch).

    Returns
    -------
    Path
        The folder.
    """
    from ..errors import ArgumentError
    from ..validation import check_choice, check_positive

    check_choice(fmt, "fmt", ("parquet", "csv"))
    scale_factor = check_positive(scale_factor, "scale_factor")
    if seed is None or int(seed) != seed:
        raise ArgumentError(f"seed must be a whole number; got {seed!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pids, months, lst, target, prev = _targets(dataset)
    rng = np.random.default_rng([int(seed), 5])
    if batch_size is None:
        per = max(1.0, float(np.nanmax(lst, initial=1.0)) * scale_factor)
        batch_size = max(2, int(60_000 / per))
    writers = _Writers(out_dir, fmt)
    ctx = (months, lst, target, prev, pids, scale_factor)
    next_id = 1
    order = np.arange(len(pids))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    it = batches
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(batches, desc="events", unit="batch")
    try:
        for batch in it:
            tables, next_id = _simulate_batch(rng, batch, ctx, next_id)
            for name in TABLES:
                if len(tables[name]["patient_id"]):
                    writers.write(name, tables[name])
    finally:
        writers.close()
    return out_dir
