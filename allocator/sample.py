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

from allocator.sample_land import (
    CRS,
    districts_layer,
    exclusion_layers,
    occupy,
    parcels_layer,
    parks_layer,
)
from allocator.writers.files import write_csv, write_gpkg
from models.scenario import DISTRICTS, EMERGING, TRADITIONAL, Scenario

SEED = 20261125
HORIZON = (2027, 2029)
DISTRICT_WEIGHT = dict(zip(DISTRICTS, (0.12, 0.12, 0.11, 0.10, 0.10, 0.27, 0.18), strict=True))
CENTRE = {  # approximate district centres, EPSG:4490 (lon, lat)
    "xuecheng": (117.26, 34.80),
    "shizhong": (117.56, 34.86),
    "yicheng": (117.59, 34.77),
    "taierzhuang": (117.73, 34.56),
    "shanting": (117.46, 35.10),
    "tengzhou": (117.16, 35.08),
    "hitech": (117.40, 34.83),
}
HEAVY = {"high_end_chemicals", "new_materials", "building_materials", "coal_power", "paper"}
COAL = {"high_end_chemicals", "building_materials", "coal_power"}
TWO_HIGH = {
    "building_materials": ["cement", "flat_glass", "lime", "building_ceramics"],
    "coal_power": ["coal_power"],
    "high_end_chemicals": ["methanol", "chlor_alkali", "nitrogen_fertiliser"],
}
SECTORS = EMERGING + TRADITIONAL
VA_RATE = {  # typical value-added rates by sector (*assumed*)
    "high_end_equipment": 0.26, "high_end_chemicals": 0.20, "new_materials": 0.22,
    "new_energy": 0.24, "new_medicine": 0.38, "new_it": 0.34, "coal_power": 0.30,
    "building_materials": 0.24, "textile": 0.18, "paper": 0.20, "food": 0.17,
    "agriculture_processing": 0.15,
}  # fmt: skip
SECTOR_WEIGHT = np.array([0.14, 0.09, 0.11, 0.11, 0.08, 0.07, 0.05, 0.08, 0.06, 0.05, 0.09, 0.07])


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
                    "name": f"{district} park {i}",
                    "district": district,
                    "zone_level": level,
                    "leading_sectors": ";".join(leading),
                    "chemical_park": park in chemical,
                }
            )
    return pd.DataFrame(rows)


