"""Results of done scenarios: summary, tables, one project, the reuse list, the report,
and what moved between two scenarios. Result folders never change once written, so each
file is read once per version (``_cached``)."""

from __future__ import annotations

import functools
import hashlib
import html
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import pyproj
from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from allocator.compare import compare
from allocator.errors import InputError
from allocator.report import write_report
from allocator.writers.files import read_table, relabelled, write_text_atomic
from api import schemas as s
from api.deps import LangDep, Planner, Refused, Route, SessionDep, SettingsDep, Viewer
from api.errors import invalid
from api.jobs import release, result_of
from models.result import Summary
from models.tables import Problem

router = APIRouter(tags=["results"], route_class=Route)
FOUND = {**s.ERRORS, 404: {"model": s.Error}, 409: {"model": s.Error}}
MADE = {
    **FOUND,
    503: {
        "model": s.Error,
        "description": "Being made for another request: retry after the Retry-After seconds.",
    },
}


@functools.lru_cache(maxsize=128)
def _read(path: Path, mtime_ns: int, parse: Callable[..., Any], *args: Any) -> Any:
    del mtime_ns  # part of the key: a rewritten file is read again
    return parse(path, *args)


WAIT_S = 20.0  # longest wait for an export another request is making
_MAKING: dict[Path, threading.Lock] = {}
_MAKING_GUARD = threading.Lock()


def made_once(target: Path, make: Callable[[Path], object]) -> None:
    """``make(target)`` unless the file is there; requests for a file being made wait for
    the one making it instead of each making it again (a report, a GeoJSON export), at most
    ``WAIT_S``: then 503 with Retry-After, so that a crowd never holds every thread."""
    if target.exists():
        return
    with _MAKING_GUARD:
        lock = _MAKING.setdefault(target, threading.Lock())
    if not lock.acquire(timeout=WAIT_S):
        raise Refused(
            503, "being made for another request; retry shortly", headers={"Retry-After": "5"}
        )
    try:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            make(target)
    finally:
        lock.release()


def _cached(path: Path, parse: Callable[..., Any], *args: Any) -> Any:
    """``parse(path, *args)``, once per version of the file (results never change once
    written)."""
    return _read(path, path.stat().st_mtime_ns, parse, *args)


def _rows(path: Path, lang: str) -> list[dict[str, Any]]:
    frame = relabelled(read_table(path, {"site_id": str, "start_year": "Int64"}), lang)
    return json.loads(frame.to_json(orient="records", force_ascii=False))


def _by_project(path: Path) -> dict[str, Any]:
    return {n["project_id"]: n for n in json.loads(path.read_text(encoding="utf-8"))}


def _table(folder: Path, name: str, lang: str) -> list[dict[str, Any]]:
    """The rows of a result table, labelled in ``lang``."""
    path = folder / name
    if not path.exists():
        raise Refused(409, "this result has no {name} (no solution; see /summary)", name=name)
    return _cached(path, _rows, lang)


def _explanations(folder: Path) -> dict[str, Any]:
    path = folder / "explanations.json"
    return _cached(path, _by_project) if path.exists() else {}


@router.get(
    "/v1/scenarios/{scenario_id}/summary",
    summary="Headline figures, status, gap (and the infeasibility report)",
    response_model=Summary,
    responses=FOUND,
)
def summary(session: SessionDep, settings: SettingsDep, _: Viewer, scenario_id: str) -> Response:
    _job, folder = result_of(session, settings, scenario_id)
    return Response(_cached(folder / "summary.json", Path.read_bytes), media_type="application/json")  # fmt: skip


