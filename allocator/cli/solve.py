"""``allocator solve``, ``validate`` and ``compare``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from allocator.cli import (
    DEFAULT_CACHE,
    EXIT_FAILED,
    EXIT_INVALID,
    Backend,
    Cache,
    Lang,
    Say,
    app,
    err,
    guarded,
    options,
    out_console,
    read,
)
from allocator.errors import AllocatorError
from allocator.words import DEFAULT_LANG, header, label, word
from models.result import Summary


def _print_summary(s: Summary, out: Path) -> None:
    """The run's balance per resource and year, and its headline, in the run's language."""
    lang = s.lang
    table = Table(title=f"{s.scenario}: {label('run', s.status, lang)}", show_header=True)
    table.add_column(header("resource_label", lang))
    for column in ("year", "supply", "purchased", "carried_in", "used"):
        table.add_column(header(column, lang), justify="right")
    for u in s.resource_use:
        figures = (u.supply, u.purchased, u.carried_in, u.used)
        name = f"{label('resource', u.resource, lang)} ({label('unit', u.unit, lang)})"
        table.add_row(name, str(u.year), *(f"{v:,.0f}" for v in figures))
    out_console.print(table)
    out_console.print(word("text.console_run", lang, approved=s.projects.get("approved", 0),
                           projects=sum(s.projects.values()),
                           ineligible=s.projects.get("ineligible", 0),
                           value=f"{(s.objective_wan_cny or 0):,.0f}", gap=f"{(s.gap or 0):.4%}",
                           backend=s.backend, build=f"{s.build_time_s:.2f}",
                           solve=f"{s.solve_time_s:.2f}", total=f"{s.total_time_s:.2f}"))  # fmt: skip
    if s.land:
        land = s.land
        out_console.print(word("text.console_land", lang,
                               flagged=f"{land['flagged_parcels']:,}", parcels=f"{land['parcels']:,}",
                               sites=f"{land['sites']:,}", reusable=f"{land['reusable_mu']:,.0f}",
                               placed=land["projects_on_sites"], used=land["sites_used"],
                               reused=f"{land['reused_mu']:,.0f}",
                               quota=f"{land['new_quota_mu']:,.0f}"))  # fmt: skip
    out_console.print(word("text.console_results", lang, folder=out))


def solved(scenario: Path, backend: str | None, cache: Path, out: Path | None = None,
           lang: str | None = None) -> tuple[Path, Summary]:  # fmt: skip
    """Solve a scenario file and write its result folder (exits when nothing is written)."""
    from allocator.engine import solve
    from allocator.explain.result import result_of
    from allocator.writers.folder import write_result

    run = guarded("solving", lambda say: solve(read(scenario), options(backend, cache, say, lang=lang)), lang)  # fmt: skip
    target = out or Path("out") / run.prep.scenario.name
    if run.evaluation is not None and not run.evaluation.ok:
        err.print(f"[bold red]{word('text.evaluator_rejected', run.lang)}[/]")
        for v in run.evaluation.violations[:20]:
            err.print(f"  - {v}", markup=False)
        raise typer.Exit(EXIT_FAILED)
    summary = guarded("writing", lambda _say: write_result(result_of(run), target), run.lang)
    try:
        run.solution()
    except AllocatorError as exc:
        err.print(str(exc), markup=False)
        err.print(word("text.console_results", summary.lang, folder=target), markup=False)
        raise typer.Exit(exc.exit_code) from None
    return target, summary


@app.command()
def solve(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path | None, typer.Option(help="Result folder (default out/<name>).")] = None,
    backend: Backend = None,
    cache: Cache = DEFAULT_CACHE,
    lang: Lang = None,
) -> None:
    """Solve a scenario and write its result folder."""
    target, summary = solved(scenario, backend, cache, out, lang)
    _print_summary(summary, target)


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    cache: Cache = DEFAULT_CACHE,
    lang: Lang = None,
) -> None:
    """Check a scenario and its tables (and scan its land) as ``solve`` does, without
    solving; print every problem."""
    from allocator.engine import prepared

    def check(say: Say) -> tuple[int, int, int, int, str]:
        inputs = read(scenario)
        prep, _ = prepared(inputs, options(None, cache, say))
        reasons = prep.eligibility.reason
        return (len(inputs.projects), int((reasons == "").sum()), int((reasons != "").sum()),
                len(inputs.supplies), inputs.scenario.lang)  # fmt: skip

    projects, eligible, out, supplies, own = guarded("checking", check, lang)
    out_console.print(word("text.console_valid", lang or own, scenario=scenario, projects=projects,
                           eligible=eligible, out=out, supplies=supplies))  # fmt: skip


def _result_folder(path: Path, backend: str | None, cache: Path) -> Path:
    """A result folder as given, or the folder a scenario file's solve is written to."""
    if path.suffix.lower() not in (".yaml", ".yml"):
        return path
    return solved(path, backend, cache)[0]


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="Result folder or scenario file (A).")],
    b: Annotated[Path, typer.Argument(help="Result folder or scenario file (B).")],
    out: Annotated[Path | None, typer.Option(help="Folder (default out/compare_<A>_<B>).")] = None,
    backend: Backend = None,
    cache: Cache = DEFAULT_CACHE,
    lang: Lang = None,
) -> None:
    """What changes from A to B: projects in, out or moved, resource use, value (in the
    language of A unless --lang says otherwise)."""
    from allocator.compare import compare as diff_of
    from allocator.compare import result_lang, write_comparison

    folders = [_result_folder(p, backend, cache) for p in (a, b)]
    try:
        diff = diff_of(*folders)
    except FileNotFoundError as exc:
        err.print(word("text.invalid_input", lang or DEFAULT_LANG, n=1), f"{exc}", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    target = out or Path("out") / f"compare_{diff['a']['scenario']}_{diff['b']['scenario']}"
    said = lang or result_lang(folders[0])
    write_comparison(diff, target, said)
    v, n = diff["value"], diff["counts"]
    share = f" ({v['delta_share']:+.4%})" if v["delta_share"] is not None else ""
    out_console.print(word("text.console_compare", said, a=diff["a"]["scenario"],
                           b=diff["b"]["scenario"], va=f"{v['a_wan_cny']:,.0f}",
                           vb=f"{v['b_wan_cny']:,.0f}", delta=f"{v['delta_wan_cny']:+,.0f}",
                           share=share, n_in=n["in"], n_out=n["out"], year=n["moved_year"],
                           site=n["moved_site"], both=n["moved_year_and_site"]))  # fmt: skip
    out_console.print(word("text.console_results", said, folder=target))
