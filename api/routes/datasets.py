"""Datasets: upload tables and layers, register PostGIS sources, list and read them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Response, UploadFile

from api import schemas as s
from api.datasets import KINDS, listing, lookup, register_database, store_upload
from api.deps import Admin, Planner, Refused, Route, SessionDep, SettingsDep, Viewer

router = APIRouter(tags=["datasets"], route_class=Route)


@router.post(
    "/v1/datasets",
    status_code=201,
    summary="Upload a projects, firms, supplies or parks table or a parcel layer",
    responses={
        **s.ERRORS,
        200: {"model": s.DatasetInfo, "description": "Already stored."},
        413: {"model": s.Error},
    },
)
def upload(
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    key: Planner,
    file: Annotated[
        UploadFile,
        File(description="CSV, Parquet, .xlsx; GeoPackage, GeoParquet, zipped Shapefile."),
    ],
    kind: Annotated[Literal[KINDS], Form(description="What the file holds.")],  # type: ignore[valid-type]
    layer: Annotated[str | None, Form(max_length=100, pattern=r"^[\w-]+$")] = None,
) -> s.DatasetInfo:
    limits = {"projects": settings.max_projects, "parcels": settings.max_parcels}
    found, new = store_upload(session, settings.data_dir, kind, file.filename or "upload",
                              file.file.read(), key.id, layer, limits,
                              settings.max_extracted_bytes)  # fmt: skip
    if not new:
        response.status_code = 200
    return s.DatasetInfo(**found.describe())


@router.post(
    "/v1/datasets/database",
    status_code=201,
    summary="Register a PostGIS table or query as a dataset (admin only)",
    responses={**s.ERRORS, 200: {"model": s.DatasetInfo, "description": "Already registered."}},
)
def register(
    response: Response, session: SessionDep, settings: SettingsDep, key: Admin,
    body: s.DatabaseDataset,
) -> s.DatasetInfo:  # fmt: skip
    found, new = register_database(session, body.url, body.kind, key.id, settings.max_parcels)
    if not new:
        response.status_code = 200
    return s.DatasetInfo(**found.describe())


@router.get("/v1/datasets", summary="Bundled and uploaded datasets", responses=s.ERRORS)
def datasets(session: SessionDep, settings: SettingsDep, _: Viewer) -> list[s.DatasetInfo]:
    found = listing(session, settings.data_dir, settings.bundled_data_dir)
    return [s.DatasetInfo(**d) for d in found]


@router.get(
    "/v1/datasets/{dataset_id}",
    summary="One dataset",
    responses={**s.ERRORS, 404: {"model": s.Error}},
)
def dataset(
    session: SessionDep, settings: SettingsDep, _: Viewer, dataset_id: str
) -> s.DatasetInfo:
    try:
        found = lookup(session, settings.data_dir, settings.bundled_data_dir, dataset_id)
    except KeyError:
        raise Refused(404, "no dataset {id}", id=repr(dataset_id)) from None
    return s.DatasetInfo(**found.describe())
