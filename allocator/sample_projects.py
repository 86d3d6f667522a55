"""The sample city's candidate projects (SYNTHETIC, see ``allocator.sample``).

Each step draws from the one generator in a fixed order, so a seed gives the same projects
on every machine: where the projects go, which existing firms and parcels they use, their
economics, their buildings and timing, their locations, then the links between them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from allocator.sample_land import CRS
from allocator.words import label
from models.scenario import DISTRICTS, EMERGING, TRADITIONAL, Scenario

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
RATE = 0.03  # the bonds' interest rate


def _places(rng: np.random.Generator, n: int, parks: pd.DataFrame) -> dict[str, np.ndarray]:
    """District, sector, kind, investment and park of each project."""
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
    return {"district": district, "sector": sector, "kind": kind, "investment": investment,
            "park": np.array(park, dtype=object)}  # fmt: skip


def _owners(rng: np.random.Generator, p: dict[str, np.ndarray], firms: pd.DataFrame,
            parcels: pd.DataFrame) -> None:  # fmt: skip
    """Upgrades and some expansions are on a parcel of an existing firm: its park and
    sector (``existing``, ``firm``, ``parcel_id``; ``park`` and ``sector`` updated)."""
    n, kind, district = len(p["kind"]), p["kind"], p["district"]
    existing = (kind == "tech_upgrade") | ((kind == "expansion") & (rng.random(n) < 0.3))
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
        firm[j], parcel_id[j], p["park"][j] = mine[int(rng.integers(len(mine)))]
        p["sector"][j] = firm_sector[firm[j]]
    for j in np.flatnonzero((kind == "expansion") & ~existing):
        mine = firms_by[district[j]]
        firm[j] = mine[int(rng.integers(len(mine)))]
    p.update(existing=existing, firm=firm, parcel_id=parcel_id)


def _economics(rng: np.random.Generator, p: dict[str, np.ndarray], parks: pd.DataFrame,
               floors: dict[str, float]) -> None:  # fmt: skip
    """Land, output, value added, tax, energy, coal and bonds. Projects differ widely in
    output per mu (亩均产出 spans 10x and more among candidates) and in value-added rate
    (by sector, and by firm within a sector)."""
    n, kind, sector, investment = len(p["kind"]), p["kind"], p["sector"], p["investment"]
    zone = pd.Series(p["park"]).map(parks.set_index("park")["zone_level"]).fillna("other")
    floor = zone.map(floors).to_numpy()
    zero_land = ((kind == "tech_upgrade") & (rng.random(n) < 0.85)) | (kind == "infrastructure")
    zero_land |= (kind == "expansion") & p["existing"] & (rng.random(n) < 0.5)
    intensity = floor * rng.lognormal(np.log(1.65), 0.3, n)
    land = np.where(zero_land, 0.0, np.clip(investment / intensity, 5, 1500)).round(2)
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
    coverage = rng.lognormal(np.log(1.45), 0.2, n)
    revenue = np.where(infra, coverage * bond * (1 + RATE * term) / np.maximum(term, 1), np.nan)
    value_added = np.where(infra, revenue * rng.uniform(1.2, 2.0, n), value_added)
    p.update(land=land, output=output, value_added=value_added, tax=tax, energy=energy,
             feedstock=feedstock, coal=coal, two_high=np.array(two_high, dtype=object),
             infra=infra, bond=bond, term=term, revenue=revenue)  # fmt: skip


def _buildings_and_timing(rng: np.random.Generator, p: dict[str, np.ndarray],
                          plot_floor: dict[str, float]) -> None:  # fmt: skip
    """Plot ratio, coverage and office share; the window of years; the major level."""
    n, sector = len(p["kind"]), p["sector"]
    industry = pd.Series(sector).map({k: s.industry for k, s in Scenario().sectors.items()})
    pfloor = industry.map(plot_floor).fillna(plot_floor["other"]).to_numpy()
    plot_ratio = np.where(rng.random(n) < 0.1, np.nan, pfloor * rng.lognormal(np.log(1.6), 0.25, n))
    cover = np.where(
        rng.random(n) < 0.1, np.nan, np.clip(0.3 * rng.lognormal(np.log(1.6), 0.2, n), 0, 0.8)
    )
    office = np.where(rng.random(n) < 0.98, rng.uniform(0.02, 0.07, n), rng.uniform(0.071, 0.12, n))
    earliest = rng.choice([2027, 2028, 2029, 2030], size=n, p=[0.5, 0.3, 0.17, 0.03])
    latest = np.minimum(earliest + rng.choice([0, 1, 2], size=n, p=[0.3, 0.4, 0.3]), 2031)
    major = np.where(
        (p["investment"] >= 100_000) & (rng.random(n) < 0.35),
        "provincial",
        np.where(rng.random(n) < 0.2, "municipal", "none"),
    )
    p.update(plot_ratio=plot_ratio, cover=cover, office=office, earliest=earliest, latest=latest,
             major=major)  # fmt: skip


def _table(rng: np.random.Generator, p: dict[str, Any], lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:  # fmt: skip
    """The projects table (the scores and build years drawn here, column by column)."""
    n, infra = len(p["kind"]), p["infra"]
    return pd.DataFrame({
        "project_id": [f"P-{i + 1:04d}" for i in range(n)],
        "name": [f"{label('district', d, 'zh')}{label('sector', s, 'zh')}{label('kind', k, 'zh')}项目{i + 1:04d}"
                 for i, (d, s, k) in enumerate(zip(p["district"], p["sector"], p["kind"], strict=True))],
        "firm_id": p["firm"], "district": p["district"], "park": p["park"], "sector": p["sector"],
        "kind": p["kind"], "major_level": p["major"], "two_high_segment": list(p["two_high"]),
        "investment_wan_cny": p["investment"], "land_mu": p["land"],
        "existing_parcel_id": p["parcel_id"], "plot_ratio": np.round(p["plot_ratio"], 2),
        "building_coverage": np.round(p["cover"], 3), "office_share": np.round(p["office"], 3),
        "energy_tce_per_year": np.round(p["energy"], 1),
        "feedstock_energy_tce_per_year": np.round(p["feedstock"], 1),
        "coal_t_per_year": np.round(p["coal"], 1), "bond_wan_cny": p["bond"],
        "bond_term_years": np.where(infra, p["term"], np.nan),
        "bond_rate": np.where(infra, RATE, np.nan),
        "annual_net_revenue_wan_cny": np.round(p["revenue"], 1),
        "annual_output_wan_cny": np.round(p["output"], 1),
        "annual_value_added_wan_cny": np.round(p["value_added"], 1),
        "annual_tax_wan_cny": np.round(p["tax"], 1),
        "jobs": np.maximum(5, (p["output"] / rng.uniform(80, 250, n)).astype(int)),
        "tech_score": np.clip(rng.normal(60, 15, n), 0, 100).round(1),
        "chain_score": np.clip(rng.normal(55, 20, n), 0, 100).round(1),
        "environment_score": np.clip(rng.normal(70, 12, n), 0, 100).round(1),
        "readiness": rng.beta(2, 2, n).round(2),
        "build_years": rng.choice([1, 2, 3], size=n, p=[0.5, 0.35, 0.15]),
        "earliest_year": p["earliest"], "latest_year": p["latest"],
        "requires": "", "excludes": "", "lon": np.round(lon, 5), "lat": np.round(lat, 5),
    })  # fmt: skip


def projects(rng: np.random.Generator, n: int, parks: pd.DataFrame, firms: pd.DataFrame,
             parcels: pd.DataFrame, floors: dict[str, float],
             plot_floor: dict[str, float]) -> pd.DataFrame:  # fmt: skip
    """``n`` candidate projects in the city's parks and on its firms' parcels."""
    p = _places(rng, n, parks)
    _owners(rng, p, firms, parcels)
    _economics(rng, p, parks, floors)
    _buildings_and_timing(rng, p, plot_floor)
    lon, lat = _locations(rng, p["district"], p["park"], parks)
    frame = _table(rng, p, lon, lat)
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
