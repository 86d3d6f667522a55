"""The what-ifs that re-solve: ``explain``, ``frontier``, ``alternatives``, ``sensitivity``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from allocator.cli import (
    DEFAULT_CACHE,
    EXIT_INVALID,
    Backend,
    Cache,
    Lang,
    app,
    err,
    guarded,
    options,
    out_console,
    read,
)
from allocator.words import word


@app.command()
def explain(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    project: Annotated[str, typer.Argument(help="Project id, e.g. P-0173.")],
    out: Annotated[
        Path | None, typer.Option(help="JSON file (default out/<name>/explain_<id>.json).")
    ] = None,
    backend: Backend = None,
    cache: Cache = DEFAULT_CACHE,
    lang: Lang = None,
) -> None:
    """Why a project is in or out, and what it would take: exact, by re-solving."""
    from allocator.explain.whatif import what_it_would_take
    from allocator.writers.files import write_json

    inputs = guarded("reading", lambda _say: read(scenario), lang)
    found = guarded("explaining", lambda say: what_it_would_take(
        inputs, project, options(backend, cache, say, lang=lang)), lang or inputs.scenario.lang)  # fmt: skip
    target = out or Path("out") / found["scenario"] / f"explain_{project}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json(found, target)
    out_console.print(found["text"], markup=False)
    out_console.print(word("text.console_written", lang or inputs.scenario.lang, path=target))


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
    backend: Backend = None,
    cache: Cache = DEFAULT_CACHE,
    lang: Lang = None,
) -> None:
    """Value versus the supply of one resource (the efficient frontier), as CSV."""
    from allocator.explain.tradeoffs import frontier as solve_frontier
    from allocator.writers.files import for_people, write_table

    if low >= high:
        err.print(f"--low ({low}) must be below --high ({high})")
        raise typer.Exit(EXIT_INVALID)
    inputs = guarded("reading", lambda _say: read(scenario), lang)
    table = guarded("frontier", lambda say: solve_frontier(
        inputs, resource, steps, low, high, options(backend, cache, say)), lang or inputs.scenario.lang)  # fmt: skip
    target = out or Path("out") / inputs.scenario.name / f"frontier_{resource}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    said = lang or inputs.scenario.lang
    write_table(table, target, said)
    out_console.print(for_people(table, said).to_string(index=False), markup=False, soft_wrap=True)
    for factor in table.loc[table["better_than_solve"], "factor"]:
        out_console.print(word("text.console_frontier_better", said, factor=f"{factor:g}"))
    out_console.print(word("text.console_written", said, path=target))


@app.command()
def alternatives(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    count: Annotated[int, typer.Option(min=1, max=100, help="Portfolios, the optimum first.")] = 5,
    within: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Largest loss vs the optimum, as a share.")
    ] = 0.01,
    out: Annotated[Path | None, typer.Option(help="Folder (default out/<name>).")] = None,
    backend: Backend = None,
    cache: Cache = DEFAULT_CACHE,
    lang: Lang = None,
) -> None:
    """Near-optimal portfolios that differ in at least one approved project, and how often
    each project is selected across them."""
    from allocator.explain.tradeoffs import alternatives as find
    from allocator.writers.files import for_people, write_table

    inputs = guarded("reading", lambda _say: read(scenario), lang)
    found, freq = guarded("alternatives", lambda say: find(
        inputs, count, within, options(backend, cache, say)), lang or inputs.scenario.lang)  # fmt: skip
    target = out or Path("out") / inputs.scenario.name
    target.mkdir(parents=True, exist_ok=True)
    said = lang or inputs.scenario.lang
    write_table(found, target / "alternatives.csv", said)
    write_table(freq, target / "selection_frequency.csv", said)
    out_console.print(for_people(found, said).to_string(index=False), markup=False, soft_wrap=True)
    first = found["value_wan_cny"].iloc[0]
    for k, value in found.loc[found["better_than_solve"], ["alternative", "value_wan_cny"]].values:
        out_console.print(word("text.console_alternative_better", said, k=k, more=f"{value - first:,.0f}"))  # fmt: skip
    out_console.print(word("text.console_alternatives", said, every=int((freq["frequency"] == 1).sum()),
                           some=int(freq["frequency"].between(0, 1, inclusive="neither").sum()),
                           folder=target))  # fmt: skip


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
    backend: Backend = None,
    cache: Cache = DEFAULT_CACHE,
    lang: Lang = None,
) -> None:
    """For each bonus weight, the range over which the approved set stays the same."""
    from allocator.explain.tradeoffs import weight_ranges
    from allocator.writers.files import for_people, write_table

    only = [c.strip() for c in criteria.split(",")] if criteria else None
    inputs = guarded("reading", lambda _say: read(scenario), lang)
    table = guarded("weight ranges", lambda say: weight_ranges(
        inputs, cap, tol, options(backend, cache, say), only), lang or inputs.scenario.lang)  # fmt: skip
    target = out or Path("out") / inputs.scenario.name / "weight_ranges.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    said = lang or inputs.scenario.lang
    write_table(table, target, said)
    out_console.print(for_people(table, said).to_string(index=False), markup=False, soft_wrap=True)
    out_console.print(word("text.console_written", said, path=target))
