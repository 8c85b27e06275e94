"""Leases on running jobs, for runners whose jobs run on other hosts.

A worker that claims a job records itself and a heartbeat on the job row, and renews it every
``lease_s / 6`` seconds while the job runs. Every worker also fails the running jobs whose lease
has expired (their worker died: killed, out of memory, host lost) with :data:`LOST`, together with
their training run and version, so nothing stays "running" for ever and the previous model keeps
serving. A job is failed, not run again: a training that killed its worker would kill the next
one too, and a user who sees the failure can train again (see the README, "Running a cluster").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aedetect.registry.base import Registry

logger = logging.getLogger(__name__)

BEATS_PER_LEASE = 6
"""Heartbeats within one lease period: a few missed beats (a slow registry) do not expire it."""


def lost_reason(lease_s: float) -> str:
    """The error recorded on a job whose worker stopped renewing its lease."""
    return (
        f"worker lost: the worker running this job stopped renewing its lease for {lease_s:g} s (it "
        "died, was killed or lost the registry); the previous model keeps serving; train again"
    )


class Lease:
    """Renews ``worker``'s lease on the jobs it holds and fails expired jobs of other workers.

    Parameters
    ----------
    registry
        Where the jobs are.
    worker
        This worker's name (host and process), as recorded on the jobs it claims.
    lease_s
        How long a job may go without a heartbeat before it is failed.
    """

    def __init__(self, registry: Registry, worker: str, lease_s: float) -> None:
        self._registry = registry
        self.worker = worker
        self.lease_s = lease_s
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def hold(self, job_id: str) -> Iterator[None]:
        """Keep the lease on ``job_id`` renewed while the block runs."""
        with self._lock:
            self._held.add(job_id)
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(job_id)

    def beat(self) -> None:
        """One round: renew the held leases, then fail the expired jobs of any worker."""
        with self._lock:
            held = sorted(self._held)
        for job_id in held:
            if not self._registry.heartbeat(job_id, self.worker):
                logger.warning(
                    "job %s is no longer running under %s: its lease was lost", job_id, self.worker
                )
        for job_id in self._registry.fail_stale_jobs(self.lease_s, lost_reason(self.lease_s)):
            logger.warning("job %s failed: its worker stopped renewing its lease", job_id)

    def start(self) -> None:
        """Beat in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="aedetect-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.lease_s)

    def _run(self) -> None:
        while not self._stop.wait(self.lease_s / BEATS_PER_LEASE):
            try:
                self.beat()
            except Exception:
                logger.exception("lease round failed (retried at the next beat)")
