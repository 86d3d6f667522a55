"""The result folder of a run, written atomically (``allocator.compare.load_result`` reads
it back without loading the engine).

Files: ``allocations.csv`` (one row per project), ``resources.csv`` (one row per resource,
year and scope), ``eligibility.csv`` (every rule checked, with figure and threshold),
``explanations.json``, ``placements.csv`` and the reuse list (with a parcel layer),
``summary.json``, ``result.xlsx`` (the 台账 workbook, ``writers.workbook``) and, when
infeasible, ``diagnosis.json``. CSV files are UTF-8 with BOM,
their headers and labels in the scenario's language (``writers.files.write_table``).
"""

from __future__ import annotations

from pathlib import Path

from allocator.explain.result import Result
from allocator.writers.files import atomic_dir, write_json, write_table
from allocator.writers.reuse import write_basemap, write_reuse_list
from allocator.writers.workbook import write_workbook
from models.result import Summary


def write_result(result: Result, out: Path) -> Summary:
    """Write the result folder atomically; return the summary written."""
    as_of = result.scenario.as_of.isoformat()
    with atomic_dir(out) as tmp:
        lang = result.lang
        write_table(result.checks, tmp / "eligibility.csv", lang)
        if result.explanations is not None:
            write_json(result.explanations, tmp / "explanations.json")
        if result.allocations is not None:
            write_table(result.allocations, tmp / "allocations.csv", lang)
        if result.resources is not None:
            write_table(result.resources, tmp / "resources.csv", lang)
        tables = {"projects": result.allocations, "resources": result.resources}
        if result.land is not None:
            layers = write_reuse_list(result.land, tmp, as_of, lang)
            tables["land"] = layers["findings"].drop(columns="geometry")
            write_basemap(result.land, result.parks, tmp, as_of, lang)
        if result.placements is not None:
            write_table(result.placements, tmp / "placements.csv", lang)
        summary = result.summary.model_dump(mode="json")
        write_json(summary, tmp / "summary.json")
        write_workbook(tmp / "result.xlsx", lang, result.scenario.as_of, summary,
                       result.scenario.model_dump(mode="json"),
                       {k: v for k, v in tables.items() if v is not None})  # fmt: skip
        if result.summary.diagnosis is not None:
            write_json(result.summary.diagnosis.model_dump(mode="json"), tmp / "diagnosis.json")
    return result.summary
