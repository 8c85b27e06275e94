"""The default job runner: at most ``max_workers`` jobs at once, each watched by a thread of the
service process.

With :class:`~aedetect.jobs.child.ChildOptions` (how the service runs it) each job runs in a
process of its own with a memory limit (:mod:`aedetect.jobs.child`), so a job that runs out of
memory or crashes fails alone and the server keeps serving; the watching thread ends a child that
outlives a cancel or the shutdown by a grace period, reaps it, and records how it ended. Without,
the handlers run on the threads themselves (for handlers that are plain callables, e.g. in tests).

Either way each job goes through :func:`aedetect.jobs.lifecycle.execute_job`: RUNNING with
``started_at`` before the handler (a job cancelled while it waited in the queue is skipped),
SUCCEEDED after it (unless the handler wrote a final status itself), CANCELLED when the handler
stopped on request, FAILED with the error message when it raises anything else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import TYPE_CHECKING

from aedetect.domain import JobStatus
from aedetect.errors import Conflict, InvalidInput
from aedetect.jobs.base import JobHandler, JobRunner
from aedetect.jobs.child import JOB_NICENESS, STOPPED, ChildOptions, exit_reason, settle, start_process
from aedetect.jobs.lifecycle import execute_job

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from aedetect.registry.base import Registry

logger = logging.getLogger(__name__)

WATCH_S = 0.5
"""How often a watching thread looks at its child and at the job's cancel flag."""

CANCELLED_KILLED = (
    "cancelled: the job's process did not stop within {grace:g} s of the request and was ended; "
    "the previous version keeps serving"
)


def _yield_to_requests() -> None:
    """Lower the CPU priority of this job thread (Linux, where a thread has its own niceness), so
    that on a busy machine the threads answering requests run first; elsewhere a no-op."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), JOB_NICENESS)


class EmbeddedJobRunner(JobRunner):
    """Runs at most ``max_workers`` jobs at once, each by the handler registered for its kind.

    Parameters
    ----------
    registry
        Where the jobs are stored; the runner records status, timestamps and errors there.
    handlers
        Job kind -> callable taking the job id (with ``child``, the kinds are those of the
        runtime the child builds, and these callables only name them).
    max_workers
        How many jobs run at once.
    child
        Run each job in a process of its own (see the module); ``None``: on the threads.
    """

    def __init__(
        self,
        registry: Registry,
        handlers: dict[str, JobHandler],
        max_workers: int = 1,
        child: ChildOptions | None = None,
    ) -> None:
        if max_workers < 1:
            raise InvalidInput(f"max_workers must be at least 1, got {max_workers}", field="max_workers")
        self._registry = registry
        self._handlers = dict(handlers)
        self._child = child
        self._executor = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="aedetect-job", initializer=_yield_to_requests
        )
        self._futures: dict[str, Future[None]] = {}
        self._processes: dict[str, BaseProcess] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._stopping = threading.Event()

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

    def pid(self, job_id: str) -> int | None:
        """The process id of the child running ``job_id`` now, else ``None``."""
        with self._lock:
            process = self._processes.get(job_id)
        return None if process is None else process.pid

    def stop(self) -> None:
        """Refuse new jobs and ask running children to stop (SIGTERM: a training ends before its
        next batch, marked interrupted); returns at once. Queued jobs fail as interrupted."""
        with self._lock:
            self._closed = True
            self._stopping.set()
            processes = list(self._processes.values())
        for process in processes:
            with contextlib.suppress(OSError, ValueError):
                process.terminate()

    def shutdown(self) -> None:
        """:meth:`stop`, then wait for the jobs: a child still running a grace period after
        SIGTERM is killed; without children, running handlers finish."""
        if self._child is not None:
            self.stop()
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True)

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._futures.pop(job_id, None)

    def _execute(self, job_id: str, kind: str, handler: JobHandler) -> None:
        if self._child is None:
            execute_job(self._registry, handler, job_id, kind)
            return
        try:
            self._execute_in_child(job_id, kind, self._child)
        except Exception:  # the registry failed; the job stays as it is for the start-up housekeeping
            logger.exception("could not run or record job %s (%s) in its process", job_id, kind)

    def _execute_in_child(self, job_id: str, kind: str, child: ChildOptions) -> None:
        """Start the job's process, watch it until it ends, reap it, and record its end when the
        process did not."""
        if self._registry.get_job(job_id).status is not JobStatus.QUEUED:
            return  # cancelled while it waited: nothing to start
        if self._stopping.is_set():
            settle(self._registry, job_id, JobStatus.FAILED, STOPPED)
            return
        try:
            process = start_process(child, job_id, kind)  # the watch below ends it if a stop came meanwhile
        except OSError as exc:  # out of processes or memory
            settle(self._registry, job_id, JobStatus.FAILED, f"the job's process could not be started: {exc}")
            return
        with self._lock:
            self._processes[job_id] = process
        logger.info("job %s (%s) runs in process %s", job_id, kind, process.pid)
        try:
            ended = self._watch(process, job_id, child)
        finally:
            process.join()
            exitcode = process.exitcode
            with self._lock:
                self._processes.pop(job_id, None)
            process.close()
        if ended is None and self._stopping.is_set():
            ended = JobStatus.FAILED, STOPPED  # ended by SIGTERM before it could take it as a stop
        status, message = ended or exit_reason(exitcode)
        settle(self._registry, job_id, status, message)

    def _watch(self, process: BaseProcess, job_id: str, child: ChildOptions) -> tuple[JobStatus, str] | None:
        """Wait for the child; end it when it outlives a cancel or the shutdown by the grace period
        (then the status and message its job gets), else ``None`` once it exited by itself."""
        cancelled_at: float | None = None
        stopped_at: float | None = None
        while True:
            process.join(WATCH_S)
            if process.exitcode is not None:
                return None
            now = time.monotonic()
            if self._stopping.is_set():
                if stopped_at is None:
                    stopped_at = now
                    process.terminate()
                elif now - stopped_at >= child.stop_grace_s:
                    process.kill()
                    return JobStatus.FAILED, STOPPED
            elif cancelled_at is None:
                if self._cancel_requested(job_id):
                    cancelled_at = now
            elif now - cancelled_at >= child.cancel_grace_s:
                process.kill()
                return JobStatus.CANCELLED, CANCELLED_KILLED.format(grace=child.cancel_grace_s)

    def _cancel_requested(self, job_id: str) -> bool:
        """The job's cancel flag; a registry that cannot answer now counts as no (asked again)."""
        try:
            return self._registry.cancel_requested(job_id)
        except Exception:
            logger.warning("could not read the cancel flag of job %s", job_id, exc_info=True)
            return False
