"""Reuse sites: reusable parcels, clipped by the exclusion layers, grouped by adjacency.

1. The parcels whose disposal frees them (their ``source``) are clipped by the union of the
   exclusion layers (ecological red line, permanent basic farmland); pieces smaller than
   ``sites.min_area_mu`` are dropped as slivers.
2. Pieces of the same park and source that touch (within ``sites.adjacency_m``) form one
   site: the connected components of the adjacency graph.
3. Each site gets its area, district, park and the park's zone level, leading sectors and
   chemical flag, centroid, source, acquisition cost (0 where the land is recovered without
   compensation or never supplied, the land price × ``buyback_price_factor`` otherwise) and
   the year it becomes available (as_of year + the disposal years of its source).
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from allocator.land.geometry import MU_M2
from models.land import Sites

FREE = {"idle_recoverable", "unsupplied"}


def clip(
    reusable: gpd.GeoDataFrame, exclusions: gpd.GeoDataFrame | None, settings: Sites
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Remove excluded area; return the kept pieces and the removed parts (for the map)."""
    pieces = reusable.copy()
    removed = gpd.GeoDataFrame({"parcel_id": []}, geometry=[], crs=reusable.crs)
    if exclusions is not None and not exclusions.empty and not pieces.empty:
        blocked = shapely.union_all(exclusions.geometry.to_numpy())
        hit = shapely.intersects(pieces.geometry.to_numpy(), blocked)
        cut = pieces.geometry.to_numpy().copy()
        cut[hit] = shapely.difference(cut[hit], blocked)
        lost = shapely.intersection(pieces.geometry.to_numpy()[hit], blocked)
        removed = gpd.GeoDataFrame(
            {
                "parcel_id": pieces["parcel_id"].to_numpy()[hit],
                "excluded_mu": shapely.area(lost) / MU_M2,
            },
            geometry=lost,
            crs=reusable.crs,
        )
        pieces = pieces.set_geometry(cut)
    pieces = pieces.explode(index_parts=False, ignore_index=True)
    pieces = pieces[pieces.geometry.geom_type == "Polygon"]
    pieces = pieces[pieces.geometry.area / MU_M2 >= settings.min_area_mu]
    return pieces.reset_index(drop=True), removed


def group(pieces: gpd.GeoDataFrame, settings: Sites) -> np.ndarray:
    """Site number of each piece: touching pieces of the same park and source share one."""
    if pieces.empty:
        return np.zeros(0, dtype=int)
    key = pieces["park"].fillna("") + "|" + pieces["source"]
    near = gpd.GeoDataFrame(
        {"key": key}, geometry=pieces.geometry.buffer(settings.adjacency_m / 2), crs=pieces.crs
    )
    pairs = gpd.sjoin(near, near, predicate="intersects")
    pairs = pairs[pairs["key_left"] == pairs["key_right"]]
    n = len(pieces)
    graph = coo_matrix(
        (np.ones(len(pairs)), (pairs.index.to_numpy(), pairs["index_right"].to_numpy())),
        shape=(n, n),
    )
    return connected_components(graph, directed=False)[1]


def build_sites(
    pieces: gpd.GeoDataFrame, parks: pd.DataFrame | None, settings: Sites, as_of: dt.date
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The sites and the site id of every piece."""
    label = group(pieces, settings)
    pieces = pieces.assign(component=label, area_mu=pieces.geometry.area / MU_M2)
    shares = pieces["area_mu"] / pieces["parcel_area_mu"]
    pieces["cost"] = np.where(
        pieces["source"].isin(FREE),
        0.0,
        pieces["land_price_wan_cny"] * shares * settings.buyback_price_factor,
    )
    agg = pieces.drop(columns="parcel_id").dissolve(
        by="component",
        aggfunc={"park": "first", "district": "first", "source": "first", "area_mu": "sum",
                 "cost": "sum"},
    )  # fmt: skip
    ids_of: dict[int, list[str]] = {}  # a plain dict: a lambda per group took seconds
    for component, pid in zip(pieces["component"], pieces["parcel_id"], strict=True):
        ids_of.setdefault(component, []).append(pid)
    agg["parcel_id"] = [";".join(sorted(ids_of[c])) for c in agg.index]
    agg = agg.sort_values(["park", "parcel_id"], kind="stable").reset_index()
    agg.insert(0, "site_id", [f"S-{i + 1:05d}" for i in range(len(agg))])
    ids = dict(zip(agg["component"], agg["site_id"], strict=True))
    agg = agg.drop(columns="component").rename(
        columns={"parcel_id": "parcel_ids", "cost": "acquisition_cost_wan_cny"}
    )
    years = agg["source"].map(settings.disposal_years).astype(int)
    agg["available_year"] = as_of.year + years
    centroid = agg.geometry.centroid
    agg["x"], agg["y"] = centroid.x.round(2), centroid.y.round(2)
    lonlat = centroid.to_crs("EPSG:4490")
    agg["lon"], agg["lat"] = lonlat.x.round(6), lonlat.y.round(6)
    attrs = ["zone_level", "leading_sectors", "chemical_park"]
    if parks is not None:
        info = parks[attrs].copy()
        info["leading_sectors"] = info["leading_sectors"].map(lambda v: ";".join(v))
        agg = agg.join(info, on="park")
    else:
        agg[attrs] = ("other", "", False)
    agg["zone_level"] = agg["zone_level"].fillna("other")
    agg["leading_sectors"] = agg["leading_sectors"].fillna("")
    agg["chemical_park"] = agg["chemical_park"].fillna(False).astype(bool)
    agg["area_mu"] = agg["area_mu"].round(4)
    agg["acquisition_cost_wan_cny"] = agg["acquisition_cost_wan_cny"].round(4)
    return agg, pieces["component"].map(ids).to_numpy()
