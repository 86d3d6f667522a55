"""Reading scenario documents and table files.

Tables come as CSV (UTF-8, with or without BOM), Parquet or Excel (.xlsx), read as raw
cells (CSV as text, so that nothing is guessed). A scenario document is YAML; one that
``extends`` another is merged onto it (``models.scenario.merge``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from allocator.errors import InputError
from models.scenario import map_sources, merge
from models.tables import Problem

TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")


def read_table(path: Path) -> pd.DataFrame:
    """Read a table file as raw cells (CSV as text, so that nothing is guessed)."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError([Problem(path.name, f"file not found: {path}")])
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".xlsx":
            return pd.read_excel(path, dtype=object, engine="openpyxl")
    except Exception as exc:  # the reader's own message says what is wrong with the file
        raise InputError([Problem(path.name, f"cannot read the file: {exc}")]) from exc
    raise InputError(
        [Problem(path.name, f"unsupported file type {suffix!r}; use one of {TABLE_SUFFIXES}")]
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_yaml(path: Path) -> Any:
    """A YAML file's document (a grid, a scenario before its checks)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError([Problem(path.name, f"cannot read the YAML file: {exc}")]) from exc


def _relocate(doc: dict[str, Any], base_dir: Path, target_dir: Path) -> dict[str, Any]:
    """Rewrite the base's relative data paths so that they stay right from ``target_dir``."""
    data = doc.get("data")
    if not isinstance(data, dict):
        return doc

    def move(value: str) -> str:
        path, _, layer = value.partition("#")
        if Path(path).is_absolute() or "://" in path:  # absolute, or a database URL
            return value
        moved = os.path.relpath(Path(base_dir, path).resolve(), target_dir)
        return f"{moved}#{layer}" if layer else moved

    return {**doc, "data": map_sources(data, move)}


def read_document(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario YAML into a plain dict with its ``extends`` chain merged in."""
    if not path.exists():
        raise InputError([Problem(path.name, f"scenario file not found: {path}")])
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise InputError([Problem(path.name, f"`extends` forms a cycle: {chain}", field="extends")])
    doc = read_yaml(path) or {}
    if not isinstance(doc, dict):
        rule = f"a scenario must be a mapping, got {type(doc).__name__}"
        raise InputError([Problem(path.name, rule)])
    base_name = doc.get("extends")
    if base_name is None:
        return doc
    base_path = (path.parent / str(base_name)).resolve()
    if not base_path.exists():
        rule = "names a file that does not exist"
        raise InputError([Problem(path.name, rule, field="extends", value=str(base_name))])
    base = _relocate(read_document(base_path, (*seen, path)), base_path.parent, path.parent)
    base.pop("extends", None)
    return merge(base, doc)
