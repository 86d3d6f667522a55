"""Checks between the tables and the scenario: references, windows, the ``requires``
graph, supply rows against the declared resources, and what the scenario names.

Each returns every problem it finds, so that a planner fixes a file once, not once per
problem. ``allocator.inputs.check_inputs`` runs them after each table's own checks.
"""

from __future__ import annotations

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


def check_projects(
    pr: pd.DataFrame, parks: pd.DataFrame | None, file: str, parks_file: str
) -> list[Problem]:
    """Each project's window, kind, segment, park and references to other projects."""
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
                bad(pid, "park", r.park, f"is not a park of {parks_file}")
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


def _locks(sc: Scenario, pr: pd.DataFrame, file: str) -> list[Problem]:
    out: list[Problem] = []
    years = sc.horizon.years
    for pid, year in sc.locked_in.items():
        if pid not in pr.index:
            out.append(Problem(file, "names no project of the projects table", field="locked_in",
                               value=pid))  # fmt: skip
            continue
        if year is not None and year not in years:
            out.append(Problem(file, f"year is outside the horizon {years[0]}–{years[-1]}",
                               field=f"locked_in.{pid}", value=str(year)))  # fmt: skip
        elif (
            year is not None
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
