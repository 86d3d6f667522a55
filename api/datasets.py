"""Datasets a scenario may use: the bundled ones and those uploaded through the API.

A scenario submitted over HTTP names its inputs by dataset id (``sample.projects``,
``ds_0123456789abcdef``, a layer as ``sample.city#parcels``), never by a path or URL. The
service turns ids into its own files when it runs the job. Uploads are checked with the same
rules as the command line before they are stored, under the hash of their content.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from allocator.errors import InputError
from allocator.land.geometry import geometry_problems
from allocator.sources.files import file_sha256, read_table
from allocator.sources.layers import (
    is_database,
    read_label,
    read_layer,
    restore_shapefile_names,
)
from api.store import Dataset, audit, now
from models.tables import FIRMS, PARCELS, PARKS, PROJECTS, SUPPLIES, Problem, TableSpec, parse_table

TABLES: dict[str, TableSpec] = {
    "projects": PROJECTS,
    "firms": FIRMS,
    "supplies": SUPPLIES,
    "parks": PARKS,
}
KINDS = (*TABLES, "parcels", "layer")  # layer: districts, park polygons, exclusions
TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")
LAYER_SUFFIXES = (".gpkg", ".parquet", ".geoparquet", ".zip", ".geojson")
REF = re.compile(r"\A(?P<id>[a-z][a-z0-9_]*\.[a-z0-9_]+|ds_[0-9a-f]{16})(?:#(?P<layer>[\w-]+))?\Z")
REF_RULE = (
    "must be the id of a bundled or uploaded dataset (GET /v1/datasets), a layer as "
    "`<id>#<layer>`; paths and URLs are not accepted"
)


@dataclass(frozen=True)
class Available:
    """A dataset the service can read: its id, kind, file and content hash."""

    id: str
    kind: str  # table or layers (bundled), or one of KINDS (uploaded)
    path: Path
    sha256: str
    layers: tuple[str, ...] = ()
    rows: int | None = None
    source: str = "bundled"
    url: str | None = None  # a database dataset: postgresql://…#table (registered by an admin)

    @property
    def location(self) -> str:
        """What a scenario file the worker writes names: the file, or the database table."""
        return self.url or str(self.path)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "source": self.source,
            "sha256": self.sha256,
            "rows": self.rows,
            "layers": list(self.layers),
            "file": read_label(self.url) if self.url else self.path.name,
        }


def _layers(path: Path) -> tuple[str, ...]:
    if path.suffix.lower() in (".parquet", ".geoparquet", ".shp"):
        return ()
    return tuple(str(n) for n in pyogrio.list_layers(path)[:, 0])


@functools.cache
def _bundled_file(path: Path, mtime_ns: int, size: int) -> Available:
    """One bundled file, hashed once per version of it on disk."""
    del mtime_ns, size  # the cache key: a changed file is hashed again
    layered = path.suffix.lower() == ".gpkg"
    return Available(
        id=f"{path.parent.name}.{path.stem}".lower(),
        kind="layers" if layered else "table",
        path=path,
        sha256=file_sha256(path),
        layers=_layers(path) if layered else (),
    )


def bundled(folder: Path) -> dict[str, Available]:
    """Every table and layer file one level below ``folder`` (``sample/projects.csv`` is
    ``sample.projects``)."""
    if not folder.is_dir():
        return {}
    out = {}
    root = folder.resolve()
    for path in sorted(folder.glob("*/*")):
        inside = path.resolve().is_relative_to(root)  # a link out of the folder is not served
        if (
            inside
            and path.suffix.lower() in {*TABLE_SUFFIXES, ".gpkg"}
            and REF.match(f"{path.parent.name}.{path.stem}".lower())
        ):
            info = path.stat()
            found = _bundled_file(path.resolve(), info.st_mtime_ns, info.st_size)
            out[found.id] = found
    return out


def _stored(row: Dataset, data_dir: Path) -> Available:
    if is_database(row.path):
        return Available(row.id, row.kind, Path(), row.sha256, (), row.rows, "database", row.path)  # fmt: skip
    return Available(
        row.id,
        row.kind,
        data_dir / row.path,
        row.sha256,
        tuple(row.layers),
        row.rows,
        "upload",
    )


def register_database(
    session: Session, url: str, kind: str, key_id: str, max_parcels: int
) -> tuple[Available, bool]:
    """An admin's database table or query as a dataset, read and checked once now; its
    id is the hash of the URL (the data may change: the hash is of what was read now)."""
    if not is_database(url) or kind not in ("parcels", "layer"):
        rule = "give a postgresql://…#table (or #query:SELECT …) URL and kind parcels or layer"
        raise InputError([Problem("request", rule, field="url", value=read_label(url))])
    dataset_id = "ds_" + hashlib.sha256(f"db:{kind}:{url}".encode()).hexdigest()[:16]
    existing = session.get(Dataset, dataset_id)
    if existing is not None:
        return _stored(existing, Path()), False
    frame, label = read_layer(Path(), url)
    frame = _checked_layer(frame, kind, label)
    if len(frame) > max_parcels:
        rule = f"{len(frame):,} rows exceed the server limit max_parcels = {max_parcels:,}"
        raise InputError([Problem(label, rule, field="max_parcels", value=str(len(frame)))])
    digest = hashlib.sha256(pd.DataFrame(frame.drop(columns=frame.geometry.name)).to_csv().encode())
    for wkb in shapely.to_wkb(frame.geometry.to_numpy()):
        digest.update(wkb)
    row = Dataset(id=dataset_id, kind=kind, filename=label, path=url, sha256=digest.hexdigest(),
                  rows=len(frame), layers=[], created_at=now(), created_by=key_id)  # fmt: skip
    session.add(row)
    audit(session, key_id, "dataset.register", dataset_id, kind=kind, source=label)
    return _stored(row, Path()), True


def lookup(session: Session, data_dir: Path, bundled_dir: Path, dataset_id: str) -> Available:
    """The dataset of an id; ``KeyError`` when there is none."""
    if dataset_id.startswith("ds_"):
        row = session.get(Dataset, dataset_id)
        if row is None:
            raise KeyError(dataset_id)
        return _stored(row, data_dir)
    return bundled(bundled_dir)[dataset_id]


def listing(session: Session, data_dir: Path, bundled_dir: Path) -> list[dict[str, Any]]:
    rows = session.scalars(select(Dataset).order_by(Dataset.created_at, Dataset.id))
    stored = [_stored(r, data_dir).describe() | {"created_at": r.created_at} for r in rows]
    return [b.describe() for b in bundled(bundled_dir).values()] + stored


MAX_RATIO = 200  # unpacked / packed size of one archive member: beyond, a zip bomb


def _unzip(archive: IO[bytes], into: Path, label: str, limit: int) -> Path:
    """Unpack a zipped Shapefile safely: no absolute paths, no `..`, no links, no member
    packed more than ``MAX_RATIO`` times, at most ``limit`` bytes unpacked — counted while
    writing, so a member that lies about its size stops within a chunk of the limit; one
    .shp."""

    def over(size: int) -> InputError:
        rule = f"unpacks to more than {size:,} bytes, over the server limit max_extracted_bytes"
        return InputError([Problem(label, rule, field="max_extracted_bytes", value=str(limit))])

    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            for member in members:
                name = member.filename
                mode = member.external_attr >> 16
                if name.startswith(("/", "\\")) or ".." in Path(name).parts or ":" in name:
                    raise InputError([Problem(label, "member path leaves the archive", value=name)])
                if stat.S_ISLNK(mode):
                    raise InputError([Problem(label, "member is a symbolic link", value=name)])
                if member.file_size > MAX_RATIO * max(member.compress_size, 1):
                    rule = f"member is packed more than {MAX_RATIO} times (a zip bomb?)"
                    raise InputError([Problem(label, rule, value=name)])
            if sum(m.file_size for m in members) > limit:
                raise over(limit)
            written = 0
            for member in members:
                target = into / member.filename
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as source, target.open("wb") as sink:
                    while chunk := source.read(2**20):
                        written += len(chunk)
                        if written > limit:
                            raise over(limit)
                        sink.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise InputError([Problem(label, f"not a readable zip archive: {exc}")]) from exc
    shps = sorted(p for p in into.rglob("*") if p.suffix.lower() == ".shp" and p.is_file())
    if len(shps) != 1:
        found = ", ".join(p.name for p in shps) or "none"
        raise InputError([Problem(label, f"must hold exactly one .shp file (found {found})")])
    return shps[0]


def _scrubbed(exc: InputError, folder: Path, label: str) -> InputError:
    """The problems with paths in the server's ``folder`` and the stored copy's name
    replaced by the uploaded file's name: a message never shows where or how the server
    keeps its files."""
    roots = "|".join(re.escape(str(f)) for f in sorted({folder, folder.resolve()}, key=str))

    def clean(text: str | None) -> str | None:
        if text is None:
            return None
        text = re.sub(rf"(?:{roots})[^\s'\":,)]*", label, text)
        return re.sub(r"\bds_[0-9a-f]{16}[\w.]*", label, text)  # the stored copy's name

    return InputError([replace(p, file=clean(p.file) or label, rule=clean(p.rule) or "",
                               value=clean(p.value)) for p in exc.problems])  # fmt: skip


def _check_table(path: Path, kind: str, label: str) -> int:
    try:
        raw, _ = read_table(path)
    except InputError as exc:  # named as uploaded, not as stored
        raise InputError([replace(p, file=label) for p in exc.problems]) from exc
    spec = TABLES[kind]
    extra = [c for c in raw.columns if spec.column(str(c)) is None] if kind == "projects" else []
    _, problems = parse_table(raw, spec, label, extra_columns=extra)
    if problems:
        raise InputError(problems)
    return len(raw)


def _checked_layer(frame: gpd.GeoDataFrame, kind: str, label: str) -> gpd.GeoDataFrame:
    """A layer read for a dataset, checked as the land scan checks it: a parcel layer's
    columns and geometries; any other layer's coordinate reference system."""
    problems: list[Problem] = []
    if kind == "parcels":
        frame = restore_shapefile_names(frame, [c.name for c in PARCELS.columns])
        attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        _, problems = parse_table(attrs, PARCELS, label)
        if not any(p.row is None for p in problems):
            problems += geometry_problems(frame, label, "parcel_id")[1]
    elif frame.crs is None:
        problems.append(Problem(label, "the layer has no coordinate reference system"))
    if problems:
        raise InputError(problems)
    return frame


