"""One embedded job in its own process, so that a job that runs out of memory (or crashes) ends
alone and the server keeps serving.

Processes come from multiprocessing's ``forkserver``: a helper process, started from a fresh
interpreter at the first job, imports the libraries once (:attr:`ChildOptions.preload`) and forks
a child per job. A child so inherits no threads, locks, database connections or PyTorch state of
the threaded server (``fork`` from a threaded process can deadlock), and starts in milliseconds,
where ``spawn`` spends seconds of CPU per job importing PyTorch and pandas again (measured: the
v2 flow tests, with a batch scoring job per test, took five times as long). The price is the
helper's memory, about 230 MB of its own while no job runs. Where there is no forkserver
(Windows), ``spawn`` is used.

The child builds its services from the server's settings, limits its own address space
(``RLIMIT_AS``) to what it holds after its imports plus ``AEDETECT_TRAIN_MEMORY_MB``, and runs the
job through :func:`aedetect.jobs.lifecycle.execute_job`, as a Celery worker does: it claims the
job (recording ``host:pid`` as the job's worker), writes progress to the registry, which the job
view and event stream read, and reads the job's cancel flag there. The parent only watches: it
ends a child that has not stopped within a grace period after a cancel or at shutdown, reaps it,
and records how a child that died without recording its job's end ended (out of memory for a
``MemoryError`` inside or a ``SIGKILL``, as the kernel's OOM killer sends, else the exit code or
signal), for the job, its training run and the run's version alike. A child dies with the
server (``PR_SET_PDEATHSIG`` on Linux), so a killed server leaves no job running unwatched.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aedetect.domain import Job, JobStatus, TrainingRun, VersionCondition
from aedetect.errors import Cancelled, JobFailed, NotFound
from aedetect.jobs.base import JobHandler
from aedetect.jobs.lifecycle import execute_job

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from aedetect.registry.base import Registry

logger = logging.getLogger(__name__)

MEMORY_SETTING = "AEDETECT_TRAIN_MEMORY_MB"

OUT_OF_MEMORY = f"out of memory: raise {MEMORY_SETTING} or use fewer columns/categories"
"""What a job that ran out of memory records."""

STOPPED = "interrupted: the service stopped while this job ran; run it again"
"""What a job ended by the server's shutdown records (when it did not record its own end)."""

OOM_EXIT = 75
"""Exit code of a child whose job ended out of memory (its end is recorded already)."""

JOB_NICENESS = 10
"""How much lower than the server a job runs (Linux ``nice`` of its process, or of its thread
where it runs on one), so that on a busy machine requests go first."""

MIB = 1024 * 1024
MEMORY_WORDS = ("can't allocate memory", "cannot allocate memory", "not enough memory", "bad_alloc")
"""Fragments of the errors C++ libraries (PyTorch's allocator) raise instead of ``MemoryError``."""


@dataclass
class ChildRuntime:
    """What a job process runs its job with, built inside it after it starts."""

    registry: Registry
    handlers: dict[str, JobHandler]
    stop: Callable[[], None]
    """Asked on SIGTERM/SIGINT: end the job early (a training stops before its next batch)."""
    close: Callable[[], None]


RuntimeFactory = Callable[[], ChildRuntime]
"""Builds the runtime in the child; must pickle (a module-level function, or a
``functools.partial`` of one with picklable arguments such as the settings)."""


@dataclass(frozen=True)
class ChildOptions:
    """How the embedded runner runs each job in its own process."""

    factory: RuntimeFactory
    memory_mb: int = 0
    """Address space the job may add after its imports, in MiB; 0: no limit."""
    cancel_grace_s: float = 10.0
    """How long a child may run on after its job was cancelled before it is killed."""
    stop_grace_s: float = 10.0
    """How long a child may run on after SIGTERM at shutdown before it is killed."""
    preload: tuple[str, ...] = ()
    """Modules the forkserver imports once, so that children start with them loaded."""


def worker_name() -> str:
    """This process as a job's ``worker``: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


# --- in the child ---------------------------------------------------------------------------


def run_child(factory: RuntimeFactory, job_id: str, kind: str, memory_mb: int, server_pid: int) -> None:
    """The job process's body: prepare the process, build the runtime, run the job; exits with
    :data:`OOM_EXIT` when the job ran out of memory."""
    _die_with_parent(server_pid)
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, 0, JOB_NICENESS)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s %(levelname)s [job {job_id} pid %(process)d] %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    runtime = factory()
    out_of_memory = [False]
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: runtime.stop())
        limit_memory(memory_mb)
        handler = _guarded(runtime.registry, runtime.handlers[kind], out_of_memory)
        execute_job(runtime.registry, handler, job_id, kind, worker=worker_name())
    finally:
        runtime.close()
    if out_of_memory[0]:
        sys.exit(OOM_EXIT)


def _die_with_parent(server_pid: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux; the forkserver, which
    exits with the server), so no job runs on unwatched after a crash; exit at once if the
    parent or the server is gone already."""
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    try:
        os.kill(server_pid, 0)
    except ProcessLookupError:
        os._exit(1)
    except OSError:
        pass  # alive, under another user
    if os.getppid() != parent:
        os._exit(1)
    _release_forkserver()


