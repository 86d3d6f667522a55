"""Reading tables and writing result folders.

Tables come as CSV (UTF-8, with or without BOM), Parquet or Excel (.xlsx). Output folders
are written to a temporary sibling first and renamed into place, so a reader never sees a
half-written result and a failed run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from models.tables import Problem

TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")


class InputError(Exception):
    """The input breaks one or more rules; ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class NoSolution(RuntimeError):
    """The scenario a what-if starts from has no solution (CLI exit code 3)."""


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


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV for people and Excel: UTF-8 with BOM, fixed float format, no index."""
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


def write_json(data: Any, path: Path) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)
    path.write_text(text + "\n", encoding="utf-8")


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces ``target`` in one rename."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
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
