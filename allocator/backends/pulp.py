"""CBC (the ``cbcbox`` build, run as a command) and HiGHS through PuLP.

CBC does not hand its bound back to PuLP, so it is read from CBC's log.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import cbcbox
import numpy as np
import pulp

from allocator.backends.base import Settings, SolveResult, Status, finish, quiet_stdout
from allocator.formulation.program import LinearProgram


def _problem(lp: LinearProgram) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    prob = pulp.LpProblem("allocator", pulp.LpMaximize)
    cols = [
        prob.add_variable(
            f"c{j}",
            None if not np.isfinite(lo) else float(lo),
            None if not np.isfinite(hi) else float(hi),
            pulp.LpInteger if integer else pulp.LpContinuous,
        )
        for j, (lo, hi, integer) in enumerate(zip(lp.col_lo, lp.col_hi, lp.integer, strict=True))
    ]
    prob += pulp.LpAffineExpression([(cols[j], float(lp.c[j])) for j in np.flatnonzero(lp.c)])
    A = lp.A.tocsr()
    for i in range(lp.shape[0]):
        sl = slice(A.indptr[i], A.indptr[i + 1])
        expr = pulp.LpAffineExpression(
            [(cols[j], float(v)) for j, v in zip(A.indices[sl], A.data[sl], strict=True)]
        )
        lo, hi = lp.row_lo[i], lp.row_hi[i]
        if lo == hi:
            prob += pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"r{i}", float(hi))
            continue
        if np.isfinite(hi):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintLE, f"r{i}", float(hi))
        if np.isfinite(lo):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintGE, f"r{i}_lo", float(lo))
    return prob, cols


def cbc_bound(log: str, objective: float | None, gap_rel: float) -> float | None:
    """The bound from CBC's log: the objective where CBC proved optimality (within its gap
    tolerance, the bound that tolerance allows), else its printed "Upper bound" (we
    maximise), which CBC rounds to a few digits."""
    result = re.findall(r"Result - (.*)", log)
    if objective is not None and result and result[-1].startswith("Optimal"):
        if "gap" in result[-1].lower():
            return objective + gap_rel * max(abs(objective), 1.0)
        return objective
    found = re.findall(r"Upper bound:\s+(-?[0-9.eE+-]+)", log)
    return float(found[-1]) if found else None


def solve(lp: LinearProgram, settings: Settings, name: str = "pulp_cbc") -> SolveResult:
    started = time.perf_counter()
    prob, cols = _problem(lp)
    if settings.start:  # CBC starts from it (the pulp_highs entry declares no warm start)
        for j, name_j in enumerate(lp.col_names):
            if name_j in settings.start:
                cols[j].setInitialValue(float(settings.start[name_j]))
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "cbc.log"
        if name == "pulp_cbc":
            solver = pulp.COIN_CMD(
                path=cbcbox.cbc_bin_path(),
                msg=False,
                timeLimit=settings.time_limit_s,
                gapRel=settings.gap_rel,
                threads=settings.threads,
                logPath=str(log_path),
                warmStart=bool(settings.start),
                options=[f"randomSeed {settings.seed}", f"randomCbcSeed {settings.seed}"],
            )
            version = f"pulp {pulp.__version__} (CBC)"
        else:
            solver = pulp.HiGHS(
                msg=False,
                timeLimit=settings.time_limit_s,
                gapRel=settings.gap_rel,
                threads=settings.threads,
                random_seed=settings.seed,
            )
            version = f"pulp {pulp.__version__} (HiGHS)"
        with quiet_stdout():
            prob.solve(solver)
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
    has_x = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    if prob.status == pulp.LpStatusInfeasible or prob.sol_status == pulp.LpSolutionInfeasible:
        status = Status.INFEASIBLE
    elif prob.status == pulp.LpStatusUnbounded or prob.sol_status == pulp.LpSolutionUnbounded:
        status = Status.UNBOUNDED
    elif prob.sol_status == pulp.LpSolutionOptimal:
        status = Status.OPTIMAL
    elif has_x:
        status = Status.FEASIBLE
    elif prob.status == pulp.LpStatusNotSolved or prob.sol_status == pulp.LpSolutionNoSolutionFound:
        status = Status.NO_SOLUTION
    else:
        status = Status.ERROR
    x = np.array([v.varValue or 0.0 for v in cols]) if has_x else None
    objective = (
        lp.objective(np.where(lp.integer, np.round(x), x)) - lp.offset if x is not None else None
    )
    if name == "pulp_cbc":
        bound = cbc_bound(log, objective, settings.gap_rel)
    else:
        model = getattr(solver, "solverModel", None) or getattr(prob, "solverModel", None)
        # PuLP hands HiGHS the negated objective and minimises: negate the bound back.
        bound = (
            -model.getInfo().mip_dual_bound if model is not None and lp.integer.any() else objective
        )
    return finish(lp, name, version, started, status, x, bound, pulp.LpStatus[prob.status])
