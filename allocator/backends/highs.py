"""HiGHS through its own Python interface (highspy): the model is passed as arrays.

A known solution (``Settings.start``, by column name) is handed to HiGHS as a start; the
columns it does not name are left for HiGHS to complete. A complete start (a previous
solution of a program with the same columns, as every re-solve has) goes through three
steps, each with node limits rather than time limits, so that the result stays
deterministic:
1. repair, if it breaks a row (the data changed since it was found): the program
   restricted to what the start takes (every integer column at 0 in it fixed at 0, so
   projects can only be dropped or moved later);
2. polish (RINS): every integer column on which the point agrees with the optimum of the
   LP relaxation fixed, the rest solved from the point;
3. proof with HiGHS's primal heuristics (RINS, RENS, root reduced-cost, feasibility jump)
   off, since from a near-optimal start they mostly look again for what it already is; a
   proof that reaches ``PROOF_NODES`` goes on with them on, from its best point.
On the sample city, the proof from the optimum takes 1.5 s without them and 5 s with
them; after a 5% cut of one year's energy supply, the repair is 0.03% below the new optimum
and the polish 0.002% (docs/performance.md).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

import highspy
import numpy as np

from allocator.backends.base import Settings, SolveResult, Status, finish, quiet_stdout
from allocator.formulation.program import LinearProgram

INF = highspy.kHighsInf
Option = bool | int | float | str
PROOF_ONLY: dict[str, Option] = {
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
}
# A run without a start puts 0.5 of its effort into primal heuristics (HiGHS's default is
# 0.05): on the sample city the incumbent, not the bound, decides the time, and over seeds
# 0-9 on one thread the median proof of 0.01% fell from 17 s to 11 s, the slowest from 26 s
# to 12 s (docs/performance.md).
COLD: dict[str, Option] = {"mip_heuristic_effort": 0.5}
REPAIR_NODES = 1000  # node limit of the repair and the polish
PROOF_NODES = 500  # past this, a proof from a start goes on with the heuristics on


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


def _highs(lp: LinearProgram, settings: Settings, options: Mapping[str, Option]) -> highspy.Highs:
    # HiGHS keeps one thread pool per process, sized by the first run; a run asking for
    # another size fails ("Not Set") unless the pool is made anew.
    highspy.Highs.resetGlobalScheduler(True)
    with quiet_stdout():
        h = highspy.Highs()
    h.silent()
    values: dict[str, Option] = {
        "time_limit": float(settings.time_limit_s),
        "mip_rel_gap": float(settings.gap_rel),
        "random_seed": int(settings.seed),
        "threads": int(settings.threads),
        **options,
    }
    for key, value in values.items():
        h.setOptionValue(key, value)
    h.passModel(_model(lp))
    return h


def _point(h: highspy.Highs) -> np.ndarray | None:
    if h.getInfo().primal_solution_status != 2:  # kSolutionStatusFeasible
        return None
    return np.array(h.getSolution().col_value)


def _restricted(lp: LinearProgram, x: np.ndarray, fix: np.ndarray, settings: Settings,
                start: bool) -> np.ndarray | None:  # fmt: skip
    """``lp`` with the columns ``fix`` fixed at their value in ``x``, solved up to
    ``REPAIR_NODES`` nodes (from ``x`` if ``start``); its best point or None."""
    lo, hi = lp.col_lo.copy(), lp.col_hi.copy()
    lo[fix] = hi[fix] = np.round(x[fix])
    h = _highs(lp.with_bounds(lo, hi), settings, {"mip_max_nodes": REPAIR_NODES})
    if start:
        h.setSolution(len(x), np.arange(len(x), dtype=np.int32), x)
    h.run()
    return _point(h)


def _repaired(lp: LinearProgram, x: np.ndarray, settings: Settings) -> np.ndarray | None:
    """A point that satisfies every row and takes only what ``x`` takes (step 1)."""
    return _restricted(lp, x, lp.integer & (x < 0.5), settings, start=False)


def _relaxation(lp: LinearProgram, settings: Settings) -> highspy.Highs:
    """HiGHS run on ``lp`` as a linear program (integrality dropped)."""
    h = _highs(replace(lp, integer=np.zeros_like(lp.integer)), settings, {})
    h.run()
    return h


def _polished(lp: LinearProgram, x: np.ndarray, settings: Settings) -> np.ndarray:
    """``x`` or a better point that agrees with it where the LP relaxation does (step 2)."""
    lp_x = _point(_relaxation(lp, settings))
    if lp_x is None:
        return x
    better = _restricted(lp, x, lp.integer & (np.abs(lp_x - x) <= 1e-6), settings, start=True)
    return better if better is not None and lp.objective(better) > lp.objective(x) else x


def _run(lp: LinearProgram, settings: Settings, started: float, options: Mapping[str, Option],
         cols: np.ndarray | None = None, vals: np.ndarray | None = None) -> highspy.Highs:  # fmt: skip
    """HiGHS run on ``lp`` in the time left since ``started``, from the start ``vals`` of
    the columns ``cols`` (all columns when ``cols`` is None) if given."""
    left = settings.time_limit_s - (time.perf_counter() - started)
    h = _highs(lp, replace(settings, time_limit_s=max(left, 0.001)), options)
    if vals is not None:
        cols = np.arange(lp.shape[1], dtype=np.int32) if cols is None else cols
        h.setSolution(len(cols), cols, vals)
    h.run()
    return h


def _from_start(lp: LinearProgram, settings: Settings, start: dict[str, float],
                started: float) -> highspy.Highs:  # fmt: skip
    """HiGHS run from ``start`` as the module docstring says."""
    index = {name: j for j, name in enumerate(lp.col_names)}
    cols = np.array([index[n] for n in start if n in index], dtype=np.int32)
    vals = np.array([start[lp.col_names[j]] for j in cols], dtype=float)
    if len(cols) < lp.shape[1]:  # a partial start: HiGHS completes it
        return _run(lp, settings, started, COLD, cols, vals)
    given = np.zeros(lp.shape[1])
    given[cols] = vals
    point = _repaired(lp, given, settings) if lp.violations(given) else given
    if point is None:  # no repair found: no start
        return _run(lp, settings, started, COLD)
    point = _polished(lp, point, settings)
    h = _run(lp, settings, started, {**PROOF_ONLY, "mip_max_nodes": PROOF_NODES}, vals=point)
    if h.getModelStatus() != highspy.HighsModelStatus.kSolutionLimit:
        return h
    best = _point(h)
    return _run(lp, settings, started, COLD, vals=point if best is None else best)


def solve(lp: LinearProgram, settings: Settings, name: str = "highs") -> SolveResult:
    started = time.perf_counter()
    if settings.start:
        h = _from_start(lp, settings, settings.start, started)
    else:
        h = _run(lp, settings, started, COLD)
    version = f"highspy {h.version()}"
    raw = h.getModelStatus()
    info = h.getInfo()
    x = _point(h)
    m = highspy.HighsModelStatus
    if raw == m.kOptimal:
        status = Status.OPTIMAL
    elif raw in (m.kTimeLimit, m.kIterationLimit, m.kSolutionLimit, m.kInterrupt):
        status = Status.FEASIBLE if x is not None else Status.NO_SOLUTION
    elif raw in (m.kInfeasible, m.kUnboundedOrInfeasible):
        status = Status.INFEASIBLE
    elif raw == m.kUnbounded:
        status = Status.UNBOUNDED
    else:
        status = Status.ERROR
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
    h = _relaxation(lp, settings)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    objective = h.getInfo().objective_function_value + lp.offset
    return objective, np.array(h.getSolution().row_dual)
