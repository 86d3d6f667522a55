"""Submissions: from a request body to a stored, checked scenario document that a worker
can run (``check_submission``), queued as a job (``submit``).

The document stored for a job names its inputs by dataset id. ``read_job_inputs`` reads the
datasets it names (the service's own files or registered database tables) into memory and
checks them, naming each problem by dataset id; the worker hands them to the very same
``allocator.engine.solve`` as the command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from allocator.errors import InputError
from allocator.inputs import Inputs, check_inputs, validated
from allocator.sources import read_tables
from allocator.sources.files import read_document
from api.datasets import REF, REF_RULE, Available, bundled, lookup, store_upload
from api.deps import Refused
from api.schemas import Submission
from api.settings import ApiSettings
from api.store import ApiKey, Idempotency, Job, Result, audit, now
from models.scenario import DataSources, map_sources, merge, source_entries
from models.tables import Problem


@dataclass
class Checked:
    document: dict[str, Any]  # validated, every default written out, inputs by dataset id
    base: str | None
    input_hash: str
    projects: int


def bundled_scenarios(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def _refs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(location, reference) of every input a scenario's ``data`` names."""
    return [(f"data.{name}", ref) for name, ref in source_entries(data)]


def _as_ids(data: dict[str, Any], scenario_dir: Path, bundled_dir: Path) -> dict[str, Any]:
    """Paths of a bundled scenario (relative to its folder) as bundled dataset ids."""

    def to_id(value: str) -> str:
        path, _, layer = value.partition("#")
        full = Path(os.path.normpath(scenario_dir.resolve() / path))
        try:
            rel = full.relative_to(bundled_dir.resolve())
        except ValueError:
            return value
        if len(rel.parts) != 2:
            return value
        ref = f"{rel.parts[0]}.{Path(rel.parts[1]).stem}".lower()
        return f"{ref}#{layer}" if layer else ref

    return map_sources(data, to_id)


def read_job_inputs(document: dict[str, Any], locations: Mapping[str, str]) -> Inputs:
    """The checked inputs of a stored document; ``locations`` maps each dataset id it names
    to the service's file or database table. Problems name datasets by id."""

    def locate(ref: str) -> tuple[str, str]:
        match = REF.match(ref)
        assert match is not None  # checked on submission
        found = locations[match["id"]]
        return (f"{found}#{match['layer']}" if match["layer"] else found), ref

    scenario = validated(document, "scenario")
    tables, problems = read_tables(scenario.data, Path("/"), locate)
    tables = replace(tables, labels={**tables.labels, "scenario": "scenario"})
    return check_inputs(scenario, tables, problems)


