"""``/api/v2/jobs``: list and filter jobs, follow one (long-poll with ``wait``, or Server-Sent
Events), cancel it, download a scoring job's CSV. Everything reads the job row in the registry, so
it works whichever process runs the job; waiting never holds a worker thread."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sse_starlette import EventSourceResponse

from aedetect.api.deps import BatchDep, JobsDep
from aedetect.api.v2.problems import problem_responses
from aedetect.api.v2.schemas import ExplainedRow, JobId, JobList, JobPublic, JobRows, JobStatusName
from aedetect.api.v2.views import job_public
from aedetect.domain import JobStatus
from aedetect.services.paths import JOB_ID_PATTERN, NN_ID_PATTERN, schema_pattern

router = APIRouter(prefix="/jobs", tags=["jobs"])

PING_S = 15

EVENTS_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One `progress` event with the job (same JSON as GET /api/v2/jobs/{id}) each time "
        "its status or progress changes, then an `end` event once it has finished.",
        "content": {
            "text/event-stream": {
                "schema": {"type": "string"},
                "example": 'event: progress\ndata: {"id": "5f0c...", "status": "running", '
                '"progress": {"epoch": 3, "max_epochs": 30}}\n\n',
            }
        },
    }
}
RESULT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The dataset's rows with anomaly_score, is_anomaly and top_columns added.",
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": "src_bytes,anomaly_score\n181,0.8\n"}
        },
    }
}


@router.get(
    "",
    summary="List jobs, newest first, filtered by model and status",
    responses=problem_responses(400, 404),  # 404: a cursor that names no job
)
def list_jobs(
    jobs: JobsDep,
    model: Annotated[
        str | None,
        Query(
            description="Only this model's jobs.",
            examples=["plant-7"],
            json_schema_extra=schema_pattern(NN_ID_PATTERN),
        ),
    ] = None,
    status: Annotated[
        JobStatusName | None, Query(description="Only jobs in this status.", examples=["running"])
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            description="The 'next' value of the previous page.",
            json_schema_extra=schema_pattern(JOB_ID_PATTERN),
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Jobs per page.", examples=[50])] = 100,
) -> JobList:
    items, following = jobs.page(model, None if status is None else JobStatus(status), cursor, limit)
    return JobList(items=[job_public(j) for j in items], next=following)


@router.get(
    "/{job_id}",
    summary="A job: status, progress, the version it made or the error",
    responses=problem_responses(400, 404),
)
async def get_job(
    job_id: JobId,
    jobs: JobsDep,
    wait: Annotated[
        float,
        Query(
            ge=0, le=60, description="Seconds to wait for the job to finish first (long poll).", examples=[30]
        ),
    ] = 0,
) -> JobPublic:
    job = await jobs.wait(job_id, wait) if wait else await run_in_threadpool(jobs.get, job_id)
    return job_public(job)


@router.get(
    "/{job_id}/events",
    summary="Server-Sent Events: the job's progress while it runs",
    response_class=EventSourceResponse,
    responses={**EVENTS_DOC, **problem_responses(400, 404)},
)
async def job_events(job_id: JobId, jobs: JobsDep) -> EventSourceResponse:
    first = await run_in_threadpool(jobs.get, job_id)  # an unknown id is a 404 before the stream starts

    async def events() -> AsyncIterator[dict[str, str]]:
        async for job in jobs.changes(first.job_id):
            data = job_public(job).model_dump_json()
            yield {"event": "progress", "data": data}
            if job.status.finished:
                yield {"event": "end", "data": json.dumps({"status": job.status.value})}

    return EventSourceResponse(events(), ping=PING_S)


@router.post(
    "/{job_id}/cancel",
    summary="Cancel a job: a queued one at once, a running one within a second",
    responses=problem_responses(400, 404, 409),
)
def cancel_job(job_id: JobId, jobs: JobsDep) -> JobPublic:
    return job_public(jobs.cancel(job_id))


@router.get(
    "/{job_id}/result",
    summary="Download the CSV a scoring job wrote",
    description="The scored rows with their values: needs a writer's key (raw row values; README: Access).",
    response_class=FileResponse,
    responses={**RESULT_DOC, **problem_responses(400, 404, 409)},
)
def job_result(job_id: JobId, jobs: JobsDep) -> FileResponse:
    return FileResponse(jobs.result_file(job_id), media_type="text/csv", filename=f"scored-{job_id}.csv")


@router.get(
    "/{job_id}/rows",
    summary="The highest-scoring rows of a scoring job, each with every column's part of its score",
    description="The rows with their values: needs a writer's key (raw row values; README: Access).",
    responses=problem_responses(400, 404, 409),
)
def job_rows(
    job_id: JobId,
    batch: BatchDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many rows.", examples=[100])] = 100,
) -> JobRows:
    job, rows = batch.top_rows(job_id, limit)
    result = job.result or {}
    return JobRows(
        job=job.job_id,
        model=job.model or "",
        version=result.get("version"),
        threshold=result["threshold"],
        rows=result["rows"],
        anomalies=result["anomalies"],
        items=[ExplainedRow(**r) for r in rows],
        next=None,
    )
