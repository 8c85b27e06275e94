"""Hostile input and overload against a real server: each problem that a fault session measured
on the service (issue 12's list), measured again, with the figure it gives now.

Starts ``aedetect serve`` (a temporary data directory, loopback), runs each case in turn and prints
one line per case (what was sent, the answer's status, its size or time, and the server's peak
memory growth where memory is the point); ``--out`` keeps them as JSON. The cases that need a
broken disk (a read-only data directory, a 500) are the tests ``tests/api/v1/test_v1_failures.py``.
Run ``python -m benchmarks.hostile --help``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from benchmarks.common import RESULTS_DIR, synthetic_mixed, write_json
from benchmarks.service import V1, server_process, train_model

MIB = 1024 * 1024
Case = dict[str, Any]


def peak_mib(pid: int) -> float:
    """The server's peak resident memory so far (VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def timed_call(send: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    started = time.perf_counter()
    resp = send()
    return resp, time.perf_counter() - started


def v1_network(s: requests.Session, base: str, nn_id: str, csv: bytes, **netconf: Any) -> None:
    """A network with one version, its training CSV and its netconf (not trained)."""
    common = f"{base}{V1}/common/target/nninfo/nnid/{nn_id}/"
    s.post(common, json={"nn_title": nn_id, "dir": "autoencoder_csv"}).raise_for_status()
    s.post(common + "version/", json={"nn_wf_ver_info": "v", "active_flag": "Y"}).raise_for_status()
    s.post(f"{base}{V1}/wf/target/init/mode/simple/{nn_id}/wfver/1/", json={"type": "autoencoder_csv"})
    node = f"{base}{V1}/wf/state/framedata/src/local/form/raw/prg/source/nnid/{nn_id}/ver/1/node/datasrc/"
    s.post(node, files={"file": ("train.csv", csv)}).raise_for_status()
    conf = f"{base}{V1}/wf/state/netconf/detail/autoencoder/nnid/{nn_id}/ver/1/node/netconf_node/"
    s.put(conf, json={"learning_rate": 0.01, "iter": 2, "batch_size": 32, "n_hidden": [16, 4], **netconf})


def probe(url: str, body: bytes, done: Any, out: Any) -> None:
    """One-row predictions until ``done`` is set; puts 1 (seconds to wait) when it runs, then the
    latencies of the requests it sent after that second."""
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    with requests.Session() as session:
        session.post(url, data=body, headers=headers, timeout=600)
        out.put(1.0)
        started = time.monotonic()
        while not done.is_set():
            _, took = timed_call(lambda: session.post(url, data=body, headers=headers, timeout=600))
            if time.monotonic() - started > 1.0:
                latencies.append(took)
            time.sleep(0.02)
    out.put(latencies)


