"""API keys: create, list and revoke (admin only)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api import schemas as s
from api.deps import Admin, Refused, Route, SessionDep
from api.store import ApiKey, audit, create_key, now

router = APIRouter(tags=["keys"], route_class=Route)


@router.post("/v1/keys", status_code=201, summary="Create an API key", responses=s.ERRORS)
def new_key(session: SessionDep, key: Admin, body: s.KeyRequest) -> s.KeyCreated:
    row, secret_key = create_key(session, body.name, body.role, by=key.id)
    return s.KeyCreated(id=row.id, name=row.name, role=row.role, key=secret_key,
                        signing_secret=row.secret, created_at=row.created_at)  # fmt: skip


@router.get("/v1/keys", summary="API keys (without the keys)", responses=s.ERRORS)
def keys(session: SessionDep, _: Admin) -> list[s.KeyInfo]:
    rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))
    return [s.KeyInfo.model_validate(r, from_attributes=True) for r in rows]


@router.delete(
    "/v1/keys/{key_id}",
    summary="Revoke an API key",
    responses={**s.ERRORS, 404: {"model": s.Error}},
)
def revoke(session: SessionDep, key: Admin, key_id: str) -> s.KeyInfo:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise Refused(404, "no API key {id}", id=repr(key_id))
    row.revoked_at = row.revoked_at or now()
    audit(session, key.id, "key.revoke", key_id)
    return s.KeyInfo.model_validate(row, from_attributes=True)
