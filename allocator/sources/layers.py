"""Reading polygon layers: files and layers, PostGIS tables and queries.

A layer is named ``file`` or ``file#layer`` (GeoPackage, GeoParquet, Shapefile or a zipped
one, GeoJSON), or a PostGIS table or query ``postgresql://…#table`` (see ``is_database``).
Layers are returned as read, in their own coordinate reference system; the land scan checks
and projects them (``allocator.land.geometry``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from allocator.errors import InputError
from models.tables import Problem

DB_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def is_database(spec: str) -> bool:
    """A PostGIS source: ``postgresql://user@host:port/db#table`` (or ``#schema.table``), or
    ``…#query:SELECT … `` whose geometry column is called ``geom``."""
    return spec.startswith(DB_SCHEMES)


def db_label(spec: str) -> str:
    """The source for messages: the URL without its password."""
    url, _, what = spec.partition("#")
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url) + (f"#{what}" if what else "")


def database_engine(url: str) -> Any:
    import sqlalchemy

    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return sqlalchemy.create_engine(url)


def read_database(spec: str) -> tuple[gpd.GeoDataFrame, str]:
    """A layer from PostGIS: a table (its geometry column from ``geometry_columns``) or a
    query; rows in the table's own order of its first column."""
    import sqlalchemy

    url, _, what = spec.partition("#")
    label = db_label(spec)
    if not what:
        raise InputError([Problem(label, "name a table as `#table` or a query as `#query:SELECT …`")])  # fmt: skip
    try:
        engine = database_engine(url)
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


def read_label(spec: str) -> str:
    """The name of a source in messages: a file's name with its layer (``city.gpkg#parcels``),
    or a URL without its password."""
    if is_database(spec):
        return db_label(spec)
    path, layer = split_source(spec)
    return Path(path).name + (f"#{layer}" if layer else "")


def split_source(spec: str) -> tuple[str, str | None]:
    path, _, layer = spec.partition("#")
    return path, layer or None


def is_layer(spec: str) -> bool:
    if is_database(spec):
        return True
    path, layer = split_source(spec)
    return layer is not None or Path(path).suffix.lower() in {".gpkg", ".geojson", ".shp", ".zip"}


def _layer(frame: pd.DataFrame, label: str) -> gpd.GeoDataFrame:
    """``frame`` if it has geometries; a table read where a layer is expected is an error."""
    if isinstance(frame, gpd.GeoDataFrame) and frame.active_geometry_name is not None:
        return frame
    rule = ("has no geometry: a table where a layer is expected (GeoPackage, GeoParquet, "
            "zipped Shapefile or GeoJSON, with polygons)")  # fmt: skip
    raise InputError([Problem(label, rule)])


def read_layer(base: Path, spec: str) -> tuple[gpd.GeoDataFrame, str]:
    """Read one layer; return it and the name used in messages (``city.gpkg#parcels``)."""
    if is_database(spec):
        return read_database(spec)
    path_text, layer = split_source(spec)
    path = base / path_text
    label = read_label(spec)
    if not path.exists():
        raise InputError([Problem(label, f"file not found: {path}")])
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            return _layer(gpd.read_parquet(path), label), label
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
        return _layer(gpd.read_file(path, layer=layer, engine="pyogrio"), label), label
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
