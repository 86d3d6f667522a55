"""Load a scenario and its tables, and check them against each other.

``load_inputs`` gathers every problem of the scenario and of every table (columns, cells,
references between tables, the ``requires`` graph) before it gives up, so that a planner
fixes a file once, not once per problem.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from pydantic import ValidationError

from allocator.io import InputError, file_sha256, read_table
from allocator.land.layers import is_layer, read_layer, restore_shapefile_names, split_source
from models.scenario import Scenario, load_document
from models.tables import FIRMS, PARKS, PROJECTS, SUPPLIES, Problem, TableSpec, parse_table

TWO_HIGH_SEGMENTS = (
    "steel",
    "ferro_alloys",
    "electrolytic_aluminium",
    "cement",
    "lime",
    "building_ceramics",
    "flat_glass",
    "coal_power",
    "refining",
    "coking",
    "methanol",
    "nitrogen_fertiliser",
    "acetic_acid",
    "chlor_alkali",
    "calcium_carbide",
    "asphalt_waterproofing",
)


@dataclass
class Inputs:
    """A validated scenario with its typed tables (indexed by their ids)."""

    scenario: Scenario
    path: Path
    projects: pd.DataFrame
    supplies: pd.DataFrame
    firms: pd.DataFrame | None = None
    parks: pd.DataFrame | None = None
    hashes: dict[str, str] = field(default_factory=dict)


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; every problem becomes a ``Problem``."""
    if not path.exists():
        raise InputError([Problem(path.name, f"scenario file not found: {path}")])
    try:
        document = load_document(path)
    except ValueError as exc:
        raise InputError([Problem(path.name, str(exc))]) from exc
    return validated(document, path.name)


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


def _numeric_columns(scenario: Scenario) -> list[str]:
    """Project columns the scenario needs beyond the fixed schema."""
    cols = list(scenario.data.extra_project_columns)
    for res in scenario.resources.values():
        cols += [c for c in (res.demand_column, res.deduct_column) if c]
    if scenario.objective.value_column:
        cols.append(scenario.objective.value_column)
    return list(dict.fromkeys(cols))


def _load(
    base: Path, source: str, spec: TableSpec, problems: list[Problem], **kw: object
) -> pd.DataFrame | None:
    """Read and check one table (or the attributes of a layer, ``file#layer``, whose
    geometry is kept); add its problems; return it only if it has none."""
    geometry = None
    try:
        if is_layer(source):
            frame, label = read_layer(base, source)
            frame = restore_shapefile_names(frame, [c.name for c in spec.columns])
            geometry = frame.geometry
            raw = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        else:
            label = Path(source).name
            raw = read_table(base / source)
    except InputError as exc:
        problems.extend(exc.problems)
        return None
    table, found = parse_table(raw, spec, label, **kw)  # type: ignore[arg-type]
    problems.extend(found)
    if found:
        return None
    if geometry is not None:
        table = gpd.GeoDataFrame(table, geometry=geometry.to_numpy(), crs=geometry.crs)
    return table.set_index(spec.key, drop=False)


