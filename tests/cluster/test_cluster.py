"""Scale-out through real processes (``conftest.py``): two API processes and two Celery workers on
PostgreSQL, Redis and an S3 bucket. Requests alternate between the API processes; training and
batch scoring run on the workers; what one API process changes, the other serves at once."""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from aedetect.client import Client
from aedetect.client.types import JobInfo
from support.cluster import LEASE_S, Cluster
from support.server import FEATURES, V1Client, csv_bytes, nsl_kdd, wait_for

pytestmark = pytest.mark.postgres

FAST = {"epochs": 2, "random_state": 0, "n_hidden": [16, 4]}
"""Detector parameters of a quick training."""

LONG = {"epochs": 10_000, "random_state": 0, "n_hidden": [16, 4]}
"""A training that runs until it is cancelled or its worker dies."""


@pytest.fixture(scope="module")
def train_frame() -> pd.DataFrame:
    return nsl_kdd("KDDTrain+_20Percent.txt", 300)


@pytest.fixture(scope="module")
def rows(train_frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Five rows to score, as JSON objects."""
    records: list[dict[str, Any]] = train_frame[FEATURES].head(5).to_dict(orient="records")
    return records


@pytest.fixture(scope="module")
def clients(cluster: Cluster) -> Iterator[tuple[Client, Client]]:
    """A native-API client for each API process."""
    with (
        Client(cluster.api[0].base, api_key=cluster.api[0].key) as a,
        Client(cluster.api[1].base, api_key=cluster.api[1].key) as b,
    ):
        yield a, b


@pytest.fixture(scope="module")
def dataset(clients: tuple[Client, Client], train_frame: pd.DataFrame) -> str:
    """The training rows as a dataset (uploaded through the first API process)."""
    return clients[0].upload_dataset(io.BytesIO(csv_bytes(train_frame)), "train.csv")["id"]


def ran_on(cluster: Cluster, job: JobInfo) -> str:
    """The name of the worker that ran ``job`` (its ``worker`` is host:pid of a pool child)."""
    assert job["worker"] is not None, job
    return cluster.worker_of(int(job["worker"].rsplit(":", 1)[1])).name


def trained(client: Client, name: str, dataset: str, **params: Any) -> JobInfo:
    client.create_model(name, dataset=dataset, columns=FEATURES, params={**FAST, **params})
    job = client.train(name, wait=True, progress=False)
    assert job["status"] == "succeeded", job
    return job


def running(client: Client, job_id: str) -> JobInfo:
    """The job once a worker reports an epoch of it."""
    job: JobInfo = wait_for(
        lambda: (j := client.job(job_id))["status"] == "running" and j["progress"].get("epoch") and j,
        f"job {job_id} to report progress",
    )
    return job


def scores(answer: Any) -> list[float]:
    return [row["score"] for row in answer["rows"]]


def test_v1_flow_with_requests_alternating_between_the_api_processes(
    cluster: Cluster, train_frame: pd.DataFrame, clients: tuple[Client, Client]
) -> None:
    a, b = (V1Client(server.url) for server in cluster.api)
    a.create_network("nnc1")
    b.upload("nnc1", "datasrc", "train.csv", csv_bytes(train_frame))
    a.feeder("nnc1", "feed_train", FEATURES)
    b.netconf("nnc1")
    a.train("nnc1")  # waits for the training, which runs on a worker
    assert [run["status"] for run in b.runs("nnc1")] == ["succeeded"]
    records = train_frame[FEATURES].head(5).to_dict(orient="records")
    from_b, from_a = b.anomaly("nnc1", records), a.anomaly("nnc1", records)
    assert from_a == from_b and len(from_a) == 5
    (job,) = clients[1].jobs(model="nnc1")["items"]
    assert ran_on(cluster, job) in ("worker1", "worker2")


def test_native_flow_with_progress_and_batch_scoring_on_the_workers(
    cluster: Cluster,
    clients: tuple[Client, Client],
    dataset: str,
    rows: list[dict[str, Any]],
    train_frame: pd.DataFrame,
) -> None:
    a, b = clients
    b.create_model("kdd-c", dataset=dataset, columns=FEATURES, params={**FAST, "epochs": 5})
    job = a.train("kdd-c")
    seen = list(b.events(job["id"]))  # the event stream of the other process shows the worker's progress
    assert seen[-1]["status"] == "succeeded"
    assert {e["progress"].get("epoch") for e in seen} - {None}, seen
    done = b.job(job["id"])
    assert done["version"] == 1 and ran_on(cluster, done)
    assert scores(a.score("kdd-c", rows)) == scores(b.score("kdd-c", rows))

    scoring = b.score_dataset("kdd-c", dataset)
    finished = a.job(scoring["id"], wait=60)
    assert finished["status"] == "succeeded", finished
    assert finished["kind"] == "score" and ran_on(cluster, finished)
    scored = pd.read_csv(io.StringIO(b.job_result(scoring["id"])))  # written on a worker, read through b
    assert len(scored) == len(train_frame) and finished["result"]["rows"] == len(train_frame)
    assert scored["anomaly_score"].head(5).tolist() == pytest.approx(scores(a.score("kdd-c", rows)))


def test_two_trainings_at_once_land_on_the_two_workers(
    cluster: Cluster, clients: tuple[Client, Client], dataset: str
) -> None:
    a, b = clients
    for name in ("kdd-t1", "kdd-t2"):
        a.create_model(name, dataset=dataset, columns=FEATURES, params={**FAST, "epochs": 60})
    first, second = a.train("kdd-t1"), b.train("kdd-t2")
    jobs = [a.follow(first["id"], progress=False), b.follow(second["id"], progress=False)]
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"], jobs
    # a worker holds no job it is not running (prefetch 1, late acknowledgement): one each
    assert {ran_on(cluster, j) for j in jobs} == {"worker1", "worker2"}


def test_promotion_threshold_and_delete_through_one_process_are_served_by_the_other(
    clients: tuple[Client, Client], dataset: str, rows: list[dict[str, Any]]
) -> None:
    a, b = clients
    trained(a, "kdd-p", dataset)
    a.update_model("kdd-p", params={**FAST, "random_state": 1, "n_hidden": [12, 3]})
    assert a.train("kdd-p", wait=True, progress=False)["status"] == "succeeded"
    second = b.score("kdd-p", rows)  # b serves (and caches) version 2
    assert second["version"] == 2
    a.set_alias("kdd-p", "production", 1)  # rolled back through a ...
    first = b.score("kdd-p", rows)  # ... and b serves version 1 on its next request
    assert first["version"] == 1 and scores(first) == scores(a.score("kdd-p", rows, version=1))
    assert scores(first) != scores(second)

    a.set_threshold("kdd-p", 1, "value", value=0.0)
    moved = b.score("kdd-p", rows)
    assert all(r["is_anomaly"] and r["threshold"] == 0.0 for r in moved["rows"])

    a.delete_model("kdd-p")  # made again under the same name: its run ids are the same as before
    trained(a, "kdd-p", dataset, random_state=7, n_hidden=[8, 2])
    again = b.score("kdd-p", rows)
    assert again["version"] == 1 and scores(again) != scores(first)  # b did not serve its cached model
    assert scores(again) == scores(a.score("kdd-p", rows))


def test_a_job_delivered_twice_does_its_work_once(
    cluster: Cluster, clients: tuple[Client, Client], dataset: str
) -> None:
    from aedetect.jobs.celery import TASK, CeleryOptions, make_celery_app

    a, b = clients
    a.create_model("kdd-d", dataset=dataset, columns=FEATURES, params=FAST)
    job = a.train("kdd-d")
    app = make_celery_app(
        CeleryOptions(broker_url=cluster.env["AEDETECT_BROKER_URL"], queue=cluster.env["AEDETECT_JOB_QUEUE"])
    )
    app.send_task(TASK, args=[job["id"], "train"])  # as a broker redelivers after losing an acknowledgement
    app.close()
    assert b.follow(job["id"], progress=False)["status"] == "succeeded"
    wait_for(
        lambda: any(f"job {job['id']} (train) not claimed" in w.log() for w in cluster.workers),
        "the second delivery to be consumed",
        timeout=120,
    )
    assert [v["version"] for v in b.versions("kdd-d")] == [1]


def test_cancel_through_one_process_stops_a_job_on_a_worker(
    clients: tuple[Client, Client], dataset: str
) -> None:
    a, b = clients
    a.create_model("kdd-x", dataset=dataset, columns=FEATURES, params=LONG)
    job = running(a, a.train("kdd-x")["id"])
    b.cancel(job["id"])
    done = a.job(job["id"], wait=60)
    assert done["status"] == "cancelled" and "cancelled" in (done["error"] or ""), done
    assert b.versions("kdd-x") == []


def test_a_worker_killed_mid_training_fails_the_job_and_the_previous_model_keeps_serving(
    cluster: Cluster, clients: tuple[Client, Client], dataset: str, rows: list[dict[str, Any]]
) -> None:
    a, b = clients
    trained(a, "kdd-k", dataset)
    before = scores(b.score("kdd-k", rows))
    a.update_model("kdd-k", params=LONG)
    job = running(a, a.train("kdd-k")["id"])
    victim = cluster.worker_of(int(str(job["worker"]).rsplit(":", 1)[1]))
    victim.kill()  # parent and child at once: no acknowledgement, no clean-up
    failed = wait_for(lambda: (j := b.job(job["id"]))["status"] == "failed" and j, "the lease to expire", 60)
    assert "worker lost" in failed["error"] and f"{LEASE_S:g} s" in failed["error"]
    model = b.model("kdd-k")
    assert model["aliases"] == {"production": 1} and not model["training"]
    assert scores(a.score("kdd-k", rows)) == before == scores(b.score("kdd-k", rows))
    victim.start()  # the cluster keeps two workers for whatever runs next


def test_a_worker_child_killed_mid_training_fails_the_job_and_the_worker_goes_on(
    cluster: Cluster, clients: tuple[Client, Client], dataset: str
) -> None:
    a, b = clients
    a.create_model("kdd-o", dataset=dataset, columns=FEATURES, params=LONG)
    job = running(a, a.train("kdd-o")["id"])
    child = int(str(job["worker"]).rsplit(":", 1)[1])
    worker = cluster.worker_of(child)
    os.kill(child, signal.SIGKILL)  # as the kernel's out-of-memory killer would: the parent lives on
    failed = wait_for(lambda: (j := b.job(job["id"]))["status"] == "failed" and j, "the lease to expire", 60)
    assert "worker lost" in failed["error"] and b.versions("kdd-o") == []
    assert worker.process is not None and worker.process.poll() is None
    a.update_model("kdd-o", params=FAST)
    assert b.train("kdd-o", wait=True, progress=False)["status"] == "succeeded"  # the cluster goes on
