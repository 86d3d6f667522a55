"""Request and response bodies of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from api.errors import told
from api.store import Job, Result
from models.result import Summary
from models.scenario import Scenario

T = TypeVar("T")

DESCRIPTION = """
Approval workflows submit allocation scenarios, poll them and read their results.

* **Keys.** Every `/v1` call needs an API key, as `X-API-Key: <key>` or
  `Authorization: Bearer <key>`. Roles: `viewer` reads, `planner` also submits, uploads and
  compares, `admin` also manages keys. 401 without a valid key, 403 for a role that may not.
* **Inputs** are named by dataset id (`GET /v1/datasets`): bundled ones such as
  `sample.projects` or `sample.city#parcels`, uploaded ones (`POST /v1/datasets`) as
  `ds_<16 hex>`, or tables given inline in the request. Paths and URLs are refused.
* **Jobs.** `POST /v1/scenarios` answers 202 with the scenario id; poll
  `GET /v1/scenarios/{id}` until `status` is `done`, `failed` or `cancelled`. A `done` job
  has `result_status` `optimal`, `feasible` or `infeasible` (with the relaxation report in
  its summary). Identical inputs are solved once and served from the store.
* **Retries.** Send an `Idempotency-Key` header with a submission; a retry with the same key
  and body returns the first submission (`Idempotent-Replayed: true`), never a second run.
* **Callbacks.** With `callback_url` (a host on the server's allow-list), the service POSTs
  `{scenario_id, status, message, summary, timestamp}` when the job ends, with headers
  `X-Allocator-Timestamp` (Unix seconds) and `X-Allocator-Signature: sha256=<hex>`, the
  HMAC-SHA256 of `<timestamp>.<body>` under the submitting key's signing secret; retried with
  exponential backoff.
* **Errors.** 422 bodies list every problem as `{loc, field, value, rule, message}`, with the
  same messages as the command line; 413 when the body exceeds the server's size limit.
"""


class Error(BaseModel):
    detail: str = Field(..., description="What went wrong, in words.")


class Problem(BaseModel):
    loc: list[str | int] = Field(..., description="Where: file or part of the request, row, field.")
    field: str | None = None
    value: Any = None
    rule: str = Field(..., description="The rule the value breaks.")
    message: str = Field(..., description="The same text as the command line prints.")
    file: str | None = None
    row: int | None = None
    key: str | None = Field(None, description="The record's id (e.g. its project_id).")


def _utc(value: dt.datetime) -> dt.datetime:
    """Times are stored as naive UTC: answered with their offset (``…Z``)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


Utc = Annotated[dt.datetime, AfterValidator(_utc)]


class Invalid(BaseModel):
    message: str
    detail: list[Problem]


ERRORS: dict[int | str, dict[str, Any]] = {  # the answers every /v1 route may give
    400: {"model": Error, "description": "A body that is not JSON in UTF-8."},
    401: {"model": Error, "description": "No API key, or an unknown or revoked one."},
    403: {"model": Error, "description": "The key's role may not do this."},
    422: {"model": Invalid, "description": "Every problem with the request."},
}


MAX_DEPTH = 32  # a scenario nests a few levels: deeper is no scenario
MAX_STRING = 10_000  # characters of one string: names, descriptions, table cells


def _hostile(value: Any, depth: int = 0, where: str = "") -> str | None:
    """Where ``value`` nests deeper than ``MAX_DEPTH`` or holds a string that is too long or
    no text (a lone surrogate), the place and why; else None."""
    if depth > MAX_DEPTH:
        return f"{where or 'body'}: nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return (
                f"{where or 'body'}: a string of {len(value):,} characters (at most {MAX_STRING:,})"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where or 'body'}: holds a lone surrogate (U+D800 to U+DFFF), not text"
        return None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found = _hostile(str(key), depth + 1, where) or _hostile(
            item, depth + 1, f"{where}.{key}".lstrip(".")
        )
        if found:
            return found
    return None