def _requires_cycles(projects: pd.DataFrame) -> list[list[str]]:
    """Cycles of the ``requires`` graph (each once), by depth-first search."""
    graph = {
        pid: [q for q in reqs if q in projects.index] for pid, reqs in projects["requires"].items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            succ = graph[node]
            if i < len(succ):
                stack.append((node, i + 1))
                nxt = succ[i]
                if state.get(nxt) == 1:
                    cycles.append([*path[path.index(nxt) :], nxt])
                elif not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return cycles


def _check_projects(
    sc: Scenario, pr: pd.DataFrame, parks: pd.DataFrame | None, file: str
) -> list[Problem]:
    out: list[Problem] = []

    def bad(pid: str, fld: str, value: object, rule: str) -> None:
        row = int(pr.index.get_loc(pid)) + 2 if pid in pr.index else None
        out.append(Problem(file, rule, row, fld, str(value), pid))

    for pid, r in pr.iterrows():
        if r.earliest_year > r.latest_year:
            bad(
                pid,
                "latest_year",
                int(r.latest_year),
                f"is before earliest_year {int(r.earliest_year)}",
            )
        if r.existing_parcel_id and r.kind not in ("expansion", "tech_upgrade"):
            bad(
                pid,
                "existing_parcel_id",
                r.existing_parcel_id,
                "is only for expansion or tech_upgrade",
            )
        if r.two_high_segment and r.two_high_segment not in TWO_HIGH_SEGMENTS:
            bad(
                pid,
                "two_high_segment",
                r.two_high_segment,
                "must be one of: " + ", ".join(TWO_HIGH_SEGMENTS),
            )
        if parks is not None and r.park:
            if r.park not in parks.index:
                bad(pid, "park", r.park, f"is not a park of {Path(sc.data.parks or '').name}")
            elif parks.at[r.park, "district"] != r.district:
                bad(
                    pid,
                    "park",
                    r.park,
                    f"lies in {parks.at[r.park, 'district']}, not {r.district}",
                )
        for fld in ("requires", "excludes"):
            for q in r[fld]:
                if q == pid:
                    bad(pid, fld, q, "a project cannot refer to itself")
                elif q not in pr.index:
                    bad(pid, fld, q, "names no project of the table")
    for cycle in _requires_cycles(pr):
        bad(
            cycle[0],
            "requires",
            ";".join(pr.at[cycle[0], "requires"]),
            "forms a cycle: " + " -> ".join(cycle),
        )
    return out


def _check_supplies(sc: Scenario, su: pd.DataFrame, file: str) -> list[Problem]:
    out: list[Problem] = []
    years = sc.horizon.years
    for i, r in su.iterrows():
        row = int(i) + 2
        res = sc.resources.get(r.resource)
        if res is None:
            continue
        allowed = ["city"] if res.scope == "city" else list(sc.districts)
        if r.scope not in [*allowed, "province_reserve"]:
            out.append(
                Problem(
                    file,
                    f"scope of a {res.scope}-scope resource must be one of: "
                    + ", ".join([*allowed, "province_reserve"]),
                    row,
                    "scope",
                    r.scope,
                    r.resource,
                )
            )
        if r.year not in years:
            out.append(
                Problem(
                    file,
                    f"year is outside the scenario horizon {years[0]}–{years[-1]}: "
                    "drop the row or widen `horizon`",
                    row,
                    "year",
                    str(int(r.year)),
                    r.resource,
                )
            )
        if pd.notna(r.price_wan_cny_per_unit) and res.purchase is None:
            out.append(
                Problem(
                    file,
                    f"resource {r.resource} declares no purchase market in the scenario",
                    row,
                    "price_wan_cny_per_unit",
                    str(r.price_wan_cny_per_unit),
                    r.resource,
                )
            )
    dup = su.duplicated(["resource", "year", "scope"], keep="first")
    for i in su.index[dup]:
        r = su.loc[i]
        out.append(
            Problem(
                file,
                "duplicate (resource, year, scope) row",
                int(i) + 2,
                "scope",
                r.scope,
                r.resource,
            )
        )
    for name in sc.resources:
        if not (su["resource"] == name).any():
            out.append(
                Problem(
                    file,
                    f"no supply rows for declared resource `{name}`",
                    field="resource",
                    value=name,
                )
            )
    return out


def _check_scenario_refs(
    sc: Scenario, pr: pd.DataFrame, firms: pd.DataFrame | None, file: str
) -> list[Problem]:
    out: list[Problem] = []
    years = sc.horizon.years
    for pid, year in sc.locked_in.items():
        if pid not in pr.index:
            out.append(
                Problem(
                    file, "names no project of the projects table", field="locked_in", value=pid
                )
            )
            continue
        if year is not None and year not in years:
            out.append(
                Problem(
                    file,
                    f"year is outside the horizon {years[0]}–{years[-1]}",
                    field=f"locked_in.{pid}",
                    value=str(year),
                )
            )
        elif (
            year is not None
            and not pr.at[pid, "earliest_year"] <= year <= pr.at[pid, "latest_year"]
        ):
            out.append(
                Problem(
                    file,
                    "year is outside the project's earliest_year–latest_year window",
                    field=f"locked_in.{pid}",
                    value=str(year),
                )
            )
        if pid in sc.locked_out:
            out.append(
                Problem(
                    file, "project is both locked in and locked out", field="locked_out", value=pid
                )
            )
    for pid in sc.locked_out:
        if pid not in pr.index:
            out.append(
                Problem(
                    file, "names no project of the projects table", field="locked_out", value=pid
                )
            )
    numeric = {c for c in pr.columns if pd.api.types.is_numeric_dtype(pr[c])}
    filters = [(f"group_rules.{r.name}.group", r.group) for r in sc.group_rules]
    filters += [(f"count_rules.{r.name}.where", r.where) for r in sc.count_rules]
    for loc, flt in filters:
        for col, allowed in (("sector", sc.sectors), ("district", sc.districts)):
            for v in getattr(flt, col) or []:
                if v not in allowed:
                    out.append(Problem(file, f"unknown {col}", field=f"{loc}.{col}", value=v))
        for col in [*flt.min, *flt.max]:
            if col not in numeric:
                out.append(
                    Problem(
                        file, "is not a numeric project column", field=f"{loc}.min/max", value=col
                    )
                )
        if flt.cluster and "cluster" not in pr.columns:
            out.append(
                Problem(file, "the projects table has no `cluster` column", field=f"{loc}.cluster")
            )
    for rule in sc.group_rules:
        if rule.measure not in sc.resources and rule.measure not in numeric:
            out.append(
                Problem(
                    file,
                    "is neither a resource nor a numeric project column",
                    field=f"group_rules.{rule.name}.measure",
                    value=rule.measure,
                )
            )
    for i, closure in enumerate(sc.closures):
        if firms is None or closure.firm_id not in firms.index:
            out.append(
                Problem(
                    file,
                    "names no firm of the firms table",
                    field=f"closures.{i}.firm_id",
                    value=closure.firm_id,
                )
            )
        if closure.year > years[-1]:
            out.append(
                Problem(
                    file,
                    "closure after the horizon frees nothing",
                    field=f"closures.{i}.year",
                    value=str(closure.year),
                )
            )
    for name, res in sc.resources.items():
        if (
            res.freed_column
            and sc.closures
            and (firms is None or res.freed_column not in firms.columns)
        ):
            out.append(
                Problem(
                    file,
                    "the firms table has no such column",
                    field=f"resources.{name}.freed_column",
                    value=res.freed_column,
                )
            )
    return out


def load_inputs(path: Path) -> Inputs:
    """Load and check everything a scenario needs; raise ``InputError`` with all problems."""
    scenario = load_scenario(path)
    base = path.parent
    src = scenario.data
    problems: list[Problem] = []
    parks = None
    if src.parks:
        parks = _load(
            base,
            src.parks,
            PARKS,
            problems,
            choices={"district": scenario.districts, "leading_sectors": list(scenario.sectors)},
        )
    projects = _load(
        base,
        src.projects,
        PROJECTS,
        problems,
        choices={"district": scenario.districts, "sector": list(scenario.sectors)},
        extra_columns=_numeric_columns(scenario),
    )
    supplies = _load(
        base, src.supplies, SUPPLIES, problems, choices={"resource": list(scenario.resources)}
    )
    firms = _load(base, src.firms, FIRMS, problems) if src.firms else None
    if supplies is not None:
        problems += _check_supplies(
            scenario, supplies.reset_index(drop=True), Path(src.supplies).name
        )
    if projects is not None:
        problems += _check_projects(scenario, projects, parks, Path(src.projects).name)
        problems += _check_scenario_refs(scenario, projects, firms, path.name)
    if problems or projects is None or supplies is None:
        raise InputError(problems)
    hashes = {"scenario": hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()}
    for label in ("projects", "supplies", "firms", "parks"):
        name = getattr(src, label)
        if name:
            hashes[label] = file_sha256(base / split_source(name)[0])
    return Inputs(scenario, path, projects, supplies.reset_index(drop=True), firms, parks, hashes)
