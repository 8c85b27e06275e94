"""The embedded job runner over a real registry: life cycle, failures, waiting, start-up recovery."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from aedetect.domain import JobStatus, Network, Version
from aedetect.errors import Conflict, InvalidInput, NotFound
from aedetect.jobs import EmbeddedJobRunner, JobHandler
from aedetect.registry import SqlRegistry

RunnerFactory = Callable[..., EmbeddedJobRunner]


@pytest.fixture
def make_runner(registry: SqlRegistry) -> Iterator[RunnerFactory]:
    """Builds runners on the test registry and shuts each down after the test."""
    runners: list[EmbeddedJobRunner] = []

    def build(handlers: dict[str, JobHandler], max_workers: int = 1) -> EmbeddedJobRunner:
        runner = EmbeddedJobRunner(registry, handlers, max_workers=max_workers)
        runners.append(runner)
        return runner

    yield build
    for runner in runners:
        runner.shutdown()


def run_one(registry: SqlRegistry, runner: EmbeddedJobRunner, kind: str = "train") -> str:
    job = registry.create_job(kind, {})
    runner.submit(job.job_id, kind)
    runner.wait(job.job_id, timeout=30)
    return job.job_id


def test_successful_job_is_recorded_succeeded_with_times(
    registry: SqlRegistry, make_runner: RunnerFactory
) -> None:
    runner = make_runner({"train": lambda job_id: None})
    job = registry.get_job(run_one(registry, runner))
    assert job.status is JobStatus.SUCCEEDED
    assert job.error is None
    assert job.started_at is not None and job.finished_at is not None
    assert job.started_at <= job.finished_at


def test_handler_runs_with_job_already_running(registry: SqlRegistry, make_runner: RunnerFactory) -> None:
    seen: list[tuple[JobStatus, bool]] = []

    def handler(job_id: str) -> None:
        job = registry.get_job(job_id)
        seen.append((job.status, job.started_at is not None))

    run_one(registry, make_runner({"train": handler}))
    assert seen == [(JobStatus.RUNNING, True)]


def test_final_status_written_by_handler_is_kept(registry: SqlRegistry, make_runner: RunnerFactory) -> None:
    def handler(job_id: str) -> None:
        registry.update_job(job_id, {"status": JobStatus.FAILED, "error": "no rows to train on"})

    job = registry.get_job(run_one(registry, make_runner({"train": handler})))
    assert (job.status, job.error) == (JobStatus.FAILED, "no rows to train on")


def test_domain_error_is_recorded_with_its_message(registry: SqlRegistry, make_runner: RunnerFactory) -> None:
    def handler(job_id: str) -> None:
        raise InvalidInput("column 'amount' is missing", field="amount")

    job = registry.get_job(run_one(registry, make_runner({"train": handler})))
    assert job.status is JobStatus.FAILED
    assert job.error == "column 'amount' is missing"
    assert job.finished_at is not None


def test_other_error_is_recorded_with_its_type(registry: SqlRegistry, make_runner: RunnerFactory) -> None:
    def handler(job_id: str) -> None:
        raise ZeroDivisionError("division by zero")

    job = registry.get_job(run_one(registry, make_runner({"train": handler})))
    assert (job.status, job.error) == (JobStatus.FAILED, "ZeroDivisionError: division by zero")


def test_failure_is_logged_with_traceback(
    registry: SqlRegistry, make_runner: RunnerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(job_id: str) -> None:
        raise RuntimeError("disk full")

    with caplog.at_level(logging.ERROR, logger="aedetect.jobs"):
        job_id = run_one(registry, make_runner({"train": handler}))
    records = [r for r in caplog.records if job_id in r.getMessage()]
    assert len(records) == 1
    assert records[0].exc_info is not None and isinstance(records[0].exc_info[1], RuntimeError)


def test_exit_from_handler_is_recorded(registry: SqlRegistry, make_runner: RunnerFactory) -> None:
    def handler(job_id: str) -> None:
        raise SystemExit("worker told to stop")

    job = registry.get_job(run_one(registry, make_runner({"train": handler})))
    assert (job.status, job.error) == (JobStatus.FAILED, "SystemExit: worker told to stop")


def test_job_missing_from_registry_is_logged_and_not_run(
    make_runner: RunnerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    called: list[str] = []
    runner = make_runner({"train": called.append})
    with caplog.at_level(logging.ERROR, logger="aedetect.jobs"):
        runner.submit("ghost", "train")
        runner.shutdown()
    assert called == []
    messages = [r.getMessage() for r in caplog.records]
    assert "job ghost (train) failed" in messages
    assert "could not record the end of job ghost (failed)" in messages


def test_unknown_kind_is_refused_at_submit(registry: SqlRegistry, make_runner: RunnerFactory) -> None:
    runner = make_runner({"train": lambda job_id: None})
    job = registry.create_job("evaluate", {})
    with pytest.raises(InvalidInput, match="unknown job kind 'evaluate' \\(known: train\\)"):
        runner.submit(job.job_id, "evaluate")
    assert registry.get_job(job.job_id).status is JobStatus.QUEUED


def test_wait_timeout_returns_while_job_still_runs(registry: SqlRegistry, make_runner: RunnerFactory) -> None:
    release = threading.Event()
    runner = make_runner({"train": lambda job_id: release.wait(30)})
    job = registry.create_job("train", {})
    runner.submit(job.job_id, "train")
    runner.wait(job.job_id, timeout=0.05)
    assert not registry.get_job(job.job_id).status.finished
    release.set()
    runner.wait(job.job_id, timeout=30)
    assert registry.get_job(job.job_id).status is JobStatus.SUCCEEDED


def test_wait_for_unknown_job_is_not_found(make_runner: RunnerFactory) -> None:
    runner = make_runner({"train": lambda job_id: None})
    with pytest.raises(NotFound, match="job 'nope' not found"):
        runner.wait("nope", timeout=1)


def test_wait_for_finished_job_returns_at_once(registry: SqlRegistry, make_runner: RunnerFactory) -> None:
    job_id = run_one(registry, make_runner({"train": lambda job_id: None}))
    other = make_runner({"train": lambda job_id: None})
    other.wait(job_id, timeout=1)
    assert registry.get_job(job_id).status is JobStatus.SUCCEEDED


def test_wait_for_job_never_submitted_here_conflicts(
    registry: SqlRegistry, make_runner: RunnerFactory
) -> None:
    runner = make_runner({"train": lambda job_id: None})
    job = registry.create_job("train", {})
    with pytest.raises(Conflict, match=f"job '{job.job_id}' is queued but was not submitted"):
        runner.wait(job.job_id, timeout=1)


def test_submitting_the_same_job_twice_conflicts(registry: SqlRegistry, make_runner: RunnerFactory) -> None:
    release = threading.Event()
    runner = make_runner({"train": lambda job_id: release.wait(30)})
    job = registry.create_job("train", {})
    runner.submit(job.job_id, "train")
    try:
        with pytest.raises(Conflict, match="already submitted"):
            runner.submit(job.job_id, "train")
    finally:
        release.set()


def test_shutdown_finishes_queued_jobs_then_refuses_new_ones(registry: SqlRegistry) -> None:
    runner = EmbeddedJobRunner(registry, {"train": lambda job_id: None}, max_workers=1)
    jobs = [registry.create_job("train", {}).job_id for _ in range(3)]
    for job_id in jobs:
        runner.submit(job_id, "train")
    runner.shutdown()
    assert [registry.get_job(j).status for j in jobs] == [JobStatus.SUCCEEDED] * 3
    late = registry.create_job("train", {})
    with pytest.raises(Conflict, match="shut down"):
        runner.submit(late.job_id, "train")


def test_workers_run_jobs_concurrently(registry: SqlRegistry, make_runner: RunnerFactory) -> None:
    both_running = threading.Barrier(2, timeout=30)
    runner = make_runner({"train": lambda job_id: both_running.wait()}, max_workers=2)
    jobs = [registry.create_job("train", {}).job_id for _ in range(2)]
    for job_id in jobs:
        runner.submit(job_id, "train")
    for job_id in jobs:
        runner.wait(job_id, timeout=60)
    assert [registry.get_job(j).status for j in jobs] == [JobStatus.SUCCEEDED] * 2


def test_max_workers_below_one_is_invalid(registry: SqlRegistry) -> None:
    with pytest.raises(InvalidInput, match="max_workers must be at least 1"):
        EmbeddedJobRunner(registry, {}, max_workers=0)


def test_restart_marks_jobs_and_runs_left_running_failed(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    registry.create_version(Version(nn_id="nn1", version=1))
    job = registry.create_job("train", {"nn_id": "nn1", "version": 1})
    run = registry.create_run("nn1", 1, {}, job.job_id)
    registry.update_job(job.job_id, {"status": JobStatus.RUNNING})
    registry.update_run(run.run_id, {"status": JobStatus.RUNNING})
    # The process dies here; a new one opens the same database and recovers at start-up.
    restarted = SqlRegistry.from_url(registry.engine.url.render_as_string(hide_password=False))
    try:
        assert restarted.fail_interrupted("interrupted by a server restart") == 1
        recovered_job, recovered_run = restarted.get_job(job.job_id), restarted.get_run(run.run_id)
    finally:
        restarted.close()
    assert (recovered_job.status, recovered_job.error) == (
        JobStatus.FAILED,
        "interrupted by a server restart",
    )
    assert (recovered_run.status, recovered_run.error) == (
        JobStatus.FAILED,
        "interrupted by a server restart",
    )
    assert recovered_job.finished_at is not None and recovered_run.finished_at is not None
