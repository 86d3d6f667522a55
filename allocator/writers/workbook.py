"""``result.xlsx``: the result as the 台账 workbook a planner opens in Excel or WPS.

Sheets (names in the result's language): 项目保障清单 (one row per project: decision, start
year, site, each resource with its unit, reason and explanation), 要素平衡表 (supply,
purchases, use, carry-over, slack and marginal values per resource, year and scope),
低效闲置用地清单 (one row per finding: parcel, rule, figure, threshold, disposal, land user;
with a parcel layer only) and 情景说明 (settings, solver status and gap, data hashes). The
tables are those of the CSV files, in the same words (``writers.files.for_people``);
headers are frozen and filtered, numbers carry thousands separators, columns are sized to
their contents. Text that a spreadsheet would run as a formula is stored as quoted text
(Excel's quote prefix: shown as typed, never run). The file is the same bytes for the same
result: its timestamps are the data vintage ``as_of``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from allocator.words import header, label, word
from allocator.writers.files import FORMULA_START, for_people, labelled

YEAR_COLUMNS = {"year", "start_year", "available_year", "row"}
WIDEST = 60  # characters; longer text (explanations) stays on one line, cut at the edge


def _width(values: pd.Series, head: str) -> float:
    """Characters a column needs (a Chinese character counts twice), within 8 and WIDEST."""
    texts = [head, *(str(v) for v in values.head(2000).tolist())]
    longest = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in text) for text in texts)
    return float(min(max(longest + 2, 8), WIDEST))


def _sheet(book: xlsxwriter.Workbook, name: str, frame: pd.DataFrame, codes: list[str]) -> None:
    """One table on its own sheet: a bold frozen header row with filters, then the rows."""
    sheet: Worksheet = book.add_worksheet(name)
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    number = book.add_format({"num_format": "#,##0.00##"})
    integer = book.add_format({"num_format": "#,##0"})
    year = book.add_format({"num_format": "0"})
    quoted = book.add_format({"quote_prefix": True})
    for c, head in enumerate(frame.columns):
        sheet.write_string(0, c, str(head), bold)
        column = frame.iloc[:, c]
        fmt = (year if codes[c] in YEAR_COLUMNS
               else integer if pd.api.types.is_integer_dtype(column) else number)  # fmt: skip
        for r, value in enumerate(column.tolist(), start=1):
            _cell(sheet, r, c, value, fmt, quoted)
        sheet.set_column(c, c, _width(column, str(head)))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(frame), 1), max(len(frame.columns) - 1, 0))


def _cell(sheet: Worksheet, r: int, c: int, value: Any, fmt: Any, quoted: Any) -> None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return  # empty
    if isinstance(value, bool):
        sheet.write_boolean(r, c, value)
    elif isinstance(value, int | float):
        sheet.write_number(r, c, value, fmt)
    elif str(value).startswith(FORMULA_START):
        sheet.write_string(r, c, str(value), quoted)
    else:
        sheet.write_string(r, c, str(value))


def _settings(summary: dict[str, Any], scenario: dict[str, Any], lang: str) -> pd.DataFrame:
    """情景说明: what was asked and what the solver said, one item per row."""
    rows: list[tuple[str, Any]] = [
        (word("sheet.name", lang), summary["scenario"]),
        (word("sheet.description", lang), scenario.get("description", "")),
        (header("as_of", lang), summary["as_of"]),
        (word("sheet.horizon", lang), f"{summary['horizon'][0]}–{summary['horizon'][-1]}"),
        (word("sheet.status", lang), label("run", summary["status"], lang)),
        (word("sheet.objective", lang), summary.get("objective_wan_cny")),
        (word("sheet.bound", lang), summary.get("bound_wan_cny")),
        (word("sheet.gap", lang), summary.get("gap")),
        (word("sheet.backend", lang), f"{summary['backend']} {summary['solver_version']}"),
        (word("sheet.seed", lang), summary["seed"]),
        (word("sheet.time_limit", lang), summary["time_limit_s"]),
        (word("sheet.gap_limit", lang), summary["gap_limit"]),
    ]
    for kind, count in sorted(summary.get("projects", {}).items()):
        rows.append((word("sheet.count", lang, status=label("status", kind, lang)), count))
    for name, digest in summary["input_sha256"].items():
        rows.append((word("sheet.sha256", lang, name=name), digest))
    for name, version in summary["versions"].items():
        rows.append((word("sheet.version", lang, name=name), version))
    return pd.DataFrame(rows, columns=[word("sheet.item", lang), word("sheet.value", lang)])


def write_workbook(
    path: Path,
    lang: str,
    as_of: dt.date,
    summary: dict[str, Any],
    scenario: dict[str, Any],
    tables: dict[str, pd.DataFrame],
) -> None:
    """Write ``result.xlsx``: ``tables`` by sheet key (``projects``, ``resources``,
    ``land``; any may be absent), then the scenario sheet."""
    stamp = dt.datetime.combine(as_of, dt.time())
    with xlsxwriter.Workbook(path, {"strings_to_formulas": False, "strings_to_urls": False,
                                    "nan_inf_to_errors": False}) as book:  # fmt: skip
        book.set_properties({"title": summary["scenario"], "created": stamp})
        for key in ("projects", "resources", "land"):
            if key in tables:
                frame = labelled(tables[key], lang)
                _sheet(book, word(f"sheet.{key}", lang), for_people(frame, lang),
                       [str(c) for c in frame.columns])  # fmt: skip
        settings = _settings(summary, scenario, lang)
        _sheet(book, word("sheet.scenario", lang), settings, ["", ""])
