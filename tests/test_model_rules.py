"""Rules of the model that small hand-made cases pin down, solved and checked."""

from __future__ import annotations

import pytest

from allocator.backends.base import Settings, Status, get_backend
from allocator.engine import decode
from allocator.evaluate import evaluate
from allocator.formulation.build import build_model
from models.backends import BACKENDS
from tests.conftest import RESOURCES, prepared, project

pytestmark = pytest.mark.solver

ENERGY_ONLY = {
    "energy": {"unit": "tce", "kind": "recurring", "demand_column": "energy_tce_per_year"}
}


def solve(prep, backend: str = "highs"):
    model = build_model(prep)
    result = get_backend(backend).solve(model.lp, Settings(gap_rel=1e-9))
    assert result.status is Status.OPTIMAL, result.message
    alloc = decode(model, result.x)
    check = evaluate(prep, alloc)
    assert check.ok, check.violations
    assert check.objective == pytest.approx(result.objective, rel=1e-9, abs=1e-6)
    return alloc.starts, alloc.purchased, check


def test_a_resource_declared_in_the_scenario_alone_is_allocated(case):
    """Water rights: a new resource needs a declaration and a column, no code."""
    rows = [
        project(project_id=f"P-{i}", water_m3_per_year=w, annual_value_added_wan_cny=v)
        for i, (w, v) in enumerate([(600, 9000), (500, 8000), (400, 7000)])
    ]
    water = {"unit": "m3", "kind": "recurring", "demand_column": "water_m3_per_year"}
    path = case(
        rows,
        [("energy", 2027, "city", 1e6), ("water", 2027, "city", 1000)],
        {
            "resources": {**ENERGY_ONLY, "water": water},
            "horizon": {"start": 2027, "end": 2027},
            "data": {
                "projects": "projects.csv",
                "supplies": "supplies.csv",
                "firms": None,
                "parks": None,
                "extra_project_columns": ["water_m3_per_year"],
            },
        },
    )
    starts, _, check = solve(prepared(path))
    assert sorted(starts.index) == ["P-0", "P-2"]  # 1,000 m3 exactly: the best pair
    water_rows = check.resources[check.resources["resource"] == "water"]
    assert water_rows["used"].tolist() == [1000]


def test_province_reserve_serves_provincial_projects_only(case):
    rows = [
        project(
            project_id="P-PROV",
            major_level="provincial",
            land_mu=80,
            investment_wan_cny=40000,
            annual_output_wan_cny=40000,
            annual_tax_wan_cny=2000,
        ),
        project(project_id="P-CITY", land_mu=50),
    ]
    supplies = [
        ("land_quota", 2027, "xuecheng", 50),
        ("land_quota", 2027, "province_reserve", 80),
        ("energy", 2027, "city", 1e6),
    ]
    prep = prepared(case(rows, supplies, {"horizon": {"start": 2027, "end": 2027}}))
    pools = prep.pools[prep.pools["resource"] == "land_quota"].set_index("project_id")["scope"]
    assert pools.to_dict() == {"P-PROV": "province_reserve", "P-CITY": "xuecheng"}
    starts, _, check = solve(prep)
    assert sorted(starts.index) == ["P-CITY", "P-PROV"]
    used = check.resources.set_index(["resource", "scope"])["used"]
    assert used[("land_quota", "province_reserve")] == 80
    assert used[("land_quota", "xuecheng")] == 50


def test_freed_supply_counts_from_the_year_after_the_closure(case):
    firms = [
        {
            "firm_id": "F-1",
            "name": "old kiln",
            "above_scale": True,
            "revenue_wan_cny": 1,
            "value_added_wan_cny": 1,
            "tax_wan_cny": 0,
            "energy_tce": 1000,
            "coal_t": 0,
            "pollutant_equivalent_t": 0,
            "rd_wan_cny": 0,
            "employees": 1,
            "land_mu": 10,
        }
    ]
    inputs = case(
        [
            project(
                land_mu=0,
                kind="tech_upgrade",
                existing_parcel_id="A",
                energy_tce_per_year=700,
                earliest_year=2027,
            )
        ],
        [("energy", y, "city", 100) for y in (2027, 2028, 2029)],
        {
            "resources": {"energy": {**ENERGY_ONLY["energy"], "freed_column": "energy_tce"}},
            "closures": [{"firm_id": "F-1", "year": 2027}],
            "freed_share": 0.8,
        },
        firms=firms,
    )
    prep = prepared(inputs)
    freed = prep.supply.set_index("year")["freed"]
    assert freed.to_dict() == {2027: 0.0, 2028: 800.0, 2029: 800.0}
    starts, _, _ = solve(prep)
    assert starts.to_dict() == {"P-1": 2028}  # 700 > 100 in 2027; fits with 800 freed


