"""Frontier and alternatives on a city small enough to enumerate by hand."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from allocator.cli import app
from allocator.explain.tradeoffs import alternatives, frontier, weight_ranges
from allocator.writers.files import read_table
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
    assert len(read_table(tmp_path / "f.csv")) == 3


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


@pytest.fixture
def stops_early(monkeypatch):
    """The next solve stops (as at its time or gap limit) at a worse portfolio than the
    optimum it would find: ``stops_early(keep)`` starts the projects in ``keep`` and no
    other; the bound stays the optimum's, the status is ``feasible``."""
    from dataclasses import replace

    from allocator.backends.base import Backend, Status

    real = Backend.solve

    def arm(keep: set[str]) -> None:
        def solve(self, lp, settings):
            result = real(self, lp, settings)
            monkeypatch.setattr(Backend, "solve", real)  # once
            x = result.x.copy()
            for j, name in enumerate(lp.col_names):
                if name.startswith("s["):  # started by a year (one year in these cases)
                    x[j] = float(name[2:].split(",")[0] in keep)
            assert not lp.violations(x)
            return replace(result, status=Status.FEASIBLE, x=x, objective=lp.objective(x),
                           bound=result.objective)  # fmt: skip

        monkeypatch.setattr(Backend, "solve", solve)

    return arm


def test_a_better_alternative_is_a_better_solution_not_a_contradiction(case, stops_early):
    """The solve stops at B + D (85) of an optimum B + C (89). Alternative 1 is the solve's
    portfolio; the better one found next is reported as such, and ``below_best`` is
    measured from it, never negative."""
    rows = [scored("B", 50, 45), scored("C", 50, 44), scored("D", 50, 40)]
    path = case(rows, [("energy", 2027, "city", 100)], SETUP)
    stops_early({"B", "D"})
    found, _ = alternatives(path, count=3, within=0.06)
    assert list(found["value_wan_cny"]) == [85, 89, 84]
    assert list(found["better_than_solve"]) == [False, True, False]
    assert found["status"].iloc[0] == "feasible"  # the solve's own status
    assert list(found["below_best"]) == pytest.approx([4 / 89, 0, 5 / 89])


def test_frontier_point_at_one_is_the_solve_and_a_better_one_below_is_named(case, stops_early):
    """The solve stops at B alone (45) of an optimum B + C (90). At × 1 the frontier shows
    the solve's portfolio; at × 0.9 (90 tce) B + D (75) is worth more: a better solution of
    the same scenario, flagged; at × 1.1 the search starts from it and finds B + C."""
    rows = [scored("B", 50, 45), scored("C", 50, 45), scored("D", 40, 30)]
    path = case(rows, [("energy", 2027, "city", 100)], SETUP)
    stops_early({"B"})
    table = frontier(path, "energy", steps=3, low=0.9, high=1.1)
    assert list(table["factor"]) == pytest.approx([0.9, 1.0, 1.1])
    assert list(table["value_wan_cny"]) == [75, 45, 90]
    assert list(table["better_than_solve"]) == [True, False, False]
    assert list(table["approved"]) == [2, 1, 2] and table.at[1, "status"] == "feasible"


def test_explain_reports_a_better_solution_and_intervals_not_a_negative_cost(case, stops_early):
    """The solve stops at B + D (85) of an optimum B + C (89, its bound). Bringing C in finds
    89: a better solution of the same scenario, at no cost. Without B the best is C + D
    (84): the loss lies in [85 − 84, 89 − 84] = [1, 5] and is printed as that interval."""
    from allocator.engine import Options
    from allocator.explain.whatif import what_it_would_take

    rows = [scored("B", 50, 45), scored("C", 50, 44), scored("D", 50, 40)]
    path = case(rows, [("energy", 2027, "city", 100)], SETUP)
    stops_early({"B", "D"})
    c = what_it_would_take(path, "C", Options(lang="en"))
    assert c["loss_wan_cny"] == 0 and c["better_solution_wan_cny"] == 89
    assert "a better solution of the same scenario" in c["text"] and "-" not in c["text"]
    stops_early({"B", "D"})
    said = what_it_would_take(path, "C")  # in Chinese, the scenario's default
    assert said["text"].startswith("纳入 C 时找到比原方案多 4 万元的组合（89 对 85，差距 4.7059%）")
    stops_early({"B", "D"})
    b = what_it_would_take(path, "B", Options(lang="en"))
    assert b["loss_interval_wan_cny"] == [1, 5]
    assert "between 1 and 5 万元" in b["text"] and "C" in b["would_enter"]


def test_supply_increase_words_say_what_a_stopped_search_established():
    from allocator.explain.whatif import _increase_words

    base = {"resource": "energy", "scope": "city", "years": [2027, 2028], "unit": "tce"}
    stopped = {**base, "smallest_increase": 120.0, "lower_bound": 0.0, "status": "time_limit"}
    text = _increase_words(stopped, 30, "en")
    assert "at least 0.00" not in text and "+0.00 to 120.00 tce a year in 2027–2028" in text
    assert "stopped at its 30 s limit" in text
    none = {**base, "smallest_increase": None, "lower_bound": 40.0, "status": "time_limit"}
    assert "any that does is above 40.00 tce a year" in _increase_words(none, 30, "en")
    nothing = {**none, "lower_bound": 0.0}
    assert "before finding an increase or proving that none will do" in _increase_words(
        nothing, 30, "en"
    )
    proven = {**base, "smallest_increase": 120.0, "lower_bound": 120.0, "status": "optimal"}
    assert _increase_words(proven, 30, "en") == "energy quota city +120.00 tce a year in 2027–2028"
    assert (
        _increase_words(proven, 30, "zh")
        == "能耗指标 全市统筹 在 2027–2028 每年增加 120.00 吨标准煤"
    )
    assert "（40 秒内" not in _increase_words(none, 30, "zh")
    assert _increase_words(none, 30, "zh").endswith(
        "（30 秒内未找到增量；若有，须每年大于 40.00 吨标准煤）"
    )
