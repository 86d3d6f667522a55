"""The scenario service through its HTTP interface, on a real SQLite file.

The bundle served is the tiny land city of ``tests/landkit.py`` (EPSG:4548, near 117°E):
one idle 20-mu site in park PK-A and two projects that compete for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.server
import io
import json
import os
import sqlite3
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import geopandas as gpd
import hypothesis
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from api.store import create_key
from tests.conftest import RESOURCES, project
from tests.landkit import AS_OF, cell, parcel, write_city

IDLE = {"status": "not_started", "transfer_date": "2020-01-01", "agreed_start_date": "2022-01-01",
        "developed_area_share": 0.0}  # fmt: skip
DONE = ("done", "failed", "cancelled")


def proj(pid: str, land: float, value_added: float) -> dict[str, Any]:
    return project(project_id=pid, land_mu=land, investment_wan_cny=400 * land, park="PK-A",
                   annual_output_wan_cny=500 * land, annual_tax_wan_cny=25 * land,
                   annual_value_added_wan_cny=value_added, energy_tce_per_year=10)  # fmt: skip


def bundle(root: Path) -> None:
    """data/tiny (the land city, two projects) and scenarios tiny.yaml, tiny_infeasible.yaml."""
    data = root / "data" / "tiny"
    write_city(data, [parcel(f"I{i}", cell(i), **IDLE) for i in range(2)])
    pd.DataFrame([proj("P-1", 15, 1500), proj("P-2", 12, 1000)]).to_csv(
        data / "projects.csv", index=False
    )
    pd.DataFrame(
        [("land_quota", 2027, "xuecheng", 0), ("energy", 2027, "city", 1e6)],
        columns=["resource", "year", "scope", "amount"],
    ).to_csv(data / "supplies.csv", index=False)
    doc: dict[str, Any] = {
        "name": "tiny",
        "as_of": AS_OF,
        "data": {
            "projects": "../data/tiny/projects.csv", "supplies": "../data/tiny/supplies.csv",
            "firms": "../data/tiny/firms.csv", "parks": "../data/tiny/city.gpkg#parks",
            "parcels": "../data/tiny/city.gpkg#parcels",
            "districts": "../data/tiny/city.gpkg#districts",
            "exclusions": ["../data/tiny/city.gpkg#exclusions"],
        },
        "horizon": {"start": 2027, "end": 2027},
        "resources": RESOURCES,
        "objective": {"bonus_weights": {}},
        "solver": {"time_limit_s": 30, "gap_rel": 1e-9, "threads": 1},
    }  # fmt: skip
    scenarios = root / "scenarios"
    scenarios.mkdir()
    (scenarios / "tiny.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    locked = {**doc, "name": "tiny_infeasible", "locked_in": {"P-1": 2027, "P-2": 2027}}
    (scenarios / "tiny_infeasible.yaml").write_text(yaml.safe_dump(locked), encoding="utf-8")


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bundle")
    bundle(root)
    return root


def settings_for(tmp: Path, bundled: Path, **changes: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "data_dir": tmp / "var",
        "bundled_data_dir": bundled / "data",
        "bundled_scenarios_dir": bundled / "scenarios",
        "poll_interval_s": 0.1,
        "stale_after_s": 1.0,
        "callback_backoff_s": 0.2,
        "run_worker": False,
        **changes,
    }
    return ApiSettings(**values)


class Service:
    """An app on a SQLite file with one key per role."""

    def __init__(self, settings: ApiSettings):
        self.settings = settings
        self.app = create_app(settings)
        self.keys: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        with self.app.state.sessions.begin() as session:
            for role in ("viewer", "planner", "admin"):
                row, key = create_key(session, f"test {role}", role)
                self.keys[role], self.ids[role] = key, row.id
        self.client = TestClient(self.app)

    def h(self, role: str = "planner") -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}

    def submit(self, body: dict[str, Any], **kw: Any) -> Any:
        return self.client.post("/v1/scenarios", json=body, headers=self.h(), **kw)

    def wait(self, sid: str, states: tuple[str, ...] = DONE, timeout: float = 120) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            body = self.client.get(f"/v1/scenarios/{sid}", headers=self.h("viewer")).json()
            if body["status"] in states:
                return body
            time.sleep(0.1)
        raise AssertionError(f"{sid} still {body['status']} after {timeout} s: {body}")


@pytest.fixture
def service(tmp_path: Path, bundled: Path) -> Iterator[Service]:
    svc = Service(settings_for(tmp_path, bundled, run_worker=True))
    with svc.client:  # runs the lifespan: the worker thread
        yield svc


@pytest.fixture
def idle(tmp_path: Path, bundled: Path) -> Service:
    """No worker: submissions stay queued."""
    return Service(settings_for(tmp_path, bundled))


@pytest.mark.solver
def test_submit_poll_read_compare_and_serve_identical_inputs_from_the_store(service):
    r = service.submit({"base": "tiny"})
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    assert r.headers["Location"] == f"/v1/scenarios/{sid}"
    job = service.wait(sid)
    assert job["status"] == "done", job
    assert job["result_status"] == "optimal" and job["summary"]["projects"]["approved"] == 1

    v = service.h("viewer")
    rows = service.client.get(f"/v1/scenarios/{sid}/allocations", headers=v).json()
    assert rows["total"] == 2 and rows["next_offset"] is None
    by_id = {row["project_id"]: row for row in rows["items"]}
    # one 20-mu site, no new quota: the more valuable P-1 (1,500 万元 a year) takes it
    assert by_id["P-1"]["status"] == "approved" and by_id["P-1"]["site_id"] == "S-00001"
    assert by_id["P-2"]["status"] == "rejected"
    page = service.client.get(f"/v1/scenarios/{sid}/allocations?status=rejected&limit=1",
                              headers=v).json()  # fmt: skip
    assert [row["project_id"] for row in page["items"]] == ["P-2"] and page["total"] == 1
    first = service.client.get(f"/v1/scenarios/{sid}/allocations?limit=1", headers=v).json()
    assert first["next_offset"] == 1 and len(first["items"]) == 1
    # labels in the language asked for (?lang=, then Accept-Language, then zh); codes stay
    assert by_id["P-2"]["status_label"] == "未入选" and by_id["P-2"]["reason"] == "LEFT_OUT_BY_FIT"
    english = {"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}
    for query, extra in (("?lang=en", {}), ("", english)):
        got = service.client.get(f"/v1/scenarios/{sid}/projects/P-2{query}", headers={**v, **extra})
        assert (
            got.json()["status_label"] == "rejected" and got.json()["reason"] == "LEFT_OUT_BY_FIT"
        )
    chinese = service.client.get(
        f"/v1/scenarios/{sid}/projects/P-2?lang=zh", headers={**v, **english}
    )
    assert chinese.json()["reason_label"] == "落选：要素组合容纳不下"
    assert (
        service.client.get(f"/v1/scenarios/{sid}/resources?lang=fr", headers=v).status_code == 422
    )
    one = service.client.get(f"/v1/scenarios/{sid}/projects/P-2", headers=v).json()
    assert one["status"] == "rejected" and one["explanation"]
    assert one["explanation_detail"]["project_id"] == "P-2"
    assert service.client.get(f"/v1/scenarios/{sid}/projects/P-9", headers=v).status_code == 404
    res = service.client.get(f"/v1/scenarios/{sid}/resources", headers=v).json()
    assert {(x["resource"], x["year"]) for x in res} >= {("energy", 2027)}

    geo = service.client.get(f"/v1/scenarios/{sid}/reuse-list", headers=v)
    assert geo.status_code == 200 and geo.headers["content-type"] == "application/geo+json"
    features = geo.json()["features"]
    x, y = features[0]["geometry"]["coordinates"][0][0]
    assert 116.9 < x < 117.0 and 34.7 < y < 34.8, (x, y)  # longitude first (RFC 7946)
    assert {f["properties"]["parcel_id"] for f in features} == {"I0", "I1"}
    projected = service.client.get(f"/v1/scenarios/{sid}/reuse-list?layer=sites&crs=EPSG:4548",
                                   headers=v).json()  # fmt: skip
    x, _ = projected["features"][0]["geometry"]["coordinates"][0][0]
    assert abs(x - 495_000) < 1
    bad = service.client.get(f"/v1/scenarios/{sid}/reuse-list?crs=EPSG:0", headers=v)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "crs"
    # another body's CRS answered 500; the far side of an orthographic view gave Infinity
    for crs in ("IAU_2015:30100", "+proj=ortho +lat_0=-60 +lon_0=-60"):
        off = service.client.get(f"/v1/scenarios/{sid}/reuse-list", params={"crs": crs}, headers=v)
        assert off.status_code == 422 and off.json()["detail"][0]["field"] == "crs", off.text

    again = service.submit({"base": "tiny"})
    assert again.json()["deduplicated"] is True and again.json()["status"] == "done"
    twin = service.wait(again.json()["id"])
    assert twin["input_hash"] == job["input_hash"] and twin["attempts"] == 0

    out = service.submit({"base": "tiny", "overrides": {"name": "tiny_no_p1",
                                                        "locked_out": ["P-1"]}})  # fmt: skip
    other = service.wait(out.json()["id"])
    assert other["status"] == "done"
    diff = service.client.post("/v1/compare", json={"a": sid, "b": other["id"]},
                               headers=service.h()).json()  # fmt: skip
    changes = {p["project_id"]: p["change"] for p in diff["projects"]}
    assert changes == {"P-1": "out", "P-2": "in"}
    assert diff["a"]["scenario_id"] == sid and "folder" not in diff["a"]
    assert diff["value"]["delta_wan_cny"] < 0


@pytest.mark.solver
def test_infeasible_scenario_ends_done_with_the_relaxation_report(service):
    sid = service.submit({"base": "tiny_infeasible"}).json()["id"]
    job = service.wait(sid)
    assert job["status"] == "done" and job["result_status"] == "infeasible"
    text = job["summary"]["diagnosis"]["text"]
    assert "新增建设用地指标 2027 薛城区：缺口" in text  # both locked in, one site
    assert job["summary"]["diagnosis"]["relaxed_rows"]
    r = service.client.get(f"/v1/scenarios/{sid}/allocations", headers=service.h("viewer"))
    assert r.status_code == 409 and "allocations.csv" in r.json()["detail"]


ENDPOINTS = [  # method, path, minimum role
    ("GET", "/v1/scenarios", "viewer"),
    ("GET", "/v1/scenarios/{sid}", "viewer"),
    ("GET", "/v1/scenarios/{sid}/summary", "viewer"),
    ("GET", "/v1/scenarios/{sid}/allocations", "viewer"),
    ("GET", "/v1/scenarios/{sid}/resources", "viewer"),
    ("GET", "/v1/scenarios/{sid}/reuse-list", "viewer"),
    ("GET", "/v1/scenarios/{sid}/projects/P-1", "viewer"),
    ("GET", "/v1/scenarios/{sid}/report", "viewer"),
    ("GET", "/v1/datasets", "viewer"),
    ("GET", "/v1/datasets/tiny.projects", "viewer"),
    ("POST", "/v1/scenarios", "planner"),
    ("POST", "/v1/compare", "planner"),
    ("POST", "/v1/datasets", "planner"),
    ("POST", "/v1/datasets/database", "admin"),
    ("DELETE", "/v1/scenarios/{sid}", "planner"),
    ("GET", "/v1/keys", "admin"),
    ("POST", "/v1/keys", "admin"),
    ("DELETE", "/v1/keys/{kid}", "admin"),
]
ROLES = ("viewer", "planner", "admin")


def test_each_role_against_each_endpoint(idle):
    sid = idle.submit({"base": "tiny"}).json()["id"]
    for method, template, needed in ENDPOINTS:
        path = template.format(sid=sid, kid="key_000000000000")
        assert idle.client.request(method, path).status_code == 401, path
        wrong = idle.client.request(method, path, headers={"X-API-Key": "alk_nope"})
        assert wrong.status_code == 401, path
        for role in ROLES:
            r = idle.client.request(method, path, headers=idle.h(role))
            if ROLES.index(role) < ROLES.index(needed):
                assert r.status_code == 403, (method, path, role, r.text)
                assert needed in r.json()["detail"]
            else:  # allowed: whatever the answer, it is not about the key
                assert r.status_code not in (401, 403), (method, path, role, r.text)
    bearer = {"Authorization": f"Bearer {idle.keys['viewer']}"}
    assert idle.client.get("/v1/scenarios", headers=bearer).status_code == 200
    assert idle.client.get("/healthz").json() == {"status": "ok"}
    assert idle.client.get("/readyz").json()["checks"] == {"database": "ok", "solver": "ok"}


def test_keys_are_stored_hashed_and_revocation_takes_effect(idle):
    made = idle.client.post("/v1/keys", json={"name": "wf", "role": "viewer"},
                            headers=idle.h("admin")).json()  # fmt: skip
    key = made["key"]
    db = sqlite3.connect(idle.settings.data_dir / "allocator.db")
    stored = db.execute("SELECT key_sha256 FROM api_keys WHERE id = ?", (made["id"],)).fetchone()
    assert stored[0] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(db.execute("SELECT * FROM api_keys").fetchall())
    assert idle.client.get("/v1/datasets", headers={"X-API-Key": key}).status_code == 200
    idle.client.delete(f"/v1/keys/{made['id']}", headers=idle.h("admin"))
    assert idle.client.get("/v1/datasets", headers={"X-API-Key": key}).status_code == 401
    bad_role = idle.client.post("/v1/keys", json={"name": "x", "role": "root"}, headers=idle.h("admin"))  # fmt: skip
    assert bad_role.status_code == 422 and bad_role.json()["detail"][0]["loc"][-1] == "role"


def test_idempotent_retry_returns_the_first_submission(idle):
    headers = {**idle.h(), "Idempotency-Key": "wf-123"}
    first = idle.client.post("/v1/scenarios", json={"base": "tiny"}, headers=headers)
    retry = idle.client.post("/v1/scenarios", json={"base": "tiny"}, headers=headers)
    assert first.status_code == retry.status_code == 202
    assert retry.json()["id"] == first.json()["id"] and retry.json()["replayed"] is True
    assert retry.headers["Idempotent-Replayed"] == "true"
    listed = idle.client.get("/v1/scenarios", headers=idle.h("viewer")).json()
    assert listed["total"] == 1
    changed = idle.client.post("/v1/scenarios", json={"base": "tiny", "overrides": {"name": "x"}},
                               headers=headers)  # fmt: skip
    assert changed.status_code == 422
    assert changed.json()["detail"][0]["field"] == "Idempotency-Key"


def test_cancel_a_queued_scenario(idle):
    sid = idle.submit({"base": "tiny"}).json()["id"]
    r = idle.client.delete(f"/v1/scenarios/{sid}", headers=idle.h())
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    again = idle.client.delete(f"/v1/scenarios/{sid}", headers=idle.h())
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    assert again.json()["detail"].endswith("只有排队中或运行中的情景可以取消")  # zh by default
    said = idle.client.delete(f"/v1/scenarios/{sid}?lang=en", headers=idle.h())
    assert said.json()["detail"] == (
        f"scenario {sid} is cancelled; only a queued or running scenario can be cancelled"
    )
    assert idle.client.delete("/v1/scenarios/sc_nope", headers=idle.h()).status_code == 404


@pytest.mark.solver
def test_cancel_a_running_solve(service):
    sid = service.submit({"base": "tiny"}).json()["id"]
    service.wait(sid, ("running", *DONE))  # the solve process takes seconds to start
    r = service.client.delete(f"/v1/scenarios/{sid}", headers=service.h())
    assert r.status_code == 200
    job = service.wait(sid)
    assert job["status"] == "cancelled", job
    time.sleep(0.5)  # the worker has let go of it
    assert service.client.get(f"/v1/scenarios/{sid}", headers=service.h()).json()["status"] == "cancelled"  # fmt: skip


@pytest.mark.solver
def test_a_solve_over_the_wall_limit_is_stopped_and_failed(tmp_path, bundled):
    svc = Service(settings_for(tmp_path, bundled, run_worker=True, max_job_wall_s=0.5))
    with svc.client:
        job = svc.wait(svc.submit({"base": "tiny"}).json()["id"])
    assert job["status"] == "failed" and "max_job_wall_s = 0.5" in job["message"]


@pytest.mark.solver
def test_restart_recovery(tmp_path, bundled):
    first = Service(settings_for(tmp_path, bundled))
    queued = first.submit({"base": "tiny"}).json()["id"]
    interrupted = first.submit({"base": "tiny", "overrides": {"name": "b"}}).json()["id"]
    exhausted = first.submit({"base": "tiny", "overrides": {"name": "c"}}).json()["id"]
    first.app.state.engine.dispose()
    db = sqlite3.connect(tmp_path / "var" / "allocator.db")
    # as a server killed mid-solve leaves them: running, heartbeat minutes old
    db.execute("UPDATE scenarios SET status='running', attempts=1, worker='dead', "
               "heartbeat_at='2026-01-01 00:00:00' WHERE id IN (?, ?)", (interrupted, exhausted))  # fmt: skip
    db.execute("UPDATE scenarios SET attempts=2 WHERE id = ?", (exhausted,))
    db.commit()
    db.close()

    second = Service(settings_for(tmp_path, bundled, run_worker=True))
    with second.client:
        assert second.wait(queued)["status"] == "done"
        job = second.wait(interrupted)
        assert job["status"] == "done" and job["attempts"] == 2
        failed = second.wait(exhausted)
        assert failed["status"] == "failed" and "interrupted" in failed["message"]
        assert "max_attempts = 2" in failed["message"]


class Receiver(http.server.BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(503)
        else:
            Receiver.got.append((dict(self.headers), body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.solver
def test_webhook_is_signed_and_retried(tmp_path, bundled):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.got, Receiver.fail_first = [], 1
    svc = Service(settings_for(tmp_path, bundled, run_worker=True, callback_hosts=["127.0.0.1"]))
    made = svc.client.post("/v1/keys", json={"name": "wf", "role": "planner"},
                           headers=svc.h("admin")).json()  # fmt: skip
    url = f"http://127.0.0.1:{server.server_port}/hook"
    with svc.client:
        refused = svc.client.post("/v1/scenarios", headers={"X-API-Key": made["key"]},
                                  json={"base": "tiny", "callback_url": "http://evil.example/x"})  # fmt: skip
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["field"] == "callback_url"
        assert "callback_hosts" in refused.json()["detail"][0]["rule"]
        sid = svc.client.post("/v1/scenarios", headers={"X-API-Key": made["key"]},
                              json={"base": "tiny", "callback_url": url}).json()["id"]  # fmt: skip
        svc.wait(sid)
        end = time.monotonic() + 30
        while not Receiver.got and time.monotonic() < end:
            time.sleep(0.1)
        state = svc.client.get(f"/v1/scenarios/{sid}", headers=svc.h()).json()["callback"]
    server.shutdown()
    assert len(Receiver.got) == 1, state
    headers, body = Receiver.got[0]
    stamp = headers["X-Allocator-Timestamp"]
    expected = hmac.new(made["signing_secret"].encode(), stamp.encode() + b"." + body,
                        hashlib.sha256).hexdigest()  # fmt: skip
    assert headers["X-Allocator-Signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["scenario_id"] == sid and payload["summary"]["status"] == "optimal"
    assert payload["timestamp"].endswith("Z")
    assert state["state"] == "delivered" and state["attempts"] == 2  # one 503, then delivered
    wrong = hmac.new(b"another key's secret", stamp.encode() + b"." + body, hashlib.sha256)
    assert headers["X-Allocator-Signature"] != f"sha256={wrong.hexdigest()}"


@pytest.mark.parametrize(
    "ref",
    ["../data/tiny/projects.csv", "/etc/passwd", "file:///etc/passwd",
     "https://example.org/projects.csv", "postgresql://u@h/db", "tiny.projects/../../x",
     "tiny.link", "tiny.link_out"],
)  # fmt: skip
def test_a_scenario_cannot_name_a_path_url_or_link(idle, bundled, ref):
    link = bundled / "data" / "tiny" / "link_out.csv"
    if not link.exists():
        link.symlink_to("/etc/hostname")
    r = idle.submit({"base": "tiny", "overrides": {"data": {"projects": ref}}})
    assert r.status_code == 422, r.text
    problem = r.json()["detail"][0]
    assert problem["field"] == "data.projects" and problem["value"] == ref
    listed = idle.client.get("/v1/datasets", headers=idle.h()).json()
    assert "tiny.link_out" not in {d["id"] for d in listed}


def test_bad_submissions_name_what_is_wrong(idle):
    unknown = idle.submit({"base": "nope"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    extends = idle.submit({"scenario": {"extends": "../scenarios/tiny.yaml"}})
    assert extends.status_code == 422 and extends.json()["detail"][0]["field"] == "extends"
    typo = idle.submit({"base": "tiny", "overrides": {"solver": {"gap_rel": -1}}})
    assert typo.status_code == 422
    assert typo.json()["detail"][0]["field"] == "solver.gap_rel"
    assert typo.json()["detail"][0]["value"] == "-1"
    unknown_field = idle.submit({"scenario": {"nmae": "x"}})
    assert unknown_field.status_code == 422
    assert unknown_field.json()["detail"][0]["loc"] == ["body", "scenario", "nmae"]
    slow = idle.submit({"base": "tiny", "overrides": {"solver": {"time_limit_s": 10_000}}})
    assert slow.status_code == 422 and "max_time_limit_s" in slow.json()["detail"][0]["rule"]
    both = idle.submit({"base": "tiny", "scenario": {}})
    assert both.status_code == 422 and both.json()["detail"][0]["field"] == "scenario"
    # the same message as the command line, naming the dataset, row and field
    bad_row = idle.submit({"base": "tiny",
                           "tables": {"projects": [{**proj("P-1", 15, 1500), "land_mu": -15}]}})  # fmt: skip
    detail = bad_row.json()["detail"]
    assert bad_row.status_code == 422 and detail[0]["loc"] == ["tables.projects", 2, "land_mu"]
    assert detail[0]["value"] == "-15" and "must be" in detail[0]["rule"]
    bad_ref = idle.submit({"base": "tiny", "overrides": {"locked_out": ["P-404"]}})
    assert bad_ref.status_code == 422 and "P-404" in json.dumps(bad_ref.json())
    assert idle.client.get("/v1/scenarios", headers=idle.h()).json()["total"] == 0


def test_a_bug_answers_500_with_an_error_id_never_invalid_input(idle, monkeypatch, caplog):
    """An error of ours is not the caller's mistake: 500 with an error id, which the log
    repeats beside the traceback; nothing is stored."""
    import api.submissions

    def broken(*_args: Any) -> Any:
        raise KeyError("a column our code expected")

    monkeypatch.setattr(api.submissions, "read_job_inputs", broken)
    client = TestClient(idle.app, raise_server_exceptions=False)
    answer = client.post("/v1/scenarios", json={"base": "tiny"}, headers=idle.h())
    assert answer.status_code == 500
    body = answer.json()
    assert body["error_id"].startswith("E-") and "invalid" not in body["detail"]
    logged = [r for r in caplog.records if body["error_id"] in r.getMessage()]
    assert logged and logged[0].exc_info is not None and logged[0].exc_info[0] is KeyError
    assert idle.client.get("/v1/scenarios", headers=idle.h()).json()["total"] == 0


def test_uploads_in_chinese_encodings_are_read_and_bad_bytes_named(idle):
    """A projects table saved as GBK by Excel is stored; one that decodes in no known
    encoding is refused naming the uploaded file and its line, not the stored copy."""
    text = pd.DataFrame([proj("P-9", 15, 1500) | {"name": "薛城技改"}]).to_csv(index=False)
    gbk = idle.client.post("/v1/datasets", files={"file": ("项目.csv", text.encode("gbk"))},
                           data={"kind": "projects"}, headers=idle.h())  # fmt: skip
    assert gbk.status_code == 201, gbk.text
    broken = text.encode("utf-8").replace("薛城".encode(), b"\xff\xfe")
    bad = idle.client.post("/v1/datasets", files={"file": ("p.csv", broken)},
                           data={"kind": "projects"}, headers=idle.h())  # fmt: skip
    assert bad.status_code == 422
    (problem,) = bad.json()["detail"]
    assert problem["file"] == "p.csv" and problem["row"] == 2 and "0xff" in problem["rule"]


def test_limits_on_body_size_and_projects(tmp_path, bundled):
    svc = Service(settings_for(tmp_path, bundled, max_body_bytes=2000, max_projects=1))
    big = svc.submit({"base": "tiny", "overrides": {"description": "x" * 3000}})
    assert big.status_code == 413 and "max_body_bytes = 2,000" in big.json()["detail"]
    many = svc.submit({"base": "tiny"})
    assert many.status_code == 422 and "max_projects = 1" in many.json()["detail"][0]["rule"]
    # a chunked body (no Content-Length) over the limit: 413 too (it was 400)
    chunked = svc.client.post("/v1/scenarios", content=(b" " * 500 for _ in range(10)),
                              headers={**svc.h(), "Content-Type": "application/json"})  # fmt: skip
    assert chunked.status_code == 413 and "max_body_bytes" in chunked.json()["detail"]


def test_cors_is_off_unless_configured(tmp_path, bundled):
    preflight = {"Origin": "https://wf.example", "Access-Control-Request-Method": "GET"}
    off = Service(settings_for(tmp_path / "a", bundled))
    r = off.client.options("/v1/scenarios", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    on = Service(settings_for(tmp_path / "b", bundled, cors_origins=["https://wf.example"]))
    r = on.client.options("/v1/scenarios", headers=preflight)
    assert r.headers["access-control-allow-origin"] == "https://wf.example"


def test_a_parcel_layer_over_the_limit_is_refused(tmp_path, bundled):
    svc = Service(settings_for(tmp_path, bundled, max_parcels=1))
    gpkg = (bundled / "data" / "tiny" / "city.gpkg").read_bytes()
    r = svc.client.post("/v1/datasets", files={"file": ("city.gpkg", gpkg)},
                        data={"kind": "parcels", "layer": "parcels"}, headers=svc.h())  # fmt: skip
    assert r.status_code == 422 and "max_parcels = 1" in r.json()["detail"][0]["rule"]
    ok = Service(settings_for(tmp_path / "ok", bundled))
    r = ok.client.post("/v1/datasets", files={"file": ("city.gpkg", gpkg)},
                       data={"kind": "parcels", "layer": "parcels"}, headers=ok.h())  # fmt: skip
    assert r.status_code == 201 and r.json()["rows"] == 2 and "parcels" in r.json()["layers"]


@pytest.mark.solver
def test_inline_tables_and_uploads_are_stored_by_content(service, bundled):
    rows = [proj("P-1", 15, 1500), proj("P-2", 12, 3000)]
    inline = service.submit({"base": "tiny", "tables": {"projects": rows}})
    assert inline.status_code == 202, inline.text
    job = service.wait(inline.json()["id"])
    approved = service.client.get(f"/v1/scenarios/{job['id']}/allocations?status=approved",
                                  headers=service.h()).json()  # fmt: skip
    assert [r["project_id"] for r in approved["items"]] == ["P-2"]  # now worth more

    csv = pd.DataFrame(rows[::-1]).to_csv(index=False).encode()  # not the inline table's bytes
    files = {"file": ("my projects.csv", csv, "text/csv")}
    up = service.client.post("/v1/datasets", files=files, data={"kind": "projects"},
                             headers=service.h())  # fmt: skip
    assert up.status_code == 201 and up.json()["rows"] == 2
    same = service.client.post("/v1/datasets", files=files, data={"kind": "projects"},
                               headers=service.h())  # fmt: skip
    assert same.status_code == 200 and same.json()["id"] == up.json()["id"]
    bad = pd.DataFrame([{**rows[0], "land_mu": "lots"}]).to_csv(index=False).encode()
    r = service.client.post("/v1/datasets", files={"file": ("p.csv", bad)},
                            data={"kind": "projects"}, headers=service.h())  # fmt: skip
    assert r.status_code == 422  # said in Chinese by default, in English when asked
    assert r.json()["detail"][0]["message"].startswith("p.csv 第 2 行（P-1）：字段 `land_mu` = 'lots' 须为有限数值")  # fmt: skip
    assert r.json()["detail"][0]["rule"].startswith("must be a finite number")  # for machines
    r = service.client.post("/v1/datasets", files={"file": ("p.csv", bad)},
                            data={"kind": "projects"}, headers={**service.h(), "Accept-Language": "en-GB,en;q=0.9"})  # fmt: skip
    assert r.json()["detail"][0]["message"].startswith("p.csv row 2 (P-1): field `land_mu` = 'lots'")  # fmt: skip

    parcels = gpd.read_file(bundled / "data" / "tiny" / "city.gpkg", layer="parcels")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        shp = service.settings.data_dir / "shp"
        shp.mkdir()
        parcels.to_file(shp / "parcels.shp")
        for f in shp.iterdir():
            zf.write(f, f.name)
    shape = service.client.post("/v1/datasets", files={"file": ("parcels.zip", buf.getvalue())},
                                data={"kind": "parcels"}, headers=service.h())  # fmt: skip
    assert shape.status_code == 201, shape.text
    assert shape.json()["rows"] == 2 and shape.json()["file"] == "parcels.shp"
    listed = {d["id"] for d in service.client.get("/v1/datasets", headers=service.h()).json()}
    assert {up.json()["id"], shape.json()["id"], "tiny.projects", "tiny.city"} <= listed
    used = service.submit({"base": "tiny", "overrides": {
        "name": "uploaded", "data": {"projects": up.json()["id"], "parcels": shape.json()["id"]}}})  # fmt: skip
    assert service.wait(used.json()["id"])["result_status"] == "optimal"


def _zip(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16  # a symbolic link
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("members", "links", "rule"),
    [({"../evil.shp": b"x"}, (), "leaves the archive"),
     ({"/abs/evil.shp": b"x"}, (), "leaves the archive"),
     ({"a.shp": b"x"}, ("b.dbf",), "symbolic link"),
     ({"a.txt": b"x"}, (), "exactly one .shp")],
)  # fmt: skip
def test_zip_uploads_cannot_escape(idle, members, links, rule):
    r = idle.client.post("/v1/datasets", files={"file": ("x.zip", _zip(members, links))},
                         data={"kind": "parcels"}, headers=idle.h())  # fmt: skip
    assert r.status_code == 422 and rule in r.json()["detail"][0]["rule"], r.text
    assert not any((idle.settings.data_dir / "datasets").glob("ds_*"))
    assert not (idle.settings.data_dir.parent / "evil.shp").exists()


def test_migrations_make_the_schema_of_the_models(idle):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from api.store import Base

    with idle.app.state.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


@pytest.mark.slow
def test_openapi_fuzz_never_gives_a_server_error(idle: Service) -> None:
    """Requests drawn from the OpenAPI document for every operation, with an admin key (so
    that they pass authentication and reach validation): never a 5xx."""
    import schemathesis

    schema = schemathesis.openapi.from_asgi("/openapi.json", idle.app)
    examples = int(os.environ.get("ALLOCATOR_FUZZ_EXAMPLES", "25"))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=examples, deadline=None, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))  # fmt: skip
        def fuzz(case: Any) -> None:
            response = case.call(headers=idle.h("admin"))
            assert response.status_code < 500, (case.method, case.path, response.text)

        fuzz()


def test_keys_create_command_makes_a_key_the_service_accepts(tmp_path, bundled, monkeypatch):
    from typer.testing import CliRunner

    from allocator.cli import app as cli

    monkeypatch.setenv("ALLOCATOR_DATA_DIR", str(tmp_path / "var"))
    made = CliRunner().invoke(cli, ["keys", "create", "--name", "wf", "--role", "viewer"])
    assert made.exit_code == 0, made.output
    key = made.output.split("key (shown once): ")[1].split()[0]
    svc = Service(settings_for(tmp_path, bundled))
    assert svc.client.get("/v1/datasets", headers={"X-API-Key": key}).status_code == 200
    assert svc.client.post("/v1/scenarios", json={"base": "tiny"},
                           headers={"X-API-Key": key}).status_code == 403  # fmt: skip
    bad = CliRunner().invoke(cli, ["keys", "create", "--name", "x", "--role", "root"])
    assert bad.exit_code == 2 and "--role was 'root'" in bad.output


def test_hostile_bodies_are_422_naming_the_place_never_500(idle):
    """Each answered 500 before: NaN in a full scenario (the 422 could not be rendered), a
    lone surrogate, overrides nested 300 deep, ``data`` given as a string."""
    h = {**idle.h(), "Content-Type": "application/json"}
    nested: dict[str, Any] = {"a": 1}
    for _ in range(300):
        nested = {"x": nested}
    cases = {
        '{"scenario": {"name": "x", "solver": {"gap_rel": NaN}}}': ("scenario.solver.gap_rel", "finite"),
        '{"base": "\\ud800"}': ("body", "base: holds a lone surrogate"),
        json.dumps({"base": "tiny", "overrides": nested}): ("body", "nested deeper than 32"),
        json.dumps({"base": "tiny", "overrides": {"data": "x"}}): ("data", "must be a mapping"),
        json.dumps({"base": "tiny", "overrides": {"solver": {"seed": 2**70}}}): ("solver.seed", "2147483647"),
        json.dumps({"base": "tiny", "overrides": {"name": "../../etc"}}): ("name", "output folder"),
        json.dumps({"base": "tiny", "overrides": {"description": "x" * 20_000}}): ("body", "overrides.description: a string of 20,000"),
    }  # fmt: skip
    for raw, (field, rule) in cases.items():
        answer = idle.client.post("/v1/scenarios", content=raw, headers=h)
        assert answer.status_code == 422, (raw[:60], answer.text[:300])
        (problem,) = answer.json()["detail"]
        assert problem["field"] == field and rule in problem["rule"], (raw[:60], problem)
    assert idle.client.get("/v1/scenarios", headers=idle.h()).json()["total"] == 0
    # a table named where a layer is expected was accepted (202), then failed in the worker
    table = idle.submit({"base": "tiny", "overrides": {"data": {"parcels": "tiny.projects"}}})
    assert table.status_code == 422 and "a table where a layer is expected" in table.text


def test_zip_bombs_are_refused_before_they_are_written(tmp_path, bundled):
    """A 4 MiB zip wrote 4 GiB before: a member packed more than 200 times, or archives
    unpacking past max_extracted_bytes, are refused with nothing left on disk."""
    import os

    svc = Service(settings_for(tmp_path, bundled, max_extracted_bytes=300_000))
    post = lambda data: svc.client.post("/v1/datasets", files={"file": ("parcels.zip", data)},  # noqa: E731
                                        data={"kind": "parcels"}, headers=svc.h())  # fmt: skip
    bomb = post(_zip({"p.shp": b"\0" * 10_000_000}))
    assert (
        bomb.status_code == 422 and "packed more than 200 times" in bomb.json()["detail"][0]["rule"]
    )
    noise = {f"p{i}.dbf": os.urandom(100_000) for i in range(4)}  # incompressible: 400 kB
    big = post(_zip({"p.shp": b"x", **noise}))
    problem = big.json()["detail"][0]
    assert big.status_code == 422 and problem["field"] == "max_extracted_bytes"
    assert problem["value"] == "300000" and "over the server limit" in problem["rule"]
    assert list((tmp_path / "var" / "datasets").iterdir()) == []


def test_upload_errors_never_show_the_servers_folders(idle):
    broken = idle.client.post("/v1/datasets", files={"file": ("城区宗地.gpkg", b"not a geopackage")},
                              data={"kind": "parcels"}, headers=idle.h())  # fmt: skip
    assert broken.status_code == 422
    text = broken.text
    assert str(idle.settings.data_dir) not in text and ".upload-" not in text and "ds_" not in text
    assert "城区宗地.gpkg" in text


def test_a_restart_removes_what_a_killed_server_left(tmp_path, bundled):
    import os

    settings = settings_for(tmp_path, bundled)
    data = settings.data_dir
    old = [
        data / "datasets" / ".upload-dead",
        data / "results" / ".abc123.xyz",
        data / "reports" / ".r.html.tmp",
    ]
    fresh = data / "datasets" / ".upload-busy"  # another server's upload in progress
    for path in [*old, fresh]:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".tmp":
            path.write_text("half")
        else:
            path.mkdir()
            (path / "part").write_bytes(b"\0" * 1000)
    for path in old:
        os.utime(path, (1_000_000_000, 1_000_000_000))
    Service(settings)
    assert [p.exists() for p in old] == [False, False, False] and fresh.exists()


def test_racing_retries_with_one_idempotency_key_all_get_the_one_job(tmp_path, bundled):
    """Ten retries at once with one Idempotency-Key: one job, ten identical answers (9 of
    10 answered 500 before)."""
    import concurrent.futures

    import httpx

    from tests.conftest import serving

    svc = Service(settings_for(tmp_path, bundled))
    headers = {**svc.h(), "Idempotency-Key": "wf-race"}
    with serving(svc.app) as url:

        def post(_: int) -> httpx.Response:
            return httpx.post(
                f"{url}/v1/scenarios", json={"base": "tiny"}, headers=headers, timeout=60
            )

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(post, range(10)))
    assert [a.status_code for a in answers] == [202] * 10, [a.text[:200] for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.json()["replayed"] for a in answers) == 9
    assert svc.client.get("/v1/scenarios", headers=svc.h("viewer")).json()["total"] == 1


def test_the_smaller_things_a_client_meets(idle, bundled):
    """Times carry their offset; the 400 for a body that is not UTF-8 is documented; the
    schema needs a key like every /v1 call; a dataset id with a trailing newline is no id;
    a full scenario without ``data.parks`` is not refused for a default the bundle lacks."""
    sid = idle.submit({"base": "tiny"}).json()["id"]
    created = idle.client.get(f"/v1/scenarios/{sid}", headers=idle.h()).json()["created_at"]
    assert created.endswith("Z") and dt.datetime.fromisoformat(created).tzinfo is not None
    bad = idle.client.post("/v1/scenarios", content=b'{"base": "\xff"}',
                           headers={**idle.h(), "Content-Type": "application/json"})  # fmt: skip
    documented = idle.client.get("/openapi.json").json()["paths"]["/v1/scenarios"]["post"][
        "responses"
    ]
    assert bad.status_code == 400 and "400" in documented
    assert idle.client.get("/v1/schema/scenario").status_code == 401
    assert idle.client.get("/v1/schema/scenario", headers=idle.h("viewer")).status_code == 200
    newline = idle.submit({"base": "tiny", "overrides": {"data": {"projects": "tiny.projects\n"}}})
    assert newline.status_code == 422 and newline.json()["detail"][0]["field"] == "data.projects"
    full = yaml.safe_load((bundled / "scenarios" / "tiny.yaml").read_text(encoding="utf-8"))
    full["data"] = {"projects": "tiny.projects", "supplies": "tiny.supplies", "firms": "tiny.firms"}
    full["name"] = "no_parks"
    accepted = idle.submit({"scenario": full})
    assert accepted.status_code == 202, accepted.text


@pytest.mark.solver
def test_many_readers_of_a_report_not_yet_made_get_it_made_once(service, monkeypatch):
    """Readers of a report or reuse list not made yet each made it, holding a database
    connection meanwhile (56% errors at 200 readers): now one makes it, the others wait for
    it, and none holds a connection during the work."""
    import concurrent.futures
    import threading

    import httpx

    import api.routes.results as results
    from tests.conftest import serving

    sid = service.submit({"base": "tiny"}).json()["id"]
    assert service.wait(sid)["status"] == "done"
    real, made = results.write_report, []
    lock = threading.Lock()

    def slow(*args: Any) -> Any:
        with lock:
            made.append(args[-1])
        time.sleep(0.5)  # long enough for every reader to arrive while it is being made
        return real(*args)

    monkeypatch.setattr(results, "write_report", slow)
    with serving(service.app) as url:

        def get(i: int) -> httpx.Response:
            path = "report" if i % 2 else "reuse-list"
            return httpx.get(
                f"{url}/v1/scenarios/{sid}/{path}", headers=service.h("viewer"), timeout=120
            )

        with concurrent.futures.ThreadPoolExecutor(30) as pool:
            answers = list(pool.map(get, range(60)))
    assert [a.status_code for a in answers] == [200] * 60
    assert len(made) == 1
    assert (
        len({a.content for a in answers[1::2]}) == 1 and len({a.content for a in answers[::2]}) == 1
    )


def test_a_busy_database_is_503_with_retry_after_and_a_broken_one_a_500(idle, monkeypatch):
    import sqlalchemy.exc

    import api.deps

    def pool_dry(*_args: Any) -> Any:
        raise sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")

    def locked(*_args: Any) -> Any:
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("database is locked"))

    def broken(*_args: Any) -> Any:
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("no such table: api_keys"))

    client = TestClient(idle.app, raise_server_exceptions=False)
    for cause, status in ((pool_dry, 503), (locked, 503), (broken, 500)):
        monkeypatch.setattr(api.deps, "find_key", cause)
        answer = client.get("/v1/datasets", headers=idle.h())
        assert answer.status_code == status, answer.text
        if status == 503:
            assert answer.headers["Retry-After"] == "5" and "retry" in answer.json()["detail"]
        else:
            assert "error_id" in answer.json()


def test_a_report_asked_for_too_early_is_a_page_that_looks_again(idle):
    sid = idle.submit({"base": "tiny"}).json()["id"]  # no worker: it stays queued
    page = idle.client.get(f"/v1/scenarios/{sid}/report", headers=idle.h("viewer"))
    assert page.status_code == 409 and page.headers["content-type"].startswith("text/html")
    assert 'http-equiv="refresh"' in page.text and "尚未生成" in page.text and sid in page.text


@pytest.mark.solver
def test_two_hundred_concurrent_readers_all_get_answers(service):
    """200 readers at once of every result read: FastAPI checks a sync route's answer in a
    worker thread before the session closes, so every connection was held by an answer
    waiting for a thread while every thread waited for a connection (all 503 after 30 s)."""
    import asyncio

    import httpx

    from tests.conftest import serving

    sid = service.submit({"base": "tiny"}).json()["id"]
    assert service.wait(sid)["status"] == "done"
    project = service.client.get(f"/v1/scenarios/{sid}/allocations?limit=1", headers=service.h())
    paths = [f"/v1/scenarios/{sid}{tail}" for tail in ("", "/summary", "/allocations",
             "/resources", f"/projects/{project.json()['items'][0]['project_id']}")]  # fmt: skip

    async def read_all(url: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=url, headers=service.h("viewer"), timeout=120,
                                     limits=limits) as client:  # fmt: skip
            return await asyncio.gather(*(client.get(paths[i % 5]) for i in range(200)))

    with serving(service.app) as url:
        answers = asyncio.run(read_all(url))
    assert [a.status_code for a in answers] == [200] * 200, {a.text[:100] for a in answers}


def test_a_jobs_input_problems_are_said_in_the_language_asked():
    """A job keeps its input problems in English with their messages in both languages; its
    status says them in the language of the request (older records: in English)."""
    from api.errors import kept, told
    from models.tables import Problem

    problem = Problem.of("p.csv", "must be ≥ {min}", 2, "land_mu", "-1", "P-1", min=0)
    stored = json.loads(json.dumps(kept([problem])))  # as the database holds it
    assert told(stored, "zh")[0]["message"] == "p.csv 第 2 行（P-1）：字段 `land_mu` = '-1' 须 ≥ 0"
    assert told(stored, "en")[0] == {"loc": ["p.csv", 2, "land_mu"], "file": "p.csv", "row": 2,
                                     "field": "land_mu", "value": "-1", "key": "P-1",
                                     "rule": "must be ≥ 0",
                                     "message": "p.csv row 2 (P-1): field `land_mu` = '-1' must be ≥ 0"}  # fmt: skip
    older = [{k: v for k, v in stored[0].items() if k != "messages"}]
    assert told(older, "zh")[0]["message"] == told(stored, "en")[0]["message"]
