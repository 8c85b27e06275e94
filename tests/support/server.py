"""Helpers of the tests that run a real server (v1, v2, dashboard, cluster, schema fuzzing): the
server process, a v1 client that decodes the double-encoded bodies the way TensorMSA clients do,
NSL-KDD sample data, and the check of a v2 problem document.

Servers run with auth on, as they do by default: :class:`ServerProcess` takes the admin key the
first start prints (or makes one with ``aedetect keys create``), and its :attr:`~ServerProcess.url`
carries that key the way old v1 scripts do (``url = "key:<KEY>@host:port"``), so ``requests``
sends it as HTTP Basic. :attr:`~ServerProcess.base` is the same address without a key.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
DATASETS_ENV = "AEDETECT_TEST_DATASETS"
START_TIMEOUT_S = 120.0
V1 = "/api/v1/type/"

KEY_PATTERN = re.compile(r"aed_[0-9a-f]{8}_[A-Za-z0-9_\-]{43}")

MAX_UPLOAD_BYTES = 2_000_000
"""Upload limit of the session server (small, so the 413 test stays cheap)."""

FEATURES = ["protocol_type", "service", "flag", "src_bytes", "dst_bytes", "count", "srv_count",
            "serror_rate", "same_srv_rate", "dst_host_count"]  # fmt: skip
"""The NSL-KDD columns the tests train on: three categorical, the rest numeric."""


def datasets_dir() -> Path:
    """The shared benchmark data beside the clone (``<repo>/../shared/datasets``) or
    ``$AEDETECT_TEST_DATASETS``; missing data fails under CI and skips locally."""
    path = Path(os.environ.get(DATASETS_ENV, REPO.parent / "shared" / "datasets"))
    if not (path / "nsl-kdd" / "columns.txt").is_file():
        message = f"NSL-KDD data not found under {path} (set {DATASETS_ENV})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def nsl_kdd(file: str, rows: int, skip: int = 0) -> pd.DataFrame:
    """``rows`` rows of an NSL-KDD file (after ``skip``), with the column names as header."""
    folder = datasets_dir() / "nsl-kdd"
    names = [line.strip() for line in (folder / "columns.txt").read_text().splitlines() if line.strip()]
    return pd.read_csv(folder / file, header=None, names=names, skiprows=skip, nrows=rows)


def csv_bytes(frame: pd.DataFrame, *, encoding: str = "utf-8", sep: str = ",") -> bytes:
    """``frame`` as CSV text with a header row."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, sep=sep)
    return buffer.getvalue().encode(encoding)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``python -m aedetect serve`` on a free port with its own data directory; ``file_size_limit``
    caps the size of any file the server writes (``RLIMIT_FSIZE``: a disk that is full for it),
    ``open_files`` its open-file limit, soft and hard (``RLIMIT_NOFILE``)."""

    def __init__(
        self, data_dir: Path, file_size_limit: int | None = None, open_files: int | None = None, **env: str
    ) -> None:
        self.data_dir = data_dir
        self.file_size_limit = file_size_limit
        self.open_files = open_files
        self.port = free_port()
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AEDETECT_")}
        self.env = {
            **inherited,
            "AEDETECT_HOST": "127.0.0.1",
            "AEDETECT_PORT": str(self.port),
            "AEDETECT_DATA_DIR": str(data_dir),
            "OMP_NUM_THREADS": "1",
            **env,
        }
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.key: str | None = None

    @property
    def base(self) -> str:
        """The server's address, without a key."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The server's address with the admin key as user info, as old v1 scripts write it."""
        return f"http://key:{self.key}@127.0.0.1:{self.port}" if self.key else self.base

    @property
    def auth(self) -> bool:
        return self.env.get("AEDETECT_AUTH", "true").lower() not in ("0", "false", "no")

    def make_key(self, role: str = "admin", name: str = "tests") -> str:
        """A new key of ``role`` made with ``aedetect keys create`` on this server's registry."""
        done = subprocess.run(
            [sys.executable, "-m", "aedetect", "keys", "create", "--role", role, "--name", name],
            env=self.env,
            cwd=self.data_dir.parent,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def start(self) -> ServerProcess:
        """Start the server and wait until ``/healthz`` answers."""
        log = self.log_path.open("ab")
        limit, open_files = self.file_size_limit, self.open_files

        def limit_files() -> None:
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            if open_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

        self.process = subprocess.Popen(
            [sys.executable, "-m", "aedetect", "serve"],
            env=self.env,
            cwd=self.data_dir.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_files,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code == 200:
                    if self.auth and self.key is None:
                        printed = KEY_PATTERN.findall(self.log())
                        self.key = printed[-1] if printed else self.make_key()
                    return self
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer /healthz within {START_TIMEOUT_S}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def memory_peak_bytes(self) -> int:
        """The server process's peak resident memory so far (``VmHWM``)."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(kib) * 1024

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), killing after a grace period."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Kill the process at once (a crash: nothing is cleaned up)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


class V1Client:
    """Calls v1 endpoints and decodes bodies with ``json.loads(resp.json())``, as clients do."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url + V1

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 600)
        return requests.request(method, self.base + path, **kwargs)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded body of a call that must succeed."""
        resp = self.raw(method, path, **kwargs)
        assert resp.status_code == 200, f"{method} {path}: {resp.status_code} {resp.text}"
        return json.loads(resp.json())

    def error(self, method: str, path: str, status: int, *fragments: str, **kwargs: Any) -> str:
        """Call and check the v1 error envelope: HTTP ``status``, the same status string in the
        body, and every fragment in the message (which is returned)."""
        resp = self.raw(method, path, **kwargs)
        assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
        body = json.loads(resp.json())
        assert body["status"] == str(status)
        for fragment in fragments:
            assert fragment in body["result"], f"{fragment!r} not in {body['result']!r}"
        message: str = body["result"]
        return message

    # --- the common steps of the flow -----------------------------------------------------------
    def create_network(self, nn_id: str) -> None:
        body = {"biz_cate": "MES", "biz_sub_cate": "M60", "nn_title": "test", "nn_desc": "test desc",
                "use_flag": "Y", "dir": "autoencoder_csv", "config": "N"}  # fmt: skip
        assert self.call("POST", f"common/target/nninfo/nnid/{nn_id}/", json=body) == nn_id
        version = {"nn_def_list_info_nn_id": "", "nn_wf_ver_info": "test version info", "condition": "1",
                   "active_flag": "Y"}  # fmt: skip
        assert self.call("POST", f"common/target/nninfo/nnid/{nn_id}/version/", json=version) == nn_id
        assert self.call(
            "POST", f"wf/target/init/mode/simple/{nn_id}/wfver/1/", json={"type": "autoencoder_csv"}
        )

    def data_path(self, nn_id: str, node: str, ver: int | str = 1) -> str:
        return f"wf/state/framedata/src/local/form/raw/prg/source/nnid/{nn_id}/ver/{ver}/node/{node}/"

    def upload(self, nn_id: str, node: str, name: str, content: bytes, ver: int = 1) -> Any:
        return self.call("POST", self.data_path(nn_id, node, ver), files={"file": (name, content)})

    def feeder(self, nn_id: str, node: str, columns: list[str], ver: int = 1) -> Any:
        path = f"wf/state/pre/detail/feed/src/frame/net/autoencoder/nnid/{nn_id}/ver/{ver}/node/{node}/"
        body = {"encode_column": columns, "vocab_size": 10, "preprocess": "frame", "embed_type": "onehot"}
        return self.call("POST", path, json=body)

    def netconf(self, nn_id: str, ver: int = 1, **params: Any) -> Any:
        body = {
            "learning_rate": 0.01,
            "iter": 2,
            "batch_size": 50,
            "examples_to_show": 10,
            "n_hidden": [16, 4],
        }
        path = f"wf/state/netconf/detail/autoencoder/nnid/{nn_id}/ver/{ver}/node/netconf_node/"
        return self.call("PUT", path, json={**body, **params})

    def train(self, nn_id: str, ver: int = 1) -> Any:
        return self.call("POST", f"runmanager/state/train/nnid/{nn_id}/ver/{ver}/")

    def anomaly(self, nn_id: str, rows: Any, ver: str = "active") -> Any:
        path = f"service/state/predict/type/anomaly/nnid/{nn_id}/ver/{ver}/"
        return self.call("POST", path, json={"input_data": rows})

    def runs(self, nn_id: str, ver: int = 1) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.call("GET", f"common/target/nninfo/nnid/{nn_id}/version/{ver}/")
        return runs

    def trained_network(self, nn_id: str, train: pd.DataFrame, columns: list[str], **netconf: Any) -> None:
        """A network with one version trained on ``train`` (small, fast hyperparameters)."""
        self.create_network(nn_id)
        self.upload(nn_id, "datasrc", "train.csv", csv_bytes(train))
        self.feeder(nn_id, "feed_train", columns)
        self.netconf(nn_id, **netconf)
        self.train(nn_id)


def wait_for(predicate: Any, what: str, timeout: float = 300.0) -> Any:
    """Poll ``predicate`` until it returns something truthy (that value is returned)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """``directory`` refuses to have entries added, removed or renamed, for whoever runs the
    server (root included: an immutable attribute rather than permissions)."""
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, text=True)
        undo = ["chattr", "-i", str(directory)]
    else:
        directory.chmod(0o555)
        made = subprocess.CompletedProcess([], 0)
        undo = ["chmod", "755", str(directory)]
    probe = directory / "probe"
    try:
        probe.touch()
    except OSError:
        pass
    else:
        probe.unlink()
        subprocess.run(undo, check=False)
        pytest.skip(f"this file system cannot make {directory} read-only ({made.stderr.strip()})")
    try:
        yield
    finally:
        subprocess.run(undo, check=True)


PROBLEM = "application/problem+json"


def problem(
    server: ServerProcess, method: str, path: str, status: int, kind: str, field: str | None, **kwargs: Any
) -> dict[str, Any]:
    """Call ``/api/v2{path}`` and check the problem document; returns it."""
    response = requests.request(method, f"{server.url}/api/v2{path}", timeout=120, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:aedetect:problem:{kind}" and body["status"] == status
    assert body["title"] and body["detail"]
    assert body.get("field") == field, body
    return body
