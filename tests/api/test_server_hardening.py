"""The running service against hostile clients and careless starts, through real sockets: a flood
of idle and half-sent connections at an open-file limit of 1,024, keys in sign-in links, wrong
keys in bulk, deeply nested JSON, a read racing a delete, and a second server on the same data
directory or port."""

from __future__ import annotations

import contextlib
import json
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import uvicorn

from aedetect.app import create_app
from aedetect.config import Settings
from support.server import ServerProcess, csv_bytes, free_port, wait_for

FLOOD = 5000
TIMEOUT_S = 10.0
"""Client timeout of the requests that must be answered (generous: this is not a timing test)."""
COLUMNS = ["a", "b", "c"]


def _frame(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(rows, len(COLUMNS))), columns=COLUMNS)


def _bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _upload(server: ServerProcess, frame: pd.DataFrame) -> str:
    resp = requests.post(
        server.base + "/api/v2/datasets",
        files={"file": ("rows.csv", csv_bytes(frame), "text/csv")},
        headers=_bearer(server.key),
        timeout=60,
    )
    assert resp.status_code == 201, resp.text
    dataset_id: str = resp.json()["id"]
    return dataset_id


def _job(server: ServerProcess, job_id: str) -> dict[str, object]:
    got: dict[str, object] = requests.get(
        f"{server.base}/api/v2/jobs/{job_id}", headers=_bearer(server.key), timeout=60
    ).json()
    return got


def _start_training(server: ServerProcess, name: str, epochs: int = 2) -> str:
    """Model ``name`` on random rows, its training started (no early stop); the job id."""
    dataset = _upload(server, _frame())
    params = {"epochs": epochs, "n_hidden": [4, 2], "random_state": 0, "validation_fraction": 0}
    body = {"name": name, "dataset": dataset, "columns": COLUMNS, "params": params}
    headers = _bearer(server.key)
    resp = requests.post(server.base + "/api/v2/models", json=body, headers=headers, timeout=60)
    assert resp.status_code == 201, resp.text
    job = requests.post(f"{server.base}/api/v2/models/{name}/train", headers=headers, timeout=60)
    assert job.status_code == 202, job.text
    job_id: str = job.json()["id"]
    return job_id


def _finished(server: ServerProcess, job_id: str) -> dict[str, object] | None:
    job = _job(server, job_id)
    return None if job["status"] in ("queued", "running") else job


def _trained(server: ServerProcess, name: str) -> None:
    """A small model ``name`` trained (2 epochs) on random rows."""
    job_id = _start_training(server, name)
    done = wait_for(lambda: _finished(server, job_id), "the training")
    assert done["status"] == "succeeded", done


def _score(server: ServerProcess, name: str) -> requests.Response:
    row = {"a": 0.1, "b": -0.2, "c": 0.3}
    return requests.post(
        f"{server.base}/api/v2/models/{name}/score",
        json={"rows": [row]},
        headers=_bearer(server.key),
        timeout=TIMEOUT_S,
    )


