"""MIP solvers through OR-Tools: SCIP and CBC through its linear solver wrapper, HiGHS
through MathOpt (the wrapper reports an unknown status at a time limit and hands back no
solution; MathOpt returns the incumbent, its bound and why it stopped).

OR-Tools carries its own build of HiGHS, which crashes (segmentation fault) in a process
where highspy's HiGHS has run through PuLP. HiGHS through OR-Tools therefore always runs
in a fresh child process (spawned, so it shares no loaded library with this one).
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import time
from importlib.metadata import version as package_version

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.math_opt import model_pb2
from ortools.math_opt.python import mathopt

from allocator.backends.base import Settings, SolveResult, Status, failure, finish, quiet_stdout
from allocator.formulation.program import LinearProgram

ENGINES = {"ortools_highs": "HIGHS", "ortools_scip": "SCIP", "ortools_cbc": "CBC"}


def solve(lp: LinearProgram, settings: Settings, name: str = "ortools_scip") -> SolveResult:
    if ENGINES[name] != "HIGHS":
        return _wrapper(lp, settings, name)
    if multiprocessing.current_process().name != "MainProcess":
        return _mathopt(lp, settings, name)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_mathopt, (lp, settings, name))


def _wrapper(lp: LinearProgram, settings: Settings, name: str) -> SolveResult:
    started = time.perf_counter()
    engine = ENGINES[name]
    version = f"ortools {package_version('ortools')} ({engine})"
    with quiet_stdout():  # a solver's banner
        solver = pywraplp.Solver.CreateSolver(engine)
    if solver is None:
        return failure(lp, name, version, started, Status.ERROR,
                       f"OR-Tools was built without {engine}")  # fmt: skip
    inf = solver.infinity()

    def fin(v: float) -> float:
        return v if np.isfinite(v) else (inf if v > 0 else -inf)

    cols = [solver.Var(fin(lo), fin(hi), bool(integer), label)
            for lo, hi, integer, label in zip(lp.col_lo, lp.col_hi, lp.integer, lp.col_names,
                                              strict=True)]  # fmt: skip
    A = lp.A.tocsr()
    for i, label in enumerate(lp.row_names):
        row = solver.RowConstraint(fin(lp.row_lo[i]), fin(lp.row_hi[i]), label)
        sl = slice(A.indptr[i], A.indptr[i + 1])
        for j, v in zip(A.indices[sl], A.data[sl], strict=True):
            row.SetCoefficient(cols[j], float(v))
    objective = solver.Objective()
    for j in np.flatnonzero(lp.c):
        objective.SetCoefficient(cols[j], float(lp.c[j]))
    objective.SetMaximization()
    solver.SetTimeLimit(int(settings.time_limit_s * 1000))
    if settings.threads > 1:
        solver.SetNumThreads(int(settings.threads))
    if engine == "SCIP":
        solver.SetSolverSpecificParametersAsString(
            f"randomization/randomseedshift = {settings.seed}\n"
        )
    if settings.start:  # a hint: SCIP tries it first (registered as able to take one)
        known = [(cols[j], settings.start[n]) for j, n in enumerate(lp.col_names) if n in settings.start]  # fmt: skip
        solver.SetHint([c for c, _ in known], [float(v) for _, v in known])
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


def _proto(lp: LinearProgram) -> model_pb2.ModelProto:
    """The program as a MathOpt model, built from its arrays (maximise, no offset)."""
    proto = model_pb2.ModelProto(name="allocator")
    n_rows, n_cols = lp.shape
    v = proto.variables
    v.ids.extend(range(n_cols))
    v.lower_bounds.extend(lp.col_lo.tolist())
    v.upper_bounds.extend(lp.col_hi.tolist())
    v.integers.extend(lp.integer.tolist())
    v.names.extend(lp.col_names)
    proto.objective.maximize = True
    nz = np.flatnonzero(lp.c)
    proto.objective.linear_coefficients.ids.extend(nz.tolist())
    proto.objective.linear_coefficients.values.extend(lp.c[nz].tolist())
    rows = proto.linear_constraints
    rows.ids.extend(range(n_rows))
    rows.lower_bounds.extend(lp.row_lo.tolist())
    rows.upper_bounds.extend(lp.row_hi.tolist())
    rows.names.extend(lp.row_names)
    coo = lp.A.tocsr().tocoo()  # row-major, columns sorted within a row
    m = proto.linear_constraint_matrix
    m.row_ids.extend(coo.row.tolist())
    m.column_ids.extend(coo.col.tolist())
    m.coefficients.extend(coo.data.tolist())
    return proto


MATHOPT_STATUS = {
    mathopt.TerminationReason.OPTIMAL: Status.OPTIMAL,
    mathopt.TerminationReason.FEASIBLE: Status.FEASIBLE,
    mathopt.TerminationReason.NO_SOLUTION_FOUND: Status.NO_SOLUTION,
    mathopt.TerminationReason.INFEASIBLE: Status.INFEASIBLE,
    mathopt.TerminationReason.INFEASIBLE_OR_UNBOUNDED: Status.INFEASIBLE,
    mathopt.TerminationReason.UNBOUNDED: Status.UNBOUNDED,
}


def _mathopt(lp: LinearProgram, settings: Settings, name: str) -> SolveResult:
    started = time.perf_counter()
    version = f"ortools {package_version('ortools')} (HiGHS, MathOpt)"
    model = mathopt.Model.from_model_proto(_proto(lp))
    params = mathopt.SolveParameters(
        time_limit=dt.timedelta(seconds=settings.time_limit_s),
        relative_gap_tolerance=float(settings.gap_rel),
        random_seed=int(settings.seed),
    )
    with quiet_stdout():
        found = mathopt.solve(model, mathopt.SolverType.HIGHS, params=params)
    reason = found.termination.reason
    status = MATHOPT_STATUS.get(reason, Status.ERROR)
    x = None
    if found.has_primal_feasible_solution():
        values = found.variable_values()
        x = np.array([values[var] for var in model.variables()])
    bound = found.termination.objective_bounds.dual_bound
    bound = bound if x is not None and math.isfinite(bound) else None
    return finish(
        lp, name, version, started, status, x, bound, found.termination.detail or reason.name
    )
