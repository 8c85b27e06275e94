"""Shared fixtures. Each block is owned by one area; add new fixtures in a block of their own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from aedetect.registry import SqlRegistry

# --- registry -------------------------------------------------------------------------------------
POSTGRES_URL_ENV = "AEDETECT_TEST_POSTGRES_URL"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite registry file (its directory does not exist yet)."""
    return f"sqlite:///{tmp_path / 'registry' / 'aedetect.db'}"


def _postgres_base_url() -> str:
    """The test server URL; a missing URL fails under CI (never a silent skip) and skips locally."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    message = f"{POSTGRES_URL_ENV} is not set (run .ci/postgres.sh to get a server and its URL)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def _postgres_schema_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema on the test server, dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text

    base = make_url(_postgres_base_url())
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL schema on the test server (``AEDETECT_TEST_POSTGRES_URL``),
    dropped afterwards; without that server the test fails under CI and skips locally."""
    with _postgres_schema_url() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[SqlRegistry]:
    """A migrated, empty registry on SQLite and on PostgreSQL (``AEDETECT_TEST_POSTGRES_URL``)."""
    from aedetect.registry import SqlRegistry

    with ExitStack() as cleanup:
        url = sqlite_url if request.param == "sqlite" else cleanup.enter_context(_postgres_schema_url())
        reg = SqlRegistry.from_url(url)
        cleanup.callback(reg.close)
        yield reg


# --- scale-out: Redis broker, S3 endpoint ----------------------------------------------------------
REDIS_URL_ENV = "AEDETECT_TEST_REDIS_URL"
S3_START_TIMEOUT_S = 60.0


def _missing_part(message: str) -> None:
    """A part the test needs is not there: fail under CI (never a silent skip), skip locally."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the test Redis server (``AEDETECT_TEST_REDIS_URL``, from ``.ci/redis.sh``); each
    user of it takes a queue name of its own, so runs never see each other's jobs."""
    url = os.environ.get(REDIS_URL_ENV)
    if not url:
        _missing_part(f"{REDIS_URL_ENV} is not set (run .ci/redis.sh to get a server and its URL)")
    assert url is not None
    return url


@dataclass(frozen=True)
class S3Endpoint:
    """A running S3-compatible server (moto's standalone server) and one fresh bucket on it."""

    url: str
    bucket: str
    region: str = "us-east-1"
    access_key_id: str = "testing"
    secret_access_key: str = "testing"

    def env(self, prefix: str = "aedetect") -> dict[str, str]:
        """The settings that point a process's artifact store at this bucket."""
        return {
            "AEDETECT_ARTIFACT_URL": f"s3://{self.bucket}/{prefix}",
            "AEDETECT_S3_ENDPOINT_URL": self.url,
            "AEDETECT_S3_REGION": self.region,
            "AEDETECT_S3_ACCESS_KEY_ID": self.access_key_id,
            "AEDETECT_S3_SECRET_ACCESS_KEY": self.secret_access_key,
        }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of moto's S3 server (``moto[server]``, the dev extra), started for the session
    on a free loopback port; missing moto fails under CI and skips locally."""
    try:
        import moto.server  # noqa: F401
        import requests
    except ImportError:
        _missing_part("moto[server] is not installed (pip install -e '.[dev]')")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + S3_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"moto's S3 server exited with {process.returncode}")
            try:
                requests.get(url, timeout=2)
                break
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline:
                    pytest.fail(f"moto's S3 server did not answer within {S3_START_TIMEOUT_S}s")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _new_bucket(server: str) -> S3Endpoint:
    import boto3

    endpoint = S3Endpoint(url=server, bucket=f"test-{uuid.uuid4().hex[:12]}")
    client = boto3.client(
        "s3",
        endpoint_url=endpoint.url,
        region_name=endpoint.region,
        aws_access_key_id=endpoint.access_key_id,
        aws_secret_access_key=endpoint.secret_access_key,
    )
    client.create_bucket(Bucket=endpoint.bucket)
    return endpoint


@pytest.fixture
def s3_bucket(s3_server: str) -> S3Endpoint:
    """A fresh, empty bucket on the session's S3 server."""
    return _new_bucket(s3_server)


@pytest.fixture(scope="module")
def s3_bucket_module(s3_server: str) -> S3Endpoint:
    """A fresh, empty bucket for a whole module."""
    return _new_bucket(s3_server)


@pytest.fixture(scope="module")
def postgres_module_url() -> Iterator[str]:
    """Like ``postgres_url``, for a whole module (a cluster of processes shares one schema)."""
    with _postgres_schema_url() as url:
        yield url
