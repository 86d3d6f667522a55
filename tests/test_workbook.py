"""``result.xlsx``, the 台账 workbook: its sheets hold the CSV tables in the same words and
figures, open in LibreOffice, keep formula-like text inert and are the same bytes for the
same inputs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from allocator.cli import app
from allocator.writers.files import inert, read_table
from tests.conftest import missing
from tests.landkit import land_scenario
from tests.test_placement import ONE_YEAR, proj, site_city, supplies

pytestmark = pytest.mark.solver

SHEETS = {"zh": ["项目保障清单", "要素平衡表", "低效闲置用地清单", "情景说明"],
          "en": ["Projects", "Resources", "Flagged land", "Scenario"]}  # fmt: skip


def solve(path: Path, out: Path, *more: str) -> Path:
    done = CliRunner().invoke(app, ["solve", str(path), "--out", str(out), *more])
    assert done.exit_code == 0, done.output
    return out / "result.xlsx"


@pytest.fixture
def city(tmp_path: Path) -> Path:
    site_city(tmp_path)
    rows = [proj("P-1", 15, name="=HYPERLINK(\"http://x\",\"y\")"), proj("P-2", 15),
            proj("P-3", 15, earliest_year=2030, latest_year=2031)]  # fmt: skip
    return land_scenario(tmp_path, rows, supplies(0), **ONE_YEAR)


def sheet_frame(book: openpyxl.Workbook, name: str) -> pd.DataFrame:
    rows = list(book[name].iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_workbook_holds_the_csv_tables_in_the_same_words(city, tmp_path, lang):
    path = solve(city, tmp_path / "out", "--lang", lang)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == SHEETS[lang]
    for name, csv in zip(SHEETS[lang][:2], ("allocations.csv", "resources.csv"), strict=True):
        sheet = book[name]
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
        table = pd.read_csv(tmp_path / "out" / csv, encoding="utf-8-sig", keep_default_na=False)
        shown = sheet_frame(book, name).fillna("")
        assert list(shown.columns) == list(table.columns)
        for column in table.columns:  # every cell the CSV's, numbers as numbers
            for cell, text in zip(shown[column], table[column], strict=True):
                if isinstance(cell, int | float):
                    assert cell == pytest.approx(float(text)), (name, column)
                else:
                    assert inert(str(cell)) == str(text), (name, column)  # CSV: apostrophe
        formats = {c.number_format for c in sheet[2] if isinstance(c.value, int | float)}
        assert any("#,##0" in f for f in formats) and formats <= {"0", "#,##0", "#,##0.00##"}
    land = sheet_frame(book, SHEETS[lang][2])
    findings = read_table(tmp_path / "out" / "findings.csv")
    assert len(land) == (findings["result"] == "finding").sum() == 2  # one per idle parcel
    settings = dict(book[SHEETS[lang][3]].iter_rows(min_row=2, values_only=True))
    assert settings[{"zh": "情景名称", "en": "scenario"}[lang]] == "tiny_land"
    assert settings[{"zh": "求解状态", "en": "solver status"}[lang]].startswith(
        {"zh": "最优", "en": "optimal"}[lang]
    )
    # the formula-like name is kept as quoted text: shown as typed, never run
    names = book[SHEETS[lang][0]]
    cell = next(c for c in names["B"] if str(c.value).startswith("=HYPERLINK"))
    assert cell.data_type == "s" and cell.quotePrefix


def test_the_same_inputs_give_the_same_workbook_bytes(city, tmp_path):
    first = solve(city, tmp_path / "a").read_bytes()
    assert solve(city, tmp_path / "b").read_bytes() == first


def test_libreoffice_opens_every_sheet(city, tmp_path):
    soffice = shutil.which("soffice")
    if soffice is None:
        missing("LibreOffice (soffice) is not installed: make system-deps")
    path = solve(city, tmp_path / "out")
    converted = tmp_path / "converted"
    # every sheet to CSV, UTF-8 (76), comma-separated (44), quoted text (34)
    subprocess.run([str(soffice), "--headless", "--norestore", "--convert-to",
                    'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1',
                    "--outdir", str(converted), str(path)],
                   check=True, capture_output=True, timeout=120,
                   env={**os.environ, "HOME": str(tmp_path), "LANG": "C.UTF-8"})  # fmt: skip
    sheets = {p.stem.removeprefix("result-"): p for p in converted.glob("*.csv")}
    assert sorted(sheets) == sorted(SHEETS["zh"])
    projects = pd.read_csv(sheets["项目保障清单"], dtype=str, keep_default_na=False)
    assert list(projects["项目编号"]) == ["P-1", "P-2", "P-3"]
    assert projects.loc[0, "项目名称"] == '=HYPERLINK("http://x","y")'  # text, not a link
