"""Frontier and alternatives on a city small enough to enumerate by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from allocator.cli import app
from allocator.explain.tradeoffs import alternatives, frontier, weight_ranges
from tests.conftest import project

pytestmark = pytest.mark.solver

ENERGY = {"energy": {"unit": "tce", "kind": "recurring", "demand_column": "energy_tce_per_year"}}
SETUP = {"resources": ENERGY, "horizon": {"start": 2027, "end": 2027},
         "objective": {"value_column": "score_wan_cny"}}  # fmt: skip


def scored(pid: str, tce: float, score: float) -> dict:
    return project(project_id=pid, energy_tce_per_year=tce, score_wan_cny=score)


def test_frontier_values_by_hand_and_never_decreasing(case):
    """A (101 tce, 80), B and C (50 tce, 45 each). Supply 50 → B; 75 → B; 100.5 → B + C;
    125.75 → B + C (A alone is 80); 151 → A + B = 125."""
    rows = [scored("A", 101, 80), scored("B", 50, 45), scored("C", 50, 45)]
    path = case(rows, [("energy", 2027, "city", 100)], SETUP)
    table = frontier(path, "energy", steps=5, low=0.5, high=1.51)
    assert list(table["supply"]) == pytest.approx([50, 75.25, 100.5, 125.75, 151])
    assert list(table["value_wan_cny"]) == [45, 45, 90, 90, 125]
    assert table["value_wan_cny"].is_monotonic_increasing
    assert table["evaluator_ok"].all()


def test_alternatives_differ_and_stay_within_the_gap(case):
    """Portfolios of 100 tce: B + C 89, B + D 85, C + D 84, B + E 83, ... Within 6% of 89
    (≥ 83.66) there are exactly three."""
    rows = [scored("B", 50, 45), scored("C", 50, 44), scored("D", 50, 40), scored("E", 50, 38)]
    path = case(rows, [("energy", 2027, "city", 100)], SETUP)
    found, freq = alternatives(path, count=5, within=0.06)
    assert list(found["value_wan_cny"]) == [89, 85, 84]
    assert found["evaluator_ok"].all() and (found["below_best"] <= 0.06).all()
    assert found["approved_hash"].is_unique
    share = freq.set_index("project_id")["frequency"].to_dict()
    assert share == pytest.approx({"B": 2 / 3, "C": 2 / 3, "D": 2 / 3, "E": 0.0})


def test_frontier_of_an_undeclared_resource_names_it(case_file, tmp_path):
    path = case_file([scored("B", 50, 45)], [("energy", 2027, "city", 100)], SETUP)
    result = CliRunner().invoke(app, ["frontier", str(path), "--resource", "water",
                                      "--out", str(tmp_path / "f.csv")])  # fmt: skip
    assert result.exit_code == 2
    assert "'water'" in result.output and "energy" in result.output
    ok = CliRunner().invoke(app, ["frontier", str(path), "--resource", "energy", "--steps", "3",
                                  "--out", str(tmp_path / "f.csv")])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert len(pd.read_csv(tmp_path / "f.csv", encoding="utf-8-sig")) == 3


def x_against_y(case, y_value: float):
    """One year, L = 1, no discounting: value = value added × (1 + b·z_tech). X (100, the
    best tech score, z = 1) and Y (``y_value``, z = 0) want the same 50 tce; b = 0.2."""
    rows = [project(project_id="X", annual_value_added_wan_cny=100, tech_score=90,
                    energy_tce_per_year=50, build_years=0),
            project(project_id="Y", annual_value_added_wan_cny=y_value, tech_score=10,
                    energy_tce_per_year=50, build_years=0)]  # fmt: skip
    setup = {"resources": ENERGY, "horizon": {"start": 2027, "end": 2027},
             "objective": {"bonus_weights": {"tech": 0.2}, "evaluation_years": 1,
                           "discount_rate": 0.0}}  # fmt: skip
    path = case(rows, [("energy", 2027, "city", 50)], setup)
    (r,) = weight_ranges(path, cap=1.0, tol=0.01).to_dict("records")
    return r


def test_weight_range_by_hand(case):
    """Y worth 110: X stays in while 100 (1 + b) ≥ 110, i.e. b ≥ 0.1: [0.1, cap]."""
    r = x_against_y(case, 110)
    assert r["criterion"] == "tech" and r["weight"] == 0.2
    assert 0.1 <= r["lower"] <= 0.11
    assert r["upper"] == 1.0 and r["upper_is_cap"]


def test_weight_on_a_knife_edge(case):
    """Y worth 119.5: X is in at b = 0.2 but out at 0.19; the range is [0.2, cap] and the
    lower side costs one trial."""
    r = x_against_y(case, 119.5)
    assert (r["lower"], r["upper"]) == (0.2, 1.0)
    assert r["solves"] == 3  # 0.21 and 1.0 unchanged, 0.19 changed
