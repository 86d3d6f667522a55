"""``allocator land scan``: the reuse list without allocating."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from allocator.cli import (
    DEFAULT_CACHE,
    EXIT_INVALID,
    Cache,
    Lang,
    app,
    err,
    guarded,
    out_console,
    read,
)
from allocator.words import header, label, word

land_app = typer.Typer(no_args_is_help=True, help="Idle and low-efficiency land, reuse sites.")
app.add_typer(land_app, name="land")


@land_app.command("scan")
def land_scan(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path | None, typer.Option(help="Folder (default out/<name>-land).")] = None,
    lang: Lang = None,
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
    cache: Cache = DEFAULT_CACHE,
) -> None:
    """Scan the parcel layer and write the reuse list, without allocating."""
    from allocator.engine import Options, land_scan
    from allocator.sources.layers import is_database, read_label
    from allocator.writers.files import atomic_dir
    from allocator.writers.reuse import reuse_layers, write_database, write_reuse_list

    if to_db is not None and not is_database(to_db):
        err.print(f"--to-db was {to_db!r} but is expected to be postgresql://…#table")
        raise typer.Exit(EXIT_INVALID)
    inputs = guarded("reading", lambda _say: read(scenario), lang)
    sc = inputs.scenario
    if partitions is not None:
        sc = sc.model_copy(update={"land": sc.land.model_copy(update={"partitions": partitions})})
        inputs = replace(inputs, scenario=sc)
    result = guarded("scanning the parcel layer", lambda _say: land_scan(inputs, Options(cache=cache)), lang)  # fmt: skip
    target = out or Path("out") / f"{sc.name}-land"
    with atomic_dir(target) as tmp:
        write_reuse_list(result, tmp, sc.as_of.isoformat(), lang or sc.lang)
    if to_db is not None:
        layers = reuse_layers(result, sc.as_of.isoformat(), lang or sc.lang)

        def to_database(_say: object) -> None:
            write_database(layers["findings"], to_db)
            write_database(layers["sites"], to_db + "_sites")

        guarded("writing to the database", to_database, lang or sc.lang)
        out_console.print(f"reuse list written to {read_label(to_db)} and …_sites", markup=False)
    said = lang or sc.lang
    codes = result.findings[result.findings["result"] == "finding"]["rule"].value_counts()
    table = Table(title=word("text.console_scan_title", said, name=sc.name, as_of=sc.as_of))
    table.add_column(header("rule", said))
    table.add_column(header("rule_label", said))
    table.add_column(word("text.console_parcels", said), justify="right")
    for code, count in codes.items():
        table.add_row(str(code), label("rule", str(code), said), f"{count:,}")
    out_console.print(table)
    took = (word("text.console_cached", said) if result.cached
            else word("text.console_seconds", said, seconds=f"{result.seconds:.1f}"))  # fmt: skip
    out_console.print(word("text.console_scan", said, parcels=f"{len(result.parcels):,}", took=took,
                           flagged=f"{len(result.reuse_list):,}", sites=f"{len(result.sites):,}",
                           area=f"{result.sites['area_mu'].sum():,.0f}",
                           warnings=len(result.warnings)))  # fmt: skip
    out_console.print(word("text.console_results", said, folder=target))
