"""Reading scenario documents and table files.

Tables come as CSV, Parquet or Excel (.xlsx), read as raw cells (CSV as text, so that
nothing is guessed). A CSV file may be UTF-8 (with or without BOM), UTF-16 (with its BOM,
as Excel's "Unicode text" saves it) or GB18030, which covers GBK and GB2312 (what Excel on
Chinese Windows saves): a BOM decides, else the first of UTF-8 and GB18030 in which the
whole file decodes (UTF-8 rejects almost every text written in another encoding, so the
order is safe). The encoding used is reported with the table. A scenario document is
YAML; one that ``extends`` another is merged onto it (``models.scenario.merge``).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from allocator.errors import InputError
from models.scenario import map_sources, merge
from models.tables import Problem

TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")


ENCODINGS = ("utf-8", "gb18030")  # tried in order where no BOM decides


def decoded(path: Path) -> tuple[str, str]:
    """A text file's text and the encoding it was read in (see the module docstring)."""
    data = path.read_bytes()
    boms = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
            (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip
    tried = [enc for bom, enc in boms if data.startswith(bom)][:1] or list(ENCODINGS)
    first: UnicodeDecodeError | None = None
    for encoding in tried:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            first = first or exc
    assert first is not None
    line = data[: first.start].count(b"\n") + 1
    rule = ("byte {byte} of this line cannot be read as {tried}: save the file as UTF-8 (or "
            "GB18030/GBK, UTF-16)")  # fmt: skip
    raise InputError([Problem.of(path.name, rule, row=line, byte=f"{first.object[first.start]:#04x}",
                                 tried=" or ".join(tried))])  # fmt: skip


def read_table(path: Path) -> tuple[pd.DataFrame, str | None]:
    """A table file as raw cells (CSV as text, so that nothing is guessed), and the
    encoding a CSV file was read in."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError([Problem.of(path.name, "file not found: {path}", path=path)])
    if suffix not in TABLE_SUFFIXES:
        rule = "unsupported file type {suffix}; use one of {suffixes}"
        raise InputError([Problem.of(path.name, rule, suffix=repr(suffix),
                                     suffixes=", ".join(TABLE_SUFFIXES))])  # fmt: skip
    text, encoding = decoded(path) if suffix == ".csv" else ("", None)
    try:
        if suffix == ".csv":
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_excel(path, dtype=object, engine="openpyxl")
    except Exception as exc:  # the reader's own message says what is wrong with the file
        raise InputError([Problem.of(path.name, "cannot read the file: {why}", why=exc)]) from exc
    return frame, encoding


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
        raise InputError(
            [Problem.of(path.name, "cannot read the YAML file: {why}", why=exc)]
        ) from exc


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
        raise InputError([Problem.of(path.name, "scenario file not found: {path}", path=path)])
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise InputError([Problem.of(path.name, "`extends` forms a cycle: {cycle}", field="extends",
                                     cycle=chain)])  # fmt: skip
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
