"""Operating a model: ``/scores`` (the scoring log and its gaps), ``/versions/{n}/drift`` and
``/profile`` (the version's traffic against its training data), ``/feedback`` (operators' labels and
the figures they give)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BeforeValidator

from aedetect.api.deps import ActorDep, DriftDep, FeedbackDep, ModelsDep, ScoreLogDep
from aedetect.api.principal import sees_values
from aedetect.api.v2.problems import problem_responses
from aedetect.api.v2.schemas import (
    MAX_VERSION,
    DriftReport,
    FeedbackCreate,
    FeedbackList,
    FeedbackPublic,
    FeedbackSaved,
    LogGapPublic,
    LoggedScore,
    LogStatus,
    ModelName,
    ProfilePublic,
    ScoreLogPage,
    VersionNumber,
)
from aedetect.domain import Feedback, FeedbackLabel, ScoreRecord
from aedetect.errors import InvalidInput
from aedetect.services.paths import CURSOR_PATTERN, check_nn_id, schema_pattern

router = APIRouter(prefix="/models/{name}", tags=["monitoring"])


def _iso_text(value: Any) -> Any:
    """Refuse a bare number where a date and time is documented (the validator would read it as
    seconds since 1970): only ISO 8601 text is a time here."""
    if isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError(f"expected an ISO 8601 date and time such as 2026-12-01T00:00:00Z, got {value!r}")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text)]

Since = Annotated[
    IsoDateTime | None,
    Query(
        description="Only rows scored at or after this time (ISO 8601; UTC unless it says).",
        examples=["2026-12-01T00:00:00Z"],
    ),
]
Until = Annotated[
    IsoDateTime | None,
    Query(
        description="Only rows scored before this time (ISO 8601; default now).",
        examples=["2026-12-02T00:00:00Z"],
    ),
]
Cursor = Annotated[
    str | None,
    Query(
        description="The 'next' value of the previous page.",
        examples=["81234"],
        json_schema_extra=schema_pattern(CURSOR_PATTERN),
    ),
]


def _utc(moment: datetime | None) -> datetime | None:
    """A query time as aware UTC (a time without zone is taken as UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 19:
        raise InvalidInput(
            f"cursor must be the 'next' value of a previous page, got {cursor!r}", field="cursor"
        )
    return int(cursor)


RAW_VALUES = (
    " Raw row values (``values``) are a writer's: a reader's key gets the rest of each item without "
    "them (README: Access)."
)
"""What the routes that answer logged or labelled rows say about their values."""


def _logged(record: ScoreRecord, values: bool = True) -> LoggedScore:
    fields: dict[str, Any] = {
        "id": record.log_id,
        "version": record.model_version,
        "time": record.scored_at,
        "score": record.score,
        "is_anomaly": record.is_anomaly,
        "threshold": record.threshold,
        "contributions": record.contributions,
        "sampled": record.sampled,
        "source": record.source,
    }
    if values and record.values is not None:
        fields["values"] = record.values
        if record.truncated:
            fields["truncated"] = record.truncated
    return LoggedScore.model_validate(fields)


def _feedback(item: Feedback, values: bool = True) -> FeedbackPublic:
    return FeedbackPublic(
        id=item.feedback_id,
        log_id=item.log_id,
        label=item.label.value,
        note=item.note,
        actor=item.actor,
        version=item.model_version,
        score=item.score,
        is_anomaly=item.is_anomaly,
        threshold=item.threshold,
        scored_at=item.scored_at,
        values=item.values if values else None,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


@router.get(
    "/scores",
    summary="The scoring log: rows the model scored (v1 and v2), newest first, with the gaps of the log",
    description="Each logged row's score, verdict, threshold and top columns; its values when kept, "
    "each cut to AEDETECT_LOG_VALUE_CHARS characters (``truncated`` names the columns cut)." + RAW_VALUES,
    response_model_exclude_unset=True,
    responses=problem_responses(400, 404),
)
def list_scores(
    request: Request,
    name: ModelName,
    scorelog: ScoreLogDep,
    since: Since = None,
    until: Until = None,
    anomalies_only: Annotated[
        bool, Query(description="Only rows flagged as anomalies.", examples=[True])
    ] = False,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_VERSION, description="Only rows this version scored.", examples=[3])
    ] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows per page.", examples=[100])] = 100,
) -> ScoreLogPage:
    check_nn_id(name)
    start, end = _utc(since), _utc(until)
    items, following = scorelog.page(
        name,
        since=start,
        until=end,
        anomalies_only=anomalies_only,
        model_version=version,
        cursor=_cursor(cursor),
        limit=limit,
    )
    gaps = scorelog.gaps(name, start, end)
    return ScoreLogPage(
        items=[_logged(r, sees_values(request)) for r in items],
        next=None if following is None else str(following),
        gaps=[
            LogGapPublic(
                first_at=g.first_at, last_at=g.last_at, rows=g.rows, reason=g.reason, detail=g.detail
            )
            for g in gaps
        ],
        log=LogStatus(**scorelog.stats()),
    )


