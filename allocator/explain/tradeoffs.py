"""Trade-offs: the value of a scenario over a range of one supply, and near-optimal
portfolios that differ.

``frontier``: the supply of one resource (every year and scope) scaled by factors from
``low`` to ``high``. The scenario itself is solved first, as ``allocator solve`` solves it,
and is the point at factor 1; the others are solved in increasing order, each warm-started
from the best solution so far (still feasible with more supply), so that the values found
never decrease and never fall below the solve's above factor 1.

``weight_ranges``: for each bonus weight, the others fixed, the range over which the
approved set stays optimal, by bisection to ``tol``. At a trial weight the scenario is
re-solved warm-started from the base solution, for at most ``explain.time_limit_s``; the set
has changed when the solver finds a different approved set worth more than the base solution
at that weight (``unproven`` counts the trials stopped by the limit, whose "unchanged" is not
proven).

``alternatives``: after the solve's portfolio V, each next portfolio is the best one that
differs from every earlier one in at least one approved project (a no-good cut on the
approved set) and is worth at least (1 − within) × V. Each is checked by the evaluator. One
worth more than V is reported as a better solution of the same scenario.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.backends.base import Backend, Settings, SolveResult, get_backend
from allocator.engine import Options, Run, decode, solve
from allocator.errors import InputError
from allocator.evaluate import Evaluation, evaluate
from allocator.formulation.build import build_model
from allocator.formulation.program import LinearProgram
from allocator.inputs import Inputs
from allocator.prepare import Prepared, with_bonus_weight
from models.tables import Problem


def approved_hash(ids: list[str]) -> str:
    return hashlib.sha256(";".join(sorted(ids)).encode()).hexdigest()[:16]


def _record(factor: float, supply: float, result: SolveResult, check: Evaluation | None,
            approved: int | None, resource: str, time_s: float) -> dict[str, object]:  # fmt: skip
    """One row of the frontier: the supply level, the solve and the evaluator's figures."""
    used = None
    if check is not None:
        used = round(float(check.resources.loc[check.resources["resource"] == resource, "used"].sum()), 4)  # fmt: skip
    return {"factor": round(float(factor), 6), "supply": round(float(supply), 4),
            "status": result.status.value,
            "value_wan_cny": None if check is None else round(check.objective, 4),
            "bound_wan_cny": result.bound, "gap": result.gap, "used": used, "approved": approved,
            "evaluator_ok": None if check is None else check.ok, "better_than_solve": False,
            "time_s": round(time_s, 3)}  # fmt: skip


def _point(prep: Prepared, backend: Backend, settings: Settings, resource: str, factor: float,
           start: dict[str, float] | None) -> tuple[dict[str, object], dict[str, float] | None]:  # fmt: skip
    """One frontier point: the scenario with ``resource`` × ``factor``, solved from ``start``;
    its record and its solution by column name (None without one)."""
    base = prep.supply
    mine = (base["resource"] == resource).to_numpy()
    supply = base.assign(amount=np.where(mine, base["amount"] * factor, base["amount"]))
    scaled = replace(prep, supply=supply)
    model = build_model(scaled)
    result = backend.solve(model.lp, replace(settings, start=start))
    amount = supply.loc[mine, "amount"].sum()
    if result.x is None:
        return _record(factor, amount, result, None, None, resource, result.time_s), None
    alloc = decode(model, result.x)
    check = evaluate(scaled, alloc)
    record = _record(factor, amount, result, check, len(alloc.starts), resource, result.time_s)
    return record, model.lp.named(result.x)


