"""The service's database: API keys, datasets, scenarios (jobs), results, audit log.

SQLite by default, PostgreSQL by URL; the schema is made and upgraded by Alembic
(``api/migrations``) on start. Results are written once and never changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

ROLES = ("viewer", "planner", "admin")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)  # stored as naive UTC


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(64))  # signs this key's callbacks (HMAC)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Dataset(Base):
    __tablename__ = "datasets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(300))  # as uploaded, for people
    path: Mapped[str] = mapped_column(String(300))  # relative to data_dir
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    layers: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))


class Result(Base):
    __tablename__ = "results"
    input_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # the solver's: optimal, infeasible, ...
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    path: Mapped[str] = mapped_column(String(300))  # relative to data_dir
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Job(Base):
    """A submitted scenario and the state of its solve."""

    __tablename__ = "scenarios"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    base: Mapped[str | None] = mapped_column(String(200), nullable=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    input_hash: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    cancel_requested: Mapped[int] = mapped_column(Integer, default=0)
    result_hash: Mapped[str | None] = mapped_column(ForeignKey("results.input_hash"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    callback_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    callback_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    callback_attempts: Mapped[int] = mapped_column(Integer, default=0)
    callback_next_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    callback_error: Mapped[str] = mapped_column(Text, default="")
    wall_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class Idempotency(Base):
    __tablename__ = "idempotency"
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    scenario_id: Mapped[str] = mapped_column(ForeignKey("scenarios.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Audit(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def audit(session: Session, key_id: str | None, action: str, target: str, **detail: Any) -> None:
    session.add(Audit(at=now(), key_id=key_id, action=action, target=target, detail=detail))


def connect(url: str) -> Engine:
    """An engine; SQLite gets WAL (readers never wait for the worker), a busy timeout and
    foreign keys."""
    if url.startswith(("postgresql://", "postgres://")):  # psycopg 3 is the driver installed
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    pool = {"pool_size": 20, "max_overflow": 20}  # as many as the worker threads (40)
    if url in ("sqlite://", "sqlite:///:memory:"):
        pool = {}  # one connection in memory: no pool to size
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, **pool)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creates it on first start)."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str, role: str, by: str | None = None) -> tuple[ApiKey, str]:
    """A new API key (made by key ``by``, or on the server); the key itself is returned
    once and only its hash is stored."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    key_id = "key_" + secrets.token_hex(6)
    key = f"alk_{key_id[4:]}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        id=key_id,
        name=name,
        role=role,
        key_sha256=hash_key(key),
        secret=secrets.token_hex(32),
        created_at=now(),
    )
    session.add(row)
    audit(session, by, "key.create", key_id, name=name, role=role)
    return row, key


def find_key(session: Session, key: str) -> ApiKey | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_sha256 == hash_key(key)))
    return row if row is not None and row.revoked_at is None else None
