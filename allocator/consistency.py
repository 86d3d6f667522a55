"""Checks between the tables and the scenario: references, windows, the ``requires``
graph, supply rows against the declared resources, and what the scenario names.

Each returns every problem it finds, so that a planner fixes a file once, not once per
problem. ``allocator.inputs.check_inputs`` runs them after each table's own checks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pandas as pd

from models.scenario import Filter, Scenario
from models.tables import Problem

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


@dataclass(frozen=True)
class Known:
    """What a project may refer to outside its table (None: that table or layer is not
    given, so its references are not checked), and how messages name each one."""

    parks: pd.DataFrame | None = None
    firms: pd.Index | None = None
    parcels: frozenset[str] | None = None
    files: dict[str, str] = field(default_factory=dict)  # parks, firms, parcels -> label


Broken = tuple[str, object, str, dict[str, object]]  # field, value, rule template, figures


def _project_problems(pid: str, r: pd.Series, ids: pd.Index, known: Known) -> Iterator[Broken]:  # fmt: skip
    """(field, value, rule template, its figures) of each rule one project breaks."""
    if r.earliest_year > r.latest_year:
        yield ("latest_year", int(r.latest_year), "is before earliest_year {year}",
               {"year": int(r.earliest_year)})  # fmt: skip
    if r.existing_parcel_id and r.kind not in ("expansion", "tech_upgrade"):
        yield "existing_parcel_id", r.existing_parcel_id, "is only for expansion or tech_upgrade", {}  # fmt: skip
    elif r.existing_parcel_id and known.parcels is not None and r.existing_parcel_id not in known.parcels:  # fmt: skip
        yield ("existing_parcel_id", r.existing_parcel_id, "names no parcel of {table}",
               {"table": known.files["parcels"]})  # fmt: skip
    if r.firm_id and known.firms is not None and r.firm_id not in known.firms:
        yield "firm_id", r.firm_id, "names no firm of {table}", {"table": known.files["firms"]}
    if r.two_high_segment and r.two_high_segment not in TWO_HIGH_SEGMENTS:
        yield ("two_high_segment", r.two_high_segment, "must be one of: {choices}",
               {"choices": ", ".join(TWO_HIGH_SEGMENTS)})  # fmt: skip
    parks = known.parks
    if parks is not None and r.park:
        if r.park not in parks.index:
            yield "park", r.park, "is not a park of {table}", {"table": known.files["parks"]}
        elif parks.at[r.park, "district"] != r.district:
            yield ("park", r.park, "lies in {park_district}, not {district}",
                   {"park_district": parks.at[r.park, "district"], "district": r.district})  # fmt: skip
    for fld in ("requires", "excludes"):
        for q in r[fld]:
            if q == pid:
                yield fld, q, "a project cannot refer to itself", {}
            elif q not in ids:
                yield fld, q, "names no project of the table", {}


def check_projects(pr: pd.DataFrame, known: Known, file: str, rows: Mapping[str, int]) -> list[Problem]:  # fmt: skip
    """Each project's window, kind, segment, park, firm, parcel and references to other
    projects; ``rows`` gives each project's row in the file."""
    out = [Problem.of(file, rule, rows[pid], fld, str(value), pid, **figures)
           for pid, r in pr.iterrows()
           for fld, value, rule, figures in _project_problems(str(pid), r, pr.index, known)]  # fmt: skip
    for cycle in _requires_cycles(pr):
        out.append(Problem.of(file, "forms a cycle: {cycle}", rows[cycle[0]], "requires",
                              ";".join(pr.at[cycle[0], "requires"]), cycle[0],
                              cycle=" -> ".join(cycle)))  # fmt: skip
    return out


