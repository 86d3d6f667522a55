"""Jobs as the routes see them: found by id, their result folder once done, their status,
cancelled."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from api import schemas as s
from api.deps import Refused
from api.settings import ApiSettings
from api.store import ApiKey, Job, Result, audit, now


def job_of(session: Session, scenario_id: str) -> Job:
    job = session.get(Job, scenario_id)
    if job is None:
        raise Refused(404, "no scenario {id}", id=repr(scenario_id))
    return job


def result_of(session: Session, settings: ApiSettings, scenario_id: str) -> tuple[Job, Path]:
    """A done job and its result folder (409 before it is done)."""
    job = job_of(session, scenario_id)
    if job.status != "done" or job.result_hash is None:
        raise Refused(409, "scenario {id} is {state}; results exist once it is done",
                      id=scenario_id, state=job.status)  # fmt: skip
    return job, settings.data_dir / "results" / job.result_hash


def release(session: Session) -> None:
    """End the request's transaction now, so that the slow reading that follows (a layer, a
    report) holds no database connection; the request writes nothing after it."""
    session.commit()


def status_of(session: Session, job: Job, lang: str) -> s.ScenarioStatus:
    result = session.get(Result, job.result_hash) if job.result_hash else None
    return s.ScenarioStatus.of(job, result, lang)


def cancel(session: Session, key: ApiKey, job: Job) -> None:
    """Cancel a queued job at once; ask a running one's worker to stop it (409 otherwise)."""
    if job.status == "queued":
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == "queued")
            .values(status="cancelled", finished_at=now(), message="cancelled before it ran")
        )
    elif job.status == "running":
        job.cancel_requested = 1
    else:
        raise Refused(409, "scenario {id} is {state}; only a queued or running scenario can be "
                      "cancelled", id=job.id, state=job.status)  # fmt: skip
    audit(session, key.id, "scenario.cancel", job.id, was=job.status)
    session.flush()
    session.refresh(job)
