"""The land scan: parcel layer → findings → per-mu evaluation → reuse sites.

``scan_land`` checks and projects the layers (as given, in memory), grades the firms, finds
idle and low-efficiency parcels, builds the reuse sites and the new land quota their
disposal earns. Results are cached in a folder the caller names, by the hash of everything
they depend on, so repeated solves of scenarios that share the land data do not scan
again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pickle
import tempfile
import time
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.inputs import Tables, content_sha256
from allocator.land import findings as fnd
from allocator.land import partition as part
from allocator.land.evaluation import grade
from allocator.land.geometry import area_mu, geometry_problems, to_projected
from allocator.land.sites import build_sites, clip
from models.scenario import Scenario
from models.tables import PARCELS, Problem, parse_table

VERSION = version("allocator")  # a new version scans again (read once, at import)
FORMAT = 3  # raise when what a scan returns changes within a version (3: notes as codes)


@dataclass
class LandScan:
    parcels: gpd.GeoDataFrame  # every valid parcel, with its findings summary and site
    findings: pd.DataFrame  # long: parcel_id, rule, figure, unit, comparator, threshold, ...
    sites: gpd.GeoDataFrame
    excluded: gpd.GeoDataFrame  # the parts of reusable parcels that exclusions removed
    grades: pd.DataFrame | None  # per firm: indicators, score, class
    earned_quota: pd.DataFrame  # district, year, amount_mu (增存挂钩)
    districts: gpd.GeoDataFrame | None = None
    warnings: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False

    @property
    def reuse_list(self) -> gpd.GeoDataFrame:
        return self.parcels[self.parcels["finding_codes"] != ""]


def cache_key(
    sc: Scenario, given: Tables, firms: pd.DataFrame | None, parks: pd.DataFrame | None
) -> str:
    """The hash of everything a scan depends on: the version, the scenario's land, rule and
    sector settings, and the content of the layers, firms and parks."""
    parts = [
        VERSION,
        str(FORMAT),
        sc.as_of.isoformat(),
        sc.land.model_dump_json(),
        sc.eligibility.model_dump_json(),
        repr(sorted((k, v.industry) for k, v in sc.sectors.items())),
    ]
    for frame in [firms, parks, given.parcels, given.districts, *given.exclusions]:
        parts.append("" if frame is None else content_sha256(frame))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _load_parcels(
    sc: Scenario,
    raw: gpd.GeoDataFrame,
    label: str,
    districts: gpd.GeoDataFrame | None,
    parks: pd.DataFrame | None,
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """The parcel layer, typed and projected, and every problem of its features (districts
    from the scenario, parks from the parks table)."""
    raw = to_projected(raw, label, sc.land.crs, sc.land.assume_crs).reset_index(drop=True)
    choices = {"district": sc.districts}
    if parks is not None:
        choices["park"] = sorted(parks["park"])
    table, problems = parse_table(
        pd.DataFrame(raw.drop(columns=raw.geometry.name)), PARCELS, label, choices=choices
    )
    if any(p.row is None for p in problems):  # a column problem: nothing else can be checked
        raise InputError(problems)
    n = part.partitions_for(sc.land.partitions, len(raw))
    parts = part.spatial_partitions(raw, n) if n else None
    if parts is not None:
        geo_bad, geo_problems = part.geometry_problems_by_part(
            lambda f: geometry_problems(f, label, "parcel_id"), raw, parts
        )
    else:
        geo_bad, geo_problems = geometry_problems(raw, label, "parcel_id")
    problems += [replace(p, row=(p.row or 0) + 1) for p in geo_problems]
    bad = geo_bad.copy()
    bad[[(p.row or 2) - 2 for p in problems]] = True
    parcels = gpd.GeoDataFrame(table, geometry=raw.geometry.to_numpy(), crs=raw.crs)
    problems += _date_problems(parcels, label, sc.as_of, bad)
    if districts is not None and parts is not None:
        found = part.run(
            lambda pos: _district_problems(parcels.iloc[pos], districts, label, bad[pos]), parts
        )
        problems += sorted((p for f in found for p in f), key=lambda p: p.row or 0)
    elif districts is not None:
        problems += _district_problems(parcels, districts, label, bad)
    return parcels, problems


def _date_problems(
    parcels: gpd.GeoDataFrame, label: str, as_of: dt.date, bad: np.ndarray
) -> list[Problem]:
    """Dates after ``as_of`` (a transfer, a halt), or before the transfer."""
    now = pd.Timestamp(as_of)
    checks = [
        (col, parcels[col] > now, "is after as_of {as_of}")
        for col in ("approved_date", "transfer_date", "halted_since")
    ]
    checks.append(
        (
            "transfer_date",
            parcels["transfer_date"] < parcels["approved_date"],
            "is before the approved date",
        )
    )
    checks += [
        (col, parcels[col] < parcels["transfer_date"], "is before the transfer date")
        for col in ("agreed_start_date", "extended_start_date", "halted_since")
    ]
    checks.append(
        (
            "agreed_start_date",
            parcels["transfer_date"].notna() & parcels["agreed_start_date"].isna(),
            "must not be empty where transfer_date is given",
        )
    )
    out = []
    for col, mask, why in checks:
        for i in parcels.index[mask.to_numpy() & ~bad]:
            value = parcels.at[i, col]
            shown = "" if pd.isna(value) else str(value.date())
            out.append(Problem.of(label, why, int(i) + 2, col, shown, parcels.at[i, "parcel_id"],
                                  as_of=as_of))  # fmt: skip
    return out


def _district_problems(
    parcels: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, label: str, bad: np.ndarray
) -> list[Problem]:
    points = gpd.GeoDataFrame(geometry=parcels.geometry.representative_point(), crs=parcels.crs)
    hit = gpd.sjoin(points, districts[["district", "geometry"]], predicate="within", how="left")
    hit = hit[~hit.index.duplicated()]
    found = hit["district"].reindex(parcels.index)
    stated = parcels["district"]
    check = pd.Series(~bad, index=parcels.index)
    outside = check & found.isna()
    elsewhere = check & found.notna() & (found != stated)
    out = []
    for i in parcels.index[(outside | elsewhere).to_numpy()]:
        pid = parcels.at[i, "parcel_id"]
        if outside[i]:
            out.append(Problem(label, "lies outside every district polygon", int(i) + 2,
                               "geometry", None, pid))  # fmt: skip
        else:
            out.append(Problem.of(label, "the parcel lies in district {district}", int(i) + 2,
                                  "district", stated[i], pid, district=found[i]))  # fmt: skip
    return out


def scan(
    sc: Scenario, given: Tables, firms: pd.DataFrame | None, parks: pd.DataFrame | None
) -> LandScan:
    """Scan without the cache (see ``scan_land``)."""
    if given.parcels is None:
        raise InputError([Problem(given.label("scenario"), "the scenario names no parcel layer",
                                  field="data.parcels")])  # fmt: skip
    districts = None
    if given.districts is not None:
        districts = to_projected(given.districts, given.label("districts"), sc.land.crs,
                                 sc.land.assume_crs)  # fmt: skip
    label = given.label("parcels")
    parcels, errors = _load_parcels(sc, given.parcels, label, districts, parks)
    if errors and sc.land.on_invalid == "stop":
        raise InputError(errors)
    keep = np.ones(len(parcels), dtype=bool)
    keep[[(p.row or 2) - 2 for p in errors]] = False
    parcels = parcels[keep].reset_index(drop=True)
    parcels["area_mu"] = np.round(area_mu(parcels), 4)
    stated = parcels["stated_area_mu"]
    off = (stated - parcels["area_mu"]).abs() > sc.land.stated_area_tolerance * parcels["area_mu"]
    warnings = list(errors) + [
        Problem.of(
            label.partition("#")[0],  # the file, as land_warnings.csv has always named it
            "geometry gives {area} mu, differs by more than {tolerance}",
            None,
            "stated_area_mu",
            f"{stated[i]:g}",
            parcels.at[i, "parcel_id"],
            area=f"{parcels.at[i, 'area_mu']:.2f}",
            tolerance=f"{sc.land.stated_area_tolerance:.0%}",
        )
        for i in parcels.index[off.to_numpy()]
    ]
    building = set(parcels.loc[parcels["status"] == "under_construction", "firm_id"].dropna())
    grades = grade(firms, sc.land.evaluation, building) if firms is not None else None
    industry = (
        parcels["firm_id"].map(firms["sector"])
        if firms is not None
        else pd.Series(np.nan, index=parcels.index)
    )
    industry = industry.map({k: s.industry for k, s in sc.sectors.items()})
    floors = sc.eligibility.plot_ratio_floor
    plot_floor = industry.map(floors).fillna(floors.get("other", 0.0)).astype(float)
    idle_found, idle = fnd.idle_findings(parcels, sc.land, sc.as_of)
    low_found = fnd.efficiency_findings(parcels, firms, grades, sc.land, plot_floor, sc.as_of)
    findings = pd.concat([idle_found, low_found], ignore_index=True)
    order = {pid: i for i, pid in enumerate(parcels["parcel_id"])}
    findings = findings.sort_values(
        "parcel_id", key=lambda s: s.map(order), kind="stable"
    ).reset_index(drop=True)
    verdict = fnd.disposal(idle, findings, parcels.index, parcels["parcel_id"])
    parcels = pd.concat([parcels, idle, verdict], axis=1)
    parcels["class"] = (
        parcels["firm_id"].map(grades["class"]).fillna("") if grades is not None else ""
    )
    parcels["land_user"] = parcels["firm_id"].map(firms["name"]) if firms is not None else None
    reusable = parcels[parcels["source"].isin(sc.land.sites.sources)]
    reusable = reusable.assign(parcel_area_mu=reusable["area_mu"])
    exclusions = [to_projected(frame, given.label(f"exclusions.{i}"), sc.land.crs, sc.land.assume_crs)
                  for i, frame in enumerate(given.exclusions)]  # fmt: skip
    blocked = pd.concat(exclusions, ignore_index=True) if exclusions else None
    columns = ["parcel_id", "park", "district", "source", "land_price_wan_cny", "parcel_area_mu",
               "geometry"]  # fmt: skip
    n = part.partitions_for(sc.land.partitions, len(parcels))
    if n and len(reusable):
        pieces, removed = _clip_by_part(reusable[columns], blocked, sc, n)
    else:
        pieces, removed = clip(reusable[columns], blocked, sc.land.sites)
    sites, site_of_piece = build_sites(pieces, parks, sc.land.sites, sc.as_of)
    sites_of: dict[str, set[str]] = {}
    for pid, site in zip(pieces["parcel_id"], site_of_piece, strict=True):
        sites_of.setdefault(pid, set()).add(site)
    site_ids = [";".join(sorted(sites_of.get(pid, ()))) for pid in parcels["parcel_id"]]
    parcels["site_id"] = pd.Series(site_ids, index=parcels.index, dtype="str")
    earned = _earned_quota(parcels, sc)
    return LandScan(parcels, findings, sites, removed, grades, earned, districts, warnings)


def _clip_by_part(
    reusable: gpd.GeoDataFrame, blocked: gpd.GeoDataFrame | None, sc: Scenario, n: int
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """``clip`` on spatial partitions, the pieces and removed parts in the single order."""
    order = dict(zip(reusable["parcel_id"], range(len(reusable)), strict=True))

    def one(pos: np.ndarray) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        kept, cut = clip(reusable.iloc[pos].assign(_order=pos), blocked, sc.land.sites)
        return kept, cut.assign(_order=cut["parcel_id"].map(order))

    done = part.run(one, part.spatial_partitions(reusable, n))
    pieces = part.concat_in_order([d[0] for d in done])
    removed = part.concat_in_order([d[1] for d in done])
    return (gpd.GeoDataFrame(pieces, geometry="geometry", crs=reusable.crs),
            gpd.GeoDataFrame(removed, geometry="geometry", crs=reusable.crs))  # fmt: skip


def _earned_quota(parcels: pd.DataFrame, sc: Scenario) -> pd.DataFrame:
    """New land quota earned by disposing of idle and unsupplied land (增存挂钩)."""
    settings = sc.land.sites
    disposed = parcels[
        parcels["source"].isin(["idle_recoverable", "idle_negotiated", "unsupplied"])
    ]
    year = sc.as_of.year + disposed["source"].map(settings.disposal_years).astype(int)
    frame = pd.DataFrame(
        {
            "district": disposed["district"],
            "year": year,
            "amount_mu": settings.linkage_ratio * disposed["area_mu"],
        }
    )
    return frame.groupby(["district", "year"], as_index=False)["amount_mu"].sum().round(4)


def scan_land(
    sc: Scenario,
    given: Tables,
    firms: pd.DataFrame | None,
    parks: pd.DataFrame | None,
    cache: Path | None = None,
) -> LandScan:
    """The land scan, from the ``cache`` folder when the same inputs were scanned before
    (no cache: always scanned)."""
    started = time.perf_counter()
    path = None if cache is None else cache / f"land-{cache_key(sc, given, firms, parks)}.pkl"
    if path is not None and path.exists():
        with path.open("rb") as handle:
            result: LandScan = pickle.load(handle)
        result.cached = True
        return result
    result = scan(sc, given, firms, parks)
    result.seconds = time.perf_counter() - started
    if path is None:
        return result
    path.parent.mkdir(parents=True, exist_ok=True)
    handle_fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", dir=path.parent)  # one per writer
    with os.fdopen(handle_fd, "wb") as handle:
        pickle.dump(result, handle)
    Path(tmp).replace(path)  # two processes scanning the same inputs: the last one wins whole
    return result
