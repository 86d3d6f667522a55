"""A scenario's inputs in memory: as given (``Tables``) and checked (``Inputs``).

``Tables`` holds the tables and layers as they were read or built: raw cells (text from a
CSV, or typed by Parquet and Excel, or whatever a caller put in a frame) and layers as
GeoDataFrames in their own coordinate system. ``check_inputs`` types every table against
its schema and the scenario, checks the tables against each other (``consistency``) and
gathers every problem before it gives up, so that a planner fixes a file once, not once per
problem. Nothing here reads a file: ``allocator.sources`` does, and so can any caller that
builds the frames itself.

>>> import pandas as pd
>>> from models.scenario import Scenario
>>> supplies = pd.DataFrame({"resource": ["energy"], "year": [2027], "scope": ["city"],
...                          "amount": [-5.0]})
>>> check_inputs(Scenario(), Tables(supplies=supplies))
Traceback (most recent call last):
...
allocator.errors.InputError: projects: the table is missing
supplies row 2 (energy): field `amount` = '-5' must be ≥ 0
supplies: field `resource` = 'land_quota' no supply rows for declared resource `land_quota`
supplies: field `resource` = 'coal' no supply rows for declared resource `coal`
supplies: field `resource` = 'bond' no supply rows for declared resource `bond`
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from pydantic import ValidationError

from allocator.consistency import (
    Known,
    check_projects,
    check_scenario_refs,
    check_supplies,
    not_caused_by,
)
from allocator.errors import InputError
from models.scenario import Scenario
from models.tables import FIRMS, PARKS, PROJECTS, SUPPLIES, Problem, TableSpec, parse_table

TABLES = ("projects", "supplies", "firms", "parks")  # hashed into summary.json


@dataclass(frozen=True)
class Tables:
    """A scenario's inputs as given, before any check. ``parks`` may be a table or a
    polygon layer; ``parcels``, ``districts`` and ``exclusions`` are the land scan's
    layers. ``labels`` name each input in messages (its file, its dataset id; the
    scenario's under ``scenario``); ``hashes`` are the sha256 of the files read, and
    ``encodings`` the encodings the CSV files were read in."""

    projects: pd.DataFrame | None = None
    supplies: pd.DataFrame | None = None
    firms: pd.DataFrame | None = None
    parks: pd.DataFrame | None = None
    parcels: gpd.GeoDataFrame | None = None
    districts: gpd.GeoDataFrame | None = None
    exclusions: tuple[gpd.GeoDataFrame, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    hashes: Mapping[str, str] = field(default_factory=dict)
    encodings: Mapping[str, str] = field(default_factory=dict)

    def label(self, name: str) -> str:
        return self.labels.get(name, name)


@dataclass
class Inputs:
    """A validated scenario with its typed tables (indexed by their ids), and the tables as
    given (the land scan's layers, the labels of messages)."""

    scenario: Scenario
    projects: pd.DataFrame
    supplies: pd.DataFrame
    firms: pd.DataFrame | None
    parks: pd.DataFrame | None
    given: Tables
    hashes: dict[str, str]  # sha256 of the scenario and of each table (summary.json)

    def label(self, name: str) -> str:
        return self.given.label(name)


def validated(document: dict[str, Any], file: str) -> Scenario:
    """The scenario of a document; every rule it breaks becomes a ``Problem`` of ``file``."""
    try:
        return Scenario.model_validate(document)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            value = err.get("input")
            shown = None if isinstance(value, dict | list) else str(value)
            problems.append(Problem(file, err["msg"], field=loc or None, value=shown))
        raise InputError(problems) from exc


def content_sha256(frame: pd.DataFrame) -> str:
    """A hash of a frame's content: column names, cells and index, and the geometries and
    coordinate system of a GeoDataFrame (0.5 s for 500,000 parcels)."""
    digest = hashlib.sha256()
    attrs = frame
    if isinstance(frame, gpd.GeoDataFrame):
        attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        digest.update(str(frame.crs).encode())
        for wkb in shapely.to_wkb(frame.geometry.to_numpy()):
            digest.update(wkb or b"")
    digest.update(repr(list(attrs.columns)).encode())
    cells = attrs.astype({c: str for c in attrs.columns if attrs[c].dtype == object})  # lists too
    digest.update(pd.util.hash_pandas_object(cells, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def _numeric_columns(scenario: Scenario) -> list[str]:
    """Project columns the scenario needs beyond the fixed schema."""
    cols = list(scenario.data.extra_project_columns)
    for res in scenario.resources.values():
        cols += [c for c in (res.demand_column, res.deduct_column) if c]
    if scenario.objective.value_column:
        cols.append(scenario.objective.value_column)
    return list(dict.fromkeys(cols))


@dataclass
class _Parsed:
    """A table typed as far as it goes (None when a column is wrong), and its wrong cells
    as (file row, field)."""

    table: pd.DataFrame | None
    wrong: set[tuple[int, str]]


def _parse(raw: pd.DataFrame, spec: TableSpec, label: str, problems: list[Problem], **kw: Any) -> _Parsed:  # fmt: skip
    """Type and check one table (or the attributes of a layer, whose geometry is kept);
    add its problems."""
    geometry = raw.geometry if isinstance(raw, gpd.GeoDataFrame) else None
    if geometry is not None:
        raw = pd.DataFrame(raw.drop(columns=geometry.name))
    table, found = parse_table(raw, spec, label, **kw)
    problems.extend(found)
    if any(p.row is None for p in found):  # a column is missing or wrong: nothing to check
        return _Parsed(None, set())
    if geometry is not None:
        table = gpd.GeoDataFrame(table, geometry=geometry.to_numpy(), crs=geometry.crs)
    return _Parsed(table, {(p.row, p.field or "") for p in found if p.row is not None})


def _table(tables: Tables, name: str, spec: TableSpec, problems: list[Problem], **kw: Any) -> _Parsed:  # fmt: skip
    raw = getattr(tables, name)
    label = tables.label(name)
    if raw is None:
        if name in ("projects", "supplies") and not any(p.file == label for p in problems):
            problems.append(Problem(label, "the table is missing"))
        return _Parsed(None, set())
    return _parse(raw, spec, label, problems, **kw)


def _indexed(parsed: _Parsed, key: str) -> pd.DataFrame | None:
    """The typed table indexed by its ids (the first row of a repeated id)."""
    if parsed.table is None:
        return None
    return parsed.table[~parsed.table[key].duplicated()].set_index(key, drop=False)


def _known(tables: Tables, parks: pd.DataFrame | None, firms: pd.DataFrame | None) -> Known:
    parcels = tables.parcels
    ids = None
    if parcels is not None and "parcel_id" in parcels.columns:
        ids = frozenset(parcels["parcel_id"].dropna().astype(str))
    files = {n: tables.label(n) for n in ("parks", "firms", "parcels")}
    return Known(parks, None if firms is None else firms.index, ids, files)


def _cross_checks(scenario: Scenario, tables: Tables, parsed: dict[str, _Parsed],
                  parks: pd.DataFrame | None, firms: pd.DataFrame | None) -> list[Problem]:  # fmt: skip
    """The checks between tables, on the cells that are right (a wrong cell is reported
    once, by its own table's check)."""
    found: list[Problem] = []
    supplies = parsed["supplies"].table
    if supplies is not None:
        problems = check_supplies(scenario, supplies, tables.label("supplies"))
        found += not_caused_by(problems, parsed["supplies"].wrong)
    table = parsed["projects"].table
    projects = _indexed(parsed["projects"], "project_id")
    if table is not None and projects is not None:
        rows: dict[str, int] = {}  # each id's first row in the file
        for i, pid in enumerate(table["project_id"]):
            rows.setdefault(pid, i + 2)
        known = _known(tables, parks, firms)
        problems = check_projects(projects, known, tables.label("projects"), rows)
        found += not_caused_by(problems, parsed["projects"].wrong)
        found += check_scenario_refs(scenario, projects, firms, tables.label("scenario"))
    return found


def check_inputs(scenario: Scenario, tables: Tables, problems: Sequence[Problem] = ()) -> Inputs:
    """Type and check every table, then the tables against each other on every row whose
    own cells are right; raise ``InputError`` with every problem at once, including
    ``problems`` already found (e.g. files that could not be read)."""
    found = list(problems)
    sectors = list(scenario.sectors)
    parsed = {
        "parks": _table(tables, "parks", PARKS, found,
                        choices={"district": scenario.districts, "leading_sectors": sectors}),
        "projects": _table(tables, "projects", PROJECTS, found,
                           choices={"district": scenario.districts, "sector": sectors},
                           extra_columns=_numeric_columns(scenario)),
        "supplies": _table(tables, "supplies", SUPPLIES, found,
                           choices={"resource": list(scenario.resources)}),
        "firms": _table(tables, "firms", FIRMS, found),
    }  # fmt: skip
    parks, firms = _indexed(parsed["parks"], "park"), _indexed(parsed["firms"], "firm_id")
    found += _cross_checks(scenario, tables, parsed, parks, firms)
    if found:
        raise InputError(found)
    projects, supplies = _indexed(parsed["projects"], "project_id"), parsed["supplies"].table
    assert projects is not None and supplies is not None  # else a problem was found
    hashes = {"scenario": hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()}
    for name in TABLES:
        raw = getattr(tables, name)
        if raw is not None:
            hashes[name] = tables.hashes.get(name) or content_sha256(raw)
    return Inputs(scenario, projects, supplies.reset_index(drop=True), firms, parks, tables, hashes)
