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

import difflib
import hashlib
import unicodedata
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
from allocator.words import LANGS, code_of, input_headers, label
from models.scenario import Scenario
from models.tables import FIRMS, PARKS, PROJECTS, SUPPLIES, Problem, TableSpec, one_of, parse_table

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
            figures = tuple((k, str(v)) for k, v in (err.get("ctx") or {}).items())
            problems.append(Problem(file, err["msg"], field=loc or None, value=shown,
                                    template=f"pydantic:{err['type']}", figures=figures))  # fmt: skip
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


# Columns whose cells may be given by label (滕州市, 高端装备) instead of code, and the kind
# of label (allocator.words); list columns map each `;`-separated item.
BY_LABEL = {"district": "district", "sector": "sector", "kind": "kind",
            "major_level": "major_level", "zone_level": "zone_level", "resource": "resource",
            "scope": "scope", "leading_sectors": "sector"}  # fmt: skip
TOTAL_WORDS = {"合计", "总计", "小计", "total", "sum", "subtotal"}
TOTAL_ROW = "a total row: each row must be one record; remove total rows"


def _nearest(text: str, names: Sequence[str]) -> str:
    """The accepted names nearest to ``text``, listed, or "" when none is near."""
    return ", ".join(difflib.get_close_matches(text, names, n=3, cutoff=0.4))


def _in_codes(raw: pd.DataFrame, spec: TableSpec, file: str, extra: Sequence[str],
              choices: Mapping[str, Sequence[str]]) -> tuple[pd.DataFrame, list[Problem]]:  # fmt: skip
    """A table as people fill it in, in codes: Chinese or English headers (the documented
    ones, ``allocator.words.input_headers``) renamed to their columns, labels in coded
    columns replaced by their codes; full-width forms in headers read as their ASCII twins
    (Unicode NFKC: （亩） is (亩)). Stated rules for spreadsheets from bureaus: the first
    row holds the headers, one per column (a column without a header — merged header cells,
    several header rows — is refused), and a row whose id cell is 合计, 总计, 小计 or total is a
    total row, refused (each row must be one record). A value that is neither a code nor a
    label of one is named with the nearest accepted names."""
    columns = [c.name for c in spec.columns] + list(extra)
    aliases = input_headers(spec.name, tuple(c.name for c in spec.columns))
    problems: list[Problem] = []
    renamed: dict[Any, str] = {}
    dropped = []  # reported here, not again as unknown columns
    for head in raw.columns:
        text = unicodedata.normalize("NFKC", str(head)).strip()  # （亩） reads as (亩)
        if text in columns or text in aliases:
            renamed[head] = aliases.get(text, text)
        elif text.startswith("Unnamed:") or not text:
            rule = ("this column has no header (merged header cells, or several header rows?): "
                    "the first row must hold one header per column, every later row one record")  # fmt: skip
            problems.append(Problem(file, rule, field=text or "(empty)"))
            dropped.append(head)
        elif not text.isascii():
            near = _nearest(text, [*aliases, *columns])
            rule = "unknown column; nearest accepted: {near}" if near else "unknown column"
            problems.append(Problem.of(file, rule, field=text, near=near))
            dropped.append(head)
    frame = raw.drop(columns=dropped).rename(columns=renamed)
    if spec.key in frame.columns:
        keys = frame[spec.key].astype(str).str.strip().str.lower()
        for i in frame.index[keys.isin(TOTAL_WORDS)]:
            problems.append(Problem(file, TOTAL_ROW, int(i) + 2, spec.key, str(frame.at[i, spec.key])))  # fmt: skip
    for column, kind in BY_LABEL.items():
        spec_column = spec.column(column)
        if column not in frame.columns or spec_column is None:
            continue
        split = spec_column.kind == "list"
        frame[column] = frame[column].map(lambda v, k=kind, s=split: _coded(v, k, s))
        allowed = list(choices.get(column, spec_column.choices or ()))
        if not allowed:
            continue
        names = [*allowed, *(label(kind, c, lang) for c in allowed for lang in LANGS)]
        shown = one_of(tuple(f"{label(kind, c, 'zh')} ({c})" for c in allowed))
        for i, value in frame[column].items():
            items = value.split(";") if split and isinstance(value, str) else [value]
            for item in (x.strip() for x in items if isinstance(x, str)):
                if item and item not in allowed:
                    near = _nearest(item, names)
                    rule = "must be one of: {choices}" + (
                        "; nearest accepted: {near}" if near else ""
                    )
                    key = frame.at[i, spec.key] if spec.key in frame.columns else None
                    problems.append(Problem.of(file, rule, int(i) + 2, column, item,
                                               str(key) if key else None, choices=shown, near=near))  # fmt: skip
    return frame, problems


def _coded(value: Any, kind: str, split: bool) -> Any:
    """A cell given by label in its code (other cells unchanged)."""
    if not isinstance(value, str):
        return value
    if split:
        return ";".join(code_of(kind, x.strip()) or x.strip() for x in value.split(";"))
    return code_of(kind, value.strip()) or value


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
    raw, own = _in_codes(raw, spec, label, kw.get("extra_columns", ()), kw.get("choices", {}))
    table, found = parse_table(raw, spec, label, **kw)
    said = {(p.row, p.field) for p in own}
    totals = {p.row for p in own if p.field == spec.key and p.rule == TOTAL_ROW}
    found = own + [p for p in found if (p.row, p.field) not in said and p.row not in totals]
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
