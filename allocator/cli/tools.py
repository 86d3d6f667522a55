"""``generate-sample``, ``schema``, ``sweep`` and ``report``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from allocator.cli import (
    DEFAULT_CACHE,
    EXIT_INVALID,
    Cache,
    Lang,
    Say,
    app,
    err,
    guarded,
    out_console,
)
from allocator.words import DEFAULT_LANG, word

if TYPE_CHECKING:
    import pandas as pd


@app.command("generate-sample")
def generate_sample(
    out: Annotated[Path, typer.Option(help="Folder to write.")] = Path("data/sample"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20261125,
    projects: Annotated[int, typer.Option(help="Number of candidate projects.")] = 1000,
    parcels: Annotated[int, typer.Option(help="Number of parcels.")] = 20_000,
    cities: Annotated[int, typer.Option(help="More than 1: a province of that many cities.")] = 1,
    if_missing: Annotated[bool, typer.Option(help="Do nothing if the folder has data.")] = False,
) -> None:
    """Generate the synthetic sample city (deterministic for a seed)."""
    from allocator.sample import generate

    if if_missing and (out / "projects.csv").exists():
        out_console.print(f"sample data present in {out}")
        return
    generate(out, seed=seed, n_projects=projects, n_parcels=parcels, cities=cities)
    out_console.print(f"sample city written to {out}")


@app.command()
def schema(out: Annotated[Path | None, typer.Option(help="File to write.")] = None) -> None:
    """Print (or write) the JSON Schema of scenario files."""
    from models.scenario import scenario_schema

    text = json.dumps(scenario_schema(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        out_console.print_json(text)
    else:
        out.write_text(text, encoding="utf-8")


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    grid: Annotated[
        Path, typer.Option(help="Grid file: settings and values (see allocator/sweep.py).")
    ],
    samples: Annotated[
        int, typer.Option(min=0, help="Draws of the `samples` section per grid point.")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the draws.")] = 0,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a running Dask scheduler (default: a local cluster)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Local cluster workers (default: one per core).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder (default out/<name>/sweep).")] = None,
    cache: Cache = DEFAULT_CACHE,
) -> None:
    """Solve many variants of a scenario as Dask tasks: one row per variant, and each
    project's approval frequency across them (CSV and Parquet)."""
    from rich.progress import Progress

    from allocator.sources import read_scenario
    from allocator.sources.files import read_yaml
    from allocator.sweep import run_sweep, variants
    from allocator.writers.files import write_csv

    def work(say: Say) -> tuple[pd.DataFrame, pd.DataFrame]:
        settings = variants(read_yaml(grid), samples, seed, grid.name)
        say(f"{len(settings)} variants")
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("solving variants", total=len(settings))
            return run_sweep(scenario, settings, scheduler, workers,
                             lambda done, _total: bar.update(task, completed=done), cache=cache)  # fmt: skip

    table, freq = guarded("sweep", work)
    target = out or Path("out") / read_scenario(scenario).name / "sweep"
    target.mkdir(parents=True, exist_ok=True)
    for name, frame in (("variants", table), ("frequency", freq)):
        write_csv(frame, target / f"{name}.csv")
        frame.to_parquet(target / f"{name}.parquet", index=False)
    failed = table[table["status"] == "error"]
    for row in failed.itertuples():
        err.print(f"variant {row.variant} failed: {row.error}", markup=False)
    out_console.print(f"{len(table) - len(failed)} of {len(table)} variants solved; "
                      f"results in {target}", markup=False, highlight=False)  # fmt: skip


@app.command()
def template(
    out: Annotated[Path, typer.Option(help="Workbook to write (.xlsx).")] = Path("项目申报表.xlsx"),
    scenario: Annotated[
        Path | None, typer.Option(help="Scenario whose districts and sectors to offer.")
    ] = None,
    lang: Lang = None,
) -> None:
    """Write the projects workbook to fill in: headers, drop-down lists, notes."""
    from allocator.sources import read_scenario
    from allocator.writers.template import write_template
    from models.scenario import Scenario

    if out.suffix.lower() != ".xlsx":
        err.print(f"--out was {str(out)!r} but is expected to end in .xlsx", markup=False)
        raise typer.Exit(EXIT_INVALID)
    sc = guarded("reading", lambda _say: read_scenario(scenario), lang) if scenario else Scenario()
    guarded("writing", lambda _say: write_template(out, sc, lang or sc.lang), lang or sc.lang)
    out_console.print(word("text.console_written", lang or sc.lang, path=out), markup=False,
                      highlight=False)  # fmt: skip


@app.command()
def report(
    result: Annotated[Path, typer.Argument(help="Result folder (from allocator solve).")],
    lang: Lang = None,
    compare_with: Annotated[
        Path | None, typer.Option("--compare", help="A second result folder to compare with.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="HTML file (default RESULT/report.html).")
    ] = None,
    tiles: Annotated[
        str | None,
        typer.Option(help="Online tile layer URL template; off by default (works offline)."),
    ] = None,
) -> None:
    """Write one self-contained HTML report (map, charts, tables) of a result folder."""
    from allocator.compare import result_lang
    from allocator.report import write_report

    for folder in (result, compare_with):
        if folder is not None and not (folder / "summary.json").exists():
            err.print(word("text.not_a_result", lang or DEFAULT_LANG, folder=folder), markup=False)
            raise typer.Exit(EXIT_INVALID)
    if tiles is not None and not tiles.startswith(("https://", "http://")):
        err.print(f"--tiles was {tiles!r} but is expected to be an http(s) URL template")
        raise typer.Exit(EXIT_INVALID)
    target = guarded("writing the report", lambda _say: write_report(result, lang, compare_with, out, tiles), lang)  # fmt: skip
    said = lang or result_lang(result)
    out_console.print(word("text.console_written", said, path=target.resolve()), markup=False,
                      highlight=False)  # fmt: skip
