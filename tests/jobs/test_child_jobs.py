"""Embedded jobs in their own process: real child processes over a real SQLite registry.

The handlers below run in the children (the factory is pickled by reference, so they are
module-level functions); the parent sees only what they write to the registry and how their
process ends."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from aedetect.domain import JobStatus, Network, Version, VersionCondition
from aedetect.errors import Cancelled, JobFailed
from aedetect.jobs import EmbeddedJobRunner
from aedetect.jobs.child import OUT_OF_MEMORY, STOPPED, ChildOptions, ChildRuntime, is_out_of_memory
from aedetect.registry import SqlRegistry

MIB = 1024 * 1024
KINDS = ("pid", "hog", "sigkill", "exit3", "segv", "stubborn", "polite", "stoppable", "made_then_killed")

# --- in the children --------------------------------------------------------------------------


def _runtime(url: str) -> ChildRuntime:
    """The child's registry and handlers; ``stop`` sets an event the ``stoppable`` handler reads."""
    registry = SqlRegistry.from_url(url)
    stopping = threading.Event()

    def record_pid(job_id: str) -> None:
        registry.update_job(job_id, {"progress": {"step": 1}, "result": {"pid": os.getpid()}})

    def hog(job_id: str) -> None:
        held = bytearray(512 * MIB)  # over the 64 MiB the tests allow
        registry.update_job(job_id, {"result": {"held": len(held)}})

    def sigkill(job_id: str) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def exit3(job_id: str) -> None:
        os._exit(3)

    def segv(job_id: str) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)

    def stubborn(job_id: str) -> None:
        registry.update_job(job_id, {"result": {"pid": os.getpid()}})
        while True:  # reads neither the cancel flag nor the stop
            time.sleep(0.05)

    def polite(job_id: str) -> None:
        registry.update_job(job_id, {"result": {"pid": os.getpid()}})
        while not registry.cancel_requested(job_id):
            time.sleep(0.05)
        raise Cancelled("cancelled: stopped on request")

    def stoppable(job_id: str) -> None:
        registry.update_job(job_id, {"result": {"pid": os.getpid()}})
        while not stopping.wait(0.05):
            pass
        raise JobFailed("interrupted by the stop")

    def made_then_killed(job_id: str) -> None:  # the model version is made, the job not yet ended
        [run] = [r for r in registry.list_runs("nn1", 1) if r.job_id == job_id]
        registry.finish_run(run.run_id, {"model_path": "m", "metrics": {}}, 0.5, {})
        os.kill(os.getpid(), signal.SIGKILL)

    handlers = {
        "made_then_killed": made_then_killed,
        "pid": record_pid,
        "hog": hog,
        "sigkill": sigkill,
        "exit3": exit3,
        "segv": segv,
        "stubborn": stubborn,
        "polite": polite,
        "stoppable": stoppable,
    }
    return ChildRuntime(registry, handlers, stopping.set, registry.close)


# --- in the parent ----------------------------------------------------------------------------

RunnerFactory = Callable[..., EmbeddedJobRunner]


@pytest.fixture
def registry(sqlite_url: str) -> Iterator[SqlRegistry]:
    registry = SqlRegistry.from_url(sqlite_url)
    yield registry
    registry.close()


@pytest.fixture
def make_runner(registry: SqlRegistry, sqlite_url: str) -> Iterator[RunnerFactory]:
    """Runners whose jobs run in children with a 64 MiB limit; shut down after the test."""
    runners: list[EmbeddedJobRunner] = []

    def build(**options: float) -> EmbeddedJobRunner:
        child = ChildOptions(partial(_runtime, sqlite_url), memory_mb=64, **options)  # type: ignore[arg-type]
        runner = EmbeddedJobRunner(registry, dict.fromkeys(KINDS, print), child=child)
        runners.append(runner)
        return runner

    yield build
    for runner in runners:
        runner.shutdown()


