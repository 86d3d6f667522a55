"""The partitioned land scan (dask-geopandas) gives exactly the single-machine scan."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from allocator.land.partition import spatial_partitions
from allocator.land.scan import scan
from allocator.sources import read_inputs
from tests.conftest import project
from tests.landkit import X0, Y0, H, W, cell, land_scenario, parcel, write_city

pytestmark = pytest.mark.slow

IDLE = {"status": "not_started", "transfer_date": "2020-01-01", "agreed_start_date": "2022-01-01",
        "developed_area_share": 0.0}  # fmt: skip
SUPPLY = [("land_quota", 2027, "xuecheng", 0), ("energy", 2027, "city", 1e6)]


def test_four_partitions_give_the_single_scan_with_a_site_across_them(tmp_path):
    rows = [parcel(f"I{i}", cell(i), **IDLE) for i in range(8)]  # touching, in a row
    rows += [parcel(f"J{i}", cell(2 * i, 3), **IDLE) for i in range(6)]  # apart: six sites
    rows += [parcel("DUP", cell(0, 3), **IDLE)]  # same geometry as J0
    rows += [parcel("BAD", shapely.Polygon([(X0, Y0 + 9 * H), (X0 + W, Y0 + 10 * H),
                                            (X0 + W, Y0 + 9 * H), (X0, Y0 + 10 * H)]))]  # fmt: skip
    rows += [parcel("OUT", shapely.box(X0, Y0 + 30_000, X0 + W, Y0 + 30_000 + H))]  # no district
    strip = shapely.box(X0 + 6.5 * W, Y0 - H, X0 + 7.5 * W, Y0 + 2 * H)  # cuts I6 and I7
    write_city(tmp_path, rows, exclusions=[strip])
    path = land_scenario(tmp_path, [project()], SUPPLY, land={"on_invalid": "skip"})
    inputs = read_inputs(path)
    sc = inputs.scenario
    one = scan(sc, inputs.given, inputs.firms, inputs.parks)
    sc4 = sc.model_copy(update={"land": sc.land.model_copy(update={"partitions": 4})})
    four = scan(sc4, inputs.given, inputs.firms, inputs.parks)

    pd.testing.assert_frame_equal(four.findings, one.findings)
    for a, b in ((four.parcels, one.parcels), (four.sites, one.sites), (four.excluded, one.excluded)):  # fmt: skip
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
    assert four.warnings == one.warnings
    assert {w.key for w in one.warnings} >= {"DUP", "BAD", "OUT"}
    # the row of eight is one site, and its parcels lie in more than one partition
    reusable = one.parcels[one.parcels["site_id"] != ""].reset_index(drop=True)
    parts = spatial_partitions(reusable, 4)
    assert len(parts) == 4
    part_of = {reusable.at[int(i), "parcel_id"]: k for k, pos in enumerate(parts) for i in pos}
    row = one.sites[one.sites["parcel_ids"].str.startswith("I0;")].iloc[0]
    assert row["parcel_ids"] == "I0;I1;I2;I3;I4;I5;I6"  # the strip parts I7 from I6
    assert len({part_of[p] for p in row["parcel_ids"].split(";")}) > 1
    assert len(one.sites) == 1 + 1 + 6  # I0–I6, I7's half, J0..J5 (DUP skipped: J0's twin)


def test_the_sample_city_scans_the_same_in_four_partitions(sample_scenario, tmp_path):
    from typer.testing import CliRunner

    from allocator.cli import app

    path = sample_scenario(tmp_path)
    outs = []
    for parts in ("0", "4"):
        out = tmp_path / f"scan-{parts}"
        env = {"ALLOCATOR_CACHE": str(tmp_path / f"cache-{parts}")}
        result = CliRunner().invoke(app, ["land", "scan", str(path), "--out", str(out),
                                          "--partitions", parts], env=env)  # fmt: skip
        assert result.exit_code == 0, result.output
        outs.append(out)
    for name in ("reuse_list.csv", "findings.csv", "district_totals.csv", "land_warnings.csv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    sites = [gpd.read_file(o / "reuse_list.gpkg", layer="sites") for o in outs]
    assert len(sites[0]) > 1000
    pd.testing.assert_frame_equal(pd.DataFrame(sites[0]), pd.DataFrame(sites[1]))
