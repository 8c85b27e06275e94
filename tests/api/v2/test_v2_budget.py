"""The training budget through a real server: a model whose categorical vocabulary would make a
training far larger than ``AEDETECT_TRAIN_BUDGET_MB`` is refused with 413 before anything is
stored or trained, over v2 (at creation and change, from the dataset's column summaries) and v1
(when the job reads the data: the executor's check with the real encoded widths); a modest model
of the same data still trains."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import requests

from aedetect.client import Client
from support.server import ServerProcess, V1Client, csv_bytes, problem

SETTING = "AEDETECT_TRAIN_BUDGET_MB"


@pytest.fixture(scope="module")
def wide_dataset() -> bytes:
    """10,000 rows with a categorical column of 10,000 distinct values and two numeric ones."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "part": [f"p{i:05d}" for i in range(10_000)],
            "x1": rng.normal(size=10_000),
            "x2": rng.normal(size=10_000),
        }
    )
    return csv_bytes(frame)


@pytest.fixture(scope="module")
def wide_id(api: Client, wide_dataset: bytes) -> str:
    dataset_id: str = api.upload_dataset(io.BytesIO(wide_dataset), "parts.csv")["id"]
    return dataset_id


def test_a_vocabulary_over_the_budget_is_refused_before_the_model_exists(
    v2_server: ServerProcess, wide_id: str
) -> None:
    body = {"name": "parts-wide", "dataset": wide_id, "params": {"vocab_size": 10_000, "epochs": 1}}
    refused = problem(v2_server, "POST", "/models", 413, "payload_too_large", "params", json=body)
    detail = refused["detail"]
    assert SETTING in detail and "vocab_size" in detail and "10,000 values" in detail, detail
    assert requests.get(f"{v2_server.url}/api/v2/models/parts-wide", timeout=30).status_code == 404
    jobs = requests.get(f"{v2_server.url}/api/v2/jobs", timeout=30).json()
    assert not [j for j in jobs.get("items", []) if j.get("model") == "parts-wide"]


def test_a_modest_model_of_the_same_data_trains_and_cannot_be_widened(
    v2_server: ServerProcess, api: Client, wide_id: str
) -> None:
    api.create_model(
        "parts-modest", dataset=wide_id, params={"vocab_size": 20, "epochs": 1, "n_hidden": [8, 2]}
    )
    job = api.train("parts-modest", wait=True, progress=False)
    assert job["status"] == "succeeded", job
    widen = {"params": {"vocab_size": 10_000, "epochs": 1, "n_hidden": [8, 2]}}
    refused = problem(
        v2_server, "PATCH", "/models/parts-modest", 413, "payload_too_large", "params", json=widen
    )
    assert SETTING in refused["detail"]
    assert api.model("parts-modest")["params"]["vocab_size"] == 20


def test_v1_training_over_the_budget_fails_when_its_data_is_encoded(
    v2_server: ServerProcess, wide_dataset: bytes
) -> None:
    """v1 knows the vocabulary only when the job reads the data: the run fails with 413 naming
    the setting, before the network is built, and no model version is made."""
    v1 = V1Client(v2_server.url)
    v1.create_network("wideparts")
    v1.upload("wideparts", "datasrc", "parts.csv", wide_dataset)
    feeder = {"encode_column": ["part", "x1", "x2"], "vocab_size": 10_000, "preprocess": "frame",
              "embed_type": "onehot"}  # fmt: skip
    path = "wf/state/pre/detail/feed/src/frame/net/autoencoder/nnid/wideparts/ver/1/node/feed_train/"
    v1.call("POST", path, json=feeder)
    v1.netconf("wideparts")
    message = v1.error("POST", "runmanager/state/train/nnid/wideparts/ver/1/", 413, SETTING, "vocab_size")
    assert "10,002 values" in message or "10,000 values" in message, message
    runs = v1.runs("wideparts")
    assert runs and all(r.get("model_version") is None for r in runs), json.dumps(runs)[:500]
