"""Service settings, read from ``AEDETECT_*`` environment variables.

Read lazily through :func:`get_settings`; nothing is built at import time. The library core
(``detectors``, ``data``, ``artifacts``) never reads settings.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the service, each overridable by ``AEDETECT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="AEDETECT_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port of the HTTP server.")
    data_dir: Path = Field(
        Path("aedetect-data"),
        description="Directory for uploaded files and trained models (created if missing).",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the registry database; default: SQLite file in data_dir.",
    )
    max_upload_bytes: int = Field(
        200 * 1024 * 1024, gt=0, description="Largest accepted upload, in bytes (HTTP 413 above)."
    )
    job_runner: str = Field("embedded", description="Where training runs: 'embedded' (in-process threads).")
    job_workers: int = Field(1, ge=1, description="Concurrent training runs of the embedded runner.")
    log_enabled: bool = Field(
        True, description="Whether scored rows (v1 and v2) are recorded in the scoring log."
    )
    log_sample: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Share of scored rows whose values the scoring log keeps (drift reads them); "
        "alarms always keep theirs. Scores, verdicts and top columns are logged for every row.",
    )
    log_retention_days: float = Field(
        30.0, gt=0, description="Days the scoring log keeps a row (older rows are deleted)."
    )
    log_retention_rows: int = Field(
        1_000_000, ge=1, description="Rows the scoring log keeps per model (the oldest go first)."
    )
    log_queue_rows: int = Field(
        100_000,
        ge=1,
        description="Rows waiting to be written to the scoring log; beyond it rows are not logged "
        "(counted as a gap) rather than slowing predictions.",
    )

    def resolved_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'aedetect.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
