"""What each backend declares it can do (``models.backends``), checked on every backend:
stopping at a time limit with its best solution, never returning worse than a complete
feasible start, a single thread used and said where it has no threads, duals only where
declared."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from allocator.backends.base import Settings, SolveResult, Status, get_backend
from allocator.errors import InputError
from allocator.formulation.program import LinearProgram
from models.backends import BACKENDS, Capability

pytestmark = pytest.mark.solver


def knapsack(n: int = 250, k: int = 10, seed: int = 1) -> LinearProgram:
    """max v·x s.t. W x ≤ 25% of W's row sums, x binary: uncorrelated, the hard kind."""
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 1000, (k, n)).astype(float)
    v = w.sum(0) / k + rng.integers(0, 500, n)
    return LinearProgram(
        c=v, A=sp.csr_matrix(w), row_lo=np.full(k, -np.inf), row_hi=w.sum(1) * 0.25,
        col_lo=np.zeros(n), col_hi=np.ones(n), integer=np.ones(n, dtype=bool),
        col_names=[f"x[{j}]" for j in range(n)], row_names=[f"r[{i}]" for i in range(k)],
        col_family=np.full(n, "x", dtype=object), row_family=np.full(k, "r", dtype=object),
    )  # fmt: skip


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_time_limit_returns_the_best_solution_found(backend):
    assert BACKENDS[backend].can(Capability.TIME_LIMIT)
    lp = knapsack()
    result = get_backend(backend).solve(lp, Settings(time_limit_s=0.5, gap_rel=0.0))
    assert result.status in (Status.FEASIBLE, Status.OPTIMAL), (result.status, result.message)
    assert result.x is not None and not lp.violations(result.x)
    assert result.objective == pytest.approx(lp.objective(result.x))
    if backend == "ortools_highs":  # OR-Tools' wrapper answered "status 99" here
        assert result.status is Status.FEASIBLE and result.gap is not None and result.gap > 0


@pytest.fixture(scope="module")
def good() -> tuple[LinearProgram, SolveResult]:
    """A hard knapsack and a good solution of it (HiGHS for 3 s)."""
    lp = knapsack(seed=2)
    return lp, get_backend("highs").solve(lp, Settings(time_limit_s=3, gap_rel=1e-3))


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_complete_feasible_start_is_never_returned_worse(backend, good):
    lp, best = good
    assert best.x is not None and best.objective is not None
    start = lp.named(best.x)
    result = get_backend(backend).solve(lp, Settings(time_limit_s=0.05, gap_rel=0.0, start=start))
    assert result.x is not None and not lp.violations(result.x)
    assert result.objective is not None and result.objective >= best.objective - 1e-6
    if not BACKENDS[backend].can(Capability.WARM_START):
        assert result.details["warm_start"] == "kept only if nothing better"


@pytest.mark.parametrize(
    "backend", [n for n, s in BACKENDS.items() if not s.can(Capability.THREADS)]
)
def test_a_backend_without_threads_runs_one_and_says_so(backend):
    result = get_backend(backend).solve(knapsack(n=30, k=3), Settings(threads=2))
    assert result.status is Status.OPTIMAL
    assert result.details["threads_used"] == 1


def test_duals_only_where_declared():
    lp = knapsack(n=30, k=3)
    for name, spec in BACKENDS.items():
        backend = get_backend(name)
        if spec.can(Capability.DUALS):
            objective, duals = backend.lp_duals(lp, Settings())  # type: ignore[misc]
            relaxed = backend.solve(
                LinearProgram(**{**lp.__dict__, "integer": np.zeros(30, dtype=bool)}), Settings()
            )
            assert objective == pytest.approx(relaxed.objective)
            # strong duality: c·x* = b·y* (rows ≤ hi, columns 0 ≤ x ≤ 1 with their own duals)
            reduced = np.maximum(lp.c - lp.A.T @ duals, 0.0)
            assert objective == pytest.approx(lp.row_hi @ duals + reduced.sum(), rel=1e-6)
        else:
            with pytest.raises(InputError, match=f"backend {name} gives no duals"):
                backend.lp_duals(lp, Settings())


@pytest.mark.parametrize(
    "backend", [n for n, s in BACKENDS.items() if s.can(Capability.DETERMINISTIC)]
)
def test_a_deterministic_backend_repeats_its_answer(backend):
    """The same model, seed and threads (two where the backend has them): the same solution,
    column for column, not only the same value."""
    lp = knapsack(n=40, k=4, seed=5)
    settings = Settings(threads=2, seed=3, time_limit_s=60, gap_rel=0.0)
    first, again = (get_backend(backend).solve(lp, settings) for _ in range(2))
    assert first.status is Status.OPTIMAL and first.x is not None and again.x is not None
    assert np.array_equal(first.x, again.x)
