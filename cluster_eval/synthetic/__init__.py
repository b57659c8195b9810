"""A synthetic Denmark with known true effects (``docs/synthetic.md`` states the generating model).

    ds = ce.synthetic.generate(scale="denmark", seed=0)     # a Dataset, truth in ds.truth
    ce.synthetic.write("data/synth", scale="small", seed=1)  # CSV tables + truth.csv
"""
from __future__ import annotations

from pathlib import Path

from ..data.loading import Dataset
from .generator import SCALES, simulate
from .indicators_model import INDICATORS, TOPICS

__all__ = ["generate", "write", "SCALES", "INDICATORS", "TOPICS"]


def generate(scale: str = "small", seed: int = 0) -> Dataset:
    """Generate the synthetic Danish practice data with its ground truth.

    Parameters
    ----------
    scale : {"small", "denmark"}
        ``"small"``: about 12 clusters, 120 practices, 48 months (2019-01 to 2022-12), for tests.
        ``"denmark"``: 5 regions, 98 municipalities, 116 clusters of 5-30 practices, 1,700
        practices (a few in no cluster), monthly 2016-01 to 2024-12.
    seed : int
        Seed of the ``numpy.random.Generator``; the same seed gives identical tables.

    Returns
    -------
    Dataset
        practices, clusters, activities, measures (11 indicators), population, truth.
    """
    from ..errors import ArgumentError
    from ..validation import check_choice

    check_choice(scale, "scale", tuple(SCALES))
    if isinstance(seed, bool) or not float(seed).is_integer() or int(seed) < 0:
        raise ArgumentError(f"seed must be a whole number >= 0; got {seed!r}")
    return simulate(scale, int(seed))[0]


def write(out_dir, scale: str = "small", seed: int = 0, events: bool = False,
          events_scale: float = 1.0, progress: bool = False) -> Path:
    """Generate and write the tables as CSV (contract names, ISO dates) and ``truth.csv`` into ``out_dir``,
    with the banded measures of the three age-sex dependent rate indicators as ``measures_banded.parquet``
    (``cluster_eval.synthetic.casemix``, five broad age bands by sex).

    Parameters
    ----------
    out_dir : str or Path
        The data folder to write (created when missing).
    scale, seed
        As :func:`generate`.
    events : bool
        Also write patient-level event tables (``cluster_eval.synthetic.events``; docs/events.md).
    events_scale : float
        Share of the listed patients given events (1.0: every listed patient, ~5.9 million at
        ``scale="denmark"``, several hundred million prescriptions).
    progress : bool
        Show progress while the events are written.

    Returns
    -------
    Path
        The folder written: the contract's CSV tables (contract names, ISO dates) and ``truth.csv``.
    """
    ds = generate(scale, seed)
    # the banded measures of the rate indicators with an age-sex profile (docs/descriptive.md), broad bands
    from .casemix import BROAD_BANDS, banded_measures

    ds.measures_banded = banded_measures(ds, seed=seed, bands=BROAD_BANDS)
    out = ds.write(Path(out_dir))
    if events:
        from .events import write_events  # provided by the indicator engine

        write_events(ds, out, seed=seed, scale_factor=events_scale, progress=progress)
    return out
