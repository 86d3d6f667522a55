"""The independent checker: an allocation against the tables, never the model's arrays.

Given the prepared tables (demands, pools, supplies, values) and an allocation (each
approved project's start year, each supply row's purchase), it recomputes with pandas
group-bys every resource balance, the purchase caps and must-buy rows, the eligibility,
windows and locks, ``requires`` and ``excludes``, the group and count rules, and the
objective. Any broken rule is reported by name; the CLI refuses to write such a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.eligibility import intensity_floor
from allocator.land.placement import project_xy
from allocator.prepare import Prepared, matches

TOL = 1e-6


@dataclass
class Allocation:
    """What a run decides: start years, purchases, and placements on reuse sites."""

    starts: pd.Series  # start year per approved project (index project_id)
    purchased: pd.Series  # amount bought per supply row (index resource, year, scope)
    placed: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))  # site per project


RESOURCE_COLUMNS = [
    "resource",
    "year",
    "scope",
    "supply",
    "freed",
    "purchased",
    "used",
    "carried_in",
    "carried_out",
    "slack",
]


@dataclass
class Evaluation:
    violations: list[str]
    objective: float
    parts: dict[str, float]  # value, purchase cost, land cost, penalties (万元)
    resources: pd.DataFrame  # RESOURCE_COLUMNS
    shortfalls: dict[str, float] = field(default_factory=dict)  # soft rules

    @property
    def ok(self) -> bool:
        return not self.violations


def _near_le(a: float, b: float) -> bool:
    return a <= b + TOL * max(1.0, abs(a), abs(b))


def _usage(prep: Prepared, starts: pd.Series, placed: pd.Index) -> pd.DataFrame:
    """Use of every supply row: demand of the approved projects charged to each pool
    (projects placed on a reuse site take no new land quota)."""
    sc = prep.scenario
    approved = pd.DataFrame({"project_id": starts.index, "start": starts.to_numpy()})
    pools = prep.pools.merge(approved, on="project_id")
    new_land = pools["resource"].map({k: r.new_land for k, r in sc.resources.items()}).astype(bool)
    pools = pools[~(new_land & pools["project_id"].isin(placed)).to_numpy()]
    kind = pools["resource"].map({k: r.kind for k, r in sc.resources.items()})
    counts = np.where(
        kind == "recurring", pools["start"] <= pools["year"], pools["start"] == pools["year"]
    )
    pools = pools[counts]
    d = prep.demand.stack().rename("demand").rename_axis(["project_id", "resource"])
    pools = pools.join(d, on=["project_id", "resource"])
    return pools.groupby(["resource", "year", "scope"])["demand"].sum().rename("used")


def _balance(
    prep: Prepared, starts: pd.Series, purchased: pd.Series, placed: pd.Index
) -> tuple[pd.DataFrame, list[str]]:
    sc = prep.scenario
    bad: list[str] = []
    table = prep.supply.set_index(["resource", "year", "scope"])
    table = table.assign(
        supply=table["amount"] + table["freed"],
        purchased=purchased.reindex(table.index).fillna(0.0),
        used=_usage(prep, starts, placed).reindex(table.index).fillna(0.0),
    )
    unknown = purchased.index.difference(table.index)
    bad += [f"purchase on {k}: no such supply row" for k in unknown if purchased[k] > TOL]
    for key, r in table.iterrows():
        if r.purchased < -TOL or (r.purchased > TOL and pd.isna(r.price)):
            bad.append(f"purchase {key}: {r.purchased:g} not allowed (price {r.price})")
        cap = r.cap if pd.notna(r.cap) else 0.0
        if not _near_le(r.purchased, cap):
            bad.append(f"purchase {key}: {r.purchased:g} exceeds the cap {cap:g}")
    table["carried_in"] = 0.0
    table["carried_out"] = 0.0
    table = table.reset_index()
    for (name, scope), grp in table.groupby(["resource", "scope"], sort=False):
        res = sc.resources[name]
        grp = grp.sort_values("year")
        surplus = grp["supply"] + grp["purchased"] - grp["used"]
        if res.carry_over:
            out = surplus.cumsum().clip(lower=0.0)  # carrying everything forward is optimal
            out.iloc[-1] = 0.0
            table.loc[grp.index, "carried_out"] = out
            table.loc[grp.index, "carried_in"] = out.shift(1, fill_value=0.0)
            have = (grp["supply"] + grp["purchased"]).cumsum().to_numpy()
            used = grp["used"].cumsum().to_numpy()
            for year, u, h in zip(grp["year"], used, have, strict=True):
                if not _near_le(u, h):
                    bad.append(
                        f"{name}[year={year},scope={scope}]: used {u:,.4f} up to this "
                        f"year exceeds the supply {h:,.4f} up to this year"
                    )
        else:
            for _, r in grp.iterrows():
                if not _near_le(r.used, r.supply + r.purchased):
                    bad.append(
                        f"{name}[year={r.year},scope={scope}]: used {r.used:,.4f} "
                        f"exceeds supply {r.supply:,.4f} + purchased {r.purchased:,.4f}"
                    )
    table["slack"] = (
        table["supply"]
        + table["purchased"]
        + table["carried_in"]
        - table["carried_out"]
        - table["used"]
    )
    return table[RESOURCE_COLUMNS], bad


def _must_buy(prep: Prepared, starts: pd.Series, resources: pd.DataFrame) -> list[str]:
    sc = prep.scenario
    bad = []
    for name in prep.must_buy.columns:
        over = prep.must_buy.index[prep.must_buy[name].to_numpy()]
        mine = starts[starts.index.isin(over)]
        recurring = sc.resources[name].kind == "recurring"
        for t in sc.horizon.years:
            active = mine[mine <= t] if recurring else mine[mine == t]
            need = float(prep.demand.loc[active.index, name].sum())
            rows = resources[(resources["resource"] == name) & (resources["year"] == t)]
            if not _near_le(need, float(rows["purchased"].sum())):
                bad.append(
                    f"must_buy:{name}[year={t}]: projects over the intensity limit use "
                    f"{need:,.4f} but only {rows['purchased'].sum():,.4f} is bought"
                )
    return bad


def _projects(prep: Prepared, starts: pd.Series) -> list[str]:
    sc = prep.scenario
    pr = prep.inputs.projects
    bad = []
    allowed = set(zip(prep.pairs["project_id"], prep.pairs["year"], strict=True))
    for pid, year in starts.items():
        if prep.eligibility.reason.get(pid, "") != "":
            bad.append(f"{pid} is approved but {prep.eligibility.reason[pid]}")
        elif (pid, year) not in allowed:
            bad.append(f"{pid} starts in {year}, outside its window or the horizon")
    for pid, year in sc.locked_in.items():
        if pid not in starts.index or (year is not None and starts[pid] != year):
            bad.append(f"locked_in[{pid}]: not approved" + (f" in {year}" if year else ""))
    bad += [f"locked_out[{p}]: approved" for p in sc.locked_out if p in starts.index]
    clashes = set()
    for pid in starts.index:
        for q in pr.at[pid, "requires"]:
            if q not in starts.index or starts[q] > starts[pid]:
                bad.append(f"requires[{pid} needs {q}]: {q} not approved by {starts[pid]}")
        clashes |= {tuple(sorted((pid, q))) for q in pr.at[pid, "excludes"] if q in starts.index}
    return bad + [f"excludes[{a},{b}]: both approved" for a, b in sorted(clashes)]


def _periods(per: object, years: list[int]) -> list[tuple[str, list[int]]]:
    """(label, years) of each period of a rule: every year, one year, or the horizon."""
    if per in ("year", "each"):
        return [(str(t), [t]) for t in years]
    if per in ("horizon", None):
        return [("horizon", years)]
    return [(str(per), [int(str(per))])]


def _rules(prep: Prepared, starts: pd.Series) -> tuple[list[str], dict[str, float], float]:
    """Group and count rules: hard violations, soft shortfalls and their penalty."""
    sc = prep.scenario
    pr = prep.projects
    bad: list[str] = []
    short: dict[str, float] = {}
    penalty = 0.0
    years = sc.horizon.years

    def record(what: str, need: float, have: float, soft: float | None) -> None:
        nonlocal penalty
        gap = max(need - have, 0.0)
        if gap <= TOL * max(1.0, abs(need)):
            return
        if soft is None:
            bad.append(f"{what}: needs {need:,.4f}, has {have:,.4f}")
        else:
            short[what] = gap
            penalty += soft * gap

    for rule in sc.group_rules:
        in_group = matches(pr, rule.group, sc.sectors)
        recurring = rule.measure in sc.resources and sc.resources[rule.measure].kind == "recurring"
        m = prep.demand[rule.measure] if rule.measure in sc.resources else pr[rule.measure]
        for label, period in _periods(rule.per, years):
            on = starts[starts <= period[-1]] if recurring else starts[starts.isin(period)]
            total = float(m.reindex(on.index).sum())
            grp = float(m.reindex(on.index)[in_group.reindex(on.index).to_numpy()].sum())
            if rule.of == "supply":
                sup = prep.supply[
                    (prep.supply["resource"] == rule.measure)
                    & prep.supply["year"].isin(period[-1:] if recurring else period)
                ]
                total = float((sup["amount"] + sup["freed"]).sum())
            tag = f"group:{rule.name}[period={label}]"
            soft = rule.soft_penalty_wan_cny_per_unit
            if rule.min_total is not None:
                record(tag + " min_total", rule.min_total, grp, soft)
            if rule.max_total is not None:
                record(tag + " max_total", -rule.max_total, -grp, soft)
            if rule.min_share is not None:
                record(tag + " min_share", rule.min_share * total, grp, soft)
            if rule.max_share is not None:
                record(tag + " max_share", -rule.max_share * total, -grp, soft)
    for crule in sc.count_rules:
        sel = matches(pr, crule.where, sc.sectors)
        districts = list(sc.districts) if crule.district == "each" else [crule.district]
        for district in districts:
            mask = sel & (pr["district"] == district) if district else sel
            for label, period in _periods(crule.year, years):
                n = int((starts.isin(period) & mask.reindex(starts.index).fillna(False)).sum())
                tag = f"count:{crule.name}[district={district or 'city'},period={label}]"
                soft = crule.soft_penalty_wan_cny_per_unit
                record(tag + " min_count", crule.min_count, n, soft)
                if crule.max_count is not None:
                    record(tag + " max_count", -crule.max_count, -n, soft)
    return bad, short, penalty


def _placements(prep: Prepared, alloc: Allocation) -> tuple[list[str], float]:
    """Each placement against the site and the rules of suitability, each site's area;
    returns the violations and the acquisition cost of the sites taken."""
    sc = prep.scenario
    rules = sc.land.placement
    pr = prep.inputs.projects
    sites = prep.sites.set_index("site_id")
    bad = [f"{p} must go on a reuse site (below its own park's intensity floor) but is not"
           for p in prep.must_place if p in alloc.starts.index and p not in alloc.placed.index]  # fmt: skip
    if alloc.placed.empty:
        return bad, 0.0
    xs, ys = project_xy(pr.loc[alloc.placed.index], sc.land.crs)
    for (pid, site), px, py in zip(alloc.placed.items(), xs, ys, strict=True):
        if site not in sites.index:
            bad.append(f"{pid} placed on unknown site {site}")
            continue
        s, p = sites.loc[site], pr.loc[pid]
        sector = sc.sectors[p["sector"]]
        floor = intensity_floor(
            pd.Series([s["zone_level"]]), pd.Series([p["sector"]]), sc.eligibility
        )[0]
        tests = {
            "not approved": pid not in alloc.starts.index,
            "needs no new land": not (p["land_mu"] > 0 and pd.isna(p["existing_parcel_id"])),
            "another district": not rules.cross_district and s["district"] != p["district"],
            "sector not led by the park": not rules.any_sector and bool(s["leading_sectors"])
            and p["sector"] not in s["leading_sectors"].split(";"),
            "chemical project outside a chemical park": sector.chemical and not s["chemical_park"],
            "below the zone's intensity floor": p["kind"] != "infrastructure"
            and p["investment_wan_cny"] / p["land_mu"] < floor,
            "starts before the site is available": pid in alloc.starts.index
            and alloc.starts[pid] < s["available_year"],
            "too far": rules.max_distance_km is not None
            and float(np.hypot(px - s["x"], py - s["y"])) / 1000 > rules.max_distance_km,
        }  # fmt: skip
        bad += [f"placement {pid} on {site}: {what}" for what, broken in tests.items() if broken]
    land = pr.loc[alloc.placed.index, "land_mu"].groupby(alloc.placed.to_numpy()).sum()
    for site, used in land.items():
        if site in sites.index and not _near_le(float(used), float(sites.at[site, "area_mu"])):
            bad.append(f"site {site}: {used:,.4f} mu placed on {sites.at[site, 'area_mu']:,.4f} mu")
    taken = sites.reindex(land.index)["acquisition_cost_wan_cny"].fillna(0.0)
    return bad, float(taken.sum())


def evaluate(prep: Prepared, alloc: Allocation) -> Evaluation:
    """Check an allocation against the tables; recompute the objective."""
    sc = prep.scenario
    starts = alloc.starts.astype(int)
    placed = alloc.placed.index
    resources, bad = _balance(prep, starts, alloc.purchased, placed)
    bad += _must_buy(prep, starts, resources)
    bad += _projects(prep, starts)
    rule_bad, short, penalty = _rules(prep, starts)
    bad += rule_bad
    place_bad, acquisition = _placements(prep, alloc)
    bad += place_bad
    values = prep.pairs.set_index(["project_id", "year"])["value_wan_cny"]
    keys = pd.MultiIndex.from_arrays([starts.index, starts.to_numpy()])
    value = float(values.reindex(keys).fillna(0.0).sum())
    price = prep.supply.set_index(["resource", "year", "scope"])["price"]
    purchased = alloc.purchased
    purchase_cost = float((purchased * price.reindex(purchased.index).fillna(0.0)).sum())
    land_cost = 0.0
    per_mu = sc.objective.new_land_cost_wan_cny_per_mu
    for name, res in sc.resources.items():
        if res.new_land and per_mu:
            quota = starts.index.difference(placed)
            land_cost += per_mu * float(prep.demand[name].reindex(quota).sum())
    parts = {
        "project_value_wan_cny": value,
        "purchase_cost_wan_cny": purchase_cost,
        "new_land_cost_wan_cny": land_cost,
        "acquisition_cost_wan_cny": acquisition,
        "penalty_wan_cny": penalty,
    }
    objective = value - purchase_cost - land_cost - acquisition - penalty
    return Evaluation(bad, objective, parts, resources, short)
