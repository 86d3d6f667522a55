"""A run's result for people, in memory: the tables and the summary that
``allocator.writers.folder`` writes as a result folder.

``allocations`` (one row per project, with its reason and explanation), ``resources`` (one
row per resource, year and scope, with marginal values and a note), ``placements``,
``checks`` (every eligibility rule), ``explanations`` (the records behind each project's
words) and ``summary``. Numbers are rounded to fixed decimals so that the same inputs give
byte-identical files.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from allocator.engine import Run
from allocator.explain.reasons import reasons
from allocator.explain.records import explanations, note
from allocator.land.scan import LandScan
from models.result import DECIMALS, SUPPLY_KEYS, ResourceUse, Summary
from models.scenario import Scenario


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("allocator", "highspy", "ortools", "PuLP", "pandas", "numpy", "scipy", "pydantic"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


VERSIONS = _versions()  # read once, at import


@dataclass
class Result:
    """Everything a result folder holds, in memory (tables without a solution are None)."""

    scenario: Scenario
    lang: str
    checks: pd.DataFrame
    allocations: pd.DataFrame | None
    explanations: list[dict[str, Any]] | None
    resources: pd.DataFrame | None
    placements: pd.DataFrame | None
    land: LandScan | None
    parks: pd.DataFrame | None
    summary: Summary


def result_of(run: Run) -> Result:
    """The result tables and summary of a run."""
    checks = run.prep.eligibility.checks.copy()
    checks[["figure", "threshold"]] = checks[["figure", "threshold"]].astype(float).round(6)
    allocations = notes = resources = placements = None
    if run.evaluation is not None:
        allocations = allocations_table(run)
        if run.marginals is not None:
            notes = explanations(run, allocations)
            allocations["opportunity_cost_wan_cny"] = [
                n.get("opportunity_cost_wan_cny") for n in notes
            ]
            allocations["explanation"] = [n["text"] for n in notes]
        resources = resources_table(run)
        if run.prep.land is not None:
            placements = placements_table(run)
    return Result(run.prep.scenario, run.lang, checks, allocations, notes, resources,
                  placements, run.prep.land, run.prep.inputs.parks, summary(run, allocations))  # fmt: skip


def allocations_table(run: Run) -> pd.DataFrame:
    sc = run.prep.scenario
    pr = run.prep.inputs.projects
    code, detail = reasons(run)
    status = np.where(
        run.prep.eligibility.reason != "",
        "ineligible",
        np.where(pr.index.isin(run.starts.index), "approved", "rejected"),
    )
    values = run.prep.pairs.set_index(["project_id", "year"])["value_wan_cny"]
    first = run.prep.pairs.drop_duplicates("project_id").set_index("project_id")["value_wan_cny"]
    start = run.starts.reindex(pr.index)
    keys = pd.MultiIndex.from_arrays([pr.index, start.fillna(0).astype(int)])
    value = values.reindex(keys).to_numpy()
    value = np.where(start.notna(), value, first.reindex(pr.index).to_numpy())
    out = pd.DataFrame(
        {
            "project_id": pr.index,
            "name": pr["name"].to_numpy(),
            "district": pr["district"].to_numpy(),
            "sector": pr["sector"].to_numpy(),
            "kind": pr["kind"].to_numpy(),
            "status": status,
            "start_year": pd.array(start, dtype="Int64"),
            "value_wan_cny": np.round(value, DECIMALS),
        }
    )
    approved = pr.index.isin(run.starts.index)
    on_site = pr.index.isin(run.placed.index)
    for name, res in sc.resources.items():
        amount = run.prep.demand[name].reindex(pr.index).fillna(0.0).to_numpy()
        used = approved & ~(on_site & res.new_land)  # a project on a reuse site takes no quota
        out[f"{name}_{res.unit}"] = np.round(np.where(used, amount, 0.0), DECIMALS) + 0.0
    out["site_id"] = pr.index.map(run.placed).fillna("").to_numpy()
    out["land_source"] = np.select(
        [
            ~approved,
            on_site,
            pr["existing_parcel_id"].notna().to_numpy(),
            (pr["land_mu"] > 0).to_numpy(),
        ],
        ["", "reuse", "existing_parcel", "new_quota"],
        "none",
    )
    out["reason"] = code.to_numpy()
    out["reason_detail"] = detail.to_numpy()
    return out


def placements_table(run: Run) -> pd.DataFrame:
    """One row per project placed on a reuse site, with the site's figures."""
    sites = run.prep.sites.set_index("site_id")
    placed = run.placed.sort_index()
    land = run.prep.inputs.projects["land_mu"]
    return pd.DataFrame({
        "site_id": placed.to_numpy(), "project_id": placed.index,
        "start_year": run.starts.reindex(placed.index).to_numpy(),
        "land_mu": land.reindex(placed.index).to_numpy(),
        "site_area_mu": sites["area_mu"].reindex(placed.to_numpy()).to_numpy(),
        "source": sites["source"].reindex(placed.to_numpy()).to_numpy(),
        "available_year": sites["available_year"].reindex(placed.to_numpy()).to_numpy(),
        "acquisition_cost_wan_cny": sites["acquisition_cost_wan_cny"].reindex(placed.to_numpy()).to_numpy(),
    }).sort_values(["site_id", "project_id"], ignore_index=True)  # fmt: skip


