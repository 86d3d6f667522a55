"""Many variants of one scenario, each solved as a Dask task (``allocator sweep``).

A grid file names scenario settings by dotted path and gives the values to try; the sweep
solves every combination. With ``samples``, it also draws settings from stated
distributions (seeded), e.g. ``resources.energy.supply_factor: {uniform: [0.9, 1.1]}``.
Each variant is an ordinary scenario (the base with its settings changed) solved by the same
``solve_scenario`` as ``allocator solve``, single-threaded, so a variant gives the same
result on a cluster as alone. A variant that fails is a row with its error.

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
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from allocator.io import InputError
from models.scenario import load_document, map_sources
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
            raise ValueError(f"{dotted}: {key!r} is not a mapping in the scenario")
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


def variants(grid_file: Path, samples: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """The settings of every variant: the grid's combinations, times ``samples`` draws."""
    try:
        spec = yaml.safe_load(grid_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError([Problem(grid_file.name, f"cannot read the grid file: {exc}")]) from exc
    unknown = set(spec) - {"grid", "samples"}
    if unknown or not isinstance(spec.get("grid", {}), dict):
        raise InputError([Problem(grid_file.name, "expects the keys `grid` and `samples` only",
                                  value=", ".join(sorted(unknown)) or None)])  # fmt: skip
    grid: dict[str, Any] = spec.get("grid") or {}
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise InputError([Problem(grid_file.name, "must be a non-empty list of values",
                                      field=f"grid.{key}", value=repr(values))])  # fmt: skip
    combos = [dict(zip(grid, c, strict=True)) for c in itertools.product(*grid.values())]
    draws: dict[str, Any] = spec.get("samples") or {}
    if samples <= 0:
        return combos
    if not draws:
        raise InputError([Problem(grid_file.name, "--samples needs a `samples` section")])
    rng = np.random.default_rng(seed)
    out = []
    for combo in combos:
        for _ in range(samples):
            try:
                out.append({**combo, **{k: _draw(rng, v, k) for k, v in draws.items()}})
            except ValueError as exc:
                raise InputError([Problem(grid_file.name, str(exc))]) from exc
    return out


def _scaled_projects(doc: dict[str, Any], column: str, draw: str, folder: Path) -> dict[str, Any]:
    """The document with its projects table's ``column`` multiplied per project by draws
    ``kind(a, b) seed s`` (written as a new table in ``folder``)."""
    from allocator.io import read_table

    match = re.fullmatch(r"(\w+)\(([-\d.e]+), ([-\d.e]+)\) seed (\d+)", draw)
    if match is None or match[1] not in CONTINUOUS:
        raise ValueError(f"projects.{column}: not a draw: {draw!r}")
    kind, a, b, seed = match[1], float(match[2]), float(match[3]), int(match[4])
    table = read_table(Path(doc["data"]["projects"]))
    if column not in table.columns:
        raise ValueError(f"projects.{column}: the projects table has no such column")
    factor = _continuous(np.random.default_rng(seed), kind, a, b, len(table))
    values = pd.to_numeric(table[column], errors="coerce") * factor
    table[column] = values.round(4).astype(object).where(values.notna(), "")
    target = folder / "projects.csv"
    table.to_csv(target, index=False)
    return set_path(doc, "data.projects", str(target))


def solve_variant(base_doc: dict[str, Any], settings: dict[str, Any], cache: str | None) -> dict[str, Any]:  # fmt: skip
    """Solve one variant; a row of results (or of its error). Runs on a Dask worker."""
    if cache:
        os.environ["ALLOCATOR_CACHE"] = cache
    from allocator.run import solve_scenario

    row: dict[str, Any] = {**settings}
    try:
        doc = base_doc
        for key, value in settings.items():
            if not key.startswith("projects."):
                doc = set_path(doc, key, value)
        doc = set_path(doc, "solver.threads", 1)
        with tempfile.TemporaryDirectory(prefix="allocator-variant-") as tmp:
            for key, value in settings.items():
                if key.startswith("projects."):
                    doc = _scaled_projects(doc, key.removeprefix("projects."), value, Path(tmp))
            path = Path(tmp) / "scenario.yaml"
            path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), "utf-8")
            run = solve_scenario(path)
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
    except Exception as exc:  # a failed variant is a row, not the end of the sweep
        row.update(status="error", error=f"{type(exc).__name__}: {exc}", approved_ids=[])
    return row


def base_document(scenario: Path) -> dict[str, Any]:
    try:
        doc = load_document(scenario)
    except ValueError as exc:
        raise InputError([Problem(scenario.name, str(exc))]) from exc
    doc.pop("extends", None)
    return _absolute_data(doc, scenario.resolve().parent)


def run_sweep(
    scenario: Path,
    settings: list[dict[str, Any]],
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    serial: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per variant, each project's approval frequency) — on Dask, or serially."""
    base = base_document(scenario)
    cache = os.environ.get("ALLOCATOR_CACHE")
    cache = str(Path(cache or ".cache/allocator").resolve())
    rows: list[dict[str, Any]]
    if serial:
        rows = []
        for i, s in enumerate(settings):
            rows.append(solve_variant(base, s, cache))
            if progress:
                progress(i + 1, len(settings))
    else:
        rows = list(_on_dask(base, settings, cache, scheduler, workers, progress))
    table = pd.DataFrame(rows)
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
    settings: list[dict[str, Any]],
    cache: str,
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
        shared = client.scatter(base, broadcast=True)
        futures = [client.submit(solve_variant, shared, s, cache, pure=False) for s in settings]
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
