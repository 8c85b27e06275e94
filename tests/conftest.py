"""Shared fixtures. Each block is owned by one area; add new fixtures in a block of their own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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
