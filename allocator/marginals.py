"""Marginal values of the supply rows (resource, year, scope), three kinds.

- ``dual_fixed_int``: the dual of the LP left when every integer decision is fixed at the
  solution. Often 0: with every project fixed a row is slack, or tight but with nothing
  free to move in it (degenerate). Only purchases and soft-rule slack can still react.
- ``dual_lp``: the dual of the LP relaxation (what a fractional project would pay).
- ``mip_marginal``: (V(S+Δ) − V(S)) / Δ, by re-solving the scenario with the supply raised by
  Δ = ``explain.marginal_step`` × supply (1 unit where the supply is 0), warm-started from the
  solution. Both solves stop at a gap, so the figure comes with the interval it is known to
  lie in: [(V₁ − B₀)/Δ, (B₁ − V₀)/Δ] with V the values found and B the bounds. V₀ is the best
  value found at S by any of the re-solves (one whose portfolio fits the original supply
  improves on the base within its gap), so that V₁ − V₀ is what Δ itself is worth.

All three are of the *supply* in 万元 per unit: with carry-over, year t's supply counts in
every cumulative row t' ≥ t (formulation/resources.py), so its dual is the sum of theirs.
The duals come from the run's backend where it gives them, else from the first registered
backend that does (``duals_backend``; the summary says which).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np
import pandas as pd

from allocator.backends.base import Settings, SolveResult, duals_backend, get_backend
from allocator.formulation.build import Model, build_model
from allocator.formulation.program import LinearProgram
from allocator.prepare import Prepared
from models.result import FIXED_DUAL, LP_DUAL, MIP_COLUMNS, SUPPLY_KEYS


def supply_rows(prep: Prepared, model: Model) -> list[np.ndarray]:
    """For each supply row (in the order of ``model.buy``): the model rows its amount is in."""
    buy = model.buy
    carried = buy["resource"].map({k: r.carry_over for k, r in prep.scenario.resources.items()})
    out = []
    for r in buy.assign(carried=carried).itertuples():
        if r.carried:
            same = (buy["resource"] == r.resource) & (buy["scope"] == r.scope)
            out.append(buy.loc[same & (buy["year"] >= r.year), "row"].to_numpy())
        else:
            out.append(np.array([r.row]))
    return out


def _supply_duals(rows: list[np.ndarray], solved: tuple[float, np.ndarray] | None) -> np.ndarray:
    if solved is None:
        return np.full(len(rows), np.nan)
    return np.round([float(solved[1][r].sum()) for r in rows], 9) + 0.0


def lp_marginals(
    prep: Prepared, model: Model, x: np.ndarray, settings: Settings, backend: str
) -> pd.DataFrame:
    """resource, year, scope and the two LP duals of each supply row."""
    lp = model.lp
    rows = supply_rows(prep, model)
    duals = duals_backend(backend)
    relaxed = duals.lp_duals(lp, settings)
    fixed_x = np.where(lp.integer, np.round(x), 0.0)
    fixed = lp.with_bounds(
        np.where(lp.integer, fixed_x, lp.col_lo), np.where(lp.integer, fixed_x, lp.col_hi)
    )
    at_solution = duals.lp_duals(fixed, settings)
    out = model.buy[SUPPLY_KEYS].copy()
    out[FIXED_DUAL] = _supply_duals(rows, at_solution)
    out[LP_DUAL] = _supply_duals(rows, relaxed)
    return out


def marginal_values(
    prep: Prepared,
    model: Model,
    base: SolveResult,
    settings: Settings,
    backend: str,
    say: Callable[[str], None] = lambda _m: None,
) -> pd.DataFrame:
    """The LP duals of every supply row, and its MIP marginal value where the scenario asks."""
    assert base.x is not None
    out = lp_marginals(prep, model, base.x, settings, backend)
    if prep.scenario.explain.mip_marginals:
        return out.merge(mip_marginals(prep, model, base, settings, backend, say), on=SUPPLY_KEYS)
    return out.assign(**dict.fromkeys(MIP_COLUMNS[:-1], np.nan), mip_note="")


def _resolve(lp: LinearProgram, settings: Settings, backend: str) -> SolveResult:
    return get_backend(backend).solve(lp, settings)


def mip_marginals(
    prep: Prepared,
    model: Model,
    base: SolveResult,
    settings: Settings,
    backend: str,
    say: Callable[[str], None] = lambda _m: None,
) -> pd.DataFrame:
    """The MIP marginal value of each supply row and the interval it is known to lie in."""
    assert base.x is not None and base.objective is not None
    step = prep.scenario.explain.marginal_step
    limit = prep.scenario.explain.time_limit_s
    start = model.lp.named(base.x)
    resolve = replace(settings, time_limit_s=limit, start=start)
    b0 = base.bound if base.bound is not None else np.inf
    supply = prep.supply
    deltas, programs = [], []
    for i, r in enumerate(supply.itertuples()):
        have = float(r.amount + r.freed)
        deltas.append(step * have if have > 0 else 1.0)
        raised = supply.copy()
        raised.loc[raised.index[i], "amount"] = r.amount + deltas[-1]
        programs.append(build_model(replace(prep, supply=raised)).lp)
    # One single-threaded re-solve per core at a time: on two cores about twice the
    # throughput of two-threaded solves one after another (docs/performance.md).
    workers = max(1, min(os.cpu_count() or 1, settings.threads, len(programs)))
    say(f"marginal values of {len(programs)} supply rows, {workers} at a time")
    if workers == 1:
        results = [_resolve(lp, resolve, backend) for lp in programs]
    else:
        one = [replace(resolve, threads=1)] * len(programs)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = list(pool.map(_resolve, programs, one, [backend] * len(programs)))
    solved = list(zip(deltas, results, strict=True))
    # The base is optimal only to its gap: a re-solve may find a better portfolio that fits
    # the original supply. The best of those is V(S) for every row, so that the difference
    # measures only what the extra Δ is worth.
    fits = [r.objective for _, r in solved
            if r.x is not None and r.objective is not None and not model.lp.violations(r.x)]  # fmt: skip
    v0 = max([base.objective, *fits])
    records = []
    for delta, result in solved:
        if result.objective is None:
            records.append((np.nan, np.nan, np.nan, delta, f"re-solve: {result.status.value}"))
            continue
        v1 = max(result.objective, v0)  # a portfolio that fits S fits S + Δ
        b1 = result.bound if result.bound is not None else np.inf
        lo, hi = max((v1 - b0) / delta, 0.0), max((b1 - v0) / delta, 0.0)
        stopped = (
            "" if result.status.value == "optimal" else f"re-solve stopped: {result.status.value}"
        )
        records.append((round((v1 - v0) / delta, 9) + 0.0, lo, hi, delta, stopped))
    frame = pd.DataFrame(records, columns=MIP_COLUMNS)
    return pd.concat([supply[SUPPLY_KEYS].reset_index(drop=True), frame], axis=1)