@pytest.fixture
def own_open_files() -> Iterator[None]:
    """This test process may hold the flood's sockets: its soft open-file limit is raised."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FLOOD + 1000
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard open-file limit {hard} is below the {wanted} this test holds")
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _flood(port: int, count: int) -> list[socket.socket]:
    """``count`` connections to ``port``, every other one with half a request head sent; the
    sockets that connected are returned (the caller closes them)."""
    selector = selectors.DefaultSelector()
    pending: list[socket.socket] = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        selector.register(sock, selectors.EVENT_WRITE)
        pending.append(sock)
    connected: list[socket.socket] = []
    deadline = time.monotonic() + 60
    while len(connected) < count and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            selector.unregister(sock)
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected.append(sock)
                if len(connected) % 2:
                    with contextlib.suppress(OSError):
                        sock.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    selector.close()
    for sock in pending:
        if sock not in connected:
            sock.close()
    return connected


def test_idle_and_half_sent_connections_do_not_starve_the_server(
    tmp_path: Path, own_open_files: None
) -> None:
    server = ServerProcess(tmp_path / "data", open_files=1024).start()
    held: list[socket.socket] = []
    try:
        _trained(server, "flooded")
        held = _flood(server.port, FLOOD)
        assert len(held) > FLOOD // 2, "the flood did not connect"
        health = requests.get(server.base + "/healthz", timeout=TIMEOUT_S)
        assert health.status_code == 200
        scored = _score(server, "flooded")
        assert scored.status_code == 200, scored.text
        assert len(scored.json()["rows"]) == 1
        log = server.log_path.read_text(errors="replace")
        assert "open-file limit is 1024" in log
        assert log.count("Too many open files") < 20
    finally:
        for sock in held:
            sock.close()
        server.stop()


def _refused(resp: requests.Response) -> tuple[requests.Response] | None:
    """``(resp,)`` when it is a 503, else ``None`` (a ``Response`` itself is false for any error)."""
    return (resp,) if resp.status_code == 503 else None


def test_a_request_beyond_the_cap_is_503_with_retry_after_and_request_id(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", AEDETECT_MAX_REQUESTS="1").start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as slow:
            # a request whose body has not all arrived is in progress
            slow.sendall(
                b"POST /api/v2/models/x/score HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n"
                + f"Authorization: Bearer {server.key}\r\n\r\n".encode()
                + b'{"rows": '
            )
            (resp,) = wait_for(
                lambda: _refused(requests.get(server.base + "/auth/whoami", timeout=TIMEOUT_S)),
                "a 503 while the first request is in progress",
                timeout=30,
            )
            assert resp.headers["Retry-After"] == "1"
            assert resp.headers["X-Request-ID"]
            assert "AEDETECT_MAX_REQUESTS" in resp.text
            assert requests.get(server.base + "/healthz", timeout=TIMEOUT_S).status_code == 200
        assert wait_for(
            lambda: (
                requests.get(
                    server.base + "/auth/whoami", headers=_bearer(server.key), timeout=TIMEOUT_S
                ).status_code
                == 200
            ),
            "the cap to free up",
            timeout=60,
        )
    finally:
        server.stop()


def test_a_sign_in_link_never_writes_the_key_to_the_log(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        key = server.make_key("reader", "browser")
        signed = requests.get(
            f"{server.base}/auth/login", params={"key": key}, allow_redirects=False, timeout=60
        )
        assert signed.status_code == 303
        assert signed.cookies.get("aedetect_key") == key
        wrong = key[:-4] + "abcd"
        refused = requests.get(f"{server.base}/auth/login", params={"key": wrong}, timeout=60)
        assert refused.status_code == 401
        wait_for(
            lambda: "/auth/login?key=***" in server.log_path.read_text(), "the access log line", timeout=30
        )
        log = server.log_path.read_text(errors="replace")
        assert key not in log
        assert wrong not in log
    finally:
        server.stop()


def test_wrong_keys_are_limited_per_address_and_audited_per_window(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "data", AEDETECT_AUTH_FAILURES="5", AEDETECT_AUTH_FAILURE_WINDOW_S="3"
    ).start()
    try:
        good = _bearer(server.key)
        assert requests.get(server.base + "/auth/whoami", headers=good, timeout=60).status_code == 200
        statuses = []
        for attempt in range(30):
            wrong = _bearer(f"aed_0000000{attempt % 10}_{'x' * 43}")
            resp = requests.get(server.base + "/api/v2/models", headers=wrong, timeout=60)
            statuses.append(resp.status_code)
            if resp.status_code == 429:
                assert int(resp.headers["Retry-After"]) >= 1
                assert "AEDETECT_AUTH_FAILURES" in resp.text
        assert set(statuses) == {401, 429}
        # the key used a moment ago still works from the same address
        assert requests.get(server.base + "/auth/whoami", headers=good, timeout=60).status_code == 200

        def failed_rows() -> list[dict[str, object]]:
            items = requests.get(server.base + "/auth/audit", headers=good, timeout=60).json()["items"]
            rows = [row for row in items if "failed key check" in str(row["actor"])]
            counted = sum(int(str(row["actor"]).split(": ")[1].split()[0]) for row in rows)
            return rows if counted == len(statuses) else []

        rows = wait_for(failed_rows, "the audit entries of the wrong keys", timeout=60)
        assert 1 <= len(rows) <= 3  # one per address and window (the 30 tries span one or two windows)
        assert {row["client"] for row in rows} == {"127.0.0.1"}
        assert {row["status"] for row in rows} == {401}
    finally:
        server.stop()


def test_refused_requests_of_a_key_are_audited_at_a_bounded_rate(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", AEDETECT_AUTH_FAILURE_WINDOW_S="3").start()
    try:
        admin = _bearer(server.key)
        reader = _bearer(server.make_key("reader", "line 7 display"))
        refused = [
            requests.post(server.base + "/api/v2/datasets", headers=reader, data=b"a\n1\n", timeout=60)
            for _ in range(40)
        ]
        assert {resp.status_code for resp in refused} == {403}

        def counted(row: dict[str, object]) -> int:
            actor = str(row["actor"])  # "<name>" at once, "<name>: N more refused request(s) ..." after
            return int(actor.split(": ")[1].split()[0]) if "more refused" in actor else 1

        def reader_rows() -> list[dict[str, object]]:
            items = requests.get(server.base + "/auth/audit", headers=admin, timeout=60).json()["items"]
            rows = [row for row in items if str(row["actor"]).startswith("line 7 display")]
            return rows if sum(counted(row) for row in rows) == len(refused) else []

        rows = wait_for(reader_rows, "the audit entries of the refused requests", timeout=60)
        assert 2 <= len(rows) <= 4  # the first of each window at once, the rest of it as one count
        assert {row["status"] for row in rows} == {403}
        assert {row["role"] for row in rows} == {"reader"}
    finally:
        server.stop()


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("hardening") / "data").start()
    try:
        yield server
    finally:
        server.stop()


PREDICT_PATHS = [
    "/api/v1/type/service/state/predict/type/anomaly/nnid/deep/ver/active/",
    "/api/v2/models/deep/score",
]


@pytest.mark.parametrize("path", PREDICT_PATHS)
def test_a_number_of_5000_digits_is_400(open_server: ServerProcess, path: str) -> None:
    digits = "9" * 5000
    resp = requests.post(
        open_server.base + path,
        data=f'{{"input_data": {{"a": {digits}}}, "rows": [{{"a": {digits}}}]}}',
        headers={"Content-Type": "application/json", **_bearer(open_server.key)},
        timeout=60,
    )
    assert resp.status_code in (400, 422), resp.text
    assert "digits" in resp.text
    assert resp.headers["X-Request-ID"]


@pytest.mark.parametrize("path", PREDICT_PATHS)
def test_deeply_nested_json_is_400_naming_the_limit(open_server: ServerProcess, path: str) -> None:
    body = b'{"input_data": ' + _nested(10_000) + b', "rows": [], "note": "[[[[ in a string"}'
    resp = requests.post(
        open_server.base + path,
        data=body,
        headers={"Content-Type": "application/json", **_bearer(open_server.key)},
        timeout=60,
    )
    assert resp.status_code == 400, resp.text
    text = json.loads(resp.json()) if path.startswith("/api/v1/") else resp.json()
    assert "AEDETECT_MAX_JSON_DEPTH" in json.dumps(text)
    assert resp.headers["X-Request-ID"]


def test_json_nested_within_the_limit_reaches_the_route(open_server: ServerProcess) -> None:
    resp = requests.post(
        open_server.base + "/api/v2/models/deep/score",
        data=b'{"rows": [{"a": [[[1]]], "b": "]]]]]]"}]}',
        headers={"Content-Type": "application/json", **_bearer(open_server.key)},
        timeout=60,
    )
    assert resp.status_code == 404, resp.text  # the route ran: there is no model "deep"


def test_a_read_racing_a_delete_is_the_data_or_404(open_server: ServerProcess) -> None:
    headers = _bearer(open_server.key)
    statuses: list[int] = []
    for _ in range(40):
        dataset = _upload(open_server, _frame(2000))
        url = f"{open_server.base}/api/v2/datasets/{dataset}"
        reads: list[requests.Response] = []

        def read(url: str = url, reads: list[requests.Response] = reads) -> None:
            for _ in range(5):
                reads.append(requests.get(url, headers=headers, timeout=60))

        reader = threading.Thread(target=read)
        reader.start()
        deleted = requests.delete(url, headers=headers, timeout=60)
        reader.join()
        assert deleted.status_code == 204, deleted.text
        for resp in reads:
            assert resp.status_code in (200, 404), resp.text
            assert resp.headers["X-Request-ID"]
            statuses.append(resp.status_code)
    assert 404 in statuses


def test_an_unexpected_error_is_a_500_with_the_request_id(tmp_path: Path) -> None:
    """The application served by uvicorn in this process, with one more route that fails in a way
    no error handler knows: Starlette answers such errors outside every middleware."""
    settings = Settings(data_dir=tmp_path / "data", auth=False, port=free_port())
    app = create_app(settings)

    async def broken() -> None:
        raise RuntimeError("a failure no handler expects")

    app.add_api_route("/api/v2/broken", broken)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, "the server to start", timeout=60)
        resp = requests.get(f"http://127.0.0.1:{settings.port}/api/v2/broken", timeout=60)
        assert resp.status_code == 500
        request_id = resp.headers["X-Request-ID"]
        assert request_id in resp.json()["detail"]
        assert "a failure no handler expects" not in resp.text
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _second_serve(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``aedetect serve`` run to its end (a refusal); one that starts instead runs into the timeout."""
    return subprocess.run(
        [sys.executable, "-m", "aedetect", "serve"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_server_on_the_same_data_directory_refuses_before_touching_jobs(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path / "data").start()
    try:
        job_id = _start_training(first, "busy", epochs=10_000)
        wait_for(lambda: _job(first, job_id)["status"] == "running", "the training to run")
        second = ServerProcess(tmp_path / "data")  # another free port, the same directory
        done = _second_serve(second.env, second.data_dir.parent)
        assert done.returncode != 0
        assert first.process is not None
        assert f"pid {first.process.pid}" in done.stderr, done.stderr
        for hint in ("AEDETECT_DATA_DIR", "--port", "AEDETECT_PORT"):
            assert hint in done.stderr
        assert _job(first, job_id)["status"] == "running"
        requests.post(f"{first.base}/api/v2/jobs/{job_id}/cancel", headers=_bearer(first.key), timeout=60)
    finally:
        first.stop()


def test_a_second_server_on_a_taken_port_refuses_before_touching_jobs(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path / "one").start()
    try:
        second = ServerProcess(tmp_path / "two")
        done = _second_serve({**second.env, "AEDETECT_PORT": str(first.port)}, second.data_dir.parent)
        assert done.returncode != 0
        assert f"{first.port}" in done.stderr and "--port" in done.stderr and "AEDETECT_PORT" in done.stderr
        assert not (tmp_path / "two" / "aedetect.db").exists()  # nothing was built
    finally:
        first.stop()


def test_the_body_timeout_ends_a_stalled_body_but_not_an_event_stream(tmp_path: Path) -> None:
    """A body that stops arriving is answered 408; the timeout covers the request body only, so a
    stream that waits for the client to go away (server-sent events) keeps running past it."""
    server = ServerProcess(tmp_path / "data", AEDETECT_BODY_TIMEOUT_S="1").start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as stalled:
            stalled.sendall(
                b"POST /api/v2/models/x/score HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n"
                + f"Authorization: Bearer {server.key}\r\n\r\n".encode()
                + b'{"rows": '
            )
            answer = chunk = stalled.recv(65536)
            while chunk and b"AEDETECT_BODY_TIMEOUT_S" not in answer:  # the body may come apart
                chunk = stalled.recv(65536)
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"AEDETECT_BODY_TIMEOUT_S" in answer
        job_id = _start_training(server, "followed", epochs=10_000)
        url = f"{server.base}/api/v2/jobs/{job_id}/events"
        events = 0
        with requests.get(url, headers=_bearer(server.key), stream=True, timeout=60) as stream:
            started = time.monotonic()
            for line in stream.iter_lines():
                events += line.startswith(b"data:")
                if time.monotonic() - started > 4:
                    break
        assert events >= 2
        assert _job(server, job_id)["status"] == "running"
        assert "Exception" not in server.log()
        requests.post(f"{server.base}/api/v2/jobs/{job_id}/cancel", headers=_bearer(server.key), timeout=60)
    finally:
        server.stop()
