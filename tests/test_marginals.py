"""Marginal values of supply rows, three kinds, on cities small enough to work out by hand."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from allocator.cli import app
from allocator.explain.result import resources_table, result_of
from allocator.explain.whatif import what_it_would_take
from allocator.writers.files import read_table
from allocator.writers.folder import write_result
from tests.conftest import RESOURCES, project, solved, tiny

pytestmark = pytest.mark.solver


@pytest.fixture
def case():
    """Tiny cities whose words are English, so that the sentences below read as written."""

    def make(rows, supplies, scenario=None, **kw):
        return tiny(rows, supplies, {"lang": "en", **(scenario or {})}, **kw)

    return make


ONE_YEAR = {"start": 2027, "end": 2027}


def energy(price: float | None = None, cap: float = 0.0) -> dict:
    res = {"unit": "tce", "kind": "recurring", "demand_column": "energy_tce_per_year"}
    if price is not None:
        res["purchase"] = {"price_wan_cny_per_unit": price, "cap_per_year": cap}
    return {"energy": res}


def scored(pid: str, tce: float, score: float, **kw: object) -> dict:
    return project(project_id=pid, energy_tce_per_year=tce, score_wan_cny=score, **kw)


def table(case, rows, supplies, scenario) -> dict:
    base = {"objective": {"value_column": "score_wan_cny"}, "explain": {"mip_marginals": True}}
    run = solved(case(rows, supplies, {**base, **scenario}))
    out = resources_table(run)
    return {(r.resource, r.year, r.scope): r for r in out.itertuples()}


def test_full_row_with_projects_fixed_has_dual_zero_but_a_positive_mip_value(case):
    """100 tce: B + C (90) fill it exactly; A (101 tce, 100) misses by one. With every project
    fixed nothing can move, so the dual is 0; the LP relaxation takes 100/101 of A and
    prices energy at A's 100/101 per tce; one more tce (Δ = 1%) lets A in: (100 − 90) / 1."""
    rows = [scored("A", 101, 100), scored("B", 50, 45), scored("C", 50, 45)]
    out = table(case, rows, [("energy", 2027, "city", 100)],
                {"resources": energy(), "horizon": ONE_YEAR})  # fmt: skip
    r = out[("energy", 2027, "city")]
    assert r.used == 100 and r.slack == 0
    assert r.dual_fixed_int_wan_cny_per_unit == 0
    assert r.dual_lp_wan_cny_per_unit == pytest.approx(100 / 101, abs=1e-4)
    assert r.marginal_step == 1.0
    assert r.mip_marginal_wan_cny_per_unit == pytest.approx(10.0)
    assert r.mip_marginal_lo <= 10.0 <= r.mip_marginal_hi
    assert "degenerate" in r.marginal_note and "which projects start" in r.marginal_note


def test_a_purchase_inside_its_cap_prices_supply_at_the_price(case):
    """90 tce and both 50-tce projects (0.9 万元 per tce): the MIP buys 10 tce at 2 万元
    (cap 20) to start both; one more tce of supply saves 2 万元 of purchase, with the
    projects fixed or by re-solving. The LP relaxation never buys at 2 what is worth 0.9:
    it fills the 90 tce with fractions of projects, 0.9 per tce."""
    rows = [scored("B", 50, 45), scored("C", 50, 45)]
    out = table(case, rows, [("energy", 2027, "city", 90, 2.0, 20)],
                {"resources": energy(2.0, 20), "horizon": ONE_YEAR})  # fmt: skip
    r = out[("energy", 2027, "city")]
    assert r.purchased == 10
    assert r.dual_fixed_int_wan_cny_per_unit == pytest.approx(2.0)
    assert r.dual_lp_wan_cny_per_unit == pytest.approx(0.9)
    assert r.mip_marginal_wan_cny_per_unit == pytest.approx(2.0)
    assert r.marginal_step == pytest.approx(0.9)


