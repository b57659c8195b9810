"""The European Standard Population 2013 (ESP 2013), 19 five-year age bands, total 100,000.

Source: Eurostat (2013). *Revision of the European Standard Population: report of Eurostat's task
force.* Methodologies and Working papers, Publications Office of the European Union, Luxembourg,
ISBN 978-92-79-31094-2, doi:10.2785/11470 (Table 3, "ESP 2013"). The same values are
PHEindicatormethods' default ``esp2013`` standard.

Band labels follow the data contract's ``population.age_band`` ('0-4', ..., '85-89', '90+').
"""
from __future__ import annotations

import pandas as pd

AGE_BANDS: tuple[str, ...] = (
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49",
    "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+",
)

ESP2013_VALUES: tuple[int, ...] = (
    5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
    7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000,
)

#: ESP 2013 persons per age band, indexed by the data contract's age_band labels.
ESP2013 = pd.Series(ESP2013_VALUES, index=pd.Index(AGE_BANDS, name="age_band"), name="esp2013", dtype=float)
