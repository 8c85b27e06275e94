"""Domain objects to native API responses (one function per resource)."""

from __future__ import annotations

from typing import Any

from aedetect.api.v2.schemas import (
    AliasMovePublic,
    ColumnKind,
    JobProgress,
    JobPublic,
    LastTraining,
    LossHistory,
    ModelPublic,
    ThresholdPublic,
    VersionPublic,
)
from aedetect.domain import AliasMove, Job, ThresholdRevision, TrainingRun
from aedetect.services.models import ModelView

V2_ROOT = "/api/v2"


def model_public(view: ModelView) -> ModelPublic:
    network, spec, run = view.network, view.spec, view.last_training
    return ModelPublic(
        name=network.nn_id,
        description=network.nn_desc,
        dataset=spec.dataset,
        columns=spec.columns,
        categorical=spec.categorical,
        params=spec.params,
        eval_dataset=spec.eval_dataset,
        label_column=spec.label_column,
        normal_value=spec.normal_value,
        auto_promote=network.auto_promote,
        aliases=view.aliases,
        latest_version=view.latest_version,
        training=view.training,
        last_training=None if run is None else last_training(run),
        last_trained_at=view.last_trained_at,
        created_at=network.created_at,
        updated_at=network.updated_at,
    )


def last_training(run: TrainingRun) -> LastTraining:
    return LastTraining(
        job=run.job_id,
        status=run.status.value,
        version=run.model_version,
        error=run.error,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def _progress(progress: dict[str, Any]) -> JobProgress:
    known = {k: v for k, v in progress.items() if k in JobProgress.model_fields}
    return JobProgress(**known)


def job_public(job: Job) -> JobPublic:
    result = job.result if isinstance(job.result, dict) else None
    version = result.get("version") if result else None
    if version is None and job.params.get("model_version") is not None:
        version = int(job.params["model_version"])
    succeeded_score = job.kind == "score" and job.status.value == "succeeded"
    return JobPublic(
        id=job.job_id,
        kind="score" if job.kind == "score" else "train",
        model=job.model,
        status=job.status.value,
        progress=_progress(job.progress),
        version=version,
        error=job.error,
        result=result,
        result_url=f"{V2_ROOT}/jobs/{job.job_id}/result" if succeeded_score else None,
        cancel_requested=job.cancel_requested,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        worker=job.worker,
    )


def threshold_public(revision: ThresholdRevision) -> ThresholdPublic:
    return ThresholdPublic(
        value=revision.value,
        strategy=revision.strategy,
        inputs=revision.inputs,
        actor=revision.actor,
        note=revision.note,
        created_at=revision.created_at,
    )


def version_public(run: TrainingRun, aliases: dict[str, int]) -> VersionPublic:
    metrics = run.metrics
    history = metrics.get("history")
    kinds = metrics.get("column_kinds") or {c: "numeric" for c in metrics.get("columns", [])}
    number = run.model_version or 0
    return VersionPublic(
        version=number,
        model=run.nn_id,
        run_id=run.run_id,
        job_id=run.job_id,
        dataset=metrics.get("dataset") or run.params.get("dataset"),
        rows=metrics.get("rows"),
        columns=[ColumnKind(name=name, kind=kind) for name, kind in kinds.items()],
        params=metrics.get("params") or dict(run.params.get("detector", {})),
        history=LossHistory(**history) if isinstance(history, dict) else None,
        training_time_s=metrics.get("training_time_s"),
        threshold=None if run.threshold is None else threshold_public(run.threshold),
        metrics={
            k: v for k, v in metrics.items() if k not in ("history", "params", "column_kinds", "columns")
        },
        aliases=sorted(a for a, v in aliases.items() if v == number),
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def move_public(move: AliasMove) -> AliasMovePublic:
    return AliasMovePublic(
        alias=move.alias,
        from_version=move.from_version,
        to_version=move.to_version,
        actor=move.actor,
        note=move.note,
        moved_at=move.moved_at,
    )
