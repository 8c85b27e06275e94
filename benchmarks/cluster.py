"""Cluster: throughput of queued trainings and of batch scoring with 1 and with 2 Celery workers.

Starts one ``aedetect serve`` with the ``celery`` job runner and, for each phase, 1 and then 2
``aedetect worker`` processes (one job at a time each, ``OMP_NUM_THREADS=1``), all on one registry
(``--database-url``, default a SQLite file), one Redis broker (``--broker-url``) and one artifact
directory. Each phase queues ``--trainings`` trainings at once (jobs per minute, from the first
job queued to the last one finished) and then scores ``--score-rows`` stored rows split into one
dataset per worker of the larger phase (rows per second, from the first scoring job queued to
the last one finished). The load average is recorded before and after: on a shared machine other
work takes cores from the workers. Run ``python -m benchmarks.cluster --help``.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from aedetect.client import Client
from benchmarks.common import (
    RESULTS_DIR,
    command_line,
    display_path,
    machine_info,
    now_iso,
    synthetic_mixed,
    write_json,
)

KEY_PATTERN = re.compile(r"aed_[0-9a-f]{8}_[A-Za-z0-9_\-]{43}")
START_TIMEOUT_S = 300.0
JOB_TIMEOUT_S = 3600.0
NUMERIC, CATEGORICAL = 10, 2
SCORE_TRAIN_ROWS = 5000


def _log_tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-20:])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in its own session, stopped (SIGTERM, then SIGKILL) afterwards."""
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def _wait_for_log(proc: subprocess.Popen[bytes], log: Path, needle: str, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while needle not in log.read_text(errors="replace"):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_log_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {START_TIMEOUT_S:.0f} s:\n{_log_tail(log)}")
        time.sleep(0.2)


@contextmanager
def _server(env: dict[str, str], work: Path) -> Iterator[Client]:
    port = _free_port()
    log = work / "server.log"
    server_env = {**env, "AEDETECT_HOST": "127.0.0.1", "AEDETECT_PORT": str(port)}
    with _process([sys.executable, "-m", "aedetect", "serve"], server_env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"aedetect serve exited with {proc.returncode}:\n{_log_tail(log)}")
            try:
                if requests.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"aedetect serve did not answer:\n{_log_tail(log)}")
            time.sleep(0.2)
        keys = KEY_PATTERN.findall(log.read_text(errors="replace"))
        if not keys:
            raise RuntimeError(f"aedetect serve printed no API key:\n{_log_tail(log)}")
        with Client(base, api_key=keys[-1], timeout=600) as client:
            yield client


@contextmanager
def _workers(count: int, env: dict[str, str], work: Path) -> Iterator[None]:
    """``count`` workers, each ready to run jobs (its child has built its services)."""
    with ExitStack() as stack:
        for i in range(count):
            log = work / f"worker-{count}-{i}.log"
            argv = [
                sys.executable,
                "-m",
                "aedetect",
                "worker",
                "--concurrency",
                "1",
                "--name",
                f"bench{i}@{count}",
            ]
            proc = stack.enter_context(_process(argv, {**env, "OMP_NUM_THREADS": "1"}, log))
            _wait_for_log(proc, log, "is ready to run jobs", f"worker {i}")
        yield


def _upload(client: Client, frame: Any, name: str) -> str:
    buffer = io.BytesIO()
    frame.to_csv(buffer, index=False)
    buffer.seek(0)
    return str(client.upload_dataset(buffer, name)["id"])