def run_one(registry: SqlRegistry, runner: EmbeddedJobRunner, kind: str, params: dict | None = None) -> str:
    job = registry.create_job(kind, params or {})
    runner.submit(job.job_id, kind)
    runner.wait(job.job_id, timeout=60)
    assert registry.get_job(job.job_id).status.finished
    return job.job_id


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def gone(pid: int) -> bool:
    """Whether no process (not even a zombie) has this id."""
    return not Path(f"/proc/{pid}").exists()


def running_pid(registry: SqlRegistry, job_id: str) -> int:
    """The child's pid, once its handler has recorded it."""
    wait_for(lambda: (registry.get_job(job_id).result or {}).get("pid"), "the child to start")
    return int(registry.get_job(job_id).result["pid"])  # type: ignore[index]


def test_a_job_runs_in_a_process_of_its_own_that_is_reaped(
    registry: SqlRegistry, make_runner: RunnerFactory
) -> None:
    job = registry.get_job(run_one(registry, make_runner(), "pid"))
    assert job.status is JobStatus.SUCCEEDED
    pid = job.result["pid"]  # type: ignore[index]
    assert pid != os.getpid()
    assert job.worker == f"{socket.gethostname()}:{pid}"
    assert job.progress == {"step": 1}  # written by the child, read here through the registry
    assert gone(pid)


def test_a_memory_error_inside_fails_the_job_as_out_of_memory_and_the_runner_goes_on(
    registry: SqlRegistry, make_runner: RunnerFactory
) -> None:
    runner = make_runner()
    job = registry.get_job(run_one(registry, runner, "hog"))
    assert (job.status, job.error) == (JobStatus.FAILED, OUT_OF_MEMORY)
    assert job.result is None
    assert registry.get_job(run_one(registry, runner, "pid")).status is JobStatus.SUCCEEDED


def training(registry: SqlRegistry, kind: str) -> tuple[str, str]:
    """A training job of ``kind`` with its run, the version training: (job id, run id)."""
    registry.create_network(Network(nn_id="nn1"))
    registry.create_version(Version(nn_id="nn1", version=1))
    job = registry.create_job(kind, {"nn_id": "nn1", "version": 1}, model="nn1")
    run = registry.create_run("nn1", 1, {}, job.job_id)
    registry.update_version("nn1", 1, {"condition": VersionCondition.PROGRESS})
    return job.job_id, run.run_id


