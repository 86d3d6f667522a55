"""The command line: a thin layer over ``allocator.run`` and ``allocator.results``.

Exit codes: 0 solved; 1 no usable result (solver error, limit without a solution, or an
allocation the evaluator rejects: nothing written); 2 invalid input (every problem listed,
nothing written); 3 valid but infeasible (summary and diagnosis written).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from allocator.backends.base import BACKENDS, Status
from allocator.io import InputError, NoSolution, atomic_dir
from models.result import Summary

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
out_console = Console()
err = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")
EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INFEASIBLE = 0, 1, 2, 3


def _report_problems(exc: InputError) -> None:
    err.print(f"[bold red]invalid input: {len(exc.problems)} problem(s)[/]")
    for problem in exc.problems:
        err.print(f"  - {problem}", markup=False, highlight=False)


def _print_summary(s: Summary, out: Path) -> None:
    table = Table(title=f"{s.scenario}: {s.status}", show_header=True)
    table.add_column("resource")
    table.add_column("year", justify="right")
    table.add_column("supply", justify="right")
    table.add_column("purchased", justify="right")
    table.add_column("carried in", justify="right")
    table.add_column("used", justify="right")
    for u in s.resource_use:
        figures = (u.supply, u.purchased, u.carried_in, u.used)
        table.add_row(f"{u.resource} ({u.unit})", str(u.year), *(f"{v:,.0f}" for v in figures))
    out_console.print(table)
    approved = s.projects.get("approved", 0)
    out_console.print(
        f"approved {approved} of {sum(s.projects.values())} projects "
        f"({s.projects.get('ineligible', 0)} ineligible); value "
        f"{(s.objective_wan_cny or 0):,.0f} 万元; gap {(s.gap or 0):.4%}; "
        f"backend {s.backend}; build {s.build_time_s:.2f} s, solve {s.solve_time_s:.2f} s, "
        f"total {s.total_time_s:.2f} s"
    )
    if s.land:
        land = s.land
        out_console.print(
            f"land: {land['flagged_parcels']:,} of {land['parcels']:,} parcels flagged, "
            f"{land['sites']:,} reuse sites ({land['reusable_mu']:,.0f} mu); "
            f"{land['projects_on_sites']} projects placed on {land['sites_used']} sites "
            f"({land['reused_mu']:,.0f} mu), {land['new_quota_mu']:,.0f} mu of new quota"
        )
    out_console.print(f"results in {out}")


def _guarded(label: str, backend: str | None, work: Callable[[Callable[[str], None]], T]) -> T:
    """Run ``work(progress)`` under a status line; bad input exits 2, no solution exits 3."""
    if backend is not None and backend not in BACKENDS:
        err.print(f"--backend was {backend!r} but is expected to be one of {sorted(BACKENDS)}")
        raise typer.Exit(EXIT_INVALID)
    try:
        with err.status(label) as status:
            return work(lambda m: status.update(m))
    except InputError as exc:
        _report_problems(exc)
        raise typer.Exit(EXIT_INVALID) from None
    except (KeyError, ValueError) as exc:
        err.print(f"invalid input: {exc.args[0]}", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    except NoSolution as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_INFEASIBLE) from None


@app.command()
def solve(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path | None, typer.Option(help="Result folder (default out/<name>).")] = None,
    backend: Annotated[str | None, typer.Option(help=f"One of {sorted(BACKENDS)}.")] = None,
) -> None:
    """Solve a scenario and write its result folder."""
    from allocator.results import write_run
    from allocator.run import solve_scenario

    run = _guarded("solving", backend, lambda say: solve_scenario(scenario, backend, say))
    target = out or Path("out") / run.prep.scenario.name
    if run.evaluation is not None and not run.evaluation.ok:
        err.print("[bold red]the evaluator rejected the solver's allocation; nothing written:[/]")
        for v in run.evaluation.violations[:20]:
            err.print(f"  - {v}", markup=False)
        raise typer.Exit(EXIT_FAILED)
    summary = write_run(run, target)
    if run.result.status is Status.INFEASIBLE:
        err.print(summary.diagnosis.text if summary.diagnosis else "infeasible", markup=False)
        err.print(f"summary and diagnosis in {target}")
        raise typer.Exit(EXIT_INFEASIBLE)
    if not run.result.status.has_solution:
        err.print(f"no solution: {summary.status} ({summary.message}); summary in {target}")
        raise typer.Exit(EXIT_FAILED)
    _print_summary(summary, target)


@app.command()
def explain(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    project: Annotated[str, typer.Argument(help="Project id, e.g. P-0173.")],
    out: Annotated[
        Path | None, typer.Option(help="JSON file (default out/<name>/explain_<id>.json).")
    ] = None,
    backend: Annotated[str | None, typer.Option(help=f"One of {sorted(BACKENDS)}.")] = None,
) -> None:
    """Why a project is in or out, and what it would take: exact, by re-solving."""
    from allocator.io import write_json
    from allocator.whatif import what_it_would_take

    found = _guarded(
        "explaining", backend, lambda say: what_it_would_take(scenario, project, backend, say)
    )
    target = out or Path("out") / found["scenario"] / f"explain_{project}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json(found, target)
    out_console.print(found["text"], markup=False)
    out_console.print(f"details in {target}")


def _result_folder(path: Path, backend: str | None) -> Path:
    """A result folder as given, or the folder a scenario file's solve is written to."""
    if path.suffix.lower() not in (".yaml", ".yml"):
        return path
    from allocator.results import write_run
    from allocator.run import solve_scenario

    run = _guarded(f"solving {path}", backend, lambda say: solve_scenario(path, backend, say))
    target = Path("out") / run.prep.scenario.name
    write_run(run, target)
    return target


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="Result folder or scenario file (A).")],
    b: Annotated[Path, typer.Argument(help="Result folder or scenario file (B).")],
    out: Annotated[Path | None, typer.Option(help="Folder (default out/compare_<A>_<B>).")] = None,
    backend: Annotated[str | None, typer.Option(help=f"One of {sorted(BACKENDS)}.")] = None,
) -> None:
    """What changes from A to B: projects in, out or moved, resource use, value."""
    from allocator.compare import compare as diff_of
    from allocator.compare import write_comparison

    folders = [_result_folder(p, backend) for p in (a, b)]
    try:
        diff = diff_of(*folders)
    except FileNotFoundError as exc:
        err.print(f"invalid input: {exc}", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    target = out or Path("out") / f"compare_{diff['a']['scenario']}_{diff['b']['scenario']}"
    write_comparison(diff, target)
    v, n = diff["value"], diff["counts"]
    share = f" ({v['delta_share']:+.4%})" if v["delta_share"] is not None else ""
    out_console.print(
        f"{diff['a']['scenario']} → {diff['b']['scenario']}: value {v['a_wan_cny']:,.0f} → "
        f"{v['b_wan_cny']:,.0f} 万元, {v['delta_wan_cny']:+,.0f}{share}; projects in {n['in']}, "
        f"out {n['out']}, moved year {n['moved_year']}, moved site {n['moved_site']}, "
        f"moved both {n['moved_year_and_site']}"
    )
    out_console.print(f"diff in {target}")


@app.command()
def frontier(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    resource: Annotated[str, typer.Option(help="The resource whose supply varies.")],
    steps: Annotated[int, typer.Option(min=2, max=200, help="Number of supply levels.")] = 10,
    low: Annotated[float, typer.Option(min=0.0, help="Lowest supply, × the scenario's.")] = 0.5,
    high: Annotated[float, typer.Option(min=0.0, help="Highest supply, × the scenario's.")] = 1.5,
    out: Annotated[
        Path | None, typer.Option(help="CSV (default out/<name>/frontier_<r>.csv).")
    ] = None,
    backend: Annotated[str | None, typer.Option(help=f"One of {sorted(BACKENDS)}.")] = None,
) -> None:
    """Value versus the supply of one resource (the efficient frontier), as CSV."""
    from allocator.inputs import load_scenario
    from allocator.io import write_csv
    from allocator.tradeoffs import frontier as solve_frontier

    if low >= high:
        err.print(f"--low ({low}) must be below --high ({high})")
        raise typer.Exit(EXIT_INVALID)
    table = _guarded("frontier", backend,
                     lambda say: solve_frontier(scenario, resource, steps, low, high, backend, say))  # fmt: skip
    target = out or Path("out") / load_scenario(scenario).name / f"frontier_{resource}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_csv(table, target)
    out_console.print(table.to_string(index=False), markup=False, soft_wrap=True)
    out_console.print(f"frontier in {target}")


@app.command()
def alternatives(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    count: Annotated[int, typer.Option(min=1, max=100, help="Portfolios, the optimum first.")] = 5,
    within: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Largest loss vs the optimum, as a share.")
    ] = 0.01,
    out: Annotated[Path | None, typer.Option(help="Folder (default out/<name>).")] = None,
    backend: Annotated[str | None, typer.Option(help=f"One of {sorted(BACKENDS)}.")] = None,
) -> None:
    """Near-optimal portfolios that differ in at least one approved project, and how often
    each project is selected across them."""
    from allocator.inputs import load_scenario
    from allocator.io import write_csv
    from allocator.tradeoffs import alternatives as find

    found, freq = _guarded(
        "alternatives", backend, lambda say: find(scenario, count, within, backend, say)
    )
    target = out or Path("out") / load_scenario(scenario).name
    target.mkdir(parents=True, exist_ok=True)
    write_csv(found, target / "alternatives.csv")
    write_csv(freq, target / "selection_frequency.csv")
    out_console.print(found.to_string(index=False), markup=False, soft_wrap=True)
    steady = int((freq["frequency"] == 1).sum())
    out_console.print(f"{steady} projects in every portfolio, "
                      f"{int(freq['frequency'].between(0, 1, inclusive='neither').sum())} in some; "
                      f"results in {target}")  # fmt: skip


