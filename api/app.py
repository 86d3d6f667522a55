"""The HTTP API (versioned under /v1). See ``create_app`` and the OpenAPI at /docs."""

import contextlib
import functools
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import geopandas as gpd
import pandas as pd
import pyproj
from fastapi import (
    Body,
    Depends,
    FastAPI,
    File,
    Form,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
    Security,
    UploadFile,
)
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from allocator.compare import compare
from allocator.io import InputError
from allocator.report import write_report
from api import schemas as s
from api.datasets import KINDS, listing, lookup, register_database, store_upload
from api.jobs import NotFound, check_submission, problem_json
from api.limits import BodyLimit
from api.settings import ApiSettings
from api.store import (
    ROLES,
    ApiKey,
    Idempotency,
    Job,
    Result,
    audit,
    connect,
    create_key,
    find_key,
    migrate,
    now,
)
from api.worker import Dispatcher
from models.result import Summary
from models.tables import Problem

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
BEARER = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": s.Error, "description": "No API key, or an unknown or revoked one."},
    403: {"model": s.Error, "description": "The key's role may not do this."},
    422: {"model": s.Invalid, "description": "Every problem with the request."},
}


def invalid(problems: list[Problem]) -> JSONResponse:
    body = {
        "message": f"invalid input: {len(problems)} problem(s)",
        "detail": [problem_json(p) for p in problems],
    }
    return JSONResponse(body, status_code=422)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings.url)
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as session:
        if session.scalar(select(func.count()).select_from(ApiKey)) == 0:
            _, key = create_key(session, "first admin", "admin")
            print(f"allocator: first admin API key (shown once): {key}", flush=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = Dispatcher(settings, sessions) if settings.run_worker else None
        if dispatcher:
            dispatcher.start()
        app.state.dispatcher = dispatcher
        yield
        if dispatcher:
            dispatcher.stop()
        engine.dispose()

    app = FastAPI(
        title="allocator scenario service",
        version="1.0.0",
        summary="Submit allocation scenarios, poll them, read their results.",
        description=s.DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings, app.state.sessions, app.state.engine = settings, sessions, engine
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
        )

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            loc = [str(x) for x in e["loc"]]
            value = e.get("input")
            shown = None if isinstance(value, dict | list) else value
            if isinstance(shown, bytes):
                shown = None
            problems.append(
                {
                    "loc": loc,
                    "field": ".".join(loc[1:]) or loc[0],
                    "value": shown,
                    "rule": e["msg"],
                    "message": f"{'.'.join(loc)}: {e['msg']}",
                }
            )
        body = {"message": f"invalid request: {len(problems)} problem(s)", "detail": problems}
        return JSONResponse(json.loads(json.dumps(body, default=str)), status_code=422)

    @app.exception_handler(InputError)
    async def _input_invalid(_: Request, exc: InputError) -> JSONResponse:
        return invalid(exc.problems)

    def db() -> Iterator[Session]:
        with sessions.begin() as session:
            yield session

    Db = Annotated[Session, Depends(db, scope="function")]  # committed before the response

    def caller(
        session: Db,
        key: Annotated[str | None, Security(API_KEY)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
    ) -> ApiKey:
        token = key or (bearer.credentials if bearer else None)
        if not token:
            raise HTTPException(
                401,
                "an API key is required (X-API-Key header or bearer token)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        row = find_key(session, token)
        if row is None:
            raise HTTPException(
                401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
            )
        return row

    def role(needed: str) -> Any:
        def check(key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
            if ROLES.index(key.role) < ROLES.index(needed):
                raise HTTPException(403, f"role {key.role} may not do this (needs {needed})")
            return key

        return Depends(check)

    Viewer = Annotated[ApiKey, role("viewer")]
    Planner = Annotated[ApiKey, role("planner")]
    Admin = Annotated[ApiKey, role("admin")]

    def job_of(session: Session, scenario_id: str) -> Job:
        job = session.get(Job, scenario_id)
        if job is None:
            raise HTTPException(404, f"no scenario {scenario_id!r}")
        return job

    def result_of(session: Session, scenario_id: str) -> tuple[Job, Path]:
        job = job_of(session, scenario_id)
        if job.status != "done" or job.result_hash is None:
            raise HTTPException(
                409, f"scenario {scenario_id} is {job.status}; results exist once it is done"
            )
        return job, settings.data_dir / "results" / job.result_hash

    def status_of(session: Session, job: Job) -> s.ScenarioStatus:
        result = session.get(Result, job.result_hash) if job.result_hash else None
        return s.ScenarioStatus.of(job, result)

    # -- health ---------------------------------------------------------------------------
    @app.get("/healthz", tags=["health"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: database and solver",
        responses={503: {"model": s.Error}},
    )
    def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            with engine.connect() as c:
                c.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # reported, not raised: this endpoint answers "not ready"
            checks["database"] = f"unavailable: {type(exc).__name__}"
        checks["solver"] = _solver_check()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    # -- scenarios ------------------------------------------------------------------------
    @app.post(
        "/v1/scenarios",
        status_code=202,
        tags=["scenarios"],
        summary="Submit a scenario to be solved",
        responses={
            **ERRORS,
            404: {"model": s.Error, "description": "Unknown base scenario."},
            413: {"model": s.Error, "description": "Body over max_body_bytes."},
        },
    )
    def submit(
        response: Response,
        session: Db,
        key: Planner,
        body: Annotated[s.Submission, Body(openapi_examples=s.SUBMISSION_EXAMPLES)],
        idempotency_key: Annotated[
            str | None,
            Header(
                max_length=200, description="Retries with the same key return the first submission."
            ),
        ] = None,
    ) -> s.Submitted:
        raw = body.model_dump(mode="json", exclude_unset=True)
        request_sha = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
        if idempotency_key is not None:
            seen = session.get(Idempotency, (key.id, idempotency_key))
            if seen is not None:
                if seen.request_sha256 != request_sha:
                    rule = "was used before with a different request body"
                    raise InputError(
                        [Problem("request", rule, field="Idempotency-Key", value=idempotency_key)]
                    )
                response.headers["Idempotent-Replayed"] = "true"
                return s.Submitted.of(job_of(session, seen.scenario_id), replayed=True)
        scenario = (
            body.scenario.model_dump(mode="json", exclude_unset=True) if body.scenario else None
        )
        try:
            checked = check_submission(
                session,
                settings,
                key.id,
                scenario,
                body.base,
                body.overrides,
                {str(k): v for k, v in body.tables.items()},
                body.callback_url,
            )
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        stored = session.get(Result, checked.input_hash)
        job = Job(
            id="sc_" + secrets.token_hex(8),
            name=checked.document["name"],
            base=body.base,
            document=checked.document,
            input_hash=checked.input_hash,
            status="done" if stored else "queued",
            progress="",
            message="served from the store (identical inputs solved before)" if stored else "",
            problems=[],
            attempts=0,
            cancel_requested=0,
            result_hash=stored.input_hash if stored else None,
            created_at=now(),
            created_by=key.id,
            finished_at=now() if stored else None,
            callback_url=body.callback_url,
            callback_state="pending" if stored and body.callback_url else None,
            callback_next_at=now() if stored and body.callback_url else None,
            callback_attempts=0,
            callback_error="",
        )
        session.add(job)
        session.flush()
        if idempotency_key is not None:
            session.add(
                Idempotency(
                    key_id=key.id,
                    idempotency_key=idempotency_key,
                    request_sha256=request_sha,
                    scenario_id=job.id,
                    created_at=now(),
                )
            )
        audit(
            session,
            key.id,
            "scenario.submit",
            job.id,
            base=body.base,
            input_hash=checked.input_hash,
            projects=checked.projects,
            served_from_store=stored is not None,
        )
        response.headers["Location"] = f"/v1/scenarios/{job.id}"
        return s.Submitted.of(job)

    @app.get(
        "/v1/scenarios",
        tags=["scenarios"],
        summary="Submitted scenarios, newest first",
        responses=ERRORS,
    )
    def scenarios(
        session: Db,
        _: Viewer,
        status: Annotated[
            Literal["queued", "running", "done", "failed", "cancelled"] | None, Query()
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    ) -> s.Page[s.ScenarioStatus]:
        query = select(Job)
        if status:
            query = query.where(Job.status == status)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
        ).all()
        return s.Page.of([status_of(session, j) for j in rows], total, limit, offset)

    @app.get(
        "/v1/scenarios/{scenario_id}",
        tags=["scenarios"],
        summary="Status of a scenario",
        responses={**ERRORS, 404: {"model": s.Error}},
    )
    def scenario(session: Db, _: Viewer, scenario_id: str) -> s.ScenarioStatus:
        return status_of(session, job_of(session, scenario_id))

    @app.delete(
        "/v1/scenarios/{scenario_id}",
        tags=["scenarios"],
        summary="Cancel a queued or running solve",
        responses={**ERRORS, 404: {"model": s.Error}, 409: {"model": s.Error}},
    )
    def cancel(session: Db, key: Planner, scenario_id: str) -> s.ScenarioStatus:
        job = job_of(session, scenario_id)
        if job.status == "queued":
            session.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == "queued")
                .values(status="cancelled", finished_at=now(), message="cancelled before it ran")
            )
        elif job.status == "running":
            job.cancel_requested = 1
        else:
            raise HTTPException(
                409,
                f"scenario {scenario_id} is {job.status}; only a queued "
                "or running scenario can be cancelled",
            )
        audit(session, key.id, "scenario.cancel", job.id, was=job.status)
        session.flush()
        session.refresh(job)
        return status_of(session, job)

    @app.get(
        "/v1/scenarios/{scenario_id}/summary",
        tags=["results"],
        summary="Headline figures, status, gap (and the infeasibility report)",
        response_model=Summary,
        responses={**ERRORS, 404: {"model": s.Error}, 409: {"model": s.Error}},
    )
    def summary(session: Db, _: Viewer, scenario_id: str) -> Response:
        _job, folder = result_of(session, scenario_id)
        path = folder / "summary.json"
        return Response(_cached(path, Path.read_bytes), media_type="application/json")

    @app.get(
        "/v1/scenarios/{scenario_id}/allocations",
        tags=["results"],
        summary="One row per project: decision, start, site, reason",
        responses={**ERRORS, 404: {"model": s.Error}, 409: {"model": s.Error}},
    )
    def allocations(
        session: Db,
        _: Viewer,
        scenario_id: str,
        district: Annotated[str | None, Query()] = None,
        sector: Annotated[str | None, Query()] = None,
        status: Annotated[Literal["approved", "rejected", "ineligible"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    ) -> s.Page[dict[str, Any]]:
        _job, folder = result_of(session, scenario_id)
        rows = _table(folder, "allocations.csv")
        wanted = {k: v for k, v in (("district", district), ("sector", sector), ("status", status))
                  if v is not None}  # fmt: skip
        if wanted:
            rows = [r for r in rows if all(r[k] == v for k, v in wanted.items())]
        return s.Page.of(rows[offset : offset + limit], len(rows), limit, offset)

    @app.get(
        "/v1/scenarios/{scenario_id}/resources",
        tags=["results"],
        summary="Supply, purchases, use and marginal value per resource, year and scope",
        responses={**ERRORS, 404: {"model": s.Error}, 409: {"model": s.Error}},
    )
    def resources(session: Db, _: Viewer, scenario_id: str) -> list[dict[str, Any]]:
        _job, folder = result_of(session, scenario_id)
        return _table(folder, "resources.csv")

    @app.get(
        "/v1/scenarios/{scenario_id}/projects/{project_id}",
        tags=["results"],
        summary="One project's decision with its explanation",
        responses={**ERRORS, 404: {"model": s.Error}, 409: {"model": s.Error}},
    )
    def project(session: Db, _: Viewer, scenario_id: str, project_id: str) -> dict[str, Any]:
        _job, folder = result_of(session, scenario_id)
        row = next((r for r in _table(folder, "allocations.csv") if r["project_id"] == project_id), None)  # fmt: skip
        if row is None:
            raise HTTPException(404, f"no project {project_id!r} in scenario {scenario_id}")
        out = {**row}
        out["explanation_detail"] = _explanations(folder).get(project_id)
        return out

    @app.get(
        "/v1/scenarios/{scenario_id}/reuse-list",
        tags=["results"],
        summary="Flagged parcels (or reuse sites) as GeoJSON",
        response_class=JSONResponse,
        responses={
            **ERRORS,
            404: {"model": s.Error},
            409: {"model": s.Error},
            200: {"content": {"application/geo+json": {}}},
        },
    )
    def reuse_list(
        session: Db,
        _: Viewer,
        scenario_id: str,
        layer: Annotated[Literal["findings", "sites"], Query()] = "findings",
        crs: Annotated[
            str,
            Query(
                max_length=100,
                description="Output CRS; RFC 7946 order (longitude, latitude) for geographic ones.",
            ),
        ] = "EPSG:4490",
    ) -> Response:
        _job, folder = result_of(session, scenario_id)
        gpkg = folder / "reuse_list.gpkg"
        if not gpkg.exists():
            raise HTTPException(
                404, f"scenario {scenario_id} has no parcel layer, so no reuse list"
            )
        try:
            target = pyproj.CRS.from_user_input(crs)
        except pyproj.exceptions.CRSError:
            problem = Problem(
                "request", "not a coordinate reference system pyproj knows", field="crs", value=crs
            )
            return invalid([problem])
        frame = gpd.read_file(gpkg, layer=layer, engine="pyogrio").to_crs(target)
        return Response(
            frame.to_json(drop_id=True, ensure_ascii=False), media_type="application/geo+json"
        )

    @app.get(
        "/v1/scenarios/{scenario_id}/report",
        tags=["results"],
        summary="The result as one self-contained HTML page (map, charts, tables)",
        response_class=HTMLResponse,
        responses={**ERRORS, 404: {"model": s.Error}, 409: {"model": s.Error}},
    )
    def report(
        session: Db,
        _: Viewer,
        scenario_id: str,
        lang: Annotated[Literal["zh", "en"], Query()] = "zh",
    ) -> Response:
        job, folder = result_of(session, scenario_id)
        target = settings.data_dir / "reports" / f"{job.result_hash}-{lang}.html"
        if not target.exists():  # results never change: written once per language
            target.parent.mkdir(parents=True, exist_ok=True)
            write_report(folder, lang, None, target)
        return FileResponse(target, media_type="text/html; charset=utf-8")

    @app.post(
        "/v1/compare",
        tags=["results"],
        summary="What moved between two scenarios",
        responses={**ERRORS, 404: {"model": s.Error}, 409: {"model": s.Error}},
    )
    def compare_scenarios(session: Db, _: Planner, body: s.CompareRequest) -> dict[str, Any]:
        (_ja, fa), (_jb, fb) = result_of(session, body.a), result_of(session, body.b)
        if not (fa / "allocations.csv").exists() or not (fb / "allocations.csv").exists():
            raise HTTPException(409, "both scenarios need a solution to be compared")
        diff = compare(fa, fb)
        for side, scenario_id in (("a", body.a), ("b", body.b)):
            del diff[side]["folder"]  # the server's path: the caller knows the scenario id
            diff[side]["scenario_id"] = scenario_id
        return diff

    # -- datasets -------------------------------------------------------------------------
    @app.post(
        "/v1/datasets",
        status_code=201,
        tags=["datasets"],
        summary="Upload a projects, firms, supplies or parks table or a parcel layer",
        responses={
            **ERRORS,
            200: {"model": s.DatasetInfo, "description": "Already stored."},
            413: {"model": s.Error},
        },
    )
    def upload(
        response: Response,
        session: Db,
        key: Planner,
        file: Annotated[
            UploadFile,
            File(description="CSV, Parquet, .xlsx; GeoPackage, GeoParquet, zipped Shapefile."),
        ],
        kind: Annotated[Literal[KINDS], Form(description="What the file holds.")],  # type: ignore[valid-type]
        layer: Annotated[str | None, Form(max_length=100, pattern=r"^[\w-]+$")] = None,
    ) -> s.DatasetInfo:
        content = file.file.read()
        found, new = store_upload(
            session,
            settings.data_dir,
            kind,
            file.filename or "upload",
            content,
            key.id,
            layer,
            {"projects": settings.max_projects, "parcels": settings.max_parcels},
        )
        if not new:
            response.status_code = 200
        return s.DatasetInfo(**found.describe())

    @app.post(
        "/v1/datasets/database",
        status_code=201,
        tags=["datasets"],
        summary="Register a PostGIS table or query as a dataset (admin only)",
        responses={**ERRORS, 200: {"model": s.DatasetInfo, "description": "Already registered."}},
    )
    def register(
        response: Response, session: Db, key: Admin, body: s.DatabaseDataset
    ) -> s.DatasetInfo:
        found, new = register_database(session, body.url, body.kind, key.id, settings.max_parcels)
        if not new:
            response.status_code = 200
        return s.DatasetInfo(**found.describe())

    @app.get(
        "/v1/datasets", tags=["datasets"], summary="Bundled and uploaded datasets", responses=ERRORS
    )
    def datasets(session: Db, _: Viewer) -> list[s.DatasetInfo]:
        return [
            s.DatasetInfo(**d)
            for d in listing(session, settings.data_dir, settings.bundled_data_dir)
        ]

    @app.get(
        "/v1/datasets/{dataset_id}",
        tags=["datasets"],
        summary="One dataset",
        responses={**ERRORS, 404: {"model": s.Error}},
    )
    def dataset(session: Db, _: Viewer, dataset_id: str) -> s.DatasetInfo:
        try:
            found = lookup(session, settings.data_dir, settings.bundled_data_dir, dataset_id)
        except KeyError:
            raise HTTPException(404, f"no dataset {dataset_id!r}") from None
        return s.DatasetInfo(**found.describe())

    @app.get("/v1/schema/scenario", tags=["scenarios"], summary="JSON Schema of a scenario")
    def scenario_schema() -> dict[str, Any]:
        from models.scenario import scenario_schema as schema

        return schema()

    # -- keys -----------------------------------------------------------------------------
    @app.post(
        "/v1/keys", status_code=201, tags=["keys"], summary="Create an API key", responses=ERRORS
    )
    def new_key(session: Db, key: Admin, body: s.KeyRequest) -> s.KeyCreated:
        row, secret_key = create_key(session, body.name, body.role, by=key.id)
        return s.KeyCreated(
            id=row.id,
            name=row.name,
            role=row.role,
            key=secret_key,
            signing_secret=row.secret,
            created_at=row.created_at,
        )

    @app.get("/v1/keys", tags=["keys"], summary="API keys (without the keys)", responses=ERRORS)
    def keys(session: Db, _: Admin) -> list[s.KeyInfo]:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))
        return [s.KeyInfo.model_validate(r, from_attributes=True) for r in rows]

    @app.delete(
        "/v1/keys/{key_id}",
        tags=["keys"],
        summary="Revoke an API key",
        responses={**ERRORS, 404: {"model": s.Error}},
    )
    def revoke(session: Db, key: Admin, key_id: str) -> s.KeyInfo:
        row = session.get(ApiKey, key_id)
        if row is None:
            raise HTTPException(404, f"no API key {key_id!r}")
        row.revoked_at = row.revoked_at or now()
        audit(session, key.id, "key.revoke", key_id)
        return s.KeyInfo.model_validate(row, from_attributes=True)

    return app


def _solver_check() -> str:
    try:
        import highspy

        highspy.Highs()
        return "ok"
    except Exception as exc:  # reported by /readyz
        return f"unavailable: {type(exc).__name__}"


@functools.lru_cache(maxsize=128)
def _read(path: Path, mtime_ns: int, parse: Callable[[Path], Any]) -> Any:
    del mtime_ns  # part of the key: a rewritten file is read again
    return parse(path)


def _cached(path: Path, parse: Callable[[Path], Any]) -> Any:
    """``parse(path)``, once per version of the file (results never change once written)."""
    return _read(path, path.stat().st_mtime_ns, parse)


def _rows(path: Path) -> list[dict[str, Any]]:
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype={"site_id": str, "start_year": "Int64"})
    return json.loads(frame.to_json(orient="records", force_ascii=False))


def _by_project(path: Path) -> dict[str, Any]:
    return {n["project_id"]: n for n in json.loads(path.read_text(encoding="utf-8"))}


def _table(folder: Path, name: str) -> list[dict[str, Any]]:
    """The rows of a result table."""
    path = folder / name
    if not path.exists():
        raise HTTPException(409, f"this result has no {name} (no solution; see /summary)")
    return _cached(path, _rows)


def _explanations(folder: Path) -> dict[str, Any]:
    path = folder / "explanations.json"
    return _cached(path, _by_project) if path.exists() else {}
