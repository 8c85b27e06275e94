"""Per-role write bounds, in process over a real SQLite registry and a local artifact directory:
scoring jobs queue within bounds overall and per key, finished jobs' result files and audit
entries are removed after their retention, and the periodic clean-up runs both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aedetect.bootstrap import Container, build_services
from aedetect.config import Settings
from aedetect.domain import JobStatus, Role, TrainingRun
from aedetect.errors import NotFitted, NotFound, TooManyRequests
from aedetect.services.batch import REQUESTER, SCORE_JOB
from aedetect.services.housekeeping import Housekeeping

UNTRAINED = TrainingRun(run_id="m_1_1", nn_id="m", network_version=1, seq=1)
"""A run without a model: a job for it passes the queue check, then fails on the missing model."""


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    settings = Settings(
        data_dir=tmp_path / "data", max_score_jobs=3, max_score_jobs_per_key=1, audit_retention_days=30
    )
    built = build_services(settings)
    yield built
    built.close()


def queued_score_job(container: Container, requester: str | None) -> str:
    params: dict[str, object] = {"nn_id": "m", "model_version": 1, "dataset": "ds_x", "top": 3}
    if requester is not None:
        params[REQUESTER] = requester
    return container.registry.create_job(SCORE_JOB, params, model=None).job_id


def test_a_key_with_a_scoring_job_waiting_is_refused_a_second_with_retry_after(container: Container) -> None:
    queued_score_job(container, "key1")
    with pytest.raises(TooManyRequests) as refused:
        container.batch.start(UNTRAINED, "ds_x", 3, "key1")
    assert "AEDETECT_MAX_SCORE_JOBS_PER_KEY" in str(refused.value)
    assert refused.value.retry_after > 0


def test_scoring_jobs_are_bounded_over_all_keys(container: Container) -> None:
    for key in ("key1", "key2", "key3"):
        queued_score_job(container, key)
    with pytest.raises(TooManyRequests) as refused:
        container.batch.start(UNTRAINED, "ds_x", 3, "key4")
    assert "AEDETECT_MAX_SCORE_JOBS)" in str(refused.value)
    assert container.registry.count_jobs([JobStatus.QUEUED], SCORE_JOB) == 3


def test_finished_jobs_no_longer_count_against_the_queue(container: Container) -> None:
    job_id = queued_score_job(container, "key1")
    container.registry.finish_job(job_id, JobStatus.FAILED, "boom")
    with pytest.raises(NotFitted):  # passes the queue check, then finds the run has no model
        container.batch.start(UNTRAINED, "ds_x", 3, "key1")


def finished_with_result(container: Container) -> str:
    job_id = queued_score_job(container, "key1")
    key = container.paths.job_result(job_id)
    with container.store.writing_file(key) as temp:
        temp.write_text("anomaly_score\n1.0\n", encoding="utf-8")
    container.registry.update_job(job_id, {"result": {"rows": 1, "anomalies": 0, "threshold": 2.0}})
    container.registry.start_job(job_id)
    container.registry.finish_job(job_id, JobStatus.SUCCEEDED)
    return job_id


def test_a_result_file_is_kept_within_its_retention(container: Container) -> None:
    job_id = finished_with_result(container)
    assert container.batch.expire_results(datetime.now(UTC) + timedelta(days=6)) == 0
    assert container.jobs.result_file(job_id).read_text(encoding="utf-8").startswith("anomaly_score")


def test_a_result_file_past_its_retention_is_removed_and_says_so(container: Container) -> None:
    job_id = finished_with_result(container)
    assert container.batch.expire_results(datetime.now(UTC) + timedelta(days=8)) == 1
    assert not container.store.exists(container.paths.job_result(job_id))
    job = container.registry.get_job(job_id)
    assert job.result["expired"] is True and job.result["rows"] == 1
    with pytest.raises(NotFound) as gone:
        container.jobs.result_file(job_id)
    assert "AEDETECT_JOB_RESULT_RETENTION_DAYS" in str(gone.value)
    with pytest.raises(NotFound):
        container.batch.top_rows(job_id, 10)
    assert container.batch.expire_results(datetime.now(UTC) + timedelta(days=9)) == 0  # once only


def test_audit_entries_past_their_retention_are_removed(container: Container) -> None:
    key, _ = container.access.create_key(Role.ADMIN, "ops")
    container.access.record(key, "POST", "/api/v2/models", 201, "127.0.0.1")
    assert len(container.access.audit()) == 1
    assert container.access.prune_audit(30, now=datetime.now(UTC) + timedelta(days=29)) == 0
    assert container.access.prune_audit(30, now=datetime.now(UTC) + timedelta(days=31)) == 1
    assert container.access.audit() == []


def test_housekeeping_runs_every_task_even_when_one_fails() -> None:
    ran: list[str] = []

    def failing() -> int:
        raise RuntimeError("registry down")

    def counting() -> int:
        ran.append("counted")
        return 2

    keeper = Housekeeping([("failing", failing), ("counting", counting)])
    assert keeper.run_once() == {"counting": 2}
    assert ran == ["counted"]


def test_only_the_serving_process_runs_the_housekeeping(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    server, job_process = build_services(settings), build_services(settings, recover=False)
    try:
        assert server.housekeeping.running and not job_process.housekeeping.running
    finally:
        job_process.close()
        server.close()
