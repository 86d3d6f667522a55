"""Project rules of RULES.md, applied before the optimisation.

Every rule is checked for every project it applies to and gives one row of the long table
``checks``: the rule code, the figure found, its unit, the comparator, the threshold and the
result (``pass``, ``fail``, ``not_checked`` when the field is absent, ``must_buy`` for a
project over an intensity limit, which stays eligible but buys its demand). A project that
fails any rule is ineligible; its reason is ``INELIGIBLE_<first failing rule>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.inputs import Inputs
from models.scenario import Eligibility as EligibilityRules

CHECK_COLUMNS = ["project_id", "rule", "figure", "unit", "comparator", "threshold", "result"]


@dataclass
class Eligibility:
    checks: pd.DataFrame  # long table, CHECK_COLUMNS
    reason: pd.Series  # per project: "" when eligible, else INELIGIBLE_<RULE> or NOT_OFFERED

    @property
    def eligible(self) -> pd.Series:
        return self.reason == ""


def _rule(
    rows: list[pd.DataFrame],
    code: str,
    applies: pd.Series,
    figure: pd.Series,
    unit: str,
    comparator: str,
    threshold: pd.Series | float,
) -> None:
    """Append one rule's rows: fail where ``figure comparator threshold`` does not hold."""
    thr = pd.Series(threshold, index=figure.index, dtype=float)
    ok = {">=": figure >= thr, "<=": figure <= thr}[comparator]
    given = figure.notna()
    result = np.where(~given, "not_checked", np.where(ok, "pass", "fail"))
    frame = pd.DataFrame(
        {
            "project_id": figure.index,
            "rule": code,
            "figure": figure.to_numpy(),
            "unit": unit,
            "comparator": comparator,
            "threshold": thr.to_numpy(),
            "result": result,
        }
    )
    rows.append(frame[applies.to_numpy()])


def zone_level(inputs: Inputs) -> pd.Series:
    """The zone level of each project's park (``other`` outside any known park)."""
    pr = inputs.projects
    if inputs.parks is None:
        return pd.Series("other", index=pr.index)
    return pr["park"].map(inputs.parks["zone_level"]).fillna("other")


def intensity_floor(zone: pd.Series, sector: pd.Series, el: EligibilityRules) -> pd.Series:
    """Investment-intensity floor (万元 per mu) for landing in a zone level, per sector."""
    floor = zone.map(el.intensity_floor_wan_cny_per_mu).astype(float)
    for name, table in el.intensity_floor_by_sector.items():
        mask = (sector == name).to_numpy()
        floor[mask] = zone[mask].map(table).astype(float).fillna(floor[mask])
    return floor


def _landing_floor(inputs: Inputs, site_zones: pd.DataFrame | None) -> pd.Series:
    """The investment-intensity floor of each project: its park's, or the lowest of the
    reuse sites' zone levels open to it."""
    sc, pr = inputs.scenario, inputs.projects
    el = sc.eligibility
    floor = intensity_floor(zone_level(inputs), pr["sector"], el)
    if site_zones is not None and not site_zones.empty:
        for zone in site_zones["zone_level"].unique():
            there = site_zones.loc[site_zones["zone_level"] == zone, "district"].unique()
            reach = pr["district"].isin(there) | sc.land.placement.cross_district
            other = intensity_floor(pd.Series(zone, index=pr.index), pr["sector"], el)
            floor = floor.where(~reach, np.minimum(floor, other))
    return floor


def _land_rules(rows: list[pd.DataFrame], inputs: Inputs, floor: pd.Series) -> None:
    """Per-mu floors and the building rules of projects that take land."""
    sc, pr = inputs.scenario, inputs.projects
    el = sc.eligibility
    land = pr["land_mu"]
    industrial = (land > 0) & (pr["kind"] != "infrastructure")
    per_mu = land.where(land > 0)
    per = "wan_cny_per_mu"
    _rule(rows, "BELOW_INTENSITY_FLOOR", industrial, pr["investment_wan_cny"] / per_mu, per, ">=", floor)  # fmt: skip
    _rule(rows, "BELOW_TAX_FLOOR", industrial, pr["annual_tax_wan_cny"] / per_mu, per, ">=",
          el.tax_per_mu_min_wan_cny)  # fmt: skip
    _rule(rows, "BELOW_OUTPUT_FLOOR", industrial, pr["annual_output_wan_cny"] / per_mu, per, ">=",
          el.output_per_mu_min_wan_cny)  # fmt: skip
    industry = pr["sector"].map({k: s.industry for k, s in sc.sectors.items()})
    plot_floor = industry.map(el.plot_ratio_floor).fillna(el.plot_ratio_floor.get("other", 0.0))
    _rule(rows, "BELOW_PLOT_RATIO_FLOOR", industrial, pr["plot_ratio"], "ratio", ">=", plot_floor)
    _rule(rows, "BELOW_COVERAGE_FLOOR", industrial, pr["building_coverage"], "share", ">=",
          el.building_coverage_min)  # fmt: skip
    _rule(rows, "ABOVE_OFFICE_SHARE_CAP", industrial, pr["office_share"], "share", "<=",
          el.office_share_max)  # fmt: skip


