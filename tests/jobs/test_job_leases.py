"""Jobs run by workers on other hosts, over a real registry (SQLite and PostgreSQL): the atomic
claim, leases and their expiry, final statuses that are never overwritten, and the Celery
runner's refusals."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from aedetect.domain import JobStatus, Network, Version, VersionCondition
from aedetect.errors import Conflict, InvalidInput, StorageUnavailable
from aedetect.jobs.lease import Lease, lost_reason
from aedetect.jobs.lifecycle import execute_job
from aedetect.registry import SqlRegistry


def claimed_training(registry: SqlRegistry, worker: str = "host-a:1") -> tuple[str, str]:
    """A training job (with its run, version PROGRESS) claimed by ``worker``: (job id, run id)."""
    registry.create_network(Network(nn_id="nn1"))
    registry.create_version(Version(nn_id="nn1", version=1))
    job = registry.create_job("train", {"nn_id": "nn1", "version": 1}, model="nn1")
    run = registry.create_run("nn1", 1, {}, job.job_id)
    registry.update_version("nn1", 1, {"condition": VersionCondition.PROGRESS})
    assert registry.start_job(job.job_id, worker)
    return job.job_id, run.run_id


def test_of_many_concurrent_claims_of_one_job_exactly_one_wins(registry: SqlRegistry) -> None:
    job = registry.create_job("train", {})
    start = threading.Barrier(8, timeout=30)

    def claim(i: int) -> bool:
        start.wait()
        return registry.start_job(job.job_id, f"host:{i}")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, range(8)))
    assert results.count(True) == 1
    claimed = registry.get_job(job.job_id)
    assert claimed.status is JobStatus.RUNNING and claimed.worker == f"host:{results.index(True)}"
    assert claimed.heartbeat_at is not None and claimed.started_at is not None


def test_a_second_delivery_does_not_run_the_handler(registry: SqlRegistry) -> None:
    job = registry.create_job("train", {})
    calls: list[str] = []
    assert execute_job(registry, calls.append, job.job_id, "train", worker="host-a:1")
    assert not execute_job(registry, calls.append, job.job_id, "train", worker="host-b:2")
    assert calls == [job.job_id]
    done = registry.get_job(job.job_id)
    assert done.status is JobStatus.SUCCEEDED and done.worker == "host-a:1"


def test_a_heartbeat_renews_only_the_claiming_workers_running_job(registry: SqlRegistry) -> None:
    job_id, _ = claimed_training(registry)
    first = registry.get_job(job_id).heartbeat_at
    time.sleep(0.01)
    assert registry.heartbeat(job_id, "host-a:1")
    renewed = registry.get_job(job_id).heartbeat_at
    assert first is not None and renewed is not None and renewed > first
    assert not registry.heartbeat(job_id, "host-b:2")
    registry.finish_job(job_id, JobStatus.SUCCEEDED)
    assert not registry.heartbeat(job_id, "host-a:1")


def test_an_expired_lease_fails_the_job_its_run_and_version_and_asks_it_to_stop(
    registry: SqlRegistry,
) -> None:
    job_id, run_id = claimed_training(registry)
    assert registry.fail_stale_jobs(60.0, lost_reason(60.0)) == []  # the lease is fresh
    time.sleep(0.05)
    assert registry.fail_stale_jobs(0.01, lost_reason(0.01)) == [job_id]
    job, run = registry.get_job(job_id), registry.get_run(run_id)
    assert job.status is JobStatus.FAILED and job.cancel_requested and job.finished_at is not None
    assert job.error is not None and job.error.startswith("worker lost")
    assert run.status is JobStatus.FAILED and run.error == job.error
    assert registry.get_version("nn1", 1).condition is VersionCondition.ERROR
    assert registry.fail_stale_jobs(0.01, "again") == []  # failed once only


def test_a_final_status_is_never_overwritten(registry: SqlRegistry) -> None:
    job_id, _ = claimed_training(registry)
    time.sleep(0.05)
    registry.fail_stale_jobs(0.01, lost_reason(0.01))
    assert not registry.finish_job(job_id, JobStatus.SUCCEEDED)  # the zombie worker ends later
    assert registry.get_job(job_id).status is JobStatus.FAILED
    with pytest.raises(InvalidInput, match="not a final job status"):
        registry.finish_job(job_id, JobStatus.RUNNING)


def test_a_lease_keeps_its_jobs_alive_and_fails_those_of_a_dead_worker(registry: SqlRegistry) -> None:
    mine = registry.create_job("train", {})
    dead = registry.create_job("train", {})
    assert registry.start_job(mine.job_id, "host-a:1") and registry.start_job(dead.job_id, "host-b:2")
    lease = Lease(registry, "host-a:1", lease_s=0.2)
    with lease.hold(mine.job_id):
        for _ in range(4):  # host-b never beats again; host-a beats every 0.1 s
            time.sleep(0.1)
            lease.beat()
    assert registry.get_job(mine.job_id).status is JobStatus.RUNNING
    lost = registry.get_job(dead.job_id)
    assert lost.status is JobStatus.FAILED and "0.2 s" in (lost.error or "")


def test_the_celery_runner_refuses_unknown_kinds_and_names_an_unreachable_broker(
    registry: SqlRegistry,
) -> None:
    pytest.importorskip("celery")
    from aedetect.jobs.celery import CeleryJobRunner, CeleryOptions, make_celery_app

    app = make_celery_app(CeleryOptions(broker_url="redis://127.0.0.1:1/0"))
    runner = CeleryJobRunner(app, registry, ["train"])
    job = registry.create_job("train", {})
    try:
        with pytest.raises(InvalidInput, match="unknown job kind 'nope'"):
            runner.submit(job.job_id, "nope")
        with pytest.raises(StorageUnavailable, match="AEDETECT_BROKER_URL"):
            runner.submit(job.job_id, "train")
    finally:
        runner.shutdown()


def test_the_celery_runner_queues_only_the_job_id_and_kind(registry: SqlRegistry, redis_url: str) -> None:
    pytest.importorskip("celery")
    import redis

    from aedetect.jobs.celery import TASK, CeleryJobRunner, CeleryOptions, make_celery_app

    queue = f"aedetect-test-{uuid.uuid4().hex[:8]}"
    app = make_celery_app(CeleryOptions(broker_url=redis_url, queue=queue))
    job = registry.create_job("train", {"nn_id": "secret-params-stay-in-the-registry"})
    runner = CeleryJobRunner(app, registry, ["train"])
    runner.submit(job.job_id, "train")
    runner.shutdown()
    broker = redis.Redis.from_url(redis_url)
    try:
        (message,) = broker.lrange(queue, 0, -1)
        envelope = json.loads(message)
        assert envelope["headers"]["task"] == TASK and envelope["headers"]["id"]
        body = json.loads(base64.b64decode(envelope["body"]))
        assert body[0] == [job.job_id, "train"] and body[1] == {}
        assert b"secret-params" not in message
    finally:
        broker.delete(queue)
        broker.close()


def test_the_worker_parent_refuses_to_fork_with_cuda_initialised(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("celery")
    import torch

    from aedetect.jobs import celery as celery_jobs

    celery_jobs._on_worker_init()  # nothing touched CUDA in this process
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    with pytest.raises(RuntimeError, match="CUDA was initialised in the worker's parent"):
        celery_jobs._on_worker_init()


def test_a_worker_needs_the_celery_job_runner(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AEDETECT_")}
    done = subprocess.run(
        [sys.executable, "-m", "aedetect", "worker"],
        env={**env, "AEDETECT_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "AEDETECT_JOB_RUNNER=celery" in done.stderr and "'embedded'" in done.stderr


def test_an_exclusive_run_is_refused_while_the_version_has_one_unfinished(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    registry.create_version(Version(nn_id="nn1", version=1))
    start = threading.Barrier(4, timeout=30)

    def create(_: int) -> str:
        start.wait()
        try:
            return registry.create_run("nn1", 1, {}, None, exclusive=True).run_id
        except Conflict as exc:
            return exc.message

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(create, range(4)))
    assert results.count("nn1_1_1") == 1
    assert sum("already training (run nn1_1_1 is queued)" in r for r in results) == 3
    registry.update_run("nn1_1_1", {"status": JobStatus.SUCCEEDED})
    assert registry.create_run("nn1", 1, {}, None, exclusive=True).run_id == "nn1_1_2"


def test_a_worker_runs_its_kinds_under_its_name_and_fails_others(registry: SqlRegistry) -> None:
    pytest.importorskip("celery")
    from aedetect.jobs.celery import WorkerRuntime

    seen: list[tuple[str, str | None]] = []
    lease = Lease(registry, "host-w:7", lease_s=60.0)
    runtime = WorkerRuntime(
        registry,
        {"train": lambda job_id: seen.append((job_id, registry.get_job(job_id).worker))},
        lease,
        close=lambda: None,
    )
    train, other = registry.create_job("train", {}), registry.create_job("evaluate", {})
    runtime.run(train.job_id, "train")
    runtime.run(other.job_id, "evaluate")
    assert (
        seen == [(train.job_id, "host-w:7")] and registry.get_job(train.job_id).status is JobStatus.SUCCEEDED
    )
    failed = registry.get_job(other.job_id)
    assert failed.status is JobStatus.FAILED and "cannot run jobs of kind 'evaluate'" in (failed.error or "")


def test_an_unknown_job_runner_is_refused_when_the_settings_are_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AEDETECT_")}
    done = subprocess.run(
        [sys.executable, "-m", "aedetect", "worker"],
        env={**env, "AEDETECT_DATA_DIR": str(tmp_path / "data"), "AEDETECT_JOB_RUNNER": "celeri"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "AEDETECT_JOB_RUNNER" in done.stderr and "'celeri'" in done.stderr
    assert "'embedded'" in done.stderr and "'celery'" in done.stderr
