"""Service settings, read from ``AEDETECT_*`` environment variables.

Read lazily through :func:`get_settings`; nothing is built at import time. The library core
(``detectors``, ``data``, ``artifacts``) never reads settings.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from aedetect.domain.names import JobRunnerName
from aedetect.errors import InvalidInput, quoted

MIB = 1024 * 1024
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
"""Host names that reach this machine only; the default allowed ``Host`` headers."""


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _names(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


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
    job_runner: JobRunnerName = Field(
        "embedded",
        description="Where training and batch scoring run: 'embedded' (one process per job, forked by "
        "the server) or 'celery' (queued on AEDETECT_BROKER_URL for 'aedetect worker' processes on any "
        "host).",
    )
    job_workers: int = Field(
        1, ge=1, description="Concurrent jobs of the embedded runner, or of one 'aedetect worker'."
    )

    train_threads: int | None = Field(
        None,
        ge=1,
        description=(
            "torch threads of one training run; default: the detector's choice for the network's "
            "size (1 for the small networks of most tables). Scoring picks its own count the same "
            "way, so keep job_workers x train_threads + 1 at or below the machine's cores: more "
            "threads than cores makes every one of them wait."
        ),
    )
    train_memory_mb: int = Field(
        2048,
        ge=0,
        description=(
            "MiB of memory one embedded job (a training or a batch scoring) may allocate in its own "
            "process beyond the libraries it starts with (its address space limit, RLIMIT_AS, is set "
            "there); past it the job fails as out of memory and the server keeps serving. The "
            "default fits a 4 GB machine running one job at a time; 0: no limit (needed for GPU "
            "training, whose driver reserves far more address space than it uses)."
        ),
    )
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
    log_value_chars: int = Field(
        256,
        ge=16,
        description="Characters of each value the scoring log keeps; a longer value is cut to this "
        "length ending in '\u2026' and its column listed in the row's 'truncated'.",
    )
    log_retention_mb: float = Field(
        256.0,
        gt=0,
        description="Megabytes of logged values the scoring log keeps per model (the oldest rows go "
        "first), beside AEDETECT_LOG_RETENTION_ROWS and AEDETECT_LOG_RETENTION_DAYS.",
    )
    train_budget_mb: int = Field(
        1536,
        ge=64,
        description="Megabytes one training may need by the estimate made before it starts (the "
        "network's weights and optimiser state, the rows it computes at once times the encoded "
        "width that categorical vocabularies make, the baseline's one-hot matrix); a larger one is "
        "refused with 413 before anything is allocated. The default fits a 4 GB machine.",
    )

    # --- scale-out: the job queue, worker leases and the artifact store --------------------------
    broker_url: str | None = Field(
        None, description="Celery broker of the 'celery' job runner, e.g. redis://redis-host:6379/0."
    )
    job_queue: str = Field("aedetect", description="Name of the broker queue jobs go to.")
    job_visibility_timeout_s: float = Field(
        86_400.0,
        gt=0,
        description="Seconds before the broker hands an unacknowledged job to another worker; must be "
        "longer than the longest job (default one day).",
    )
    job_lease_s: float = Field(
        120.0,
        ge=1,
        description="Seconds a running job may go without its worker's heartbeat before it is failed as "
        "'worker lost' (heartbeats come six times a lease).",
    )
    worker_max_tasks: int = Field(
        20, ge=1, description="Jobs a worker child process runs before it is replaced by a fresh one."
    )
    artifact_url: str | None = Field(
        None,
        description="Where uploads, models and scored files live: a directory (local or a shared mount) "
        "or s3://bucket/prefix; default: data_dir.",
    )
    artifact_cache_dir: Path | None = Field(
        None,
        description="Local directory for copies of stored files read from S3; default: data_dir/cache.",
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint for a non-AWS store (MinIO, Ceph), e.g. http://minio:9000."
    )
    s3_region: str | None = Field(None, description="S3 region (default: boto3's own configuration).")
    s3_access_key_id: str | None = Field(
        None, description="S3 access key id (default: boto3's own sources: environment, files, roles)."
    )
    s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret access key.")

    # --- bounded cost: every request is checked against these before its work starts ---------
    max_json_bytes: int = Field(
        16 * MIB, gt=0, description="Largest request body that is not an upload, in bytes (HTTP 413 above)."
    )
    max_csv_columns: int = Field(
        10_000, gt=0, description="Most columns a CSV file may have (checked on its first line)."
    )
    max_csv_line_bytes: int = Field(
        MIB, ge=1024, description="Longest line of a CSV file, in bytes (checked while streaming)."
    )
    max_predict_rows: int = Field(50_000, gt=0, description="Most rows one prediction request may hold.")
    max_network_weights: int = Field(
        20_000_000, gt=0, description="Most weights (parameters) of an autoencoder network."
    )
    max_network_layers: int = Field(16, gt=0, description="Most encoder layers (entries of n_hidden).")
    max_epochs: int = Field(10_000, gt=0, description="Most passes over the data (iter) of one training.")
    max_text_chars: int = Field(
        10_000, gt=0, description="Longest free-text field (network and version descriptions, config)."
    )

    # --- a server that never wedges: bounded queues and pools ------------------------------------
    max_queued_trainings: int = Field(
        8,
        ge=1,
        description="Most training jobs waiting for a worker, counted in the registry (so over every "
        "process and job runner); a training asked for beyond it is refused with 429 and Retry-After.",
    )
    train_retry_after_s: int = Field(
        30,
        ge=1,
        le=86_400,
        description="Retry-After of a refused training when no running training has an estimated "
        "end yet (otherwise the soonest estimated end is given).",
    )
    max_score_jobs: int = Field(
        8,
        ge=1,
        description="Most scoring jobs (a stored dataset scored in the background) queued or running "
        "at once over all keys; one more is refused with 429 and Retry-After.",
    )
    max_score_jobs_per_key: int = Field(
        2,
        ge=1,
        description="Most scoring jobs one API key may have queued or running at once; one more is "
        "refused with 429 and Retry-After.",
    )
    job_result_retention_days: float = Field(
        7.0,
        gt=0,
        description="Days the result file of a finished scoring job is kept; then it is removed and "
        "the job says so (its row stays).",
    )
    audit_retention_days: float = Field(
        365.0, gt=0, description="Days an audit log entry is kept; older ones are removed hourly."
    )
    scoring_threads: int = Field(
        2,
        ge=1,
        description="Threads that score large prediction requests (more than 64 rows) off the event "
        "loop; further large requests wait for a free one, so small requests and reads stay prompt.",
    )

    # --- hardening: connections, request bodies and failed key checks ---------------------------
    max_connections: int = Field(
        1000,
        ge=16,
        description="Most client connections kept open at once; beyond it the connection idle the "
        "longest is closed (never one with a request in progress). Lowered at start to what the "
        "open-file limit allows (a warning says so).",
    )
    max_requests: int = Field(
        200, ge=1, description="Most requests in progress at once; beyond it 503 with Retry-After at once."
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Seconds a connection may take to send a complete request line and headers "
        "(from its start, or after the keep-alive time once a response is sent); then it is closed.",
    )
    keep_alive_s: float = Field(5.0, gt=0, description="Seconds an idle keep-alive connection stays open.")
    body_timeout_s: float = Field(
        30.0, gt=0, description="Seconds a request body may stall (no bytes arriving) before 408."
    )
    max_json_depth: int = Field(
        64, ge=2, description="Deepest nesting of arrays and objects in a JSON body (HTTP 400 beyond)."
    )
    auth_failures: int = Field(
        20,
        ge=1,
        description="Failed key checks allowed from one client address per AEDETECT_AUTH_FAILURE_WINDOW_S; "
        "beyond them unknown keys from that address get 429 with Retry-After until the window ends.",
    )
    auth_failure_window_s: float = Field(
        60.0,
        gt=0,
        description="Window of the failed key check limit, and of the audit: one audit entry per client "
        "address and window counts its failed key checks, and a key's state changes refused for its role "
        "are recorded at most twice per window (the first at once, then the count of the rest).",
    )

    # --- access -------------------------------------------------------------------------------
    auth: bool = Field(
        True,
        description="Require API keys. Always on when the server binds beyond loopback; "
        "false is allowed on loopback only.",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated Host names the server answers to ('*' for any); default: the "
        "loopback names and the bound address.",
    )
    allowed_origins: str = Field(
        "",
        description="Comma-separated origins (scheme://host:port) allowed to send state-changing "
        "requests besides the server's own.",
    )

    def host_names(self) -> frozenset[str]:
        """The ``Host`` names requests may carry (lower case, without port); ``*`` allows any."""
        names = set(_names(self.allowed_hosts))
        if not names:
            names.update(LOOPBACK_NAMES)
            bound = self.host.strip().strip("[]").lower()
            if bound not in ("0.0.0.0", "::", ""):
                names.add(bound)
        return frozenset(names)

    def origin_names(self) -> frozenset[str]:
        """Extra origins allowed to send state-changing requests (lower case, no trailing slash)."""
        return frozenset(name.rstrip("/") for name in _names(self.allowed_origins))

    def resolved_cache_dir(self) -> Path:
        """Where copies of S3 objects are kept on this host."""
        return self.artifact_cache_dir or self.data_dir / "cache"

    def resolved_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'aedetect.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once; a value a setting does not
    take is an ``InvalidInput`` naming its variable and what it takes."""
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidInput(_settings_problem(exc), field=_setting_name(exc)) from None


def _setting_name(exc: ValidationError) -> str:
    """The field of the first wrong setting (e.g. ``job_runner``)."""
    loc = exc.errors()[0]["loc"]
    return str(loc[0]) if loc else "settings"


def _settings_problem(exc: ValidationError) -> str:
    """One sentence per wrong setting: its variable, what it takes, and what it was given."""
    parts = []
    for error in exc.errors():
        name = f"AEDETECT_{str(error['loc'][0]).upper()}" if error["loc"] else "the settings"
        given = "" if "SECRET" in name else f" (got {quoted(error.get('input'))})"
        parts.append(f"{name}: {error['msg']}{given}")
    return "; ".join(parts)
