"""The evaluator rejects allocations that break a rule, and catches a corrupted model."""

from __future__ import annotations

import pandas as pd
import pytest

from allocator.backends.base import Settings, get_backend
from allocator.engine import decode
from allocator.evaluate import Allocation, evaluate
from allocator.formulation.build import build_model
from tests.conftest import prepared, project

pytestmark = pytest.mark.solver

SUPPLY = [
    ("land_quota", 2027, "xuecheng", 60),
    ("energy", 2027, "city", 1500),
    ("energy", 2028, "city", 2000),
    ("energy", 2029, "city", 2500),
]


@pytest.fixture
def prep(case):
    rows = [
        project(project_id="P-1"),
        project(project_id="P-2", annual_value_added_wan_cny=7000),
        project(
            project_id="P-3",
            requires="P-1",
            land_mu=0,
            kind="tech_upgrade",
            existing_parcel_id="PC-3",
        ),
        project(
            project_id="P-4",
            excludes="P-1",
            land_mu=0,
            kind="tech_upgrade",
            existing_parcel_id="PC-4",
            energy_tce_per_year=5000,
        ),
        project(project_id="P-5", annual_tax_wan_cny=10),  # ineligible: tax per mu 0.2
    ]
    scenario = {"count_rules": [{"name": "two", "min_count": 2}], "locked_out": ["P-2"]}
    return prepared(case(rows, SUPPLY, scenario))


def starts(**years: int) -> pd.Series:
    return pd.Series({k.replace("_", "-"): v for k, v in years.items()}, dtype=int)


def no_buy(prep) -> pd.Series:
    return pd.Series(
        0.0, index=pd.MultiIndex.from_frame(prep.supply[["resource", "year", "scope"]])
    )


def test_a_valid_allocation_passes(prep):
    check = evaluate(prep, Allocation(starts(P_1=2027, P_3=2028), no_buy(prep)))
    assert check.ok, check.violations
    assert check.objective == pytest.approx(check.parts["project_value_wan_cny"])


@pytest.mark.parametrize(
    ("allocation", "purchase", "expected"),
    [
        ({"P_1": 2027, "P_3": 2027, "P_4": 2028}, 0, "energy[year=2028,scope=city]: used"),
        ({"P_1": 2027, "P_5": 2027}, 0, "P-5 is approved but INELIGIBLE_BELOW_TAX_FLOOR"),
        ({"P_1": 2027, "P_2": 2028}, 0, "locked_out[P-2]: approved"),
        ({"P_3": 2027, "P_1": 2028}, 0, "requires[P-3 needs P-1]"),
        ({"P_1": 2029, "P_4": 2029}, 0, "excludes[P-1,P-4]: both approved"),
        ({"P_1": 2027}, 0, "count:two[district=city,period=horizon] min_count"),
        ({"P_1": 2027, "P_3": 2027}, 2000, "exceeds the cap 1000"),
    ],
)
def test_each_broken_rule_is_named(prep, allocation, purchase, expected):
    buy = no_buy(prep)
    buy[("energy", 2029, "city")] = purchase
    check = evaluate(prep, Allocation(starts(**allocation), buy))
    assert not check.ok
    assert any(expected in v for v in check.violations), check.violations


def test_land_beyond_the_quota_is_caught(case):
    rows = [project(project_id="P-1"), project(project_id="P-2")]
    prep = prepared(case(rows, SUPPLY))
    check = evaluate(prep, Allocation(starts(P_1=2027, P_2=2027), no_buy(prep)))
    assert any(v.startswith("land_quota[year=2027,scope=xuecheng]") for v in check.violations)


def test_must_buy_without_purchase_is_caught(case):
    rows = [project(project_id="P-1", energy_tce_per_year=6000)]  # 0.75 tce per 万元
    supply = [("land_quota", 2027, "xuecheng", 60), ("energy", 2027, "city", 10000)]
    prep = prepared(case(rows, supply))
    check = evaluate(prep, Allocation(starts(P_1=2027), no_buy(prep)))
    assert any("must_buy:energy[year=2027]" in v for v in check.violations)
    buy = no_buy(prep)
    buy[("energy", 2027, "city")] = 1000  # the cap: still short of 6000
    assert not evaluate(prep, Allocation(starts(P_1=2027), buy)).ok


def test_a_corrupted_coefficient_is_caught(case):
    """The solver optimises a model in which P-2 uses no energy; the tables say otherwise."""
    rows = [
        project(project_id="P-1", land_mu=0, kind="tech_upgrade", existing_parcel_id="A"),
        project(
            project_id="P-2",
            land_mu=0,
            kind="tech_upgrade",
            existing_parcel_id="B",
            annual_value_added_wan_cny=7000,
        ),
    ]
    supply = [("energy", 2027, "city", 1500)]
    prep = prepared(
        case(
            rows,
            supply,
            {
                "horizon": {"start": 2027, "end": 2027},
                "resources": {
                    "energy": {
                        "unit": "tce",
                        "kind": "recurring",
                        "demand_column": "energy_tce_per_year",
                    }
                },
            },
        )
    )
    model = build_model(prep)
    honest = get_backend("highs").solve(model.lp, Settings())
    honest_alloc = decode(model, honest.x)
    assert evaluate(prep, honest_alloc).ok and list(honest_alloc.starts.index) == ["P-1"]

    lp = model.lp
    A = lp.A.tolil()
    A[lp.row_names.index("energy[year=2027,scope=city]"), lp.col_names.index("s[P-2,2027]")] = 0.0
    corrupted = type(lp)(**{**lp.__dict__, "A": A.tocsr()})
    result = get_backend("highs").solve(corrupted, Settings())
    bad = decode(model, result.x)
    bad_starts = bad.starts
    assert sorted(bad_starts.index) == ["P-1", "P-2"]
    check = evaluate(prep, bad)
    assert not check.ok
    assert any(v.startswith("energy[year=2027,scope=city]: used 2,000") for v in check.violations)
