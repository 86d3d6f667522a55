"""Scenarios: submit, list, read the status of, and cancel solves; the scenario schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Response
from sqlalchemy import func, select

from api import schemas as s
from api.deps import LangDep, Planner, Route, SessionDep, SettingsDep, Viewer
from api.jobs import cancel as cancel_job
from api.jobs import job_of, status_of
from api.store import Job
from api.submissions import submit as submit_job

router = APIRouter(tags=["scenarios"], route_class=Route)


@router.post(
    "/v1/scenarios",
    status_code=202,
    summary="Submit a scenario to be solved",
    responses={
        **s.ERRORS,
        404: {"model": s.Error, "description": "Unknown base scenario."},
        413: {"model": s.Error, "description": "Body over max_body_bytes."},
    },
)
def submit(
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    key: Planner,
    body: Annotated[s.Submission, Body(openapi_examples=s.SUBMISSION_EXAMPLES)],
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200, description="Retries with the same key return the first submission."
        ),
    ] = None,
) -> s.Submitted:
    job, replayed = submit_job(session, settings, key, body, idempotency_key)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
        return s.Submitted.of(job, replayed=True)
    response.headers["Location"] = f"/v1/scenarios/{job.id}"
    return s.Submitted.of(job)


@router.get("/v1/scenarios", summary="Submitted scenarios, newest first", responses=s.ERRORS)
def scenarios(
    session: SessionDep,
    _: Viewer,
    status: Annotated[
        Literal["queued", "running", "done", "failed", "cancelled"] | None, Query()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    lang: LangDep = "zh",
) -> s.Page[s.ScenarioStatus]:
    query = select(Job)
    if status:
        query = query.where(Job.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)).all()  # fmt: skip
    return s.Page.of([status_of(session, j, lang) for j in rows], total, limit, offset)


@router.get(
    "/v1/scenarios/{scenario_id}",
    summary="Status of a scenario",
    responses={**s.ERRORS, 404: {"model": s.Error}},
)
def scenario(
    session: SessionDep, _: Viewer, scenario_id: str, lang: LangDep = "zh"
) -> s.ScenarioStatus:
    return status_of(session, job_of(session, scenario_id), lang)


@router.delete(
    "/v1/scenarios/{scenario_id}",
    summary="Cancel a queued or running solve",
    responses={**s.ERRORS, 404: {"model": s.Error}, 409: {"model": s.Error}},
)
def cancel(
    session: SessionDep, key: Planner, scenario_id: str, lang: LangDep = "zh"
) -> s.ScenarioStatus:
    job = job_of(session, scenario_id)
    cancel_job(session, key, job)
    return status_of(session, job, lang)


@router.get("/v1/schema/scenario", summary="JSON Schema of a scenario", responses=s.ERRORS)
def scenario_schema(_: Viewer) -> dict[str, Any]:
    from models.scenario import scenario_schema as schema

    return schema()