def _finished(client: Client, job_ids: Sequence[str]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    done: list[dict[str, Any]] = []
    for job_id in job_ids:
        while True:
            job = dict(client.job(job_id, wait=30))
            if job["status"] in ("succeeded", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job_id} did not finish within {JOB_TIMEOUT_S:.0f} s")
        if job["status"] != "succeeded":
            raise RuntimeError(f"job {job_id} {job['status']}: {job['error']}")
        done.append(job)
    return done


def _warm_up(client: Client, count: int, dataset: str, columns: list[str], params: dict[str, Any]) -> None:
    """One short training on each new worker, so the figures leave out what a fresh worker process
    does once (imports, first PyTorch and scikit-learn calls); the first also trains the scoring
    model. Trainings queued together go one to each idle worker (prefetch 1), checked."""
    names = ["bench-score"] + [f"warm-{count}-{i}" for i in range(1, count)]
    for name in names[1:]:
        client.create_model(name, dataset=dataset, columns=columns, params={**params, "epochs": 2})
    for _ in range(3):
        done = _finished(client, [client.train(name)["id"] for name in names])
        if len({j["worker"] for j in done}) == count:
            return
    raise RuntimeError(f"the warm-up trainings did not reach all {count} workers")


def _span_s(jobs: Sequence[dict[str, Any]]) -> float:
    """From the first job queued to the last one finished (the registry's timestamps)."""
    first = min(datetime.fromisoformat(j["created_at"]) for j in jobs)
    last = max(datetime.fromisoformat(j["finished_at"]) for j in jobs)
    return (last - first).total_seconds()


def _mean_run_s(jobs: Sequence[dict[str, Any]]) -> float:
    spans = [
        (datetime.fromisoformat(j["finished_at"]) - datetime.fromisoformat(j["started_at"])).total_seconds()
        for j in jobs
    ]
    return sum(spans) / len(spans)


def run_cluster(
    workers: Sequence[int],
    trainings: int,
    train_rows: int,
    epochs: int,
    score_rows: int,
    broker_url: str,
    database_url: str | None,
) -> dict[str, Any]:
    """Measure every phase; returns the figures per worker count."""
    parts = max(workers)
    with tempfile.TemporaryDirectory(prefix="aedetect-cluster-bench-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AEDETECT_")}
        env.update(
            AEDETECT_DATA_DIR=str(work / "data"),
            AEDETECT_DATABASE_URL=database_url or f"sqlite:///{work / 'registry.db'}",
            AEDETECT_ARTIFACT_URL=str(work / "artifacts"),
            AEDETECT_JOB_RUNNER="celery",
            AEDETECT_BROKER_URL=broker_url,
            AEDETECT_JOB_QUEUE=f"aedetect-bench-{uuid.uuid4().hex[:8]}",
            AEDETECT_MAX_UPLOAD_BYTES=str(2**31),
        )
        with _server(env, work) as client:
            columns = [f"num_{j:02d}" for j in range(NUMERIC)] + [f"cat_{k}" for k in range(CATEGORICAL)]
            train = _upload(client, synthetic_mixed(train_rows, NUMERIC, CATEGORICAL, seed=1), "train.csv")
            small = _upload(
                client, synthetic_mixed(SCORE_TRAIN_ROWS, NUMERIC, CATEGORICAL, seed=2), "small.csv"
            )
            share = score_rows // parts
            scored = [
                _upload(client, synthetic_mixed(share, NUMERIC, CATEGORICAL, seed=10 + i), f"score-{i}.csv")
                for i in range(parts)
            ]
            params = {"epochs": epochs, "batch_size": 256, "random_state": 0, "validation_fraction": 0.0}
            for i in range(trainings):
                client.create_model(f"bench-{i}", dataset=train, columns=columns, params=params)
            client.create_model("bench-score", dataset=small, columns=columns, params={**params, "epochs": 2})
            results: dict[str, Any] = {}
            for count in workers:
                with _workers(count, env, work):
                    _warm_up(client, count, small, columns, params)
                    queued = [client.train(f"bench-{i}")["id"] for i in range(trainings)]
                    done = _finished(client, queued)
                    span = _span_s(done)
                    score_jobs = [client.score_dataset("bench-score", d, top=3)["id"] for d in scored]
                    scoring = _finished(client, score_jobs)
                    score_span = _span_s(scoring)
                results[str(count)] = {
                    "workers": count,
                    "training": {
                        "jobs": trainings,
                        "wall_s": round(span, 2),
                        "jobs_per_min": round(trainings / span * 60, 2),
                        "mean_job_s": round(_mean_run_s(done), 2),
                        "workers_used": len({j["worker"] for j in done}),
                    },
                    "scoring": {
                        "rows": share * parts,
                        "jobs": parts,
                        "wall_s": round(score_span, 2),
                        "rows_per_s": round(share * parts / score_span),
                        "mean_job_s": round(_mean_run_s(scoring), 2),
                    },
                }
                print(f"{count} worker(s): {results[str(count)]}", flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cluster",
        description="Trainings per minute and scored rows per second with 1 and with 2 Celery workers.",
    )
    parser.add_argument("--workers", default="1,2", help="worker counts to measure, comma-separated")
    parser.add_argument("--trainings", type=int, default=8, help="trainings queued at once per phase")
    parser.add_argument("--train-rows", type=int, default=20_000, help="rows of each training")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of each training")
    parser.add_argument("--score-rows", type=int, default=1_000_000, help="rows scored per phase")
    parser.add_argument(
        "--broker-url",
        default=os.environ.get("AEDETECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis URL (default: $AEDETECT_TEST_REDIS_URL, e.g. from .ci/redis.sh)",
    )
    parser.add_argument(
        "--database-url", default=None, help="registry URL (default: a temporary SQLite file)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "cluster.json", help="results JSON")
    parser.add_argument("--write-md", action="store_true", help="update the cluster section of BENCHMARKS.md")
    args = parser.parse_args(args_list)
    workers = sorted({int(w) for w in args.workers.split(",")})
    if min(workers) < 1 or min(args.trainings, args.train_rows, args.epochs, args.score_rows) < 1:
        raise SystemExit("counts must be positive")
    load_before = os.getloadavg()
    measured = run_cluster(
        workers,
        args.trainings,
        args.train_rows,
        args.epochs,
        args.score_rows,
        args.broker_url,
        args.database_url,
    )
    load_after = os.getloadavg()
    base, top = measured[str(workers[0])], measured[str(workers[-1])]
    payload = {
        "part": "cluster",
        "created": now_iso(),
        "command": command_line("benchmarks.cluster", args_list),
        "results_file": display_path(args.out),
        "machine": machine_info(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "config": {
            "trainings": args.trainings,
            "train_rows": args.train_rows,
            "epochs": args.epochs,
            "columns": NUMERIC + CATEGORICAL,
            "score_rows": args.score_rows,
            "registry": "postgresql" if args.database_url else "sqlite",
        },
        "phases": measured,
        "ratios": {
            "training": round(top["training"]["jobs_per_min"] / base["training"]["jobs_per_min"], 2),
            "scoring": round(top["scoring"]["rows_per_s"] / base["scoring"]["rows_per_s"], 2),
        },
    }
    write_json(args.out, payload)
    if args.write_md:
        from benchmarks.report import update_markdown

        print(f"updated {display_path(update_markdown(cluster=payload))}")
    print(
        f"ratios {workers[-1]}/{workers[0]} workers: {payload['ratios']}; load {load_before} -> {load_after}"
    )
    print(f"wrote {display_path(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
