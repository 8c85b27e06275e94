"""Service: latency and throughput of the v1 anomaly predict endpoint and of the native
``/api/v2`` score endpoint of a real ``aedetect serve``, in one run on one model.

Starts the server as a subprocess on a free loopback port with a temporary data directory, trains a
small model through the v1 API (the TensorMSA client flow), then measures v1 single-row latency with a
keep-alive session, requests per second with concurrent clients, and batch rows per second; then the
same model through ``POST /api/v2/models/{name}/score`` (single-row latency and batch rows per second,
with the top 3 contributions per row). Every phase is bounded by a request count and by
``--max-seconds``. The machine's load average is recorded before and after, since a busy machine
slows every figure. Run ``python -m benchmarks.service --help``.

``--log-overhead`` adds the cost of the scoring log: servers with the log off and on at each
``--log-samples`` share (``AEDETECT_LOG_SAMPLE``) run side by side on the same model and data, and
single-row v1 and v2 latency is measured in interleaved rounds (each round one block per server,
in rotating order, a server's log drained before the next block starts), so a change of the
machine's load reaches every configuration alike.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import requests

from benchmarks.common import (
    RESULTS_DIR,
    command_line,
    display_path,
    machine_info,
    now_iso,
    synthetic_mixed,
    timed,
    write_json,
)

V1 = "/api/v1/type"
REQUEST_TIMEOUT_S = 60.0
TRAIN_TIMEOUT_S = 600.0
TRAIN_NUMERIC, TRAIN_CATEGORICAL = 6, 2
KEY_PATTERN = re.compile(r"aed_[0-9a-f]{8}_[A-Za-z0-9_\-]{43}")
"""The admin API key a first start prints."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _aedetect_command() -> list[str]:
    """The ``aedetect`` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("aedetect")
    found = str(beside) if beside.exists() else shutil.which("aedetect")
    if found is None:
        raise RuntimeError("the aedetect command is not installed: pip install -e .[server,bench]")
    return [found, "serve"]


@contextmanager
def running_server(
    startup_timeout_s: float = 60.0, settings: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Start ``aedetect serve`` on a free loopback port with a temporary data directory (and the
    ``AEDETECT_*`` ``settings`` given); yield its URL with the admin key the first start prints as
    user info (``http://key:<KEY>@host:port``), the way TensorMSA-era scripts carry it, so every
    request is authenticated as in production."""
    with server_process(startup_timeout_s, settings) as (url, _):
        yield url


