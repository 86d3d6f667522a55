"""Start decisions.

(1) s[p,t] ∈ {0,1}: project p has started by year t, for t in its window ∩ the horizon
    (p starts in year t when s[p,t] − s[p,t−1] = 1; it is approved when s[p,last] = 1).
(2) s[p,t] ≤ s[p,t+1]: once started, started (this replaces "Σ_t x[p,t] ≤ 1").
"""

from __future__ import annotations

from allocator.formulation.context import Context
from allocator.formulation.program import label


def define_starts(ctx: Context) -> None:
    pairs = ctx.prep.pairs  # in project order, years ascending
    names = [f"s[{p},{t}]" for p, t in zip(pairs["project_id"], pairs["year"], strict=True)]
    cols = ctx.b.add_cols("s", names, 0.0, 1.0, integer=True)
    ctx.s = pairs.assign(col=cols).reset_index(drop=True)
    nxt = ctx.s.groupby("project_id", sort=False)["col"].shift(-1)
    early = ctx.s[nxt.notna().to_numpy()]
    if early.empty:
        return
    names = [
        label("started", project=p, year=t)
        for p, t in zip(early["project_id"], early["year"], strict=True)
    ]
    rows = ctx.b.add_rows("started", names, hi=0.0)
    ctx.b.add_terms(rows, early["col"].to_numpy(), 1.0)
    ctx.b.add_terms(rows, nxt.dropna().astype(int).to_numpy(), -1.0)
