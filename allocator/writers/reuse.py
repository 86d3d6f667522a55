"""The reuse list for the land bureau: GeoPackage layers, CSV ledgers (台账), PostGIS.

``reuse_list.gpkg``: ``findings`` (one feature per finding: the parcel, the rule, the figure
with its unit and the requirement it breaks, the firm and the land user, the disposal),
``flagged_parcels`` (one feature per flagged parcel), ``sites`` (the reuse sites) and
``exclusions_applied`` (the parts of reusable parcels that an exclusion layer removed), all
in the scenario's projected CRS. CSV files are UTF-8 with BOM, their headers and labels in
``lang`` (``writers.files.write_table``). Every file carries the data vintage ``as_of``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from allocator.errors import InputError
from allocator.land.scan import LandScan
from allocator.sources.layers import database_engine, db_label
from allocator.words import rule_words
from allocator.writers.files import labelled, write_gpkg, write_table
from models.tables import Problem

REUSE_COLUMNS = ["parcel_id", "unit_id", "district", "park", "area_mu", "finding_codes",
                 "idle_days", "fee_wan_cny", "recoverable", "class", "disposal",
                 "source", "site_id", "as_of"]  # fmt: skip
OWNER_COLUMNS = ["firm_id", "land_user"]


def district_totals(result: LandScan, as_of: str) -> pd.DataFrame:
    p = result.parcels
    low = p["finding_codes"].str.contains("LOW_|CLASS_D", regex=True)
    frame = pd.DataFrame({
        "district": p["district"], "flagged": p["finding_codes"] != "",
        "idle_area_mu": p["area_mu"].where(p["idle"], 0.0),
        "low_efficiency_area_mu": p["area_mu"].where(low, 0.0),
        "unsupplied_area_mu": p["area_mu"].where(p["unsupplied"], 0.0),
        "fees_due_wan_cny": p["fee_wan_cny"],
    })  # fmt: skip
    totals = frame.groupby("district").agg(
        parcels_flagged=("flagged", "sum"), idle_area_mu=("idle_area_mu", "sum"),
        low_efficiency_area_mu=("low_efficiency_area_mu", "sum"),
        unsupplied_area_mu=("unsupplied_area_mu", "sum"), fees_due_wan_cny=("fees_due_wan_cny", "sum"),
    )  # fmt: skip
    sites = result.sites.groupby("district").agg(
        sites=("site_id", "size"), reusable_area_mu=("area_mu", "sum")
    )
    earned = result.earned_quota.groupby("district")["amount_mu"].sum().rename("quota_earned_mu")
    totals = totals.join(sites).join(earned).fillna(0.0).reset_index()
    totals[["parcels_flagged", "sites"]] = totals[["parcels_flagged", "sites"]].astype(int)
    totals = totals.round(4)
    total = totals.drop(columns="district").sum().round(4).to_frame().T.assign(district="total")
    out = pd.concat([totals, total[totals.columns]], ignore_index=True)
    out[["parcels_flagged", "sites"]] = out[["parcels_flagged", "sites"]].astype(int)
    out["as_of"] = as_of
    return out


def write_reuse_list(
    result: LandScan, folder: Path, as_of: str, lang: str
) -> dict[str, gpd.GeoDataFrame]:
    """Write the reuse list files into ``folder`` (which must exist); return the layers of
    its GeoPackage (``reuse_layers``)."""
    flagged = result.reuse_list.assign(as_of=as_of)
    table = pd.DataFrame(flagged[REUSE_COLUMNS]).round({"area_mu": 4, "fee_wan_cny": 4})
    write_table(table, folder / "reuse_list.csv", lang)
    write_table(finding_rows(result, as_of).drop(columns="geometry"), folder / "findings.csv", lang)
    write_table(district_totals(result, as_of), folder / "district_totals.csv", lang)
    if result.grades is not None:
        write_table(result.grades.round(6).reset_index(), folder / "firm_grades.csv", lang)
    if result.warnings:
        rows = [{"file": w.file, "row": w.row, "parcel_id": w.key, "field": w.field, "value": w.value,
                 "problem": rule_words(w, lang)} for w in result.warnings]  # fmt: skip
        write_table(pd.DataFrame(rows), folder / "land_warnings.csv", lang)
    layers = reuse_layers(result, as_of, lang)
    write_gpkg(layers, folder / "reuse_list.gpkg", as_of, lang)
    return layers


def finding_rows(result: LandScan, as_of: str) -> gpd.GeoDataFrame:
    """Every rule checked on a parcel that was checked, with the parcel's owner and land user
    and its geometry: what a bureau needs to act on a finding without joining tables."""
    parcels = result.parcels.set_index("parcel_id")
    of = parcels[[*OWNER_COLUMNS, "geometry"]].reindex(result.findings["parcel_id"])
    rows = pd.concat([result.findings.reset_index(drop=True),
                      pd.DataFrame(of[OWNER_COLUMNS]).reset_index(drop=True)], axis=1)  # fmt: skip
    return gpd.GeoDataFrame(
        rows.assign(as_of=as_of), geometry=of.geometry.to_numpy(), crs=parcels.crs
    )


def reuse_layers(result: LandScan, as_of: str, lang: str) -> dict[str, gpd.GeoDataFrame]:
    """The layers of the reuse list: findings, flagged parcels, reuse sites, what exclusions
    removed; field names are codes, each code field followed by its labels in ``lang``."""
    flagged = result.reuse_list.assign(as_of=as_of)
    per_parcel = flagged[[c for c in REUSE_COLUMNS if c != "as_of"]].set_index("parcel_id")
    found = finding_rows(result, as_of)
    found = (
        found[found["result"] == "finding"].drop(columns="result").join(per_parcel, on="parcel_id")
    )
    layers = {
        "findings": found.reset_index(drop=True),
        "flagged_parcels": gpd.GeoDataFrame(flagged[[*REUSE_COLUMNS, "geometry"]], crs=flagged.crs),
        "sites": result.sites.assign(as_of=as_of),
        "exclusions_applied": result.excluded.assign(as_of=as_of),
    }
    return {name: labelled(layer, lang) for name, layer in layers.items()}


def write_basemap(
    result: LandScan, parks: pd.DataFrame | None, folder: Path, as_of: str, lang: str
) -> None:
    """``basemap.gpkg``: the district and park polygons a map of the result is drawn on,
    labelled in ``lang``."""
    layers = {"districts": result.districts}
    if isinstance(parks, gpd.GeoDataFrame):
        layers["parks"] = parks[["park", "district", "zone_level", "geometry"]].reset_index(
            drop=True
        )
    found = {k: labelled(v, lang) for k, v in layers.items() if v is not None}
    write_gpkg(found, folder / "basemap.gpkg", as_of, lang)


def write_database(frame: gpd.GeoDataFrame, spec: str) -> None:
    """Write (replace) a table in PostGIS: ``postgresql://…#schema.table``."""
    url, _, what = spec.partition("#")
    schema, _, table = what.rpartition(".")
    if not table or what.startswith("query:"):
        raise InputError([Problem(db_label(spec), "name the table to write as `#table`")])
    try:
        frame.to_postgis(
            table, database_engine(url), schema=schema or None, if_exists="replace", index=False
        )
    except Exception as exc:  # the driver's own message says what is wrong
        raise InputError([Problem(db_label(spec), f"cannot write to the database: {exc}")]) from exc