@contextmanager
def server_process(
    startup_timeout_s: float = 60.0, settings: Mapping[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """:func:`running_server`, yielding the server's process too."""
    with tempfile.TemporaryDirectory(prefix="aedetect-bench-") as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AEDETECT_")}
        env.update(
            AEDETECT_HOST="127.0.0.1", AEDETECT_PORT=str(port), AEDETECT_DATA_DIR=str(Path(tmp) / "data")
        )
        env.update(settings or {})
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(_aedetect_command(), env=env, stdout=log, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{port}"
            try:
                _wait_ready(url, proc, log_path, startup_timeout_s)
                keys = KEY_PATTERN.findall(log_path.read_text(errors="replace"))
                if not keys:
                    raise RuntimeError(f"aedetect serve printed no API key:\n{_log_tail(log_path)}")
                yield url.replace("http://", f"http://key:{keys[0]}@"), proc
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)


def _log_tail(log_path: Path) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> None:
    """Poll the health check until the server answers; fail with its log if it exits or stays silent."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"aedetect serve exited with {proc.returncode}:\n{_log_tail(log_path)}")
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
            time.sleep(0.2)
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"aedetect serve did not answer within {timeout_s:.0f} s:\n{_log_tail(log_path)}")


def v1_call(session: requests.Session, method: str, url: str, **kwargs: Any) -> Any:
    """One v1 request; the double-encoded body decoded (``json.loads(resp.json())``), or an error."""
    resp = session.request(method, url, timeout=kwargs.pop("timeout", REQUEST_TIMEOUT_S), **kwargs)
    if resp.status_code >= 400:
        raise RuntimeError(f"{method} {url} -> HTTP {resp.status_code}: {resp.text[:500]}")
    return json.loads(resp.json())


def train_model(url: str, nn_id: str, rows: int, iterations: int) -> tuple[list[dict[str, Any]], float]:
    """Define, upload and train a small model through the v1 flow of the seed; return rows and seconds."""
    frame = synthetic_mixed(rows, numeric=TRAIN_NUMERIC, categorical=TRAIN_CATEGORICAL, seed=0)
    base = f"{url}{V1}"
    with requests.Session() as s:
        v1_call(
            s,
            "POST",
            f"{base}/common/target/nninfo/nnid/{nn_id}/",
            json={
                "biz_cate": "BENCH",
                "biz_sub_cate": "SERVICE",
                "nn_title": "service benchmark",
                "nn_desc": "created by benchmarks.service",
                "use_flag": "Y",
                "dir": "autoencoder_csv",
                "config": "N",
            },
        )
        v1_call(
            s,
            "POST",
            f"{base}/common/target/nninfo/nnid/{nn_id}/version/",
            json={
                "nn_def_list_info_nn_id": "",
                "nn_wf_ver_info": "bench",
                "condition": "1",
                "active_flag": "Y",
            },
        )
        v1_call(
            s, "POST", f"{base}/wf/target/init/mode/simple/{nn_id}/wfver/1/", json={"type": "autoencoder_csv"}
        )
        source = f"{base}/wf/state/framedata/src/local/form/raw/prg/source/nnid/{nn_id}/ver/1/node/datasrc/"
        csv_bytes = frame.to_csv(index=False).encode("utf-8")
        v1_call(s, "POST", source, files={"train": ("bench.csv", csv_bytes, "text/csv")})
        v1_call(
            s,
            "PUT",
            source,
            json={"type": "csv", "source_server": "local", "source_sql": "all", "preprocess": "none"},
        )
        v1_call(
            s,
            "POST",
            f"{base}/wf/state/pre/detail/feed/src/frame/net/autoencoder/nnid/{nn_id}/ver/1/node/feed_train/",
            json={
                "encode_column": list(frame.columns),
                "vocab_size": 10,
                "preprocess": "frame",
                "embed_type": "onehot",
            },
        )
        v1_call(
            s,
            "PUT",
            f"{base}/wf/state/netconf/detail/autoencoder/nnid/{nn_id}/ver/1/node/netconf_node/",
            json={
                "learning_rate": 0.01,
                "iter": iterations,
                "batch_size": 64,
                "examples_to_show": 10,
                "n_hidden": [16, 8],
            },
        )
        with timed() as train_time:
            v1_call(s, "POST", f"{base}/runmanager/state/train/nnid/{nn_id}/ver/1/", timeout=TRAIN_TIMEOUT_S)
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return records, train_time.seconds


def _stats(latencies_s: Sequence[float], wall_s: float) -> dict[str, Any]:
    ms = np.asarray(latencies_s) * 1000.0
    return {
        "requests": len(ms),
        "wall_s": wall_s,
        "requests_per_s": len(ms) / wall_s,
        "mean_ms": float(ms.mean()),
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def _predict_many(
    predict_url: str, bodies: Sequence[dict[str, Any]], count: int, deadline: float, expect_list: bool
) -> list[float]:
    """``count`` predictions over one keep-alive session (until ``deadline``); their latencies in seconds."""
    latencies: list[float] = []
    with requests.Session() as session:
        for i in range(count):
            if time.monotonic() > deadline:
                break
            body = bodies[i % len(bodies)]
            start = time.perf_counter()
            value = v1_call(session, "POST", predict_url, json=body)
            latencies.append(time.perf_counter() - start)
            _check_prediction(value, body, expect_list)
    return latencies


def _check_prediction(value: Any, body: dict[str, Any], expect_list: bool) -> None:
    """A similarity number per row, as the v1 contract says."""
    if expect_list:
        if not isinstance(value, list) or len(value) != len(body["input_data"]):
            raise RuntimeError(f"expected {len(body['input_data'])} similarities, got {str(value)[:200]}")
    elif not isinstance(value, int | float):
        raise RuntimeError(f"expected one similarity number, got {str(value)[:200]}")


def measure(
    url: str,
    nn_id: str,
    rows: list[dict[str, Any]],
    n_requests: int,
    clients: int,
    batch_rows: int,
    batch_requests: int,
    max_seconds: float,
) -> dict[str, Any]:
    """Warm up, then the three phases: single-row latency, concurrent clients, batch throughput."""
    predict_url = f"{url}{V1}/service/state/predict/type/anomaly/nnid/{nn_id}/ver/active/"
    singles = [{"input_data": row} for row in rows]
    _predict_many(predict_url, singles, min(20, n_requests), time.monotonic() + max_seconds, False)

    start = time.perf_counter()
    latencies = _predict_many(predict_url, singles, n_requests, time.monotonic() + max_seconds, False)
    single = _stats(latencies, time.perf_counter() - start)

    per_client = [n_requests // clients + (1 if i < n_requests % clients else 0) for i in range(clients)]
    results: list[list[float]] = [[] for _ in range(clients)]
    failures: list[BaseException] = []
    deadline = time.monotonic() + max_seconds

    def client(i: int) -> None:
        try:
            results[i] = _predict_many(
                predict_url, singles[i::clients] or singles, per_client[i], deadline, False
            )
        except BaseException as exc:  # re-raised below, in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    concurrent = {"clients": clients, **_stats([x for r in results for x in r], time.perf_counter() - start)}

    batches = [
        {"input_data": [rows[(b * batch_rows + j) % len(rows)] for j in range(batch_rows)]} for b in range(4)
    ]
    start = time.perf_counter()
    latencies = _predict_many(predict_url, batches, batch_requests, time.monotonic() + max_seconds, True)
    batch_stats = _stats(latencies, time.perf_counter() - start)
    batch = {
        "rows_per_request": batch_rows,
        "rows_per_s": batch_stats["requests"] * batch_rows / batch_stats["wall_s"],
        **batch_stats,
    }
    return {"single": single, "concurrent": concurrent, "batch": batch}


def _score_many(score_url: str, bodies: Sequence[dict[str, Any]], count: int, deadline: float) -> list[float]:
    """``count`` native score requests over one keep-alive session; their latencies in seconds."""
    latencies: list[float] = []
    with requests.Session() as session:
        for i in range(count):
            if time.monotonic() > deadline:
                break
            body = bodies[i % len(bodies)]
            start = time.perf_counter()
            resp = session.post(score_url, json=body, timeout=REQUEST_TIMEOUT_S)
            latencies.append(time.perf_counter() - start)
            if resp.status_code != 200 or len(resp.json()["rows"]) != len(body["rows"]):
                raise RuntimeError(f"POST {score_url} -> HTTP {resp.status_code}: {resp.text[:500]}")
    return latencies


def measure_v2(
    url: str,
    nn_id: str,
    rows: list[dict[str, Any]],
    n_requests: int,
    batch_rows: int,
    batch_requests: int,
    max_seconds: float,
) -> dict[str, Any]:
    """The native score endpoint on the same model: single-row latency and batch throughput."""
    score_url = f"{url}/api/v2/models/{nn_id}/score"
    singles = [{"rows": [row]} for row in rows]
    _score_many(score_url, singles, min(20, n_requests), time.monotonic() + max_seconds)
    start = time.perf_counter()
    single = _stats(
        _score_many(score_url, singles, n_requests, time.monotonic() + max_seconds),
        time.perf_counter() - start,
    )
    batch = {}
    for top in (3, 0):  # with the reasons (the default), and scores and verdicts alone
        bodies = [
            {"rows": [rows[(b * batch_rows + j) % len(rows)] for j in range(batch_rows)], "top": top}
            for b in range(4)
        ]
        start = time.perf_counter()
        latencies = _score_many(score_url, bodies, batch_requests, time.monotonic() + max_seconds)
        stats = _stats(latencies, time.perf_counter() - start)
        batch[top] = {
            "rows_per_request": batch_rows,
            "top": top,
            "rows_per_s": stats["requests"] * batch_rows / stats["wall_s"],
            **stats,
        }
    return {"single": single, "batch": batch[3], "batch_no_reasons": batch[0], "top_contributions": 3}


SETTLE_S = 1.5
"""Pause after each block of the log comparison: the log writes what it queued within a second."""


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a process and all its threads so far (Linux ``/proc``; None
    elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drain_log(url: str, nn_id: str, timeout_s: float = 60.0) -> None:
    """Wait until the server's scoring log has written everything queued."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        resp = requests.get(
            f"{url}/api/v2/models/{nn_id}/scores", params={"limit": 1}, timeout=REQUEST_TIMEOUT_S
        )
        if resp.status_code == 200 and resp.json()["log"]["queued"] == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"the scoring log of {url} did not drain within {timeout_s:.0f} s")