def test_a_child_killed_with_sigkill_fails_its_training_run_and_version_as_out_of_memory(
    registry: SqlRegistry, make_runner: RunnerFactory
) -> None:
    job_id, run_id = training(registry, "sigkill")
    runner = make_runner()
    runner.submit(job_id, "sigkill")
    runner.wait(job_id, timeout=60)
    failed = registry.get_job(job_id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None and failed.error.startswith(OUT_OF_MEMORY) and "SIGKILL" in failed.error
    after = registry.get_run(run_id)
    assert (after.status, after.error) == (JobStatus.FAILED, failed.error)
    assert after.model_version is None
    assert registry.get_version("nn1", 1).condition is VersionCondition.ERROR


def test_a_child_killed_after_making_its_model_version_leaves_the_job_succeeded_with_it(
    registry: SqlRegistry, make_runner: RunnerFactory
) -> None:
    job_id, run_id = training(registry, "made_then_killed")
    runner = make_runner()
    runner.submit(job_id, "made_then_killed")
    runner.wait(job_id, timeout=60)
    job, run = registry.get_job(job_id), registry.get_run(run_id)
    assert (run.status, run.model_version) == (JobStatus.SUCCEEDED, 1)
    assert (job.status, job.error) == (JobStatus.SUCCEEDED, None)
    assert job.result == {"run_id": run_id, "version": 1}
    assert registry.get_version("nn1", 1).condition is VersionCondition.FINISHED


@pytest.mark.parametrize(("kind", "named"), [("exit3", "exited with code 3"), ("segv", "SIGSEGV")])
def test_a_child_that_dies_otherwise_fails_its_job_naming_how(
    registry: SqlRegistry, make_runner: RunnerFactory, kind: str, named: str
) -> None:
    job = registry.get_job(run_one(registry, make_runner(), kind))
    assert job.status is JobStatus.FAILED
    assert job.error is not None and named in job.error and "out of memory" not in job.error


def test_a_cancel_reaches_the_child_through_the_registry(
    registry: SqlRegistry, make_runner: RunnerFactory
) -> None:
    runner = make_runner()
    job = registry.create_job("polite", {})
    runner.submit(job.job_id, "polite")
    pid = running_pid(registry, job.job_id)
    registry.request_cancel(job.job_id)
    runner.wait(job.job_id, timeout=60)
    done = registry.get_job(job.job_id)
    assert (done.status, done.error) == (JobStatus.CANCELLED, "cancelled: stopped on request")
    assert gone(pid)


def test_a_child_that_ignores_a_cancel_is_ended_after_the_grace_period(
    registry: SqlRegistry, make_runner: RunnerFactory
) -> None:
    runner = make_runner(cancel_grace_s=1.0)
    job = registry.create_job("stubborn", {})
    runner.submit(job.job_id, "stubborn")
    pid = running_pid(registry, job.job_id)
    registry.request_cancel(job.job_id)
    runner.wait(job.job_id, timeout=60)
    done = registry.get_job(job.job_id)
    assert done.status is JobStatus.CANCELLED
    assert done.error is not None and "did not stop within 1 s" in done.error
    assert gone(pid)


def test_shutdown_stops_children_kills_those_that_do_not_stop_and_fails_queued_jobs(
    registry: SqlRegistry, make_runner: RunnerFactory
) -> None:
    runner = make_runner(stop_grace_s=1.0)
    runner_two = make_runner(stop_grace_s=1.0)
    stoppable = registry.create_job("stoppable", {})
    stubborn = registry.create_job("stubborn", {})
    queued = registry.create_job("pid", {})
    runner.submit(stoppable.job_id, "stoppable")
    runner.submit(queued.job_id, "pid")  # waits behind the running one (one job at a time)
    runner_two.submit(stubborn.job_id, "stubborn")
    pids = [running_pid(registry, stoppable.job_id), running_pid(registry, stubborn.job_id)]
    assert runner.pid(stoppable.job_id) == pids[0]
    runner.shutdown()
    runner_two.shutdown()
    assert registry.get_job(stoppable.job_id).error == "interrupted by the stop"  # its own stop
    assert (registry.get_job(stubborn.job_id).status, registry.get_job(stubborn.job_id).error) == (
        JobStatus.FAILED,
        STOPPED,
    )
    assert (registry.get_job(queued.job_id).status, registry.get_job(queued.job_id).error) == (
        JobStatus.FAILED,
        STOPPED,
    )
    assert all(gone(pid) for pid in pids)


def test_a_job_cancelled_while_queued_starts_no_process(
    registry: SqlRegistry, make_runner: RunnerFactory
) -> None:
    runner = make_runner()
    first = registry.create_job("polite", {})
    second = registry.create_job("pid", {})
    runner.submit(first.job_id, "polite")
    runner.submit(second.job_id, "pid")
    running_pid(registry, first.job_id)
    registry.request_cancel(second.job_id)
    registry.request_cancel(first.job_id)
    runner.wait(second.job_id, timeout=60)
    skipped = registry.get_job(second.job_id)
    assert (skipped.status, skipped.worker, skipped.result) == (JobStatus.CANCELLED, None, None)


def test_allocation_failures_are_told_from_other_errors() -> None:
    torch_error = RuntimeError(
        "[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you tried to "
        "allocate 134217728 bytes. Error code 12 (Cannot allocate memory)"
    )
    try:
        try:
            raise torch_error
        except RuntimeError as exc:
            raise JobFailed("internal error during training") from exc
    except JobFailed as wrapped:
        assert is_out_of_memory(wrapped)
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_out_of_memory(ValueError("memory"))
