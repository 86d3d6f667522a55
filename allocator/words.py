"""The words people read, in Chinese (the default) and English: one catalogue, the table
``words.csv`` (UTF-8; key, zh, en: one row per entry, grouped by key prefix).

Every column header of a file people open (``col.<column>``), every code's label
(``<kind>.<code>``: reasons, statuses, rules, results, disposals, units, resources,
sectors, districts, …) and every sentence with figures in it (``text.<name>``, a
``str.format`` template) is one row of it. Codes stay stable
identifiers; their labels stand beside them (``reason`` = ``OUTCOMPETED``, ``reason_label``
= 落选:价值低于所需要素的机会成本). A code without a label is shown as itself.
``tests/test_words.py`` fails when a column or code written by the sample run has no label
in either language, or when two columns share a header.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from models.tables import Problem

LANGS = ("zh", "en")
Lang = Literal["zh", "en"]
DEFAULT_LANG: Lang = "zh"


def _rows() -> list[dict[str, str]]:
    with (Path(__file__).parent / "words.csv").open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


WORDS: dict[str, dict[str, str]] = {r["key"]: {"zh": r["zh"], "en": r["en"]} for r in _rows()}


# A column holding codes, and the kind of label its codes have: written with a
# ``<column>_label`` column right after it.
CODE_COLUMNS = {
    "district": "district",
    "sector": "sector",
    "kind": "kind",
    "status": "status",
    "land_source": "land_source",
    "reason": "reason",
    "resource": "resource",
    "unit": "unit",
    "scope": "scope",
    "rule": "rule",
    "result": "result",
    "finding_codes": "rule",
    "disposal": "disposal",
    "source": "source",
    "zone_level": "zone_level",
    "not_graded_because": "not_graded",
    "change": "change",
}
# Columns of a comparison: a column of result A, of result B, or B − A (``allocator.compare``).
SIDES = ("a", "b", "delta")


def _side(column: str) -> tuple[str, str | None]:
    """``status_a`` -> (``status``, ``a``), ``status_a_label`` -> (``status_label``, ``a``);
    a column of no side -> (itself, None)."""
    inner = column.removesuffix("_label")
    base, _, side = inner.rpartition("_")
    if not base or side not in SIDES:
        return column, None
    return base + column[len(inner) :], side


def _sided(column: str, side: str) -> str:
    """The column of one side: (``status_label``, ``a``) -> ``status_a_label``."""
    inner = column.removesuffix("_label")
    return f"{inner}_{side}" + column[len(inner) :]


def code_kind(column: str) -> str | None:
    """The kind of label a column's codes have (``CODE_COLUMNS``; ``status_a`` as
    ``status``), None for a column of no codes."""
    return CODE_COLUMNS.get(column) or CODE_COLUMNS.get(_side(column)[0])


def word(key: str, lang: str, **figures: object) -> str:
    """The words of ``key`` in ``lang``, with ``figures`` put into its template."""
    text = WORDS[key][lang]
    return text.format(**figures) if figures else text


def said(problem: Problem, lang: str) -> str:
    """A problem with the input in ``lang``: where it is, what it holds, the rule it breaks.
    The rule's words are ``msg.<template>`` (``models.tables.Problem.of``; a pydantic error's
    template is ``pydantic:<type>``) or, for a rule without figures, ``msg.<rule>``; a rule
    the catalogue does not hold is said in English."""
    if lang == "en":
        return str(problem)
    rule = rule_words(problem, lang)
    where = problem.file if problem.row is None else f"{problem.file} 第 {problem.row} 行"
    if problem.key:
        where += f"（{problem.key}）"
    what = ""
    if problem.field is not None:
        what = f"字段 `{problem.field}`" + (
            "" if problem.value is None else f" = {problem.value!r}"
        )
    return f"{where}：{what} {rule}" if what else f"{where}：{rule}"


def message(template: str, figures: Mapping[str, str], lang: str, english: str) -> str:
    """A message in ``lang``: the catalogue's ``msg.<template>`` filled with ``figures``;
    ``english`` (the message as the code wrote it) in English or where the catalogue has no
    such entry."""
    words = WORDS.get(f"msg.{template}")
    return words[lang].format(**figures) if words and lang != "en" else english


def rule_words(problem: Problem, lang: str) -> str:
    """The rule a problem breaks, in ``lang`` (``said``)."""
    return message(problem.template or problem.rule, dict(problem.figures), lang, problem.rule)


def note(code: str, figures: str, lang: str) -> str:
    """The words of a land finding's note: its template ``note.<code>`` filled with its
    figures (a JSON object, ``land.findings``); no code, no words."""
    return word(f"note.{code}", lang, **json.loads(figures or "{}")) if code else ""


def lookup(kind: str, code: str, lang: str) -> str | None:
    """The label of one code (``reason``, ``OUTCOMPETED``), None when it has none;
    ``INELIGIBLE_<RULE>`` is built from its rule; several codes joined by ``;`` get their
    labels joined alike; a scope without a label of its own is a district's pool."""
    if ";" in code:
        found = [lookup(kind, c, lang) for c in code.split(";")]
        return None if None in found else ";".join(str(f) for f in found)
    if kind == "reason" and code.startswith("INELIGIBLE_"):
        rule = lookup("rule", code.removeprefix("INELIGIBLE_"), lang)
        return None if rule is None else word("text.ineligible", lang, rule=rule)
    words = WORDS.get(f"{kind}.{code}")
    if words is None and kind == "scope":
        words = WORDS.get(f"district.{code}")
    return None if words is None else words[lang]


