"""Each project rule of RULES.md, just inside and just outside its threshold."""

from __future__ import annotations

import pytest

from tests.conftest import prepared, project

SUPPLY = [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 5000)]
PARKS = [
    {
        "park": "NAT",
        "district": "xuecheng",
        "zone_level": "national",
        "leading_sectors": "high_end_equipment",
        "chemical_park": False,
    },
    {
        "park": "CHEM",
        "district": "xuecheng",
        "zone_level": "other",
        "leading_sectors": "high_end_chemicals",
        "chemical_park": True,
    },
]

# (rule, changes that just pass, changes that just fail)
CASES = [
    ("BELOW_INTENSITY_FLOOR", {"investment_wan_cny": 11000}, {"investment_wan_cny": 10999}),
    (
        "BELOW_INTENSITY_FLOOR",
        {"park": "NAT", "investment_wan_cny": 17500},
        {"park": "NAT", "investment_wan_cny": 17499},
    ),
    ("BELOW_TAX_FLOOR", {"annual_tax_wan_cny": 1000}, {"annual_tax_wan_cny": 999.5}),
    ("BELOW_OUTPUT_FLOOR", {"annual_output_wan_cny": 20000}, {"annual_output_wan_cny": 19999}),
    (
        "BELOW_PLOT_RATIO_FLOOR",
        {"sector": "food", "plot_ratio": 1.0},
        {"sector": "food", "plot_ratio": 0.99},
    ),
    ("BELOW_PLOT_RATIO_FLOOR", {"plot_ratio": 0.8}, {"plot_ratio": 0.79}),
    ("BELOW_COVERAGE_FLOOR", {"building_coverage": 0.30}, {"building_coverage": 0.29}),
    ("ABOVE_OFFICE_SHARE_CAP", {"office_share": 0.07}, {"office_share": 0.071}),
    (
        "CHEMICAL_OUTSIDE_CHEM_PARK",
        {"sector": "high_end_chemicals", "park": "CHEM"},
        {"sector": "high_end_chemicals", "park": "NAT"},
    ),
    (
        "BOND_NOT_ELIGIBLE",
        {
            "kind": "infrastructure",
            "bond_wan_cny": 100,
            "land_mu": 0,
            "annual_net_revenue_wan_cny": 100,
        },
        {"kind": "new", "bond_wan_cny": 100},
    ),
    (
        "LOW_BOND_COVERAGE",
        {
            "kind": "infrastructure",
            "land_mu": 0,
            "bond_wan_cny": 1000,
            "bond_term_years": 10,
            "bond_rate": 0.03,
            "annual_net_revenue_wan_cny": 143.1,
        },
        {
            "kind": "infrastructure",
            "land_mu": 0,
            "bond_wan_cny": 1000,
            "bond_term_years": 10,
            "bond_rate": 0.03,
            "annual_net_revenue_wan_cny": 142.9,
        },
    ),
]


def _scenario() -> dict:
    from tests.conftest import RESOURCES

    bond = {
        "unit": "wan_cny",
        "kind": "one_off",
        "demand_column": "bond_wan_cny",
        "infrastructure_only": True,
    }
    return {"resources": {**RESOURCES, "bond": bond}}


@pytest.mark.parametrize(("rule", "ok", "bad"), CASES)
def test_rule_threshold(case, rule, ok, bad):
    rows = [project(project_id="P-OK", **ok), project(project_id="P-BAD", **bad)]
    prep = prepared(case(rows, [*SUPPLY, ("bond", 2027, "city", 10)], _scenario(), PARKS))
    checks = prep.eligibility.checks.set_index(["project_id", "rule"])
    assert checks.loc[("P-OK", rule), "result"] == "pass"
    assert checks.loc[("P-BAD", rule), "result"] == "fail"
    assert prep.eligibility.reason["P-OK"] == ""
    assert prep.eligibility.reason["P-BAD"] == f"INELIGIBLE_{rule}"
    figure = checks.loc[("P-BAD", rule)]
    assert figure["comparator"] in (">=", "<=") and figure["threshold"] == figure["threshold"]


def test_absent_field_is_not_checked_never_passed(case):
    prep = prepared(case([project(plot_ratio="", building_coverage="")], SUPPLY))
    checks = prep.eligibility.checks.set_index("rule")
    assert checks.loc["BELOW_PLOT_RATIO_FLOOR", "result"] == "not_checked"
    assert checks.loc["BELOW_COVERAGE_FLOOR", "result"] == "not_checked"
    assert prep.eligibility.reason["P-1"] == ""


def test_energy_limit_means_must_buy_not_ineligible(case):
    rows = [
        project(project_id="P-OK", energy_tce_per_year=4800),  # 0.6 tce per 万元
        project(project_id="P-BUY", energy_tce_per_year=4801),
        project(project_id="P-FEED", energy_tce_per_year=6000, feedstock_energy_tce_per_year=1200),
    ]
    prep = prepared(case(rows, SUPPLY))
    assert prep.eligibility.eligible.all()
    assert prep.must_buy["energy"].to_dict() == {"P-OK": False, "P-BUY": True, "P-FEED": False}
    assert prep.demand.at["P-FEED", "energy"] == 4800


def test_zero_land_upgrade_skips_per_mu_rules(case):
    row = project(
        kind="tech_upgrade",
        land_mu=0,
        annual_tax_wan_cny=0,
        plot_ratio=0.1,
        existing_parcel_id="PC-1",
    )
    prep = prepared(case([row], SUPPLY))
    assert prep.eligibility.reason["P-1"] == ""
    assert not prep.eligibility.checks["rule"].str.startswith("BELOW_").any()


def test_window_outside_horizon_is_not_offered(case):
    prep = prepared(case([project(earliest_year=2030, latest_year=2031)], SUPPLY))
    assert prep.eligibility.reason["P-1"] == "NOT_OFFERED"