def test_a_slack_row_is_worth_nothing_and_says_so(case):
    rows = [scored("B", 50, 45)]
    out = table(case, rows, [("energy", 2027, "city", 100)],
                {"resources": energy(), "horizon": ONE_YEAR})  # fmt: skip
    r = out[("energy", 2027, "city")]
    assert (r.dual_fixed_int_wan_cny_per_unit, r.dual_lp_wan_cny_per_unit) == (0, 0)
    assert r.mip_marginal_wan_cny_per_unit == 0
    assert "not binding: 50.00 left" in r.marginal_note


def test_carried_quota_of_an_early_year_counts_in_every_later_row(case):
    """Land carried over: 50 mu in 2027, none in 2028; P needs 60 mu (value 120). The LP takes
    5/6 of P, 2 万元 per mu; one mu of 2027 quota is also one mu in 2028's cumulative row, so
    both years' supply is worth 2 per mu in the relaxation."""
    rows = [project(project_id="P", land_mu=60, energy_tce_per_year=0, score_wan_cny=120,
                    earliest_year=2027, latest_year=2028)]  # fmt: skip
    supplies = [("land_quota", 2027, "xuecheng", 50), ("land_quota", 2028, "xuecheng", 0)]
    out = table(case, rows, supplies, {"resources": {"land_quota": RESOURCES["land_quota"]},
                                       "horizon": {"start": 2027, "end": 2028}})  # fmt: skip
    early, late = out[("land_quota", 2027, "xuecheng")], out[("land_quota", 2028, "xuecheng")]
    assert early.dual_lp_wan_cny_per_unit == pytest.approx(2.0)
    assert late.dual_lp_wan_cny_per_unit == pytest.approx(2.0)
    assert late.marginal_step == 1.0  # no supply: one unit
    assert early.mip_marginal_wan_cny_per_unit == 0  # 50.5 < 60
    other = out[("land_quota", 2027, "shizhong")]
    assert other.dual_lp_wan_cny_per_unit == 0 and "no supply" in other.marginal_note


def test_mip_marginals_are_off_unless_asked(case):
    rows = [scored("B", 50, 45)]
    path = case(rows, [("energy", 2027, "city", 100)],
                {"resources": energy(), "horizon": ONE_YEAR,
                 "objective": {"value_column": "score_wan_cny"}})  # fmt: skip
    out = resources_table(solved(path))
    assert out["mip_marginal_wan_cny_per_unit"].isna().all()
    assert "not computed" in out.loc[0, "marginal_note"]


def test_reasons_weigh_value_against_the_opportunity_cost(case, tmp_path):
    """B and C (45 for 50 tce each) fill 100 tce; D (20 for 50 tce) is out: at the LP price of
    energy, 0.9 万元/tce, its 50 tce cost 45 > 20. E needs D."""
    rows = [scored("B", 50, 45), scored("C", 50, 45), scored("D", 50, 20),
            scored("E", 0, 5, requires="D")]  # fmt: skip
    path = case(rows, [("energy", 2027, "city", 100)],
                {"resources": energy(), "horizon": ONE_YEAR,
                 "objective": {"value_column": "score_wan_cny"}})  # fmt: skip
    write_result(result_of(solved(path)), tmp_path / "out")
    notes = {
        n["project_id"]: n for n in json.loads((tmp_path / "out" / "explanations.json").read_text())
    }
    d = notes["D"]
    assert d["reason"] == "OUTCOMPETED" and d["binding"] == ["energy"]
    assert d["value_wan_cny"] == 20 and d["opportunity_cost_wan_cny"] == pytest.approx(45)
    assert "below the opportunity cost" in d["text"] and "energy quota 2027 city" in d["text"]
    assert "0.9 万元/tce" in d["text"]
    assert (
        notes["B"]["status"] == "approved"
        and "0.9 万元 per tce of energy quota" in notes["B"]["text"]
    )
    assert notes["E"]["reason"] == "REQUIRES_UNMET" and "requires D" in notes["E"]["text"]
    table = read_table(tmp_path / "out" / "allocations.csv").set_index("project_id")
    assert table.at["D", "opportunity_cost_wan_cny"] == pytest.approx(45)
    assert table.at["D", "explanation"] == d["text"]


