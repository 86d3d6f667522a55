"""The command line end to end: the sample city, bad input, infeasibility, determinism."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from allocator.cli import app
from allocator.sample import generate
from allocator.writers.files import read_table, relabelled
from tests.conftest import project, write_case
from tests.test_report import check_what_binds
from tests.test_words import scan_folder

pytestmark = pytest.mark.solver

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TIMING = ("land_scan_time_s", "build_time_s", "solve_time_s", "total_time_s")


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_sample_end_to_end_time_limited(sample_scenario, tmp_path):
    """A run stopped by its time limit writes its best allocation, flagged as not proven."""
    path = sample_scenario(tmp_path, solver={"time_limit_s": 2})
    out = tmp_path / "out"
    result = run("solve", path, "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "feasible"
    assert summary["gap"] > summary["gap_limit"]
    assert summary["evaluator"]["ok"] is True
    assert summary["objective_wan_cny"] == pytest.approx(summary["evaluator"]["objective_wan_cny"])
    assert summary["input_sha256"].keys() == {"projects", "firms", "supplies", "parks", "scenario"}
    alloc = read_table(out / "allocations.csv")
    assert len(alloc) == 1000
    assert list(alloc.columns[:12]) == [
        "project_id",
        "name",
        "district",
        "district_label",
        "sector",
        "sector_label",
        "kind",
        "kind_label",
        "status",
        "status_label",
        "start_year",
        "value_wan_cny",
    ]
    for col in ("land_quota_mu", "energy_tce", "coal_t", "bond_wan_cny", "reason"):
        assert col in alloc.columns
    approved = alloc[alloc["status"] == "approved"]
    assert set(approved["reason"]) <= {"APPROVED", "LOCKED_IN"}
    assert alloc.set_index("project_id").at["P-0001", "reason"] == "LOCKED_IN"
    assert alloc.set_index("project_id").at["P-0003", "reason"] == "LOCKED_OUT"
    assert (
        alloc.loc[alloc["status"] == "ineligible", "reason"].str.startswith("INELIGIBLE_")
        | (alloc.loc[alloc["status"] == "ineligible", "reason"] == "NOT_OFFERED")
    ).all()
    assert approved["start_year"].between(2027, 2029).all()
    res = read_table(out / "resources.csv")
    assert (res["used"] <= res["supply"] + res["purchased"] + res["carried_in"] + 1e-6).all()
    assert (out / "eligibility.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    # Every supply row has its LP marginal values; every project a reason in words.
    assert res[["dual_fixed_int_wan_cny_per_unit", "dual_lp_wan_cny_per_unit"]].notna().all().all()
    assert (res["dual_lp_wan_cny_per_unit"] >= 0).all()
    assert alloc["explanation"].str.len().gt(5).all()
    outcompeted = alloc[alloc["reason"] == "OUTCOMPETED"]
    assert outcompeted["explanation"].str.startswith("落选：价值").all()
    notes = json.loads((out / "explanations.json").read_text(encoding="utf-8"))
    assert [n["project_id"] for n in notes] == list(alloc["project_id"])
    recompute_explanations(notes, alloc, res)
    # every file in Chinese: headers, labels of every code, sentences (tests/test_words.py)
    assert scan_folder(out, "zh") == 9
    check_what_binds(relabelled(res, "en"))  # the report's "what binds", in figures
    # validate runs the same checks and land scan as solve: the same counts
    checked = run("validate", path)
    assert checked.exit_code == 0, checked.output
    ineligible = summary["projects"]["ineligible"]
    said = "".join(checked.output.split())  # in Chinese (the default), however wrapped
    assert f"{1000 - ineligible}个符合条件，{ineligible}个不符合条件" in said


@pytest.mark.slow
def recompute_explanations(notes: list[dict], alloc: pd.DataFrame, res: pd.DataFrame) -> None:
    """Every figure of every explanation from allocations.csv and resources.csv: each draw is
    a row of resources.csv at its marginal value, an approved project's amount its use in
    allocations.csv (none of the land quota on a reuse site), the costs add up, and the
    reason follows from value against cost."""
    price = res.set_index(["resource", "year", "scope"])["dual_lp_wan_cny_per_unit"]
    units = dict(zip(res["resource"], res["unit"], strict=False))
    rows = alloc.set_index("project_id")
    checked = 0
    for note in notes:
        if "draws" not in note:
            continue
        row = rows.loc[note["project_id"]]
        for x in note["draws"]:
            assert x["price"] == pytest.approx(
                price[(x["resource"], x["year"], x["scope"])], abs=1e-6
            )
            assert x["cost"] == pytest.approx(x["amount"] * x["price"], abs=1e-4)
            if note["status"] == "approved":
                assert x["amount"] == pytest.approx(row[f"{x['resource']}_{units[x['resource']]}"])
                assert not (row["land_source"] == "reuse" and x["resource"] == "land_quota")
        cost = sum(x["cost"] for x in note["draws"])
        assert note["opportunity_cost_wan_cny"] == pytest.approx(cost, abs=1e-3)
        if note["reason"] in ("OUTCOMPETED", "LEFT_OUT_BY_FIT"):
            below = note["value_wan_cny"] < note["opportunity_cost_wan_cny"]
            assert (note["reason"] == "OUTCOMPETED") == below, note["project_id"]
        checked += 1
    assert checked > 500


def test_infeasible_example_gets_the_smallest_relaxation(sample_scenario, tmp_path):
    example = yaml.safe_load((ROOT / "scenarios" / "infeasible_example.yaml").read_text())
    path = sample_scenario(tmp_path, locked_in=example["locked_in"])
    out = tmp_path / "out"
    result = run("solve", path, "--out", out)
    assert result.exit_code == 3, result.output
    diag = json.loads((out / "diagnosis.json").read_text())
    (row,) = diag["relaxed_rows"]
    assert row["row"] == "bond[year=2027,scope=city]"
    assert row["shortfall"] == pytest.approx(73543 + 42004 + 31881 + 27689 - 154800)
    assert row["locked_in_projects"] == sorted(example["locked_in"])
    assert "专项债券 2027 全市统筹：缺口 20,317.00 万元" in diag["text"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 200-project city with the baseline's rules minus the locks and counts."""
    folder = tmp_path_factory.mktemp("small")
    data = generate(folder / "data", n_projects=200)
    doc = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text())
    doc.update(name="small", locked_in={}, locked_out=[], count_rules=[])
    doc["data"] = yaml.safe_load(yaml.safe_dump(doc["data"]).replace("../data/sample", str(data)))
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.slow
def test_same_inputs_give_byte_identical_results(small, tmp_path):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        result = run("solve", small, "--out", out)
        assert result.exit_code == 0, result.output
    first, second = (json.loads((o / "summary.json").read_text()) for o in outs)
    assert first["status"] == "optimal" and first["gap"] <= 1e-4
    names = sorted(f.name for f in outs[0].iterdir())
    assert names == sorted(f.name for f in outs[1].iterdir())
    assert {"allocations.csv", "explanations.json", "reuse_list.gpkg", "basemap.gpkg"} <= set(names)
    for name in set(names) - {"summary.json"}:  # every file but the timings, GeoPackages too
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    for key in TIMING:
        first.pop(key), second.pop(key)
    assert first == second