def check_supplies(sc: Scenario, su: pd.DataFrame, file: str) -> list[Problem]:
    """Each supply row's scope, year and price against the declared resources; duplicate
    rows; declared resources without supply."""
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
                Problem.of(
                    file,
                    "scope of a {scope}-scope resource must be one of: {choices}",
                    row,
                    "scope",
                    r.scope,
                    r.resource,
                    scope=res.scope,
                    choices=", ".join([*allowed, "province_reserve"]),
                )
            )
        if r.year not in years:
            out.append(
                Problem.of(
                    file,
                    "year is outside the scenario horizon {first}–{last}: "
                    "drop the row or widen `horizon`",
                    row,
                    "year",
                    f"{r.year:.0f}",
                    r.resource,
                    first=years[0],
                    last=years[-1],
                )
            )
        if pd.notna(r.price_wan_cny_per_unit) and res.purchase is None:
            out.append(
                Problem.of(
                    file,
                    "resource {resource} declares no purchase market in the scenario",
                    row,
                    "price_wan_cny_per_unit",
                    str(r.price_wan_cny_per_unit),
                    r.resource,
                    resource=r.resource,
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
                Problem.of(
                    file,
                    "no supply rows for declared resource `{resource}`",
                    field="resource",
                    value=name,
                    resource=name,
                )
            )
    return out


def _locks(sc: Scenario, pr: pd.DataFrame, file: str) -> list[Problem]:
    out: list[Problem] = []
    years = sc.horizon.years
    for pid, year in sc.locked_in.items():
        if pid not in pr.index:
            out.append(Problem(file, "names no project of the projects table", field="locked_in",
                               value=pid))  # fmt: skip
            continue
        if year is not None and year not in years:
            out.append(Problem.of(file, "year is outside the horizon {first}–{last}",
                                  field=f"locked_in.{pid}", value=str(year), first=years[0],
                                  last=years[-1]))  # fmt: skip
        elif (
            year is not None
            and not pr.loc[pid, ["earliest_year", "latest_year"]].isna().any()  # else: wrong cells
            and not pr.at[pid, "earliest_year"] <= year <= pr.at[pid, "latest_year"]
        ):
            out.append(Problem(file, "year is outside the project's earliest_year–latest_year window",
                               field=f"locked_in.{pid}", value=str(year)))  # fmt: skip
        if pid in sc.locked_out:
            out.append(Problem(file, "project is both locked in and locked out",
                               field="locked_out", value=pid))  # fmt: skip
    for pid in sc.locked_out:
        if pid not in pr.index:
            out.append(Problem(file, "names no project of the projects table", field="locked_out",
                               value=pid))  # fmt: skip
    return out


def _filter(sc: Scenario, pr: pd.DataFrame, file: str, loc: str, flt: Filter) -> list[Problem]:
    out: list[Problem] = []
    numeric = {c for c in pr.columns if pd.api.types.is_numeric_dtype(pr[c])}
    for col, allowed in (("sector", sc.sectors), ("district", sc.districts)):
        for v in getattr(flt, col) or []:
            if v not in allowed:
                out.append(Problem(file, f"unknown {col}", field=f"{loc}.{col}", value=v))
    for col in [*flt.min, *flt.max]:
        if col not in numeric:
            out.append(Problem(file, "is not a numeric project column", field=f"{loc}.min/max",
                               value=col))  # fmt: skip
    if flt.cluster and "cluster" not in pr.columns:
        out.append(Problem(file, "the projects table has no `cluster` column", field=f"{loc}.cluster"))  # fmt: skip
    return out


def _rules(sc: Scenario, pr: pd.DataFrame, file: str) -> list[Problem]:
    out: list[Problem] = []
    filters = [(f"group_rules.{r.name}.group", r.group) for r in sc.group_rules]
    filters += [(f"count_rules.{r.name}.where", r.where) for r in sc.count_rules]
    for loc, flt in filters:
        out += _filter(sc, pr, file, loc, flt)
    numeric = {c for c in pr.columns if pd.api.types.is_numeric_dtype(pr[c])}
    for rule in sc.group_rules:
        if rule.measure not in sc.resources and rule.measure not in numeric:
            out.append(Problem(file, "is neither a resource nor a numeric project column",
                               field=f"group_rules.{rule.name}.measure", value=rule.measure))  # fmt: skip
    return out


def _closures(sc: Scenario, firms: pd.DataFrame | None, file: str) -> list[Problem]:
    out: list[Problem] = []
    for i, closure in enumerate(sc.closures):
        if firms is None or closure.firm_id not in firms.index:
            out.append(Problem(file, "names no firm of the firms table",
                               field=f"closures.{i}.firm_id", value=closure.firm_id))  # fmt: skip
        if closure.year > sc.horizon.end:
            out.append(Problem(file, "closure after the horizon frees nothing",
                               field=f"closures.{i}.year", value=str(closure.year)))  # fmt: skip
    for name, res in sc.resources.items():
        if res.freed_column and sc.closures and (firms is None or res.freed_column not in firms.columns):  # fmt: skip
            out.append(Problem(file, "the firms table has no such column",
                               field=f"resources.{name}.freed_column", value=res.freed_column))  # fmt: skip
    return out


def check_scenario_refs(
    sc: Scenario, pr: pd.DataFrame, firms: pd.DataFrame | None, file: str
) -> list[Problem]:
    """What the scenario names: locked projects, filters and measures of its rules, closed
    firms and their freed columns."""
    return _locks(sc, pr, file) + _rules(sc, pr, file) + _closures(sc, firms, file)


# The fields a check between tables reads beside the one it names: a problem found there
# while one of those cells is already wrong is that cell's problem, reported once.
READS = {
    "latest_year": {"earliest_year"},
    "existing_parcel_id": {"kind"},
    "park": {"district"},
    "scope": {"resource", "year"},
    "year": {"resource"},
    "price_wan_cny_per_unit": {"resource"},
}


def not_caused_by(problems: list[Problem], wrong: set[tuple[int, str]]) -> list[Problem]:
    """``problems`` but those of a row whose cells they read are in ``wrong`` (row, field)."""
    return [p for p in problems
            if p.row is None or not any((p.row, f) in wrong for f in {p.field, *READS.get(p.field or "", ())})]  # fmt: skip