def test_explain_gives_the_exact_price_of_a_rejected_project(case):
    """101 tce: B + C (45 + 45 for 50 tce each) beat A (80 for 101 tce). Forcing A in
    leaves A alone: the loss is 90 − 80 = 10, so a value 10 higher brings it in. With more
    energy A + B (151 tce, 125) would do: the least extra supply is 50 tce."""
    rows = [scored("A", 101, 80), scored("B", 50, 45), scored("C", 50, 45)]
    path = case(rows, [("energy", 2027, "city", 101)],
                {"resources": energy(), "horizon": ONE_YEAR,
                 "objective": {"value_column": "score_wan_cny"}})  # fmt: skip
    found = what_it_would_take(path, "A")
    assert found["status"] == "rejected"
    assert found["loss_wan_cny"] == pytest.approx(10)
    assert found["smallest_value_increase_wan_cny"] == pytest.approx(10)
    assert found["displaced"] == ["B", "C"]
    (inc,) = found["supply_increases"]
    assert (inc["resource"], inc["needs"], inc["room_left"]) == ("energy", 101, 1)
    assert inc["smallest_increase"] == pytest.approx(50)
    assert "energy quota city +50.00 tce in 2027" in found["text"]
    approved = what_it_would_take(path, "B")
    assert approved["loss_without_wan_cny"] == pytest.approx(10)  # C alone 45, or A 80
    assert approved["would_enter"] == ["A"] and approved["would_leave"] == ["C"]


