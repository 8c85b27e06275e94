"""Load: do small requests keep their latency while the server is busy? Errors, p50 and p99 of
one-row predictions, batch predictions and ``/healthz`` from concurrent clients of a real
``aedetect serve``, in two phases of a bounded time each:

- **quiet**: only these clients;
- **busy**: the same clients while a long training runs, the training queue is full (a further
  training is refused with 429, which is checked and recorded) and a client scores a large CSV
  (150,000 rows by default) again and again.

8 clients send one-row v1 predictions, 2 send batches (one v1, one v2 with the top 3 reasons per
row), 1 polls ``/healthz``; each is a process of its own (so no client waits on another's
interpreter lock) and loops until the phase's time is up. Errors are answers other than
200 and failed connections. The load average is recorded, since a busy machine slows every figure.
Run ``python -m benchmarks.load --help``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import requests

from benchmarks.common import RESULTS_DIR, command_line, display_path, machine_info, now_iso, synthetic_mixed
from benchmarks.common import write_json as write_results
from benchmarks.service import REQUEST_TIMEOUT_S, TRAIN_CATEGORICAL, TRAIN_NUMERIC, V1, running_server
from benchmarks.service import train_model as train_serving_model

ONE_ROW_CLIENTS = 8
BATCH_CLIENTS = 2
QUEUE = 2
"""AEDETECT_MAX_QUEUED_TRAININGS of the server under load."""
LONG_EPOCHS = 10_000
Sample = tuple[str, float, bool]


@dataclass(frozen=True)
class ClientSpec:
    """What one client sends, again and again: ``body`` is sent as-is (JSON already encoded)."""

    kind: str
    method: str
    url: str
    body: bytes | None = None
    content_type: str = "application/json"
    pause_s: float = 0.0


def _client(spec: ClientSpec, seconds: float, out: Any) -> None:
    """Send ``spec``'s request for ``seconds``; put the (kind, seconds, ok) of each on ``out``. Each
    client is a process of its own, so no client waits on another's interpreter lock."""
    samples: list[Sample] = []
    deadline = time.monotonic() + seconds
    headers = {"Content-Type": spec.content_type}
    with requests.Session() as session:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                resp = session.request(spec.method, spec.url, data=spec.body, headers=headers, timeout=600)
                ok = resp.status_code == 200
                resp.close()
            except requests.RequestException:
                ok = False
            samples.append((spec.kind, time.perf_counter() - started, ok))
            if spec.pause_s:
                time.sleep(spec.pause_s)
    out.put(samples)


def _stats(samples: Sequence[Sample]) -> dict[str, dict[str, Any]]:
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in dict.fromkeys(k for k, _, _ in samples):
        ms = np.asarray([s for k, s, _ in samples if k == kind]) * 1000.0
        errors = sum(1 for k, _, ok in samples if k == kind and not ok)
        by_kind[kind] = {
            "requests": len(ms),
            "errors": errors,
            "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()),
        }
    return by_kind


def run_phase(
    url: str, nn_id: str, rows: list[dict[str, Any]], seconds: float, batch_rows: int, large_csv: bytes | None
) -> dict[str, dict[str, Any]]:
    """The clients against ``url`` for ``seconds``; per kind of request its count, errors and latency."""
    predict = f"{url}{V1}/service/state/predict/type/anomaly/nnid/{nn_id}/ver/active/"
    score = f"{url}/api/v2/models/{nn_id}/score"
    rng = np.random.default_rng(0)
    batch = [rows[int(i)] for i in rng.integers(len(rows), size=batch_rows)]

    def encoded(value: Any) -> bytes:
        return json.dumps(value).encode()

    clients = [
        ClientSpec("one row (v1)", "POST", predict, encoded({"input_data": rows[i % len(rows)]}))
        for i in range(ONE_ROW_CLIENTS)
    ]
    clients.append(ClientSpec(f"{batch_rows} rows (v1)", "POST", predict, encoded({"input_data": batch})))
    clients.append(ClientSpec(f"{batch_rows} rows (v2, reasons)", "POST", score, encoded({"rows": batch})))
    clients.append(ClientSpec("/healthz", "GET", f"{url}/healthz", pause_s=0.05))
    if large_csv is not None:
        clients.append(ClientSpec("large CSV (v2)", "POST", score, large_csv, content_type="text/csv"))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_client, args=(spec, seconds, results)) for spec in clients]
    for process in processes:
        process.start()
    samples: list[Sample] = []
    for _ in processes:
        samples.extend(results.get(timeout=seconds + 900))
    for process in processes:
        process.join(60)
    return _stats(samples)


