"""The only code that reads files or databases into the engine's objects.

``read_inputs(path)`` reads a scenario file, every table and layer it names (paths relative
to the scenario's folder, layers as ``file#layer``, PostGIS as ``postgresql://…#table``) and
checks them (``allocator.inputs.check_inputs``). ``read_tables`` reads the data of a
scenario whose entries are located elsewhere: the API maps dataset ids to its own files,
and names them by id in messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from allocator.errors import InputError
from allocator.inputs import TABLES, Inputs, Tables, check_inputs, validated
from allocator.sources.files import file_sha256, read_document, read_table
from allocator.sources.layers import (
    is_database,
    is_layer,
    read_label,
    read_layer,
    restore_shapefile_names,
    split_source,
)
from models.scenario import DataSources, Scenario, source_entries
from models.tables import PARCELS, PARKS, Problem

# An entry of a scenario's ``data`` -> (what to read: a path relative to the base folder
# or a database URL, and the name used in messages).
Locate = Callable[[str], tuple[str, str]]
EXPECTED = {"parks": [c.name for c in PARKS.columns], "parcels": [c.name for c in PARCELS.columns]}


def read_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file (its ``extends`` chain merged in)."""
    return validated(read_document(path), path.name)


def _here(entry: str) -> tuple[str, str]:
    """An entry read as it is, named as messages name it (``read_label``)."""
    return entry, read_label(entry)


def _read(name: str, source: str, label: str, base: Path) -> tuple[pd.DataFrame, str | None, str | None]:  # fmt: skip
    """One input: the frame, (for a table) the sha256 of its file, and the encoding a CSV
    file was read in."""
    encoding = None
    try:
        if is_layer(source) or name in ("parcels", "districts") or name.startswith("exclusions"):
            frame, _ = read_layer(base, source)
            frame = restore_shapefile_names(frame, EXPECTED.get(name, []))
        else:
            frame, encoding = read_table(base / source)
    except InputError as exc:  # named as the caller names it, not by the file read
        raise InputError([replace(p, file=label) for p in exc.problems]) from exc
    hashed = name in TABLES and not is_database(source)  # the files summary.json names
    return frame, file_sha256(base / split_source(source)[0]) if hashed else None, encoding


def read_tables(
    data: DataSources, base: Path, locate: Locate = _here
) -> tuple[Tables, list[Problem]]:
    """Every table and layer ``data`` names, as given; and the problems of those that could
    not be read (the others are still read, so that every problem is reported at once)."""
    frames: dict[str, object] = {}
    labels: dict[str, str] = {}
    hashes: dict[str, str] = {}
    encodings: dict[str, str] = {}
    problems: list[Problem] = []
    for name, entry in source_entries(data.model_dump()):
        if not entry:
            continue
        source, labels[name] = locate(entry)
        try:
            frames[name], sha, encoding = _read(name, source, labels[name], base)
        except InputError as exc:
            problems += exc.problems
            continue
        if sha is not None:
            hashes[name] = sha
        if encoding is not None:
            encodings[name] = encoding
    exclusions = tuple(frames.pop(n) for n in list(frames) if n.startswith("exclusions."))
    tables = Tables(**frames, exclusions=exclusions, labels=labels, hashes=hashes,
                    encodings=encodings)  # fmt: skip
    return tables, problems


def read_inputs(path: Path) -> Inputs:
    """Read and check a scenario file and everything it names; raise ``InputError`` with
    every problem."""
    scenario = read_scenario(path)
    tables, problems = read_tables(scenario.data, path.parent)
    tables = replace(tables, labels={**tables.labels, "scenario": path.name})
    return check_inputs(scenario, tables, problems)
