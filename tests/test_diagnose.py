"""The infeasibility report: fewest relaxed constraint groups first, then least slack."""

from __future__ import annotations

import pytest

from tests.conftest import RESOURCES, project, solved

pytestmark = pytest.mark.solver


def big(**kw: object) -> dict:
    """A project dense enough per mu to pass every rule on 100+ mu."""
    return project(investment_wan_cny=150000, annual_output_wan_cny=600000,
                   annual_tax_wan_cny=9000, **kw)  # fmt: skip


ENERGY = {"unit": "tce", "kind": "recurring", "demand_column": "energy_tce_per_year"}


def test_fewest_groups_beat_a_smaller_weighted_slack(case):
    """Locked-in P-1 fills the energy (1,000 tce) and P-2 xuecheng's land; the count rule
    wants one project in shizhong, and only S (200 tce, 13 mu of shizhong's 10) is there.
    Letting S in breaks two rows (energy by 200 of 1,000 and land by 3 of 10: weighted
    0.2 + 0.3 = 0.5); dropping the count rule breaks one (by 1 of 1: weighted 1). Fewest
    groups first: the report names the count rule alone."""
    rows = [
        project(project_id="P-1", energy_tce_per_year=1000, land_mu=0, kind="tech_upgrade",
                existing_parcel_id="PC-1"),
        big(project_id="P-2", energy_tce_per_year=0, land_mu=100),
        project(project_id="S", district="shizhong", energy_tce_per_year=200, land_mu=13),
    ]  # fmt: skip
    supplies = [("energy", 2027, "city", 1000), ("land_quota", 2027, "xuecheng", 100),
                ("land_quota", 2027, "shizhong", 10)]  # fmt: skip
    path = case(rows, supplies, {
        "resources": {"land_quota": RESOURCES["land_quota"], "energy": ENERGY},
        "horizon": {"start": 2027, "end": 2027},
        "locked_in": {"P-1": 2027, "P-2": 2027},
        "count_rules": [{"name": "one_in_shizhong", "district": "shizhong", "min_count": 1}],
    })  # fmt: skip
    run = solved(path)
    assert run.result.status.value == "infeasible"
    diag = run.diagnosis
    assert diag is not None
    (row,) = diag.relaxed_rows
    assert str(row["row"]).startswith("count:one_in_shizhong[district=shizhong")
    assert row["shortfall"] == pytest.approx(1)
    assert diag.text.startswith("不可行；最小放宽（1 组约束）：数量规则 one_in_shizhong 市中区")


def test_two_groups_when_one_will_not_do(case):
    """Both locked-in projects overdraw their own row: energy by 500 and land by 20."""
    rows = [
        project(project_id="P-1", energy_tce_per_year=1500, land_mu=0, kind="tech_upgrade",
                existing_parcel_id="PC-1"),
        big(project_id="P-2", energy_tce_per_year=0, land_mu=120),
    ]  # fmt: skip
    supplies = [("energy", 2027, "city", 1000), ("land_quota", 2027, "xuecheng", 100)]
    path = case(rows, supplies, {
        "resources": {"land_quota": RESOURCES["land_quota"], "energy": ENERGY},
        "horizon": {"start": 2027, "end": 2027},
        "locked_in": {"P-1": 2027, "P-2": 2027},
    })  # fmt: skip
    diag, said = solved(path).diagnosis, solved(path, lang="en").diagnosis
    assert diag is not None and said is not None
    assert said.relaxed_rows == diag.relaxed_rows  # the figures whatever the language
    short = {r["row"]: (r["shortfall"], r["locked_in_projects"]) for r in diag.relaxed_rows}
    assert short == {
        "energy[year=2027,scope=city]": (pytest.approx(500), ["P-1"]),
        "land_quota[year=2027,scope=xuecheng]": (pytest.approx(20), ["P-2"]),
    }
    assert "（2 组约束）" in diag.text
    assert "能耗指标 2027 全市统筹：缺口 500.00 吨标准煤；指定保障的项目 P-1 使用该项" in diag.text
    assert "(2 constraint group(s))" in said.text
    assert (
        "energy quota 2027 city: short by 500.00 tce; locked-in projects P-1 draw on it"
        in said.text
    )
