"""Consistent under failure, against real servers: a delete that cannot remove files changes
nothing and a retry completes it; a training that could not save is refused before it starts; a
full disk is a 507 and an unwritable one a 503, naming the setting and no path; a 500 gives a
request id the server log carries, never a path or exception text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests

from support.server import FEATURES, ServerProcess, V1Client, csv_bytes, read_only

NETWORKS = "common/target/nninfo/nnid/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    started = ServerProcess(tmp_path_factory.mktemp("failures") / "data").start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> V1Client:
    return V1Client(server.url)


def assert_no_path(message: str, server: ServerProcess) -> None:
    assert str(server.data_dir) not in message and str(server.data_dir.parent) not in message
    assert "may be retried" not in message


def test_delete_on_a_read_only_data_dir_changes_nothing_and_a_retry_completes(
    server: ServerProcess, client: V1Client, train_frame: pd.DataFrame, eval_frame: pd.DataFrame
) -> None:
    """It used to delete the registry row, leave the files and advise a retry that then 404ed."""
    client.trained_network("nnstuck", train_frame.iloc[:100], FEATURES)
    row = eval_frame.iloc[0][FEATURES].to_dict()
    before = client.anomaly("nnstuck", row)
    with read_only(server.data_dir / "networks"):
        message = client.error(
            "DELETE", NETWORKS + "nnstuck/", 503, "AEDETECT_DATA_DIR", "nothing was changed"
        )
        assert_no_path(message, server)
        assert client.call("GET", NETWORKS + "nnstuck/")[0]["nn_id"] == "nnstuck"
        assert client.anomaly("nnstuck", row) == before
        assert (server.data_dir / "models" / "nnstuck").is_dir()
    assert client.call("DELETE", NETWORKS + "nnstuck/") == "nnstuck"
    client.error("GET", NETWORKS + "nnstuck/", 404)
    leftovers = [p.name for d in ("networks", "models") for p in (server.data_dir / d).iterdir()]
    assert not [name for name in leftovers if "nnstuck" in name]


def test_dataset_delete_on_a_read_only_data_dir_changes_nothing(
    server: ServerProcess, train_frame: pd.DataFrame
) -> None:
    datasets = server.url + "/api/v2/datasets"
    made = requests.post(datasets, files={"file": ("d.csv", csv_bytes(train_frame.iloc[:20]))}, timeout=60)
    assert made.status_code == 201, made.text
    dataset = made.json()["id"]
    with read_only(server.data_dir / "datasets"):
        refused = requests.delete(f"{datasets}/{dataset}", timeout=60)
        assert refused.status_code == 503 and "AEDETECT_DATA_DIR" in refused.json()["detail"]
        assert_no_path(refused.text, server)
        assert requests.get(f"{datasets}/{dataset}", timeout=60).status_code == 200
    assert requests.delete(f"{datasets}/{dataset}", timeout=60).status_code == 204
    assert requests.get(f"{datasets}/{dataset}", timeout=60).status_code == 404
    assert list((server.data_dir / "datasets").iterdir()) == []


def test_file_delete_on_a_read_only_node_keeps_the_files(
    server: ServerProcess, client: V1Client, train_frame: pd.DataFrame
) -> None:
    client.create_network("nnkeepfiles")
    client.upload("nnkeepfiles", "datasrc", "a.csv", csv_bytes(train_frame.iloc[:20]))
    with read_only(server.data_dir / "networks" / "nnkeepfiles" / "1"):
        message = client.error("DELETE", client.data_path("nnkeepfiles", "datasrc"), 503, "AEDETECT_DATA_DIR")
        assert_no_path(message, server)
    files = client.call("GET", client.data_path("nnkeepfiles", "datasrc"))["files"]
    assert [f["name"] for f in files] == ["a.csv"]
    assert (server.data_dir / "networks" / "nnkeepfiles" / "1" / "datasrc" / "a.csv").is_file()
    assert client.call("DELETE", client.data_path("nnkeepfiles", "datasrc")) == "1 file delete success"


def test_training_with_an_unwritable_model_dir_is_refused_before_it_starts(
    server: ServerProcess, client: V1Client, train_frame: pd.DataFrame
) -> None:
    """It used to run every epoch and fail at the save."""
    client.create_network("nnnosave")
    client.upload("nnnosave", "datasrc", "train.csv", csv_bytes(train_frame.iloc[:100]))
    client.feeder("nnnosave", "feed_train", FEATURES)
    client.netconf("nnnosave", iter=10_000)
    with read_only(server.data_dir / "models"):
        message = client.error(
            "POST", "runmanager/state/train/nnid/nnnosave/ver/1/", 503, "AEDETECT_DATA_DIR", "not writable"
        )
        assert_no_path(message, server)
    assert client.runs("nnnosave") == []


def test_a_full_disk_is_507_and_keeps_the_earlier_files(tmp_path: Path, train_frame: pd.DataFrame) -> None:
    """Files the server writes are capped at 600 KB (RLIMIT_FSIZE): to it the disk is full."""
    server = ServerProcess(tmp_path / "data", file_size_limit=600_000).start()
    try:
        client = V1Client(server.url)
        client.create_network("nnfull")
        small = csv_bytes(train_frame.iloc[:50])
        client.upload("nnfull", "datasrc", "train.csv", small)
        big = b"a,b\n" + b"12345,67890\n" * 70_000  # 840 KB: held in memory by the upload, too big to store
        message = client.error(
            "POST", client.data_path("nnfull", "datasrc"), 507, "no space left", "AEDETECT_DATA_DIR",
            files={"file": ("train.csv", big)},
        )  # fmt: skip
        assert_no_path(message, server)
        files = client.call("GET", client.data_path("nnfull", "datasrc"))["files"]
        assert [(f["name"], f["rows"]) for f in files] == [("train.csv", 50)]
        stored = server.data_dir / "networks" / "nnfull" / "1" / "datasrc"
        assert (stored / "train.csv").read_bytes() == small
        assert [p.name for p in stored.iterdir()] == ["train.csv"]
    finally:
        server.stop()


def test_a_500_gives_a_request_id_the_log_carries_and_no_path(
    server: ServerProcess, client: V1Client, train_frame: pd.DataFrame, eval_frame: pd.DataFrame
) -> None:
    client.trained_network("nnbroken", train_frame.iloc[:100], FEATURES)
    (model,) = [p for p in (server.data_dir / "models" / "nnbroken" / "1").iterdir() if p.is_dir()]
    weights = next(p for p in model.iterdir() if p.suffix == ".safetensors")
    weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")
    path = "service/state/predict/type/anomaly/nnid/nnbroken/ver/active/"
    resp = client.raw("POST", path, json={"input_data": eval_frame.iloc[0][FEATURES].to_dict()})
    assert resp.status_code == 500
    message = client.error("POST", path, 500, "internal error", "request id", json={"input_data": {}})
    assert_no_path(message, server)
    request_id = resp.headers["X-Request-ID"]
    assert request_id in resp.json()
    assert f"request {request_id}" in server.log()
    assert requests.get(server.url + "/healthz", timeout=30).headers["X-Request-ID"] != request_id
