"""HiGHS through its own Python interface (highspy): the model is passed as arrays.

A known solution (``Settings.start``, by column name) is handed to HiGHS as a start; the
columns it does not name are left for HiGHS to complete.
"""

from __future__ import annotations

import time
from dataclasses import replace

import highspy
import numpy as np

from allocator.backends.base import Settings, SolveResult, Status, finish, quiet_stdout
from allocator.formulation.program import LinearProgram

INF = highspy.kHighsInf


def _model(lp: LinearProgram) -> highspy.HighsLp:
    a = lp.A.tocsc()
    model = highspy.HighsLp()
    model.num_col_ = lp.shape[1]
    model.num_row_ = lp.shape[0]
    model.sense_ = highspy.ObjSense.kMaximize
    model.col_cost_ = lp.c
    model.col_lower_ = np.where(np.isfinite(lp.col_lo), lp.col_lo, -INF)
    model.col_upper_ = np.where(np.isfinite(lp.col_hi), lp.col_hi, INF)
    model.row_lower_ = np.where(np.isfinite(lp.row_lo), lp.row_lo, -INF)
    model.row_upper_ = np.where(np.isfinite(lp.row_hi), lp.row_hi, INF)
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = a.indptr
    model.a_matrix_.index_ = a.indices
    model.a_matrix_.value_ = a.data
    if lp.integer.any():
        model.integrality_ = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
            for i in lp.integer
        ]
    return model


def solve(lp: LinearProgram, settings: Settings, name: str = "highs") -> SolveResult:
    started = time.perf_counter()
    # HiGHS keeps one thread pool per process, sized by the first run; a run asking for
    # another size fails ("Not Set") unless the pool is made anew.
    highspy.Highs.resetGlobalScheduler(True)
    with quiet_stdout():
        h = highspy.Highs()
    h.silent()
    for key, value in {
        "time_limit": float(settings.time_limit_s),
        "mip_rel_gap": float(settings.gap_rel),
        "random_seed": int(settings.seed),
        "threads": int(settings.threads),
    }.items():
        h.setOptionValue(key, value)
    version = f"highspy {h.version()}"
    h.passModel(_model(lp))
    if settings.start:
        index = {name: j for j, name in enumerate(lp.col_names)}
        cols = [index[n] for n in settings.start if n in index]
        h.setSolution(len(cols), np.array(cols, dtype=np.int32),
                      np.array([settings.start[lp.col_names[j]] for j in cols], dtype=float))  # fmt: skip
    h.run()
    raw = h.getModelStatus()
    info = h.getInfo()
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    m = highspy.HighsModelStatus
    if raw == m.kOptimal:
        status = Status.OPTIMAL
    elif raw in (m.kTimeLimit, m.kIterationLimit, m.kSolutionLimit, m.kInterrupt):
        status = Status.FEASIBLE if has_x else Status.NO_SOLUTION
    elif raw in (m.kInfeasible, m.kUnboundedOrInfeasible):
        status = Status.INFEASIBLE
    elif raw == m.kUnbounded:
        status = Status.UNBOUNDED
    else:
        status = Status.ERROR
    x = np.array(h.getSolution().col_value) if has_x else None
    bound: float | None
    if lp.integer.any():
        bound = info.mip_dual_bound
    else:
        bound = info.objective_function_value if status is Status.OPTIMAL else None
    return finish(lp, name, version, started, status, x, bound, h.modelStatusToString(raw))


def lp_duals(lp: LinearProgram, settings: Settings) -> tuple[float, np.ndarray] | None:
    """Solve ``lp`` as a linear program (integrality dropped); its objective and row duals
    (d objective / d row bound, so ≥ 0 for a binding ≤ row of this maximisation), or None
    when it has no optimum."""
    highspy.Highs.resetGlobalScheduler(True)
    with quiet_stdout():
        h = highspy.Highs()
    h.silent()
    h.setOptionValue("time_limit", float(settings.time_limit_s))
    h.setOptionValue("threads", int(settings.threads))
    h.setOptionValue("random_seed", int(settings.seed))
    model = _model(replace(lp, integer=np.zeros_like(lp.integer)))
    h.passModel(model)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    objective = h.getInfo().objective_function_value + lp.offset
    return objective, np.array(h.getSolution().row_dual)
