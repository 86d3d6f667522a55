"""Many variants of one scenario, each solved as a Dask task (``allocator sweep``).

A grid file names scenario settings by dotted path and gives the values to try; the sweep
solves every combination. With ``samples``, it also draws settings from stated
distributions (seeded), e.g. ``resources.energy.supply_factor: {uniform: [0.9, 1.1]}``.
Each variant is an ordinary scenario (the base with its settings changed) solved by the same
``allocator.engine.solve`` as ``allocator solve``, single-threaded, so a variant gives the
same result on a cluster as alone. The base's tables are read once and sent to the workers
in memory (a variant that changes ``data.*`` reads its own). A variant that fails is a row
with its error.

Grid file::

    grid:                                   # every combination
      resources.energy.supply_factor: [0.9, 1.0]
      objective.bonus_weights.jobs: [0.0, 0.05]
    samples:                                # with --samples N: N draws of these
      resources.coal.supply_factor: {uniform: [0.9, 1.1]}
      freed_share: {normal: [0.8, 0.05]}
      projects.annual_value_added_wan_cny: {lognormal: [0.0, 0.1]}

A ``projects.<column>`` entry multiplies that column of the projects table by an independent
draw per project (uncertain project values); the variant's row shows the distribution and
the seed of its draws, e.g. ``lognormal(0.0, 0.1) seed 1234``.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.engine import Options, solve
from allocator.errors import AllocatorError, InputError, internal_error
from allocator.inputs import Tables, check_inputs, validated
from allocator.sources import read_tables
from allocator.sources.files import read_document
from models.scenario import map_sources
from models.tables import Problem

CONTINUOUS = ("uniform", "normal", "lognormal")  # numpy Generator methods: (a, b, size)
DISTRIBUTIONS = (*CONTINUOUS, "choice")


def _continuous(rng: np.random.Generator, kind: str, a: float, b: float, size: int | None = None) -> Any:  # fmt: skip
    """Draws of one of ``CONTINUOUS`` (a float, or ``size`` of them)."""
    return getattr(rng, kind)(a, b, size)


def _absolute_data(doc: dict[str, Any], base: Path) -> dict[str, Any]:
    """The document with its data paths made absolute (variants are written elsewhere)."""

    def absolute(value: str) -> str:
        if "://" in value:  # a database URL stays as it is
            return value
        path, _, layer = value.partition("#")
        full = str((base / path).resolve())
        return f"{full}#{layer}" if layer else full

    return {**doc, "data": map_sources(doc.get("data") or {}, absolute)}


def set_path(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with the setting at ``dotted`` (``a.b.c``) replaced."""
    out = copy.deepcopy(doc)
    node = out
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            rule = f"{key!r} is not a mapping in the scenario"
            raise InputError([Problem("grid", rule, field=dotted)])
    node[leaf] = value
    return out


def _draw(rng: np.random.Generator, spec: Any, where: str) -> Any:
    if where.startswith("projects."):  # a factor per project, drawn where the variant runs
        kind, args = next(iter(spec.items())) if isinstance(spec, dict) and len(spec) == 1 else ("", ())  # fmt: skip
        if kind not in CONTINUOUS:
            raise ValueError(f"samples.{where}: give uniform, normal or lognormal, e.g. "
                             f"{{lognormal: [0.0, 0.1]}}; got {spec!r}")  # fmt: skip
        a, b = (float(x) for x in args)
        return f"{kind}({a}, {b}) seed {int(rng.integers(2**31))}"
    if not (isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in DISTRIBUTIONS):
        raise ValueError(f"samples.{where}: give one of {', '.join(DISTRIBUTIONS)}, e.g. "
                         f"{{uniform: [0.9, 1.1]}}; got {spec!r}")  # fmt: skip
    kind, args = next(iter(spec.items()))
    if kind == "choice":
        return args[int(rng.integers(len(args)))]
    a, b = (float(x) for x in args)
    return round(float(_continuous(rng, kind, a, b)), 6)


def variants(spec: Any, samples: int = 0, seed: int = 0, label: str = "grid") -> list[dict[str, Any]]:  # fmt: skip
    """The settings of every variant of a grid document (``label`` names it in messages):
    the grid's combinations, times ``samples`` draws."""
    spec = spec or {}
    unknown = set(spec) - {"grid", "samples"} if isinstance(spec, dict) else {"(not a mapping)"}
    if unknown or not isinstance(spec.get("grid", {}), dict):
        raise InputError([Problem(label, "expects the keys `grid` and `samples` only",
                                  value=", ".join(sorted(unknown)) or None)])  # fmt: skip
    grid: dict[str, Any] = spec.get("grid") or {}
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise InputError([Problem(label, "must be a non-empty list of values",
                                      field=f"grid.{key}", value=repr(values))])  # fmt: skip
    combos = [dict(zip(grid, c, strict=True)) for c in itertools.product(*grid.values())]
    draws: dict[str, Any] = spec.get("samples") or {}
    if not isinstance(draws, dict):
        raise InputError(
            [Problem(label, "must be a mapping of settings to draws", field="samples")]
        )
    if samples <= 0:
        return combos
    if not draws:
        raise InputError([Problem(label, "--samples needs a `samples` section")])
    rng = np.random.default_rng(seed)
    out = []
    for combo in combos:
        for _ in range(samples):
            try:
                out.append({**combo, **{k: _draw(rng, v, k) for k, v in draws.items()}})
            except ValueError as exc:
                raise InputError([Problem(label, str(exc))]) from exc
    return out


