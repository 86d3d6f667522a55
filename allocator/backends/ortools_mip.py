"""MIP solvers through OR-Tools' linear solver wrapper: HiGHS, SCIP and CBC."""

from __future__ import annotations

import time
from importlib.metadata import version as package_version

import numpy as np
from ortools.linear_solver import pywraplp

from allocator.backends.base import Settings, SolveResult, Status, finish
from allocator.formulation.program import LinearProgram

ENGINES = {"ortools_highs": "HIGHS", "ortools_scip": "SCIP", "ortools_cbc": "CBC"}


def solve(lp: LinearProgram, settings: Settings, name: str = "ortools_scip") -> SolveResult:
    started = time.perf_counter()
    engine = ENGINES[name]
    version = f"ortools {package_version('ortools')} ({engine})"
    solver = pywraplp.Solver.CreateSolver(engine)
    if solver is None:
        return finish(
            lp,
            name,
            version,
            started,
            Status.ERROR,
            None,
            None,
            f"OR-Tools was built without {engine}",
        )
    inf = solver.infinity()

    def fin(v: float) -> float:
        return v if np.isfinite(v) else (inf if v > 0 else -inf)

    cols = [
        solver.Var(fin(lo), fin(hi), bool(integer), label)
        for lo, hi, integer, label in zip(
            lp.col_lo, lp.col_hi, lp.integer, lp.col_names, strict=True
        )
    ]
    A = lp.A.tocsr()
    for i, label in enumerate(lp.row_names):
        row = solver.RowConstraint(fin(lp.row_lo[i]), fin(lp.row_hi[i]), label)
        for j, v in zip(
            A.indices[A.indptr[i] : A.indptr[i + 1]],
            A.data[A.indptr[i] : A.indptr[i + 1]],
            strict=True,
        ):
            row.SetCoefficient(cols[j], float(v))
    objective = solver.Objective()
    for j in np.flatnonzero(lp.c):
        objective.SetCoefficient(cols[j], float(lp.c[j]))
    objective.SetMaximization()
    solver.SetTimeLimit(int(settings.time_limit_s * 1000))
    solver.SetNumThreads(int(settings.threads))
    if engine == "SCIP":
        solver.SetSolverSpecificParametersAsString(
            f"randomization/randomseedshift = {settings.seed}\n"
        )
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, float(settings.gap_rel))
    raw = solver.Solve(params)
    has_x = raw in (solver.OPTIMAL, solver.FEASIBLE)
    status = {
        solver.OPTIMAL: Status.OPTIMAL,
        solver.FEASIBLE: Status.FEASIBLE,
        solver.INFEASIBLE: Status.INFEASIBLE,
        solver.UNBOUNDED: Status.UNBOUNDED,
        solver.NOT_SOLVED: Status.NO_SOLUTION,
    }.get(raw, Status.ERROR)
    x = np.array([v.solution_value() for v in cols]) if has_x else None
    bound = objective.BestBound() if has_x and lp.integer.any() else None
    if has_x and not lp.integer.any():
        bound = objective.Value()
    return finish(lp, name, version, started, status, x, bound, f"status {raw}")
