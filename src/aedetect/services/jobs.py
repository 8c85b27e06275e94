"""Following, waiting for and cancelling jobs through the registry, so that it works from any
process: a request that waits polls the job row asynchronously and holds no worker thread."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
from anyio import to_thread

from aedetect.domain import Job, JobStatus
from aedetect.errors import Conflict, InvalidInput, NotFound
from aedetect.registry.base import Registry
from aedetect.services.paths import DataPaths, check_job_id, check_nn_id
from aedetect.storage import ArtifactStore

JOB_POLL_S = 0.25
"""How often a waiting request or an event stream reads the job row."""

MAX_WAIT_S = 60.0
"""Longest a single ``wait`` may hold a request open."""

MAX_PAGE = 500


async def wait_for_job(
    registry: Registry,
    job_id: str,
    timeout: float | None = None,
    poll: float = JOB_POLL_S,
    abandoned: Callable[[], Awaitable[bool]] | None = None,
) -> Job:
    """The job once it has finished, or as it is when ``timeout`` seconds have passed or
    ``abandoned`` says the waiter has gone (checked at every poll)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = await to_thread.run_sync(registry.get_job, job_id)
        if job.status.finished or (deadline is not None and time.monotonic() >= deadline):
            return job
        if abandoned is not None and await abandoned():
            return job
        await anyio.sleep(poll)


def check_not_expired(job: Job) -> None:
    """``NotFound`` when the result file of scoring job ``job`` was removed by the retention."""
    if isinstance(job.result, dict) and job.result.get("expired"):
        raise NotFound(
            f"the result file of job {job.job_id} was removed by the retention of finished jobs' "
            "results (AEDETECT_JOB_RESULT_RETENTION_DAYS): score the dataset again",
            field="job_id",
        )


class JobService:
    """Jobs as the native API shows them."""

    def __init__(self, registry: Registry, paths: DataPaths, store: ArtifactStore) -> None:
        self._registry = registry
        self._paths = paths
        self._store = store

    def get(self, job_id: str) -> Job:
        """The job, or ``NotFound``."""
        return self._registry.get_job(check_job_id(job_id))

    def page(
        self, model: str | None, status: JobStatus | None, cursor: str | None, limit: int
    ) -> tuple[list[Job], str | None]:
        """Jobs newest first, filtered by model and status, and the cursor of the next page."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be from 1 to {MAX_PAGE}, got {limit}", field="limit")
        if model is not None:
            check_nn_id(model)
        if cursor is not None:
            check_job_id(cursor)
        jobs = self._registry.list_jobs(
            None if status is None else [status], model=model, before=cursor, limit=limit + 1
        )
        following = jobs[limit - 1].job_id if len(jobs) > limit else None
        return jobs[:limit], following

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once; a running one within a second (before its next batch)."""
        return self._registry.request_cancel(check_job_id(job_id))

    async def wait(self, job_id: str, seconds: float) -> Job:
        """The job when it has finished, or after ``seconds`` (at most :data:`MAX_WAIT_S`)."""
        if not 0 <= seconds <= MAX_WAIT_S:
            raise InvalidInput(
                f"wait must be from 0 to {MAX_WAIT_S:g} seconds, got {seconds:g}", field="wait"
            )
        check_job_id(job_id)
        return await wait_for_job(self._registry, job_id, seconds)

    async def changes(self, job_id: str) -> AsyncIterator[Job]:
        """The job now, then each time its status or progress changes, ending once it has finished."""
        last = None
        job = await to_thread.run_sync(self.get, job_id)
        while True:
            state = (job.status, job.progress)
            if state != last:
                last = state
                yield job
            if job.status.finished:
                return
            await anyio.sleep(JOB_POLL_S)
            job = await to_thread.run_sync(self._registry.get_job, job_id)

    def result_file(self, job_id: str) -> Path:
        """A local copy of the CSV a succeeded scoring job wrote; ``Conflict`` while it is not there."""
        job = self.get(job_id)
        if not isinstance(job.result, dict) or "rows" not in job.result:
            raise Conflict(
                f"job {job_id} ({job.kind}, {job.status.value}) has no result file: only a succeeded "
                "scoring job has one",
                field="job_id",
            )
        check_not_expired(job)
        return self._store.local_file(self._paths.job_result(job_id))
