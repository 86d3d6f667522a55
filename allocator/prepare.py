"""Per-project numbers shared by the model and the evaluator.

From the validated tables and the scenario this computes, once: each eligible project's
demand of each resource (feedstock deducted, coal substitution ratio H and two-high
replacement applied, land only where new land is needed), the must-buy flags of intensity
limits, the pool each demand is charged to (its district, the city, or the provincial
reserve for provincial major projects), the supply rows with purchases and freed supply,
and the value of each (project, start year) pair:

    value[p,t] = benefit_p × Σ_{u=t+build_p}^{t0+L−1} (1+r)^−(u−t0)
    benefit_p  = value_added_p × (1 + Σ_k b_k z_pk)

with z_pk the criteria min-max normalised over the eligible candidates (zero-land projects
and zero-energy projects score 1 on tax per mu and energy efficiency). With
``objective.value_column`` the value is that column, not discounted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from allocator.eligibility import Eligibility, check_projects, intensity_floor, zone_level
from allocator.inputs import Inputs
from allocator.land.placement import PAIR_COLUMNS, candidate_pairs
from allocator.land.scan import LandScan
from models.scenario import Filter, Sector

SUPPLY_COLUMNS = ["resource", "year", "scope", "amount", "freed", "price", "cap"]
SITE_COLUMNS = [
    "site_id",
    "district",
    "park",
    "zone_level",
    "leading_sectors",
    "chemical_park",
    "area_mu",
    "available_year",
    "acquisition_cost_wan_cny",
    "source",
    "x",
    "y",
]


@dataclass
class Prepared:
    inputs: Inputs
    eligibility: Eligibility
    demand: pd.DataFrame  # index project_id (eligible), one column per resource
    must_buy: pd.DataFrame  # index project_id (eligible), bool per resource
    pairs: pd.DataFrame  # project_id, year, value_wan_cny: every allowed start
    pools: pd.DataFrame  # project_id, resource, year, scope: where demand is charged
    supply: pd.DataFrame  # SUPPLY_COLUMNS, one row per (resource, year, scope)
    benefit: pd.Series  # per eligible project, 万元 a year
    land: LandScan | None = None  # the land scan, when the scenario has a parcel layer
    sites: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SITE_COLUMNS))
    candidates: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PAIR_COLUMNS))
    must_place: pd.Index = field(default_factory=lambda: pd.Index([]))  # no new quota allowed

    @property
    def scenario(self):
        return self.inputs.scenario

    @property
    def projects(self) -> pd.DataFrame:
        return self.inputs.projects.loc[self.demand.index]


def _minmax(values: pd.Series) -> pd.Series:
    finite = values[np.isfinite(values)]
    if finite.empty:
        return pd.Series(0.0, index=values.index)
    lo, hi = finite.min(), finite.max()
    if hi <= lo:
        return pd.Series(0.0, index=values.index)
    return ((values - lo) / (hi - lo)).clip(0.0, 1.0)


def criteria(projects: pd.DataFrame) -> pd.DataFrame:
    """The criteria z_pk in [0, 1] of the given (eligible) projects."""
    land = projects["land_mu"]
    energy = projects["energy_tce_per_year"] - projects["feedstock_energy_tce_per_year"].fillna(0)
    tax_per_mu = (projects["annual_tax_wan_cny"] / land.where(land > 0)).fillna(np.inf)
    efficiency = (projects["annual_value_added_wan_cny"] / energy.where(energy > 0)).fillna(np.inf)
    raw = {
        "tech": projects["tech_score"],
        "chain": projects["chain_score"],
        "environment": projects["environment_score"],
        "tax_per_mu": tax_per_mu,
        "energy_efficiency": efficiency,
        "readiness": projects["readiness"],
    }
    out = pd.DataFrame({k: _minmax(v.astype(float)) for k, v in raw.items()})
    out[np.isinf(pd.DataFrame(raw))] = 1.0
    return out


def discount_factor(start: np.ndarray, build: np.ndarray, t0: int, years: int, rate: float):
    """Σ_{u=start+build}^{t0+years−1} (1+rate)^−(u−t0), vectorised over projects."""
    first = start + build - t0  # first producing year, counted from t0
    last = years - 1
    n = np.maximum(last - first + 1, 0)
    if rate == 0:
        return n.astype(float)
    q = 1.0 / (1.0 + rate)
    return np.where(n > 0, q**first * (1 - q**n) / (1 - q), 0.0)


def _demand(inputs: Inputs, index: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    sc = inputs.scenario
    pr = inputs.projects.loc[index]
    industry = pr["sector"].map({k: s.industry for k, s in sc.sectors.items()})
    demand, must_buy = {}, {}
    for name, res in sc.resources.items():
        d = pr[res.demand_column].astype(float)
        if res.deduct_column:
            d = (d - pr[res.deduct_column].fillna(0.0)).clip(lower=0.0)
        if res.new_land:
            d = d.where(pr["existing_parcel_id"].isna(), 0.0)
        raw = d
        d = d * industry.map(res.substitution_ratio).astype(float).fillna(1.0)
        d = d.where(pr["two_high_segment"].isna(), d * res.two_high_ratio)
        demand[name] = d
        if res.must_buy_intensity_max is not None:
            va = pr["annual_value_added_wan_cny"]
            must_buy[name] = (raw > 0) & ~(raw <= res.must_buy_intensity_max * va)
    return pd.DataFrame(demand, index=index), pd.DataFrame(must_buy, index=index, dtype=bool)


def _supply(inputs: Inputs, earned: pd.DataFrame | None = None) -> pd.DataFrame:
    """Supply rows; ``freed``: closures' freed use and the new land quota earned by
    disposing of idle and unsupplied land (增存挂钩), from its year (or the first year)."""
    sc = inputs.scenario
    su = inputs.supplies
    rows = []
    earned_at: dict[tuple[int, str], float] = {}
    if earned is not None:
        for r in earned.itertuples():
            key = (max(int(r.year), sc.horizon.start), str(r.district))
            earned_at[key] = earned_at.get(key, 0.0) + float(r.amount_mu)
    for name, res in sc.resources.items():
        mine = su[su["resource"] == name]
        freed_by_year: dict[int, float] = {}
        if res.freed_column and inputs.firms is not None:
            for closure in sc.closures:
                amount = inputs.firms.at[closure.firm_id, res.freed_column]
                amount = 0.0 if pd.isna(amount) else float(amount) * sc.freed_share
                for t in sc.horizon.years:
                    if t > closure.year:
                        freed_by_year[t] = freed_by_year.get(t, 0.0) + amount
        keys = {(int(r.year), r.scope): r for r in mine.itertuples()}
        scopes = ["city"] if res.scope == "city" else list(sc.districts)
        for t in sc.horizon.years:  # every pool gets a row: no row would mean no limit
            for scope in scopes:
                keys.setdefault((t, scope), None)
        for (year, scope), r in sorted(keys.items()):
            price = cap = np.nan
            if res.purchase is not None and scope != "province_reserve":
                price = res.purchase.price_wan_cny_per_unit
                cap = res.purchase.cap_per_year if res.purchase.cap_per_year is not None else np.inf
                if r is not None and pd.notna(r.price_wan_cny_per_unit):
                    price = r.price_wan_cny_per_unit
                if r is not None and pd.notna(r.purchase_cap):
                    cap = r.purchase_cap
            amount = 0.0 if r is None else float(r.amount) * res.supply_factor
            freed = freed_by_year.get(year, 0.0) if scope == "city" else 0.0
            if res.new_land:
                freed += earned_at.get((year, scope), 0.0)
            rows.append((name, year, scope, amount, freed, price, cap))
    return pd.DataFrame(rows, columns=SUPPLY_COLUMNS)


def _pools(inputs: Inputs, demand: pd.DataFrame, supply: pd.DataFrame) -> pd.DataFrame:
    sc = inputs.scenario
    pr = inputs.projects.loc[demand.index]
    provincial = pr["major_level"] == "provincial"
    rows = supply.loc[supply["scope"] == "province_reserve", ["resource", "year"]]
    reserve = set(rows.itertuples(index=False, name=None))
    frames = []
    for name, res in sc.resources.items():
        users = demand.index[demand[name] > 0]
        home = pr.loc[users, "district"] if res.scope == "district" else "city"
        for t in sc.horizon.years:
            scope = pd.Series(home, index=users, dtype=object)
            if (name, t) in reserve:
                scope[provincial.loc[users].to_numpy()] = "province_reserve"
            frames.append(
                pd.DataFrame({"project_id": users, "resource": name, "year": t, "scope": scope})
            )
    return pd.concat(frames, ignore_index=True)


def _pairs(inputs: Inputs, index: pd.Index, benefit: pd.Series) -> pd.DataFrame:
    sc = inputs.scenario
    pr = inputs.projects.loc[index]
    obj = sc.objective
    lo = np.maximum(pr["earliest_year"].to_numpy(int), sc.horizon.start)
    hi = np.minimum(pr["latest_year"].to_numpy(int), sc.horizon.end)
    counts = np.maximum(hi - lo + 1, 0)
    pid = np.repeat(index.to_numpy(), counts)
    spans = [np.arange(a, b + 1) for a, b in zip(lo, hi, strict=True)]
    year = np.concatenate([*spans, np.zeros(0, dtype=int)]).astype(int)
    if obj.value_column:
        value = pr[obj.value_column].to_numpy(float)
        value = np.repeat(value, counts)
    else:
        build = np.repeat(pr["build_years"].to_numpy(int), counts)
        factor = discount_factor(
            year, build, sc.horizon.start, obj.evaluation_years, obj.discount_rate
        )
        value = np.repeat(benefit.to_numpy(float), counts) * factor
    return pd.DataFrame({"project_id": pid, "year": year, "value_wan_cny": value})


def _placement(
    inputs: Inputs, land: LandScan, eligibility: Eligibility, index: pd.Index
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Index]:
    """Sites, suitable pairs, and the projects that may only go on a site (their intensity
    is below the floor of their own park). Such a project with no suitable site becomes
    ineligible (BELOW_INTENSITY_FLOOR at its own park's floor)."""
    sc = inputs.scenario
    pr = inputs.projects.loc[index]
    sites = pd.DataFrame(land.sites.drop(columns="geometry"))[SITE_COLUMNS]
    needs = pr["land_mu"].where(pr["existing_parcel_id"].isna(), 0.0)
    needs = needs[needs > 0]
    last = np.minimum(pr["latest_year"], sc.horizon.end)
    pairs = candidate_pairs(pr.loc[needs.index], needs, last, sites, sc)
    own = intensity_floor(
        zone_level(inputs).loc[needs.index], pr.loc[needs.index, "sector"], sc.eligibility
    )
    below = pr.loc[needs.index, "investment_wan_cny"] / needs < own
    industrial = pr.loc[needs.index, "kind"] != "infrastructure"
    must = needs.index[(below & industrial).to_numpy()]
    stuck = must.difference(pd.Index(pairs["project_id"].unique()))
    checks = eligibility.checks
    at = checks["project_id"].isin(stuck) & (checks["rule"] == "BELOW_INTENSITY_FLOOR")
    checks.loc[at, "threshold"] = checks.loc[at, "project_id"].map(own).to_numpy()
    checks.loc[at, "result"] = "fail"
    eligibility.reason[stuck] = "INELIGIBLE_BELOW_INTENSITY_FLOOR"
    return sites, pairs[~pairs["project_id"].isin(stuck)], must.difference(stuck)


def prepare(inputs: Inputs, land: LandScan | None = None) -> Prepared:
    sc = inputs.scenario
    grades = land.grades if land is not None else None
    site_zones = None if land is None else pd.DataFrame(land.sites[["district", "zone_level"]])
    eligibility = check_projects(inputs, grades, site_zones)
    sites = pd.DataFrame(columns=SITE_COLUMNS)
    pairs = pd.DataFrame(columns=PAIR_COLUMNS)
    must_place = pd.Index([])
    if land is not None:
        index = inputs.projects.index[eligibility.eligible.to_numpy()]
        sites, pairs, must_place = _placement(inputs, land, eligibility, index)
    index = inputs.projects.index[eligibility.eligible.to_numpy()]
    pr = inputs.projects.loc[index]
    z = criteria(pr)
    bonus = sum(
        (z[k] * w for k, w in sc.objective.bonus_weights.items()), pd.Series(0.0, index=index)
    )
    if grades is not None:
        bonus += sc.objective.class_bonus * (pr["firm_id"].map(grades["class"]) == "A")
    benefit = pr["annual_value_added_wan_cny"] * (1.0 + bonus)
    demand, must_buy = _demand(inputs, index)
    for name, res in sc.resources.items():
        if res.new_land:  # projects that must go on a site never draw new quota
            demand.loc[demand.index.isin(must_place), name] = 0.0
    supply = _supply(inputs, None if land is None else land.earned_quota)
    return Prepared(
        inputs=inputs,
        eligibility=eligibility,
        demand=demand,
        must_buy=must_buy,
        pairs=_pairs(inputs, index, benefit),
        pools=_pools(inputs, demand, supply),
        supply=supply,
        benefit=benefit,
        land=land,
        sites=sites,
        candidates=pairs,
        must_place=must_place,
    )


def with_bonus_weight(prep: Prepared, criterion: str, weight: float) -> Prepared:
    """The prepared data with one bonus weight changed: only the values change."""
    sc = prep.scenario
    old = sc.objective.bonus_weights.get(criterion, 0.0)
    pr = prep.projects
    benefit = (
        prep.benefit + (weight - old) * pr["annual_value_added_wan_cny"] * criteria(pr)[criterion]
    )
    weights = {**sc.objective.bonus_weights, criterion: weight}
    objective = sc.objective.model_copy(update={"bonus_weights": weights})
    inputs = replace(prep.inputs, scenario=sc.model_copy(update={"objective": objective}))
    pairs = _pairs(inputs, prep.demand.index, benefit)
    return replace(prep, inputs=inputs, benefit=benefit, pairs=pairs)


def matches(projects: pd.DataFrame, flt: Filter, sectors: dict[str, Sector]) -> pd.Series:
    """Which projects a scenario filter selects (every given field must match)."""
    mask = pd.Series(True, index=projects.index)
    for col in ("sector", "district", "kind", "major_level", "park", "cluster", "project_id"):
        allowed = getattr(flt, col)
        if allowed is not None:
            mask &= projects[col].isin(allowed)
    if flt.sector_group is not None:
        group = projects["sector"].map({k: s.group for k, s in sectors.items()})
        mask &= group.isin(flt.sector_group)
    for col, bound in flt.min.items():
        mask &= projects[col] >= bound
    for col, bound in flt.max.items():
        mask &= projects[col] <= bound
    return mask
