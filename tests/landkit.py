"""A tiny hand-drawn city in EPSG:4548 for land tests: every area known by hand.

Parcels are 100 m × 66.667 m rectangles (exactly 10 mu) laid in a row from the park's
corner; district xuecheng is the square left of x = 510 000, shizhong the one right of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
import yaml

from tests.conftest import RESOURCES

CRS = "EPSG:4548"
X0, Y0 = 495_000.0, 3_845_000.0
W, H = 100.0, 200.0 / 3.0  # 6,666.67 m² = 10 mu
AS_OF = "2026-11-01"

PARCEL: dict[str, Any] = {
    "unit_id": "370403001001GB00001W00000000", "district": "xuecheng", "park": "PK-A",
    "stated_area_mu": 10.0, "land_use_code": "100101", "firm_id": "F-1",
    "approved_date": "2014-06-01", "transfer_date": "2015-01-01", "agreed_start_date": "2015-06-01", "extended_start_date": None,
    "status": "completed", "halted_since": None, "developed_area_share": 1.0,
    "invested_share": 1.0, "land_price_wan_cny": 200.0, "floor_area_m2": 8000.0,
    "building_coverage": 0.5, "government_delay": False,
}  # fmt: skip

FIRM: dict[str, Any] = {
    "firm_id": "F-1", "name": "f", "district": "xuecheng", "sector": "high_end_equipment",
    "above_scale": True, "revenue_wan_cny": 5000.0, "value_added_wan_cny": 1500.0,
    "tax_wan_cny": 400.0, "energy_tce": 500.0, "coal_t": None, "pollutant_equivalent_t": 1.0,
    "rd_wan_cny": 100.0, "employees": 50, "land_mu": 10.0,
}  # fmt: skip


def cell(i: int, j: int = 0) -> shapely.Polygon:
    """The i-th 10-mu rectangle of row j, from the park's corner."""
    return shapely.box(X0 + i * W, Y0 + j * H, X0 + (i + 1) * W, Y0 + (j + 1) * H)


def parcel(pid: str, geometry: shapely.Geometry, **changes: Any) -> dict[str, Any]:
    return {"parcel_id": pid, **PARCEL, **changes, "geometry": geometry}


def firm(fid: str, **changes: Any) -> dict[str, Any]:
    return {**FIRM, "firm_id": fid, **changes}


def city_layers(
    parcels: list[dict[str, Any]],
    exclusions: list[shapely.Geometry] | None = None,
    crs: str | None = CRS,
    parks: list[dict[str, Any]] | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """The tiny city's layers in memory: districts, parks, parcels, exclusions."""
    districts = gpd.GeoDataFrame(
        {"district": ["xuecheng", "shizhong"]},
        geometry=[shapely.box(490_000, 3_840_000, 510_000, 3_860_000),
                  shapely.box(510_000, 3_840_000, 530_000, 3_860_000)], crs=CRS,
    )  # fmt: skip
    park_rows = parks or [
        {"park": "PK-A", "district": "xuecheng", "zone_level": "provincial",
         "leading_sectors": "high_end_equipment;new_it", "chemical_park": False,
         "geometry": shapely.box(X0 - 500, Y0 - 500, X0 + 3000, Y0 + 2000)},
        {"park": "PK-B", "district": "shizhong", "zone_level": "national",
         "leading_sectors": "new_it", "chemical_park": False,
         "geometry": shapely.box(515_000, 3_845_000, 517_000, 3_847_000)},
    ]  # fmt: skip
    return {
        "districts": districts,
        "parks": gpd.GeoDataFrame(park_rows, crs=CRS),
        "parcels": gpd.GeoDataFrame(parcels, crs=crs),
        "exclusions": gpd.GeoDataFrame(
            {"name": [f"x{i}" for i in range(len(exclusions or []))]},
            geometry=list(exclusions or []),
            crs=CRS,
        ),
    }


def write_city(
    folder: Path,
    parcels: list[dict[str, Any]],
    firms: list[dict[str, Any]] | None = None,
    exclusions: list[shapely.Geometry] | None = None,
    crs: str | None = CRS,
    parks: list[dict[str, Any]] | None = None,
) -> Path:
    """city.gpkg (districts, parks, parcels, exclusions) and firms.csv; returns the gpkg."""
    folder.mkdir(parents=True, exist_ok=True)
    gpkg = folder / "city.gpkg"
    gpkg.unlink(missing_ok=True)
    for name, layer in city_layers(parcels, exclusions, crs, parks).items():
        layer.to_file(gpkg, layer=name, driver="GPKG")
    pd.DataFrame(firms if firms is not None else [FIRM]).to_csv(folder / "firms.csv", index=False)
    return gpkg


def land_scenario(folder: Path, projects: list[dict[str, Any]], supplies: list[tuple[Any, ...]],
                  **changes: Any) -> Path:  # fmt: skip
    """A scenario over the tiny city with the given projects and supplies."""
    pd.DataFrame(projects).to_csv(folder / "projects.csv", index=False)
    pd.DataFrame(supplies, columns=["resource", "year", "scope", "amount"]).to_csv(
        folder / "supplies.csv", index=False
    )
    doc: dict[str, Any] = {
        "name": "tiny_land",
        "as_of": AS_OF,
        "data": {
            "projects": "projects.csv", "supplies": "supplies.csv", "firms": "firms.csv",
            "parks": "city.gpkg#parks", "parcels": "city.gpkg#parcels",
            "districts": "city.gpkg#districts", "exclusions": ["city.gpkg#exclusions"],
        },
        "horizon": {"start": 2027, "end": 2029},
        "resources": RESOURCES,
        "objective": {"bonus_weights": {}},
        "solver": {"time_limit_s": 30, "gap_rel": 1e-9},
    }  # fmt: skip
    for key, value in changes.items():
        doc[key] = {**doc[key], **value} if isinstance(value, dict) and key in doc else value
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path