@pytest.mark.slow
def test_other_backend_same_optimum(small, tmp_path):
    base = run("solve", small, "--out", tmp_path / "h")
    other = run("solve", small, "--out", tmp_path / "s", "--backend", "ortools_scip")
    assert base.exit_code == other.exit_code == 0
    a, b = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("h", "s"))
    assert b["backend"] == "ortools_scip"
    assert b["objective_wan_cny"] == pytest.approx(a["objective_wan_cny"], rel=2e-4)


@pytest.mark.slow
def test_rerun_replaces_the_folder_whole(small, tmp_path):
    out = tmp_path / "out"
    assert run("solve", small, "--out", out).exit_code == 0
    (out / "stale.txt").write_text("old")  # in its own result folder: replaced whole
    assert run("solve", small, "--out", out).exit_code == 0
    assert not (out / "stale.txt").exists()
    assert not list(tmp_path.glob(".out.*"))  # no temporary folder left behind


BAD = [
    (
        "negative demand",
        {"energy_tce_per_year": -5},
        "field `energy_tce_per_year` = '-5' must be ≥ 0",
        "字段 `energy_tce_per_year` = '-5' 须 ≥ 0",
    ),
    ("unknown district", {"district": "beijing"}, "field `district` = 'beijing' must be one of",
     "字段 `district` = 'beijing' 须为以下之一：薛城区 (xuecheng), 市中区 (shizhong)"),
    ("empty number", {"jobs": ""}, "field `jobs` = '' must not be empty",
     "字段 `jobs` = '' 不能为空"),
    ("infinity", {"land_mu": "inf"}, "field `land_mu` = 'inf' must be a finite number",
     "字段 `land_mu` = 'inf' 须为有限数值"),
    ("cycle", {"requires": "P-1"}, "forms a cycle: P-1 -> P-1",
     "依赖关系形成循环：P-1 -> P-1"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "change", "message", "zh"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_and_writes_nothing(case_file, tmp_path, what, change, message, zh):
    """Every problem named in Chinese by default, in English with --lang en."""
    path = case_file(
        [project(**change), project(project_id="P-2")],
        [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 5000)],
    )
    out = tmp_path / "out"
    result = run("solve", path, "--out", out, "--lang", "en")
    assert result.exit_code == 2
    assert "projects.csv row 2 (P-1):" in result.output or what == "cycle"
    assert message in result.output.replace("\n", " ") or message in result.output
    assert not out.exists()
    said = run("validate", path)
    assert said.exit_code == 2 and "输入有误：共" in said.output
    assert "projects.csv 第 2 行（P-1）：" in said.output or what == "cycle"
    assert zh in said.output.replace("\n", "")


def test_all_problems_at_once(case_file, tmp_path):
    rows = [project(land_mu=-1), project(project_id="P-2", district="mars", readiness=2)]
    path = case_file(rows, [("land_quota", 2027, "xuecheng", 100), ("energy", 2035, "city", 5)])
    result = run("validate", path, "--lang", "en")
    assert result.exit_code == 2
    assert "invalid input: 4 problem(s)" in result.output
    for text in ("`land_mu`", "`district` = 'mars'", "`readiness` = '2.0'", "`year` = '2035'"):
        assert text in result.output


def test_infeasible_locked_in_projects_exit_3_with_diagnosis(case_file, tmp_path):
    rows = [
        project(project_id="P-1", land_mu=60),
        project(project_id="P-2", land_mu=60),
        project(project_id="P-3", land_mu=10),
    ]
    supplies = [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 1e6)]
    path = case_file(
        rows,
        supplies,
        {"locked_in": {"P-1": 2027, "P-2": 2027}, "horizon": {"start": 2027, "end": 2027}},
    )
    out = tmp_path / "out"
    result = run("solve", path, "--out", out)
    assert result.exit_code == 3, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "infeasible"
    diag = summary["diagnosis"]
    assert diag["locked_in"] == ["P-1", "P-2"]
    (row,) = diag["relaxed_rows"]
    assert row["row"] == "land_quota[year=2027,scope=xuecheng]"
    assert row["shortfall"] == pytest.approx(20)
    assert row["unit"] == "mu"
    assert "新增建设用地指标 2027 薛城区：缺口 20.00 亩" in diag["text"]
    assert json.loads((out / "diagnosis.json").read_text()) == diag
    assert not (out / "allocations.csv").exists()


