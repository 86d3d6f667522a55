"""Policy rows.

(7)  locked in:  s[p,last] = 1 (for a given year t*: s[p,t] = [t ≥ t*]); locked out:
     s[p,·] = 0. These are column bounds.
(8)  requires q: s[q,t] ≥ s[p,t] for every t from p's first year (q approved, not later).
(9)  excludes q: s[p,last] + s[q,last] ≤ 1.
(10) group rule on group G and measure m, per period P (a year or the horizon):
     min_total ≤ Σ_{p∈G} m_p x_P ≤ max_total;
     of used:   Σ_{p∈G} m x_P ≥ min_share · Σ_{p} m x_P  (and ≤ with max_share);
     of supply: Σ_{p∈G} m x_P ≥ min_share · S_P.
     For a recurring resource x_P is "started by the period's last year" (use in that year);
     otherwise "started within the period".
(11) count rule: min_count ≤ Σ_{p∈district∩where} x_P ≤ max_count.
A soft rule gets a slack column with its penalty in the objective.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.formulation.context import Context
from allocator.formulation.program import label
from allocator.prepare import matches
from models.scenario import CountRule, GroupRule


def define_locks(ctx: Context) -> None:
    sc = ctx.prep.scenario
    s = ctx.s
    ctx.b.set_bounds(s["col"][s["project_id"].isin(sc.locked_out)].to_numpy(), hi=0.0)
    last = ctx.last().set_index("project_id")["col"]
    for pid, year in sc.locked_in.items():
        if year is None:
            ctx.b.set_bounds(np.array([last[pid]]), lo=1.0)
        else:
            mine = s[s["project_id"] == pid]
            ctx.b.set_bounds(mine["col"][mine["year"] < year].to_numpy(), hi=0.0)
            ctx.b.set_bounds(mine["col"][mine["year"] >= year].to_numpy(), lo=1.0)


def define_requires(ctx: Context) -> None:
    pr = ctx.prep.projects
    years = ctx.prep.scenario.horizon.years
    links = [(p, q) for p, reqs in pr["requires"].items() for q in reqs]
    first = ctx.s.groupby("project_id")["year"].min()
    spec = pd.DataFrame(
        [(p, q, t) for p, q in links for t in years if t >= first.get(p, years[-1] + 1)],
        columns=["p", "q", "year"],
    )
    if spec.empty:
        return
    names = [
        label("requires", project=p, needs=q, year=t) for p, q, t in spec.itertuples(index=False)
    ]
    spec["row"] = ctx.b.add_rows("requires", names, lo=0.0)
    for who, sign in (("q", 1.0), ("p", -1.0)):
        users = spec.rename(columns={who: "project_id"})[["project_id", "year", "row"]]
        terms = ctx.started_by(users)
        ctx.b.add_terms(terms["row"].to_numpy(), terms["col"].to_numpy(), sign)


def define_excludes(ctx: Context) -> None:
    pr = ctx.prep.projects
    pairs = sorted(
        {tuple(sorted((p, q))) for p, qs in pr["excludes"].items() for q in qs if q in pr.index}
    )
    if not pairs:
        return
    rows = ctx.b.add_rows("excludes", [label("excludes", a=a, b=b) for a, b in pairs], hi=1.0)
    spec = pd.DataFrame(pairs, columns=["a", "b"]).assign(row=rows)
    last = ctx.last()
    for who in ("a", "b"):
        terms = spec[[who, "row"]].merge(last, left_on=who, right_on="project_id")
        ctx.b.add_terms(terms["row"].to_numpy(), terms["col"].to_numpy(), 1.0)


def _periods(ctx: Context, per: str | int | None) -> list[tuple[str, list[int]]]:
    years = ctx.prep.scenario.horizon.years
    if per in ("year", "each"):
        return [(str(t), [t]) for t in years]
    if per in ("horizon", None):
        return [("horizon", years)]
    return [(str(per), [int(per)])]


def _measure_terms(ctx: Context, measure: str, years: list[int]) -> pd.DataFrame:
    """Columns and coefficients of a measure over a period: project_id, col, coef."""
    sc = ctx.prep.scenario
    if measure in sc.resources:
        cumulative = sc.resources[measure].kind == "recurring"
        size = ctx.prep.demand[measure]
    else:
        cumulative = False
        size = ctx.prep.projects[measure].astype(float)
    terms = _period_terms(ctx, years, cumulative)
    if measure in sc.resources and sc.resources[measure].new_land and ctx.new_land:
        terms = terms.assign(col=[ctx.new_land.get(c, c) for c in terms["col"].to_numpy()])
    coef = size.reindex(terms["project_id"]).to_numpy() * terms["coef"].to_numpy()
    return pd.DataFrame(
        {"project_id": terms["project_id"].to_numpy(), "col": terms["col"].to_numpy(), "coef": coef}
    )


def _period_terms(ctx: Context, years: list[int], cumulative: bool) -> pd.DataFrame:
    """Terms that are 1 for a project started by the period's end (``cumulative``) or
    started within the period."""
    ids = ctx.last()["project_id"]
    end = pd.DataFrame({"project_id": ids, "year": years[-1]})
    if cumulative:
        return ctx.started_by(end)
    before = ctx.started_by(end.assign(year=years[0] - 1))
    return pd.concat([ctx.started_by(end), before.assign(coef=-before["coef"])], ignore_index=True)


def _group_rule(ctx: Context, rule: GroupRule) -> None:
    sc = ctx.prep.scenario
    in_group = matches(ctx.prep.projects, rule.group, sc.sectors)
    for period, years in _periods(ctx, rule.per):
        terms = _measure_terms(ctx, rule.measure, years)
        g = in_group.reindex(terms["project_id"]).to_numpy()
        if rule.of == "supply":
            sup = ctx.prep.supply
            sup = sup[(sup["resource"] == rule.measure) & sup["year"].isin(years)]
            if sc.resources[rule.measure].kind == "recurring":
                sup = sup[sup["year"] == years[-1]]
            total = float((sup["amount"] + sup["freed"]).sum())
        specs = []  # (suffix, coefs, lo, hi, shortfall sign)
        if rule.min_total is not None:
            specs.append(("min_total", np.where(g, terms["coef"], 0.0), rule.min_total, np.inf, 1))
        if rule.max_total is not None:
            specs.append(
                ("max_total", np.where(g, terms["coef"], 0.0), -np.inf, rule.max_total, -1)
            )
        for suffix, share, sign in (
            ("min_share", rule.min_share, 1),
            ("max_share", rule.max_share, -1),
        ):
            if share is None:
                continue
            if rule.of == "supply":
                coefs = np.where(g, terms["coef"], 0.0)
                bound = share * total
            else:
                coefs = terms["coef"].to_numpy() * (np.where(g, 1.0, 0.0) - share)
                bound = 0.0
            lo, hi = (bound, np.inf) if sign > 0 else (-np.inf, bound)
            specs.append((suffix, coefs, lo, hi, sign))
        for suffix, coefs, lo, hi, sign in specs:
            name = label(f"group:{rule.name}", bound=suffix, period=period)
            row = ctx.b.add_rows("group", [name], lo, hi)
            ctx.b.add_terms(np.full(len(terms), row[0]), terms["col"].to_numpy(), coefs)
            slack = ctx.add_slack(rule.name, [name], rule.soft_penalty_wan_cny_per_unit)
            if slack is not None:
                ctx.b.add_terms(row, slack, float(sign))


def _count_rule(ctx: Context, rule: CountRule) -> None:
    sc = ctx.prep.scenario
    pr = ctx.prep.projects
    selected = matches(pr, rule.where, sc.sectors)
    districts: list[str | None]
    districts = list(sc.districts) if rule.district == "each" else [rule.district]
    for district in districts:
        mask = selected & (pr["district"] == district) if district else selected
        for period, years in _periods(ctx, rule.year):
            terms = _period_terms(ctx, years, cumulative=False)
            terms = terms[terms["project_id"].map(mask).to_numpy(bool)]
            name = label(f"count:{rule.name}", district=district or "city", period=period)
            hi = np.inf if rule.max_count is None else rule.max_count
            row = ctx.b.add_rows("count", [name], rule.min_count, hi)
            ctx.b.add_terms(np.full(len(terms), row[0]), terms["col"].to_numpy(), terms["coef"])
            slack = ctx.add_slack(rule.name, [name], rule.soft_penalty_wan_cny_per_unit)
            if slack is not None:
                ctx.b.add_terms(row, slack, 1.0)


def define_group_rules(ctx: Context) -> None:
    for rule in ctx.prep.scenario.group_rules:
        _group_rule(ctx, rule)


def define_count_rules(ctx: Context) -> None:
    for rule in ctx.prep.scenario.count_rules:
        _count_rule(ctx, rule)