def frontier(inputs: Inputs, resource: str, steps: int, low: float, high: float,
             options: Options = Options()) -> pd.DataFrame:  # fmt: skip
    """The value over ``steps`` levels of one resource's supply (module docstring). The
    scenario itself is solved first, as ``allocator solve`` does: the point at factor 1 is
    that solution, the points above start from it, and a point below it worth more is a
    better solution of the same scenario (``better_than_solve``), never a contradiction."""
    if resource not in inputs.scenario.resources:
        rule = f"is not declared in {inputs.label('scenario')}; declared: {sorted(inputs.scenario.resources)}"  # fmt: skip
        raise InputError([Problem("request", rule, field="resource", value=resource)])
    options.say("the scenario as it is")
    run = solve(inputs, options, marginals=False)
    run.solution()  # no solution: nothing to vary (the error says why)
    assert run.result.x is not None and run.evaluation is not None
    value = run.evaluation.objective
    backend = get_backend(run.backend)
    rows = []
    best: tuple[float, dict[str, float]] | None = None  # feasible for every larger factor
    crossed = False
    for i, factor in enumerate(float(f) for f in np.linspace(low, high, steps)):
        options.say(f"{resource} × {factor:.3f} ({i + 1}/{steps})")
        if factor > 1.0 - 1e-9 and not crossed:
            crossed = True
            if best is None or value >= best[0]:
                best = (value, run.model.lp.named(run.result.x))
        if abs(factor - 1.0) < 1e-9:
            rows.append(_solved_point(run, resource))
            continue
        record, found = _point(run.prep, backend, run.settings, resource, factor,
                               None if best is None else best[1])  # fmt: skip
        found_value = record["value_wan_cny"]
        if found is not None and isinstance(found_value, float):
            best = (found_value, found)
            if factor < 1.0 and found_value > value + 1e-9 * abs(value):
                record["better_than_solve"] = True
                options.say(f"at × {factor:g} a portfolio worth {found_value - value:,.0f} 万元 "
                            "more than the solve's: a better solution of the scenario itself")  # fmt: skip
        rows.append(record)
    return pd.DataFrame(rows).astype({"approved": "Int64"})


def _solved_point(run: Run, resource: str) -> dict[str, object]:
    """The frontier point at factor 1: the solve's own portfolio."""
    supply = run.prep.supply
    amount = supply.loc[supply["resource"] == resource, "amount"].sum()
    return _record(1.0, amount, run.result, run.evaluation, len(run.starts), resource,
                   run.times["solve_s"])  # fmt: skip


def _with_cuts(
    lp: LinearProgram, cuts: list[np.ndarray], last: np.ndarray, floor: float
) -> LinearProgram:
    """``lp`` with the value floor c·x ≥ floor and, per earlier approved set (a 0/1 vector over
    the projects' "approved" columns ``last``), Σ_{p in} (1 − a_p) + Σ_{p out} a_p ≥ 1."""
    n_cols = lp.shape[1]
    coef = np.array([np.where(c > 0.5, -1.0, 1.0) for c in cuts])
    rhs = np.array([1.0 - float(c.sum()) for c in cuts])
    cut_rows = sp.csr_matrix(
        (coef.ravel(), (np.repeat(np.arange(len(cuts)), len(last)), np.tile(last, len(cuts)))),
        shape=(len(cuts), n_cols),
    )
    names = [f"differs_from[{k}]" for k in range(len(cuts))]
    return lp.with_rows(cut_rows, rhs, np.inf, names, "no_good").with_value_floor(floor)


def alternatives(inputs: Inputs, count: int, within: float,
                 options: Options = Options()) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Up to ``count`` portfolios, the solve's first (as ``allocator solve`` finds it); and
    each project's selection frequency across them. A later one worth more than the first
    is a better solution of the same scenario (``better_than_solve``), found within the
    solve's gap; ``below_best`` is measured from the best found."""
    options.say("alternative 1: the scenario as it is")
    run = solve(inputs, options, marginals=False)
    first = run.solution()
    assert run.result.x is not None and run.evaluation is not None
    model, prep, value = run.model, run.prep, run.evaluation.objective
    backend = get_backend(run.backend)
    last_rows = model.s.drop_duplicates("project_id", keep="last")
    last, ids = last_rows["col"].to_numpy(), last_rows["project_id"].to_numpy()
    found: list[dict[str, object]] = []
    cuts: list[np.ndarray] = []
    sets: list[set[str]] = []
    values: list[float] = []
    for k in range(count):
        if k == 0:
            x, alloc, check, result = run.result.x, first, run.evaluation, run.result
            took = run.times["solve_s"]
        else:
            options.say(f"alternative {k + 1}/{count}")
            result = backend.solve(
                _with_cuts(model.lp, cuts, last, (1 - within) * value), run.settings
            )
            if result.x is None:
                options.say(f"no further portfolio within {within:.2%} ({result.status.value})")
                break
            x = result.x[: model.lp.shape[1]]
            alloc = decode(model, x)
            check = evaluate(prep, alloc)
            took = result.time_s
        chosen = set(alloc.starts.index)
        cuts.append(x[last])
        sets.append(chosen)
        values.append(check.objective)
        better = check.objective > value + 1e-9 * abs(value)
        if better:
            options.say(f"alternative {k + 1} is worth {check.objective - value:,.0f} 万元 more than "
                        f"the solve's portfolio (gap {run.result.gap or 0:.4%}): a better "
                        "solution of the same scenario")  # fmt: skip
        found.append({"alternative": k + 1, "value_wan_cny": round(check.objective, 4),
                      "below_best": 0.0, "better_than_solve": better,
                      "status": result.status.value, "approved": len(chosen),
                      "approved_hash": approved_hash(sorted(chosen)), "evaluator_ok": check.ok,
                      "differs_from_previous": min((len(chosen ^ s) for s in sets[:-1]), default=None),
                      "time_s": round(took, 3)})  # fmt: skip
    best = max(values)
    for f, v in zip(found, values, strict=True):
        f["below_best"] = round((best - v) / max(abs(best), 1.0), 8) + 0.0
    freq = pd.DataFrame({"project_id": ids,
                         "selected": [sum(p in s for s in sets) for p in ids]})  # fmt: skip
    freq["frequency"] = (freq["selected"] / max(len(sets), 1)).round(6)
    for j, s in enumerate(sets, start=1):
        freq[f"in_{j}"] = [int(p in s) for p in ids]
    table = pd.DataFrame(found)
    table["differs_from_previous"] = table["differs_from_previous"].astype("Int64")
    return table, freq.sort_values(["frequency", "project_id"], ascending=[False, True],
                                                 ignore_index=True)  # fmt: skip