def label(kind: str, code: str, lang: str) -> str:
    """The label of one code (``lookup``); a code without a label is itself."""
    return lookup(kind, code, lang) or code


def header(column: str, lang: str) -> str:
    """The header of a column: its label, or ``<resource label>(<unit label>)`` for a
    resource amount column such as ``energy_tce``, or ``<header>（方案A）`` for a column of
    one side of a comparison (``status_a``); a column without a label is itself."""
    found = WORDS.get(f"col.{column}")
    if found:
        return found[lang]
    base, side = _side(column)
    if side is not None and f"col.{base}" in WORDS:
        return word("text.side", lang, column=header(base, lang), side=word(f"side.{side}", lang))
    for key, words in WORDS.items():
        if key.startswith("resource.") and column.startswith(key.removeprefix("resource.") + "_"):
            unit = column.removeprefix(key.removeprefix("resource.") + "_")
            if f"unit.{unit}" in WORDS:
                unit_words = WORDS[f"unit.{unit}"][lang]
                return (
                    f"{words[lang]}({unit_words})"
                    if lang == "zh"
                    else f"{words[lang]} ({unit_words})"
                )
    return column


@functools.cache
def _codes_by_label(kind: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, words in WORDS.items():
        if key.startswith(f"{kind}."):
            for lang in LANGS:
                found.setdefault(words[lang], key.removeprefix(f"{kind}."))
    return found


def code_of(kind: str, text: str) -> str | None:
    """The code whose label (in either language) is ``text``: 滕州市 → tengzhou."""
    return _codes_by_label(kind).get(text)


@functools.cache
def input_headers(table: str, columns: tuple[str, ...]) -> dict[str, str]:
    """The headers an input table's columns may have, in either language, mapped to the
    column: the table's own (``in.<table>.<column>``), the output header of the column and
    the output header of its label column (行业 → sector, whose values are then labels)."""
    out: dict[str, str] = {}
    for column in columns:
        for lang in LANGS:
            for key in (f"in.{table}.{column}", f"col.{column}", f"col.{column}_label"):
                if key in WORDS:
                    out.setdefault(WORDS[key][lang], column)
    return out


@functools.cache
def headers_to_columns() -> dict[str, str]:
    """Every header in both languages, mapped to its column (resource columns included)."""
    out: dict[str, str] = {}
    resources = [k.removeprefix("resource.") for k in WORDS if k.startswith("resource.")]
    units = [k.removeprefix("unit.") for k in WORDS if k.startswith("unit.")]
    columns = [k.removeprefix("col.") for k in WORDS if k.startswith("col.")]
    columns += [f"{r}_{u}" for r in resources for u in units]
    columns += [_sided(c, side) for c in columns for side in SIDES]
    for column in columns:
        for lang in LANGS:
            out.setdefault(header(column, lang), column)
    return out


def input_columns_doc() -> str:
    """docs/input_columns.md: every input column with the headers it may have."""
    from models.tables import FIRMS, PARKS, PROJECTS, SUPPLIES

    lines = ["# Input columns and the headers they may have", "",
             "Generated from `allocator/words.py` by `make docs` (a test keeps it current). A",
             "table's header may be the code, the Chinese or the English header below, or the",
             "header of the result column of the same name (`所在区县`, `行业`); full-width",
             "brackets read as ASCII ones. Districts, sectors, kinds, major-project and park",
             "levels, resources and scopes may be given by code or by label (滕州市, 高端装备).",
             ""]  # fmt: skip
    for spec in (PROJECTS, FIRMS, SUPPLIES, PARKS):
        lines += [f"## {spec.name}", "", "| code | 中文表头 | English header | required |",
                  "|---|---|---|---|"]  # fmt: skip
        for column in spec.columns:
            words = WORDS.get(f"in.{spec.name}.{column.name}", {"zh": "", "en": ""})
            required = "yes" if column.required else ""
            lines.append(f"| `{column.name}` | {words['zh']} | {words['en']} | {required} |")
        lines.append("")
    return "\n".join(lines)
