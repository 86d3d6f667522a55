"""Reading polygon layers: files, layers, coordinate systems and geometry checks.

A layer is named ``file`` or ``file#layer`` (GeoPackage, GeoParquet, Shapefile or a zipped
one, GeoJSON), or a PostGIS table or query ``postgresql://…#table`` (see ``is_database``).
Every layer is brought to the scenario's projected CRS (EPSG:4548 by
default) before any area or distance. A layer without a CRS is an error that suggests the
likely one from its coordinates: zone-prefixed Gauss–Krüger eastings around 39,500,000 are
EPSG:4527 (CGCS2000, 3-degree zone 39), eastings around 500,000 EPSG:4548, degrees
EPSG:4490; ``land.assume_crs`` supplies it instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import CRS, Transformer

from allocator.io import InputError
from models.tables import Problem

MU_M2 = 10_000 / 15  # 1 mu = 666.67 m²
CHINA = (73.0, 18.0, 136.0, 54.0)  # lon/lat box the data must fall in


DB_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def is_database(spec: str) -> bool:
    """A PostGIS source: ``postgresql://user@host:port/db#table`` (or ``#schema.table``), or
    ``…#query:SELECT … `` whose geometry column is called ``geom``."""
    return spec.startswith(DB_SCHEMES)


def _db_label(spec: str) -> str:
    """The source for messages: the URL without its password."""
    url, _, what = spec.partition("#")
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url) + (f"#{what}" if what else "")


def _engine(url: str) -> Any:
    import sqlalchemy

    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return sqlalchemy.create_engine(url)


def read_database(spec: str) -> tuple[gpd.GeoDataFrame, str]:
    """A layer from PostGIS: a table (its geometry column from ``geometry_columns``) or a
    query; rows in the table's own order of its first column."""
    import sqlalchemy

    url, _, what = spec.partition("#")
    label = _db_label(spec)
    if not what:
        raise InputError([Problem(label, "name a table as `#table` or a query as `#query:SELECT …`")])  # fmt: skip
    try:
        engine = _engine(url)
        with engine.connect() as conn:
            if what.startswith("query:"):
                return gpd.read_postgis(sqlalchemy.text(what[6:]), conn, geom_col="geom"), label
            schema, _, table = what.rpartition(".")
            found = conn.execute(
                sqlalchemy.text(
                    "SELECT f_geometry_column FROM geometry_columns WHERE f_table_name = :t"
                    " AND f_table_schema = coalesce(nullif(:s, ''), current_schema())"
                ),
                {"t": table, "s": schema},
            ).scalar()
            if found is None:
                raise InputError([Problem(label, "no table with a geometry column of that name")])
            quoted = ".".join(f'"{part}"' for part in what.split("."))
            query = sqlalchemy.text(f"SELECT * FROM {quoted} ORDER BY 1")
            return gpd.read_postgis(query, conn, geom_col=found), label
    except InputError:
        raise
    except Exception as exc:  # the driver's own message says what is wrong
        raise InputError([Problem(label, f"cannot read from the database: {exc}")]) from exc


def write_database(frame: gpd.GeoDataFrame, spec: str) -> None:
    """Write (replace) a table in PostGIS: ``postgresql://…#schema.table``."""
    url, _, what = spec.partition("#")
    schema, _, table = what.rpartition(".")
    if not table or what.startswith("query:"):
        raise InputError([Problem(_db_label(spec), "name the table to write as `#table`")])
    try:
        frame.to_postgis(
            table, _engine(url), schema=schema or None, if_exists="replace", index=False
        )
    except Exception as exc:  # the driver's own message says what is wrong
        raise InputError(
            [Problem(_db_label(spec), f"cannot write to the database: {exc}")]
        ) from exc


def read_label(spec: str) -> str:
    """The name of a layer's source in messages (a file's name; a URL without password)."""
    return _db_label(spec) if is_database(spec) else Path(split_source(spec)[0]).name


def split_source(spec: str) -> tuple[str, str | None]:
    path, _, layer = spec.partition("#")
    return path, layer or None


def is_layer(spec: str) -> bool:
    if is_database(spec):
        return True
    path, layer = split_source(spec)
    return layer is not None or Path(path).suffix.lower() in {".gpkg", ".geojson", ".shp", ".zip"}


def read_layer(base: Path, spec: str) -> tuple[gpd.GeoDataFrame, str]:
    """Read one layer; return it and the name used in messages (``city.gpkg#parcels``)."""
    if is_database(spec):
        return read_database(spec)
    path_text, layer = split_source(spec)
    path = base / path_text
    label = path.name + (f"#{layer}" if layer else "")
    if not path.exists():
        raise InputError([Problem(label, f"file not found: {path}")])
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            return gpd.read_parquet(path), label
        available = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
        if layer is None and len(available) > 1:
            raise InputError(
                [
                    Problem(
                        label,
                        "the file has several layers; name one as "
                        f"`{path.name}#layer` (layers: {', '.join(available)})",
                    )
                ]
            )
        if layer is not None and layer not in available:
            raise InputError(
                [
                    Problem(
                        label, f"no layer `{layer}` in {path.name} (layers: {', '.join(available)})"
                    )
                ]
            )
        return gpd.read_file(path, layer=layer, engine="pyogrio"), label
    except InputError:
        raise
    except Exception as exc:  # the reader's own message says what is wrong with the file
        raise InputError([Problem(label, f"cannot read the layer: {exc}")]) from exc


