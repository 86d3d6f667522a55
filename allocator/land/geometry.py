"""Layers as the land scan needs them: full column names, a checked coordinate reference
system, projected, with every bad geometry named.

Every layer is brought to the scenario's projected CRS (EPSG:4548 by default) before any
area or distance. A layer without a CRS is an error that suggests the likely one from its
coordinates: zone-prefixed Gauss–Krüger eastings around 39,500,000 are EPSG:4527 (CGCS2000,
3-degree zone 39), eastings around 500,000 EPSG:4548, degrees EPSG:4490; ``land.assume_crs``
supplies it instead.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from allocator.errors import InputError
from models.tables import Problem

MU_M2 = 10_000 / 15  # 1 mu = 666.67 m²
CHINA = (73.0, 18.0, 136.0, 54.0)  # lon/lat box the data must fall in


def guess_crs(frame: gpd.GeoDataFrame) -> str | None:
    """The CRS that the coordinates look like, for a layer that declares none."""
    if frame.empty:
        return None
    x0, y0, x1, y1 = frame.total_bounds
    if x0 >= 73 and x1 <= 136 and y0 >= 3 and y1 <= 54:
        return "EPSG:4490"
    if x0 >= 39_000_000 and x1 <= 40_000_000 and y0 >= 2_000_000 and y1 <= 6_000_000:
        return "EPSG:4527"
    if x0 >= 200_000 and x1 <= 800_000 and y0 >= 2_000_000 and y1 <= 6_000_000:
        return "EPSG:4548"
    return None


def to_projected(
    frame: gpd.GeoDataFrame, label: str, target: str, assume: str | None
) -> gpd.GeoDataFrame:
    """Check the layer's CRS against its coordinates and reproject it to ``target``."""
    if frame.crs is None:
        if assume is None:
            guess = guess_crs(frame)
            hint = f"; its coordinates look like {guess}" if guess else ""
            raise InputError(
                [
                    Problem(
                        label,
                        f"the layer has no coordinate reference system{hint}: "
                        "set it in the file, or set `land.assume_crs`",
                    )
                ]
            )
        frame = frame.set_crs(assume)
    if not frame.empty:
        lon0, lat0, lon1, lat1 = Transformer.from_crs(
            frame.crs, "EPSG:4490", always_xy=True
        ).transform_bounds(*frame.total_bounds)
        inside = CHINA[0] <= lon0 and lon1 <= CHINA[2] and CHINA[1] <= lat0 and lat1 <= CHINA[3]
        if not inside or not np.isfinite([lon0, lat0, lon1, lat1]).all():
            guess = guess_crs(frame.set_crs(None, allow_override=True))
            hint = f" (they look like {guess})" if guess else ""
            raise InputError(
                [
                    Problem(
                        label,
                        f"the coordinates do not fit the declared CRS "
                        f"{CRS(frame.crs).to_string()}{hint}",
                    )
                ]
            )
    return frame.to_crs(target)


def geometry_problems(
    frame: gpd.GeoDataFrame, label: str, key: str, single_part: bool = True
) -> tuple[np.ndarray, list[Problem]]:
    """Bad geometries (missing, empty, invalid, multi-part, duplicated): a mask and the
    problems, each naming the feature's id."""
    geom = frame.geometry.to_numpy()
    ids = (
        frame[key].astype(str).to_numpy()
        if key in frame.columns
        else np.arange(len(frame)).astype(str)
    )
    rows = np.arange(len(frame)) + 1
    bad = np.zeros(len(frame), dtype=bool)
    problems: list[Problem] = []

    def flag(mask: np.ndarray, rule: str, values: list[str] | None = None) -> None:
        nonlocal bad
        for i in np.flatnonzero(mask & ~bad):
            value = values[i] if values else None
            problems.append(Problem(label, rule, int(rows[i]), "geometry", value, ids[i]))
        bad |= mask

    missing = shapely.is_missing(geom) | shapely.is_empty(geom)
    flag(missing, "empty or missing geometry")
    polygonal = np.isin(shapely.get_type_id(geom), [3, 6])  # Polygon, MultiPolygon
    flag(~polygonal & ~missing, "is not a polygon")
    invalid = ~shapely.is_valid(geom) & ~bad
    reasons = [shapely.is_valid_reason(g) if invalid[i] else "" for i, g in enumerate(geom)]
    flag(invalid, "invalid geometry", reasons)
    if single_part:
        parts = shapely.get_num_geometries(geom)
        flag(
            parts > 1,
            "multi-part geometry: one parcel must be one polygon",
            [f"{n} parts" for n in parts],
        )
    wkb = shapely.to_wkb(shapely.normalize(geom[~bad]))
    dup = np.zeros(len(frame), dtype=bool)
    seen: dict[bytes, str] = {}
    for i, w in zip(np.flatnonzero(~bad), wkb, strict=True):
        if w in seen:
            dup[i] = True
            problems.append(Problem.of(label, "same geometry as {other}", int(rows[i]), "geometry",
                                       None, ids[i], other=seen[w]))  # fmt: skip
        else:
            seen[w] = ids[i]
    return bad | dup, problems


def area_mu(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Area in mu, from a projected geometry."""
    return frame.geometry.area.to_numpy() / MU_M2
