"""What the routes depend on, as named types: the settings, a database session committed
before the response, and the caller's API key with the role a route needs."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from allocator.words import DEFAULT_LANG, LANGS, message
from api.settings import ApiSettings
from api.store import ROLES, ApiKey, find_key


class Refused(HTTPException):
    """A request refused (401, 403, 404, 409, 503) with a message said in the language the
    request asks for: ``template`` (English, ``str.format``) filled with ``figures``, in
    Chinese through the catalogue entry ``msg.<template>`` (``api.errors``)."""

    def __init__(self, status: int, template: str, headers: dict[str, str] | None = None,
                 **figures: object) -> None:  # fmt: skip
        self.template, self.figures = template, {k: str(v) for k, v in figures.items()}
        super().__init__(status, template.format(**self.figures), headers)

    def said(self, lang: str) -> str:
        return message(self.template, self.figures, lang, str(self.detail))


API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
BEARER = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")


async def get_settings(request: Request) -> ApiSettings:
    """The service's settings (async, as every dependency that does no I/O: a sync one would
    take a worker thread per request)."""
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session committed when the route returns (``Route``), rolled back if it raises. A
    route may commit earlier (to release the connection, or to claim a row) and go on.
    Async, so that closing it never waits for a free worker thread."""
    with request.app.state.sessions() as session:
        yield session
        session.commit()


def _commits(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint``, committing its session before it returns: FastAPI checks a sync route's
    answer in a worker thread and only then closes the session, so under load every
    connection would be held by answers waiting for a thread while every thread waits for a
    connection (200 clients: all reads 503 after 30 s)."""
    if "session" not in inspect.signature(endpoint).parameters or hasattr(endpoint, "commits"):
        return endpoint

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        answer = endpoint(*args, **kwargs)
        kwargs["session"].commit()
        return answer

    run.commits = True  # type: ignore[attr-defined]
    return run


class Route(APIRoute):
    """The routes of this service: each ends its transaction before its answer is checked."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _commits(endpoint), **kwargs)


async def request_lang(
    request: Request,
    lang: Annotated[
        Literal["zh", "en"] | None,
        Query(description="Language of labels and pages: zh or en (default: Accept-Language, "
              "then zh)."),
    ] = None,
) -> str:  # fmt: skip
    """``?lang=``, else the first of zh and en that Accept-Language prefers, else zh."""
    if lang is not None:
        return lang
    wanted = []
    for i, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, q = part.strip().partition(";q=")
        primary = tag.split("-")[0].lower()
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if primary in LANGS and 0 < weight <= 1:
            wanted.append((-weight, i, primary))
    return min(wanted)[2] if wanted else DEFAULT_LANG


LangDep = Annotated[str, Depends(request_lang)]
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
        raise Refused(401, "an API key is required (X-API-Key header or bearer token)",
                      headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    row = find_key(session, token)
    session.commit()  # no connection held while the route waits for a thread to run it
    if row is None:
        raise Refused(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return row


def role(needed: str) -> Any:
    """The caller's key, when its role is ``needed`` or above (403 otherwise)."""

    async def check(key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
        if ROLES.index(key.role) < ROLES.index(needed):
            raise Refused(403, "role {role} may not do this (needs {needed})", role=key.role,
                          needed=needed)  # fmt: skip
        return key

    return Depends(check)


Viewer = Annotated[ApiKey, role("viewer")]
Planner = Annotated[ApiKey, role("planner")]
Admin = Annotated[ApiKey, role("admin")]