def _document(session: Session, settings: ApiSettings, scenario: dict[str, Any] | None,
              base: str | None, overrides: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The submitted scenario document: the full one, or a bundled or stored base with the
    overrides merged on; its data entries by dataset id, defaults the bundled sample's."""
    if (scenario is None) == (base is None):
        rule = "give either `scenario` (a full scenario) or `base` (with `overrides`)"
        raise InputError([Problem("request", rule, field="scenario")])
    if scenario is not None and overrides:
        rule = "`overrides` apply to a `base` only; put the changes in `scenario`"
        raise InputError([Problem("request", rule, field="overrides")])
    bundled_dir = settings.bundled_data_dir
    if base is not None:
        named = bundled_scenarios(settings.bundled_scenarios_dir)
        stored = session.get(Job, base)
        if base in named:
            try:
                doc = read_document(named[base])
            except InputError as exc:  # a broken bundled file is the server's fault (500)
                raise RuntimeError(f"bundled scenario {base!r} is broken: {exc}") from exc
            doc.pop("extends", None)
            doc["data"] = _as_ids(doc.get("data") or {}, named[base].parent, bundled_dir)
        elif stored is not None:
            doc = json.loads(json.dumps(stored.document))
        else:
            raise Refused(404, "no bundled or stored scenario {base}", base=repr(base))
        doc = merge(doc, overrides)
    else:
        doc = dict(scenario or {})
    if doc.get("extends") is not None:
        rule = "`extends` names a file on the server; use `base` instead"
        raise InputError([Problem("scenario", rule, field="extends", value=str(doc["extends"]))])
    doc.pop("extends", None)
    if not isinstance(doc.get("data") or {}, dict):
        rule = "must be a mapping of table names to dataset ids"
        raise InputError([Problem("scenario", rule, field="data", value=str(doc["data"])[:200])])
    given = dict(doc.get("data") or {})
    defaults = _as_ids(DataSources().model_dump(), settings.bundled_scenarios_dir, bundled_dir)
    known = bundled(bundled_dir)  # an optional default the bundle lacks is none, not refused
    missing = {k for k, v in defaults.items() if isinstance(v, str)
               and k not in ("projects", "supplies") and v.partition("#")[0] not in known}  # fmt: skip
    defaults = {k: None if k in missing else v for k, v in defaults.items()}
    doc["data"] = {**{k: v for k, v in defaults.items() if k not in given}, **given}
    return doc


def _inline_tables(session: Session, settings: ApiSettings, key_id: str, doc: dict[str, Any],
                   tables: Mapping[str, list[dict[str, Any]]]) -> list[Problem]:  # fmt: skip
    """Store each table given inline as a dataset named in ``doc``; their problems."""
    problems: list[Problem] = []
    for kind, records in tables.items():
        csv = pd.DataFrame(records).to_csv(index=False).encode("utf-8")
        try:
            found, _ = store_upload(session, settings.data_dir, kind, f"{kind}.csv", csv, key_id,
                                    max_rows={"projects": settings.max_projects})  # fmt: skip
            doc["data"][kind] = found.id
        except InputError as exc:
            problems += [Problem(f"tables.{kind}", p.rule, p.row, p.field, p.value, p.key)
                         for p in exc.problems]  # fmt: skip
    return problems


def _resolved(session: Session, settings: ApiSettings, data: dict[str, Any],
              problems: list[Problem]) -> dict[str, Available]:  # fmt: skip
    """The dataset of each id ``data`` names; a problem for each reference that is not one."""
    resolve: dict[str, Available] = {}
    for loc, ref in _refs(data):
        match = REF.match(ref)
        if match is None:
            problems.append(Problem("scenario", REF_RULE, field=loc, value=ref))
            continue
        try:
            resolve[match["id"]] = lookup(session, settings.data_dir, settings.bundled_data_dir,
                                          match["id"])  # fmt: skip
        except KeyError:
            problems.append(Problem("scenario", "no dataset with this id", field=loc, value=ref))
    return resolve


def check_submission(
    session: Session,
    settings: ApiSettings,
    key_id: str,
    body: Submission,
) -> Checked:
    """Everything the command line would check, plus the server's own limits; raises
    ``InputError`` with every problem, or ``Refused`` (404) for an unknown base."""
    scenario = body.scenario.model_dump(mode="json", exclude_unset=True) if body.scenario else None
    doc = _document(session, settings, scenario, body.base, body.overrides)
    problems = _inline_tables(
        session, settings, key_id, doc, {str(k): v for k, v in body.tables.items()}
    )
    if body.callback_url is not None:
        parts = urlsplit(body.callback_url)
        if parts.scheme not in ("http", "https") or parts.hostname not in settings.callback_hosts:
            allowed = ", ".join(settings.callback_hosts) or "none configured"
            rule = f"the host is not on the server's callback_hosts allow-list ({allowed})"
            problems.append(Problem("request", rule, field="callback_url", value=body.callback_url))
    resolve = _resolved(session, settings, doc["data"], problems)
    if problems:
        raise InputError(problems)
    model = validated(doc, "scenario")
    if model.solver.time_limit_s > settings.max_time_limit_s:
        rule = f"exceeds the server limit max_time_limit_s = {settings.max_time_limit_s:g}"
        field, value = "solver.time_limit_s", f"{model.solver.time_limit_s:g}"
        raise InputError([Problem("scenario", rule, field=field, value=value)])
    document = model.model_dump(mode="json")
    inputs = read_job_inputs(document, {k: a.location for k, a in resolve.items()})
    if len(inputs.projects) > settings.max_projects:
        rule = f"{len(inputs.projects):,} projects exceed the server limit max_projects = {settings.max_projects:,}"
        raise InputError([Problem("scenario", rule, field="data.projects")])
    content = {"scenario": document, "datasets": {k: v.sha256 for k, v in sorted(resolve.items())},
               "engine": version("allocator")}  # fmt: skip
    if any(a.url for a in resolve.values()):  # a table may change: never served from the store
        content["submitted"] = secrets.token_hex(8)
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return Checked(document, body.base, digest, len(inputs.projects))


def _job(checked: Checked, stored: Result | None, key_id: str, callback_url: str | None) -> Job:
    """A new job for a checked submission (done at once when the store has its result)."""
    done = stored is not None
    return Job(
        id="sc_" + secrets.token_hex(8), name=checked.document["name"], base=checked.base,
        document=checked.document, input_hash=checked.input_hash,
        status="done" if done else "queued", progress="",
        message="served from the store (identical inputs solved before)" if done else "",
        problems=[], attempts=0, cancel_requested=0,
        result_hash=stored.input_hash if stored else None, created_at=now(), created_by=key_id,
        finished_at=now() if done else None, callback_url=callback_url,
        callback_state="pending" if done and callback_url else None,
        callback_next_at=now() if done and callback_url else None,
        callback_attempts=0, callback_error="",
    )  # fmt: skip


def _replay(session: Session, key: ApiKey, idempotency_key: str, request_sha: str) -> Job | None:
    """The job first submitted with this idempotency key, if any (the same body only)."""
    seen = session.get(Idempotency, (key.id, idempotency_key))
    if seen is None:
        return None
    if seen.request_sha256 != request_sha:
        rule = "was used before with a different request body"
        raise InputError([Problem("request", rule, field="Idempotency-Key", value=idempotency_key)])
    job = session.get(Job, seen.scenario_id)
    assert job is not None  # a foreign key
    return job


def submit(session: Session, settings: ApiSettings, key: ApiKey, body: Submission,
           idempotency_key: str | None) -> tuple[Job, bool]:  # fmt: skip
    """A submission checked and queued (or served from the store); with an idempotency key
    used before for the same body, the first job. Returns the job and whether it is a
    replay. Retries racing with one idempotency key: the first to commit creates the job,
    the others (refused by the key's primary key, or by SQLite's write lock) answer with
    it."""
    raw = body.model_dump(mode="json", exclude_unset=True)
    request_sha = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    if idempotency_key is not None:
        first = _replay(session, key, idempotency_key, request_sha)
        if first is not None:
            return first, True
    checked = check_submission(session, settings, key.id, body)
    stored = session.get(Result, checked.input_hash)
    job = _job(checked, stored, key.id, body.callback_url)
    try:
        session.add(job)
        session.flush()
        if idempotency_key is not None:
            session.add(Idempotency(key_id=key.id, idempotency_key=idempotency_key,
                                    request_sha256=request_sha, scenario_id=job.id, created_at=now()))  # fmt: skip
        audit(session, key.id, "scenario.submit", job.id, base=body.base,
              input_hash=checked.input_hash, projects=checked.projects,
              served_from_store=stored is not None)  # fmt: skip
        if idempotency_key is not None:
            session.commit()  # the claim: here one of the racing retries wins
    except (IntegrityError, OperationalError):
        if idempotency_key is None:
            raise
        session.rollback()
        first = _replay(session, key, idempotency_key, request_sha)
        if first is None:
            raise
        return first, True
    return job, False


def resolve_all(
    session: Session, settings: ApiSettings, document: dict[str, Any]
) -> dict[str, Available]:
    out = {}
    for _, ref in _refs(document["data"]):
        match = REF.match(ref)
        if match is not None:
            out[match["id"]] = lookup(
                session, settings.data_dir, settings.bundled_data_dir, match["id"]
            )
    return out
