"""The scale-out job runner: jobs queued on a Celery broker (Redis) and run by ``aedetect worker``
processes on any host.

Only ``(job_id, kind)`` crosses the queue; the job row was written before it was queued, and the
worker reads its parameters from the registry and records progress and the result there, so the
API's job view and event stream show a worker's progress and a cancel reaches it through the
registry flag. The settings suit long PyTorch jobs:

- late acknowledgement (a message is acknowledged when the job ends, so a broker that loses its
  worker redelivers it) with a prefetch of one (a worker never holds jobs it is not running),
  and a broker visibility timeout longer than the longest job (else Redis hands a running job to
  a second worker);
- a child that dies is not retried (``task_reject_on_worker_lost`` off): the job's lease expires
  and it is failed with a clear reason (:mod:`aedetect.jobs.lease`);
- the atomic claim in the registry makes a second delivery of the same job a no-op;
- worker processes are recycled after ``max_tasks_per_child`` jobs (memory held by PyTorch and
  the allocator is given back), and services, database connections and PyTorch devices are made
  in each child after it forks, never in the parent: CUDA cannot be used in a child forked from a
  parent that initialised it. The parent refuses to start when CUDA is initialised already.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from celery import Celery, signals

from aedetect.domain import JobStatus
from aedetect.errors import InvalidInput, StorageUnavailable
from aedetect.jobs.base import JobHandler, JobRunner
from aedetect.jobs.lifecycle import execute_job

if TYPE_CHECKING:
    from aedetect.jobs.lease import Lease
    from aedetect.registry.base import Registry

logger = logging.getLogger(__name__)

TASK = "aedetect.run_job"
"""The one Celery task: run the job with this id and kind."""

WAIT_POLL_S = 0.25

BROKER_SETTING = "AEDETECT_BROKER_URL"

PROCESS_START_S = 300.0
"""How long a new worker child may take to build its services (Celery's default is 4 s)."""


@dataclass(frozen=True)
class CeleryOptions:
    """What the Celery app is made from (the ``AEDETECT_*`` job settings)."""

    broker_url: str
    queue: str = "aedetect"
    visibility_timeout_s: float = 86_400.0
    max_tasks_per_child: int = 20
    concurrency: int = 1


@dataclass
class WorkerRuntime:
    """What one worker child process runs jobs with; built after the fork by the factory given to
    :func:`run_worker`."""

    registry: Registry
    handlers: dict[str, JobHandler]
    lease: Lease
    close: Callable[[], None]

    def run(self, job_id: str, kind: str) -> None:
        handler = self.handlers.get(kind)
        if handler is None:  # a message from another release of aedetect on the same queue
            error = (
                f"this worker cannot run jobs of kind '{kind}' (known: {', '.join(sorted(self.handlers))})"
            )
            logger.error("job %s: %s", job_id, error)
            self.registry.finish_job(job_id, JobStatus.FAILED, error)
            return
        execute_job(self.registry, handler, job_id, kind, worker=self.lease.worker, lease=self.lease)


_runtime: WorkerRuntime | None = None
_factory: Callable[[], WorkerRuntime] | None = None


def worker_name() -> str:
    """This process as a job's ``worker``: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _run_job(job_id: str, kind: str) -> None:
    """The task body, in a worker child: the runtime was built there at process start."""
    if _runtime is None:
        raise RuntimeError("this process is not an aedetect worker: start it with 'aedetect worker'")
    _runtime.run(job_id, kind)


def make_celery_app(options: CeleryOptions) -> Celery:
    """The Celery app of aedetect's queue, with the settings for long jobs (see the module)."""
    app = Celery("aedetect", broker=options.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=options.queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=options.max_tasks_per_child,
        worker_concurrency=options.concurrency,
        worker_proc_alive_timeout=PROCESS_START_S,
        broker_transport_options={"visibility_timeout": options.visibility_timeout_s},
        broker_connection_retry_on_startup=True,
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
    )
    app.task(name=TASK, ignore_result=True)(_run_job)
    return app


class CeleryJobRunner(JobRunner):
    """Queues jobs on the broker; waiting reads the registry, so it works from any process.

    Parameters
    ----------
    app
        The Celery app (:func:`make_celery_app`).
    registry
        Where the jobs are (read by :meth:`wait`).
    kinds
        The job kinds the workers run (others are refused before anything is queued).
    """

    def __init__(self, app: Celery, registry: Registry, kinds: Iterable[str]) -> None:
        self._app = app
        self._registry = registry
        self._kinds = frozenset(kinds)

    def submit(self, job_id: str, kind: str) -> None:
        """Queue the job; ``StorageUnavailable`` naming the setting when the broker is unreachable."""
        if kind not in self._kinds:
            known = ", ".join(sorted(self._kinds)) or "none"
            raise InvalidInput(f"unknown job kind '{kind}' (known: {known})", field="kind")
        try:
            self._app.send_task(TASK, args=[job_id, kind], retry=True)
        except Exception as exc:  # kombu raises its transport's own connection errors
            logger.warning("could not queue job %s: %s", job_id, exc)
            raise StorageUnavailable(
                f"the job queue ({BROKER_SETTING}) could not be reached, so job {job_id} was not queued: "
                "check that the broker runs, then send the request again"
            ) from exc

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Poll the registry until the job has finished or ``timeout`` passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._registry.get_job(job_id).status.finished:
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(WAIT_POLL_S)

    def shutdown(self) -> None:
        """Release the broker connections (queued jobs stay queued for the workers)."""
        self._app.close()


def _cuda_initialised() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def _on_worker_init(**_: Any) -> None:
    """In the parent, before it forks: refuse to go on with CUDA initialised."""
    if _cuda_initialised():
        raise RuntimeError(
            "CUDA was initialised in the worker's parent process; children forked from it cannot use "
            "the GPU. Nothing in the parent may touch torch.cuda"
        )


def _on_process_init(**_: Any) -> None:
    """In each child, after the fork: build the services (connections, store, devices) here."""
    global _runtime
    if _factory is None:
        raise RuntimeError("no worker runtime factory was installed (start workers with 'aedetect worker')")
    _runtime = _factory()
    _runtime.lease.start()
    logger.info("worker process %s is ready to run jobs", _runtime.lease.worker)


def _on_process_shutdown(**_: Any) -> None:
    if _runtime is not None:
        _runtime.lease.stop()
        _runtime.close()


def run_worker(app: Celery, factory: Callable[[], WorkerRuntime], argv: list[str]) -> None:
    """Start a Celery worker on ``app`` whose child processes run jobs with ``factory()``."""
    global _factory
    _factory = factory
    signals.worker_init.connect(_on_worker_init, weak=False)
    signals.worker_process_init.connect(_on_process_init, weak=False)
    signals.worker_process_shutdown.connect(_on_process_shutdown, weak=False)
    app.worker_main(["worker", *argv])
