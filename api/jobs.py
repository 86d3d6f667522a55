"""From a submitted body to a stored, checked scenario document that a worker can run.

The document stored for a job names its inputs by dataset id. ``materialise`` writes it as an
ordinary scenario file whose data entries are the service's own files, so the worker runs the
very same ``allocator.run.solve_scenario`` as the command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import yaml
from sqlalchemy.orm import Session

from allocator.inputs import load_inputs, validated
from allocator.io import InputError
from api.datasets import REF, REF_RULE, Available, lookup, store_upload
from api.settings import ApiSettings
from api.store import Job
from models.scenario import SOURCE_KEYS, DataSources, load_document, map_sources, merge
from models.tables import Problem


class NotFound(LookupError):
    """A referenced scenario or dataset does not exist (404)."""


@dataclass
class Checked:
    document: dict[str, Any]  # validated, every default written out, inputs by dataset id
    base: str | None
    input_hash: str
    projects: int


def problem_json(p: Problem) -> dict[str, Any]:
    """A problem as the API reports it: where, the value, the rule and the CLI's message."""
    loc = [x for x in (p.file, p.row, p.field) if x is not None]
    return {"loc": loc, "file": p.file, "row": p.row, "field": p.field, "value": p.value,
            "key": p.key, "rule": p.rule, "message": str(p)}  # fmt: skip


def bundled_scenarios(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def _refs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(location, reference) of every input a scenario's ``data`` names."""
    out = [(f"data.{k}", data[k]) for k in SOURCE_KEYS if isinstance(data.get(k), str)]
    out += [(f"data.exclusions.{i}", v) for i, v in enumerate(data.get("exclusions") or [])]
    return out


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


def materialise(document: dict[str, Any], folder: Path, resolve: dict[str, Available]) -> Path:
    """Write ``document`` as ``folder/scenario.yaml`` with each dataset id replaced by the
    service's file (``resolve`` maps id to dataset)."""

    def path_of(ref: str) -> str:
        match = REF.match(ref)
        assert match is not None  # checked on submission
        found = resolve[match["id"]].location
        return f"{found}#{match['layer']}" if match["layer"] else found

    data = map_sources(document["data"], path_of)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scenario.yaml"
    text = yaml.safe_dump({**document, "data": data}, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def check_submission(
    session: Session,
    settings: ApiSettings,
    key_id: str,
    scenario: dict[str, Any] | None,
    base: str | None,
    overrides: dict[str, Any],
    tables: Mapping[str, list[dict[str, Any]]],
    callback_url: str | None,
) -> Checked:
    """Everything the command line would check, plus the server's own limits; raises
    ``InputError`` with every problem, or ``NotFound`` for an unknown base."""
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
                doc = load_document(named[base])
            except ValueError as exc:  # a broken bundled file is the server's fault
                raise RuntimeError(str(exc)) from exc
            doc.pop("extends", None)
            doc["data"] = _as_ids(doc.get("data") or {}, named[base].parent, bundled_dir)
        elif stored is not None:
            doc = json.loads(json.dumps(stored.document))
        else:
            raise NotFound(f"no bundled or stored scenario {base!r}")
        doc = merge(doc, overrides)
    else:
        doc = dict(scenario or {})
    if doc.get("extends") is not None:
        rule = "`extends` names a file on the server; use `base` instead"
        raise InputError([Problem("scenario", rule, field="extends", value=str(doc["extends"]))])
    doc.pop("extends", None)
    given = dict(doc.get("data") or {})
    defaults = _as_ids(DataSources().model_dump(), settings.bundled_scenarios_dir, bundled_dir)
    doc["data"] = {**{k: v for k, v in defaults.items() if k not in given}, **given}

    problems: list[Problem] = []
    for kind, records in tables.items():
        csv = pd.DataFrame(records).to_csv(index=False).encode("utf-8")
        try:
            found, _ = store_upload(
                session,
                settings.data_dir,
                kind,
                f"{kind}.csv",
                csv,
                key_id,
                max_rows={"projects": settings.max_projects},
            )
            doc["data"][kind] = found.id
        except InputError as exc:
            problems += [
                Problem(f"tables.{kind}", p.rule, p.row, p.field, p.value, p.key)
                for p in exc.problems
            ]
    if callback_url is not None:
        parts = urlsplit(callback_url)
        if parts.scheme not in ("http", "https") or parts.hostname not in settings.callback_hosts:
            allowed = ", ".join(settings.callback_hosts) or "none configured"
            rule = f"the host is not on the server's callback_hosts allow-list ({allowed})"
            problems.append(Problem("request", rule, field="callback_url", value=callback_url))
    resolve: dict[str, Available] = {}
    for loc, ref in _refs(doc["data"]):
        match = REF.match(ref)
        if match is None:
            problems.append(Problem("scenario", REF_RULE, field=loc, value=ref))
            continue
        try:
            resolve[match["id"]] = lookup(session, settings.data_dir, bundled_dir, match["id"])
        except KeyError:
            problems.append(Problem("scenario", "no dataset with this id", field=loc, value=ref))
    if problems:
        raise InputError(problems)
    model = validated(doc, "scenario")
    if model.solver.time_limit_s > settings.max_time_limit_s:
        rule = f"exceeds the server limit max_time_limit_s = {settings.max_time_limit_s:g}"
        field, value = "solver.time_limit_s", f"{model.solver.time_limit_s:g}"
        raise InputError([Problem("scenario", rule, field=field, value=value)])
    document = model.model_dump(mode="json")
    with tempfile.TemporaryDirectory(prefix=".check-", dir=_tmp_root(settings)) as tmp:
        path = materialise(document, Path(tmp), resolve)
        try:
            inputs = load_inputs(path)
        except (KeyError, ValueError) as exc:  # as the CLI: a rule the loader states in words
            raise InputError([Problem("scenario", str(exc.args[0]))]) from exc
        except InputError as exc:  # name the datasets, not the server's files
            names = {a.path.name: a.id for a in resolve.values() if a.url is None}
            raise InputError(
                [
                    Problem(
                        names.get(p.file, "scenario" if p.file == path.name else p.file),
                        p.rule,
                        p.row,
                        p.field,
                        p.value,
                        p.key,
                    )
                    for p in exc.problems
                ]
            ) from exc
    if len(inputs.projects) > settings.max_projects:
        rule = f"{len(inputs.projects):,} projects exceed the server limit max_projects = {settings.max_projects:,}"
        raise InputError([Problem("scenario", rule, field="data.projects")])
    content = {
        "scenario": document,
        "datasets": {k: v.sha256 for k, v in sorted(resolve.items())},
        "engine": version("allocator"),
    }
    if any(a.url for a in resolve.values()):  # a table may change: never served from the store
        content["submitted"] = secrets.token_hex(8)
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return Checked(document, base, digest, len(inputs.projects))


def _tmp_root(settings: ApiSettings) -> Path:
    root = settings.data_dir / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


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