def _release_forkserver() -> None:
    """Close this child's copy of the write end of the forkserver's liveness pipe, which
    multiprocessing hands every child it forks: while any child holds it the forkserver outlives a
    killed server, and so the children, whose parent it is, would too."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(fd, int):
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


def start_process(options: ChildOptions, job_id: str, kind: str) -> BaseProcess:
    """Start the process of one job (see the module for the start method)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context: Any = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(options.preload))
    else:
        context = multiprocessing.get_context("spawn")
    process: BaseProcess = context.Process(
        target=run_child,
        args=(options.factory, job_id, kind, options.memory_mb, os.getpid()),
        name=f"aedetect-job-{job_id}",
    )
    process.start()
    return process


def address_space() -> int | None:
    """This process's address space in bytes (``VmSize``), or ``None`` where /proc lacks it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def limit_memory(memory_mb: int) -> None:
    """Cap the address space at what the process holds now plus ``memory_mb`` MiB (``RLIMIT_AS``;
    0: no cap). Counting from now leaves out the libraries' own reservations, which differ by
    machine and are mostly never touched, so the setting is what the job itself may allocate."""
    if memory_mb <= 0:
        return
    try:
        import resource
    except ImportError:  # not a POSIX system
        logger.warning("%s is not applied: this system has no resource limits", MEMORY_SETTING)
        return
    now = address_space()
    if now is None:
        logger.warning("%s is not applied: the process's address space cannot be read", MEMORY_SETTING)
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = now + memory_mb * MIB
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` or an exception it was raised from or during is an allocation failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MemoryError):
            return True
        if isinstance(current, RuntimeError) and any(w in str(current).lower() for w in MEMORY_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


def _guarded(registry: Registry, handler: JobHandler, out_of_memory: list[bool]) -> JobHandler:
    """``handler``, with an allocation failure turned into the out-of-memory failure (on the job
    and on its training run, which the handler recorded as an internal error)."""

    def run(job_id: str) -> None:
        try:
            handler(job_id)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            out_of_memory[0] = True
            settle_run(registry, registry.get_job(job_id), JobStatus.FAILED, OUT_OF_MEMORY, replace=True)
            raise JobFailed(OUT_OF_MEMORY) from exc

    return run


# --- in the parent --------------------------------------------------------------------------


def exit_reason(exitcode: int | None) -> tuple[JobStatus, str]:
    """The status and message a job gets when its process ended with ``exitcode`` before
    recording the job's end (a negative code is the signal that ended it)."""
    if exitcode == OOM_EXIT:
        return JobStatus.FAILED, OUT_OF_MEMORY
    if exitcode == -signal.SIGKILL:
        return JobStatus.FAILED, (
            f"{OUT_OF_MEMORY} (its process was killed with SIGKILL, as the system does when memory runs out)"
        )
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return JobStatus.FAILED, f"the job's process was killed by {name}; run the job again"
    return JobStatus.FAILED, (
        f"the job's process exited with code {exitcode} before the job ended; the server log has its output"
    )


def settle(registry: Registry, job_id: str, status: JobStatus, message: str) -> None:
    """Record the end of a job whose process ended without recording it: the job, its training
    run and the run's version agree afterwards. A run that succeeded before the process died
    makes the job succeed with it."""
    job = registry.get_job(job_id)
    if job.status.finished:
        return
    run = training_run(registry, job)
    if run is not None and run.status is JobStatus.SUCCEEDED:
        registry.update_job(job_id, {"result": {"run_id": run.run_id, "version": run.model_version}})
        _set_condition(registry, run, VersionCondition.FINISHED)
        registry.finish_job(job_id, JobStatus.SUCCEEDED)
        return
    settle_run(registry, job, status, message)
    registry.finish_job(job_id, status, message)


def training_run(registry: Registry, job: Job) -> TrainingRun | None:
    """The training run ``job`` drives, or ``None`` (another kind of job, or a deleted model)."""
    nn_id, version = job.params.get("nn_id"), job.params.get("version")
    if not isinstance(nn_id, str) or not isinstance(version, int | str):
        return None
    try:
        version = int(version)
        return next((r for r in registry.list_runs(nn_id, version) if r.job_id == job.job_id), None)
    except (NotFound, ValueError):
        return None


def settle_run(
    registry: Registry, job: Job, status: JobStatus, message: str, *, replace: bool = False
) -> None:
    """Give the job's unfinished training run (with ``replace``, also its failed one) ``status``
    and ``message``; a version left training goes to ERROR (after a failure) or back to FINISHED
    or PENDING (after a cancel, as it serves or not)."""
    run = training_run(registry, job)
    if run is None or (run.status.finished and not (replace and run.status is JobStatus.FAILED)):
        return
    code = Cancelled.code if status is JobStatus.CANCELLED else JobFailed.code
    fields: dict[str, Any] = {"status": status, "error": message, "metrics": {"error_code": code}}
    if not run.status.finished:
        fields["finished_at"] = datetime.now(UTC)
    try:
        registry.update_run(run.run_id, fields)
        if status is JobStatus.CANCELLED:
            serving = registry.get_active_run(run.nn_id, run.network_version) is not None
            after = VersionCondition.FINISHED if serving else VersionCondition.PENDING
        else:
            after = VersionCondition.ERROR
        _set_condition(registry, run, after)
    except NotFound:
        logger.warning("job %s ended after its model was deleted: %s", job.job_id, message)


def _set_condition(registry: Registry, run: TrainingRun, condition: VersionCondition) -> None:
    """Move the run's version out of PROGRESS (a version in any other condition is left as it is)."""
    if registry.get_version(run.nn_id, run.network_version).condition is VersionCondition.PROGRESS:
        registry.update_version(run.nn_id, run.network_version, {"condition": condition})