def log_overhead(
    samples: Sequence[float],
    n_requests: int,
    rounds: int,
    train_rows: int,
    train_iter: int,
    max_seconds: float,
    startup_timeout_s: float,
) -> dict[str, Any]:
    """Single-row latency and server CPU time per request of v1 predict and v2 score with the
    scoring log off and on at each sample share, in ``rounds`` interleaved rounds of
    ``n_requests / rounds`` requests per server and API.

    Three figures per setting against the log off: the pooled p50, the median over rounds of the
    round's p50 ratio (robust when the machine's load drifts between rounds), and the server's CPU
    time per request over every block and the pause after it (what latency becomes on an idle
    machine; the log's writer thread is included)."""
    nn_id = "benchlog"
    configs: list[tuple[str, dict[str, str]]] = [("off", {"AEDETECT_LOG_ENABLED": "false"})]
    configs += [(f"sample {s:g}", {"AEDETECT_LOG_SAMPLE": str(s)}) for s in samples]
    block = max(1, n_requests // rounds)
    apis = ("v1", "v2")
    latencies: dict[str, dict[str, list[float]]] = {name: {a: [] for a in apis} for name, _ in configs}
    round_p50: dict[str, dict[str, list[float]]] = {name: {a: [] for a in apis} for name, _ in configs}
    cpu: dict[str, dict[str, float]] = {name: {a: 0.0 for a in apis} for name, _ in configs}
    with ExitStack() as stack:
        servers = {name: stack.enter_context(server_process(startup_timeout_s, env)) for name, env in configs}
        rows: list[dict[str, Any]] = []
        for url, _ in servers.values():
            rows, _ = train_model(url, nn_id, train_rows, train_iter)
        bodies: dict[str, list[dict[str, Any]]] = {
            "v1": [{"input_data": row} for row in rows],
            "v2": [{"rows": [row]} for row in rows],
        }

        def send(url: str, api: str, count: int, offset: int) -> list[float]:
            chosen = bodies[api][offset:] + bodies[api][:offset]
            deadline = time.monotonic() + max_seconds
            if api == "v1":
                path = f"{url}{V1}/service/state/predict/type/anomaly/nnid/{nn_id}/ver/active/"
                return _predict_many(path, chosen, count, deadline, False)
            return _score_many(f"{url}/api/v2/models/{nn_id}/score", chosen, count, deadline)

        for url, _ in servers.values():  # warm up: model loaded, connections made
            for api in apis:
                send(url, api, 20, 0)
        names = [name for name, _ in configs]
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                url, proc = servers[name]
                for api in apis:
                    before = cpu_seconds(proc.pid)
                    measured = send(url, api, block, (r * block) % len(rows))
                    time.sleep(SETTLE_S)
                    after = cpu_seconds(proc.pid)
                    latencies[name][api] += measured
                    round_p50[name][api].append(float(np.percentile(measured, 50)))
                    if before is not None and after is not None:
                        cpu[name][api] += after - before
        for name, (url, _) in servers.items():
            if name != "off":
                _drain_log(url, nn_id)
    results: dict[str, dict[str, Any]] = {}
    for name, _ in configs:
        results[name] = {}
        for api in apis:
            values = latencies[name][api]
            stats = _stats(values, sum(values))  # wall: the time spent in requests
            stats["cpu_ms_per_request"] = cpu[name][api] * 1000.0 / len(values) if cpu[name][api] else None
            results[name][api] = stats
    for name, by_api in results.items():
        for api, stats in by_api.items():
            off = results["off"][api]
            stats["overhead_p50_pct"] = (stats["p50_ms"] / off["p50_ms"] - 1.0) * 100.0
            stats["overhead_mean_pct"] = (stats["mean_ms"] / off["mean_ms"] - 1.0) * 100.0
            ratios = [a / b for a, b in zip(round_p50[name][api], round_p50["off"][api], strict=True)]
            stats["overhead_round_p50_pct"] = (float(np.median(ratios)) - 1.0) * 100.0
            base = off["cpu_ms_per_request"]
            stats["overhead_cpu_pct"] = (
                None
                if base is None or stats["cpu_ms_per_request"] is None
                else (stats["cpu_ms_per_request"] / base - 1.0) * 100.0
            )
    return {"rounds": rounds, "requests_per_round": block, "settle_s": SETTLE_S, "configs": results}


def run_service(
    n_requests: int = 2000,
    clients: int = 4,
    batch_rows: int = 1000,
    batch_requests: int = 20,
    train_rows: int = 2000,
    train_iter: int = 5,
    max_seconds: float = 120.0,
    startup_timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Start a server, train through v1, measure; return the measurements (JSON-serialisable)."""
    nn_id = "benchservice"
    load_before = os.getloadavg()
    with running_server(startup_timeout_s) as url:
        rows, train_s = train_model(url, nn_id, train_rows, train_iter)
        measured = measure(url, nn_id, rows, n_requests, clients, batch_rows, batch_requests, max_seconds)
        native = measure_v2(url, nn_id, rows, n_requests, batch_rows, batch_requests, max_seconds)
    load = {"before": list(load_before), "after": list(os.getloadavg()), "cpus": os.cpu_count()}
    return {"train_s": train_s, **measured, "v2": native, "load_average": load}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.service",
        description="Latency and throughput of the v1 anomaly predict endpoint of a fresh local server.",
    )
    parser.add_argument("--requests", type=int, default=2000, help="single-row requests per phase")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (threads)")
    parser.add_argument("--batch-rows", type=int, default=1000, help="rows per batch request")
    parser.add_argument("--batch-requests", type=int, default=20, help="batch requests")
    parser.add_argument("--train-rows", type=int, default=2000, help="rows of the trained model's CSV")
    parser.add_argument("--train-iter", type=int, default=5, help="training passes (v1 'iter')")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time bound of each phase")
    parser.add_argument("--startup-timeout", type=float, default=60.0, help="seconds to wait for the server")
    parser.add_argument(
        "--log-overhead",
        action="store_true",
        help="also measure single-row latency with the scoring log off and on (interleaved rounds)",
    )
    parser.add_argument(
        "--log-samples",
        type=lambda text: [float(v) for v in text.split(",")],
        default=[0.0, 0.1, 1.0],
        help="AEDETECT_LOG_SAMPLE shares to compare with the log off (comma-separated)",
    )
    parser.add_argument("--log-rounds", type=int, default=10, help="interleaved rounds of --log-overhead")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "service.json", help="results JSON")
    parser.add_argument("--write-md", action="store_true", help="update the service section of BENCHMARKS.md")
    args = parser.parse_args(args_list)
    if (
        min(
            args.requests,
            args.clients,
            args.batch_rows,
            args.batch_requests,
            args.train_rows,
            args.train_iter,
        )
        < 1
    ):
        raise SystemExit("counts must be positive")
    measured = run_service(
        args.requests,
        args.clients,
        args.batch_rows,
        args.batch_requests,
        args.train_rows,
        args.train_iter,
        args.max_seconds,
        args.startup_timeout,
    )
    overhead = (
        log_overhead(
            args.log_samples,
            args.requests,
            max(1, args.log_rounds),
            args.train_rows,
            args.train_iter,
            args.max_seconds,
            args.startup_timeout,
        )
        if args.log_overhead
        else None
    )
    payload = {
        "part": "service",
        "created": now_iso(),
        "command": command_line("benchmarks.service", args_list),
        "results_file": display_path(args.out),
        "machine": machine_info(),
        "config": {
            "requests": args.requests,
            "clients": args.clients,
            "batch_rows": args.batch_rows,
            "batch_requests": args.batch_requests,
            "train_rows": args.train_rows,
            "train_columns": TRAIN_NUMERIC + TRAIN_CATEGORICAL,
            "train_iter": args.train_iter,
            "max_seconds": args.max_seconds,
        },
        **measured,
    }
    if overhead is not None:
        payload["log_overhead"] = overhead
    write_json(args.out, payload)
    single, conc, batch = payload["single"], payload["concurrent"], payload["batch"]
    print(
        f"single: p50 {single['p50_ms']:.2f} ms, p99 {single['p99_ms']:.2f} ms, "
        f"{single['requests_per_s']:.0f} req/s; "
        f"{conc['clients']} clients: {conc['requests_per_s']:.0f} req/s (p99 {conc['p99_ms']:.2f} ms); "
        f"batch {batch['rows_per_request']}: {batch['rows_per_s']:.0f} rows/s",
        file=sys.stderr,
    )
    native, load = payload["v2"], payload["load_average"]
    print(
        f"v2 single: p50 {native['single']['p50_ms']:.2f} ms, p99 {native['single']['p99_ms']:.2f} ms; "
        f"v2 batch {native['batch']['rows_per_request']}: {native['batch']['rows_per_s']:.0f} rows/s "
        f"(top 0: {native['batch_no_reasons']['rows_per_s']:.0f}); "
        f"load average before {load['before'][0]:.2f}, after {load['after'][0]:.2f} ({load['cpus']} CPUs)",
        file=sys.stderr,
    )
    for name, by_api in (overhead or {}).get("configs", {}).items():
        print(
            f"log {name}: "
            + "; ".join(
                f"{api} p50 {st['p50_ms']:.2f} ms (per round {st['overhead_round_p50_pct']:+.1f}%), "
                f"CPU {st['cpu_ms_per_request'] or float('nan'):.2f} ms/request "
                f"({st['overhead_cpu_pct'] if st['overhead_cpu_pct'] is not None else float('nan'):+.1f}%)"
                for api, st in by_api.items()
            ),
            file=sys.stderr,
        )
    print(f"results: {args.out}", file=sys.stderr)
    if args.write_md:
        from benchmarks.report import update_markdown

        print(f"updated {update_markdown(service=payload)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