def _check_layer(path: Path, kind: str, label: str, layer: str | None) -> tuple[int, list[str]]:
    frame, _ = read_layer(path.parent, f"{path.name}#{layer}" if layer else path.name)
    return len(_checked_layer(frame, kind, label)), list(_layers(path))


def store_upload(
    session: Session,
    data_dir: Path,
    kind: str,
    filename: str,
    content: bytes,
    key_id: str,
    layer: str | None = None,
    max_rows: dict[str, int] | None = None,
    max_extracted: int = 2**30,
) -> tuple[Available, bool]:
    """Check an upload and store it under its content hash; (dataset, newly stored).

    Only the suffix of ``filename`` is used, so a file name cannot choose where it goes."""
    if kind not in KINDS:
        raise InputError(
            [Problem("upload", f"must be one of {', '.join(KINDS)}", None, "kind", kind)]
        )
    suffix = Path(filename).suffix.lower()
    allowed = (
        TABLE_SUFFIXES
        if kind in ("projects", "firms", "supplies")
        else ((*TABLE_SUFFIXES, *LAYER_SUFFIXES) if kind == "parks" else LAYER_SUFFIXES)
    )
    if suffix not in allowed:
        rule = f"a {kind} dataset must be one of {', '.join(allowed)}"
        raise InputError([Problem("upload", rule, None, "file", filename)])
    sha = hashlib.sha256(content).hexdigest()
    dataset_id = "ds_" + hashlib.sha256(f"{kind}:{layer or ''}:{sha}".encode()).hexdigest()[:16]
    existing = session.get(Dataset, dataset_id)
    if existing is not None:
        return _stored(existing, data_dir), False
    label = Path(filename).name
    root = data_dir / "datasets"
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".upload-", dir=root))
    try:
        if suffix == ".zip":  # unpacked from memory: nothing is written before the checks
            target = _unzip(io.BytesIO(content), tmp / "shp", label, max_extracted)
        else:
            target = tmp / f"{dataset_id}{suffix}"
            target.write_bytes(content)
        if suffix in TABLE_SUFFIXES and kind in TABLES:
            rows, layers = _check_table(target, kind, label), list[str]()
        else:
            rows, layers = _check_layer(target, kind, label, layer)
        limit = (max_rows or {}).get(kind)
        if limit is not None and rows > limit:
            name = "max_parcels" if kind == "parcels" else "max_projects"
            rule = f"{rows:,} rows exceed the server limit {name} = {limit:,}"
            raise InputError([Problem(label, rule, field=name, value=str(rows))])
        final = root / dataset_id
        shutil.rmtree(final, ignore_errors=True)  # a folder left by an earlier failed commit
        tmp.rename(final)
    except InputError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _scrubbed(exc, data_dir, label) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    row = Dataset(
        id=dataset_id,
        kind=kind,
        filename=label,
        path=str((final / target.relative_to(tmp)).relative_to(data_dir)),
        sha256=sha,
        rows=rows,
        layers=layers,
        created_at=now(),
        created_by=key_id,
    )
    session.add(row)
    audit(session, key_id, "dataset.upload", dataset_id, kind=kind, filename=label, rows=rows)
    return _stored(row, data_dir), True
