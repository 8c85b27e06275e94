"""``POST /api/v2/models/{name}/score``: rows as JSON (answered with scores, verdicts and reasons),
a CSV body (answered with the scored CSV, streamed in bounded memory), or a stored dataset (a
scoring job whose result is a downloadable CSV)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter

from aedetect.api.bodies import INLINE_BYTES, INLINE_ROWS, VALIDATE_ROWS, decode_body, validate_rows
from aedetect.api.deps import BatchDep, CatalogDep, ModelsDep, ScoringDep, ScoringPoolDep
from aedetect.api.principal import principal
from aedetect.api.uploads import spool_body
from aedetect.api.v2.problems import problem_responses
from aedetect.api.v2.schemas import (
    MAX_VERSION,
    JobPublic,
    ModelName,
    ScoredRow,
    ScoreRequest,
    ScoreResponse,
)
from aedetect.api.v2.views import job_public
from aedetect.domain import TrainingRun
from aedetect.errors import InvalidInput, UnsupportedMediaType, quoted
from aedetect.services.catalog import DatasetCatalog
from aedetect.services.models import ModelService
from aedetect.services.scoring import BATCH_ROWS, ScoringService, current_threshold

router = APIRouter(prefix="/models/{name}", tags=["scoring"])

CSV_CHUNK_ROWS = 20_000
"""Rows of a CSV body read, scored and written at a time (each a short hold of the interpreter lock)."""
ROWS_END = b"]}"
"""How the answer's JSON ends: its ``rows`` list closes, then the object."""
SCORED_ROWS = TypeAdapter(list[ScoredRow])
REQUEST_ROWS = TypeAdapter(list[dict[str, Any]])
"""What each row of a long ``rows`` list must be (as :class:`ScoreRequest` says)."""

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


def _parsed(raw: bytes) -> ScoreRequest:
    """The body as a :class:`ScoreRequest`, a long ``rows`` list decoded and validated a little at
    a time (:mod:`aedetect.api.bodies`)."""
    value = decode_body(raw, "rows")
    rows = value.get("rows") if isinstance(value, dict) else None
    if not isinstance(rows, list) or len(rows) <= VALIDATE_ROWS:
        return ScoreRequest.model_validate(value)
    head = ScoreRequest.model_validate({**value, "rows": []})
    return head.model_copy(update={"rows": validate_rows(rows, REQUEST_ROWS, "rows")})


def _json_rows(run: TrainingRun, body: ScoreRequest, scoring: ScoringService) -> Response:
    """The scored rows of a small request, validated against :class:`ScoreResponse` once and
    serialised directly."""
    rows = scoring.score_rows(run, body.rows or [], body.top)
    threshold = rows[0]["threshold"] if rows else current_threshold(run, scoring.detector(run))
    answer = ScoreResponse.model_validate(
        {"model": run.nn_id, "version": run.model_version, "threshold": threshold, "rows": rows}
    )
    return Response(answer.model_dump_json(), media_type="application/json")


def _json_batches(
    run: TrainingRun, body: ScoreRequest, scoring: ScoringService
) -> tuple[bytes, Iterator[list[dict[str, Any]]]]:
    """A large request's answer as the :class:`ScoreResponse` text up to its ``rows`` list, and the
    scored rows batch by batch (checked now, scored when asked for)."""
    threshold = current_threshold(run, scoring.detector(run))
    batches = scoring.score_rows_batches(run, body.rows or [], body.top)
    empty = ScoreResponse(model=run.nn_id, version=run.model_version, threshold=threshold, rows=[])
    head = empty.model_dump_json().encode()
    assert head.endswith(ROWS_END)  # rows is the last field
    return head[: -len(ROWS_END)], batches


def _rows_json(batch: list[dict[str, Any]]) -> bytes:
    """A batch of scored rows, checked against :class:`ScoredRow`, as JSON list items."""
    return SCORED_ROWS.dump_json(SCORED_ROWS.validate_python(batch))[1:-1]


def _copied(body: BinaryIO) -> Path:
    """The spooled CSV body in a file of its own (the stream reads it by path)."""
    with body, tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as copy:
        shutil.copyfileobj(body, copy)
    return Path(copy.name)


def _csv_batches(
    run: TrainingRun, path: Path, top: int, scoring: ScoringService, catalog: DatasetCatalog
) -> tuple[bytes, Iterator[pd.DataFrame], Callable[[pd.DataFrame], bytes]]:
    """The scored CSV's first chunk (read, and so checked, before the answer starts), the rest
    of the rows chunk by chunk (the file is removed once they are read), and how a chunk is scored."""
    detector = scoring.detector(run)
    threshold = current_threshold(run, detector)
    chunks = catalog.body_chunks(path, CSV_CHUNK_ROWS)
    first = next(chunks, None)
    if first is None:
        raise InvalidInput("the CSV body holds no data rows below its header", field="body")
    head = scoring.scored_csv_chunk(run, first, top, threshold).to_csv(index=False).encode()

    def rest() -> Iterator[pd.DataFrame]:
        try:
            yield from chunks
        finally:
            path.unlink(missing_ok=True)

    def scored(chunk: pd.DataFrame) -> bytes:
        return scoring.scored_csv_chunk(run, chunk, top, threshold).to_csv(index=False, header=False).encode()

    return head, rest(), scored


@router.post(
    "/score",
    summary="Score rows (JSON), a CSV body (answers the scored CSV) or a stored dataset (answers a job)",
    response_model=ScoreResponse,
    openapi_extra=SCORE_BODY,
    responses={**SCORE_DOC, **problem_responses(400, 404, 409, 413, 415, 429)},
)
async def score(
    name: ModelName,
    request: Request,
    models: ModelsDep,
    scoring: ScoringDep,
    batch: BatchDep,
    catalog: CatalogDep,
    pool: ScoringPoolDep,
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
        path = await pool.run(_copied, body)
        try:
            head, chunks, scored = await pool.run(_csv_batches, run, path, top, scoring, catalog)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return pool.stream(request, head, chunks, scored, b"", b"", media_type="text/csv")
    if content_type not in ("application/json", ""):
        raise UnsupportedMediaType(
            f"content type {quoted(content_type)} is not taken here: send JSON rows or a text/csv body",
            field="body",
        )
    raw = await request.body() or b"null"
    inline = len(raw) <= INLINE_BYTES
    parsed = _parsed(raw) if inline else await pool.run(_parsed, raw)  # errors: 422
    del raw
    if parsed.dataset is not None:
        run = await run_in_threadpool(_run, models, name, version, alias)
        key = principal(request).key
        requester = None if key is None else key.key_id
        job = await run_in_threadpool(batch.start, run, parsed.dataset, parsed.top, requester)
        return JSONResponse(job_public(job).model_dump(mode="json"), status_code=202)
    if inline and len(parsed.rows or []) <= INLINE_ROWS:
        return _json_rows(_run(models, name, version, alias), parsed, scoring)
    run = await run_in_threadpool(_run, models, name, version, alias)
    if len(parsed.rows or []) <= BATCH_ROWS:  # one batch: answered whole, rendered in the pool
        return await pool.run(_json_rows, run, parsed, scoring)
    head, batches = await pool.run(_json_batches, run, parsed, scoring)
    return pool.stream(request, head, batches, _rows_json, b",", ROWS_END, media_type="application/json")
