"""MIP solvers through OR-Tools' linear solver wrapper: HiGHS, SCIP and CBC.

OR-Tools carries its own build of HiGHS, which crashes (segmentation fault) in a process
where highspy's HiGHS has run through PuLP. HiGHS through OR-Tools therefore always runs
in a fresh child process (spawned, so it shares no loaded library with this one).
"""

from __future__ import annotations

import multiprocessing
import time
from importlib.metadata import version as package_version

import numpy as np
from ortools.linear_solver import pywraplp

from allocator.backends.base import Settings, SolveResult, Status, failure, finish, quiet_stdout
from allocator.formulation.program import LinearProgram

ENGINES = {"ortools_highs": "HIGHS", "ortools_scip": "SCIP", "ortools_cbc": "CBC"}


def solve(lp: LinearProgram, settings: Settings, name: str = "ortools_scip") -> SolveResult:
    if ENGINES[name] != "HIGHS" or multiprocessing.current_process().name != "MainProcess":
        return _solve_here(lp, settings, name)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_solve_here, (lp, settings, name))


def _solve_here(lp: LinearProgram, settings: Settings, name: str) -> SolveResult:
    started = time.perf_counter()
    engine = ENGINES[name]
    version = f"ortools {package_version('ortools')} ({engine})"
    with quiet_stdout():  # the HiGHS banner
        solver = pywraplp.Solver.CreateSolver(engine)
    if solver is None:
        return failure(
            lp,
            name,
            version,
            started,
            Status.ERROR,
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
    with quiet_stdout():
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
