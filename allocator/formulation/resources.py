"""Resource rows, one per supply row (resource r, year t, scope s).

(3) buy[r,t,s] ∈ [0, cap]: market purchase, where the resource trades (never for the
    provincial reserve).
(4) recurring r:  Σ_{p in pool} d_pr s[p,t] − buy[r,t,s] ≤ S_rts + freed_rts
    (s[p,t]: started by t, so p uses r every year from its start on)
(5) one-off r:    Σ_{p in pool} d_pr (s[p,t] − s[p,t−1]) − buy[r,t,s] ≤ S_rts
(5') one-off r with carry-over: DESIGN.md's carry variables c ≥ 0 eliminated, which leaves
    the cumulative rows Σ_{p in pool} d_pr s[p,t] − Σ_{t' ≤ t} buy[r,t',s] ≤ Σ_{t' ≤ t} S_rt's
(6) must buy (intensity over the limit):
    Σ_{p over limit} d_pr s[p,t] (recurring; one-off: s[p,t] − s[p,t−1]) − Σ_s buy[r,t,s] ≤ 0
The pool of a row is its district's (or the city's) projects; a ``province_reserve`` row
takes the provincial major projects' demand in the years where such a row exists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.formulation.context import Context
from allocator.formulation.program import label


def define_purchases(ctx: Context) -> None:
    supply = ctx.prep.supply
    trades = (supply["cap"] > 0).to_numpy() & supply["price"].notna().to_numpy()
    rows = supply[trades]
    names = [
        label(f"buy:{r}", year=t, scope=s)
        for r, t, s in zip(rows["resource"], rows["year"], rows["scope"], strict=True)
    ]
    cols = ctx.b.add_cols("buy", names, 0.0, rows["cap"].to_numpy(), -rows["price"].to_numpy())
    col = np.full(len(supply), -1, dtype=np.int64)
    col[trades] = cols
    ctx.buy = supply.assign(col=col)


def define_resource_rows(ctx: Context) -> None:
    sc = ctx.prep.scenario
    supply = ctx.buy.assign(have=ctx.buy["amount"] + ctx.buy["freed"])
    carried = supply["resource"].map({k: r.carry_over for k, r in sc.resources.items()})
    # With carry-over the row of year t holds everything up to t, see (5').
    cum = supply.sort_values("year").groupby(["resource", "scope"])["have"].cumsum()
    supply["have"] = supply["have"].where(~carried, cum)
    names = [
        label(r, year=t, scope=s)
        for r, t, s in zip(supply["resource"], supply["year"], supply["scope"], strict=True)
    ]
    rows = ctx.b.add_rows("resource", names, hi=supply["have"].to_numpy())
    supply = supply.assign(row=rows)
    ctx.buy = ctx.buy.assign(row=rows)
    row_of = supply.set_index(["resource", "year", "scope"])["row"]
    traded = supply[supply["col"] >= 0]
    own = traded[~carried[traded.index]]
    ctx.b.add_terms(own["row"].to_numpy(), own["col"].to_numpy(), -1.0)
    # A carried resource's purchase in year t' counts in every row t ≥ t' of its scope.
    later = traded[carried[traded.index]].merge(
        supply[["resource", "scope", "year", "row"]],
        on=["resource", "scope"],
        suffixes=("", "_row"),
    )
    later = later[later["year_row"] >= later["year"]]
    ctx.b.add_terms(later["row_row"].to_numpy(), later["col"].to_numpy(), -1.0)

    pools = ctx.prep.pools
    for name, res in sc.resources.items():
        users = pools[pools["resource"] == name]
        terms = ctx.resource_terms(
            name, users, cumulative=res.kind == "recurring" or res.carry_over
        )
        row = row_of.reindex(pd.MultiIndex.from_frame(terms[["resource", "year", "scope"]]))
        coef = ctx.prep.demand[name].reindex(terms["project_id"]).to_numpy() * terms["coef"]
        ctx.b.add_terms(row.to_numpy(), terms["col"].to_numpy(), coef)


def define_must_buy(ctx: Context) -> None:
    sc = ctx.prep.scenario
    must = ctx.prep.must_buy
    for name in must.columns:
        over = must.index[must[name].to_numpy()]
        if over.empty:
            continue
        res = sc.resources[name]
        years = sc.horizon.years
        rows = ctx.b.add_rows(
            "must_buy", [label(f"must_buy:{name}", year=t) for t in years], hi=0.0
        )
        row_of = dict(zip(years, rows, strict=True))
        users = pd.DataFrame([(p, t) for p in over for t in years], columns=["project_id", "year"])
        terms = ctx.terms(users, cumulative=res.kind == "recurring")
        coef = ctx.prep.demand[name].reindex(terms["project_id"]).to_numpy() * terms["coef"]
        ctx.b.add_terms(terms["year"].map(row_of).to_numpy(), terms["col"].to_numpy(), coef)
        buys = ctx.buy[(ctx.buy["resource"] == name) & (ctx.buy["col"] >= 0)]
        ctx.b.add_terms(buys["year"].map(row_of).to_numpy(), buys["col"].to_numpy(), -1.0)
