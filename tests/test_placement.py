"""Placing projects on reuse sites or on new land quota, solved and checked."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from allocator.cli import app
from allocator.evaluate import Allocation, evaluate
from allocator.formulation import land as land_rows
from allocator.writers.files import read_table
from tests.conftest import project, solved
from tests.landkit import cell, land_scenario, parcel, write_city

pytestmark = pytest.mark.solver

IDLE = {"status": "not_started", "transfer_date": "2020-01-01", "agreed_start_date": "2022-01-01",
        "developed_area_share": 0.0}  # fmt: skip
ONE_YEAR = {"horizon": {"start": 2027, "end": 2027}}


def site_city(tmp_path, n: int = 2):
    """n touching idle parcels in PK-A: one free site of 10·n mu, available in 2027."""
    write_city(tmp_path, [parcel(f"I{i}", cell(i), **IDLE) for i in range(n)])


def proj(pid: str, land: float, **changes):
    base = {"land_mu": land, "investment_wan_cny": 400 * land, "park": "PK-A",
            "annual_output_wan_cny": 500 * land, "annual_tax_wan_cny": 25 * land,
            "annual_value_added_wan_cny": 100 * land, "energy_tce_per_year": 10}  # fmt: skip
    return project(project_id=pid, **{**base, **changes})


def supplies(quota: float):
    return [("land_quota", 2027, "xuecheng", quota), ("energy", 2027, "city", 1e6)]


def test_reuse_is_chosen_when_quota_is_short(tmp_path):
    site_city(tmp_path)
    path = land_scenario(tmp_path, [proj("P-1", 15)], supplies(0), **ONE_YEAR)
    run = solved(path)
    assert run.evaluation.ok, run.evaluation.violations
    assert run.starts.to_dict() == {"P-1": 2027}
    assert run.placed.to_dict() == {"P-1": "S-00001"}


def test_quota_is_used_where_no_site_fits(tmp_path):
    site_city(tmp_path)
    rows = [proj("BIG", 25), proj("IT", 15, sector="food", plot_ratio=1.1)]  # too big; not led
    run = solved(land_scenario(tmp_path, rows, supplies(40), **ONE_YEAR))
    assert sorted(run.starts.index) == ["BIG", "IT"]
    assert run.placed.empty
    used = run.evaluation.resources.set_index(["resource", "scope"])["used"]
    assert used[("land_quota", "xuecheng")] == 40


def test_projects_share_a_site_up_to_its_area(tmp_path):
    site_city(tmp_path, n=3)  # 30 mu; disposing of it earns 15 mu of quota (linkage 0.5)
    rows = [proj("A", 12), proj("B", 12), proj("C", 12, annual_value_added_wan_cny=100)]
    run = solved(land_scenario(tmp_path, rows, supplies(0), **ONE_YEAR))
    assert sorted(run.starts.index) == ["A", "B", "C"]
    assert len(run.placed) == 2 and run.placed.nunique() == 1  # two on the site, one on quota


def test_new_land_columns_binary_or_continuous_give_the_same_allocation(tmp_path, monkeypatch):
    """Above NEW_LAND_BINARY_MAX columns N is continuous: the least N is integral anyway,
    so the allocation and its value are those of the binary declaration."""
    site_city(tmp_path, n=3)
    rows = [proj("A", 12), proj("B", 12), proj("C", 12, annual_value_added_wan_cny=100),
            proj("D", 9, latest_year=2028), proj("E", 6, latest_year=2028)]  # fmt: skip
    quota = [*supplies(10), ("land_quota", 2028, "xuecheng", 9)]
    path = land_scenario(tmp_path, rows, quota, horizon={"start": 2027, "end": 2028})
    runs = []
    for binary_max in (1000, 0):
        monkeypatch.setattr(land_rows, "NEW_LAND_BINARY_MAX", binary_max)
        run = solved(path)
        is_n = np.char.startswith(np.array(run.model.lp.col_names).astype(str), "N[")
        assert is_n.any() and (run.model.lp.integer[is_n] == (binary_max > 0)).all()
        assert run.result.status.value == "optimal" and run.evaluation.ok
        runs.append(run)
    binary, continuous = runs
    on_quota = set(binary.starts.index) - set(binary.placed.index)
    assert len(binary.placed) == 3 and on_quota == {"C", "D"}  # both sites and new land used
    assert continuous.starts.to_dict() == binary.starts.to_dict()
    assert continuous.placed.to_dict() == binary.placed.to_dict()
    assert continuous.evaluation.objective == pytest.approx(binary.evaluation.objective, rel=1e-9)


def test_a_site_not_yet_available_delays_the_start(tmp_path):
    firms = [dict(firm_id=f"F{i}", name="f", district="xuecheng", sector="new_it", above_scale=True,
                  revenue_wan_cny=5000, value_added_wan_cny=1500, tax_wan_cny=1000, energy_tce=500,
                  coal_t=None, pollutant_equivalent_t=1, rd_wan_cny=100, employees=50, land_mu=10)
             for i in range(19)]  # fmt: skip
    firms.append({**firms[0], "firm_id": "D", "tax_wan_cny": 10})
    rows = [parcel(f"Q{i}", cell(i, 2), firm_id=f"F{i}") for i in range(19)]
    rows += [parcel("LOW", cell(0), firm_id="D"), parcel("LOW2", cell(1), firm_id="D")]
    write_city(tmp_path, rows, firms)
    path = land_scenario(tmp_path, [proj("P-1", 15, latest_year=2029)], supplies(0))
    run = solved(path)
    assert run.placed.to_dict() == {"P-1": "S-00001"}
    assert run.starts["P-1"] == 2028  # the low-efficiency site is bought back by 2028
    parts = run.evaluation.parts
    assert parts["acquisition_cost_wan_cny"] == pytest.approx(400)  # 2 × 200 万元


def test_evaluator_rejects_bad_placements(tmp_path):
    site_city(tmp_path)
    rows = [proj("A", 15), proj("B", 15), proj("FOOD", 5, sector="food", plot_ratio=1.1),
            proj("EAST", 5, district="shizhong", park="PK-B", investment_wan_cny=2000)]  # fmt: skip
    run = solved(land_scenario(tmp_path, rows, supplies(100), **ONE_YEAR))
    prep = run.prep
    starts = pd.Series(2027, index=["A", "B", "FOOD", "EAST"])
    placed = pd.Series({"A": "S-00001", "B": "S-00001", "FOOD": "S-00001", "EAST": "S-00001"})
    check = evaluate(prep, Allocation(starts, run.allocation.purchased, placed))
    text = "\n".join(check.violations)
    assert "site S-00001: 40.0000 mu placed on 20.0000 mu" in text
    assert "placement FOOD on S-00001: sector not led by the park" in text
    assert "placement EAST on S-00001: another district" in text


def test_solve_writes_the_placement_and_reuse_list(tmp_path):
    site_city(tmp_path)
    path = land_scenario(tmp_path, [proj("P-1", 15)], supplies(0), **ONE_YEAR)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["solve", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    alloc = read_table(out / "allocations.csv").set_index("project_id")
    assert alloc.at["P-1", "site_id"] == "S-00001" and alloc.at["P-1", "land_source"] == "reuse"
    assert alloc.at["P-1", "land_quota_mu"] == 0
    placements = read_table(out / "placements.csv")
    assert placements[["site_id", "project_id", "land_mu"]].values.tolist() == [
        ["S-00001", "P-1", 15]
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["land"]["projects_on_sites"] == 1 and summary["land"]["reused_mu"] == 15
    assert (out / "reuse_list.gpkg").exists()


def test_land_scan_command_writes_layers_in_the_projected_crs(tmp_path):
    site_city(tmp_path)
    path = land_scenario(tmp_path, [proj("P-1", 15)], supplies(0))
    out = tmp_path / "scan"
    result = CliRunner().invoke(app, ["land", "scan", str(path), "--out", str(out), "--lang", "zh"])
    assert result.exit_code == 0, result.output
    layers = dict(pyogrio.list_layers(out / "reuse_list.gpkg"))
    assert layers == {"findings": "Polygon", "flagged_parcels": "Polygon", "sites": "Polygon",
                      "exclusions_applied": "Unknown"}  # fmt: skip
    for name in ("findings", "flagged_parcels", "sites"):
        info = pyogrio.read_info(out / "reuse_list.gpkg", layer=name)
        assert info["crs"] == "EPSG:4548" and info["features"] > 0
    raw = (out / "reuse_list.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(out / "reuse_list.csv", encoding="utf-8-sig")  # as people see it
    assert list(table.columns[:4]) == ["宗地编号", "不动产单元号", "所在区县", "区县名称"]
    assert set(table["认定规则代码"]) == {"IDLE_NOT_STARTED"}
    assert set(table["处置建议"]) == {"无偿收回"} and set(table["可无偿收回"]) == {"是"}
    assert read_table(out / "reuse_list.csv")["recoverable"].all()  # read back as true
    totals = pd.read_csv(out / "district_totals.csv", encoding="utf-8-sig")
    assert totals.iloc[-1]["区县名称"] == "合计"
    assert totals.iloc[-1]["增存挂钩新增指标(亩)"] == pytest.approx(10.0)  # 0.5 × 20 mu
    assert "IDLE_NOT_STARTED" in result.output
