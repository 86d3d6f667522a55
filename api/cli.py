"""The scenario service's commands, added to ``allocator`` through the entry point group
``allocator.commands`` (pyproject.toml): ``allocator serve`` and ``allocator keys create``.
The engine package never imports the service."""

from __future__ import annotations

from typing import Annotated

import typer

EXIT_INVALID = 2


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Run the HTTP scenario service (settings from ALLOCATOR_* environment variables)."""
    import uvicorn

    from api.app import create_app

    # Idle keep-alive connections are kept 75 s (uvicorn's default is 5 s), longer than
    # clients and proxies keep theirs (nginx upstreams 60 s), so the server is not the side
    # that closes a connection a client is about to reuse: with 5 s, a busy client's next
    # request on it found it closed (api_latency: up to 84 requests without an answer).
    uvicorn.run(create_app(), host=host, port=port, proxy_headers=False, timeout_keep_alive=75)


keys = typer.Typer(help="API keys of the scenario service.", no_args_is_help=True)


@keys.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    role: Annotated[str, typer.Option(help="viewer, planner or admin.")] = "planner",
) -> None:
    """Create a key in the service's database; the key and its signing secret print once."""
    from sqlalchemy.orm import Session

    from api.settings import ApiSettings
    from api.store import ROLES, connect, create_key, migrate

    if role not in ROLES:
        typer.echo(f"--role was {role!r} but is expected to be one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(EXIT_INVALID)
    settings = ApiSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings.url)
    migrate(engine)
    with Session(engine) as session, session.begin():
        row, key = create_key(session, name, role)
        typer.echo(f"id {row.id}, role {row.role}")
        typer.echo(f"key (shown once): {key}")
        typer.echo(f"signing secret: {row.secret}")
