"""OR-Tools CP-SAT. CP-SAT works on integers only, so the program is made integral here.

Scaling, recorded in the result's details:
- a continuous column (purchase, carry-over, slack) becomes ``step × k`` with k integer
  (``cpsat_purchase_step``); an infinite upper bound is replaced by the largest value any of
  its rows can need;
- each row is multiplied by the smallest 10^k (k ≤ 6) that makes its coefficients whole.
  Where no such k keeps every product below 2^50, the row is rounded *conservatively*
  (a ≤ row: coefficients up, bound down; a ≥ row: the reverse), so that a solution of the
  scaled row satisfies the original one; the evaluator checks the result either way;
- the objective is scaled by 10,000 (0.0001 万元, one yuan) and rounded; the bound is widened by the
  largest error that rounding can cause, so that it stays a valid bound.
"""

from __future__ import annotations

import math
import time
from importlib.metadata import version as package_version

import numpy as np
from ortools.sat.python import cp_model

from allocator.backends.base import Settings, SolveResult, Status, failure, finish
from allocator.formulation.program import LinearProgram

OBJECTIVE_SCALE = 10_000
MAX_ABS = 2.0**50


def _continuous_caps(lp: LinearProgram, unit: np.ndarray) -> np.ndarray:
    """Finite upper bounds for columns without one, from the rows they appear in."""
    a = lp.A.tocsc()
    reach = np.maximum(
        np.abs(np.where(np.isfinite(lp.col_lo), lp.col_lo, 0)),
        np.abs(np.where(np.isfinite(lp.col_hi), lp.col_hi, 0)),
    )
    rhs = np.maximum(
        np.abs(np.where(np.isfinite(lp.row_lo), lp.row_lo, 0)),
        np.abs(np.where(np.isfinite(lp.row_hi), lp.row_hi, 0)),
    )
    activity = np.abs(lp.A) @ reach + rhs  # the most any row can ask of one column
    hi = lp.col_hi.copy()
    for j in np.flatnonzero(~np.isfinite(hi)):
        start, end = a.indptr[j], a.indptr[j + 1]
        need = activity[a.indices[start:end]] / np.abs(a.data[start:end])
        hi[j] = float(need.max()) if end > start else 0.0
    return np.ceil(hi / unit) * unit


def _row_scale(coefs: np.ndarray, reach: np.ndarray) -> tuple[int, bool]:
    """The power of ten that makes a row integral, and whether it had to be rounded."""
    for k in range(7):
        scaled = coefs * 10.0**k
        if np.abs(scaled * reach).sum() > MAX_ABS:
            return max(k - 1, 0), True
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return k, False
    return 6, True


class _NoModel(Exception):
    """The program cannot be stated for CP-SAT (status and reason)."""

    def __init__(self, status: Status, message: str):
        super().__init__(message)
        self.status = status


def _integral_model(
    lp: LinearProgram, unit: np.ndarray
) -> tuple[cp_model.CpModel, list[cp_model.IntVar], float, list[str]]:
    """The scaled integer model, its variables (in units), the objective's largest
    rounding error (万元) and the rows rounded conservatively."""
    hi = _continuous_caps(lp, unit)
    lo_k = np.ceil(np.where(np.isfinite(lp.col_lo), lp.col_lo, 0.0) / unit - 1e-9).astype(np.int64)
    hi_k = np.floor(hi / unit + 1e-9).astype(np.int64)
    reach = np.maximum(np.abs(lo_k), hi_k)
    model = cp_model.CpModel()
    k = [
        model.new_int_var(int(a), int(b), name)
        for a, b, name in zip(lo_k, hi_k, lp.col_names, strict=True)
    ]
    A = lp.A.tocsr()
    rounded = []
    for i in range(lp.shape[0]):
        cols = A.indices[A.indptr[i] : A.indptr[i + 1]]
        if not len(cols):
            if lp.row_lo[i] > 1e-9 or lp.row_hi[i] < -1e-9:
                raise _NoModel(
                    Status.INFEASIBLE, f"row {lp.row_names[i]} has no terms and excludes 0"
                )
            continue
        coefs = A.data[A.indptr[i] : A.indptr[i + 1]] * unit[cols]
        power, needs_rounding = _row_scale(coefs, reach[cols])
        lo, up = lp.row_lo[i] * 10.0**power, lp.row_hi[i] * 10.0**power
        scaled = coefs * 10.0**power
        if needs_rounding:
            if math.isfinite(lo) and math.isfinite(up):
                raise _NoModel(
                    Status.ERROR, f"row {lp.row_names[i]} cannot be made integral exactly"
                )
            rounded.append(lp.row_names[i])
            ints = np.ceil(scaled) if math.isfinite(up) else np.floor(scaled)
        else:
            ints = np.round(scaled)
        expr = cp_model.LinearExpr.weighted_sum([k[j] for j in cols], [int(v) for v in ints])
        if math.isfinite(lo):
            model.add(expr >= math.ceil(lo - 1e-9))
        if math.isfinite(up):
            model.add(expr <= math.floor(up + 1e-9))
    c = lp.c * unit * OBJECTIVE_SCALE
    c_int = np.round(c)
    model.maximize(cp_model.LinearExpr.weighted_sum(k, [int(v) for v in c_int]))
    slack = float(np.abs(c - c_int) @ reach) / OBJECTIVE_SCALE
    return model, k, slack, rounded


def solve(lp: LinearProgram, settings: Settings, name: str = "cpsat") -> SolveResult:
    started = time.perf_counter()
    version = f"ortools {package_version('ortools')}"
    unit = np.where(lp.integer, 1.0, settings.cpsat_purchase_step)
    try:
        model, k, slack, rounded = _integral_model(lp, unit)
    except _NoModel as exc:
        return failure(lp, name, version, started, exc.status, str(exc))
    if settings.start:  # a hint: CP-SAT tries it first, repairing it where it breaks a row
        for j, var in enumerate(k):
            if lp.col_names[j] in settings.start:
                lo, hi = model.proto.variables[j].domain[0], model.proto.variables[j].domain[-1]
                value = round(settings.start[lp.col_names[j]] / unit[j])
                model.add_hint(var, int(min(max(value, lo), hi)))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(settings.time_limit_s)
    solver.parameters.relative_gap_limit = float(settings.gap_rel)
    solver.parameters.num_workers = int(settings.threads)
    solver.parameters.interleave_search = settings.threads > 1  # deterministic with several
    solver.parameters.random_seed = int(settings.seed)
    raw = solver.solve(model)
    status = {
        cp_model.OPTIMAL: Status.OPTIMAL,
        cp_model.FEASIBLE: Status.FEASIBLE,
        cp_model.INFEASIBLE: Status.INFEASIBLE,
        cp_model.MODEL_INVALID: Status.ERROR,
        cp_model.UNKNOWN: Status.NO_SOLUTION,
    }[raw]
    x = None
    if status.has_solution:
        x = np.array([solver.value(v) for v in k], dtype=float) * unit
    bound = None
    if status.has_solution or status is Status.NO_SOLUTION:
        bound = solver.best_objective_bound / OBJECTIVE_SCALE + slack  # valid despite rounding
    return finish(
        lp,
        name,
        version,
        started,
        status,
        x,
        bound,
        solver.status_name(raw),
        objective_scale=OBJECTIVE_SCALE,
        purchase_step=settings.cpsat_purchase_step,
        rows_rounded=rounded,
    )
