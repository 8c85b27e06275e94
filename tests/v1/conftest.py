"""Fixtures of the v1 service tests: one real server process for the session, and sample data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pandas as pd
import pytest
from v1_support import FEATURES, MAX_UPLOAD_BYTES, ServerProcess, V1Client, nsl_kdd


@pytest.fixture(scope="session")
def v1_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A running ``python -m aedetect serve`` with a fresh data directory."""
    server = ServerProcess(
        tmp_path_factory.mktemp("v1") / "data", AEDETECT_MAX_UPLOAD_BYTES=str(MAX_UPLOAD_BYTES)
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def client(v1_server: ServerProcess) -> V1Client:
    return V1Client(v1_server.url)


@pytest.fixture(scope="session")
def train_frame() -> pd.DataFrame:
    """300 rows of the NSL-KDD training file."""
    return nsl_kdd("KDDTrain+_20Percent.txt", 300)


@pytest.fixture(scope="session")
def eval_frame() -> pd.DataFrame:
    """100 rows of the NSL-KDD test file (normal and attack rows, ``label`` names the attack)."""
    return nsl_kdd("KDDTest+.txt", 100)


@pytest.fixture(scope="session")
def trained(client: V1Client, train_frame: pd.DataFrame) -> str:
    """Id of a network whose version 1 is trained on ``FEATURES`` (for prediction tests)."""
    client.trained_network("nntrained", train_frame, FEATURES)
    return "nntrained"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL schema on the test server (``AEDETECT_TEST_POSTGRES_URL``),
    dropped afterwards; without that server the test fails under CI and skips locally."""
    from sqlalchemy import create_engine, make_url, text

    url = os.environ.get("AEDETECT_TEST_POSTGRES_URL")
    if not url:
        message = "AEDETECT_TEST_POSTGRES_URL is not set (run .ci/postgres.sh to get a server and its URL)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    base = make_url(url)
    schema = f"test_v1_{uuid.uuid4().hex[:12]}"
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