def _projects(
    rng: np.random.Generator,
    n: int,
    parks: pd.DataFrame,
    firms: pd.DataFrame,
    parcels: pd.DataFrame,
    floors: dict[str, float],
    plot_floor: dict[str, float],
) -> pd.DataFrame:
    sc = Scenario()
    district = rng.choice(DISTRICTS, size=n, p=list(DISTRICT_WEIGHT.values()))
    sector = rng.choice(SECTORS, size=n, p=SECTOR_WEIGHT / SECTOR_WEIGHT.sum())
    kind = rng.choice(
        ["new", "expansion", "tech_upgrade", "infrastructure"], size=n, p=[0.45, 0.20, 0.30, 0.05]
    )
    investment = np.clip(rng.lognormal(np.log(30000), 1.1, n), 5000, 2_000_000).round(0)
    park = []
    table = list(
        parks[["park", "district", "leading_sectors", "chemical_park"]].itertuples(index=False)
    )
    chem_parks = [p for p in table if p.chemical_park]
    for i, (d, s) in enumerate(zip(district, sector, strict=True)):
        if s == "high_end_chemicals" and rng.random() < 0.9:
            pick = chem_parks[int(rng.integers(len(chem_parks)))]
            district[i] = pick.district
            park.append(pick.park)
            continue
        mine = [p for p in table if p.district == d]
        fits = [p for p in mine if s in p.leading_sectors.split(";")]
        pool = fits if fits and rng.random() < 0.75 else mine
        park.append(pool[int(rng.integers(len(pool)))].park if rng.random() < 0.9 else "")
    park_arr = np.array(park, dtype=object)
    existing = (kind == "tech_upgrade") | ((kind == "expansion") & (rng.random(n) < 0.3))
    # Upgrades and some expansions are on a parcel of an existing firm: its park and sector.
    owned = parcels[parcels["firm_id"].isin(firms["firm_id"])]
    firm_sector = firms.set_index("firm_id")["sector"]
    firm = np.full(n, "", dtype=object)
    parcel_id = np.full(n, "", dtype=object)
    owned_by = {
        d: g[["firm_id", "parcel_id", "park"]].to_numpy(dtype=object)
        for d, g in owned.groupby("district")
    }
    firms_by = {d: g.to_numpy(dtype=object) for d, g in firms.groupby("district")["firm_id"]}
    for j in np.flatnonzero(existing):
        mine = owned_by[district[j]]
        firm[j], parcel_id[j], park_arr[j] = mine[int(rng.integers(len(mine)))]
        sector[j] = firm_sector[firm[j]]
    for j in np.flatnonzero((kind == "expansion") & ~existing):
        mine = firms_by[district[j]]
        firm[j] = mine[int(rng.integers(len(mine)))]
    zone = pd.Series(park_arr).map(parks.set_index("park")["zone_level"]).fillna("other")
    floor = zone.map(floors).to_numpy()
    zero_land = ((kind == "tech_upgrade") & (rng.random(n) < 0.85)) | (kind == "infrastructure")
    zero_land |= (kind == "expansion") & existing & (rng.random(n) < 0.5)
    intensity = floor * rng.lognormal(np.log(1.65), 0.3, n)
    land = np.where(zero_land, 0.0, np.clip(investment / intensity, 5, 1500)).round(2)
    # Projects differ widely in output per mu (亩均产出 spans 10x and more among candidates)
    # and in value-added rate (by sector, and by firm within a sector).
    output_per_mu = 400 * rng.lognormal(np.log(2.0), 0.5, n)
    output = np.where(
        land > 0, land * output_per_mu, investment * rng.lognormal(np.log(0.8), 0.3, n)
    )
    va_rate = pd.Series(sector).map(VA_RATE).to_numpy() * rng.lognormal(0.0, 0.3, n)
    value_added = output * np.clip(va_rate, 0.08, 0.6)
    tax = output * rng.lognormal(np.log(0.06), 0.22, n)
    heavy = np.isin(sector, list(HEAVY))
    e_int = rng.lognormal(np.log(np.where(heavy, 0.45, 0.12)), 0.5)
    energy = np.clip(value_added * e_int, 0, 500_000)
    chem = sector == "high_end_chemicals"
    feedstock = np.where(chem & (rng.random(n) < 0.5), energy * rng.uniform(0.1, 0.4, n), np.nan)
    coal = np.where(np.isin(sector, list(COAL)), energy * rng.uniform(0.3, 0.8, n) / 0.7143, 0.0)
    two_high = [
        rng.choice(TWO_HIGH[s]) if s in TWO_HIGH and rng.random() < 0.4 else "" for s in sector
    ]
    infra = kind == "infrastructure"
    bond = np.where(infra, investment * rng.uniform(0.3, 0.6, n), 0.0).round(0)
    term = np.where(infra, rng.integers(10, 21, n), 0)
    rate = 0.03
    coverage = rng.lognormal(np.log(1.45), 0.2, n)
    revenue = np.where(infra, coverage * bond * (1 + rate * term) / np.maximum(term, 1), np.nan)
    value_added = np.where(infra, revenue * rng.uniform(1.2, 2.0, n), value_added)
    industry = pd.Series(sector).map({k: s.industry for k, s in sc.sectors.items()})
    pfloor = industry.map(plot_floor).fillna(plot_floor["other"]).to_numpy()
    plot_ratio = np.where(rng.random(n) < 0.1, np.nan, pfloor * rng.lognormal(np.log(1.6), 0.25, n))
    cover = np.where(
        rng.random(n) < 0.1, np.nan, np.clip(0.3 * rng.lognormal(np.log(1.6), 0.2, n), 0, 0.8)
    )
    office = np.where(rng.random(n) < 0.98, rng.uniform(0.02, 0.07, n), rng.uniform(0.071, 0.12, n))
    earliest = rng.choice([2027, 2028, 2029, 2030], size=n, p=[0.5, 0.3, 0.17, 0.03])
    latest = np.minimum(earliest + rng.choice([0, 1, 2], size=n, p=[0.3, 0.4, 0.3]), 2031)
    major = np.where(
        (investment >= 100_000) & (rng.random(n) < 0.35),
        "provincial",
        np.where(rng.random(n) < 0.2, "municipal", "none"),
    )
    lon, lat = _locations(rng, district, park_arr, parks)
    frame = pd.DataFrame(
        {
            "project_id": [f"P-{i + 1:04d}" for i in range(n)],
            "name": [f"{s.replace('_', ' ')} project {i + 1}" for i, s in enumerate(sector)],
            "firm_id": firm,
            "district": district,
            "park": park_arr,
            "sector": sector,
            "kind": kind,
            "major_level": major,
            "two_high_segment": two_high,
            "investment_wan_cny": investment,
            "land_mu": land,
            "existing_parcel_id": parcel_id,
            "plot_ratio": np.round(plot_ratio, 2),
            "building_coverage": np.round(cover, 3),
            "office_share": np.round(office, 3),
            "energy_tce_per_year": np.round(energy, 1),
            "feedstock_energy_tce_per_year": np.round(feedstock, 1),
            "coal_t_per_year": np.round(coal, 1),
            "bond_wan_cny": bond,
            "bond_term_years": np.where(infra, term, np.nan),
            "bond_rate": np.where(infra, rate, np.nan),
            "annual_net_revenue_wan_cny": np.round(revenue, 1),
            "annual_output_wan_cny": np.round(output, 1),
            "annual_value_added_wan_cny": np.round(value_added, 1),
            "annual_tax_wan_cny": np.round(tax, 1),
            "jobs": np.maximum(5, (output / rng.uniform(80, 250, n)).astype(int)),
            "tech_score": np.clip(rng.normal(60, 15, n), 0, 100).round(1),
            "chain_score": np.clip(rng.normal(55, 20, n), 0, 100).round(1),
            "environment_score": np.clip(rng.normal(70, 12, n), 0, 100).round(1),
            "readiness": rng.beta(2, 2, n).round(2),
            "build_years": rng.choice([1, 2, 3], size=n, p=[0.5, 0.35, 0.15]),
            "earliest_year": earliest,
            "latest_year": latest,
            "requires": "",
            "excludes": "",
            "lon": np.round(lon, 5),
            "lat": np.round(lat, 5),
        }
    )
    _links(rng, frame)
    return frame


