"""``allocator template``: the projects workbook a district fills in (项目申报表.xlsx).

Sheet 项目 has one header per column of the projects table in the chosen language, the
required ones first and bold, with drop-down lists of the scenario's districts and
sectors and of the project kinds and major-project levels (by label; codes are accepted
too); sheet 填表说明 says, per column, the code, whether it is required, its unit or
allowed values and range, and the rules a filled sheet must keep (one header row, one
project per row, no total rows). Sheet 选项 holds the drop-down lists. A filled workbook is
a projects table: ``data.projects: 项目申报表.xlsx``.
"""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from allocator.inputs import BY_LABEL
from allocator.words import label, word
from models.scenario import Scenario
from models.tables import PROJECTS, Column

ROWS = 5000  # rows with drop-down lists


def _choices(scenario: Scenario) -> dict[str, list[str]]:
    kinds = PROJECTS.column("kind")
    levels = PROJECTS.column("major_level")
    assert kinds is not None and levels is not None and kinds.choices and levels.choices
    return {"district": list(scenario.districts), "sector": list(scenario.sectors),
            "kind": list(kinds.choices), "major_level": list(levels.choices)}  # fmt: skip


def _rule(column: Column, choices: list[str] | None, lang: str) -> str:
    """What a cell of ``column`` may hold, in words."""
    if choices:
        return "；".join(f"{label(BY_LABEL[column.name], c, lang)} ({c})" for c in choices)
    parts = [word(f"template.{column.kind}", lang)]
    if column.min is not None:
        parts.append(f"≥ {column.min:g}")
    if column.max is not None:
        parts.append(f"≤ {column.max:g}")
    return " ".join(parts)


def write_template(path: Path, scenario: Scenario, lang: str) -> None:
    """Write the projects workbook for ``scenario``'s districts and sectors."""
    choices = _choices(scenario)
    columns = sorted(PROJECTS.columns, key=lambda c: not c.required)  # required first
    with xlsxwriter.Workbook(path, {"strings_to_formulas": False}) as book:
        book.set_properties({"title": word("template.title", lang)})
        bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        plain = book.add_format({"bg_color": "#F2F2F2", "border": 1})
        sheet = book.add_worksheet(word("template.sheet", lang))
        lists = book.add_worksheet(word("template.lists", lang))
        notes = book.add_worksheet(word("template.notes", lang))
        for c, column in enumerate(columns):
            head = word(f"in.projects.{column.name}", lang)
            sheet.write_string(0, c, head, bold if column.required else plain)
            sheet.set_column(c, c, max(10, min(30, 2 * len(head) + 2)))
            if column.name in choices:
                at = list(choices).index(column.name)
                labels = [label(BY_LABEL[column.name], x, lang) for x in choices[column.name]]
                lists.write_string(0, at, head, bold)
                for r, text in enumerate(labels, start=1):
                    lists.write_string(r, at, text)
                ref = xlsxwriter.utility.xl_range_abs(1, at, len(labels), at)
                sheet.data_validation(1, c, ROWS, c, {
                    "validate": "list", "source": f"='{lists.name}'!{ref}",
                    "error_title": head, "error_message": word("template.pick", lang),
                })  # fmt: skip
        sheet.freeze_panes(1, 2)
        heads = [word(f"template.{k}", lang) for k in ("column", "code", "required", "allowed")]
        for c, text in enumerate(heads):
            notes.write_string(0, c, text, bold)
        for r, column in enumerate(columns, start=1):
            notes.write_string(r, 0, word(f"in.projects.{column.name}", lang))
            notes.write_string(r, 1, column.name)
            notes.write_string(r, 2, word("bool.True" if column.required else "bool.False", lang))
            notes.write_string(r, 3, _rule(column, choices.get(column.name), lang))
        for r, key in enumerate(("rule_header", "rule_rows", "rule_total", "rule_codes"),
                                start=len(columns) + 2):  # fmt: skip
            notes.write_string(r, 0, word(f"template.{key}", lang))
        notes.set_column(0, 0, 36)
        notes.set_column(1, 2, 24)
        notes.set_column(3, 3, 100)
        notes.freeze_panes(1, 0)
