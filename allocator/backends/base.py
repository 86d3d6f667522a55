"""What every backend shares: the statuses, the settings, the result, and the registry.

A backend is a function ``solve(lp, settings) -> SolveResult``. Every backend maps its raw
status to one ``Status``; the objective is recomputed from the solution by us, and the gap
is ``(bound − objective) / max(|objective|, 1)`` (we maximise), never the solver's own.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from allocator.formulation.program import LinearProgram


class Status(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # a limit was reached with a solution
    NO_SOLUTION = "no_solution"  # a limit was reached without one
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"

    @property
    def has_solution(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


@dataclass(frozen=True)
class Settings:
    time_limit_s: float = 60.0
    gap_rel: float = 1e-4
    threads: int = 1
    seed: int = 0
    cpsat_purchase_step: float = 1.0
    start: dict[str, float] | None = None  # a known solution by column name (warm start)


@dataclass
class SolveResult:
    status: Status
    backend: str
    solver_version: str
    time_s: float
    x: np.ndarray | None = None
    objective: float | None = None
    bound: float | None = None
    message: str = ""
    details: dict[str, object] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.bound is None or not math.isfinite(self.bound):
            return None
        if self.bound < self.objective:  # a bound below a solution is no bound: say so
            return None
        return max(self.bound - self.objective, 0.0) / max(abs(self.objective), 1.0)


def finish(
    lp: LinearProgram,
    backend: str,
    version: str,
    started: float,
    status: Status,
    x: np.ndarray | None,
    bound: float | None,
    message: str = "",
    **details: object,
) -> SolveResult:
    """Common ending: round integers, recompute the objective, shift the bound by the offset."""
    objective = None
    if x is not None and status.has_solution:
        x = np.asarray(x, dtype=float)
        x = np.where(lp.integer, np.round(x), x)
        x = np.clip(x, lp.col_lo, lp.col_hi)
        objective = lp.objective(x)
    else:
        x = None
    if bound is not None and math.isfinite(bound):
        bound = bound + lp.offset
        if (
            objective is not None
            and objective - 1e-6 * max(1.0, abs(objective)) <= bound < objective
        ):
            bound = objective  # the solver's tolerance, not a better solution than its bound
    return SolveResult(
        status,
        backend,
        version,
        time.perf_counter() - started,
        x,
        objective,
        bound,
        message,
        dict(details),
    )


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 (solver banners printed from C++, e.g. HiGHS's at start)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def failure(
    lp: LinearProgram, backend: str, version: str, started: float, status: Status, message: str
) -> SolveResult:
    """A result without a solution (infeasible, error), with the reason."""
    return finish(lp, backend, version, started, status, None, None, message)


BACKENDS: dict[str, str] = {
    "highs": "allocator.backends.highs",
    "cpsat": "allocator.backends.cpsat",
    "ortools_highs": "allocator.backends.ortools_mip",
    "ortools_scip": "allocator.backends.ortools_mip",
    "ortools_cbc": "allocator.backends.ortools_mip",
    "pulp_cbc": "allocator.backends.pulp",
    "pulp_highs": "allocator.backends.pulp",
}


def get_backend(name: str) -> Callable[[LinearProgram, Settings], SolveResult]:
    """The solve function of a backend by name (modules are imported on first use)."""
    if name not in BACKENDS:
        raise ValueError(f"backend was {name!r} but is expected to be one of {sorted(BACKENDS)}")
    module = importlib.import_module(BACKENDS[name])
    solve: Callable[[LinearProgram, Settings, str], SolveResult] = module.solve

    def run(lp: LinearProgram, settings: Settings) -> SolveResult:
        return solve(lp, settings, name)

    return run
