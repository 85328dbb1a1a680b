"""Service settings from the environment (prefix RCC_), read once and passed to `create_app`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything the service needs to know about its deployment.

    Every field can be set as an environment variable named `RCC_<FIELD>` (e.g. `RCC_DATA_DIR`,
    `RCC_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test`).
    """

    model_config = SettingsConfigDict(env_prefix="RCC_", extra="ignore")

    data_dir: Path = Field(
        default=Path("rcc-data"), description="Folder for datasets, results, database"
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default a SQLite file `rcc.sqlite3` in the data folder",
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema holding the tables (created if missing)"
    )
    job_time_limit: float = Field(
        default=60.0, gt=0, description="Solver time limit per job, seconds"
    )
    job_wall_limit: float = Field(
        default=300.0, gt=0, description="A job still running after this many seconds is stopped"
    )
    job_attempts: int = Field(
        default=3, ge=1, description="Starts of one job before a restart fails it"
    )
    pool_size: int = Field(default=2, ge=1, description="Jobs solved at the same time")
    job_nice: int = Field(
        default=10, ge=0, le=19, description="Niceness of solver processes (reads stay quick)"
    )
    draw_maps: bool = Field(
        default=True,
        description="Draw a finished scenario's standard maps at once, in a niced process",
    )
    read_cache_mb: int = Field(
        default=128, ge=0, description="Memory for finished results' response bodies, MB"
    )
    upload_limit: int = Field(default=50_000_000, ge=1, description="Largest request body, bytes")
    max_children: int = Field(default=200_000, ge=1, description="Most children in one dataset")
    max_jobs_per_key: int = Field(default=4, ge=1, description="Queued or running jobs per API key")
    cors_origins: list[str] = Field(default_factory=list, description="Allowed browser origins")
    suppression_threshold: int = Field(default=5, ge=0, description="Largest count shown as 'c'")
    max_page_size: int = Field(
        default=5000, ge=1, description="Most allocation rows in one JSON page"
    )

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite under the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rcc.sqlite3').resolve()}"