def _scaled_projects(tables: Tables, column: str, draw: str) -> Tables:
    """The tables with the projects' ``column`` multiplied per project by draws
    ``kind(a, b) seed s``."""
    match = re.fullmatch(r"(\w+)\(([-\d.e]+), ([-\d.e]+)\) seed (\d+)", draw)
    if match is None or match[1] not in CONTINUOUS:
        raise InputError([Problem("grid", "not a draw", field=f"projects.{column}", value=draw)])
    kind, a, b, seed = match[1], float(match[2]), float(match[3]), int(match[4])
    table = tables.projects
    if table is None or column not in table.columns:
        rule = "the projects table has no such column"
        raise InputError([Problem("grid", rule, field=f"projects.{column}")])
    factor = _continuous(np.random.default_rng(seed), kind, a, b, len(table))
    values = pd.to_numeric(table[column], errors="coerce") * factor
    scaled = table.assign(**{column: values.round(4).astype(object).where(values.notna(), "")})
    hashes = {k: v for k, v in tables.hashes.items() if k != "projects"}  # no longer the file
    return replace(tables, projects=scaled, hashes=hashes)


def _variant(base_doc: dict[str, Any], tables: Tables, settings: dict[str, Any]) -> Any:
    """The checked inputs of one variant."""
    doc = base_doc
    for key, value in settings.items():
        if not key.startswith("projects."):
            doc = set_path(doc, key, value)
    scenario = validated(doc, "variant")
    if doc.get("data") != base_doc.get("data"):  # other files: read them
        tables, problems = read_tables(scenario.data, Path("/"))
        if problems:
            raise InputError(problems)
    for key, value in settings.items():
        if key.startswith("projects."):
            tables = _scaled_projects(tables, key.removeprefix("projects."), value)
    return check_inputs(scenario, tables)


def solve_variant(base_doc: dict[str, Any], tables: Tables, settings: dict[str, Any],
                  cache: str | None) -> dict[str, Any]:  # fmt: skip
    """Solve one variant; a row of results (or of its error). Runs on a Dask worker."""
    row: dict[str, Any] = {**settings}
    try:
        options = Options(threads=1, cache=Path(cache) if cache else None)
        run = solve(_variant(base_doc, tables, settings), options)
        row.update(status=run.result.status.value, error="", gap=run.result.gap)
        if run.evaluation is None or run.allocation is None:
            row.update(value_wan_cny=None, approved=None, approved_hash="", approved_ids=[])
            return row
        approved = sorted(run.allocation.starts.index)
        used = run.evaluation.resources.groupby("resource")["used"].sum()
        row.update(
            value_wan_cny=round(run.evaluation.objective, 4),
            approved=len(approved),
            approved_hash=hashlib.sha256(",".join(approved).encode()).hexdigest()[:16],
            evaluator_ok=run.evaluation.ok,
            **{f"used_{r}": round(float(v), 4) for r, v in used.items()},
            approved_ids=approved,
        )
    except InputError as exc:
        row.update(status="error", error="; ".join(str(p) for p in exc.problems), approved_ids=[])
    except AllocatorError as exc:
        row.update(status="error", error=str(exc), approved_ids=[])
    except Exception as exc:  # a bug: logged with its id, the sweep goes on
        error = f"internal error {internal_error(exc)} (a bug, not the data; see the log)"
        row.update(status="error", error=error, approved_ids=[])
    return row


def base_document(scenario: Path) -> dict[str, Any]:
    """The scenario document with its ``extends`` merged in and data paths made absolute."""
    doc = read_document(scenario)
    doc.pop("extends", None)
    return _absolute_data(doc, scenario.resolve().parent)


def run_sweep(
    scenario: Path,
    settings: list[dict[str, Any]],
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    serial: bool = False,
    cache: Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per variant, each project's approval frequency) — on Dask, or serially.
    ``cache``: the land-scan cache folder shared by the variants."""
    base = base_document(scenario)
    tables, problems = read_tables(validated(base, scenario.name).data, Path("/"))
    if problems:
        raise InputError(problems)
    folder = str(cache.resolve()) if cache is not None else None
    rows: list[dict[str, Any]]
    if serial:
        rows = []
        for i, s in enumerate(settings):
            rows.append(solve_variant(base, tables, s, folder))
            if progress:
                progress(i + 1, len(settings))
    else:
        rows = list(_on_dask(base, tables, settings, folder, scheduler, workers, progress))
    table = pd.DataFrame(rows)
    if "approved" in table:  # a count, none where a variant failed
        table["approved"] = table["approved"].astype("Int64")
    table.insert(0, "variant", range(1, len(rows) + 1))
    ids = table.pop("approved_ids")
    solved = int((table["status"] != "error").sum())
    counts: dict[str, int] = {}
    for approved in ids:
        for pid in approved:
            counts[pid] = counts.get(pid, 0) + 1
    freq = pd.DataFrame(sorted(counts.items()), columns=["project_id", "approved_in"])
    freq["frequency"] = (freq["approved_in"] / max(solved, 1)).round(6)
    return table, freq


def _on_dask(
    base: dict[str, Any],
    tables: Tables,
    settings: list[dict[str, Any]],
    cache: str | None,
    scheduler: str | None,
    workers: int | None,
    progress: Callable[[int, int], None] | None,
) -> Iterator[dict[str, Any]]:
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None)  # fmt: skip
    client = Client(scheduler or cluster)
    try:
        doc, given = client.scatter([base, tables], broadcast=True)
        futures = [client.submit(solve_variant, doc, given, s, cache, pure=False) for s in settings]
        order = {f.key: i for i, f in enumerate(futures)}
        results: list[dict[str, Any] | None] = [None] * len(futures)
        for done, future in enumerate(as_completed(futures), start=1):
            results[order[future.key]] = future.result()
            if progress:
                progress(done, len(futures))
        yield from (r for r in results if r is not None)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
