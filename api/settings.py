"""Server settings, from environment variables with the prefix ``ALLOCATOR_``.

Lists are JSON, e.g. ``ALLOCATOR_CALLBACK_HOSTS='["hooks.example.org"]'``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[1]


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALLOCATOR_", extra="ignore")

    data_dir: Path = Field(
        Path("var"), description="Database, uploaded datasets, results; created on first start."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default a SQLite file `allocator.db` in data_dir."
    )
    bundled_data_dir: Path = Field(
        REPO / "data", description="Bundled datasets: `<folder>/<file>` has id `<folder>.<stem>`."
    )
    bundled_scenarios_dir: Path = Field(
        REPO / "scenarios", description="Bundled scenarios: `<name>.yaml`, usable as `base`."
    )
    run_worker: bool = Field(True, description="Run queued solves in this server process.")
    workers: int = Field(1, ge=1, description="Solves run at the same time (one process each).")
    poll_interval_s: float = Field(0.5, gt=0, description="How often the worker looks for work.")
    stale_after_s: float = Field(
        30.0, gt=0, description="A running job without a heartbeat for this long was interrupted."
    )
    max_attempts: int = Field(2, ge=1, description="Runs of an interrupted job before it fails.")
    max_body_bytes: int = Field(64 * 2**20, gt=0, description="Largest request body (413 above).")
    max_projects: int = Field(50_000, gt=0, description="Most projects in one scenario (422).")
    max_parcels: int = Field(1_000_000, gt=0, description="Most parcels in one layer (422).")
    max_extracted_bytes: int = Field(
        2**30, gt=0, description="Largest unpacked size of an uploaded archive (422 above)."
    )
    max_time_limit_s: float = Field(900.0, gt=0, description="Largest solver.time_limit_s (422).")
    max_job_wall_s: float = Field(
        7200.0, gt=0, description="A solve still running after this long is stopped and failed."
    )
    callback_hosts: list[str] = Field(
        default_factory=list,
        description="Host names callbacks may be sent to (none: no callbacks).",
    )
    callback_attempts: int = Field(5, ge=1, description="Deliveries tried per callback.")
    callback_backoff_s: float = Field(
        2.0, ge=0, description="First retry delay; doubles each time."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (none: CORS off)."
    )

    @field_validator("data_dir", "bundled_data_dir", "bundled_scenarios_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'allocator.db'}"
