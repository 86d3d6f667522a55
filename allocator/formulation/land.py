"""Placing projects that need new land: on a reuse site, or on the district's quota.

(13) y[p,s] ∈ {0,1} for suitable pairs (allocator/land/placement.py); a project goes on at
     most one site, and only if approved: Σ_s y[p,s] ≤ s[p,last] (= for a project below its
     own park's intensity floor, which may only go on a site).
(14) not before the site is available: y[p,s] ≤ s[p,last] − s[p,a_s−1].
(15) site area over the horizon (several projects may share a site):
     Σ_p land_p y[p,s] ≤ area_s · u_s, with u_s ∈ {0,1} "site used" where the site has an
     acquisition cost (charged in the objective), else ≤ area_s.
(16) new land taken by year t: N[p,t] ≥ s[p,t] − Σ_s y[p,s], N ∈ {0,1}; the district's
     new-land quota rows count land_p N[p,t] for these projects instead of land_p s[p,t]
     (DESIGN.md's n[p,t] summed up to t), and the cost of new land falls on N[p,last].
     The least N, max(0, s − Σ_s y), is integral anyway; declaring N binary makes each
     quota row a knapsack over binaries, whose cover cuts HiGHS separates directly (on the sample
     city, 307 N columns, the root bound falls from 0.012% to 0.010% above the optimum and the
     median solve time by about a third). It is declared binary only up to
     ``NEW_LAND_BINARY_MAX`` columns: at 1,650 (5,000 projects) binary and continuous took
     the same time, at 6,469 (20,000 projects, 16 cities) HiGHS with binary N stayed at
     the root past the 300 s limit (0.74%) where continuous N proved 0.1% in 162 s on one
     thread (docs/performance.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.formulation.context import Context
from allocator.formulation.program import label

NEW_LAND_BINARY_MAX = 1000  # N is declared binary up to this many columns (16)


def define_placement(ctx: Context) -> None:
    pairs = ctx.prep.candidates
    if pairs.empty:
        return
    sites = ctx.prep.sites.set_index("site_id")
    names = [f"y[{p},{s}]" for p, s in zip(pairs["project_id"], pairs["site_id"], strict=True)]
    ctx.y = pairs[["project_id", "site_id"]].assign(
        col=ctx.b.add_cols("y", names, 0, 1, integer=True)
    )
    _one_site(ctx)
    _availability(ctx, sites)
    _capacity(ctx, sites)
    _new_land(ctx)


def _one_site(ctx: Context) -> None:
    y = ctx.y
    last = ctx.last().set_index("project_id")["col"]
    projects = y["project_id"].drop_duplicates()
    must = projects.isin(ctx.prep.must_place).to_numpy()
    rows = ctx.b.add_rows("placed", [label("placed", project=p) for p in projects],
                          np.where(must, 0.0, -np.inf), 0.0)  # fmt: skip
    row_of = pd.Series(rows, index=projects.to_numpy())
    ctx.b.add_terms(row_of[y["project_id"]].to_numpy(), y["col"].to_numpy(), 1.0)
    ctx.b.add_terms(rows, last[projects].to_numpy(), -1.0)


def _availability(ctx: Context, sites: pd.DataFrame) -> None:
    y = ctx.y.assign(avail=ctx.y["site_id"].map(sites["available_year"]).to_numpy())
    before = ctx.s.set_index(["project_id", "year"])["col"]
    key = pd.MultiIndex.from_arrays([y["project_id"], y["avail"] - 1])
    early = before.reindex(key).to_numpy()
    late = y[~np.isnan(early)]
    if late.empty:
        return
    rows = ctx.b.add_rows("available", [label("available", project=p, site=s) for p, s in
                                        zip(late["project_id"], late["site_id"], strict=True)], hi=0.0)  # fmt: skip
    last = ctx.last().set_index("project_id")["col"]
    ctx.b.add_terms(rows, late["col"].to_numpy(), 1.0)
    ctx.b.add_terms(rows, early[~np.isnan(early)].astype(np.int64), 1.0)
    ctx.b.add_terms(rows, last[late["project_id"]].to_numpy(), -1.0)


def _capacity(ctx: Context, sites: pd.DataFrame) -> None:
    used = ctx.y["site_id"].drop_duplicates().to_numpy()
    area = sites.loc[used, "area_mu"].to_numpy(float)
    cost = sites.loc[used, "acquisition_cost_wan_cny"].to_numpy(float)
    paid = cost > 0
    rows = ctx.b.add_rows(
        "site", [label("site", site=s) for s in used], hi=np.where(paid, 0.0, area)
    )
    row_of = pd.Series(rows, index=used)
    land = ctx.prep.inputs.projects.loc[ctx.y["project_id"], "land_mu"].to_numpy(float)
    ctx.b.add_terms(row_of[ctx.y["site_id"]].to_numpy(), ctx.y["col"].to_numpy(), land)
    u = ctx.b.add_cols("u", [f"u[{s}]" for s in used[paid]], 0, 1, cost=-cost[paid], integer=True)
    ctx.b.add_terms(rows[paid], u, -area[paid])
    ctx.site_use = pd.DataFrame({"site_id": used[paid], "col": u})


def _new_land(ctx: Context) -> None:
    placeable = ctx.y["project_id"].drop_duplicates()
    placeable = placeable[~placeable.isin(ctx.prep.must_place)]
    mine = ctx.s[ctx.s["project_id"].isin(placeable)]
    if mine.empty:
        return
    n = ctx.b.add_cols(
        "n",
        [f"N[{p},{t}]" for p, t in zip(mine["project_id"], mine["year"], strict=True)],
        0,
        1,
        integer=len(mine) <= NEW_LAND_BINARY_MAX,
    )
    ctx.new_land = dict(zip(mine["col"].to_numpy().tolist(), n.tolist(), strict=True))
    rows = ctx.b.add_rows("new_land", [label("new_land", project=p, year=t) for p, t in
                                       zip(mine["project_id"], mine["year"], strict=True)], lo=0.0)  # fmt: skip
    ctx.b.add_terms(rows, n, 1.0)
    ctx.b.add_terms(rows, mine["col"].to_numpy(), -1.0)
    y = ctx.y[ctx.y["project_id"].isin(placeable)]
    spec = pd.DataFrame({"project_id": mine["project_id"].to_numpy(), "row": rows}).merge(
        y, on="project_id"
    )
    ctx.b.add_terms(spec["row"].to_numpy(), spec["col"].to_numpy(), 1.0)
