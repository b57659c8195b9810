"""Listed population by sex and five-year age band, per practice and year.

The national structure is a rounded Danish population (about 5.8 million, 2020) by five-year band,
with the female share rising at old ages. A practice's structure tilts the national one towards
older or younger bands:

    share_ib  ∝  national_b · exp(tilt_i · z_b),   z_b = (mid-age_b − 40) / 30,

where ``tilt_i`` = municipality tilt + practice noise + ``AGEING_PER_YEAR`` · (year − 2016)
(the population ages slowly). Persons per band are a multinomial draw of the practice's list.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

AGE_BANDS = ("0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49",
             "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+")
BAND_MID = np.array([2.5 + 5 * i for i in range(18)] + [93.0])
#: Danish residents by band, thousands (rounded, 2020).
DK_PERSONS = np.array([305, 316, 336, 340, 385, 400, 350, 330, 370, 400,
                       410, 390, 345, 335, 330, 245, 155, 82, 45], dtype=float)
#: Female share by band.
FEMALE_SHARE = np.array([0.487] * 12 + [0.50, 0.51, 0.52, 0.54, 0.58, 0.63, 0.72])
SEXES = ("F", "M")
AGEING_PER_YEAR = 0.012
#: Bands aged 65+ (for the elderly indicators' denominators).
OLD = BAND_MID >= 65


def national_structure() -> np.ndarray:
    """National shares of the 38 sex-age cells, ordered F bands then M bands (sums to 1)."""
    cells = np.concatenate([DK_PERSONS * FEMALE_SHARE, DK_PERSONS * (1 - FEMALE_SHARE)])
    return cells / cells.sum()


def practice_structure(tilt: np.ndarray) -> np.ndarray:
    """Shares of the 38 sex-age cells for tilts of any shape ``(...)``; returns ``(..., 38)``."""
    z = np.tile((BAND_MID - 40.0) / 30.0, 2)
    w = national_structure() * np.exp(np.asarray(tilt)[..., None] * z)
    return w / w.sum(axis=-1, keepdims=True)


def draw_population(rng: np.random.Generator, list_size: np.ndarray, tilt: np.ndarray) -> np.ndarray:
    """Persons per sex-age cell: multinomial draws, ``list_size`` and ``tilt`` of shape (P, Y) -> (P, Y, 38)."""
    probs = practice_structure(tilt)
    return rng.multinomial(np.asarray(list_size, dtype=np.int64), probs)


def population_frame(practice_ids, years, counts: np.ndarray, present: np.ndarray) -> pd.DataFrame:
    """The contract's population table (one row per practice, 1 January, sex, band) for present years."""
    p_idx, y_idx = np.nonzero(present)
    n_cell = counts.shape[-1]
    sex = np.repeat(np.array(SEXES, dtype=object), len(AGE_BANDS))
    band = np.tile(np.array(AGE_BANDS, dtype=object), 2)
    periods = pd.to_datetime([f"{y}-01-01" for y in years])
    return pd.DataFrame({
        "practice_id": np.repeat(np.asarray(practice_ids, dtype=object)[p_idx], n_cell),
        "period": np.repeat(periods.to_numpy()[y_idx], n_cell),
        "sex": np.tile(sex, len(p_idx)),
        "age_band": np.tile(band, len(p_idx)),
        "persons": counts[p_idx, y_idx].reshape(-1).astype(float),
    })
