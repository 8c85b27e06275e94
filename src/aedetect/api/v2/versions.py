"""``/api/v2/models/{name}/versions`` and ``/aliases``: the numbered versions a model's trainings
made, their thresholds (changed without retraining, every change kept) and evaluation with the
IsolationForest baseline; aliases (``production`` is what scoring and v1 use) and their moves."""

from __future__ import annotations

from fastapi import APIRouter

from aedetect.api.deps import ModelsDep, ThresholdsDep
from aedetect.api.v2.problems import problem_responses
from aedetect.api.v2.schemas import (
    AliasList,
    AliasName,
    AliasPublic,
    AliasSet,
    EvaluateRequest,
    Evaluation,
    ModelName,
    ThresholdList,
    ThresholdProposal,
    ThresholdPublic,
    ThresholdSet,
    VersionList,
    VersionNumber,
    VersionPublic,
)
from aedetect.api.v2.views import move_public, threshold_public, version_public

router = APIRouter(prefix="/models/{name}", tags=["versions and aliases"])


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
    name: ModelName, version: VersionNumber, body: ThresholdSet, models: ModelsDep, thresholds: ThresholdsDep
) -> ThresholdPublic:
    run = models.version(name, version)
    return threshold_public(thresholds.set(run, body.model_dump(exclude_none=True), note=body.note))


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


@router.get("/aliases", summary="The model's aliases and their moves", responses=problem_responses(400, 404))
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
    responses=problem_responses(400, 404),
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
def set_alias(name: ModelName, alias: AliasName, body: AliasSet, models: ModelsDep) -> AliasPublic:
    models.set_alias(name, alias, body.version, note=body.note)
    return get_alias(name, alias, models)


@router.delete(
    "/aliases/{alias}", summary="Remove an alias (not production)", responses=problem_responses(400, 404)
)
def delete_alias(name: ModelName, alias: AliasName, models: ModelsDep) -> AliasPublic:
    models.delete_alias(name, alias)
    return get_alias(name, alias, models)
