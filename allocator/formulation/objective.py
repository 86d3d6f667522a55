"""The objective, in 万元.

(12) maximise Σ value[p,t] x[p,t] − Σ price_rts buy[r,t,s]
              − new_land_cost_per_mu × Σ land_p n[p,t] − Σ penalty × slack
With x[p,t] = s[p,t] − s[p,t−1] the start terms become Σ_t (value[p,t] − value[p,t+1]) s[p,t]
(value after the window's last year = 0). The purchase costs are set with the purchase
columns (resources.py) and the penalties with the slack columns (policy.py). Until parcel
sites exist every project that needs new land takes it from its district's quota, so
Σ_t n[p,t] = s[p,last] and the land cost falls on that column; a project that may go on a
reuse site pays it on N[p,last] (land.py). Acquisition costs are set with the site columns.
"""

from __future__ import annotations

import numpy as np

from allocator.formulation.context import Context


def define_objective(ctx: Context) -> None:
    sc = ctx.prep.scenario
    s = ctx.s
    value = s["value_wan_cny"].to_numpy(dtype=float)
    nxt = s.groupby("project_id", sort=False)["value_wan_cny"].shift(-1).fillna(0.0).to_numpy()
    ctx.b.set_cost(s["col"].to_numpy(), value - nxt)
    per_mu = sc.objective.new_land_cost_wan_cny_per_mu
    last = ctx.last()
    for name, res in sc.resources.items():
        if res.new_land and per_mu:
            land = ctx.prep.demand[name].reindex(last["project_id"]).to_numpy()
            cols = np.array([ctx.new_land.get(c, c) for c in last["col"].to_numpy().tolist()])
            ctx.b.set_cost(cols, -per_mu * land)
