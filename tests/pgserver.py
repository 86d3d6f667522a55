"""A throwaway PostgreSQL + PostGIS server for tests: initdb in a temporary folder, a free
port on loopback, trust authentication, stopped and removed afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import missing

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def needs_postgis() -> None:
    reason = None
    if not (PG_BIN / "initdb").exists():
        reason = f"{PG_BIN}/initdb is missing (make system-deps installs postgresql-15-postgis-3)"
    elif not list(Path("/usr/share/postgresql/15/extension").glob("postgis.control")):
        reason = "PostGIS is missing (make system-deps installs postgresql-15-postgis-3)"
    if reason:
        missing(reason)


def _run(*cmd: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def postgis() -> Iterator[str]:
    """Yield the URL of a fresh database with the postgis extension."""
    needs_postgis()
    folder = Path(tempfile.mkdtemp(prefix="allocator-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(folder, "postgres")
    data = folder / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        _run(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")  # fmt: skip
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")  # fmt: skip
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        yield url
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)
