"""Geography of the synthetic Denmark: regions, municipalities, practices and quality clusters.

The five regions and 98 municipalities are the real ones (names as used by Danmarks Statistik);
the populations are rounded 2020 figures in thousands, used only as weights for placing practices.
Practices, their sizes and the clusters are invented.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: region -> [(municipality, population in thousands, age tilt)], the tilt > 0 for an older population.
MUNICIPALITIES: dict[str, list[tuple[str, float, float]]] = {
    "Hovedstaden": [
        ("København", 632, -0.6), ("Frederiksberg", 104, -0.5), ("Albertslund", 28, -0.1), ("Ballerup", 49, 0.0),
        ("Brøndby", 35, 0.0), ("Dragør", 14, 0.3), ("Gentofte", 75, 0.1), ("Gladsaxe", 69, -0.1),
        ("Glostrup", 23, 0.0), ("Herlev", 29, 0.0), ("Hvidovre", 53, 0.0), ("Høje-Taastrup", 51, -0.1),
        ("Ishøj", 23, -0.1), ("Lyngby-Taarbæk", 56, 0.0), ("Rødovre", 40, 0.0), ("Tårnby", 43, 0.0),
        ("Vallensbæk", 16, 0.0), ("Allerød", 25, 0.2), ("Egedal", 43, 0.1), ("Fredensborg", 41, 0.2),
        ("Frederikssund", 45, 0.3), ("Furesø", 41, 0.2), ("Gribskov", 41, 0.4), ("Halsnæs", 31, 0.4),
        ("Helsingør", 63, 0.3), ("Hillerød", 51, 0.0), ("Hørsholm", 25, 0.4), ("Rudersdal", 56, 0.3),
        ("Bornholm", 39, 0.6),
    ],
    "Sjælland": [
        ("Faxe", 37, 0.3), ("Greve", 50, 0.2), ("Guldborgsund", 60, 0.5), ("Holbæk", 71, 0.2),
        ("Kalundborg", 48, 0.4), ("Køge", 61, 0.1), ("Lejre", 28, 0.3), ("Lolland", 41, 0.7),
        ("Næstved", 83, 0.2), ("Odsherred", 33, 0.7), ("Ringsted", 35, 0.1), ("Roskilde", 88, 0.0),
        ("Slagelse", 79, 0.2), ("Solrød", 23, 0.1), ("Sorø", 30, 0.3), ("Stevns", 23, 0.4),
        ("Vordingborg", 46, 0.5),
    ],
    "Syddanmark": [
        ("Assens", 41, 0.4), ("Billund", 27, 0.1), ("Esbjerg", 115, 0.1), ("Fanø", 3.5, 0.6),
        ("Fredericia", 51, 0.1), ("Faaborg-Midtfyn", 51, 0.4), ("Haderslev", 56, 0.3), ("Kerteminde", 24, 0.5),
        ("Kolding", 93, 0.0), ("Langeland", 12, 0.8), ("Middelfart", 39, 0.2), ("Nordfyns", 29, 0.4),
        ("Nyborg", 32, 0.4), ("Odense", 205, -0.4), ("Svendborg", 59, 0.3), ("Sønderborg", 74, 0.3),
        ("Tønder", 37, 0.4), ("Varde", 50, 0.3), ("Vejen", 43, 0.2), ("Vejle", 116, 0.0),
        ("Ærø", 6, 0.9), ("Aabenraa", 59, 0.3),
    ],
    "Midtjylland": [
        ("Favrskov", 48, 0.1), ("Hedensted", 46, 0.2), ("Herning", 89, 0.0), ("Holstebro", 59, 0.2),
        ("Horsens", 95, -0.1), ("Ikast-Brande", 41, 0.1), ("Lemvig", 20, 0.6), ("Norddjurs", 38, 0.6),
        ("Odder", 23, 0.3), ("Randers", 98, 0.1), ("Ringkøbing-Skjern", 57, 0.4), ("Samsø", 3.7, 0.9),
        ("Silkeborg", 95, 0.1), ("Skanderborg", 62, 0.0), ("Skive", 46, 0.4), ("Struer", 21, 0.5),
        ("Syddjurs", 43, 0.4), ("Viborg", 97, 0.1), ("Aarhus", 350, -0.5),
    ],
    "Nordjylland": [
        ("Brønderslev", 36, 0.3), ("Frederikshavn", 59, 0.6), ("Hjørring", 64, 0.4), ("Jammerbugt", 38, 0.4),
        ("Læsø", 1.8, 1.0), ("Mariagerfjord", 42, 0.4), ("Morsø", 20, 0.6), ("Rebild", 30, 0.2),
        ("Thisted", 43, 0.4), ("Vesthimmerland", 37, 0.4), ("Aalborg", 217, -0.3),
    ],
}
REGIONS = tuple(MUNICIPALITIES)

#: Probability that a practice has 1, 2, ..., 6 doctors (solo ~45% of practices, partnerships the rest).
DOCTORS_P = np.array([0.45, 0.25, 0.15, 0.08, 0.04, 0.03])
#: Median patients listed per doctor and the log-scale spread of a practice's list per doctor.
LIST_PER_DOCTOR = 1600.0
LIST_PER_DOCTOR_SD = 0.22
MIN_CLUSTER, MAX_CLUSTER = 5, 30


def municipality_table() -> pd.DataFrame:
    """All 98 municipalities: region, municipality, population (thousands), age tilt."""
    rows = [(reg, name, pop, tilt) for reg, munis in MUNICIPALITIES.items() for name, pop, tilt in munis]
    return pd.DataFrame(rows, columns=["region", "municipality", "population", "age_tilt"])


def _allocate(weights: np.ndarray, total: int, minimum: int = 0) -> np.ndarray:
    """Largest-remainder allocation of ``total`` units proportional to ``weights``, each >= ``minimum``."""
    weights = np.asarray(weights, dtype=float)
    base = np.full(len(weights), minimum, dtype=int)
    rest = total - base.sum()
    share = weights / weights.sum() * rest
    alloc = np.floor(share).astype(int)
    left = rest - alloc.sum()
    order = np.argsort(-(share - alloc), kind="stable")
    alloc[order[:left]] += 1
    return base + alloc


def _bounded_allocate(weights: np.ndarray, total: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Allocation proportional to ``weights`` with ``lo <= alloc <= hi`` elementwise, summing to ``total``."""
    lo, hi = np.asarray(lo, dtype=int), np.asarray(hi, dtype=float)
    if lo.sum() > total or hi.sum() < total:
        raise ValueError(f"cannot allocate {total} within bounds {lo.tolist()} - {hi.tolist()}")
    alloc = np.clip(_allocate(weights, total), lo, hi).astype(int)
    target = np.asarray(weights, dtype=float) / np.sum(weights) * total
    while alloc.sum() != total:   # move one unit at a time towards the proportional target
        if alloc.sum() < total:
            room = np.flatnonzero(alloc < hi)
            alloc[room[np.argmax((target - alloc)[room])]] += 1
        else:
            room = np.flatnonzero(alloc > lo)
            alloc[room[np.argmin((target - alloc)[room])]] -= 1
    return alloc


