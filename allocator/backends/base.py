"""What every backend shares: the statuses, the settings, the result, and the protocol.

A backend module provides ``solve(lp, settings, name) -> SolveResult`` and, if its registry
entry (``models.backends``) declares ``duals``, ``lp_duals(lp, settings)``. Callers reach
it through ``get_backend(name)``, which holds the promises every backend keeps whatever it
can do natively (a complete feasible start is never returned worse; a single thread is
used, and said, where a backend has no threads) and refuses what it cannot give
(``duals``). Every backend maps its raw status to one ``Status``; the objective is
recomputed from the solution by us, and the gap is ``(bound − objective) /
max(|objective|, 1)`` (we maximise), never the solver's own.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

import numpy as np

from allocator.errors import InputError
from allocator.formulation.program import LinearProgram
from models.backends import BACKENDS, BackendSpec, Capability
from models.tables import Problem


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
    if bound is not None and not math.isfinite(bound):
        bound = None  # no bound proven (an infinite one is none)
    if bound is not None:
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


Duals = tuple[float, np.ndarray]  # the LP relaxation's objective and its row duals


class _Module(Protocol):
    def solve(self, lp: LinearProgram, settings: Settings, name: str) -> SolveResult: ...


def _kept_start(lp: LinearProgram, start: dict[str, float], result: SolveResult) -> SolveResult:
    """``result``, or the start where it is complete, feasible and better (a solver that
    lost or ignored it must not make the answer worse than what it was given)."""
    if len(start) < lp.shape[1] or any(n not in start for n in lp.col_names):
        return result
    x = np.array([start[n] for n in lp.col_names], dtype=float)
    value = lp.objective(x)
    if result.objective is not None and result.objective >= value - 1e-9 * max(1.0, abs(value)):
        return result
    if lp.violations(x):
        return result
    status = result.status if result.status.has_solution else Status.FEASIBLE
    bound = None if result.bound is None else max(result.bound, value)
    details = {**result.details, "start_kept": True}
    return replace(result, status=status, x=x, objective=value, bound=bound, details=details)


@dataclass(frozen=True)
class Backend:
    """A registered backend: what it can do, and its solve (and duals, where declared)."""

    spec: BackendSpec
    module: _Module

    @property
    def name(self) -> str:
        return self.spec.name

    def solve(self, lp: LinearProgram, settings: Settings) -> SolveResult:
        notes: dict[str, object] = {}
        used = settings
        if settings.threads > 1 and not self.spec.can(Capability.THREADS):
            used, notes["threads_used"] = replace(used, threads=1), 1
        if settings.start and not self.spec.can(Capability.WARM_START):
            used, notes["warm_start"] = replace(used, start=None), "kept only if nothing better"
        result = self.module.solve(lp, used, self.name)
        if settings.start:
            result = _kept_start(lp, settings.start, result)
        result.details.update(notes)
        return result

    def lp_duals(self, lp: LinearProgram, settings: Settings) -> Duals | None:
        """The LP relaxation's objective and row duals (d objective / d row bound), or None
        when it has no optimum."""
        duals = getattr(self.module, "lp_duals", None)
        if not self.spec.can(Capability.DUALS) or duals is None:
            raise InputError([Problem("solver", f"backend {self.name} gives no duals",
                                      field="solver.backend", value=self.name)])  # fmt: skip
        found: Duals | None = duals(lp, settings)
        return found


def get_backend(name: str) -> Backend:
    """A backend by name (its module is imported on first use)."""
    if name not in BACKENDS:
        rule = f"backend was {name!r} but is expected to be one of {sorted(BACKENDS)}"
        raise InputError([Problem("solver", rule, field="solver.backend", value=name)])
    spec = BACKENDS[name]
    return Backend(spec, importlib.import_module(spec.module))


def duals_backend(name: str) -> Backend:
    """The backend itself where it gives duals, else the first registered one that does."""
    spec = BACKENDS[name]
    if spec.can(Capability.DUALS):
        return get_backend(name)
    return get_backend(next(n for n, s in BACKENDS.items() if s.can(Capability.DUALS)))
