"""The straightforward model: DESIGN.md §5 written term by term in PuLP with ``lpSum``.

One binary per project-year x[p,t], per project-site y[p,s] and per project-year of new
land n[p,t]; carry-over variables c ≥ 0 as DESIGN.md writes them; every suitable pair
kept. It is the yardstick of the benchmark, so it must be right: its solution is decoded
into an allocation and checked by the same evaluator as the engine's.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cbcbox
import highspy
import numpy as np
import pandas as pd
import pulp

from allocator.backends.base import quiet_stdout
from allocator.backends.pulp import cbc_bound
from allocator.evaluate import Allocation
from allocator.prepare import Prepared, matches


@dataclass
class Built:
    prob: pulp.LpProblem
    x: dict[tuple[str, int], pulp.LpVariable]
    y: dict[tuple[str, str], pulp.LpVariable]
    buy: dict[tuple[str, int, str], pulp.LpVariable]
    seconds: float


def build(prep: Prepared) -> Built:
    started = time.perf_counter()
    sc = prep.scenario
    prob = pulp.LpProblem("straightforward", pulp.LpMaximize)
    var = prob.add_variable
    x = {
        (p, t): var(f"x_{p}_{t}", 0, 1, pulp.LpBinary)
        for p, t in zip(prep.pairs["project_id"], prep.pairs["year"], strict=True)
    }
    value = {
        (p, t): v
        for p, t, v in prep.pairs[["project_id", "year", "value_wan_cny"]].itertuples(index=False)
    }
    window = {p: [t for (q, t) in x if q == p] for p in prep.demand.index}
    projects = list(prep.demand.index)
    land = prep.inputs.projects["land_mu"]
    sites = prep.sites.set_index("site_id")
    y = {
        (p, s): var(f"y_{p}_{s}", 0, 1, pulp.LpBinary)
        for p, s in zip(prep.candidates["project_id"], prep.candidates["site_id"], strict=True)
    }
    needs_land = [
        p
        for p in projects
        if land[p] > 0 and pd.isna(prep.inputs.projects.at[p, "existing_parcel_id"])
    ]
    n = {
        (p, t): var(f"n_{p}_{t}", 0, 1, pulp.LpBinary)
        for p in needs_land
        if p not in prep.must_place
        for t in window[p]
    }
    u = {s: var(f"u_{s}", 0, 1, pulp.LpBinary) for s in sites.index if sites.at[s, "acquisition_cost_wan_cny"] > 0
         and s in set(prep.candidates["site_id"])}  # fmt: skip
    supply = prep.supply.set_index(["resource", "year", "scope"])
    buy = {k: var(f"buy_{k[0]}_{k[1]}_{k[2]}", 0, None if np.isinf(r.cap) else float(r.cap))
           for k, r in supply.iterrows() if pd.notna(r.price) and r.cap > 0}  # fmt: skip
    objective = [value[k] * v for k, v in x.items()]
    objective += [-float(supply.at[k, "price"]) * v for k, v in buy.items()]
    objective += [-float(sites.at[s, "acquisition_cost_wan_cny"]) * v for s, v in u.items()]
    per_mu = sc.objective.new_land_cost_wan_cny_per_mu
    # (1) one start per project
    for p in projects:
        prob += pulp.lpSum(x[p, t] for t in window[p]) <= 1
    # land: placement or new land, capacity, availability
    placed = {p: [v for (q, _), v in y.items() if q == p] for p in needs_land}
    for p in needs_land:
        approved = pulp.lpSum(x[p, t] for t in window[p])
        if p in prep.must_place:
            prob += pulp.lpSum(placed[p]) == approved
            continue
        prob += pulp.lpSum(placed[p]) + pulp.lpSum(n[p, t] for t in window[p]) == approved
        for t in window[p]:
            prob += n[p, t] <= x[p, t]
        if per_mu:
            objective += [-per_mu * float(land[p]) * n[p, t] for t in window[p]]
    for s in {s for _, s in y}:
        terms = pulp.lpSum(float(land[p]) * v for (p, q), v in y.items() if q == s)
        area = float(sites.at[s, "area_mu"])
        prob += terms <= (area * u[s] if s in u else area)
    for (p, s), v in y.items():
        prob += v <= pulp.lpSum(x[p, t] for t in window[p] if t >= sites.at[s, "available_year"])
    _resources(prob, prep, x, n, buy, window)
    _policy(prob, prep, x, window, objective)
    prob += pulp.lpSum(objective)
    return Built(prob, x, y, buy, time.perf_counter() - started)


def _resources(prob, prep, x, n, buy, window) -> None:
    sc = prep.scenario
    years = sc.horizon.years
    pools = prep.pools
    with_n = {p for p, _ in n}
    for name, res in sc.resources.items():
        rows = prep.supply[prep.supply["resource"] == name]
        carry = {}
        if res.carry_over:
            for scope in rows["scope"].unique():
                for t in years[:-1]:
                    carry[scope, t] = prob.add_variable(f"c_{name}_{scope}_{t}", 0)
        for r in rows.itertuples():
            users = pools[
                (pools["resource"] == name)
                & (pools["year"] == r.year)
                & (pools["scope"] == r.scope)
            ]
            terms = []
            for p in users["project_id"]:
                d = float(prep.demand.at[p, name])
                starts = [
                    t
                    for t in window[p]
                    if (t <= r.year if res.kind == "recurring" else t == r.year)
                ]
                chosen = n if res.new_land and p in with_n else x  # new land: n[p,t]
                terms += [d * chosen[p, t] for t in starts]
            rhs = [float(r.amount + r.freed)]
            key = (name, r.year, r.scope)
            if key in buy:
                terms.append(-1 * buy[key])
            if res.carry_over:
                if (r.scope, r.year - 1) in carry:
                    terms.append(-1 * carry[r.scope, r.year - 1])
                if (r.scope, r.year) in carry:
                    terms.append(carry[r.scope, r.year])
            prob += pulp.lpSum(terms) <= rhs[0]
        if name in prep.must_buy.columns:
            over = prep.must_buy.index[prep.must_buy[name].to_numpy()]
            for t in years:
                use = [float(prep.demand.at[p, name]) * x[p, s] for p in over for s in window[p]
                       if (s <= t if res.kind == "recurring" else s == t)]  # fmt: skip
                bought = [v for (r_, yr, _), v in buy.items() if r_ == name and yr == t]
                if use:
                    prob += pulp.lpSum(use) <= pulp.lpSum(bought)


def _policy(prob, prep, x, window, objective) -> None:
    sc = prep.scenario
    years = sc.horizon.years
    pr = prep.projects
    for p in sc.locked_out:
        for t in window.get(p, []):
            prob += x[p, t] == 0
    for p, year in sc.locked_in.items():
        if year is None:
            prob += pulp.lpSum(x[p, t] for t in window[p]) == 1
        else:
            prob += x[p, year] == 1
    for p, reqs in pr["requires"].items():
        for q in reqs:
            for t in years:
                prob += (pulp.lpSum(x[q, s] for s in window.get(q, []) if s <= t)
                         >= pulp.lpSum(x[p, s] for s in window[p] if s <= t))  # fmt: skip
    for p, excl in pr["excludes"].items():
        for q in excl:
            if q in window and p < q:
                prob += (
                    pulp.lpSum(x[p, t] for t in window[p]) + pulp.lpSum(x[q, t] for t in window[q])
                    <= 1
                )
    for rule in sc.group_rules:
        group = matches(pr, rule.group, sc.sectors)
        resource = sc.resources.get(rule.measure)
        recurring = resource is not None and resource.kind == "recurring"
        size = prep.demand[rule.measure] if resource is not None else pr[rule.measure].astype(float)
        periods = [[t] for t in years] if rule.per == "year" else [years]
        for period in periods:
            on = {
                (p, t): v
                for (p, t), v in x.items()
                if (t <= period[-1] if recurring else t in period)
            }
            g = pulp.lpSum(float(size[p]) * v for (p, _), v in on.items() if group[p])
            total = pulp.lpSum(float(size[p]) * v for (p, _), v in on.items())
            short = (
                prob.add_variable(f"short_{rule.name}_{period[0]}_{len(period)}", 0)
                if rule.soft_penalty_wan_cny_per_unit is not None
                else 0
            )
            if rule.soft_penalty_wan_cny_per_unit is not None:
                objective.append(-rule.soft_penalty_wan_cny_per_unit * short)
            if rule.min_total is not None:
                prob += g + short >= rule.min_total
            if rule.max_total is not None:
                prob += g - short <= rule.max_total
            if rule.min_share is not None:
                prob += g + short >= rule.min_share * total
            if rule.max_share is not None:
                prob += g - short <= rule.max_share * total
    for count in sc.count_rules:
        sel = matches(pr, count.where, sc.sectors)
        districts = list(sc.districts) if count.district == "each" else [count.district]
        periods = (
            [[t] for t in years]
            if count.year == "each"
            else [years]
            if count.year is None
            else [[count.year]]
        )
        for d in districts:
            mask = sel & (pr["district"] == d) if d else sel
            for period in periods:
                terms = pulp.lpSum(v for (p, t), v in x.items() if t in period and mask[p])
                prob += terms >= count.min_count
                if count.max_count is not None:
                    prob += terms <= count.max_count


def solve(
    built: Built, solver: str, time_limit: float, gap: float, threads: int = 1, seed: int = 0
) -> tuple[str, float, float | None]:
    """Solve with HiGHS or CBC (PuLP defaults besides limits and seed); return the status
    (optimal, or "limit" when stopped with a solution), the seconds and the bound."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "cbc.log"
        if solver == "highs":
            highspy.Highs.resetGlobalScheduler(True)  # another thread count may have run before
            engine = pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=gap, threads=threads,
                                random_seed=seed)  # fmt: skip
        else:
            engine = pulp.COIN_CMD(
                path=cbcbox.cbc_bin_path(), msg=False, timeLimit=time_limit, gapRel=gap,
                threads=threads, logPath=str(log),
                options=[f"randomSeed {seed}", f"randomCbcSeed {seed}"],
            )  # fmt: skip
        started = time.perf_counter()
        with quiet_stdout():
            built.prob.solve(engine)
        seconds = time.perf_counter() - started
        text = log.read_text(errors="replace") if log.exists() else ""
    objective = pulp.value(built.prob.objective)
    if solver == "highs":
        model = built.prob.solverModel
        bound = -model.getInfo().mip_dual_bound  # PuLP minimises the negated objective
        proven = str(model.getModelStatus()).endswith("kOptimal")
    else:
        bound = cbc_bound(text, objective, gap)
        proven = "Result - Optimal" in text
    if built.prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return "no solution", seconds, bound
    return ("optimal" if proven else "limit"), seconds, bound


def allocation(built: Built, prep: Prepared) -> Allocation:
    starts = pd.Series(
        {p: t for (p, t), v in built.x.items() if (v.varValue or 0) > 0.5}, dtype=int
    )
    placed = pd.Series(
        {p: s for (p, s), v in built.y.items() if (v.varValue or 0) > 0.5}, dtype=object
    )
    index = pd.MultiIndex.from_frame(prep.supply[["resource", "year", "scope"]])
    bought = pd.Series(
        [built.buy[k].varValue or 0.0 if k in built.buy else 0.0 for k in index], index=index
    )
    return Allocation(starts, bought.round(6), placed)
