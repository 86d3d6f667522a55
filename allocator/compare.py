"""Two results side by side (``allocator compare A B``): what moved and what it is worth.

Each side is a result folder, or a scenario file that is solved first (its result written to
``out/<name>`` as ``allocator solve`` would). The diff has three parts, written as
``compare.json`` (all of it), ``projects.csv`` and ``resources.csv``:

- projects whose decision changed: ``in`` (approved in B only), ``out`` (approved in A
  only), ``moved_year``, ``moved_site`` or ``moved_year_and_site`` (approved in both);
- resource use per (resource, year, scope): supply, purchased and used in A and B, deltas;
- the value of each side and the difference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.words import DEFAULT_LANG
from allocator.writers.files import read_table, write_json, write_table
from models.result import SUPPLY_KEYS

SIDES = ("a", "b")


def result_lang(folder: Path) -> str:
    """The language a result folder's files are written in (its summary's ``lang``)."""
    stated = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return str(stated.get("lang", DEFAULT_LANG))


def load_result(folder: Path) -> dict[str, Any]:
    """summary.json, allocations.csv and resources.csv of a result folder."""
    missing = [n for n in ("summary.json", "allocations.csv", "resources.csv")
               if not (folder / n).exists()]  # fmt: skip
    if missing:
        raise FileNotFoundError(
            f"{folder}: not a result folder with a solution (missing {', '.join(missing)})"
        )
    return {
        "summary": json.loads((folder / "summary.json").read_text(encoding="utf-8")),
        "allocations": read_table(folder / "allocations.csv", {"site_id": str}),
        "resources": read_table(folder / "resources.csv"),
    }


def project_changes(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    cols = ["project_id", "status", "start_year", "site_id", "value_wan_cny", "reason"]
    both = a[cols].merge(b[cols], on="project_id", how="outer", suffixes=("_a", "_b"))
    on_a, on_b = both["status_a"] == "approved", both["status_b"] == "approved"
    year = both["start_year_a"].fillna(-1) != both["start_year_b"].fillna(-1)
    site = both["site_id_a"].fillna("") != both["site_id_b"].fillna("")
    change = np.select(
        [on_b & ~on_a, on_a & ~on_b, on_a & on_b & year & site, on_a & on_b & year, on_a & on_b & site],
        ["in", "out", "moved_year_and_site", "moved_year", "moved_site"],
        "",
    )  # fmt: skip
    out = both.assign(change=change)[change != ""]
    order = ["project_id", "change"] + [f"{c}_{s}" for c in cols[1:] for s in SIDES]
    return out[order].sort_values("project_id", ignore_index=True)


def resource_changes(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    cols = [*SUPPLY_KEYS, "unit", "supply", "purchased", "used"]
    both = a[cols].merge(b[cols], on=[*SUPPLY_KEYS, "unit"], how="outer", suffixes=("_a", "_b"))
    for c in ("supply", "purchased", "used"):
        both[f"{c}_delta"] = (both[f"{c}_b"].fillna(0) - both[f"{c}_a"].fillna(0)).round(4) + 0.0
    return both.sort_values(SUPPLY_KEYS, ignore_index=True)


def compare(a: Path, b: Path) -> dict[str, Any]:
    ra, rb = load_result(a), load_result(b)
    projects = project_changes(ra["allocations"], rb["allocations"])
    resources = resource_changes(ra["resources"], rb["resources"])
    va, vb = ra["summary"]["objective_wan_cny"], rb["summary"]["objective_wan_cny"]
    counts = projects["change"].value_counts().to_dict()
    value = {"a_wan_cny": va, "b_wan_cny": vb, "delta_wan_cny": round(vb - va, 4),
             "delta_share": round((vb - va) / abs(va), 8) if va else None}  # fmt: skip
    return {
        "a": {"folder": str(a), "scenario": ra["summary"]["scenario"],
              "status": ra["summary"]["status"], "gap": ra["summary"]["gap"]},
        "b": {"folder": str(b), "scenario": rb["summary"]["scenario"],
              "status": rb["summary"]["status"], "gap": rb["summary"]["gap"]},
        "value": value,
        "counts": {k: int(counts.get(k, 0)) for k in
                   ("in", "out", "moved_year", "moved_site", "moved_year_and_site")},
        "projects": json.loads(projects.to_json(orient="records")),
        "resources": json.loads(resources.to_json(orient="records")),
    }  # fmt: skip


def write_comparison(diff: dict[str, Any], out: Path, lang: str) -> None:
    """``compare.json`` (codes) and the two tables as people read them in ``lang``."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(diff, out / "compare.json")
    write_table(pd.DataFrame(diff["projects"]), out / "projects.csv", lang)
    write_table(pd.DataFrame(diff["resources"]), out / "resources.csv", lang)