def _cluster_sizes(rng: np.random.Generator, n: int, k: int, lo: int = MIN_CLUSTER,
                   hi: int = MAX_CLUSTER) -> np.ndarray:
    """Split ``n`` practices into ``k`` clusters with random sizes in [lo, hi] (default MIN/MAX_CLUSTER)."""
    if k * lo > n or k * hi < n:
        raise ValueError(f"cannot split {n} practices into {k} clusters of {lo}-{hi}")
    sizes = _allocate(rng.gamma(4.0, 1.0, size=k), n)
    sizes = np.clip(sizes, lo, hi)
    # repair the total: move single practices between clusters that have room (at most n steps)
    while sizes.sum() != n:
        if sizes.sum() > n:
            cand = np.flatnonzero(sizes > lo)
            sizes[rng.choice(cand)] -= 1
        else:
            cand = np.flatnonzero(sizes < hi)
            sizes[rng.choice(cand)] += 1
    return sizes


def make_geography(rng: np.random.Generator, n_practices: int, n_clusters: int, n_unclustered: int,
                   n_municipalities: int | None = None, min_cluster: int = MIN_CLUSTER,
                   max_cluster: int = MAX_CLUSTER) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Place practices in municipalities, give them list sizes, and group them into clusters.

    Practices are allocated to municipalities in proportion to population (at least one each).
    Within a region, clusters are contiguous runs of practices in municipality order, so a
    cluster mostly covers one municipality (large ones hold several clusters, small neighbours
    share one), as the Danish clusters do. ``n_unclustered`` practices, drawn at random, belong to
    no cluster.

    Returns
    -------
    practices : DataFrame
        practice_id, cluster_id (None = no cluster), region, municipality, doctors, list_size
        (the list at the start of the data), age_tilt.
    clusters : DataFrame
        cluster_id, name, region.
    """
    munis = municipality_table()
    if n_municipalities is not None and n_municipalities < len(munis):
        # small scale: keep the largest municipality of each region plus a population-weighted draw
        keep = set(munis.groupby("region")["population"].idxmax())
        others = munis.index.difference(list(keep)).to_numpy()
        w = munis.loc[others, "population"].to_numpy()
        keep |= set(rng.choice(others, size=n_municipalities - len(keep), replace=False, p=w / w.sum()))
        munis = munis.loc[sorted(keep)].reset_index(drop=True)
    # practices per region (enough for at least one cluster), then per municipality (at least one)
    reg_of = munis["region"].to_numpy()
    reg_w = np.array([munis.loc[reg_of == r, "population"].sum() for r in REGIONS])
    reg_lo = np.array([max(min_cluster + 2, int((reg_of == r).sum())) for r in REGIONS])
    per_region = _bounded_allocate(reg_w, n_practices, reg_lo, np.full(len(REGIONS), np.inf))
    per_muni = np.concatenate([_allocate(munis.loc[reg_of == r, "population"].to_numpy(), int(n_r), minimum=1)
                               for r, n_r in zip(REGIONS, per_region)])
    munis = pd.concat([munis[reg_of == r] for r in REGIONS], ignore_index=True)
    muni_idx = np.repeat(np.arange(len(munis)), per_muni)
    doctors = rng.choice(np.arange(1, 7), size=n_practices, p=DOCTORS_P)
    per_doctor = LIST_PER_DOCTOR * np.exp(rng.normal(0.0, LIST_PER_DOCTOR_SD, n_practices))
    list_size = np.maximum(np.round(doctors * per_doctor), 600).astype(int)

    practices = pd.DataFrame({
        "practice_id": [f"P{i + 1:04d}" for i in range(n_practices)],
        "region": munis["region"].to_numpy()[muni_idx],
        "municipality": munis["municipality"].to_numpy()[muni_idx],
        "doctors": doctors,
        "list_size": list_size,
        "age_tilt": munis["age_tilt"].to_numpy()[muni_idx] + rng.normal(0.0, 0.25, n_practices),
    })
    # practices in no cluster: drawn at random, keeping every region able to form a cluster
    unclustered = np.zeros(n_practices, dtype=bool)
    left = dict(zip(REGIONS, per_region))
    for i in rng.permutation(n_practices):
        if unclustered.sum() == n_unclustered:
            break
        if left[practices.at[i, "region"]] > min_cluster + 1:
            unclustered[i] = True
            left[practices.at[i, "region"]] -= 1

    # clusters per region in proportion to its clustered practices, then contiguous runs
    in_cl = practices.loc[~unclustered]
    reg_counts = in_cl.groupby("region", sort=False).size().reindex(REGIONS).fillna(0).astype(int).to_numpy()
    k_per_region = _bounded_allocate(reg_counts, n_clusters, np.maximum(1, -(-reg_counts // max_cluster)),
                                     reg_counts // min_cluster)
    cluster_id = np.empty(n_practices, dtype=object)
    cluster_rows = []
    c = 0
    for region, n_reg, k in zip(REGIONS, reg_counts, k_per_region):
        idx = in_cl.index[in_cl["region"] == region].to_numpy()
        sizes = _cluster_sizes(rng, int(n_reg), int(k), min_cluster, max_cluster)
        for part in np.split(idx, np.cumsum(sizes)[:-1]):
            c += 1
            cid = f"K{c:03d}"
            cluster_id[part] = cid
            main = practices.loc[part, "municipality"].mode().iloc[0]
            cluster_rows.append((cid, main, region))
    clusters = pd.DataFrame(cluster_rows, columns=["cluster_id", "main", "region"])
    # name: "Klynge <main municipality>", numbered when a municipality holds several clusters
    n_same = clusters.groupby("main")["cluster_id"].transform("size")
    rank = clusters.groupby("main").cumcount() + 1
    clusters["name"] = np.where(n_same > 1, "Klynge " + clusters["main"] + " " + rank.astype(str),
                                "Klynge " + clusters["main"])
    clusters = clusters[["cluster_id", "name", "region"]]
    cluster_id[unclustered] = None
    practices.insert(1, "cluster_id", cluster_id)
    return practices, clusters
