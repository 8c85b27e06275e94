"""``/api/v2/models/{name}/versions`` and ``/aliases``: the numbered versions a model's trainings
made, their thresholds (changed without retraining, every change kept) and evaluation with the
IsolationForest baseline; aliases (``production`` is what scoring and v1 use) and their moves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from aedetect.api.deps import ActorDep, ModelsDep, ThresholdsDep
from aedetect.api.v2.problems import problem_responses
from aedetect.api.v2.schemas import (
    DATASET_EXAMPLE,
    AliasList,
    AliasName,
    AliasPublic,
    AliasSet,
    EvaluateRequest,
    Evaluation,
    ModelName,
    ScoreHistogram,
    ThresholdList,
    ThresholdPreview,
    ThresholdProposal,
    ThresholdPublic,
    ThresholdSet,
    VersionList,
    VersionNumber,
    VersionPublic,
)
from aedetect.api.v2.views import move_public, threshold_public, version_public

router = APIRouter(prefix="/models/{name}", tags=["versions and aliases"])


@dataclass
class CountedOn:
    """The dataset a histogram or a threshold preview also counts (query parameters)."""

    dataset: Annotated[
        str | None,
        Query(
            description="A dataset to count as well (e.g. the evaluation data).", examples=[DATASET_EXAMPLE]
        ),
    ] = None
    label_column: Annotated[
        str | None, Query(description="The dataset's column marking known anomalies.", examples=["label"])
    ] = None
    normal_value: Annotated[
        str | None, Query(description="The label column's value on normal rows.", examples=["normal"])
    ] = None


CountedOnDep = Annotated[CountedOn, Depends()]


@router.get("/versions", summary="The model's versions, oldest first", responses=problem_responses(400, 404))
def list_versions(name: ModelName, models: ModelsDep) -> VersionList:
    aliases = models.get(name).aliases
    return VersionList(items=[version_public(r, aliases) for r in models.versions(name)], next=None)


@router.get(
    "/versions/{version}",
    summary="One version: what it was trained on, losses, time, threshold, metrics",
    responses=problem_responses(400, 404),
)
def get_version(name: ModelName, version: VersionNumber, models: ModelsDep) -> VersionPublic:
    return version_public(models.version(name, version), models.get(name).aliases)


@router.put(
    "/versions/{version}/threshold",
    summary="Set the threshold by a strategy; takes effect for scoring at once, without retraining",
    responses=problem_responses(400, 404, 409),
)
def set_threshold(
    name: ModelName,
    version: VersionNumber,
    body: ThresholdSet,
    models: ModelsDep,
    thresholds: ThresholdsDep,
    actor: ActorDep,
) -> ThresholdPublic:
    run = models.version(name, version)
    revision = thresholds.set(run, body.model_dump(exclude_none=True), actor=actor, note=body.note)
    return threshold_public(revision)


@router.get(
    "/versions/{version}/threshold/preview",
    summary="What a threshold would flag (training rows; a dataset's rows with precision, recall and F1), "
    "without setting it",
    responses=problem_responses(400, 404, 409),
)
def preview_threshold(
    name: ModelName,
    version: VersionNumber,
    value: Annotated[float, Query(description="The threshold to look at.", examples=[4.0])],
    counted: CountedOnDep,
    models: ModelsDep,
    thresholds: ThresholdsDep,
) -> ThresholdPreview:
    run = models.version(name, version)
    preview = thresholds.preview(run, value, counted.dataset, counted.label_column, counted.normal_value)
    return ThresholdPreview(**preview)


@router.get(
    "/versions/{version}/histogram",
    summary="Histogram of the version's training scores (and of a dataset's scores per class) with the "
    "threshold in force",
    responses=problem_responses(400, 404, 409),
)
def score_histogram(
    name: ModelName,
    version: VersionNumber,
    models: ModelsDep,
    thresholds: ThresholdsDep,
    counted: CountedOnDep,
    bins: Annotated[int, Query(ge=1, le=200, description="Number of bins.", examples=[40])] = 40,
) -> ScoreHistogram:
    run = models.version(name, version)
    histogram = thresholds.histogram(run, bins, counted.dataset, counted.label_column, counted.normal_value)
    return ScoreHistogram(**histogram)


@router.post(
    "/versions/{version}/threshold/proposal",
    summary="What a strategy would set, and what it would have given beside the threshold in force "
    "(training alarm rate, feedback precision and recall); nothing changes",
    responses=problem_responses(400, 404, 409),
)
def propose_threshold(
    name: ModelName, version: VersionNumber, body: ThresholdSet, models: ModelsDep, thresholds: ThresholdsDep
) -> ThresholdProposal:
    run = models.version(name, version)
    return ThresholdProposal.model_validate(thresholds.propose(run, body.model_dump(exclude_none=True)))


@router.get(
    "/versions/{version}/thresholds",
    summary="Every threshold revision of the version, oldest first",
    responses=problem_responses(400, 404),
)
def list_thresholds(
    name: ModelName, version: VersionNumber, models: ModelsDep, thresholds: ThresholdsDep
) -> ThresholdList:
    return ThresholdList(
        items=[threshold_public(t) for t in thresholds.history(models.version(name, version))], next=None
    )


@router.post(
    "/versions/{version}/evaluate",
    summary="ROC-AUC, average precision, precision/recall/F1 and confusion on a labelled dataset, "
    "beside the IsolationForest baseline",
    responses=problem_responses(400, 404, 409),
)
def evaluate(
    name: ModelName,
    version: VersionNumber,
    body: EvaluateRequest,
    models: ModelsDep,
    thresholds: ThresholdsDep,
) -> Evaluation:
    run = models.version(name, version)
    return Evaluation(**thresholds.evaluate(run, body.dataset, body.label_column, body.normal_value))


@router.get(
    "/aliases", summary="The model's aliases and their moves", responses=problem_responses(400, 404, 409)
)
def list_aliases(name: ModelName, models: ModelsDep) -> AliasList:
    current = models.get(name).aliases
    moves = models.alias_moves(name)
    names = sorted({*current, *(m.alias for m in moves)})
    return AliasList(
        items=[
            AliasPublic(
                alias=a, version=current.get(a), history=[move_public(m) for m in moves if m.alias == a]
            )
            for a in names
        ],
        next=None,
    )


@router.get(
    "/aliases/{alias}",
    summary="One alias: the version it names and its moves",
    responses=problem_responses(400, 404, 409),
)
def get_alias(name: ModelName, alias: AliasName, models: ModelsDep) -> AliasPublic:
    moves = models.alias_moves(name, alias)
    current = models.get(name).aliases.get(alias)
    if current is None and not moves:
        models.resolve(name, alias=alias)  # raises the NotFound naming the alias
    return AliasPublic(alias=alias, version=current, history=[move_public(m) for m in moves])


@router.put(
    "/aliases/{alias}",
    summary="Point an alias at a version (production: what scoring and v1 use; point it back to roll back)",
    responses=problem_responses(400, 404, 409),
)
def set_alias(
    name: ModelName, alias: AliasName, body: AliasSet, models: ModelsDep, actor: ActorDep
) -> AliasPublic:
    models.set_alias(name, alias, body.version, actor=actor, note=body.note)
    return get_alias(name, alias, models)


@router.delete(
    "/aliases/{alias}", summary="Remove an alias (not production)", responses=problem_responses(400, 404, 409)
)
def delete_alias(name: ModelName, alias: AliasName, models: ModelsDep, actor: ActorDep) -> AliasPublic:
    models.delete_alias(name, alias, actor=actor)
    return get_alias(name, alias, models)
