"""A synthetic Denmark with known true effects (``docs/synthetic.md`` states the generating model).

    ds = ce.synthetic.generate(scale="denmark", seed=0)     # a Dataset, truth in ds.truth
    ce.synthetic.write("data/synth", scale="small", seed=1)  # CSV tables + truth.csv
"""
from __future__ import annotations

from pathlib import Path

from ..data.loading import Dataset
from .generator import SCALES, simulate
from .indicators_model import INDICATORS, MODEL, TOPICS
from .nuisance import Nuisance

__all__ = ["generate", "write", "SCALES", "INDICATORS", "MODEL", "TOPICS", "Nuisance"]


def generate(scale: str = "small", seed: int = 0, *, cluster_shock: float = 0.12, region_shock: float = 0.06,
             shock_rho: float = 0.6, effect_sd: float = 0.3, variation_share: float = 0.25,
             variation_ratio: float = 0.7, dip: bool = False, dip_share: float = 0.5, dip_size: float = 1.0,
             dip_months: int = 6) -> Dataset:
    """Generate the synthetic Danish practice data with its ground truth.

    Parameters
    ----------
    scale : {"small", "denmark", "england"}
        ``"small"``: about 12 clusters, 120 practices, 48 months (2019-01 to 2022-12), for tests.
        ``"denmark"``: 5 regions, 98 municipalities, 116 clusters of 5-30 practices, 1,700
        practices (a few in no cluster), monthly 2016-01 to 2024-12.
        ``"england"``: English size (6,400 practices in 1,250 clusters of 2-12 practices, as primary
        care networks) on the Danish geography and window; about 4x Denmark's time and memory.
    seed : int
        Seed of the ``numpy.random.Generator``; the same seed gives identical tables.
    cluster_shock, region_shock : float
        SD of the cluster x month and region x month shocks (added to every practice's expected value
        in the cluster or region), as a multiple of the indicator's practice-month residual SD; 0 = none.
        Real English PCN data show about 0.12 for the cluster shocks.
    shock_rho : float
        AR(1) correlation of the shocks from one month to the next.
    effect_sd : float
        SD of a practice's effect relative to its cluster's (1 + eta, eta with mean 0 in the cluster);
        the cluster's equally weighted mean effect is its truth.
    variation_share, variation_ratio : float
        Share of treated cluster-topics whose between-practice spread of levels is multiplied by
        ``variation_ratio`` once the effect is fully ramped up (truth column ``sd_ratio``).
    dip, dip_share, dip_size, dip_months
        The Ashenfelter scenario: a share ``dip_share`` of the treated cluster-topics is worse by
        ``dip_size`` x the indicator's mean absolute effect in the ``dip_months`` months before the start
        (truth column ``dip``). Off by default.

    Returns
    -------
    Dataset
        practices, clusters, activities, measures (the catalogue's 11 indicators), population, truth
        (cluster_id, topic, indicator_id, start, event_time, effect, sd_ratio, dip).

    Notes
    -----
    With ``cluster_shock=0, region_shock=0, effect_sd=0, variation_share=0`` (and no dip) the tables are
    those of the generator without nuisances, draw for draw. docs/synthetic.md states the full model.
    """
    from ..errors import ArgumentError
    from ..validation import check_choice

    check_choice(scale, "scale", tuple(SCALES))
    if isinstance(seed, bool) or not float(seed).is_integer() or int(seed) < 0:
        raise ArgumentError(f"seed must be a whole number >= 0; got {seed!r}")
    nz = Nuisance(cluster_shock=cluster_shock, region_shock=region_shock, shock_rho=shock_rho,
                  effect_sd=effect_sd, variation_share=variation_share, variation_ratio=variation_ratio,
                  dip=dip, dip_share=dip_share, dip_size=dip_size, dip_months=dip_months)
    return simulate(scale, int(seed), nz)[0]


def write(out_dir, scale: str = "small", seed: int = 0, events: bool = False,
          events_scale: float = 1.0, progress: bool = False, **nuisances) -> Path:
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
    **nuisances
        :func:`generate`'s keyword arguments (cluster_shock, region_shock, effect_sd, dip, ...).

    Returns
    -------
    Path
        The folder written: the contract's CSV tables (contract names, ISO dates) and ``truth.csv``.
    """
    ds = generate(scale, seed, **nuisances)
    # the banded measures of the rate indicators with an age-sex profile (docs/descriptive.md), broad bands
    from .casemix import BROAD_BANDS, banded_measures

    ds.measures_banded = banded_measures(ds, seed=seed, bands=BROAD_BANDS)
    out = ds.write(Path(out_dir))
    if events:
        from .events import write_events  # provided by the indicator engine

        write_events(ds, out, seed=seed, scale_factor=events_scale, progress=progress)
    return out
