"""Writing files people open: CSV for Excel, strict JSON, GeoPackages, and whole folders
or files at once.

Output folders and files are written to a temporary sibling first and renamed into place,
so a reader never sees a half-written result and a failed run leaves nothing behind. They
get the modes of ordinary output (folders 0755, files 0644), not the temporary file's. A
folder is replaced only when allocator wrote it (a ``.allocator`` marker file in it).
JSON never holds NaN or Infinity: a figure that is not a number is written as null by its
writer, with the reason beside it; one that slips through is a bug and raises.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from allocator.errors import InputError
from allocator.words import LANGS, code_kind, header, headers_to_columns, label, note
from models.tables import Problem

if TYPE_CHECKING:  # not imported to read a result folder (compare, report)
    import geopandas as gpd

FOLDER_MODE, FILE_MODE = 0o755, 0o644


MARKER = ".allocator"  # in every folder atomic_dir writes: the only folders it replaces
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """A text cell that Excel or WPS would run as a formula (``=HYPERLINK(…)``, ``+``, ``-``,
    ``@``, tab, CR first) gets a leading apostrophe, as OWASP recommends; numbers and other
    text are unchanged.

    >>> inert("=1+1"), inert("P-0173"), inert(-5.0)
    ("'=1+1", 'P-0173', -5.0)
    """
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV for people and Excel: UTF-8 with BOM, fixed float format, no index, text cells
    made inert (``inert``)."""
    text = [
        c
        for c in frame.columns
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])
    ]
    if text:
        frame = frame.assign(**{str(c): frame[c].map(inert) for c in text})
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


def labelled(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``frame`` with each code column followed by its labels in ``lang`` (``reason``,
    ``reason_label``; ``allocator.words``)."""
    out = frame.copy()
    for column in list(out.columns):
        kind = code_kind(str(column))
        if kind is not None and f"{column}_label" not in out.columns:
            labels = [label(kind, c, lang) if isinstance(c, str) and c else c for c in out[column]]
            out.insert(out.columns.get_loc(column) + 1, f"{column}_label", labels)
    if "note_figures" in out.columns and "note_label" not in out.columns:
        notes = [note(c, f, lang) if isinstance(c, str) else ""
                 for c, f in zip(out["note"], out["note_figures"].fillna(""), strict=True)]  # fmt: skip
        out.insert(out.columns.get_loc("note") + 1, "note_label", notes)
    return out


def relabelled(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``frame`` (read back, with labels in some language) labelled in ``lang``."""
    return labelled(frame.drop(columns=[c for c in frame.columns if str(c).endswith("_label")]), lang)  # fmt: skip


def for_people(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A table as people read it in ``lang``: labelled (``labelled``), yes/no for
    true/false, headers in words (``allocator.words``)."""
    out = labelled(frame, lang)
    yes_no = {True: label("bool", "True", lang), False: label("bool", "False", lang)}
    for column in out.columns:
        if pd.api.types.is_bool_dtype(out[column]):
            out[column] = out[column].map(yes_no)
    return out.rename(columns=lambda c: header(str(c), lang))


def write_table(frame: pd.DataFrame, path: Path, lang: str) -> None:
    """A result table as people read it (``for_people``), as CSV (``write_csv``)."""
    write_csv(for_people(frame, lang), path)


def read_table(path: Path, dtype: Any = None, **options: Any) -> pd.DataFrame:
    """A table written by ``write_table`` (or an older one with code headers), with code
    headers and true/false again; ``dtype`` one type or by column code, ``options`` those
    of ``pandas.read_csv``."""
    to_code = headers_to_columns()
    heads = pd.read_csv(path, encoding="utf-8-sig", nrows=0).columns
    named = {h: to_code.get(h, h) for h in heads}
    if isinstance(dtype, dict):
        dtype = {h: dtype[c] for h, c in named.items() if c in dtype} or None
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=dtype, **options).rename(columns=named)
    words = {label("bool", str(b), lang): b for b in (True, False) for lang in LANGS}
    for column in frame.columns:
        if not (frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column])):
            continue
        values = set(frame[column].dropna())
        if values and values <= words.keys():
            frame[column] = frame[column].map(words).astype(bool)
    return frame


def write_json(data: Any, path: Path) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def write_text_atomic(target: Path, text: str) -> None:
    """Write a text file whole: readers see the old file or the new one, never half."""
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.chmod(tmp, FILE_MODE)
    Path(tmp).replace(target)


def ours(folder: Path) -> bool:
    """Whether ``folder`` may be replaced: absent, empty, or written by allocator (its
    marker file, or a ``summary.json`` of a result folder from before the marker)."""
    if not folder.exists():
        return True
    if not folder.is_dir():
        return False
    return (
        (folder / MARKER).is_file()
        or (folder / "summary.json").is_file()
        or not any(folder.iterdir())
    )


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces ``target`` in one rename.
    A ``target`` that allocator did not write (``ours``) is refused before anything is
    written: a mistyped ``--out`` never deletes somebody's folder."""
    target = target.resolve()
    if not ours(target):
        rule = (f"exists and is not a folder allocator wrote (no {MARKER} file in it), so it is "
                "not replaced: name another output folder or remove it")  # fmt: skip
        raise InputError([Problem(str(target), rule, field="out", value=str(target))])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(FOLDER_MODE)  # mkdtemp makes it 0700
    (tmp / MARKER).write_text("written by allocator: the next run into this folder replaces it\n")
    (tmp / MARKER).chmod(FILE_MODE)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# The GeoPackage schema extension as GDAL writes it: a field's alias is ``name`` in
# gpkg_data_columns (QGIS and ArcGIS show it instead of the field name).
DATA_COLUMNS = (
    "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT "
    "NOT NULL, name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, "
    "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), "
    "CONSTRAINT gdc_tn UNIQUE (table_name, name))",
    "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, "
    "extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, "
    "CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))",
    "INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkg_data_columns', NULL, 'gpkg_schema', "
    "'http://www.geopackage.org/spec121/#extension_schema', 'read-write')",
)


def write_gpkg(
    layers: dict[str, gpd.GeoDataFrame], path: Path, as_of: str, lang: str | None = None
) -> None:
    """Write the layers into one GeoPackage, stamped with the data vintage ``as_of`` instead
    of the clock (GDAL records when each layer was written), so that the same inputs give
    the same bytes; with ``lang``, each field with a header in the catalogue gets it as its
    alias (the field names stay codes)."""
    for name, layer in layers.items():
        layer.to_file(path, layer=name, driver="GPKG")
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE gpkg_contents SET last_change = ?", (f"{as_of}T00:00:00.000Z",))
        if lang is not None:
            for statement in DATA_COLUMNS:
                db.execute(statement)
            aliases = [(name, str(c), header(str(c), lang)) for name, layer in layers.items()
                       for c in layer.columns if c != layer.geometry.name]  # fmt: skip
            db.executemany("INSERT INTO gpkg_data_columns (table_name, column_name, name) "
                           "VALUES (?, ?, ?)", [a for a in aliases if a[2] != a[1]])  # fmt: skip
