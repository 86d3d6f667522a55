"""What the routes depend on, as named types: the settings, a database session committed
before the response, and the caller's API key with the role a route needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.settings import ApiSettings
from api.store import ROLES, ApiKey, find_key

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
BEARER = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session committed after the route returns, rolled back if it raises. A route may
    commit earlier (to release the connection, or to claim a row) and go on. Async, so that
    closing it (and giving its connection back) never waits for a free worker thread: with
    every thread busy, a sync dependency's teardown would hold connections until the pool
    runs dry."""
    with request.app.state.sessions() as session:
        yield session
        session.commit()


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def caller(
    session: SessionDep,
    key: Annotated[str | None, Security(API_KEY)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
) -> ApiKey:
    """The caller's key (401 without a valid one)."""
    token = key or (bearer.credentials if bearer else None)
    if not token:
        raise HTTPException(401, "an API key is required (X-API-Key header or bearer token)",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    row = find_key(session, token)
    session.commit()  # no connection held while the route waits for a thread to run it
    if row is None:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    return row


def role(needed: str) -> Any:
    """The caller's key, when its role is ``needed`` or above (403 otherwise)."""

    def check(key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
        if ROLES.index(key.role) < ROLES.index(needed):
            raise HTTPException(403, f"role {key.role} may not do this (needs {needed})")
        return key

    return Depends(check)


Viewer = Annotated[ApiKey, role("viewer")]
Planner = Annotated[ApiKey, role("planner")]
Admin = Annotated[ApiKey, role("admin")]