def test_value_column_replaces_the_present_value(case):
    rows = [
        project(project_id="P-1", score_wan_cny=10, annual_value_added_wan_cny=9000),
        project(project_id="P-2", score_wan_cny=30, annual_value_added_wan_cny=1000),
    ]
    path = case(
        rows,
        [("energy", 2027, "city", 1000)],
        {
            "resources": ENERGY_ONLY,
            "horizon": {"start": 2027, "end": 2027},
            "objective": {"value_column": "score_wan_cny"},
        },
    )
    starts, _, check = solve(prepared(path))
    assert list(starts.index) == ["P-2"]
    assert check.objective == 30


def test_group_rule_min_share_of_used_and_soft_total(case):
    rows = [
        project(
            project_id="P-IT",
            sector="new_it",
            energy_tce_per_year=400,
            annual_value_added_wan_cny=1000,
        ),
        project(
            project_id="P-FOOD",
            sector="food",
            plot_ratio=1.2,
            energy_tce_per_year=600,
            annual_value_added_wan_cny=5000,
        ),
    ]
    rule = {
        "name": "emerging",
        "group": {"sector_group": ["emerging"]},
        "measure": "energy",
        "min_share": 0.5,
    }
    scenario = {"resources": ENERGY_ONLY, "horizon": {"start": 2027, "end": 2027}}
    path = case(rows, [("energy", 2027, "city", 1000)], {**scenario, "group_rules": [rule]})
    starts, _, _ = solve(prepared(path))
    assert list(starts.index) == ["P-IT"]  # with P-FOOD the emerging share would be 40%
    soft = {
        "name": "it_output",
        "group": {"sector": ["new_it"]},
        "measure": "annual_output_wan_cny",
        "per": "horizon",
        "min_total": 40000,
        "soft_penalty_wan_cny_per_unit": 0.001,
    }
    path = case(rows, [("energy", 2027, "city", 1000)], {**scenario, "group_rules": [soft]})
    starts, _, check = solve(prepared(path))
    assert sorted(starts.index) == ["P-FOOD", "P-IT"]
    assert check.shortfalls == {"group:it_output[period=horizon] min_total": 10000}
    assert check.parts["penalty_wan_cny"] == pytest.approx(10)


@pytest.mark.parametrize("scale", [0.01, 1e9])
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_numbers_from_a_hundredth_to_a_billion(case, backend, scale):
    """No overflow or lost precision at either end of the range (万元, tce)."""
    rows = [
        project(
            project_id=f"P-{n}",
            land_mu=0,
            kind="tech_upgrade",
            existing_parcel_id=n,
            energy_tce_per_year=d * scale,
            score_wan_cny=v * scale,
        )
        for n, d, v in (("A", 6, 9), ("B", 5, 8), ("C", 4, 7))
    ]
    path = case(
        rows,
        [("energy", 2027, "city", 10 * scale)],
        {
            "resources": ENERGY_ONLY,
            "horizon": {"start": 2027, "end": 2027},
            "objective": {"value_column": "score_wan_cny"},
        },
    )
    starts, _, check = solve(prepared(path), backend)
    assert sorted(starts.index) == ["P-A", "P-C"]
    assert check.objective == pytest.approx(16 * scale, rel=1e-9)
    assert check.resources["used"].iloc[0] == pytest.approx(10 * scale, rel=1e-12)


def test_carry_over_moves_unused_quota_forward(case):
    rows = [
        project(
            project_id="P-1",
            land_mu=70,
            investment_wan_cny=30000,
            earliest_year=2028,
            latest_year=2028,
            annual_output_wan_cny=40000,
            annual_tax_wan_cny=2000,
        )
    ]
    supplies = [
        ("land_quota", 2027, "xuecheng", 40),
        ("land_quota", 2028, "xuecheng", 30),
        ("energy", 2027, "city", 1e6),
    ]
    starts, _, check = solve(prepared(case(rows, supplies)))
    assert starts.to_dict() == {"P-1": 2028}
    land = check.resources[
        (check.resources["resource"] == "land_quota") & (check.resources["scope"] == "xuecheng")
    ].set_index("year")
    assert land.at[2027, "carried_out"] == 40 and land.at[2028, "carried_in"] == 40
    without = {**RESOURCES, "land_quota": {**RESOURCES["land_quota"], "carry_over": False}}
    starts, _, _ = solve(prepared(case(rows, supplies, {"resources": without})))
    assert starts.empty