def _locations(
    rng: np.random.Generator, district: np.ndarray, park: np.ndarray, parks: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (EPSG:4490): near the park's centre, or the district's."""
    to_lonlat = Transformer.from_crs(CRS, "EPSG:4490", always_xy=True)
    centre = parks.set_index("park").geometry.centroid
    lon, lat = np.zeros(len(park)), np.zeros(len(park))
    for i, (d, p) in enumerate(zip(district, park, strict=True)):
        if p:
            x, y = centre[p].x + rng.normal(0, 800), centre[p].y + rng.normal(0, 800)
            lon[i], lat[i] = to_lonlat.transform(x, y)
        else:
            lon[i], lat[i] = CENTRE[d][0] + rng.normal(0, 0.05), CENTRE[d][1] + rng.normal(0, 0.04)
    return np.round(lon, 5), np.round(lat, 5)


def _links(rng: np.random.Generator, frame: pd.DataFrame) -> None:
    """Projects in a park that needs new infrastructure require it; rival pairs exclude."""
    infra = frame[(frame["kind"] == "infrastructure") & (frame["park"] != "")]
    for _i, r in infra.iterrows():
        users = frame[
            (frame["park"] == r.park)
            & (frame["kind"] == "new")
            & (frame["earliest_year"] >= r.earliest_year)
        ].index
        for j in rng.choice(users, size=min(2, len(users)), replace=False) if len(users) else []:
            frame.at[j, "requires"] = r.project_id
            frame.at[j, "latest_year"] = max(frame.at[j, "latest_year"], r.latest_year)
    new = frame[(frame["kind"] == "new") & (frame["park"] != "") & (frame["requires"] == "")]
    pairs = new.groupby(["park", "sector"]).filter(lambda g: len(g) >= 2)
    for _, grp in list(pairs.groupby(["park", "sector"]))[:12]:
        a, b = grp.index[:2]
        frame.at[a, "excludes"] = frame.at[b, "project_id"]


def _supplies(sc_path: Path, districts: list[str]) -> pd.DataFrame:
    """Supplies as shares of the eligible demand (needs the written projects)."""
    from allocator.prepare import prepare
    from allocator.sources import read_inputs

    inputs = read_inputs(sc_path)
    prep = prepare(inputs)
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
    districts = districts_layer(CENTRE)
    parks = parks_layer(rng, _parks(rng), districts, area_m2=n_parcels * 10_000 / 0.88 / 30)
    parcels = parcels_layer(rng, parks, n_parcels)
    exclusions = exclusion_layers(rng, parks)
    parcels, firms = occupy(
        rng, parcels, parks, list(SECTORS), sc.eligibility.plot_ratio_floor, industry, sc.as_of
    )
    floors = sc.eligibility.intensity_floor_wan_cny_per_mu
    projects = _projects(
        rng, n_projects, parks, firms, parcels, floors, sc.eligibility.plot_ratio_floor
    )
    return {"districts": districts, "parks": parks, "parcels": parcels, **exclusions,
            "firms": firms, "projects": projects}  # fmt: skip


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
    # A bootstrap scenario (no policy rules) to measure the eligible demand.
    boot = out / ".bootstrap.yaml"
    empty = pd.DataFrame(
        [(r, HORIZON[0], "city" if r != "land_quota" else districts[0], 0.0, None, None)
         for r in ("energy", "coal", "bond", "land_quota")],
        columns=["resource", "year", "scope", "amount", "price_wan_cny_per_unit", "purchase_cap"],
    )  # fmt: skip
    write_csv(empty, out / "supplies.csv")
    boot.write_text(
        "name: bootstrap\ndata: {projects: projects.csv, firms: firms.csv, "
        "supplies: supplies.csv, parks: 'city.gpkg#parks'}\n"
        f"districts: [{', '.join(districts)}]\n",
        encoding="utf-8",
    )
    try:
        supplies = _supplies(boot, districts)
    finally:
        boot.unlink()
    write_csv(supplies, out / "supplies.csv")
    (out / "README.md").write_text(
        f"# Sample {'city' if cities == 1 else f'province ({cities} cities)'} (synthetic)\n\n"
        f"Generated by `allocator generate-sample` (seed {seed}). Every project, firm, parcel "
        "and figure here is synthetic; see allocator/sample.py and allocator/sample_land.py "
        "for the realism targets.\n",
        encoding="utf-8",
    )
    return out
