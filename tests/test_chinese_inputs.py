"""Input tables as bureaus fill them in: Chinese headers and names, the template workbook,
and the spreadsheet habits that are refused with their rule (``allocator.inputs._in_codes``)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from allocator.cli import app
from allocator.errors import InputError
from allocator.sources import read_inputs
from allocator.words import WORDS, label
from allocator.writers.files import read_table
from tests.conftest import project

RUN = CliRunner()


def rows() -> list[dict]:
    return [project(project_id="P-1", district="tengzhou", sector="new_materials"),
            project(project_id="P-2", district="xuecheng", sector="high_end_equipment",
                    kind="expansion", energy_tce_per_year=4000),
            project(project_id="P-3", district="hitech", sector="new_it", requires="P-1")]  # fmt: skip


def in_chinese(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as a district fills it in: Chinese headers, districts, sectors and kinds
    by name."""
    out = frame.copy()
    for column, kind in (("district", "district"), ("sector", "sector"), ("kind", "kind"),
                         ("major_level", "major_level")):  # fmt: skip
        out[column] = out[column].map(lambda v, k=kind: label(k, v, "zh"))
    return out.rename(columns=lambda c: WORDS[f"in.projects.{c}"]["zh"])


def scenario_with(case_file, projects: str) -> Path:
    path = case_file(rows(), [("land_quota", 2027, "xuecheng", 100), ("land_quota", 2027, "tengzhou", 100),
                              ("land_quota", 2027, "hitech", 100), ("energy", 2027, "city", 5000)],
                     {"horizon": {"start": 2027, "end": 2027}})  # fmt: skip
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["data"]["projects"] = projects
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.solver
def test_a_filled_template_validates_and_solves_as_the_csv_does(case_file, tmp_path):
    template = tmp_path / "case" / "项目申报表.xlsx"
    template.parent.mkdir(parents=True, exist_ok=True)
    made = RUN.invoke(app, ["template", "--out", str(template)])
    assert made.exit_code == 0, made.output
    book = openpyxl.load_workbook(template)
    sheet = book["项目"]
    heads = [c.value for c in sheet[1]]
    assert heads[:4] == ["项目编号", "项目名称", "所在区县", "行业"]
    assert sheet.data_validations.dataValidation, "drop-down lists"
    assert "滕州市" in [c.value for c in book["选项"]["A"]]
    filled = in_chinese(pd.DataFrame(rows()))
    for r, record in enumerate(filled.to_dict("records"), start=2):
        for c, head in enumerate(heads, start=1):
            value = record.get(head)
            if value is not None and value == value:  # not NaN
                sheet.cell(row=r, column=c, value=value)
    book.save(template)
    csv = scenario_with(case_file, "projects.csv")
    xlsx = scenario_with(case_file, "项目申报表.xlsx")
    checked = RUN.invoke(app, ["validate", str(xlsx)])
    assert checked.exit_code == 0, checked.output
    outs = {}
    for name, path in (("csv", csv), ("xlsx", xlsx)):
        outs[name] = tmp_path / name
        done = RUN.invoke(app, ["solve", str(path), "--out", str(outs[name])])
        assert done.exit_code == 0, done.output
    a, b = (read_table(outs[n] / "allocations.csv") for n in ("csv", "xlsx"))
    pd.testing.assert_frame_equal(a, b)
    assert set(a["status"]) >= {"approved"}


def problems_of(case_file, tmp_path, frame: pd.DataFrame, name: str = "projects.csv") -> list[str]:
    path = scenario_with(case_file, name)
    target = path.parent / name
    if name.endswith(".xlsx"):
        frame.to_excel(target, index=False)
    else:
        frame.to_csv(target, index=False)
    with pytest.raises(InputError) as raised:
        read_inputs(path)
    return [str(p) for p in raised.value.problems]


def test_chinese_headers_and_names_read_as_codes(case_file):
    path = scenario_with(case_file, "zh.csv")
    in_chinese(pd.DataFrame(rows())).to_csv(path.parent / "zh.csv", index=False, encoding="gb18030")
    projects = read_inputs(path).projects
    assert list(projects["district"]) == ["tengzhou", "xuecheng", "hitech"]
    assert list(projects["sector"]) == ["new_materials", "high_end_equipment", "new_it"]
    assert projects.at["P-2", "kind"] == "expansion"


def test_unknown_chinese_headers_and_names_are_named_with_the_nearest(case_file, tmp_path):
    frame = in_chinese(pd.DataFrame(rows()))
    frame = frame.rename(columns={"用地面积(亩)": "用地规模(亩)"})
    frame.loc[0, "所在区县"] = "滕州"
    said = problems_of(case_file, tmp_path, frame)
    assert any(
        "field `用地规模(亩)` unknown column; nearest accepted: 用地面积(亩)" in s for s in said
    )
    assert any(s.startswith("projects.csv row 2 (P-1): field `district` = '滕州' must be one of")
               and s.endswith("nearest accepted: 滕州市") for s in said)  # fmt: skip
    assert any("`land_mu` required column is missing" in s for s in said)


def test_full_width_brackets_in_headers_read_as_ascii(case_file):
    path = scenario_with(case_file, "zh.csv")
    frame = in_chinese(pd.DataFrame(rows())).rename(columns={"用地面积(亩)": "用地面积（亩）"})
    frame.to_csv(path.parent / "zh.csv", index=False)
    assert read_inputs(path).projects["land_mu"].notna().all()


def test_total_rows_and_headers_over_two_rows_are_refused_with_the_rule(case_file, tmp_path):
    frame = in_chinese(pd.DataFrame(rows()))
    total = {c: "" for c in frame.columns} | {"项目编号": "合计", "总投资(万元)": "999"}
    said = problems_of(case_file, tmp_path, pd.concat([frame, pd.DataFrame([total])]))
    assert said == ["projects.csv row 5: field `project_id` = '合计' a total row: each row "
                    "must be one record; remove total rows"]  # fmt: skip
    # a header merged over two columns leaves the second without a header
    book = openpyxl.Workbook()
    sheet = book.active
    heads = list(frame.columns)
    sheet.append(["投资", *heads[1:]])
    sheet.append(heads)
    sheet.merge_cells(start_row=1, start_column=6, end_row=1, end_column=7)
    for record in frame.itertuples(index=False):
        sheet.append([None if v != v else v for v in record])
    target = tmp_path / "case" / "merged.xlsx"
    book.save(target)
    path = scenario_with(case_file, "merged.xlsx")
    with pytest.raises(InputError) as raised:
        read_inputs(path)
    said = [str(p) for p in raised.value.problems]
    assert any("has no header (merged header cells, or several header rows?)" in s for s in said)
