"""The method planners use today, as a spreadsheet would do it.

Rank the projects by value per unit of their scarcest resource (the largest share of a
resource's supply that the project takes); take them in that order, each in its earliest year that
still fits every resource (buying on the market up to the cap where the resource trades),
and place each project that needs new land on the first suitable reuse site with room
left, else on its district's quota. Locked-in projects go first, locked-out ones never;
a project whose required project is not in is skipped, as is one excluded by a project
already in. Group and count rules are not considered (the evaluator reports them).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from allocator.evaluate import Allocation
from allocator.prepare import Prepared


def weights(prep: Prepared) -> pd.Series:
    """Each project's use of its scarcest resource: max over resources of its demand as a
    share of that resource's supply (one-off: over the horizon; recurring: last year)."""
    shares = []
    for name, res in prep.scenario.resources.items():
        rows = prep.supply[prep.supply["resource"] == name]
        if res.kind == "recurring":
            rows = rows[rows["year"] == prep.scenario.horizon.end]
        have = float((rows["amount"] + rows["freed"]).sum())
        shares.append(prep.demand[name] / max(have, 1e-9))
    return pd.concat(shares, axis=1).max(axis=1)


def greedy(prep: Prepared) -> Allocation:
    sc = prep.scenario
    years = sc.horizon.years
    first_value = prep.pairs.drop_duplicates("project_id").set_index("project_id")["value_wan_cny"]
    weight = weights(prep)
    per_unit = (first_value / weight.where(weight > 0)).fillna(np.inf)
    ranking = pd.DataFrame({"per_unit": per_unit, "value": first_value})  # ties: by value
    order = ranking.sort_values(
        ["per_unit", "value"], ascending=False, kind="stable"
    ).index.tolist()
    locked = [p for p in sc.locked_in if p in first_value.index]
    order = locked + [p for p in order if p not in locked and p not in sc.locked_out]
    window = prep.pairs.groupby("project_id")["year"].apply(list)
    pools = prep.pools.set_index(["project_id", "resource", "year"])["scope"]
    supply = prep.supply.set_index(["resource", "year", "scope"])
    have = (supply["amount"] + supply["freed"]).to_dict()
    cap = supply["cap"].fillna(0.0).to_dict()
    used: dict[tuple[str, int, str], float] = defaultdict(float)
    must: dict[tuple[str, int], float] = defaultdict(float)
    sites = prep.sites.set_index("site_id")
    room = sites["area_mu"].to_dict()
    candidates = prep.candidates.groupby("project_id")["site_id"].apply(list)
    land = prep.inputs.projects["land_mu"]
    pr = prep.projects
    rivals: dict[str, set[str]] = defaultdict(set)  # excludes hold both ways
    for p, others in pr["excludes"].items():
        for q in others:
            rivals[p].add(q)
            rivals[q].add(p)
    starts: dict[str, int] = {}
    placed: dict[str, str] = {}

    def fits(p: str, t: int, skip_land: bool) -> list[tuple[tuple[str, int, str], float, bool]]:
        """The uses that starting p in t adds, or [] with a None marker when it does not fit."""
        adds = []
        for name, res in sc.resources.items():
            d = float(prep.demand.at[p, name])
            if d <= 0 or (skip_land and res.new_land):
                continue
            over = name in prep.must_buy.columns and bool(prep.must_buy.at[p, name])
            for y in years:
                if (res.kind == "recurring" and y >= t) or (res.kind == "one_off" and y == t):
                    adds.append(((name, y, pools[p, name, y]), d, over))
        trial = defaultdict(float, used)
        trial_must = defaultdict(float, must)
        for k, d, over in adds:
            trial[k] += d
            if over:
                trial_must[k[0], k[1]] += d
        for name, res in sc.resources.items():
            for scope in {k[2] for k in have if k[0] == name}:
                cum_have = cum_use = 0.0
                for y in years:
                    k = (name, y, scope)
                    extra = cap.get(k, 0.0)
                    if res.carry_over:
                        cum_have += have.get(k, 0.0) + extra
                        cum_use += trial[k]
                        ok = cum_use <= cum_have + 1e-6
                    else:
                        ok = trial[k] <= have.get(k, 0.0) + extra + 1e-6
                    if not ok:
                        return [(("", 0, ""), -1.0, False)]
            for y in years:
                bought = sum(cap.get(k, 0.0) for k in have if k[0] == name and k[1] == y)
                if trial_must[name, y] > bought + 1e-6:
                    return [(("", 0, ""), -1.0, False)]
        return adds

    for p in order:
        if any(q not in starts for q in pr.at[p, "requires"]) or rivals[p] & starts.keys():
            continue
        for t in window[p]:
            if any(starts[q] > t for q in pr.at[p, "requires"]):
                continue
            site = next((s for s in candidates.get(p, []) if sites.at[s, "available_year"] <= t
                         and room[s] + 1e-9 >= land[p]), None)  # fmt: skip
            if site is None and p in prep.must_place:
                continue
            adds = fits(p, t, skip_land=site is not None)
            if adds and adds[0][1] < 0:
                continue
            for k, d, over in adds:
                used[k] += d
                if over:
                    must[k[0], k[1]] += d
            starts[p] = t
            if site is not None:
                placed[p] = site
                room[site] -= float(land[p])
            break
    index = pd.MultiIndex.from_frame(prep.supply[["resource", "year", "scope"]])
    bought = []
    for name, year, scope in index:
        k = (name, year, scope)
        need = max(used[k] - have.get(k, 0.0), 0.0)
        if scope == "city":
            need = max(need, must[name, year])
        bought.append(min(need, cap.get(k, 0.0)) if np.isfinite(cap.get(k, 0.0)) else need)
    return Allocation(
        pd.Series(starts, dtype=int),
        pd.Series(bought, index=index).round(6),
        pd.Series(placed, dtype=object),
    )
