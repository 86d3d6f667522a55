"""allocator compare: the diff of two results equals the one worked out by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from allocator.cli import app
from allocator.writers.files import read_table
from tests.conftest import project, write_case
from tests.test_words import scan_folder

pytestmark = pytest.mark.solver

ENERGY = {"energy": {"unit": "tce", "kind": "recurring", "demand_column": "energy_tce_per_year"}}


def test_compare_two_scenarios(tmp_path, monkeypatch):
    """A: 100 tce, B + C (45 + 45) in, D (20) out. B: 150 tce but C locked out, so B + D.
    By hand: C out, D in; value 90 → 65; energy supply +50, used unchanged at 100."""
    rows = [project(project_id=p, energy_tce_per_year=50, score_wan_cny=v)
            for p, v in (("B", 45), ("C", 45), ("D", 20))]  # fmt: skip
    common = {"resources": ENERGY, "horizon": {"start": 2027, "end": 2027},
              "objective": {"value_column": "score_wan_cny"}}  # fmt: skip
    a = write_case(tmp_path / "a", rows, [("energy", 2027, "city", 100)], {**common, "name": "a"})
    b = write_case(tmp_path / "b", rows, [("energy", 2027, "city", 150)],
                   {**common, "name": "b", "locked_out": ["C"]})  # fmt: skip
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["compare", str(a), str(b)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "价值 90 → 65 万元，-25" in result.output  # in the language of A (zh)
    folder = tmp_path / "out" / "compare_a_b"
    diff = json.loads((folder / "compare.json").read_text())
    assert diff["value"] == {"a_wan_cny": 90.0, "b_wan_cny": 65.0, "delta_wan_cny": -25.0,
                             "delta_share": pytest.approx(-25 / 90)}  # fmt: skip
    assert [(p["project_id"], p["change"]) for p in diff["projects"]] == [("C", "out"), ("D", "in")]
    assert diff["counts"] == {"in": 1, "out": 1, "moved_year": 0, "moved_site": 0,
                              "moved_year_and_site": 0}  # fmt: skip
    (energy,) = diff["resources"]
    assert (energy["supply_delta"], energy["used_a"], energy["used_b"]) == (50, 100, 100)
    table = read_table(folder / "projects.csv")
    assert list(table["project_id"]) == ["C", "D"]
    assert scan_folder(folder, "zh") == 2  # headers and labels in Chinese
    assert list(pd.read_csv(folder / "projects.csv", encoding="utf-8-sig").columns[:5]) == [
        "项目编号", "变化代码", "变化", "结果代码（方案A）", "保障结果（方案A）"]  # fmt: skip
    # The two result folders compare the same way, now without solving.
    again = CliRunner().invoke(app, ["compare", "out/a", "out/b", "--out", "again"])
    assert again.exit_code == 0
    assert (
        json.loads((tmp_path / "again" / "compare.json").read_text())["projects"]
        == diff["projects"]
    )


def test_compare_a_folder_without_results_names_it(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "empty"), str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "empty" in result.output and "missing summary.json" in result.output