@contextmanager
def long_training_and_full_queue(url: str, train_rows: int) -> Iterator[dict[str, Any]]:
    """A long training running and :data:`QUEUE` more waiting; yields what a further training got
    (status and Retry-After). Every job is cancelled on the way out."""
    frame = synthetic_mixed(train_rows, numeric=TRAIN_NUMERIC, categorical=TRAIN_CATEGORICAL, seed=1)
    api = f"{url}/api/v2"
    jobs: list[str] = []
    with requests.Session() as s:
        files = {"file": ("long.csv", frame.to_csv(index=False).encode(), "text/csv")}
        dataset = s.post(f"{api}/datasets", files=files, timeout=REQUEST_TIMEOUT_S).json()["id"]
        params = {"epochs": LONG_EPOCHS, "batch_size": 8, "n_hidden": [64, 16], "validation_fraction": 0.0}
        for i in range(QUEUE + 2):
            body = {"name": f"long{i}", "dataset": dataset, "params": params}
            s.post(f"{api}/models", json=body, timeout=REQUEST_TIMEOUT_S).raise_for_status()
        try:
            for i in range(QUEUE + 1):
                resp = s.post(f"{api}/models/long{i}/train", timeout=REQUEST_TIMEOUT_S)
                resp.raise_for_status()
                jobs.append(resp.json()["id"])
                while (
                    i == 0
                    and s.get(f"{api}/jobs/{jobs[0]}", timeout=REQUEST_TIMEOUT_S).json()["status"] == "queued"
                ):
                    time.sleep(0.1)  # the first one runs: the next ones wait in the queue
            refused = s.post(f"{api}/models/long{QUEUE + 1}/train", timeout=REQUEST_TIMEOUT_S)
            yield {"status": refused.status_code, "retry_after": refused.headers.get("Retry-After")}
        finally:
            for job in jobs:
                s.post(f"{api}/jobs/{job}/cancel", timeout=REQUEST_TIMEOUT_S)


def run_load(
    seconds: float, batch_rows: int, large_rows: int, train_rows: int, startup_timeout_s: float
) -> dict[str, Any]:
    """Start a server, train the serving model, run both phases; the measurements."""
    nn_id = "benchload"
    settings = {"AEDETECT_MAX_QUEUED_TRAININGS": str(QUEUE), "OMP_NUM_THREADS": "1"}
    large = synthetic_mixed(large_rows, numeric=TRAIN_NUMERIC, categorical=TRAIN_CATEGORICAL, seed=2)
    large_csv = large.to_csv(index=False).encode()
    load_before = os.getloadavg()
    with running_server(startup_timeout_s, settings) as url:
        rows, train_s = train_serving_model(url, nn_id, 2000, 5)
        quiet = run_phase(url, nn_id, rows, seconds, batch_rows, None)
        with long_training_and_full_queue(url, train_rows) as refused:
            busy = run_phase(url, nn_id, rows, seconds, batch_rows, large_csv)
    load = {"before": list(load_before), "after": list(os.getloadavg()), "cpus": os.cpu_count()}
    return {
        "train_s": train_s,
        "quiet": quiet,
        "busy": busy,
        "refused_training": refused,
        "load_average": load,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    parser.add_argument("--batch-rows", type=int, default=1000, help="rows per batch request")
    parser.add_argument(
        "--large-rows", type=int, default=150_000, help="rows of the large CSV of the busy phase"
    )
    parser.add_argument("--train-rows", type=int, default=5000, help="rows of the long trainings' data")
    parser.add_argument("--startup-timeout", type=float, default=120.0, help="seconds to wait for the server")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "load.json", help="results JSON")
    parser.add_argument("--write-md", action="store_true", help="update the load section of BENCHMARKS.md")
    args = parser.parse_args(args_list)
    if min(args.seconds, args.batch_rows, args.large_rows, args.train_rows) <= 0:
        raise SystemExit("counts and seconds must be positive")
    measured = run_load(args.seconds, args.batch_rows, args.large_rows, args.train_rows, args.startup_timeout)
    payload = {
        "part": "load",
        "created": now_iso(),
        "command": command_line("benchmarks.load", args_list),
        "results_file": display_path(args.out),
        "machine": machine_info(),
        "config": {
            "seconds": args.seconds,
            "one_row_clients": ONE_ROW_CLIENTS,
            "batch_clients": BATCH_CLIENTS,
            "batch_rows": args.batch_rows,
            "large_rows": args.large_rows,
            "train_rows": args.train_rows,
            "max_queued_trainings": QUEUE,
        },
        **measured,
    }
    write_results(args.out, payload)
    print(
        json.dumps({k: payload[k] for k in ("quiet", "busy", "refused_training", "load_average")}, indent=1)
    )
    if args.write_md:
        from benchmarks.report import update_markdown

        print(f"updated {update_markdown(load=payload)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