@router.get(
    "/versions/{version}/drift",
    summary="Drift of a version's traffic against its training data: per column PSI and KS or unseen "
    "share, the anomaly rate against what the threshold expects, the score shift; verdicts and ranking",
    response_model_exclude_unset=True,
    responses=problem_responses(400, 404, 409),
)
async def drift(
    name: ModelName,
    version: VersionNumber,
    models: ModelsDep,
    drift: DriftDep,
    window: Annotated[
        str | None,
        Query(description="How far back from until (default 24h): 30s, 15m, 24h, 7d, 2w.", examples=["24h"]),
    ] = None,
    since: Since = None,
    until: Until = None,
) -> DriftReport:
    run = await run_in_threadpool(models.version, name, version)
    report = await run_in_threadpool(drift.report, run, window, _utc(since), _utc(until))
    return DriftReport.model_validate(report)


@router.get(
    "/versions/{version}/profile",
    summary="The training profile of a version: per column distribution or category shares, the "
    "training scores",
    responses=problem_responses(400, 404, 409),
)
def profile(name: ModelName, version: VersionNumber, models: ModelsDep, drift: DriftDep) -> ProfilePublic:
    run = models.version(name, version)
    document = drift.profile(run).to_dict()
    return ProfilePublic(
        model=name,
        version=run.model_version,
        rows=document["rows"],
        columns=document["columns"],
        scores=document["scores"],
    )


@router.post(
    "/feedback",
    summary="Label scored rows as anomaly or normal: logged rows by id, or rows given with the label",
    responses=problem_responses(400, 404, 409),
)
async def add_feedback(
    name: ModelName, body: FeedbackCreate, feedback: FeedbackDep, actor: ActorDep
) -> FeedbackSaved:
    if body.items is not None:
        items = [i.model_dump() for i in body.items]
        saved = await run_in_threadpool(feedback.label_logged, name, items, actor)
    else:
        assert body.rows is not None and body.label is not None  # the schema checks it
        saved = await run_in_threadpool(feedback.label_rows, name, body.rows, body.label, body.note, actor)
    return FeedbackSaved(items=[_feedback(i) for i in saved], next=None)


@router.get(
    "/feedback",
    summary="The labels, and what they say of the alarms: precision, recall, confirmed anomalies, false "
    "alarms (as served, or as one version judges them)",
    description="The labels with the rows they label." + RAW_VALUES,
    responses=problem_responses(400, 404, 409),
)
async def list_feedback(
    request: Request,
    name: ModelName,
    models: ModelsDep,
    feedback: FeedbackDep,
    label: Annotated[
        Literal["anomaly", "normal"] | None,
        Query(description="Only labels of this kind.", examples=["normal"]),
    ] = None,
    version: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_VERSION,
            description="Judge the labelled rows by this version now (default: the verdicts they got).",
            examples=[3],
        ),
    ] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Labels per page.", examples=[100])] = 100,
) -> FeedbackList:
    run = None if version is None else await run_in_threadpool(models.version, name, version)
    chosen = None if label is None else FeedbackLabel(label)
    items, following = await run_in_threadpool(feedback.page, name, chosen, _cursor(cursor), limit)
    summary = await run_in_threadpool(feedback.summary, name, run)
    return FeedbackList(
        items=[_feedback(i, sees_values(request)) for i in items],
        next=None if following is None else str(following),
        **summary,
    )


@router.delete(
    "/feedback/{feedback_id}",
    status_code=204,
    summary="Remove a label",
    responses=problem_responses(400, 404),
)
def delete_feedback(
    name: ModelName,
    feedback_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="Feedback id.", examples=[17])],
    feedback: FeedbackDep,
) -> Response:
    feedback.delete(name, feedback_id)
    return Response(status_code=204)
