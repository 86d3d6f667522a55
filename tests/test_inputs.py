"""Bad input: every problem reported at once, naming file, row, field, value and rule."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from allocator.errors import InputError
from allocator.inputs import Tables, check_inputs
from allocator.sources import read_inputs, read_scenario
from models.scenario import Scenario
from models.tables import PROJECTS, _cells_as_text, parse_table
from tests.conftest import RESOURCES, project
from tests.landkit import FIRM, cell, city_layers, parcel

SUPPLY = [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 5000)]


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        read_inputs(path)
    return [str(p) for p in info.value.problems]


def test_every_bad_cell_is_reported_with_row_field_value_and_rule(case_file):
    rows = [
        project(project_id="P-1", land_mu=-3),
        project(project_id="P-2", energy_tce_per_year="nan", district="atlantis"),
        project(project_id="P-3", annual_tax_wan_cny="", investment_wan_cny="inf"),
        project(project_id="P-4", readiness=1.5, build_years=1.5, kind="mega"),
    ]
    found = problems_of(case_file(rows, SUPPLY))
    expected = [
        "projects.csv row 2 (P-1): field `land_mu` = '-3' must be ≥ 0",
        "projects.csv row 3 (P-2): field `energy_tce_per_year` = 'nan' must be a finite number",
        "projects.csv row 3 (P-2): field `district` = 'atlantis' must be one of: 薛城区 (xuecheng)",
        "projects.csv row 4 (P-3): field `annual_tax_wan_cny` = '' must not be empty",
        "projects.csv row 4 (P-3): field `investment_wan_cny` = 'inf' must be a finite number",
        "projects.csv row 5 (P-4): field `readiness` = '1.5' must be ≤ 1",
        "projects.csv row 5 (P-4): field `build_years` = '1.5' must be a whole number",
        "projects.csv row 5 (P-4): field `kind` = 'mega' must be one of: 新建 (new), 扩建 (expansion)",
    ]
    for text in expected:
        assert any(f.startswith(text) for f in found), (text, found)
    assert len(found) == len(expected)


def test_missing_extra_and_wrong_unit_columns(case_file):
    row = project()
    row.pop("jobs")
    row["land_ha"] = row.pop("land_mu")
    row["notes"] = "x"
    found = problems_of(case_file([row], SUPPLY))
    assert "projects.csv: field `jobs` required column is missing" in found
    assert any(
        "field `land_ha`" in f and "unit `ha`" in f and "`land_mu` in `mu`" in f for f in found
    )
    assert any("field `notes`" in f and "unknown column" in f for f in found)
    assert not any("`land_mu` required column is missing" in f for f in found)  # named once


def test_money_in_yuan_is_a_wrong_unit():
    projects = pd.DataFrame([{**project(), "investment_yuan": 1}]).drop(
        columns="investment_wan_cny"
    )
    _, problems = parse_table(projects.astype(str), PROJECTS, "projects.csv")
    assert [p.field for p in problems] == ["investment_yuan"]
    assert "unit `yuan`" in problems[0].rule


def test_unknown_reference_and_requires_cycle(case_file):
    rows = [
        project(project_id="P-1", requires="P-2"),
        project(project_id="P-2", requires="P-3"),
        project(project_id="P-3", requires="P-1", excludes="P-9"),
    ]
    found = problems_of(case_file(rows, SUPPLY))
    assert any("field `excludes` = 'P-9' names no project" in f for f in found)
    cycle = [f for f in found if "forms a cycle" in f]
    assert len(cycle) == 1 and "P-1 -> P-2 -> P-3 -> P-1" in cycle[0]


def test_supply_year_outside_horizon_and_bad_scope(case_file):
    supplies = [*SUPPLY, ("energy", 2031, "city", 10), ("land_quota", 2027, "city", 5)]
    found = problems_of(case_file([project()], supplies))
    assert any(
        "row 4 (energy): field `year` = '2031' year is outside the scenario horizon" in f
        for f in found
    )
    assert any("row 5 (land_quota): field `scope` = 'city'" in f for f in found)


def test_missing_file_is_named(case_file, tmp_path):
    path = case_file([project()], SUPPLY)
    (path.parent / "supplies.csv").unlink()
    found = problems_of(path)
    assert found == [f"supplies.csv: file not found: {path.parent / 'supplies.csv'}"]


def test_scenario_errors_name_the_field(case_file):
    path = case_file([project()], SUPPLY, {"horizon": {"start": 2027, "end": 2026}, "typo": 1})
    with pytest.raises(InputError) as info:
        read_scenario(path)
    text = [str(p) for p in info.value.problems]
    assert any("field `typo`" in t and "Extra inputs are not permitted" in t for t in text)
    assert any("horizon" in t and "before horizon.start" in t for t in text)


def test_locked_project_unknown_or_outside_window(case_file):
    path = case_file(
        [project(earliest_year=2028)], SUPPLY, {"locked_in": {"P-1": 2027, "P-7": None}}
    )
    found = problems_of(path)
    assert any("`locked_in.P-1` = '2027' year is outside the project's" in f for f in found)
    assert any("`locked_in` = 'P-7' names no project" in f for f in found)


def test_extends_merges_and_keeps_data_paths(case_file, tmp_path):
    base = case_file([project()], SUPPLY)
    sub = tmp_path / "variants"
    sub.mkdir()
    child = sub / "cut.yaml"
    child.write_text(
        yaml.safe_dump(
            {
                "extends": "../case/scenario.yaml",
                "name": "cut",
                "resources": {"energy": {"supply_factor": 0.9}},
            }
        )
    )
    sc = read_scenario(child)
    assert sc.name == "cut"
    assert sc.resources["energy"].supply_factor == 0.9
    assert sc.resources["energy"].purchase is not None  # the rest of the base is kept
    inputs = read_inputs(child)
    assert len(inputs.projects) == 1
    assert read_scenario(base).resources["energy"].supply_factor == 1.0


def test_excel_and_parquet_inputs(case_file):
    path = case_file([project(), project(project_id="P-2", land_mu=0)], SUPPLY)
    frame = pd.read_csv(path.parent / "projects.csv", dtype=str, keep_default_na=False)
    frame.to_excel(path.parent / "projects.xlsx", index=False)
    frame.to_parquet(path.parent / "projects.parquet")
    from_csv = read_inputs(path).projects
    for suffix in ("xlsx", "parquet"):
        doc = yaml.safe_load(path.read_text())
        doc["data"]["projects"] = f"projects.{suffix}"
        path.write_text(yaml.safe_dump(doc))
        other = read_inputs(path).projects
        pd.testing.assert_frame_equal(other, from_csv, check_dtype=False)


@pytest.mark.parametrize(
    ("cells", "dtype", "texts"),
    [
        ([3.0, float("nan"), 0.1, -0.0, 3.0], "float64", ["3", "", "0.1", "0", "3"]),
        ([7, 7, 12], "int64", ["7", "7", "12"]),
        ([" P-1 ", None, "\u3000P-2\u3000", " P-1 "], "str", ["P-1", "", "P-2", "P-1"]),
        (
            ["2027-01-01", None, "2027-01-01 08:30"],
            "datetime64[ns]",
            ["2027-01-01", "", "2027-01-01T08:30:00"],
        ),
        ([1, True, 1.0, "1 ", None], "object", ["1", "True", "1", "1", ""]),
    ],
)
def test_cells_read_as_the_text_a_message_shows(cells, dtype, texts):
    """Each column type takes its own path; a message quotes what the planner typed."""
    series = pd.Series(cells, index=[4, 2, 9, 1, 0][: len(cells)])
    series = (
        series.astype(dtype)
        if dtype != "datetime64[ns]"
        else pd.to_datetime(series, format="mixed")
    )
    got = _cells_as_text(series)
    assert got.tolist() == texts
    assert got.index.equals(series.index)


def test_one_run_lists_every_problem_once(case_file):
    """Cell problems and problems between tables in one run: a check between tables runs on
    every cell that is right, and says nothing about a cell already reported."""
    rows = [
        project(project_id="P-1", land_mu=-3),
        project(project_id="P-2", requires="P-9"),
        project(project_id="P-3", kind="mega", existing_parcel_id="PC-1"),  # kind: once
        project(project_id="P-4", earliest_year=2029, latest_year=2027),
        project(project_id="P-5", district="atlantis", excludes="P-8"),
        project(project_id="P-6", readiness=2),
    ]
    supplies = [*SUPPLY, ("energy", 2035, "city", 5)]
    found = problems_of(case_file(rows, supplies, {"locked_in": {"P-7": None}}))
    expected = [
        "projects.csv row 2 (P-1): field `land_mu` = '-3' must be ≥ 0",
        "projects.csv row 4 (P-3): field `kind` = 'mega' must be one of",
        "projects.csv row 6 (P-5): field `district` = 'atlantis' must be one of",
        "projects.csv row 7 (P-6): field `readiness` = '2.0' must be ≤ 1",
        "supplies.csv row 4 (energy): field `year` = '2035' year is outside the scenario horizon",
        "projects.csv row 3 (P-2): field `requires` = 'P-9' names no project of the table",
        "projects.csv row 5 (P-4): field `latest_year` = '2027' is before earliest_year 2029",
        "projects.csv row 6 (P-5): field `excludes` = 'P-8' names no project of the table",
        "scenario.yaml: field `locked_in` = 'P-7' names no project of the projects table",
    ]
    assert len(found) == len(expected), found
    for text in expected:
        assert sum(f.startswith(text) for f in found) == 1, (text, found)


def test_firm_and_parcel_references_are_checked():
    """A project naming a firm or a parcel that does not exist is refused, not approved as
    if it needed no land."""
    layers = city_layers([parcel("PC-1", cell(0))])
    rows = [project(project_id="P-1", kind="tech_upgrade", land_mu=0, existing_parcel_id="PC-9",
                    firm_id="F-1"),
            project(project_id="P-2", firm_id="F-404"),
            project(project_id="P-3", kind="expansion", existing_parcel_id="PC-1", firm_id="F-1")]  # fmt: skip
    labels = {"projects": "projects.csv", "firms": "firms.csv", "parcels": "city.gpkg#parcels"}
    tables = Tables(projects=pd.DataFrame(rows), supplies=pd.DataFrame(SUPPLY, columns=["resource", "year", "scope", "amount"]),
                    firms=pd.DataFrame([FIRM]), parcels=layers["parcels"], labels=labels)  # fmt: skip
    with pytest.raises(InputError) as info:
        check_inputs(Scenario(resources=RESOURCES, objective={"bonus_weights": {}}), tables)
    assert [str(p) for p in info.value.problems] == [
        "projects.csv row 2 (P-1): field `existing_parcel_id` = 'PC-9' names no parcel of city.gpkg#parcels",
        "projects.csv row 3 (P-2): field `firm_id` = 'F-404' names no firm of firms.csv",
    ]  # fmt: skip


@pytest.mark.parametrize(("encoding", "shown"), [("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"),
                                                 ("gb18030", "gb18030"), ("utf-16", "utf-16")])  # fmt: skip
def test_csv_saved_by_excel_in_chinese_reads_the_same(case_file, encoding, shown):
    """Excel on Chinese Windows saves GBK; "Unicode text" is UTF-16 with a BOM: the same
    table either way, and the encoding it was read in is reported."""
    path = case_file([project(name="枣庄新材料产业园项目"), project(project_id="P-2", name="薛城技改")], SUPPLY)  # fmt: skip
    reference = read_inputs(path).projects
    csv = path.parent / "projects.csv"
    csv.write_bytes(csv.read_text(encoding="utf-8").encode(encoding))
    inputs = read_inputs(path)
    pd.testing.assert_frame_equal(inputs.projects, reference)
    assert inputs.given.encodings["projects"] == shown
    assert list(inputs.projects["name"]) == ["枣庄新材料产业园项目", "薛城技改"]


def test_a_file_in_no_known_encoding_names_its_line(case_file):
    path = case_file([project(), project(project_id="P-2")], SUPPLY)
    csv = path.parent / "projects.csv"
    lines = csv.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"P-2", b"P-\xff2")  # no UTF-8, no GB18030
    csv.write_bytes(b"\n".join(lines))
    (problem,) = problems_of(path)
    assert problem.startswith(
        "projects.csv row 3: byte 0xff of this line cannot be read as utf-8 or gb18030"
    )
