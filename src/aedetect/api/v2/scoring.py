"""``POST /api/v2/models/{name}/score``: rows as JSON (answered with scores, verdicts and reasons),
a CSV body (answered with the scored CSV, streamed in bounded memory), or a stored dataset (a
scoring job whose result is a downloadable CSV)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from aedetect.api.deps import BatchDep, ModelsDep, ScoringDep
from aedetect.api.uploads import spool_body
from aedetect.api.v2.problems import problem_responses
from aedetect.api.v2.schemas import MAX_VERSION, JobPublic, ModelName, ScoreRequest, ScoreResponse
from aedetect.api.v2.views import job_public
from aedetect.data import iter_csv_chunks
from aedetect.domain import TrainingRun
from aedetect.errors import InvalidInput, UnsupportedMediaType, quoted
from aedetect.services.models import ModelService
from aedetect.services.scoring import ScoringService, current_threshold

router = APIRouter(prefix="/models/{name}", tags=["scoring"])

CSV_CHUNK_ROWS = 20_000
INLINE_ROWS = 64
"""Up to this many rows are scored on the event loop (about a millisecond); more go to a thread."""

SCORE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON rows: one result per row. A text/csv body: the scored CSV.",
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": "src_bytes,anomaly_score\n181,0.8\n"}
        },
    },
    202: {"model": JobPublic, "description": "A `dataset` body: the scoring job, queued."},
}
SCORE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ScoreRequest.model_json_schema()},
            "text/csv": {
                "schema": {"type": "string"},
                "example": "protocol_type,service,src_bytes\ntcp,http,181\n",
            },
        },
    }
}


def _run(models: ModelService, name: str, version: int | None, alias: str | None) -> TrainingRun:
    return models.resolve(name, version, alias)


def _json_rows(run: TrainingRun, body: ScoreRequest, scoring: ScoringService) -> Response:
    """The scored rows, validated against :class:`ScoreResponse` once and serialised directly
    (a large batch would otherwise be converted three times on the way out)."""
    rows = scoring.score_rows(run, body.rows or [], body.top)
    threshold = rows[0]["threshold"] if rows else current_threshold(run, scoring.detector(run))
    answer = ScoreResponse.model_validate(
        {"model": run.nn_id, "version": run.model_version, "threshold": threshold, "rows": rows}
    )
    return Response(answer.model_dump_json(), media_type="application/json")


def _csv_stream(run: TrainingRun, path: Path, top: int, scoring: ScoringService) -> Iterator[str]:
    """The scored CSV, chunk by chunk; the first chunk is read (and so checked) before the response starts."""
    threshold = current_threshold(run, scoring.detector(run))
    chunks = iter_csv_chunks(path, chunk_rows=CSV_CHUNK_ROWS)
    first = next(chunks, None)
    if first is None:
        raise InvalidInput("the CSV body holds no data rows below its header", field="body")
    head = scoring.scored_csv_chunk(run, first, top, threshold).to_csv(index=False)

    def rest() -> Iterator[str]:
        try:
            yield head
            for chunk in chunks:
                yield scoring.scored_csv_chunk(run, chunk, top, threshold).to_csv(index=False, header=False)
        finally:
            path.unlink(missing_ok=True)

    return rest()


@router.post(
    "/score",
    summary="Score rows (JSON), a CSV body (answers the scored CSV) or a stored dataset (answers a job)",
    response_model=ScoreResponse,
    openapi_extra=SCORE_BODY,
    responses={**SCORE_DOC, **problem_responses(400, 404, 409, 413, 415)},
)
async def score(
    name: ModelName,
    request: Request,
    models: ModelsDep,
    scoring: ScoringDep,
    batch: BatchDep,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_VERSION, description="Model version to use.", examples=[3])
    ] = None,
    alias: Annotated[
        str | None, Query(description="Alias to use (default production).", examples=["production"])
    ] = None,
    top: Annotated[
        int, Query(ge=0, le=1000, description="Top columns per row in a CSV answer.", examples=[3])
    ] = 3,
) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "text/csv":
        run = await run_in_threadpool(_run, models, name, version, alias)
        body = await spool_body(request, request.app.state.container.settings.max_upload_bytes)
        with body, tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as copy:
            copy.write(body.read())
        try:
            stream = await run_in_threadpool(_csv_stream, run, Path(copy.name), top, scoring)
        except BaseException:
            Path(copy.name).unlink(missing_ok=True)
            raise
        return StreamingResponse(stream, media_type="text/csv")
    if content_type not in ("application/json", ""):
        raise UnsupportedMediaType(
            f"content type {quoted(content_type)} is not taken here: send JSON rows or a text/csv body",
            field="body",
        )
    parsed = ScoreRequest.model_validate_json(await request.body() or b"null")  # errors: 422 problem
    if parsed.dataset is not None:
        run = await run_in_threadpool(_run, models, name, version, alias)
        job = await run_in_threadpool(batch.start, run, parsed.dataset, parsed.top)
        return JSONResponse(job_public(job).model_dump(mode="json"), status_code=202)
    if len(parsed.rows or []) <= INLINE_ROWS:
        return _json_rows(_run(models, name, version, alias), parsed, scoring)
    run = await run_in_threadpool(_run, models, name, version, alias)
    return await run_in_threadpool(_json_rows, run, parsed, scoring)