def _place_and_money_rules(rows: list[pd.DataFrame], inputs: Inputs) -> None:
    """Chemical projects in chemical parks; infrastructure-only resources; bond coverage."""
    sc, pr = inputs.scenario, inputs.projects
    el = sc.eligibility
    chemical = pr["sector"].map({k: s.chemical for k, s in sc.sectors.items()}).astype(bool)
    if inputs.parks is not None:
        in_chem = pr["park"].map(inputs.parks["chemical_park"]).fillna(False).astype(float)
    else:
        in_chem = pd.Series(np.nan, index=pr.index)
    _rule(rows, "CHEMICAL_OUTSIDE_CHEM_PARK", chemical & (pr["kind"] != "infrastructure"),
          in_chem, "flag", ">=", 1.0)  # fmt: skip
    infra = pr["kind"] == "infrastructure"
    for name, res in sc.resources.items():
        col = pr[res.demand_column]
        if res.infrastructure_only:
            outside = col.where(~infra, 0.0)  # demand of projects that may not draw it
            _rule(rows, f"{name.upper()}_NOT_ELIGIBLE", col > 0, outside, res.unit, "<=", 0.0)
    if "bond" in sc.resources:
        bond = pr[sc.resources["bond"].demand_column]
        term = pr["bond_term_years"].fillna(el.bond_term_years)
        rate = pr["bond_rate"].fillna(el.bond_rate)
        coverage = pr["annual_net_revenue_wan_cny"] * term / (bond * (1 + rate * term))
        _rule(rows, "LOW_BOND_COVERAGE", infra & (bond > 0), coverage, "ratio", ">=",
              el.bond_coverage_min)  # fmt: skip


def _must_buy(inputs: Inputs) -> list[pd.DataFrame]:
    """One ``must_buy`` or ``pass`` row per project with demand of a resource that has an
    intensity limit."""
    sc, pr = inputs.scenario, inputs.projects
    frames = []
    for name, res in sc.resources.items():
        if res.must_buy_intensity_max is None:
            continue
        need = pr[res.demand_column] - (pr[res.deduct_column].fillna(0) if res.deduct_column else 0)
        va = pr["annual_value_added_wan_cny"]
        intensity = (need.clip(lower=0) / va.where(va > 0)).fillna(np.inf).where(need > 0, 0.0)
        over = intensity > res.must_buy_intensity_max
        frame = pd.DataFrame({
            "project_id": pr.index, "rule": f"{name.upper()}_LIMIT", "figure": intensity.to_numpy(),
            "unit": f"{res.unit}_per_wan_cny", "comparator": "<=",
            "threshold": res.must_buy_intensity_max, "result": np.where(over, "must_buy", "pass"),
        })  # fmt: skip
        frames.append(frame[(need > 0).to_numpy()])
    return frames


def check_projects(
    inputs: Inputs, grades: pd.DataFrame | None = None, site_zones: pd.DataFrame | None = None
) -> Eligibility:
    """Every rule for every project. ``grades``: the per-mu evaluation of firms (for
    FIRM_CLASS_D); ``site_zones``: district and zone level of the reuse sites, where a project
    may also land (the intensity floor is then the lowest of the places open to it)."""
    sc, pr = inputs.scenario, inputs.projects
    rows: list[pd.DataFrame] = []
    _land_rules(rows, inputs, _landing_floor(inputs, site_zones))
    _place_and_money_rules(rows, inputs)
    if grades is not None:
        upgrade = pr["kind"].isin(["expansion", "tech_upgrade"]) & pr["firm_id"].notna()
        share = pr["firm_id"].map(grades["rank_share"])
        shares = sc.land.evaluation.class_shares
        d_from = float(np.cumsum([shares[k] for k in "ABCD"])[2])  # as the grading cuts
        _rule(rows, "FIRM_CLASS_D", upgrade, share, "rank_share", "<=", d_from)
    checks = pd.concat(rows, ignore_index=True)
    for frame in _must_buy(inputs):
        checks = pd.concat([checks, frame], ignore_index=True)
    order = {pid: i for i, pid in enumerate(pr.index)}
    checks = checks.sort_values("project_id", key=lambda s: s.map(order), kind="stable")
    checks = checks.reset_index(drop=True)[CHECK_COLUMNS]
    failed = checks[checks["result"] == "fail"].drop_duplicates("project_id")
    reason = pd.Series("", index=pr.index, dtype=object)
    reason[failed["project_id"].to_numpy()] = ("INELIGIBLE_" + failed["rule"]).to_numpy()
    years = sc.horizon
    offered = (pr["earliest_year"] <= years.end) & (pr["latest_year"] >= years.start)
    reason[~offered & (reason == "")] = "NOT_OFFERED"
    return Eligibility(checks=checks, reason=reason)
