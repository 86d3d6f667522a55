"""Result tables and the result folder of a run.

Files: ``allocations.csv`` (one row per project), ``resources.csv`` (one row per resource,
year and scope), ``eligibility.csv`` (every rule checked, with figure and threshold) and
``summary.json``. CSV files are UTF-8 with BOM; numbers are rounded to fixed decimals so
that the same inputs give byte-identical files.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.explain import explanations
from allocator.io import atomic_dir, write_csv, write_json
from allocator.land.output import write_basemap, write_reuse_list
from allocator.marginals import KEYS, note
from allocator.run import Run
from models.result import ResourceUse, Summary

DECIMALS = 4


def _reasons(run: Run) -> tuple[pd.Series, pd.Series]:
    """Reason code and detail per project, in the order of the projects table."""
    sc = run.prep.scenario
    pr = run.prep.inputs.projects
    el = run.prep.eligibility
    starts = run.starts
    code = pd.Series("", index=pr.index, dtype=object)
    detail = pd.Series("", index=pr.index, dtype=object)
    fails = el.checks[el.checks["result"] == "fail"].drop_duplicates("project_id")
    for r in fails.itertuples():
        detail[r.project_id] = (
            f"{r.rule}: {r.figure:.4g} {r.unit}, must be {r.comparator} {r.threshold:.4g}"
        )
    for pid in pr.index:
        if el.reason[pid]:
            code[pid] = el.reason[pid]
            if el.reason[pid] == "NOT_OFFERED":
                detail[pid] = (
                    f"window {pr.at[pid, 'earliest_year']}–{pr.at[pid, 'latest_year']} "
                    f"outside the horizon {sc.horizon.start}–{sc.horizon.end}"
                )
        elif pid in starts.index:
            code[pid] = "LOCKED_IN" if pid in sc.locked_in else "APPROVED"
        elif pid in sc.locked_out:
            code[pid] = "LOCKED_OUT"
        elif missing := [q for q in pr.at[pid, "requires"] if q not in starts.index]:
            code[pid], detail[pid] = "REQUIRES_UNMET", ";".join(missing)
        elif rivals := [q for q in pr.at[pid, "excludes"] if q in starts.index]:
            code[pid], detail[pid] = "EXCLUDED_BY", ";".join(rivals)
        else:
            code[pid] = "OUTCOMPETED"
    return code, detail


def allocations_table(run: Run) -> pd.DataFrame:
    sc = run.prep.scenario
    pr = run.prep.inputs.projects
    code, detail = _reasons(run)
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
            "start_year": start.astype("Int64").to_numpy(),
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
        table = table.merge(run.marginals, on=KEYS, how="left")
        table["marginal_note"] = table.apply(note, axis=1)
        table = table.drop(columns="mip_note")
    num = table.select_dtypes("number").columns.drop("year")
    table[num] = table[num].round(DECIMALS) + 0.0
    return table


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("allocator", "highspy", "ortools", "PuLP", "pandas", "numpy", "scipy", "pydantic"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def summary(run: Run, allocations: pd.DataFrame | None) -> Summary:
    sc = run.prep.scenario
    res = run.result
    ev = run.evaluation
    use = []
    if ev is not None:
        grouped = ev.resources.groupby(["resource", "year"], sort=False)[
            ["supply", "purchased", "carried_in", "used"]
        ].sum()
        for (name, year), r in grouped.iterrows():
            use.append(
                ResourceUse(
                    resource=name,
                    unit=sc.resources[name].unit,
                    year=year,
                    supply=round(r.supply, DECIMALS),
                    purchased=round(r.purchased, DECIMALS),
                    carried_in=round(r.carried_in, DECIMALS),
                    used=round(r.used, DECIMALS),
                )
            )
    status = res.status.value
    message = res.message
    if ev is not None and not ev.ok:
        status, message = (
            "error",
            f"the evaluator rejected the solution: {len(ev.violations)} violations",
        )

    def rnd(v: float | None, d: int = DECIMALS) -> float | None:
        return None if v is None else round(v, d)

    # The written allocation's value, by the evaluator: at least the solver's (a stopped
    # solver may pay for a site it does not use), at most the bound.
    objective = ev.objective if ev is not None else res.objective
    gap = res.gap
    if objective is not None and res.bound is not None and ev is not None:
        gap = max(res.bound - objective, 0.0) / max(abs(objective), 1.0)
    rows, cols = run.model.lp.shape
    details = dict(res.details)
    if isinstance(details.get("rows_rounded"), list):  # CP-SAT: the count, not every name
        details["rows_rounded"] = len(details["rows_rounded"])  # type: ignore[arg-type]
    return Summary(
        scenario=sc.name,
        as_of=sc.as_of.isoformat(),
        horizon=sc.horizon.years,
        status=status,
        message=message,
        objective_wan_cny=rnd(objective),
        solver_objective_wan_cny=rnd(res.objective),
        bound_wan_cny=rnd(res.bound),
        gap=rnd(gap, 8),
        objective_parts={k: round(v, DECIMALS) for k, v in ev.parts.items()} if ev else {},
        backend=res.backend,
        solver_version=res.solver_version,
        seed=sc.solver.seed,
        threads=sc.solver.threads,
        time_limit_s=sc.solver.time_limit_s,
        gap_limit=sc.solver.gap_rel,
        projects=allocations["status"].value_counts().sort_index().to_dict()
        if allocations is not None
        else {},
        reasons=allocations["reason"].value_counts().sort_index().to_dict()
        if allocations is not None
        else {},
        resource_use=use,
        evaluator={
            "ok": ev.ok,
            "objective_wan_cny": round(ev.objective, DECIMALS),
            "violations": ev.violations[:50],
        }
        if ev
        else {},
        model_size={
            "columns": cols,
            "rows": rows,
            "nonzeros": int(run.model.lp.A.nnz),
            "integer_columns": int(run.model.lp.integer.sum()),
        },
        backend_details=details,
        diagnosis=run.diagnosis,
        land=land_summary(run),
        input_sha256=dict(sorted(run.prep.inputs.hashes.items())),
        versions=_versions(),
        land_scan_time_s=round(run.times.get("scan_s", 0.0), 3),
        build_time_s=round(run.times.get("build_s", 0.0), 3),
        solve_time_s=round(run.times.get("solve_s", 0.0), 3),
        total_time_s=round(run.times.get("total_s", 0.0), 3),
    )


def write_run(run: Run, out: Path) -> Summary:
    """Write the result folder atomically; return the summary written."""
    sc = run.prep.scenario
    with atomic_dir(out) as tmp:
        checks = run.prep.eligibility.checks.copy()
        checks[["figure", "threshold"]] = checks[["figure", "threshold"]].astype(float).round(6)
        write_csv(checks, tmp / "eligibility.csv")
        allocations = None
        if run.evaluation is not None:
            allocations = allocations_table(run)
            if run.marginals is not None:
                notes = explanations(run, allocations)
                allocations["opportunity_cost_wan_cny"] = [
                    n.get("opportunity_cost_wan_cny") for n in notes
                ]
                allocations["explanation"] = [n["text"] for n in notes]
                write_json(notes, tmp / "explanations.json")
            write_csv(allocations, tmp / "allocations.csv")
            write_csv(resources_table(run), tmp / "resources.csv")
        if run.prep.land is not None:
            write_reuse_list(run.prep.land, tmp, sc.as_of.isoformat())
            write_basemap(run.prep.land, run.prep.inputs.parks, tmp, sc.as_of.isoformat())
            if allocations is not None:
                write_csv(placements_table(run), tmp / "placements.csv")
        result = summary(run, allocations)
        write_json(result.model_dump(mode="json"), tmp / "summary.json")
        if run.diagnosis is not None:
            write_json(run.diagnosis.model_dump(mode="json"), tmp / "diagnosis.json")
    return result
