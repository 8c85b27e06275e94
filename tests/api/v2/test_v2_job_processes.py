"""Trainings of a real server run in processes of their own: a training over its memory limit
fails alone while the server answers, progress and cancel reach the child through the registry,
and no job process outlives the server."""

from __future__ import annotations

import io
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from aedetect.client import Client
from aedetect.domain import JobStatus, VersionCondition
from aedetect.jobs.child import OUT_OF_MEMORY
from aedetect.registry import SqlRegistry
from support.server import ServerProcess, wait_for

COLUMNS = ["a", "b", "c", "d"]
SMALL = {"epochs": 2, "n_hidden": [4, 2], "random_state": 0}
LONG = {"epochs": 10_000, "n_hidden": [4, 2], "batch_size": 16, "validation_fraction": 0.0}
BIG = {"epochs": 2, "n_hidden": [2048, 2048]}
"""About 8.4 million weights: with gradients and the optimiser's state well over 100 MiB."""


def frame() -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(0).normal(size=(300, 4)), columns=COLUMNS)


def started(server: ServerProcess) -> tuple[ServerProcess, Client, str]:
    """The server, a client with its admin key, and the id of an uploaded 300-row dataset."""
    server.start()
    client = Client(server.base, api_key=server.key)
    dataset = client.upload_dataset(io.BytesIO(frame().to_csv(index=False).encode()), "rows.csv")["id"]
    return server, client, dataset


@pytest.fixture
def low_memory(tmp_path: Path) -> Iterator[tuple[ServerProcess, Client, str]]:
    """A server whose jobs may allocate 100 MiB each: enough for a small network, not a big one."""
    server = ServerProcess(tmp_path / "data", AEDETECT_TRAIN_MEMORY_MB="100")
    try:
        yield started(server)
    finally:
        server.stop()


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[tuple[ServerProcess, Client, str]]:
    server = ServerProcess(tmp_path / "data")
    try:
        yield started(server)
    finally:
        server.stop()


def worker_pid(job: dict) -> int:
    """The process id of the job's worker (``host:pid``), checked to be this host."""
    host, pid = str(job["worker"]).rsplit(":", 1)
    assert host == socket.gethostname()
    return int(pid)


def gone(pid: int) -> bool:
    """Whether no process, not even a zombie, has this id."""
    return not Path(f"/proc/{pid}").exists()


def registry_of(server: ServerProcess) -> SqlRegistry:
    return SqlRegistry.from_url(f"sqlite:///{server.data_dir / 'aedetect.db'}")


def test_a_training_over_its_memory_limit_fails_alone_while_the_server_answers(
    low_memory: tuple[ServerProcess, Client, str],
) -> None:
    server, api, dataset = low_memory
    api.create_model("small", dataset=dataset, columns=COLUMNS, params=SMALL)
    trained = api.train("small", wait=True, progress=False)
    assert trained["status"] == "succeeded", trained
    pid = worker_pid(trained)
    assert pid != server.process.pid  # type: ignore[union-attr]
    wait_for(lambda: gone(pid), "the training process to be reaped", timeout=30)

    api.create_model("big", dataset=dataset, columns=COLUMNS, params=BIG)
    answers: list[int] = []
    done = threading.Event()

    def keep_asking() -> None:  # health and one-row scoring of the other model, all along
        with Client(server.base, api_key=server.key) as other:
            row = frame().iloc[:1].to_dict("records")
            while not done.is_set():
                answers.append(httpx.get(server.base + "/healthz", timeout=30).status_code)
                answers.append(200 if other.score("small", row)["version"] == 1 else 0)

    asking = threading.Thread(target=keep_asking)
    asking.start()
    try:
        job = api.follow(api.train("big")["id"], progress=False)
    finally:
        done.set()
        asking.join(60)
    assert (job["status"], job["error"]) == ("failed", OUT_OF_MEMORY)
    wait_for(lambda: gone(worker_pid(job)), "the training process to be reaped", timeout=30)
    assert answers and set(answers) == {200}
    assert server.process is not None and server.process.poll() is None
    assert api.score("small", frame().iloc[:3].to_dict("records"))["version"] == 1
    registry = registry_of(server)
    try:  # the run and its version agree with the job: failed, no model version made
        runs = [(r.status, r.error, r.model_version) for r in registry.list_runs("big", 1)]
        assert runs == [(JobStatus.FAILED, OUT_OF_MEMORY, None)]
        assert registry.get_version("big", 1).condition is VersionCondition.ERROR
    finally:
        registry.close()
    assert [v["version"] for v in api.versions("big")] == []


def test_progress_events_and_a_cancel_reach_the_training_process(
    plain: tuple[ServerProcess, Client, str],
) -> None:
    server, api, dataset = plain
    api.create_model("long", dataset=dataset, columns=COLUMNS, params=LONG)
    job = api.train("long")
    epochs: list[int] = []
    last = job
    for event in api.events(job["id"]):
        last = event
        if event["progress"].get("epoch"):
            epochs.append(event["progress"]["epoch"])
            if len(epochs) == 2:
                pid = worker_pid(event)
                assert pid != server.process.pid and not gone(pid)  # type: ignore[union-attr]
                api.cancel(job["id"])
    assert len(epochs) >= 2 and epochs == sorted(epochs)
    assert last["status"] == "cancelled" and "cancelled" in (last["error"] or "")
    wait_for(lambda: gone(pid), "the training process to be reaped", timeout=30)


def test_a_killed_server_leaves_no_job_process_running(plain: tuple[ServerProcess, Client, str]) -> None:
    server, api, dataset = plain
    api.create_model("orphan", dataset=dataset, columns=COLUMNS, params=LONG)
    job = api.train("orphan")
    running = wait_for(lambda: api.job(job["id"])["progress"].get("epoch") and api.job(job["id"]), "an epoch")
    pid = worker_pid(running)
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(30)
    wait_for(lambda: gone(pid), "the training process to die with the server", timeout=30)


def test_stopping_the_server_ends_its_training_process_and_records_the_interruption(
    plain: tuple[ServerProcess, Client, str],
) -> None:
    server, api, dataset = plain
    api.create_model("stopped", dataset=dataset, columns=COLUMNS, params=LONG)
    job = api.train("stopped")
    running = wait_for(lambda: api.job(job["id"])["progress"].get("epoch") and api.job(job["id"]), "an epoch")
    pid = worker_pid(running)
    started_at = time.monotonic()
    server.stop()
    assert time.monotonic() - started_at < 60
    assert gone(pid)
    registry = registry_of(server)
    try:
        ended = registry.get_job(job["id"])
        assert ended.status is JobStatus.FAILED and (ended.error or "").startswith("interrupted")
        [run] = registry.list_runs("stopped", 1)
        assert (run.status, run.model_version) == (JobStatus.FAILED, None)
        assert registry.get_version("stopped", 1).condition is VersionCondition.ERROR
    finally:
        registry.close()
