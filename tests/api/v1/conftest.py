"""Fixtures of the v1 service tests: one real server process for the session, and sample data."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from support.server import FEATURES, MAX_UPLOAD_BYTES, ServerProcess, V1Client, nsl_kdd


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
