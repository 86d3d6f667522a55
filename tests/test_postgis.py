"""PostGIS as a source and a sink: the same scan from a table as from the file."""

from __future__ import annotations

import time

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from allocator.cli import app
from allocator.land.layers import read_database
from allocator.run import land_of
from tests.landkit import cell, land_scenario, parcel, write_city
from tests.pgserver import postgis
from tests.test_placement import IDLE, proj, supplies


@pytest.fixture(scope="module")
def database():
    with postgis() as url:
        yield url


def test_scan_from_postgis_equals_the_file_scan_and_the_reuse_list_round_trips(tmp_path, database):  # fmt: skip
    rows = [parcel(f"I{i}", cell(i), **IDLE) for i in range(3)]
    rows += [parcel("L0", cell(0, 1), floor_area_m2=100.0)]  # low plot ratio, not idle
    gpkg = write_city(tmp_path, rows)
    from_file = land_scenario(tmp_path, [proj("P-1", 15)], supplies(0))
    started = time.perf_counter()
    gpd.read_file(gpkg, layer="parcels").to_postgis("parcels", _engine(database), index=False)
    doc = yaml.safe_load(from_file.read_text(encoding="utf-8"))
    doc["data"]["parcels"] = f"{database}#parcels"
    from_db = tmp_path / "db.yaml"
    from_db.write_text(yaml.safe_dump(doc), encoding="utf-8")

    _, file_scan = land_of(from_file)
    _, db_scan = land_of(from_db)
    assert not db_scan.cached
    pd.testing.assert_frame_equal(db_scan.findings, file_scan.findings)
    assert list(db_scan.sites["parcel_ids"]) == list(file_scan.sites["parcel_ids"])
    assert list(file_scan.sites["parcel_ids"]) == ["I0;I1;I2", "L0"]
    assert db_scan.sites.geometry.geom_equals(file_scan.sites.geometry).all()

    out = tmp_path / "scan"
    result = CliRunner().invoke(app, ["land", "scan", str(from_db), "--out", str(out),
                                      "--to-db", f"{database}#public.reuse_list"])  # fmt: skip
    assert result.exit_code == 0, result.output
    back, _ = read_database(f"{database}#reuse_list")
    written = gpd.read_file(out / "reuse_list.gpkg", layer="findings")
    assert sorted(back["parcel_id"]) == sorted(written["parcel_id"]) == ["I0", "I1", "I2", "L0"]
    assert back.set_index("parcel_id")["finding_codes"].to_dict() == written.set_index("parcel_id")["finding_codes"].to_dict()  # fmt: skip
    sites, _ = read_database(f"{database}#reuse_list_sites")
    assert list(sites["site_id"]) == ["S-00001", "S-00002"]
    print(f"PostGIS round trip (write, scan, write back, read back): {time.perf_counter() - started:.2f} s")  # fmt: skip


def test_database_errors_name_the_source_without_its_password(tmp_path, database):
    bad = database.replace("postgres@", "postgres:secret@") + "#no_such_table"
    with pytest.raises(Exception) as info:
        read_database(bad)
    text = str(info.value)
    assert "secret" not in text and "***" in text and "no table" in text


def _engine(url: str):
    import sqlalchemy

    return sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