def test_locked_in_ineligible_project_is_bad_input(case_file, tmp_path):
    path = case_file(
        [project(annual_tax_wan_cny=1)],
        [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 5000)],
        {"locked_in": {"P-1": None}},
    )
    result = run("solve", path, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "locked in but INELIGIBLE_BELOW_TAX_FLOOR" in result.output


def test_a_result_the_evaluator_rejects_is_not_written(case_file, tmp_path, monkeypatch):
    """A backend that returns a broken allocation: exit 1, nothing on disk."""
    import numpy as np

    import allocator.engine
    from allocator.backends.base import Status, finish

    class Broken:
        def __init__(self, name):
            self.name = name

        def solve(self, lp, settings):  # approves everything, whatever the rows say
            return finish(lp, self.name, "broken", 0.0, Status.OPTIMAL, np.asarray(lp.col_hi), None)

    monkeypatch.setattr(allocator.engine, "get_backend", Broken)
    rows = [project(project_id="P-1"), project(project_id="P-2")]
    path = case_file(rows, [("land_quota", 2027, "xuecheng", 60), ("energy", 2027, "city", 5000)])
    out = tmp_path / "out"
    result = run("solve", path, "--out", out)
    assert result.exit_code == 1
    assert "校验器否决了求解器给出的方案" in result.output  # zh, the default
    assert "land_quota[year=2027,scope=xuecheng]: used 100" in result.output
    assert not out.exists()


def test_a_bug_is_not_reported_as_bad_input(case_file, tmp_path, monkeypatch):
    """An error of ours exits 1 with an error id whose traceback is in the log, never as
    "invalid input" (exit 2)."""
    import allocator.cli
    import allocator.engine

    def broken(prep):
        raise KeyError("a column our code expected")

    monkeypatch.setattr(allocator.engine, "build_model", broken)
    monkeypatch.setattr(allocator.cli, "LOG", tmp_path / "errors.log")
    path = case_file(
        [project()], [("land_quota", 2027, "xuecheng", 60), ("energy", 2027, "city", 5000)]
    )
    result = run("solve", path, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "输入有误" not in result.output
    error_id = re.search(r"内部错误 (E-[0-9a-f]+)（KeyError）", result.output).group(1)  # type: ignore[union-attr]
    assert error_id.startswith("E-")
    log = (tmp_path / "errors.log").read_text(encoding="utf-8")
    assert error_id in log and "KeyError: 'a column our code expected'" in log
    assert not (tmp_path / "out").exists()


def test_an_unknown_backend_is_refused_before_anything_runs(case_file, tmp_path):
    path = case_file([project()], [("land_quota", 2027, "xuecheng", 60), ("energy", 2027, "city", 5000)])  # fmt: skip
    for command in (["solve", path], ["explain", path, "P-1"], ["frontier", path, "--resource", "energy"]):  # fmt: skip
        result = runner.invoke(app, [*map(str, command), "--backend", "gurobi"])
        assert result.exit_code == 2
        assert "'gurobi'" in result.output and "highs" in result.output


def _strict(text: str) -> object:
    """JSON as a strict reader takes it: NaN and Infinity refused."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_outputs_are_strict_json_integers_and_ordinary_modes(case_file, tmp_path):
    """Folders 0755, files 0644 (not the temporary file's 0700/0600); JSON without NaN or
    Infinity, even for a project that fits nowhere; years and counts written as integers."""
    rows = [project(project_id="P-1", energy_tce_per_year=6000),  # needs more than there is
            project(project_id="P-2"), project(project_id="P-3", earliest_year=2030, latest_year=2031)]  # fmt: skip
    path = case_file(rows, [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 5000)],
                     {"horizon": {"start": 2027, "end": 2027}})  # fmt: skip
    out = tmp_path / "out"
    assert run("solve", path, "--out", out).exit_code == 0
    assert run("report", out).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o755
    for file in out.iterdir():
        assert file.stat().st_mode & 0o777 == 0o644, file.name
        if file.suffix == ".json":
            _strict(file.read_text(encoding="utf-8"))
    alloc = read_table(out / "allocations.csv").set_index("project_id")
    assert alloc.at["P-3", "reason_detail"] == "申报年份 2030–2031 不在规划期 2027–2027 内"
    explained = tmp_path / "p1.json"
    assert run("explain", path, "P-1", "--out", explained).exit_code == 0
    assert _strict(explained.read_text(encoding="utf-8"))["status"] == "rejected"  # type: ignore[index]
    locked = write_case(tmp_path / "locked", [project(project_id="P-1", energy_tce_per_year=4800)],
                        [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 5000)],
                        {"horizon": {"start": 2027, "end": 2027}, "locked_in": {"P-1": None}})  # fmt: skip
    frontier = tmp_path / "f.csv"  # at half the energy the lock cannot hold: no count there
    assert run("frontier", locked, "--resource", "energy", "--steps", "2", "--low", "0.5",
               "--high", "1", "--out", frontier).exit_code == 0  # fmt: skip
    table = read_table(frontier, str, keep_default_na=False)
    assert list(table["status"]) == ["infeasible", "optimal"]
    assert list(table["approved"]) == ["", "1"]  # a count, not 1.0
