"""The compiled program for tiny hand-written inputs, inspected without a solver."""

from __future__ import annotations

import numpy as np
import pytest

from allocator.formulation.build import build_model
from allocator.formulation.program import Builder
from allocator.prepare import discount_factor
from tests.conftest import RESOURCES, prepared, project

SUPPLY = [
    ("land_quota", 2027, "xuecheng", 40),
    ("land_quota", 2028, "xuecheng", 30),
    ("energy", 2027, "city", 500),
    ("energy", 2028, "city", 900),
    ("energy", 2029, "city", 1500),
]


@pytest.fixture
def model(case):
    rows = [
        project(project_id="P-1", latest_year=2028),
        project(
            project_id="P-2",
            earliest_year=2029,
            land_mu=20,
            investment_wan_cny=12000,
            annual_tax_wan_cny=600,
            annual_output_wan_cny=12000,
            energy_tce_per_year=700,
            requires="P-1",
        ),
    ]
    return build_model(prepared(case(rows, SUPPLY)))


def coef(model, row: str, col: str) -> float:
    lp = model.lp
    return float(lp.A[lp.row_names.index(row), lp.col_names.index(col)])


def test_columns_and_bounds(model):
    lp = model.lp
    assert lp.col_names == [
        "s[P-1,2027]",
        "s[P-1,2028]",
        "s[P-2,2029]",
        "buy:energy[year=2027,scope=city]",
        "buy:energy[year=2028,scope=city]",
        "buy:energy[year=2029,scope=city]",
    ]
    assert lp.integer.tolist() == [True] * 3 + [False] * 3
    assert lp.col_hi.tolist() == [1, 1, 1, 1000, 1000, 1000]
    assert lp.c[3:].tolist() == [-0.05] * 3


def test_rows_count_and_names(model):
    lp = model.lp
    families = {f: int((lp.row_family == f).sum()) for f in set(lp.row_family)}
    # s[P-1,2027] ≤ s[P-1,2028], 3 energy rows, 7 districts × 3 years of land,
    # P-2 requires P-1 in the one year P-2 can start.
    assert families == {"started": 1, "resource": 3 + 21, "requires": 1}
    assert coef(model, "started[project=P-1,year=2027]", "s[P-1,2027]") == 1
    assert coef(model, "started[project=P-1,year=2027]", "s[P-1,2028]") == -1
    assert "energy[year=2028,scope=city]" in lp.row_names
    assert "requires[project=P-2,needs=P-1,year=2029]" in lp.row_names


def test_recurring_rows_count_every_year_since_the_start(model):
    # s[P-1,2028] = 1 when P-1 started in 2027 or 2028: it uses energy in 2029 either way.
    row = "energy[year=2029,scope=city]"
    assert coef(model, row, "s[P-1,2028]") == 1000
    assert coef(model, row, "s[P-1,2027]") == 0
    assert coef(model, row, "s[P-2,2029]") == 700
    assert coef(model, row, "buy:energy[year=2029,scope=city]") == -1
    assert coef(model, "energy[year=2027,scope=city]", "s[P-1,2027]") == 1000
    assert coef(model, "energy[year=2027,scope=city]", "s[P-1,2028]") == 0
    i = model.lp.row_names.index(row)
    assert model.lp.row_hi[i] == 1500 and model.lp.row_lo[i] == -np.inf


def test_carry_over_rows_are_cumulative(model):
    lp = model.lp
    hi = dict(zip(lp.row_names, lp.row_hi, strict=True))
    assert hi["land_quota[year=2027,scope=xuecheng]"] == 40
    assert hi["land_quota[year=2028,scope=xuecheng]"] == 70
    assert hi["land_quota[year=2029,scope=xuecheng]"] == 70
    assert hi["land_quota[year=2029,scope=tengzhou]"] == 0
    assert coef(model, "land_quota[year=2027,scope=xuecheng]", "s[P-1,2027]") == 50
    assert coef(model, "land_quota[year=2028,scope=xuecheng]", "s[P-1,2028]") == 50
    assert coef(model, "land_quota[year=2028,scope=xuecheng]", "s[P-1,2027]") == 0
    assert coef(model, "land_quota[year=2028,scope=xuecheng]", "s[P-2,2029]") == 0