@dataclass
class _Trials:
    """Re-solves of one scenario with one bonus weight changed, against the base solution."""

    prep: Prepared
    backend: Backend
    settings: Settings  # warm-started from the base solution, explain.time_limit_s
    base_x: np.ndarray
    chosen: set[str]
    options: Options
    solves: int = 0
    unproven: int = 0

    def same(self, criterion: str, w: float) -> bool:
        """Whether the approved set stays optimal at weight ``w``."""
        self.solves += 1
        self.options.say(f"{criterion} = {w:.4f}")
        trial = build_model(with_bonus_weight(self.prep, criterion, w))
        held = trial.lp.objective(self.base_x)
        r = self.backend.solve(trial.lp, self.settings)
        self.unproven += r.status.value != "optimal"
        if r.x is None or r.objective is None:
            return True
        better = r.objective > held + 1e-9 * max(1.0, abs(held))
        return not (better and set(decode(trial, r.x).starts.index) != self.chosen)

    def side(self, criterion: str, weight: float, limit: float, tol: float) -> float:
        """The edge toward ``limit``: a set on a knife edge (the next step away already
        changes it) costs one solve, not a bisection."""
        if weight == limit:
            return limit
        step = weight + float(np.sign(limit - weight)) * min(tol, abs(limit - weight))
        if not self.same(criterion, step):
            return weight
        if self.same(criterion, limit):
            return limit
        inside, outside = step, limit
        while abs(outside - inside) > tol:
            mid = (inside + outside) / 2
            inside, outside = (mid, outside) if self.same(criterion, mid) else (inside, mid)
        return inside


def weight_ranges(inputs: Inputs, cap: float = 1.0, tol: float = 0.01,
                  options: Options = Options(), only: list[str] | None = None) -> pd.DataFrame:  # fmt: skip
    sc = inputs.scenario
    scenario = inputs.label("scenario")
    if sc.objective.value_column:
        rule = "values projects by this column: no bonus weights apply"
        raise InputError([Problem(scenario, rule, field="objective.value_column",
                                  value=sc.objective.value_column)])  # fmt: skip
    unknown = sorted(set(only or []) - set(sc.objective.bonus_weights))
    if unknown:
        rule = f"have no bonus weight in {scenario}; weighted: {sorted(sc.objective.bonus_weights)}"
        raise InputError([Problem("request", rule, field="criteria", value=",".join(unknown))])
    run = solve(inputs, options, marginals=False)
    chosen = set(run.solution().starts.index)
    prep, model, base, backend = run.prep, run.model, run.result, get_backend(run.backend)
    assert base.x is not None
    trial = replace(
        run.settings, start=model.lp.named(base.x), time_limit_s=sc.explain.time_limit_s
    )
    rows = []
    for criterion, weight in sorted(sc.objective.bonus_weights.items()):
        if only and criterion not in only:
            continue
        t0 = time.perf_counter()
        trials = _Trials(prep, backend, trial, base.x, chosen, options)
        upper = trials.side(criterion, weight, cap, tol)
        lower = trials.side(criterion, weight, 0.0, tol)
        rows.append({"criterion": criterion, "weight": weight, "lower": round(lower, 6),
                     "upper": round(upper, 6), "lower_is_zero": lower == 0.0,
                     "upper_is_cap": upper == cap, "solves": trials.solves,
                     "unproven": trials.unproven, "time_s": round(time.perf_counter() - t0, 3)})  # fmt: skip
    return pd.DataFrame(rows)
