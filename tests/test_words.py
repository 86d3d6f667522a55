"""The catalogue of words (``allocator.words``): every column and code written has a label in
both languages, headers name one column each, and a result folder read in either language
gives the same codes."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from allocator.cli import app
from allocator.words import (
    LANGS,
    WORDS,
    code_kind,
    header,
    headers_to_columns,
    input_columns_doc,
    label,
    lookup,
)
from allocator.writers.files import read_table
from tests.landkit import land_scenario
from tests.test_placement import ONE_YEAR, proj, site_city, supplies

CJK = re.compile(r"[\u4e00-\u9fff]")
# English words a Chinese sentence may hold: names of things a planner types or reads.
ALLOWED = {"MIP", "explain", "allocator", "mip_marginals", "false"}


def test_every_entry_has_both_languages_and_every_header_one_column():
    keys = (Path(__file__).resolve().parents[1] / "allocator" / "words.csv").read_text(
        encoding="utf-8").splitlines()[1:]  # fmt: skip
    assert len(keys) == len(WORDS), "a key appears twice in words.csv"
    for key, words in WORDS.items():
        assert words["zh"].strip() and words["en"].strip(), key
        if key.startswith(("col.", "status.", "reason.", "rule.", "result.", "disposal.")):
            assert CJK.search(words["zh"]), key
    for lang in LANGS:
        heads = [header(k.removeprefix("col."), lang) for k in WORDS if k.startswith("col.")]
        assert len(heads) == len(set(heads)), [h for h in heads if heads.count(h) > 1]
    to_code = headers_to_columns()
    for key in WORDS:
        if key.startswith("col."):
            column = key.removeprefix("col.")
            assert {to_code[header(column, lang)] for lang in LANGS} == {column}
    assert header("energy_tce", "zh") == "能耗指标(吨标准煤)"
    assert to_code["能耗指标(吨标准煤)"] == to_code["energy quota (tce)"] == "energy_tce"


def test_input_headers_name_one_column_each_and_are_documented():
    from models.tables import FIRMS, PARKS, PROJECTS, SUPPLIES

    for spec in (PROJECTS, FIRMS, SUPPLIES, PARKS):
        seen: dict[str, str] = {}
        for column in spec.columns:
            assert f"in.{spec.name}.{column.name}" in WORDS, (spec.name, column.name)
            for key in (f"in.{spec.name}.{column.name}", f"col.{column.name}",
                        f"col.{column.name}_label"):  # fmt: skip
                for lang in LANGS:
                    if key in WORDS:
                        head = WORDS[key][lang]
                        assert seen.setdefault(head, column.name) == column.name, (spec.name, head)
    docs = Path(__file__).resolve().parents[1] / "docs" / "input_columns.md"
    assert docs.read_text(encoding="utf-8") == input_columns_doc() + "\n", "run `make docs`"


def test_codes_built_from_rules_and_lists_get_labels():
    assert label("reason", "INELIGIBLE_FIRM_CLASS_D", "zh") == "不符合条件：企业亩均评价为D类"
    assert label("rule", "LOW_COVERAGE;CLASS_D", "en") == (
        "low efficiency: coverage below the standard;low efficiency: the user is graded class D"
    )
    assert label("scope", "tengzhou", "zh") == "滕州市"  # a district's own pool
    assert label("sector", "no_such_sector", "zh") == "no_such_sector"  # shown as itself


def scan_folder(folder: Path, lang: str) -> int:
    """Every CSV of a result folder as people read it in ``lang``: each header is the label
    of its column in ``lang``; each code column is followed by its labels, and every code in
    it has one; Chinese sentences hold no English beyond ``ALLOWED``. Returns the number of
    files scanned."""
    to_code = headers_to_columns()
    known = set(to_code.values())
    files = sorted(folder.glob("*.csv"))
    for path in files:
        raw = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        codes = [to_code.get(h, h) for h in raw.columns]
        for head, code in zip(raw.columns, codes, strict=True):
            assert code in known and head == header(code, lang), (
                f"{path.name}: column {head!r} has no label in {lang}"
            )
        for column in codes:
            kind = code_kind(column)
            if kind is None:
                continue
            at = codes.index(column)
            assert codes[at + 1] == f"{column}_label", f"{path.name}: {column} without labels"
            values = raw.iloc[:, at]
            labels = raw.iloc[:, at + 1]
            for value, shown in zip(values, labels, strict=True):
                if value:
                    assert shown == lookup(kind, value, lang), (
                        f"{path.name}: {column} {value!r} has no label in {lang}"
                    )
                    if lang == "zh" and kind != "unit":
                        assert CJK.search(shown), f"{path.name}: {column} {value!r} → {shown!r}"
        if lang == "zh":
            for column in (
                "explanation",
                "reason_detail",
                "marginal_note",
                "note_label",
                "problem",
            ):
                if column in codes:
                    for text in raw.iloc[:, codes.index(column)]:
                        english = set(re.findall(r"[A-Za-z_]{3,}", text)) - ALLOWED
                        assert not english, f"{path.name}: {column} {text!r} has {english}"
    return len(files)


@pytest.mark.solver
def test_a_result_folder_in_english_reads_back_as_the_chinese_one(tmp_path):
    """The same scenario solved with --lang en and with the default (zh): every file scans
    clean in its language, and reading either back gives the same codes and figures."""
    site_city(tmp_path)
    rows = [proj("P-1", 15), proj("P-2", 15), proj("P-3", 15, earliest_year=2030, latest_year=2031)]
    path = land_scenario(tmp_path, rows, supplies(0), **ONE_YEAR)
    folders = {}
    for lang in LANGS:
        folders[lang] = tmp_path / lang
        extra = [] if lang == "zh" else ["--lang", "en"]
        done = CliRunner().invoke(app, ["solve", str(path), "--out", str(folders[lang]), *extra])
        assert done.exit_code == 0, done.output
        assert scan_folder(folders[lang], lang) >= 8
        with closing(sqlite3.connect(folders[lang] / "reuse_list.gpkg")) as db:  # field aliases
            aliases = dict(db.execute("SELECT column_name, name FROM gpkg_data_columns "
                                      "WHERE table_name = 'findings'").fetchall())  # fmt: skip
        assert aliases["parcel_id"] == header("parcel_id", lang)
        assert aliases["rule_label"] == header("rule_label", lang) and "geometry" not in aliases
        assert len(gpd.read_file(folders[lang] / "reuse_list.gpkg", layer="findings")) > 0
    for name in ("allocations.csv", "resources.csv", "reuse_list.csv", "findings.csv"):
        zh, en = (read_table(folders[lang] / name) for lang in LANGS)
        labels = [c for c in zh.columns if c.endswith("_label")]
        sentences = ["explanation", "reason_detail", "marginal_note", "note"]
        pd.testing.assert_frame_equal(zh.drop(columns=labels + sentences, errors="ignore"),
                                      en.drop(columns=labels + sentences, errors="ignore"))  # fmt: skip


def test_every_rule_a_table_breaks_is_said_in_chinese():
    """The rules of the table checks (models.tables.parse_table, the Chinese-input checks),
    each broken once, are said in Chinese with their figures; in English as the rule."""
    from allocator.inputs import _in_codes
    from allocator.words import rule_words, said
    from models.tables import PARCELS, PROJECTS, parse_table
    from tests.conftest import project

    rows = [project(project_id="P-1", land_mu="lots", jobs="", build_years=2.5,
                    readiness=3, tech_score=-1, district="mars", requires="P-9;mars"),
            project(project_id="P-1"), project(project_id="合计")]  # fmt: skip
    raw = pd.DataFrame(rows).assign(unknown_column=1, 单位=1).drop(columns="name")
    raw = raw.rename(columns={"energy_tce_per_year": "energy_gj_per_year"})
    coded, found = _in_codes(raw.astype(str), PROJECTS, "p.csv", [], {"district": ["tengzhou"]})
    _, more = parse_table(coded, PROJECTS, "p.csv", choices={"requires": ["P-1"]})
    dated = pd.DataFrame({"parcel_id": ["A"], "transfer_date": ["someday"], "government_delay": ["maybe"]})  # fmt: skip
    _, dates = parse_table(dated, PARCELS, "parcels.gpkg")
    problems = found + more + dates
    yes_no, _ = parse_table(pd.DataFrame({"government_delay": ["是", "否"]}), PARCELS, "x")
    assert yes_no["government_delay"].tolist() == [True, False]  # as the result files say them
    templates = {p.template or p.rule for p in problems}
    for part in ("must be ≥", "must be ≤", "must be a whole number", "must not be empty",
                 "must be a finite number", "must be one of", "duplicate id", "total row",
                 "unknown column", "required column", "column is in unit", "`;`-separated",
                 "must be a date", "must be true or false"):  # fmt: skip
        assert any(part in t for t in templates), part
    for p in problems:
        zh = rule_words(p, "zh")
        assert CJK.search(zh) and zh != p.rule, p
        assert "{" not in zh and rule_words(p, "en") == p.rule
        assert said(p, "en") == str(p) and said(p, "zh").startswith(p.file)


def test_catalogue_messages_are_their_english_rules():
    """A ``msg.`` entry's key is the rule in English (or a pydantic error type); its two
    texts name the same figures."""
    import string

    def names(text: str) -> set[str]:
        return {f[1] for f in string.Formatter().parse(text) if f[1]}

    for key, words in WORDS.items():
        if key.startswith("msg.") and not key.startswith("msg.pydantic:"):
            assert words["en"] == key.removeprefix("msg."), key
        if key.startswith(("msg.", "note.", "text.")) and not key.startswith("msg.pydantic:"):
            assert names(words["zh"]) == names(words["en"]), key


def test_every_rule_written_with_figures_has_its_chinese_words():
    """Each ``Problem.of`` and ``Refused`` template written in the code as text (read from
    the source) has its ``msg.`` entry, so that no such message stays English in Chinese."""
    import ast

    root = Path(__file__).resolve().parents[1]
    found = []
    for path in sorted([*root.glob("allocator/**/*.py"), *root.glob("api/**/*.py"),
                        *root.glob("models/**/*.py")]):  # fmt: skip
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            f = node.func
            named = (isinstance(f, ast.Name) and f.id == "Refused") or (
                isinstance(f, ast.Attribute) and f.attr == "of"
                and isinstance(f.value, ast.Name) and f.value.id == "Problem"
            )  # fmt: skip
            template = node.args[1]
            if named and isinstance(template, ast.Constant) and isinstance(template.value, str):
                found.append((path.name, template.value))
    assert len(found) >= 30
    missing = [(name, t) for name, t in found if f"msg.{t}" not in WORDS]
    assert not missing, missing


def test_a_scenario_that_breaks_its_own_rules_is_said_in_chinese(tmp_path):
    """Rules checked inside the scenario model (pydantic errors, ours and the library's) have
    Chinese words with their figures; the English stays the library's message."""
    from allocator.errors import InputError
    from allocator.inputs import validated
    from allocator.words import rule_words, said

    bad = {"name": "../x", "horizon": {"start": 2030, "end": 2027}, "lang": "fr", "nope": 1,
           "solver": {"time_limit_s": -1}}  # fmt: skip
    with pytest.raises(InputError) as info:
        validated(bad, "s.yaml")
    problems = {p.field: p for p in info.value.problems}
    assert set(problems) == {"name", "horizon", "lang", "nope", "solver.time_limit_s"}
    for p in problems.values():
        assert CJK.search(rule_words(p, "zh")) and rule_words(p, "en") == p.rule, p
    assert rule_words(problems["horizon"], "zh") == (
        "规划期结束年 horizon.end（2027）早于开始年 horizon.start（2030）"
    )
    assert problems["horizon"].rule == "horizon.end (2027) is before horizon.start (2030)"
    assert said(problems["lang"], "zh") == "s.yaml：字段 `lang` = 'fr' 须为 'zh' or 'en'"