@app.command()
def sensitivity(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    cap: Annotated[float, typer.Option(min=0.0, help="Largest weight tried.")] = 1.0,
    tol: Annotated[float, typer.Option(min=1e-6, help="Bisection precision.")] = 0.01,
    criteria: Annotated[
        str | None, typer.Option(help="Comma-separated criteria (default: every weighted one).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="CSV (default out/<name>/weight_ranges.csv).")
    ] = None,
    backend: Annotated[str | None, typer.Option(help=f"One of {sorted(BACKENDS)}.")] = None,
) -> None:
    """For each bonus weight, the range over which the approved set stays the same."""
    from allocator.inputs import load_scenario
    from allocator.io import write_csv
    from allocator.tradeoffs import weight_ranges

    only = [c.strip() for c in criteria.split(",")] if criteria else None
    table = _guarded(
        "weight ranges", backend, lambda say: weight_ranges(scenario, cap, tol, backend, say, only)
    )
    target = out or Path("out") / load_scenario(scenario).name / "weight_ranges.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_csv(table, target)
    out_console.print(table.to_string(index=False), markup=False, soft_wrap=True)
    out_console.print(f"weight ranges in {target}")


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")]) -> None:
    """Check a scenario and its tables; print every problem."""
    from allocator.inputs import load_inputs
    from allocator.prepare import prepare
    from allocator.run import check_locks

    try:
        inputs = load_inputs(scenario)
        prep = prepare(inputs)
        check_locks(prep)
    except InputError as exc:
        _report_problems(exc)
        raise typer.Exit(EXIT_INVALID) from None
    reasons = prep.eligibility.reason
    out_console.print(
        f"{scenario}: valid; {len(inputs.projects)} projects, "
        f"{int((reasons == '').sum())} eligible, {int((reasons != '').sum())} ineligible or "
        f"not offered; {len(inputs.supplies)} supply rows"
    )


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


land_app = typer.Typer(no_args_is_help=True, help="Idle and low-efficiency land, reuse sites.")
app.add_typer(land_app, name="land")


@land_app.command("scan")
def land_scan(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path | None, typer.Option(help="Folder (default out/<name>-land).")] = None,
    lang: Annotated[str, typer.Option(help="CSV headers: en or zh (台账).")] = "en",
    to_db: Annotated[
        str | None,
        typer.Option(
            help="Also write the reuse list to PostGIS: postgresql://…#schema.table "
            "(flagged parcels; reuse sites in <table>_sites)."
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Spatial partitions (dask-geopandas); 0: none; default: land.partitions.",
        ),
    ] = None,
) -> None:
    """Scan the parcel layer and write the reuse list, without allocating."""
    from allocator.land.layers import is_database, read_label, write_database
    from allocator.land.output import reuse_layers, write_reuse_list
    from allocator.run import land_of

    if to_db is not None and not is_database(to_db):
        err.print(f"--to-db was {to_db!r} but is expected to be postgresql://…#table")
        raise typer.Exit(EXIT_INVALID)

    if lang not in ("en", "zh"):
        err.print(f"--lang was {lang!r} but is expected to be one of ['en', 'zh']")
        raise typer.Exit(EXIT_INVALID)
    try:
        with err.status("scanning the parcel layer"):
            inputs, result = land_of(scenario, partitions)
    except InputError as exc:
        _report_problems(exc)
        raise typer.Exit(EXIT_INVALID) from None
    sc = inputs.scenario
    target = out or Path("out") / f"{sc.name}-land"
    with atomic_dir(target) as tmp:
        write_reuse_list(result, tmp, sc.as_of.isoformat(), lang)
    if to_db is not None:
        layers = reuse_layers(result, sc.as_of.isoformat())
        try:
            write_database(layers["findings"], to_db)
            write_database(layers["sites"], to_db + "_sites")
        except InputError as exc:
            _report_problems(exc)
            raise typer.Exit(EXIT_INVALID) from None
        out_console.print(f"reuse list written to {read_label(to_db)} and …_sites", markup=False)
    codes = result.findings[result.findings["result"] == "finding"]["rule"].value_counts()
    table = Table(title=f"{sc.name}: land scan as of {sc.as_of}")
    table.add_column("finding")
    table.add_column("parcels", justify="right")
    for code, count in codes.items():
        table.add_row(str(code), f"{count:,}")
    out_console.print(table)
    took = "from the cache" if result.cached else f"in {result.seconds:.1f} s"
    out_console.print(
        f"{len(result.parcels):,} parcels scanned {took}; {len(result.reuse_list):,} flagged; "
        f"{len(result.sites):,} reuse sites, {result.sites['area_mu'].sum():,.0f} mu; "
        f"{len(result.warnings)} warnings"
    )
    out_console.print(f"reuse list in {target}")


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
) -> None:
    """Solve many variants of a scenario as Dask tasks: one row per variant, and each
    project's approval frequency across them (CSV and Parquet)."""
    from rich.progress import Progress

    from allocator.inputs import load_scenario
    from allocator.io import write_csv
    from allocator.sweep import run_sweep, variants

    def work(say: Callable[[str], None]) -> tuple[pd.DataFrame, pd.DataFrame]:
        settings = variants(grid, samples, seed)
        say(f"{len(settings)} variants")
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("solving variants", total=len(settings))
            return run_sweep(scenario, settings, scheduler, workers,
                             lambda done, _total: bar.update(task, completed=done))  # fmt: skip

    table, freq = _guarded("sweep", None, work)
    target = out or Path("out") / load_scenario(scenario).name / "sweep"
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
def report(
    result: Annotated[Path, typer.Argument(help="Result folder (from allocator solve).")],
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
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
    from allocator.report import LANGS, write_report

    if lang not in LANGS:
        err.print(f"--lang was {lang!r} but is expected to be one of {', '.join(LANGS)}")
        raise typer.Exit(EXIT_INVALID)
    for folder in (result, compare_with):
        if folder is not None and not (folder / "summary.json").exists():
            err.print(f"{folder}: not a result folder (no summary.json)", markup=False)
            raise typer.Exit(EXIT_INVALID)
    if tiles is not None and not tiles.startswith(("https://", "http://")):
        err.print(f"--tiles was {tiles!r} but is expected to be an http(s) URL template")
        raise typer.Exit(EXIT_INVALID)
    target = write_report(result, lang, compare_with, out, tiles)
    out_console.print(f"report in {target.resolve()}", markup=False, highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Run the HTTP scenario service (settings from ALLOCATOR_* environment variables)."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(), host=host, port=port, proxy_headers=False)


keys = typer.Typer(help="API keys of the scenario service.", no_args_is_help=True)
app.add_typer(keys, name="keys")


@keys.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    role: Annotated[str, typer.Option(help="viewer, planner or admin.")] = "planner",
) -> None:
    """Create a key in the service's database; the key and its signing secret print once."""
    from sqlalchemy.orm import Session

    from api.settings import ApiSettings
    from api.store import ROLES, connect, create_key, migrate

    if role not in ROLES:
        err.print(f"--role was {role!r} but is expected to be one of {', '.join(ROLES)}")
        raise typer.Exit(EXIT_INVALID)
    settings = ApiSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings.url)
    migrate(engine)
    with Session(engine) as session, session.begin():
        row, key = create_key(session, name, role)
        out_console.print(f"id {row.id}, role {row.role}")
        out_console.print(f"key (shown once): {key}", markup=False, highlight=False)
        out_console.print(f"signing secret: {row.secret}", markup=False, highlight=False)


if __name__ == "__main__":
    app()
