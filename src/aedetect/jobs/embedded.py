"""The default job runner: jobs run on a thread pool inside the service process.

Each job goes through :func:`aedetect.jobs.lifecycle.execute_job`: RUNNING with ``started_at``
before the handler (a job cancelled while it waited in the queue is skipped), SUCCEEDED after it
(unless the handler wrote a final status itself), CANCELLED when the handler stopped on request,
FAILED with the error message when it raises anything else.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import TYPE_CHECKING

from aedetect.errors import Conflict, InvalidInput
from aedetect.jobs.base import JobHandler, JobRunner
from aedetect.jobs.lifecycle import execute_job

if TYPE_CHECKING:
    from aedetect.registry.base import Registry

JOB_NICENESS = 10
"""How much lower than the rest of the process job threads run (Linux ``nice`` of the thread)."""


def _yield_to_requests() -> None:
    """Lower the CPU priority of this job thread (Linux, where a thread has its own niceness), so
    that on a busy machine the threads answering requests run first; elsewhere a no-op."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), JOB_NICENESS)


class EmbeddedJobRunner(JobRunner):
    """Runs jobs on ``max_workers`` threads, calling the handler registered for each job's kind.

    Parameters
    ----------
    registry
        Where the jobs are stored; the runner records status, timestamps and errors there.
    handlers
        Job kind -> callable taking the job id.
    max_workers
        How many jobs run at once.
    """

    def __init__(self, registry: Registry, handlers: dict[str, JobHandler], max_workers: int = 1) -> None:
        if max_workers < 1:
            raise InvalidInput(f"max_workers must be at least 1, got {max_workers}", field="max_workers")
        self._registry = registry
        self._handlers = dict(handlers)
        self._executor = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="aedetect-job", initializer=_yield_to_requests
        )
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, job_id: str, kind: str) -> None:
        """Queue the job; ``InvalidInput`` for a kind without handler, ``Conflict`` after shutdown."""
        handler = self._handlers.get(kind)
        if handler is None:
            known = ", ".join(sorted(self._handlers)) or "none"
            raise InvalidInput(f"unknown job kind '{kind}' (known: {known})", field="kind")
        with self._lock:
            if self._closed:
                raise Conflict(f"job '{job_id}' not started: the job runner is shut down")
            if job_id in self._futures:
                raise Conflict(f"job '{job_id}' is already submitted", field="job_id")
            future = self._executor.submit(self._execute, job_id, kind, handler)
            self._futures[job_id] = future
        future.add_done_callback(lambda _: self._forget(job_id))

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until the job has finished or ``timeout`` passes.

        A job this runner is not running returns at once if the registry says it finished;
        otherwise ``Conflict`` (it would never finish here). ``NotFound`` for an unknown id.
        """
        with self._lock:
            future = self._futures.get(job_id)
        if future is not None:
            wait_futures([future], timeout=timeout)
            return
        job = self._registry.get_job(job_id)
        if not job.status.finished:
            raise Conflict(f"job '{job_id}' is {job.status.value} but was not submitted to this runner")

    def shutdown(self) -> None:
        """Refuse new jobs and wait for the queued and running ones to finish."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True)

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._futures.pop(job_id, None)

    def _execute(self, job_id: str, kind: str, handler: JobHandler) -> None:
        execute_job(self._registry, handler, job_id, kind)
