"""A server that never wedges, against a real server: trainings wait in a bounded queue counted in
the registry (429 with Retry-After beyond it, on both APIs), health, reads and one-row predictions
answer while a long training runs and the queue is full, a training whose client hung up while it
was queued is withdrawn, and a cancelled training stops within its epoch (before its next batch),
not at the epoch's end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from support.server import FEATURES, ServerProcess, V1Client, csv_bytes, nsl_kdd, wait_for

QUEUE = 2
"""AEDETECT_MAX_QUEUED_TRAININGS of the server under test."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(
        tmp_path_factory.mktemp("wedge") / "data",
        AEDETECT_MAX_QUEUED_TRAININGS=str(QUEUE),
        AEDETECT_TRAIN_RETRY_AFTER_S="7",
        AEDETECT_SCORING_THREADS="1",
    ).start()
    try:
        yield server
    finally:
        server.stop()


def v2(server: ServerProcess, method: str, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("timeout", 60)
    headers = {"Authorization": f"Bearer {server.key}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.base}/api/v2/{path}", headers=headers, **kwargs)


def jobs_of(server: ServerProcess, model: str) -> list[dict[str, Any]]:
    resp = v2(server, "GET", f"jobs?model={model}")
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def network(client: V1Client, nn_id: str, frame: pd.DataFrame, **netconf: Any) -> None:
    client.create_network(nn_id)
    client.upload(nn_id, "datasrc", "train.csv", csv_bytes(frame))
    client.feeder(nn_id, "feed_train", FEATURES)
    client.netconf(nn_id, **netconf)


def train_answer(client: V1Client, nn_id: str, timeout: float = 600) -> str:
    """How a waiting v1 train call ends: its status and message, or that the client gave up."""
    try:
        resp = client.raw("POST", f"runmanager/state/train/nnid/{nn_id}/ver/1/", timeout=timeout)
    except requests.ReadTimeout:
        return "gave up"
    body = json.loads(resp.json())
    return f"{resp.status_code} {body['result'] if isinstance(body, dict) else body}"


def queued(client: V1Client) -> list[str]:
    reserved: list[str] = client.call("GET", "runmanager/state/train/nnid/nnlong/ver/1/")["reserved"]
    return reserved


def test_full_queue_is_429_reads_answer_and_a_cancel_stops_within_the_epoch(
    server: ServerProcess, train_frame: pd.DataFrame, eval_frame: pd.DataFrame
) -> None:
    client = V1Client(server.url)
    client.trained_network("nnserve", train_frame, FEATURES)
    row = eval_frame.iloc[0][FEATURES].to_dict()
    before = client.anomaly("nnserve", row)
    # one epoch of 4000 rows in batches of 1 is thousands of steps: the cancel lands inside one
    network(client, "nnlong", nsl_kdd("KDDTrain+_20Percent.txt", 4000), iter=1000, batch_size=1,
            n_hidden=[256, 128])  # fmt: skip
    for nn_id in ("nnq1", "nnq2", "nnq3"):
        network(client, nn_id, train_frame)
    dataset = v2(server, "POST", "datasets", files={"file": ("t.csv", csv_bytes(train_frame))}).json()["id"]
    created = v2(server, "POST", "models", json={"name": "qv2", "dataset": dataset, "columns": FEATURES,
                                                 "params": {"epochs": 2, "n_hidden": [16, 4]}})  # fmt: skip
    assert created.status_code == 201, created.text

    with ThreadPoolExecutor(max_workers=3) as pool:
        long_answer = pool.submit(train_answer, client, "nnlong")
        wait_for(lambda: [j for j in jobs_of(server, "nnlong") if j["status"] == "running"], "nnlong to run")
        waiting = pool.submit(train_answer, client, "nnq1")
        wait_for(lambda: len(queued(client)) == 1, "nnq1 to queue")
        gives_up = pool.submit(train_answer, client, "nnq2", timeout=4)
        wait_for(lambda: len(queued(client)) == QUEUE, "nnq2 to queue")

        # the queue is full: both APIs refuse with 429 and Retry-After, and queue nothing
        refused = v2(server, "POST", "models/qv2/train")
        assert refused.status_code == 429, refused.text
        assert refused.json()["type"] == "urn:aedetect:problem:too_many_requests"
        assert "AEDETECT_MAX_QUEUED_TRAININGS" in refused.json()["detail"]
        assert int(refused.headers["Retry-After"]) >= 1
        message = client.error(
            "POST", "runmanager/state/train/nnid/nnq3/ver/1/", 429, "limit of 2", "nothing was queued"
        )
        assert message
        assert jobs_of(server, "qv2") == [] and jobs_of(server, "nnq3") == []

        # health, reads and one-row predictions answer while the training runs and the queue is full
        assert requests.get(server.base + "/healthz", timeout=30).status_code == 200
        assert v2(server, "GET", "models", timeout=30).status_code == 200
        assert client.call("GET", "common/target/nninfo/nnid/nnserve/", timeout=30)
        assert client.anomaly("nnserve", row) == pytest.approx(before, abs=1e-6)

        # the client of nnq2 gives up while it is queued: its training is withdrawn, never run
        assert gives_up.result() == "gave up"
        withdrawn = wait_for(
            lambda: [j for j in jobs_of(server, "nnq2") if j["status"] == "cancelled"], "nnq2 withdrawn"
        )
        assert withdrawn[0]["started_at"] is None
        assert [r["status"] for r in client.runs("nnq2")] == ["cancelled"]
        accepted = v2(server, "POST", "models/qv2/train")  # a place in the queue is free again
        assert accepted.status_code == 202, accepted.text

        # cancelling the long training stops it inside its epoch, before the next batch
        running = next(j for j in jobs_of(server, "nnlong") if j["status"] == "running")
        assert v2(server, "POST", f"jobs/{running['id']}/cancel").status_code == 200
        answer = long_answer.result()
        assert answer.startswith("409 ") and "cancelled" in answer and "during epoch" in answer
        job = v2(server, "GET", f"jobs/{running['id']}").json()
        assert job["status"] == "cancelled" and "during epoch" in job["error"]

        # the queue moves on: the waiting client gets its training, the v2 job runs
        assert waiting.result().startswith("200 ")
        done = v2(server, "GET", f"jobs/{accepted.json()['id']}?wait=60").json()
        assert done["status"] == "succeeded", done
    assert client.anomaly("nnserve", row) == pytest.approx(before, abs=1e-6)


def test_a_stop_signal_ends_a_running_training_within_its_epoch(
    tmp_path: Path, train_frame: pd.DataFrame
) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        client = V1Client(server.url)
        network(client, "nnstop", nsl_kdd("KDDTrain+_20Percent.txt", 4000), iter=1000, batch_size=1,
                n_hidden=[256, 128])  # fmt: skip
        with ThreadPoolExecutor(max_workers=1) as pool:
            answer = pool.submit(train_answer, client, "nnstop")
            wait_for(lambda: [j for j in jobs_of(server, "nnstop") if j["progress"].get("epoch")], "epoch 1")
            server.stop()  # while a later epoch runs
            assert server.process is not None and server.process.returncode in (0, -15)
            text = answer.result()
        assert text.startswith("500 ") and "interrupted" in text and "during epoch" in text
        server.start()
        run = client.runs("nnstop")[0]
        assert run["status"] == "failed" and "during epoch" in run["error"]
    finally:
        server.stop()
