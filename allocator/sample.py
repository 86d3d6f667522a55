"""The sample city: a synthetic, Zaozhuang-like city generated from a seed.

Everything here is SYNTHETIC. The districts are Zaozhuang's, the policy numbers are those
of RULES.md, and the magnitudes aim at what a prefecture-level industrial city plans in
three years, but no project, firm or figure is real.

Realism targets (checked by ``tests/test_sample.py``):
- 7 districts, ~30 parks with leading sectors, three of them chemical parks;
- ~1,000 candidate projects across the six emerging and six traditional sectors;
- investment log-normal, median about 30,000 万元, within 5,000–2,000,000;
- land 0–1,500 mu, with about 30% zero-land upgrades;
- energy 0–500,000 tce a year; coal only for chemicals, building materials and power;
- bonds only for the ~5% infrastructure projects;
- 10–20% of candidates ineligible under RULES.md;
- each resource's supply 40–70% of the eligible demand (one-off: over the horizon;
  recurring: in the last year).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from allocator.inputs import Tables, check_inputs
from allocator.prepare import prepare
from allocator.sample_land import (
    CRS,
    districts_layer,
    exclusion_layers,
    occupy,
    parcels_layer,
    parks_layer,
)
from allocator.sample_projects import SECTOR_WEIGHT, SECTORS, projects
from allocator.words import label
from allocator.writers.files import write_csv, write_gpkg
from models.scenario import Scenario

SEED = 20261125
HORIZON = (2027, 2029)

# A valid, eligible new project without a park, every column given (tests, benchmarks): intensity 600 ≥ 220, tax 30/mu ≥ 20,
# output 600/mu ≥ 400, plot ratio 1.2 ≥ 0.8, coverage 0.5 ≥ 0.3, office 0.05 ≤ 0.07,
# energy 1,000 / 8,000 = 0.125 tce per 万元 ≤ 0.6.
PROJECT_TEMPLATE: dict[str, object] = {
    "project_id": "P-1",
    "name": "p",
    "firm_id": "",
    "district": "xuecheng",
    "park": "",
    "sector": "high_end_equipment",
    "kind": "new",
    "major_level": "none",
    "two_high_segment": "",
    "cluster": "",
    "investment_wan_cny": 30000,
    "land_mu": 50,
    "existing_parcel_id": "",
    "plot_ratio": 1.2,
    "building_coverage": 0.5,
    "office_share": 0.05,
    "energy_tce_per_year": 1000,
    "feedstock_energy_tce_per_year": "",
    "coal_t_per_year": 0,
    "bond_wan_cny": 0,
    "bond_term_years": "",
    "bond_rate": "",
    "annual_net_revenue_wan_cny": "",
    "annual_output_wan_cny": 30000,
    "annual_value_added_wan_cny": 8000,
    "annual_tax_wan_cny": 1500,
    "jobs": 100,
    "tech_score": 60,
    "chain_score": 50,
    "environment_score": 70,
    "readiness": 0.5,
    "build_years": 1,
    "earliest_year": 2027,
    "latest_year": 2029,
    "requires": "",
    "excludes": "",
    "lon": 117.3,
    "lat": 34.8,
}


def _parks(rng: np.random.Generator) -> pd.DataFrame:
    counts = {
        "xuecheng": 4,
        "shizhong": 4,
        "yicheng": 4,
        "taierzhuang": 4,
        "shanting": 3,
        "tengzhou": 7,
        "hitech": 4,
    }
    national = {"PK-HT-01", "PK-TZ-01"}
    chemical = {"PK-TZ-02", "PK-YC-02", "PK-XC-02"}
    rows = []
    for district, n in counts.items():
        code = {
            "xuecheng": "XC",
            "shizhong": "SZ",
            "yicheng": "YC",
            "taierzhuang": "TEZ",
            "shanting": "ST",
            "tengzhou": "TZ",
            "hitech": "HT",
        }[district]
        for i in range(1, n + 1):
            park = f"PK-{code}-{i:02d}"
            level = "national" if park in national else ("provincial" if i <= 2 else "other")
            if park in chemical:
                leading = ["high_end_chemicals", "new_materials"]
            else:
                k = int(rng.integers(2, 4))
                leading = list(rng.choice(SECTORS, size=k, replace=False, p=SECTOR_WEIGHT))
                leading = [s for s in leading if s != "high_end_chemicals"] or [
                    "high_end_equipment"
                ]
            rows.append(
                {
                    "park": park,
                    "name": f"{label('district', district, 'zh')}{i}号{'化工园区' if park in chemical else '产业园'}",
                    "district": district,
                    "zone_level": level,
                    "leading_sectors": ";".join(leading),
                    "chemical_park": park in chemical,
                }
            )
    return pd.DataFrame(rows)


def _supplies(parts: dict[str, pd.DataFrame], districts: list[str]) -> pd.DataFrame:
    """Supplies as shares of the eligible demand (a scenario without policy rules, in
    memory)."""
    empty = pd.DataFrame(
        [(r, HORIZON[0], "city" if r != "land_quota" else districts[0], 0.0, None, None)
         for r in ("energy", "coal", "bond", "land_quota")],
        columns=["resource", "year", "scope", "amount", "price_wan_cny_per_unit", "purchase_cap"],
    )  # fmt: skip
    tables = Tables(projects=parts["projects"], firms=parts["firms"], supplies=empty,
                    parks=parts["parks"])  # fmt: skip
    prep = prepare(check_inputs(Scenario(districts=districts), tables))
    pr = prep.projects
    d = prep.demand
    years = list(range(HORIZON[0], HORIZON[1] + 1))
    rows = []
    provincial = pr["major_level"] == "provincial"
    for t_i, t in enumerate(years):
        share = (0.3, 0.42, 0.55)[t_i]
        for name in ("energy", "coal"):
            rows.append((name, t, "city", round(share * d[name].sum(), -2), None, None))
        rows.append(("bond", t, "city", round(0.5 * d["bond"].sum() / 3, -2), None, None))
        land = d["land_quota"][~provincial].groupby(pr["district"][~provincial]).sum()
        for district in districts:
            rows.append(
                ("land_quota", t, district, round(0.5 * land.get(district, 0) / 3, 0), None, None)
            )
        rows.append(
            (
                "land_quota",
                t,
                "province_reserve",
                round(0.6 * d["land_quota"][provincial].sum() / 3, 0),
                None,
                None,
            )
        )
    return pd.DataFrame(
        rows,
        columns=["resource", "year", "scope", "amount", "price_wan_cny_per_unit", "purchase_cap"],
    )


def _city(rng: np.random.Generator, n_projects: int, n_parcels: int) -> dict[str, pd.DataFrame]:
    """One city's layers (districts, parks, parcels, exclusions) and tables (firms,
    projects)."""
    sc = Scenario()
    industry = {k: s.industry for k, s in sc.sectors.items()}
    districts = districts_layer()
    parks = parks_layer(rng, _parks(rng), districts, area_m2=n_parcels * 10_000 / 0.88 / 30)
    parcels = parcels_layer(rng, parks, n_parcels)
    exclusions = exclusion_layers(rng, parks)
    parcels, firms = occupy(
        rng, parcels, parks, list(SECTORS), sc.eligibility.plot_ratio_floor, industry, sc.as_of
    )
    floors = sc.eligibility.intensity_floor_wan_cny_per_mu
    found = projects(
        rng, n_projects, parks, firms, parcels, floors, sc.eligibility.plot_ratio_floor
    )
    return {"districts": districts, "parks": parks, "parcels": parcels, **exclusions,
            "firms": firms, "projects": found}  # fmt: skip


def _moved(city: dict[str, pd.DataFrame], c: int, dx: float, dy: float) -> dict[str, pd.DataFrame]:
    """City number c of a province: ids and districts prefixed, shifted by (dx, dy) metres."""
    tag = f"c{c:02d}"

    def pre(values: pd.Series) -> pd.Series:
        return values.where(values.isna() | (values == ""), tag + "-" + values.astype(str))

    out = {}
    for name, frame in city.items():
        frame = frame.copy()
        for col in ("district", "park", "parcel_id", "firm_id", "project_id", "existing_parcel_id"):
            if col in frame.columns:
                frame[col] = pre(frame[col]) if col != "district" else tag + "_" + frame[col]
        for col in ("requires", "excludes"):
            if col in frame.columns:
                frame[col] = frame[col].map(
                    lambda v: ";".join(f"{tag}-{q}" for q in v.split(";") if q)
                )
        if "geometry" in frame.columns:
            frame = frame.set_geometry(frame.geometry.translate(dx, dy))
        if "lon" in frame.columns:
            to_xy = Transformer.from_crs("EPSG:4490", CRS, always_xy=True)
            back = Transformer.from_crs(CRS, "EPSG:4490", always_xy=True)
            x, y = to_xy.transform(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float))
            lon, lat = back.transform(np.asarray(x) + dx, np.asarray(y) + dy)
            frame["lon"], frame["lat"] = np.round(lon, 5), np.round(lat, 5)
        out[name] = frame
    return out


def generate(
    out: Path, seed: int = SEED, n_projects: int = 1000, n_parcels: int = 20_000, cities: int = 1
) -> Path:
    """Write the sample's tables and layers to ``out``; return the folder.

    ``cities`` > 1 gives a synthetic province: that many cities on a grid, ids and district
    names prefixed ``cNN``, the projects and parcels shared out among them; energy, coal
    and bonds are one province-wide pool, so that the cities compete for them."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if cities == 1:
        parts = _city(rng, n_projects, n_parcels)
    else:
        side = int(np.ceil(np.sqrt(cities)))
        moved = []
        for c in range(cities):
            dx, dy = (c % side - (side - 1) / 2) * 130_000, (c // side - (side - 1) / 2) * 110_000
            city = _city(rng, n_projects // cities, n_parcels // cities)
            moved.append(_moved(city, c + 1, dx, dy))
        parts = {k: pd.concat([m[k] for m in moved], ignore_index=True) for k in moved[0]}
        for k, frame in parts.items():
            if "geometry" in frame.columns:
                parts[k] = gpd.GeoDataFrame(frame, geometry="geometry", crs=CRS)
    gpkg = out / "city.gpkg"
    gpkg.unlink(missing_ok=True)
    names = ("districts", "parks", "parcels", "ecological_red_line", "basic_farmland")
    write_gpkg({name: parts[name] for name in names}, gpkg, Scenario().as_of.isoformat())
    write_csv(parts["firms"], out / "firms.csv")
    write_csv(parts["projects"], out / "projects.csv")
    districts = list(parts["districts"]["district"])
    supplies = _supplies(parts, districts)
    write_csv(supplies, out / "supplies.csv")
    (out / "README.md").write_text(
        f"# Sample {'city' if cities == 1 else f'province ({cities} cities)'} (synthetic)\n\n"
        f"Generated by `allocator generate-sample` (seed {seed}). Every project, firm, parcel "
        "and figure here is synthetic; see allocator/sample.py and allocator/sample_land.py "
        "for the realism targets.\n",
        encoding="utf-8",
    )
    return out