def run_cases(pid_of: Callable[[], int], url: str, stop: Callable[[], float]) -> list[Case]:
    """Every case against the server at ``url`` (with its key as user info)."""
    cases: list[Case] = []
    s = requests.Session()
    base = url
    bare = "http://" + url.split("@", 1)[1]

    def record(case: str, resp: requests.Response, seconds: float, **extra: Any) -> None:
        answer = {"status": resp.status_code, "bytes": len(resp.content), "s": round(seconds, 3)}
        cases.append({"case": case, **answer, **extra})
        print(json.dumps(cases[-1]), flush=True)

    rows, _ = train_model(url, "nnserve", 2000, 2)
    predict = f"{base}{V1}/service/state/predict/type/anomaly/nnid/nnserve/ver/active/"
    upload = f"{base}/api/v2/datasets"

    # 1. a CSV header of 1.2M columns (2.4 MB), and one of 5 MB
    for label, count in (
        ("header 1.2M columns (2.4 MB)", 1_200_000),
        ("header 2.5M columns (5 MB)", 2_500_000),
    ):
        before = peak_mib(pid_of())
        body = ",".join("c" for _ in range(count)).encode() + b"\n1\n"
        resp, took = timed_call(lambda b=body: s.post(upload, files={"file": ("wide.csv", b)}))  # type: ignore[misc]
        record(label, resp, took, peak_growth_mib=round(peak_mib(pid_of()) - before, 1))

    # 3. network size: 65536-wide layers, 100,000 layers, a 20 MB description
    long = f"{base}{V1}/wf/state/netconf/detail/autoencoder/nnid/nnserve/ver/1/node/netconf_node/"
    for label, hidden in (("n_hidden [65536, 65536]", [65536, 65536]), ("100,000 layers", [4] * 100_000)):
        resp, took = timed_call(lambda h=hidden: s.put(long, json={"iter": 2, "n_hidden": h}))  # type: ignore[misc]
        record(label, resp, took)
    desc = f"{base}{V1}/common/target/nninfo/nnid/nndesc/"
    resp, took = timed_call(lambda: s.post(desc, json={"nn_title": "t", "nn_desc": "x" * 20_000_000}))
    record("nn_desc of 20 MB", resp, took)

    # 4. a 200k-row predict against one-row predicts sent meanwhile (from another process)
    body = json.dumps({"input_data": (rows * (200_000 // len(rows) + 1))[:200_000]}).encode()
    context = multiprocessing.get_context("spawn")
    done, out = context.Event(), context.Queue()
    prober = context.Process(
        target=probe, args=(predict, json.dumps({"input_data": rows[0]}).encode(), done, out)
    )
    prober.start()
    time.sleep(float(out.get(timeout=120)))  # the prober is running; give it a second of quiet
    before = peak_mib(pid_of())
    resp, took = timed_call(
        lambda: s.post(predict, data=body, headers={"Content-Type": "application/json"}, timeout=900)
    )
    done.set()
    latencies = sorted(out.get(timeout=120))
    prober.join(60)
    record("200k-row v1 predict", resp, took, peak_growth_mib=round(peak_mib(pid_of()) - before, 1),
           one_row_meanwhile={"count": len(latencies), "max_ms": round(1000 * latencies[-1], 1),
                              "p50_ms": round(1000 * latencies[len(latencies) // 2], 1)})  # fmt: skip

    # 5. versions of 2^63 and above
    resp, took = timed_call(lambda: s.get(f"{base}{V1}/common/target/nninfo/nnid/nnserve/version/{2**63}/"))
    record("version 2^63", resp, took, says=resp.text[:160])

    # 7. mixed encodings: a UTF-8 line and a CP949 line
    mixed = b"name,value\n" + "가나다,1\n".encode() + "라마바,2\n".encode("cp949")
    resp, took = timed_call(lambda: s.post(upload, files={"file": ("mixed.csv", mixed)}))
    record("mixed UTF-8/CP949 CSV", resp, took, says=resp.text[:200])

    # 8. echoes: a 1 MB value, a 10k-column mismatch
    numeric = next(iter(rows[0]))  # a numeric column of the model
    resp, took = timed_call(
        lambda: s.post(predict, json={"input_data": {**rows[0], numeric: "y" * 1_000_000}})
    )
    record("1 MB value in a numeric column", resp, took)
    resp, took = timed_call(lambda: s.post(predict, json={"input_data": {f"u{i}": i for i in range(10_000)}}))
    record("10k unknown columns", resp, took)

    # 9. access: no key, a foreign Origin, a foreign Host
    resp, took = timed_call(lambda: requests.get(f"{bare}/api/v2/models"))
    record("no key", resp, took)
    resp, took = timed_call(
        lambda: s.post(desc, json={"nn_title": "x"}, headers={"Origin": "http://evil.example"})
    )
    record("state change from a foreign Origin", resp, took)
    resp, took = timed_call(lambda: s.get(f"{base}/api/v2/models", headers={"Host": "evil.example"}))
    record("foreign Host (DNS rebinding)", resp, took)

    # 2. the wedge: a long training and 30 more train calls, then health, reads, writes, predicts
    csv = synthetic_mixed(3000, numeric=6, categorical=2, seed=1).to_csv(index=False).encode()
    v1_network(s, base, "nnspare", csv)
    for i in range(31):
        v1_network(s, base, f"nnw{i}", csv, iter=10_000 if i == 0 else 2, batch_size=4 if i == 0 else 32)
    train = f"{base}{V1}/runmanager/state/train/nnid/{{}}/ver/1/"
    with ThreadPoolExecutor(max_workers=31) as pool:
        pending = [pool.submit(requests.post, train.format(f"nnw{i}"), timeout=900) for i in range(1)]
        time.sleep(3)
        pending += [pool.submit(requests.post, train.format(f"nnw{i}"), timeout=900) for i in range(1, 31)]
        time.sleep(3)
        refused = sum(1 for f in pending[1:] if f.done() and f.result().status_code == 429)
        for label, send in (
            ("/healthz", lambda: s.get(f"{bare}/healthz", timeout=60)),
            ("list networks", lambda: s.get(f"{base}{V1}/common/target/nninfo/nnid/nnserve/", timeout=60)),
            ("upload", lambda: s.post(upload, files={"file": ("u.csv", csv)}, timeout=60)),
            (
                "delete a network",
                lambda: s.delete(f"{base}{V1}/common/target/nninfo/nnid/nnspare/", timeout=60),
            ),
            ("100-row predict", lambda: s.post(predict, json={"input_data": rows[:100]}, timeout=60)),
        ):
            resp, took = timed_call(send)
            record(f"wedge: {label}", resp, took, train_calls_refused_429=refused, says=resp.text[:120])
        stopped = stop()
        cases.append({"case": "SIGTERM during the long training: seconds to exit", "s": round(stopped, 3)})
        print(json.dumps(cases[-1]), flush=True)
        for future in pending:
            future.exception()
    return cases


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.hostile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "hostile.json", help="results JSON")
    args = parser.parse_args(argv)
    settings = {"AEDETECT_MAX_PREDICT_ROWS": "200000", "AEDETECT_MAX_JSON_BYTES": str(256 * MIB),
                "OMP_NUM_THREADS": "1"}  # fmt: skip
    with server_process(120.0, settings) as (url, proc):

        def stop() -> float:
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
            return time.monotonic() - started

        cases = run_cases(lambda: proc.pid, url, stop)
    write_json(args.out, {"part": "hostile", "cases": cases})
    print(f"results: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
