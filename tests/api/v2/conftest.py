"""Fixtures of the native API tests: a real server process (the v1 harness, so both APIs get their
settings in one place), the Python client over it, and NSL-KDD data."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pandas as pd
import pytest

from aedetect.client import Client
from support.server import FEATURES, MAX_UPLOAD_BYTES, ServerProcess, csv_bytes, nsl_kdd


@pytest.fixture(scope="session")
def v2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A running ``python -m aedetect serve`` with a fresh data directory."""
    server = ServerProcess(
        tmp_path_factory.mktemp("v2") / "data", AEDETECT_MAX_UPLOAD_BYTES=str(MAX_UPLOAD_BYTES)
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def api(v2_server: ServerProcess) -> Iterator[Client]:
    with Client(v2_server.base, api_key=v2_server.key) as client:
        yield client


@pytest.fixture(scope="session")
def kdd_train() -> pd.DataFrame:
    """1500 rows of the NSL-KDD training file (normal and attack rows; ``label`` names the attack)."""
    return nsl_kdd("KDDTrain+_20Percent.txt", 1500)


@pytest.fixture(scope="session")
def kdd_test() -> pd.DataFrame:
    """400 rows of the NSL-KDD test file."""
    return nsl_kdd("KDDTest+.txt", 400)


@pytest.fixture(scope="session")
def datasets(api: Client, kdd_train: pd.DataFrame, kdd_test: pd.DataFrame) -> dict[str, str]:
    """Ids of the uploaded train and test datasets."""
    train = api.upload_dataset(io.BytesIO(csv_bytes(kdd_train)), "kdd-train.csv")
    test = api.upload_dataset(io.BytesIO(csv_bytes(kdd_test)), "kdd-test.csv")
    return {"train": train["id"], "test": test["id"]}


@pytest.fixture(scope="session")
def trained(api: Client, datasets: dict[str, str]) -> str:
    """A model trained once on the train dataset (version 1), for tests that only read it."""
    api.create_model(
        "kdd-shared",
        dataset=datasets["train"],
        columns=FEATURES,
        params={"epochs": 3, "random_state": 0, "n_hidden": [16, 4]},
    )
    job = api.train("kdd-shared", wait=True, progress=False)
    assert job["status"] == "succeeded", job
    return "kdd-shared"
