"""Processes of the scale-out tests: a Celery worker that can be killed like a lost host, and the
cluster of API processes and workers the tests talk to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from support.server import ServerProcess

START_TIMEOUT_S = 180.0

LEASE_S = 3.0
"""Job lease of the test cluster: a killed worker's job is failed within a few seconds."""


class WorkerProcess:
    """``python -m aedetect worker`` in a session of its own (so the parent and its forked child
    can be killed together, as when a host dies)."""

    def __init__(self, name: str, data_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.data_dir = data_dir
        self.env = {**env, "AEDETECT_DATA_DIR": str(data_dir)}
        self.log_path = data_dir.parent / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        """Start the worker and wait until Celery says it is ready (jobs queued before its child
        has built its services wait in the queue)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        offset = len(self.log())
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "aedetect",
                    "worker",
                    "--concurrency",
                    "1",
                    "--name",
                    f"{self.name}@test",
                ],
                env=self.env,
                cwd=self.data_dir.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited with {self.process.returncode}:\n{self.log()}")
            if " ready." in self.log()[offset:]:
                return self
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"worker {self.name} was not ready within {START_TIMEOUT_S}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the parent and its children at once (nothing is cleaned up or acknowledged)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), killing after a grace period."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Cluster:
    """Two API processes and two workers on one registry, broker and bucket."""

    api: list[ServerProcess]
    workers: list[WorkerProcess]
    env: dict[str, str]

    def worker_of(self, pid: int) -> WorkerProcess:
        """The worker one of whose pool children has (or had: children are recycled) ``pid``; each
        child logs its name when it is ready to run jobs."""
        return next(w for w in self.workers if f":{pid} is ready to run jobs" in w.log())
