"""PostGIS as a source and a sink: the same scan from a table as from the file."""

from __future__ import annotations

import time

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from allocator.cli import app
from allocator.engine import Options, land_scan
from allocator.sources import read_inputs
from allocator.sources.layers import read_database
from tests.conftest import scanned
from tests.landkit import cell, land_scenario, parcel, write_city
from tests.pgserver import postgis
from tests.test_placement import IDLE, proj, supplies

pytestmark = pytest.mark.database


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

    _, file_scan = scanned(from_file)
    db_scan = land_scan(read_inputs(from_db), Options(cache=None))  # read and scanned here
    assert not db_scan.cached
    assert scanned(from_db)[1].cached  # the same content: the file scan's cache serves it
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
    assert sorted(set(back["parcel_id"])) == sorted(set(written["parcel_id"])) == ["I0", "I1", "I2", "L0"]  # fmt: skip
    columns = ["parcel_id", "rule", "figure", "comparator", "threshold", "firm_id", "finding_codes"]
    assert back[columns].sort_values(["parcel_id", "rule"]).values.tolist() == written[columns].sort_values(["parcel_id", "rule"]).values.tolist()  # fmt: skip
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


def test_the_api_on_postgresql_with_an_admin_registered_table(tmp_path, database):
    from tests.test_api import Service, bundle, settings_for

    root = tmp_path / "bundle"
    bundle(root)
    parcels = gpd.read_file(root / "data" / "tiny" / "city.gpkg", layer="parcels")
    parcels.to_postgis("api_parcels", _engine(database), index=False)
    svc = Service(settings_for(tmp_path, root, run_worker=True, database_url=database))
    body = {"url": f"{database}#api_parcels", "kind": "parcels"}
    for role in ("viewer", "planner"):
        assert svc.client.post("/v1/datasets/database", json=body, headers=svc.h(role)).status_code == 403  # fmt: skip
    made = svc.client.post("/v1/datasets/database", json=body, headers=svc.h("admin"))
    assert made.status_code == 201, made.text
    info = made.json()
    assert info["source"] == "database" and info["rows"] == 2 and info["file"].endswith("#api_parcels")  # fmt: skip
    again = svc.client.post("/v1/datasets/database", json=body, headers=svc.h("admin"))
    assert again.status_code == 200 and again.json()["id"] == info["id"]
    url_in_scenario = svc.submit({"base": "tiny", "overrides": {"data": {"parcels": body["url"]}}})
    assert url_in_scenario.status_code == 422  # a scenario names the dataset, never the URL
    with svc.client:
        sid = svc.submit({"base": "tiny", "overrides": {"data": {"parcels": info["id"]}}}).json()["id"]  # fmt: skip
        job = svc.wait(sid)
        assert job["status"] == "done" and job["result_status"] == "optimal", job
        assert job["summary"]["land"]["sites"] == 1 and job["summary"]["land"]["projects_on_sites"] == 1  # fmt: skip
        twin = svc.submit({"base": "tiny", "overrides": {"data": {"parcels": info["id"]}}}).json()
        assert twin["deduplicated"] is False  # a table may have changed: solved again
    import sqlalchemy

    with _engine(database).connect() as conn:  # the store is this PostgreSQL
        assert conn.execute(sqlalchemy.text("SELECT count(*) FROM scenarios")).scalar() == 2