def test_explain_a_project_that_does_not_fit_at_all(case, case_file):
    """100 tce: A needs 101. Only more supply helps: A + B at 151 tce is worth 125 ≥ 90."""
    rows = [scored("A", 101, 80), scored("B", 50, 45), scored("C", 50, 45)]
    path = case(rows, [("energy", 2027, "city", 100)],
                {"resources": energy(), "horizon": ONE_YEAR,
                 "objective": {"value_column": "score_wan_cny"}})  # fmt: skip
    found = what_it_would_take(path, "A")
    assert found["loss_wan_cny"] is None and "does not fit at all" in found["text"]
    (inc,) = found["supply_increases"]
    assert inc["smallest_increase"] == pytest.approx(51)
    path = case_file(rows, [("energy", 2027, "city", 100)],
                     {"resources": energy(), "horizon": ONE_YEAR,
                      "objective": {"value_column": "score_wan_cny"}})  # fmt: skip
    result = CliRunner().invoke(app, ["explain", str(path), "P-404"])
    assert result.exit_code == 2 and "P-404" in result.output
    out = path.parent / "explain.json"
    result = CliRunner().invoke(app, ["explain", str(path), "A", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["supply_increases"][0]["smallest_increase"] == 51


def test_mip_marginals_in_parallel_equal_the_serial_ones(case):
    """With two solver threads the re-solves run one per core, single-threaded. Two years,
    projects starting in 2027 only: 2027 is the tight year (one more tce lets A in, +10),
    2028 has 100 tce to spare (0)."""
    rows = [scored(p, tce, v, earliest_year=2027, latest_year=2027)
            for p, tce, v in (("A", 101, 100), ("B", 50, 45), ("C", 50, 45))]  # fmt: skip
    supplies = [("energy", 2027, "city", 100), ("energy", 2028, "city", 200)]
    setup = {"resources": energy(), "horizon": {"start": 2027, "end": 2028}}
    for threads in (1, 2):
        out = table(
            case, rows, supplies, {**setup, "solver": {"threads": threads, "gap_rel": 1e-9}}
        )
        assert out[("energy", 2027, "city")].mip_marginal_wan_cny_per_unit == 10
        assert out[("energy", 2028, "city")].mip_marginal_wan_cny_per_unit == 0


def test_a_project_worth_its_cost_but_not_fitting_is_left_out_by_the_fit(case, tmp_path):
    """100 tce: B + C (50 + 50 for 50 tce each) beat A (65 for 60 tce), which leaves 40 tce
    no project can use. The LP relaxation takes all of A and 40 tce of B or C: energy is worth
    1.0 万元/tce, so A's 60 tce cost 60 < 65: A is not outcompeted on price, it does not fit."""
    rows = [scored("A", 60, 65), scored("B", 50, 50), scored("C", 50, 50)]
    inputs = case(rows, [("energy", 2027, "city", 100)],
                  {"resources": energy(), "horizon": ONE_YEAR,
                   "objective": {"value_column": "score_wan_cny"}})  # fmt: skip
    write_result(result_of(solved(inputs)), tmp_path / "out")
    notes = {n["project_id"]: n for n in json.loads((tmp_path / "out" / "explanations.json").read_text())}  # fmt: skip
    a = notes["A"]
    assert a["reason"] == "LEFT_OUT_BY_FIT"
    assert a["value_wan_cny"] == 65 and a["opportunity_cost_wan_cny"] == pytest.approx(60)
    assert "left out by the integer fit" in a["text"] and "energy quota 2027 city" in a["text"]
    assert "energy quota 2027 city: 60 tce × 1 万元/tce = 60 万元" in a["text"]


def test_recurring_draws_show_their_years_and_add_up(case, tmp_path):
    """Energy is recurring: a project starting in 2027 draws its 50 tce in 2027 and 2028.
    With 10 tce a year and purchases at 0.3 万元/tce, each year is priced 0.3: D (20 for
    50 tce a year) costs 50 × 2 × 0.3 = 30; the text shows both years, and every draw is a
    row of resources.csv at its marginal value."""
    rows = [scored("B", 50, 45, earliest_year=2027, latest_year=2027),
            scored("D", 50, 20, earliest_year=2027, latest_year=2027)]  # fmt: skip
    inputs = case(rows, [("energy", 2027, "city", 10), ("energy", 2028, "city", 10)],
                  {"resources": energy(price=0.3, cap=1000), "horizon": {"start": 2027, "end": 2028},
                   "objective": {"value_column": "score_wan_cny"}})  # fmt: skip
    write_result(result_of(solved(inputs)), tmp_path / "out")
    notes = {n["project_id"]: n for n in json.loads((tmp_path / "out" / "explanations.json").read_text())}  # fmt: skip
    res = read_table(tmp_path / "out" / "resources.csv")
    price = res.set_index(["resource", "year", "scope"])["dual_lp_wan_cny_per_unit"]
    alloc = read_table(tmp_path / "out" / "allocations.csv").set_index("project_id")  # fmt: skip
    d, b = notes["D"], notes["B"]
    assert d["reason"] == "OUTCOMPETED"
    assert [(x["year"], x["amount"]) for x in d["draws"]] == [(2027, 50), (2028, 50)]
    for x in d["draws"] + b["draws"]:
        assert x["price"] == pytest.approx(price[(x["resource"], x["year"], x["scope"])])
        assert x["cost"] == pytest.approx(x["amount"] * x["price"])
    assert all(x["amount"] == alloc.at["B", "energy_tce"] for x in b["draws"])  # a year's use
    assert d["opportunity_cost_wan_cny"] == pytest.approx(30)
    assert "energy quota 2027–2028 city: 50 tce/yr × 2 yr × 0.3 万元/tce = 30 万元" in d["text"]
    assert "0.45 万元 per tce of energy quota (100 tce drawn)" in b["text"]


def test_explain_names_the_projects_a_project_requires_and_excludes(case):
    """E needs D; C excludes B: explain says so for each, and whether that one is in."""
    rows = [scored("B", 50, 45), scored("C", 50, 45, excludes="B"), scored("D", 50, 20),
            scored("E", 0, 5, requires="D")]  # fmt: skip
    inputs = case(rows, [("energy", 2027, "city", 100)],
                  {"resources": energy(), "horizon": ONE_YEAR,
                   "objective": {"value_column": "score_wan_cny"}})  # fmt: skip
    approved = set(solved(inputs).starts.index)

    def said(q: str) -> str:
        return "approved" if q in approved else "rejected"

    e = what_it_would_take(inputs, "E")
    assert e["requires"] == ["D"] and e["text"].startswith(f"E requires D ({said('D')}); ")
    b = what_it_would_take(inputs, "B")
    assert b["excluded_by"] == ["C"] and f"B is excluded by C ({said('C')}); " in b["text"]
    c = what_it_would_take(inputs, "C")
    assert c["excludes"] == ["B"] and f"C excludes B ({said('B')}); " in c["text"]