def land_summary(run: Run) -> dict[str, object]:
    land = run.prep.land
    if land is None:
        return {}
    found = land.findings[land.findings["result"] == "finding"]["rule"].value_counts().sort_index()
    placed = run.placed
    area = run.prep.inputs.projects["land_mu"]
    quota = [n for n, r in run.prep.scenario.resources.items() if r.new_land]
    new_quota = sum(
        float(run.prep.demand[n].reindex(run.starts.index.difference(placed.index)).sum())
        for n in quota
    )
    return {
        "parcels": len(land.parcels), "flagged_parcels": len(land.reuse_list),
        "findings": {str(k): int(v) for k, v in found.items()}, "sites": len(land.sites),
        "reusable_mu": round(float(land.sites["area_mu"].sum()), 4),
        "quota_earned_mu": round(float(land.earned_quota["amount_mu"].sum()), 4),
        "projects_on_sites": len(placed), "sites_used": int(placed.nunique()),
        "reused_mu": round(float(area.reindex(placed.index).sum()), 4),
        "new_quota_mu": round(new_quota, 4), "warnings": len(land.warnings),
    }  # fmt: skip


def resources_table(run: Run) -> pd.DataFrame:
    assert run.evaluation is not None
    table = run.evaluation.resources.copy()
    units = {k: r.unit for k, r in run.prep.scenario.resources.items()}
    table.insert(1, "unit", table["resource"].map(units))
    if run.marginals is not None:
        table = table.merge(run.marginals, on=SUPPLY_KEYS, how="left")
        table["marginal_note"] = table.apply(note, axis=1, lang=run.lang)
        table = table.drop(columns="mip_note")
    num = table.select_dtypes("number").columns.drop("year")
    table[num] = table[num].round(DECIMALS) + 0.0
    return table


def _resource_use(run: Run) -> list[ResourceUse]:
    """Supply, purchases, carry-in and use per resource and year (scopes summed)."""
    ev = run.evaluation
    if ev is None:
        return []
    units = {k: r.unit for k, r in run.prep.scenario.resources.items()}
    grouped = ev.resources.groupby(["resource", "year"], sort=False)[
        ["supply", "purchased", "carried_in", "used"]
    ].sum()
    return [ResourceUse(resource=name, unit=units[name], year=year,
                        supply=round(r.supply, DECIMALS), purchased=round(r.purchased, DECIMALS),
                        carried_in=round(r.carried_in, DECIMALS), used=round(r.used, DECIMALS))
            for (name, year), r in grouped.iterrows()]  # fmt: skip


def _rounded(v: float | None, d: int = DECIMALS) -> float | None:
    return None if v is None else round(v, d)


def _solution(run: Run) -> dict[str, Any]:
    """Status, objective, bound and gap of the written allocation. Its value is the
    evaluator's: at least the solver's (a stopped solver may pay for a site it does not
    use), at most the bound."""
    res, ev = run.result, run.evaluation
    status, message = res.status.value, res.message
    if ev is not None and not ev.ok:
        status = "error"
        message = f"the evaluator rejected the solution: {len(ev.violations)} violations"
    objective = ev.objective if ev is not None else res.objective
    gap = res.gap
    if objective is not None and res.bound is not None and ev is not None:
        gap = max(res.bound - objective, 0.0) / max(abs(objective), 1.0)
    evaluator = {} if ev is None else {"ok": ev.ok, "objective_wan_cny": round(ev.objective, DECIMALS),
                                       "violations": ev.violations[:50]}  # fmt: skip
    return {"status": status, "message": message, "objective_wan_cny": _rounded(objective),
            "solver_objective_wan_cny": _rounded(res.objective), "bound_wan_cny": _rounded(res.bound),
            "gap": _rounded(gap, 8), "evaluator": evaluator,
            "objective_parts": {k: round(v, DECIMALS) for k, v in ev.parts.items()} if ev else {}}  # fmt: skip


def _solver(run: Run) -> dict[str, Any]:
    """The backend, what it was asked for, what it said beyond the status, the model's size."""
    res, lp = run.result, run.model.lp
    details = dict(res.details)
    if isinstance(details.get("rows_rounded"), list):  # CP-SAT: the count, not every name
        details["rows_rounded"] = len(details["rows_rounded"])  # type: ignore[arg-type]
    if run.duals_from is not None:
        details["duals_from"] = run.duals_from
    size = {"columns": lp.shape[1], "rows": lp.shape[0], "nonzeros": int(lp.A.nnz),
            "integer_columns": int(lp.integer.sum())}  # fmt: skip
    return {"backend": res.backend, "solver_version": res.solver_version,
            "seed": run.settings.seed, "threads": run.settings.threads,
            "time_limit_s": run.settings.time_limit_s, "gap_limit": run.settings.gap_rel,
            "model_size": size, "backend_details": details}  # fmt: skip


def summary(run: Run, allocations: pd.DataFrame | None) -> Summary:
    sc = run.prep.scenario
    counts = {}
    if allocations is not None:
        counts = {"projects": allocations["status"].value_counts().sort_index().to_dict(),
                  "reasons": allocations["reason"].value_counts().sort_index().to_dict()}  # fmt: skip
    times = {f"{k}_time_s": round(run.times.get(f"{k}_s", 0.0), 3) for k in ("build", "solve", "total")}  # fmt: skip
    return Summary(
        scenario=sc.name, as_of=sc.as_of.isoformat(), horizon=sc.horizon.years, lang=run.lang,
        **_solution(run), **_solver(run), **counts, resource_use=_resource_use(run),
        diagnosis=run.diagnosis, land=land_summary(run),
        input_sha256=dict(sorted(run.prep.inputs.hashes.items())),
        input_encodings=dict(sorted(run.prep.inputs.given.encodings.items())), versions=VERSIONS,
        land_scan_time_s=round(run.times.get("scan_s", 0.0), 3), **times,
    )  # fmt: skip
