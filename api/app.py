"""The HTTP API (versioned under /v1): ``create_app`` wires the settings, the database,
the worker, the error handlers and the routers (``api/routes``). See the OpenAPI at /docs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from api import errors
from api import schemas as s
from api.housekeeping import clean_leftovers
from api.limits import BodyLimit
from api.routes import ROUTERS, docs
from api.settings import ApiSettings
from api.store import ApiKey, connect, create_key, migrate
from api.worker import Dispatcher


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for path in clean_leftovers(settings.data_dir):
        print(f"allocator: removed {path.relative_to(settings.data_dir)}, left by a stopped server",
              flush=True)  # fmt: skip
    engine = connect(settings.url)
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as session:
        if session.scalar(select(func.count()).select_from(ApiKey)) == 0:
            _, key = create_key(session, "first admin", "admin")
            print(f"allocator: first admin API key (shown once): {key}", flush=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = Dispatcher(settings, sessions) if settings.run_worker else None
        if dispatcher:
            dispatcher.start()
        app.state.dispatcher = dispatcher
        yield
        if dispatcher:
            dispatcher.stop()
        engine.dispose()

    app = FastAPI(
        title="allocator scenario service",
        version="1.0.0",
        summary="Submit allocation scenarios, poll them, read their results.",
        description=s.DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc from the service's own files (routes/docs.py)
        redoc_url=None,
    )
    app.state.settings, app.state.sessions, app.state.engine = settings, sessions, engine
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["*"], allow_headers=["*"])  # fmt: skip
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", docs.files, name="static")
    return app