def test_one_off_rows_without_carry_take_the_start_year_only(case):
    rows = [
        project(
            project_id="P-1",
            kind="infrastructure",
            land_mu=0,
            bond_wan_cny=100,
            annual_net_revenue_wan_cny=100,
        )
    ]
    bond = {"unit": "wan_cny", "kind": "one_off", "demand_column": "bond_wan_cny"}
    model = build_model(
        prepared(
            case(
                rows,
                [*SUPPLY, ("bond", 2027, "city", 50)],
                {"resources": {**RESOURCES, "bond": bond}},
            )
        )
    )
    assert coef(model, "bond[year=2028,scope=city]", "s[P-1,2028]") == 100
    assert coef(model, "bond[year=2028,scope=city]", "s[P-1,2027]") == -100
    assert coef(model, "bond[year=2027,scope=city]", "s[P-1,2027]") == 100


def test_requires_row(model):
    row = "requires[project=P-2,needs=P-1,year=2029]"
    assert coef(model, row, "s[P-1,2028]") == 1
    assert coef(model, row, "s[P-2,2029]") == -1
    assert model.lp.row_lo[model.lp.row_names.index(row)] == 0


def test_objective_is_present_value_of_value_added(model):
    # P-1 starting 2027, built in one year: produces 2028..2036 (t0 + L − 1), discounted to 2027.
    in_2027 = 8000 * sum(1.05 ** -(u - 2027) for u in range(2028, 2037))
    in_2028 = 8000 * sum(1.05 ** -(u - 2027) for u in range(2029, 2037))
    c = dict(zip(model.lp.col_names, model.lp.c, strict=True))
    # x[P-1,2027] = s[P-1,2027]; x[P-1,2028] = s[P-1,2028] − s[P-1,2027].
    assert c["s[P-1,2027]"] == pytest.approx(in_2027 - in_2028, rel=1e-12)
    assert c["s[P-1,2028]"] == pytest.approx(in_2028, rel=1e-12)
    assert model.s.set_index(["project_id", "year"]).at[("P-1", 2027), "value_wan_cny"] == (
        pytest.approx(in_2027, rel=1e-12)
    )


def test_discount_factor_edges():
    assert discount_factor(np.array([2027]), np.array([0]), 2027, 1, 0.0)[0] == 1.0
    assert discount_factor(np.array([2027]), np.array([10]), 2027, 10, 0.05)[0] == 0.0
    assert discount_factor(np.array([2030]), np.array([2]), 2027, 10, 0.0)[0] == 5.0


def test_locks_and_must_buy(case):
    rows = [project(project_id="P-1"), project(project_id="P-2", energy_tce_per_year=6000)]
    prep = prepared(case(rows, SUPPLY, {"locked_in": {"P-1": 2028}, "locked_out": ["P-2"]}))
    lp = build_model(prep).lp
    bounds = dict(zip(lp.col_names, zip(lp.col_lo, lp.col_hi, strict=True), strict=True))
    assert bounds["s[P-1,2027]"] == (0, 0)
    assert bounds["s[P-1,2028]"] == (1, 1)
    assert bounds["s[P-1,2029]"] == (1, 1)
    assert bounds["s[P-2,2027]"] == (0, 0)
    assert bounds["s[P-2,2029]"] == (0, 0)
    i = lp.row_names.index("must_buy:energy[year=2028]")
    a = lp.A.tocsr()[i]
    named = {lp.col_names[j]: v for j, v in zip(a.indices, a.data, strict=True)}
    assert named == {"s[P-2,2028]": 6000, "buy:energy[year=2028,scope=city]": -1}


def test_builder_sums_repeated_terms_and_drops_zeros():
    b = Builder()
    cols = b.add_cols("x", ["a", "b"], 0, 1, cost=[1.0, 2.0], integer=True)
    rows = b.add_rows("r", ["r1"], hi=3.0)
    b.add_terms(np.r_[rows, rows, rows], np.r_[cols, cols[:1]], np.r_[1.0, 0.0, 2.0])
    lp = b.build()
    assert lp.A.toarray().tolist() == [[3.0, 0.0]]
    assert lp.A.nnz == 1
    assert lp.violations(np.array([1.0, 0.0])) == []
    assert lp.violations(np.array([1.0, 0.5])) == ["b"]
