"""The scale-out topology as processes: PostgreSQL (the registry), Redis (the broker), moto's S3
server (the artifact store, standing in for MinIO or AWS through the same boto3 code), two
``aedetect worker`` and two ``aedetect serve`` processes with the settings of ``compose.yaml``.
Each process has a data directory of its own: they share nothing but the registry, the broker
and the bucket."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from support.cluster import LEASE_S, Cluster, WorkerProcess
from support.server import ServerProcess


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_module_url: str, redis_url: str, s3_bucket_module
) -> Iterator[Cluster]:
    """The topology of ``compose.yaml`` as processes (see the module)."""
    root = tmp_path_factory.mktemp("cluster")
    env = {
        "AEDETECT_DATABASE_URL": postgres_module_url,
        "AEDETECT_JOB_RUNNER": "celery",
        "AEDETECT_BROKER_URL": redis_url,
        "AEDETECT_JOB_QUEUE": f"aedetect-test-{uuid.uuid4().hex[:8]}",
        "AEDETECT_JOB_LEASE_S": str(LEASE_S),
        "AEDETECT_WORKER_MAX_TASKS": "4",
        **s3_bucket_module.env(),
    }
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AEDETECT_")}
    workers = [
        WorkerProcess(f"worker{i}", root / f"worker{i}", {**inherited, "OMP_NUM_THREADS": "1", **env})
        for i in (1, 2)
    ]
    servers = [ServerProcess(root / f"api{i}", **env) for i in (1, 2)]
    try:
        for worker in workers:
            worker.start()
        for server in servers:
            server.data_dir.mkdir(parents=True, exist_ok=True)
            server.start()
        yield Cluster(api=servers, workers=workers, env=env)
    finally:
        for server in servers:
            server.stop()
        for worker in workers:
            worker.stop()