class Submission(BaseModel):
    """Either a full scenario, or a base scenario with overrides merged onto it."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        found = _hostile(data)
        if found:
            raise ValueError(found)
        return data

    scenario: Scenario | None = Field(
        None,
        description="A full scenario (the schema of the YAML files; GET /v1/schema/scenario). "
        "`data` names datasets by id; omitted entries are the bundled sample's.",
    )
    base: str | None = Field(
        None,
        max_length=200,
        description="A bundled scenario name (`baseline`) or a stored scenario id (`sc_...`).",
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Merged onto `base`: mappings key by key, anything else replaced.",
    )
    tables: dict[Literal["projects", "firms", "supplies", "parks"], list[dict[str, Any]]] = Field(
        default_factory=dict,
        description="Tables given inline, one object per row; each is checked, stored as a "
        "dataset and used in place of the scenario's `data` entry.",
    )
    callback_url: str | None = Field(
        None, max_length=2000, description="POSTed the signed summary when the job ends."
    )


SUBMISSION_EXAMPLES: dict[str, Any] = {
    "base": {
        "summary": "A bundled scenario with every energy supply row cut by 10%",
        "value": {
            "base": "baseline",
            "overrides": {
                "name": "energy_cut_10",
                "resources": {"energy": {"supply_factor": 0.9}},
                "solver": {"time_limit_s": 120},
            },
        },
    },
    "full": {
        "summary": "A full scenario on the bundled sample data",
        "value": {
            "scenario": {
                "name": "no_land_scan",
                "data": {"parks": "sample.city#parks", "parcels": None, "districts": None},
                "horizon": {"start": 2027, "end": 2029},
                "solver": {"time_limit_s": 60, "gap_rel": 0.001},
            }
        },
    },
}


class Links(BaseModel):
    self: str
    summary: str
    allocations: str
    resources: str
    reuse_list: str


class Submitted(BaseModel):
    id: str
    status: str
    status_url: str
    deduplicated: bool = Field(False, description="Served from the store: solved before.")
    replayed: bool = Field(False, description="A retry with the same Idempotency-Key.")

    @classmethod
    def of(cls, job: Job, replayed: bool = False) -> Submitted:
        return cls(
            id=job.id,
            status=job.status,
            status_url=f"/v1/scenarios/{job.id}",
            deduplicated=job.status == "done" and job.started_at is None,
            replayed=replayed,
        )


class ScenarioStatus(BaseModel):
    id: str
    name: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    result_status: str | None = Field(None, description="optimal, feasible, infeasible, ...")
    progress: str = Field("", description="The solve's current step, in words.")
    message: str = ""
    problems: list[dict[str, Any]] = Field(
        default_factory=list, description="Input problems found when the job ran."
    )
    base: str | None
    input_hash: str
    attempts: int
    created_at: Utc
    started_at: Utc | None
    finished_at: Utc | None
    wall_s: float | None
    callback: dict[str, Any] | None = None
    summary: Summary | None = None
    links: Links

    @classmethod
    def of(cls, job: Job, result: Result | None, lang: str) -> ScenarioStatus:
        """A job's status; its input problems said in ``lang`` (each stored in both)."""
        base = f"/v1/scenarios/{job.id}"
        callback = None
        if job.callback_url:
            callback = {
                "url": job.callback_url,
                "state": job.callback_state,
                "attempts": job.callback_attempts,
                "error": job.callback_error,
            }
        return cls(
            id=job.id,
            name=job.name,
            status=job.status,
            result_status=result.status if result else None,
            progress=job.progress,
            message=job.message,
            problems=told(job.problems, lang),
            base=job.base,
            input_hash=job.input_hash,
            attempts=job.attempts,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            wall_s=job.wall_s,
            callback=callback,
            summary=Summary.model_validate(result.summary) if result else None,
            links=Links(
                self=base,
                summary=f"{base}/summary",
                allocations=f"{base}/allocations",
                resources=f"{base}/resources",
                reuse_list=f"{base}/reuse-list",
            ),
        )


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None

    @classmethod
    def of(cls, items: list[T], total: int, limit: int, offset: int) -> Page[T]:
        nxt = offset + limit if offset + limit < total else None
        return cls(items=items, total=total, limit=limit, offset=offset, next_offset=nxt)


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: str = Field(..., max_length=40, description="Scenario id of side A.")
    b: str = Field(..., max_length=40, description="Scenario id of side B.")


class DatasetInfo(BaseModel):
    id: str
    kind: str
    source: Literal["bundled", "upload", "database"]
    sha256: str
    rows: int | None
    layers: list[str]
    file: str
    created_at: Utc | None = None


class DatabaseDataset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(..., max_length=2000, description="postgresql://…#table or #query:SELECT …")
    kind: Literal["parcels", "layer"]


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=200)
    role: Literal["viewer", "planner", "admin"]


class KeyInfo(BaseModel):
    id: str
    name: str
    role: str
    created_at: Utc
    revoked_at: Utc | None = None


class KeyCreated(KeyInfo):
    key: str = Field(..., description="The API key; shown once, stored only as a hash.")
    signing_secret: str = Field(..., description="Signs this key's callbacks (HMAC-SHA256).")
