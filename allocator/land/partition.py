"""Spatially partitioned steps of the land scan, for province-scale parcel layers.

dask-geopandas orders the parcels along a Hilbert curve and cuts them into partitions of
neighbouring parcels; the row-wise spatial steps (geometry checks, district checks, clipping
by the exclusion layers) then run on the partitions in parallel threads (shapely releases
the GIL), and their results are put back in the layer's own row order. Identical geometries
have the same Hilbert distance, so they fall in one partition and the duplicate check sees
them together. Steps that join parcels across partitions (grouping pieces into sites) run
on the whole layer afterwards, so a site that straddles two partitions is found whole: the
results equal the single-machine scan's exactly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import shapely

from models.tables import Problem

T = TypeVar("T")
AUTO_ABOVE = 200_000  # parcels; above this the scan partitions itself, given the cores:
AUTO_CORES = 4  # on 2 cores the 500,000-parcel province scanned in 121 s whole, 155 s in 8
AUTO_PARTITIONS = 8
STAGES = ("empty or missing", "is not a polygon", "invalid geometry", "multi-part", "same geometry")


def partitions_for(requested: int | None, parcels: int) -> int:
    """How many partitions: as requested (0 or 1: none), or automatic by size."""
    if requested is not None:
        return requested if requested > 1 else 0
    big = parcels > AUTO_ABOVE and (os.cpu_count() or 1) >= AUTO_CORES
    return AUTO_PARTITIONS if big else 0


def spatial_partitions(frame: gpd.GeoDataFrame, n: int) -> list[np.ndarray]:
    """Row positions of ``frame`` in ``n`` Hilbert-ordered partitions, each ascending."""
    import dask
    import dask_geopandas

    geom = frame.geometry.to_numpy()
    empty = shapely.is_missing(geom) | shapely.is_empty(geom)
    if empty.all():
        return [np.arange(len(frame))]
    x0, y0 = shapely.total_bounds(geom[~empty])[:2]
    placed = np.where(empty, shapely.points(x0, y0), geom)  # only to find a partition
    keyed = gpd.GeoDataFrame({"pos": np.arange(len(frame))}, geometry=placed, crs=frame.crs)
    shuffled = dask_geopandas.from_geopandas(keyed, npartitions=n).spatial_shuffle(npartitions=n)
    parts = dask.compute(*shuffled.to_delayed(), scheduler="threads")
    return [np.sort(part["pos"].to_numpy()) for part in parts if len(part)]


def run(fn: Callable[[np.ndarray], T], parts: list[np.ndarray]) -> list[T]:
    """``fn(positions)`` for every partition, in parallel threads."""
    import dask

    return list(dask.compute(*[dask.delayed(fn)(p) for p in parts], scheduler="threads"))


def geometry_problems_by_part(
    check: Callable[[gpd.GeoDataFrame], tuple[np.ndarray, list[Problem]]],
    frame: gpd.GeoDataFrame,
    parts: list[np.ndarray],
) -> tuple[np.ndarray, list[Problem]]:
    """``check`` (``geometry_problems``) per partition, merged in its single-layer order:
    by kind of problem, then by row."""

    def one(pos: np.ndarray) -> tuple[np.ndarray, list[Problem]]:
        mask, found = check(frame.iloc[pos])
        moved = [replace(p, row=int(pos[(p.row or 1) - 1]) + 1) for p in found]
        return pos[mask], moved

    bad = np.zeros(len(frame), dtype=bool)
    problems: list[Problem] = []
    for flagged, found in run(one, parts):
        bad[flagged] = True
        problems += found
    stage = {s: i for i, s in enumerate(STAGES)}

    def order(p: Problem) -> tuple[int, int]:
        kind = next(i for s, i in stage.items() if p.rule.startswith(s))
        return kind, p.row or 0

    return bad, sorted(problems, key=order)


def concat_in_order(frames: list[Any], column: str = "_order") -> Any:
    """Partition results back in the layer's row order (``column`` holds it), stable."""
    import pandas as pd

    kept = [f for f in frames if len(f)] or frames[:1]  # an empty part would change dtypes
    whole = pd.concat(kept, ignore_index=True)
    return whole.sort_values(column, kind="stable").drop(columns=column).reset_index(drop=True)