def restore_shapefile_names(frame: gpd.GeoDataFrame, expected: list[str]) -> gpd.GeoDataFrame:
    """Shapefiles cut field names to 10 characters: give them back their full names."""
    renames = {}
    for col in frame.columns:
        if col in expected or len(str(col)) != 10:
            continue
        full = [e for e in expected if e.startswith(str(col))]
        if len(full) == 1:
            renames[col] = full[0]
    return frame.rename(columns=renames)


def guess_crs(frame: gpd.GeoDataFrame) -> str | None:
    """The CRS that the coordinates look like, for a layer that declares none."""
    if frame.empty:
        return None
    x0, y0, x1, y1 = frame.total_bounds
    if x0 >= 73 and x1 <= 136 and y0 >= 3 and y1 <= 54:
        return "EPSG:4490"
    if x0 >= 39_000_000 and x1 <= 40_000_000 and y0 >= 2_000_000 and y1 <= 6_000_000:
        return "EPSG:4527"
    if x0 >= 200_000 and x1 <= 800_000 and y0 >= 2_000_000 and y1 <= 6_000_000:
        return "EPSG:4548"
    return None


def to_projected(
    frame: gpd.GeoDataFrame, label: str, target: str, assume: str | None
) -> gpd.GeoDataFrame:
    """Check the layer's CRS against its coordinates and reproject it to ``target``."""
    if frame.crs is None:
        if assume is None:
            guess = guess_crs(frame)
            hint = f"; its coordinates look like {guess}" if guess else ""
            raise InputError(
                [
                    Problem(
                        label,
                        f"the layer has no coordinate reference system{hint}: "
                        "set it in the file, or set `land.assume_crs`",
                    )
                ]
            )
        frame = frame.set_crs(assume)
    if not frame.empty:
        lon0, lat0, lon1, lat1 = Transformer.from_crs(
            frame.crs, "EPSG:4490", always_xy=True
        ).transform_bounds(*frame.total_bounds)
        inside = CHINA[0] <= lon0 and lon1 <= CHINA[2] and CHINA[1] <= lat0 and lat1 <= CHINA[3]
        if not inside or not np.isfinite([lon0, lat0, lon1, lat1]).all():
            guess = guess_crs(frame.set_crs(None, allow_override=True))
            hint = f" (they look like {guess})" if guess else ""
            raise InputError(
                [
                    Problem(
                        label,
                        f"the coordinates do not fit the declared CRS "
                        f"{CRS(frame.crs).to_string()}{hint}",
                    )
                ]
            )
    return frame.to_crs(target)


def geometry_problems(
    frame: gpd.GeoDataFrame, label: str, key: str, single_part: bool = True
) -> tuple[np.ndarray, list[Problem]]:
    """Bad geometries (missing, empty, invalid, multi-part, duplicated): a mask and the
    problems, each naming the feature's id."""
    geom = frame.geometry.to_numpy()
    ids = (
        frame[key].astype(str).to_numpy()
        if key in frame.columns
        else np.arange(len(frame)).astype(str)
    )
    rows = np.arange(len(frame)) + 1
    bad = np.zeros(len(frame), dtype=bool)
    problems: list[Problem] = []

    def flag(mask: np.ndarray, rule: str, values: list[str] | None = None) -> None:
        nonlocal bad
        for i in np.flatnonzero(mask & ~bad):
            value = values[i] if values else None
            problems.append(Problem(label, rule, int(rows[i]), "geometry", value, ids[i]))
        bad |= mask

    missing = shapely.is_missing(geom) | shapely.is_empty(geom)
    flag(missing, "empty or missing geometry")
    polygonal = np.isin(shapely.get_type_id(geom), [3, 6])  # Polygon, MultiPolygon
    flag(~polygonal & ~missing, "is not a polygon")
    invalid = ~shapely.is_valid(geom) & ~bad
    reasons = [shapely.is_valid_reason(g) if invalid[i] else "" for i, g in enumerate(geom)]
    flag(invalid, "invalid geometry", reasons)
    if single_part:
        parts = shapely.get_num_geometries(geom)
        flag(
            parts > 1,
            "multi-part geometry: one parcel must be one polygon",
            [f"{n} parts" for n in parts],
        )
    wkb = shapely.to_wkb(shapely.normalize(geom[~bad]))
    dup = np.zeros(len(frame), dtype=bool)
    seen: dict[bytes, str] = {}
    for i, w in zip(np.flatnonzero(~bad), wkb, strict=True):
        if w in seen:
            dup[i] = True
            problems.append(
                Problem(
                    label, f"same geometry as {seen[w]}", int(rows[i]), "geometry", None, ids[i]
                )
            )
        else:
            seen[w] = ids[i]
    return bad | dup, problems


def area_mu(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Area in mu, from a projected geometry."""
    return frame.geometry.area.to_numpy() / MU_M2