@router.get(
    "/v1/scenarios/{scenario_id}/allocations",
    summary="One row per project: decision, start, site, reason",
    responses=FOUND,
)
def allocations(
    session: SessionDep,
    settings: SettingsDep,
    _: Viewer,
    scenario_id: str,
    district: Annotated[str | None, Query()] = None,
    sector: Annotated[str | None, Query()] = None,
    status: Annotated[Literal["approved", "rejected", "ineligible"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    lang: LangDep = "zh",
) -> s.Page[dict[str, Any]]:
    _job, folder = result_of(session, settings, scenario_id)
    rows = _table(folder, "allocations.csv", lang)
    wanted = {k: v for k, v in (("district", district), ("sector", sector), ("status", status))
              if v is not None}  # fmt: skip
    if wanted:
        rows = [r for r in rows if all(r[k] == v for k, v in wanted.items())]
    return s.Page.of(rows[offset : offset + limit], len(rows), limit, offset)


@router.get(
    "/v1/scenarios/{scenario_id}/resources",
    summary="Supply, purchases, use and marginal value per resource, year and scope",
    responses=FOUND,
)
def resources(
    session: SessionDep, settings: SettingsDep, _: Viewer, scenario_id: str, lang: LangDep = "zh"
) -> list[dict[str, Any]]:
    _job, folder = result_of(session, settings, scenario_id)
    return _table(folder, "resources.csv", lang)


@router.get(
    "/v1/scenarios/{scenario_id}/projects/{project_id}",
    summary="One project's decision with its explanation",
    responses=FOUND,
)
def project(
    session: SessionDep,
    settings: SettingsDep,
    _: Viewer,
    scenario_id: str,
    project_id: str,
    lang: LangDep = "zh",
) -> dict[str, Any]:
    _job, folder = result_of(session, settings, scenario_id)
    rows = _table(folder, "allocations.csv", lang)
    row = next((r for r in rows if r["project_id"] == project_id), None)
    if row is None:
        raise Refused(404, "no project {project} in scenario {id}", project=repr(project_id),
                      id=scenario_id)  # fmt: skip
    return {**row, "explanation_detail": _explanations(folder).get(project_id)}


@router.get(
    "/v1/scenarios/{scenario_id}/reuse-list",
    summary="Findings, flagged parcels or reuse sites as GeoJSON",
    response_class=JSONResponse,
    responses={**MADE, 200: {"content": {"application/geo+json": {}}}},
)
def reuse_list(
    session: SessionDep,
    settings: SettingsDep,
    _: Viewer,
    scenario_id: str,
    layer: Annotated[
        Literal["findings", "flagged_parcels", "sites"],
        Query(
            description="findings: one feature per finding (rule, figure, unit, comparator, "
            "threshold, firm, land user); flagged_parcels: one per parcel; sites: reuse sites."
        ),
    ] = "findings",
    crs: Annotated[
        str,
        Query(
            max_length=100,
            description="Output CRS; RFC 7946 order (longitude, latitude) for geographic ones.",
        ),
    ] = "EPSG:4490",
    lang: LangDep = "zh",
) -> Response:
    job, folder = result_of(session, settings, scenario_id)
    gpkg = folder / "reuse_list.gpkg"
    if not gpkg.exists():
        raise Refused(404, "scenario {id} has no parcel layer, so no reuse list", id=scenario_id)
    try:
        target = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        rule = "not a coordinate reference system pyproj knows"
        return invalid([Problem("request", rule, field="crs", value=crs)], lang)
    key = hashlib.sha256(target.to_wkt().encode()).hexdigest()[:16]
    cached = settings.data_dir / "geojson" / f"{job.result_hash}-{layer}-{key}-{lang}.json"
    release(session)

    def make(path: Path) -> None:
        frame = relabelled(gpd.read_file(gpkg, layer=layer, engine="pyogrio"), lang)
        try:
            frame = frame.to_crs(target)
        except (pyproj.exceptions.ProjError, pyproj.exceptions.CRSError, ValueError):
            frame, finite = frame.iloc[:0], False  # no transformation: another body's CRS
        else:
            finite = bool(np.isfinite(frame.total_bounds).all()) or frame.empty
        if not finite:
            rule = "the city's parcels cannot be expressed in it (another body, or out of its area)"
            raise InputError([Problem("request", rule, field="crs", value=crs)])
        write_text_atomic(path, frame.to_json(drop_id=True, ensure_ascii=False))

    made_once(cached, make)  # results never change: made once per layer, CRS and language
    return FileResponse(cached, media_type="application/geo+json")


@router.get(
    "/v1/scenarios/{scenario_id}/report",
    summary="The result as one self-contained HTML page (map, charts, tables)",
    response_class=HTMLResponse,
    responses={
        **MADE,
        409: {
            "content": {"text/html": {}},
            "description": "Not done yet: a page that reloads itself.",
        },
    },
)
def report(
    session: SessionDep,
    settings: SettingsDep,
    _: Viewer,
    scenario_id: str,
    lang: LangDep = "zh",
) -> Response:
    try:
        job, folder = result_of(session, settings, scenario_id)
    except Refused as exc:  # a person in a browser: a page that says so and looks again
        if exc.status_code != 409:
            raise
        return HTMLResponse(_not_yet(exc.said(lang), lang), status_code=409)
    target = settings.data_dir / "reports" / f"{job.result_hash}-{lang}.html"
    release(session)
    made_once(target, lambda path: write_report(folder, lang, None, path))  # once per language
    return FileResponse(target, media_type="text/html; charset=utf-8")


def _not_yet(detail: str, lang: str) -> str:
    """The page of a report asked for before its scenario is done: it reloads every 10 s."""
    words = "报告尚未生成：情景仍在计算中，本页每 10 秒自动刷新。" if lang == "zh" else (
        "No report yet: the scenario is not done; this page looks again every 10 s.")  # fmt: skip
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta http-equiv="refresh" content="10"><title>409</title></head>'
            f"<body><p>{html.escape(words)}</p><p><code>{html.escape(detail)}</code></p></body></html>")  # fmt: skip


@router.post("/v1/compare", summary="What moved between two scenarios", responses=FOUND)
def compare_scenarios(
    session: SessionDep, settings: SettingsDep, _: Planner, body: s.CompareRequest
) -> dict[str, Any]:
    (_ja, fa), (_jb, fb) = result_of(session, settings, body.a), result_of(session, settings, body.b)  # fmt: skip
    if not (fa / "allocations.csv").exists() or not (fb / "allocations.csv").exists():
        raise Refused(409, "both scenarios need a solution to be compared")
    diff = compare(fa, fb)
    for side, scenario_id in (("a", body.a), ("b", body.b)):
        del diff[side]["folder"]  # the server's path: the caller knows the scenario id
        diff[side]["scenario_id"] = scenario_id
    return diff
