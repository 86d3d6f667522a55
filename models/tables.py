"""Schemas of the input tables, and a validator that reports every bad cell at once.

A table arrives as text (CSV) or typed cells (Parquet, Excel). ``parse_table`` checks the
columns (missing, unknown, or in the wrong unit), then every cell against its column's type,
range and allowed values, and returns the typed table together with the list of problems.
Rows are numbered as a spreadsheet shows them: the header is row 1, the first record row 2.

Empty cells of optional columns mean "not given" (rules on them report NOT_CHECKED);
empty cells of required columns, and the texts ``nan`` and ``inf`` anywhere, are errors.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Kind = Literal["str", "float", "int", "bool", "list", "date"]

UNIT_TOKENS = (
    "wan_cny",
    "yi_cny",
    "cny",
    "yuan",
    "usd",
    "mu",
    "ha",
    "m2",
    "km2",
    "acre",
    "tce",
    "kgce",
    "kwh",
    "mwh",
    "gwh",
    "gj",
    "tj",
    "t",
    "kg",
    "m3",
    "pct",
    "percent",
)
TRUE_WORDS = {"true", "1", "yes", "y", "t", "是"}
FALSE_WORDS = {"false", "0", "no", "n", "f", "否"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is, what it holds and the rule it breaks.

    ``rule`` is in English; a rule with figures in it also keeps its ``template`` and the
    ``figures`` (``Problem.of``), so that ``allocator.words.said`` can put it in Chinese.
    """

    file: str
    rule: str
    row: int | None = None
    field: str | None = None
    value: str | None = None
    key: str | None = None  # the record's id, e.g. the project_id of that row
    template: str = ""
    figures: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, file: str, template: str, row: int | None = None, field: str | None = None,
           value: str | None = None, key: str | None = None, **figures: object) -> Problem:  # fmt: skip
        """A problem whose rule is ``template`` (``str.format``) filled with ``figures``."""
        shown = tuple((k, str(v)) for k, v in figures.items())
        return cls(file, template.format(**dict(shown)), row, field, value, key, template, shown)

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file} row {self.row}"
        if self.key:
            where += f" ({self.key})"
        what = ""
        if self.field is not None:
            what = f" field `{self.field}`"
            if self.value is not None:
                what += f" = {self.value!r}"
        return f"{where}:{what} {self.rule}"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    doc: str = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def _c(
    name: str,
    kind: Kind,
    required: bool = True,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Column:
    return Column(name, kind, required, lo, hi, choices)


SCORE = (0.0, 100.0)
SHARE = (0.0, 1.0)
YEAR = (1990.0, 2100.0)

PROJECTS = TableSpec(
    "projects",
    "project_id",
    (
        _c("project_id", "str"),
        _c("name", "str"),
        _c("firm_id", "str", False),
        _c("district", "str"),
        _c("park", "str", False),
        _c("sector", "str"),
        _c("kind", "str", choices=("new", "expansion", "tech_upgrade", "infrastructure")),
        _c("major_level", "str", choices=("provincial", "municipal", "none")),
        _c("two_high_segment", "str", False),
        _c("cluster", "str", False),
        _c("investment_wan_cny", "float", lo=0.0),
        _c("land_mu", "float", lo=0.0),
        _c("existing_parcel_id", "str", False),
        _c("plot_ratio", "float", False, lo=0.0),
        _c("building_coverage", "float", False, *SHARE),
        _c("office_share", "float", False, *SHARE),
        _c("energy_tce_per_year", "float", lo=0.0),
        _c("feedstock_energy_tce_per_year", "float", False, lo=0.0),
        _c("coal_t_per_year", "float", lo=0.0),
        _c("bond_wan_cny", "float", lo=0.0),
        _c("bond_term_years", "int", False, lo=1.0, hi=50.0),
        _c("bond_rate", "float", False, *SHARE),
        _c("annual_net_revenue_wan_cny", "float", False),
        _c("annual_output_wan_cny", "float", lo=0.0),
        _c("annual_value_added_wan_cny", "float", lo=0.0),
        _c("annual_tax_wan_cny", "float", lo=0.0),
        _c("jobs", "int", lo=0.0),
        _c("tech_score", "float", True, *SCORE),
        _c("chain_score", "float", True, *SCORE),
        _c("environment_score", "float", True, *SCORE),
        _c("readiness", "float", True, *SHARE),
        _c("build_years", "int", lo=0.0, hi=10.0),
        _c("earliest_year", "int", True, *YEAR),
        _c("latest_year", "int", True, *YEAR),
        _c("requires", "list", False),
        _c("excludes", "list", False),
        _c("lon", "float", False, lo=-180.0, hi=180.0),
        _c("lat", "float", False, lo=-90.0, hi=90.0),
    ),
)

FIRMS = TableSpec(
    "firms",
    "firm_id",
    (
        _c("firm_id", "str"),
        _c("name", "str"),
        _c("district", "str", False),
        _c("sector", "str", False),
        _c("above_scale", "bool"),
        _c("revenue_wan_cny", "float", lo=0.0),
        _c("value_added_wan_cny", "float"),
        _c("tax_wan_cny", "float", lo=0.0),
        _c("energy_tce", "float", lo=0.0),
        _c("coal_t", "float", False, lo=0.0),
        _c("pollutant_equivalent_t", "float", lo=0.0),
        _c("rd_wan_cny", "float", lo=0.0),
        _c("employees", "int", lo=0.0),
        _c("land_mu", "float", lo=0.0),
    ),
)

SUPPLIES = TableSpec(
    "supplies",
    "resource",
    (
        _c("resource", "str"),
        _c("year", "int", True, *YEAR),
        _c("scope", "str"),
        _c("amount", "float", lo=0.0),
        _c("price_wan_cny_per_unit", "float", False, lo=0.0),
        _c("purchase_cap", "float", False, lo=0.0),
    ),
)

PARCELS = TableSpec(
    "parcels",
    "parcel_id",
    (
        _c("parcel_id", "str"),
        _c("unit_id", "str", False),
        _c("district", "str"),
        _c("park", "str", False),
        _c("stated_area_mu", "float", False, lo=0.0),
        _c("land_use_code", "str"),
        _c("firm_id", "str", False),
        _c("approved_date", "date", False),
        _c("transfer_date", "date", False),
        _c("agreed_start_date", "date", False),
        _c("extended_start_date", "date", False),
        _c("status", "str", choices=("not_started", "under_construction", "halted", "completed")),
        _c("halted_since", "date", False),
        _c("developed_area_share", "float", True, *SHARE),
        _c("invested_share", "float", True, *SHARE),
        _c("land_price_wan_cny", "float", lo=0.0),
        _c("floor_area_m2", "float", lo=0.0),
        _c("building_coverage", "float", False, *SHARE),
        _c("government_delay", "bool", False),
    ),
)

PARKS = TableSpec(
    "parks",
    "park",
    (
        _c("park", "str"),
        _c("name", "str", False),
        _c("district", "str"),
        _c("zone_level", "str", choices=("national", "provincial", "other")),
        _c("leading_sectors", "list"),
        _c("chemical_park", "bool"),
    ),
)


def _stem(column: str) -> str:
    """The column name with its unit token(s) replaced by ``*``: land_ha -> land_*."""
    parts = column.lower().split("_")
    out: list[str] = []
    i = 0
    while i < len(parts):
        two = "_".join(parts[i : i + 2])
        if two in UNIT_TOKENS:
            out.append("*")
            i += 2
        elif parts[i] in UNIT_TOKENS:
            out.append("*")
            i += 1
        else:
            out.append(parts[i])
            i += 1
    return "_".join(out)


def _unit(column: str) -> str:
    """The unit token named in a column, for messages."""
    stem = _stem(column).split("_")
    parts = column.split("_")
    # The unit is what the first ``*`` replaced: the column minus the stem's other words.
    left = stem.index("*") if "*" in stem else len(stem)
    right = len(stem) - left - 1
    return "_".join(parts[left : len(parts) - right])


def _cells_as_text(series: pd.Series) -> pd.Series:
    """Every cell as stripped text; missing cells (None, NaN, NaT) as ''."""

    def text(value: object) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if value is pd.NaT or value is pd.NA:
            return ""
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        if isinstance(value, dt.datetime):  # a date cell of Excel or a GeoPackage
            return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        return str(value).strip()

    if series.dtype == object:  # mixed types: 1, 1.0 and True hash alike but print apart
        return series.map(text).astype(object)
    if pd.api.types.is_string_dtype(series.dtype):
        cells = series.to_numpy(dtype=object, na_value="")
        return pd.Series([c.strip() for c in cells], index=series.index, dtype=object)
    codes, uniques = pd.factorize(series)  # one type: equal cells print alike
    texts = np.array([text(v) for v in uniques] + [""], dtype=object)  # code -1: missing
    return pd.Series(texts[codes], index=series.index, dtype=object)


def _check_columns(
    frame: pd.DataFrame, spec: TableSpec, file: str, extra: Iterable[str]
) -> list[Problem]:
    problems: list[Problem] = []
    expected = {c.name for c in spec.columns} | set(extra)
    present = [str(c) for c in frame.columns]
    unknown = [c for c in present if c not in expected]
    missing = [c.name for c in spec.columns if c.required and c.name not in present]
    missing += [c for c in extra if c not in present]
    for col in unknown:
        twin = next(
            (e for e in sorted(expected) if _stem(e) == _stem(col) and "*" in _stem(e)), None
        )
        if twin is not None:
            problems.append(
                Problem.of(
                    file,
                    "column is in unit `{unit}`, but the table expects `{twin}` in "
                    "`{twin_unit}`: convert the values and rename the column",
                    field=col,
                    unit=_unit(col),
                    twin=twin,
                    twin_unit=_unit(twin),
                )
            )
            if twin in missing:
                missing.remove(twin)
        else:
            hint = ", or list it in data.extra_project_columns" if spec is PROJECTS else ""
            problems.append(Problem(file, f"unknown column: remove it{hint}", field=col))
    for col in missing:
        problems.append(Problem(file, "required column is missing", field=col))
    dupes = sorted({c for c in present if present.count(c) > 1})
    for col in dupes:
        problems.append(Problem(file, "column appears more than once", field=col))
    return problems


def one_of(choices: tuple[str, ...]) -> str:
    """The allowed values, the first twelve of a longer list and their number."""
    shown = ", ".join(choices[:12])
    return shown if len(choices) <= 12 else f"{shown}, … ({len(choices)} in all)"


Check = tuple[pd.Series, str, dict[str, str]]  # bad cells, rule template, its figures


def _parse_column(
    text: pd.Series, column: Column, choices: tuple[str, ...] | None
) -> tuple[pd.Series, list[Check]]:
    """Parse one column of text; return the values and the checks (``Check``)."""
    empty = text == ""
    lowered = text.str.lower()
    if column.kind == "str":
        if choices is None:
            return text.where(~empty, None), []
        return text.where(~empty, None), [
            (
                ~empty & ~text.isin(choices),
                "must be one of: {choices}",
                {"choices": one_of(choices)},
            )
        ]
    if column.kind == "list":
        values = text.map(lambda s: tuple(x.strip() for x in s.split(";") if x.strip()))
        if choices is None:
            return values, []
        allowed = set(choices)
        bad = values.map(lambda items: any(x not in allowed for x in items)).astype(bool)
        return values, [(bad, "every `;`-separated item must be one of: {choices}",
                         {"choices": one_of(choices)})]  # fmt: skip
    if column.kind == "date":
        dates = pd.to_datetime(text.where(~empty, None), format="ISO8601", errors="coerce")
        return dates, [(~empty & dates.isna(), "must be a date, YYYY-MM-DD", {})]
    if column.kind == "bool":
        ok = lowered.isin(TRUE_WORDS | FALSE_WORDS)
        return lowered.isin(TRUE_WORDS).where(~empty, None), [
            (~empty & ~ok, "must be true or false", {})
        ]
    numbers = pd.to_numeric(text.where(~empty, None), errors="coerce").astype(float)
    not_number = ~empty & (numbers.isna() | ~np.isfinite(numbers.fillna(0.0)))
    not_number |= lowered.isin({"nan", "inf", "-inf", "+inf", "infinity", "-infinity"})
    checks: list[Check] = [
        (not_number, "must be a finite number (NaN, infinity and text are not allowed)", {})
    ]
    given = ~empty & ~not_number
    if column.kind == "int":
        checks.append((given & (numbers.round() != numbers), "must be a whole number", {}))
    if column.min is not None:
        checks.append((given & (numbers < column.min), "must be ≥ {min}", {"min": f"{column.min:g}"}))  # fmt: skip
    if column.max is not None:
        checks.append((given & (numbers > column.max), "must be ≤ {max}", {"max": f"{column.max:g}"}))  # fmt: skip
    return numbers.where(~not_number), checks


def parse_table(
    frame: pd.DataFrame,
    spec: TableSpec,
    file: str,
    choices: Mapping[str, Iterable[str]] | None = None,
    extra_columns: Iterable[str] = (),
) -> tuple[pd.DataFrame, list[Problem]]:
    """Check and type a raw table; return the typed table and every problem found.

    ``choices`` adds allowed values to columns (districts and sectors come from the
    scenario); ``extra_columns`` are further numeric columns the scenario needs (demand
    columns of declared resources, filter columns).

    >>> raw = pd.DataFrame({"resource": ["energy"], "year": ["2027"], "scope": ["city"],
    ...                     "amount": ["-5"]})
    >>> _, problems = parse_table(raw, SUPPLIES, "supplies.csv")
    >>> print(problems[0])
    supplies.csv row 2 (energy): field `amount` = '-5' must be ≥ 0
    """
    choices = dict(choices or {})
    extra = [c for c in extra_columns if spec.column(c) is None]
    problems = _check_columns(frame, spec, file, extra)
    columns = [c for c in spec.columns if c.name in frame.columns]
    columns += [Column(c, "float", min=0.0) for c in extra if c in frame.columns]
    frame = frame.reset_index(drop=True)
    key_col = spec.key if spec.key in frame.columns else None
    keys = _cells_as_text(frame[key_col]) if key_col else pd.Series("", index=frame.index)
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        text = _cells_as_text(frame[column.name])
        allowed = tuple(choices[column.name]) if column.name in choices else column.choices
        values, checks = _parse_column(text, column, allowed)
        if column.required and column.kind != "list":
            checks.insert(0, (text == "", "must not be empty", {}))
        for bad, rule, figures in checks:
            for i in text.index[bad]:
                row, key = int(i) + 2, keys[i] or None
                problems.append(Problem.of(file, rule, row, column.name, text[i], key, **figures))
        out[column.name] = values
    for column in spec.columns:  # absent optional columns: present, every cell "not given"
        if column.name not in out.columns and not column.required:
            empty = pd.Series("", index=out.index, dtype=object)
            out[column.name] = _parse_column(empty, column, None)[0]
    if key_col and spec is not SUPPLIES:
        dup = keys.duplicated(keep="first") & (keys != "")
        for i in keys.index[dup]:
            problems.append(Problem(file, "duplicate id", int(i) + 2, key_col, keys[i]))
    return out, problems
