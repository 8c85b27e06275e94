"""``/api/v2/models``: create, list, show, change and delete models; start a training job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from aedetect.api.deps import ModelsDep
from aedetect.api.v2.problems import problem_responses
from aedetect.api.v2.schemas import (
    JobPublic,
    ModelCreate,
    ModelList,
    ModelName,
    ModelPublic,
    ModelUpdate,
    TrainRequest,
)
from aedetect.api.v2.views import job_public, model_public
from aedetect.services.models import ModelSpec

router = APIRouter(prefix="/models", tags=["models"])


@router.post(
    "",
    status_code=201,
    summary="Create a model over a dataset (checked at once: columns, parameters, label column)",
    responses=problem_responses(400, 404, 409, 413),
)
def create_model(body: ModelCreate, models: ModelsDep) -> ModelPublic:
    spec = ModelSpec(
        dataset=body.dataset,
        columns=body.columns,
        categorical=body.categorical,
        params=body.params or {},
        eval_dataset=body.eval_dataset,
        label_column=body.label_column,
        normal_value=body.normal_value,
    )
    view = models.create(
        body.name, spec, description=body.description or "", auto_promote=body.auto_promote is not False
    )
    return model_public(view)


@router.get("", summary="List models (v1 networks included), by name", responses=problem_responses(400))
def list_models(
    models: ModelsDep,
    cursor: Annotated[
        str | None, Query(description="The 'next' value of the previous page.", examples=["plant-7"])
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Models per page.", examples=[50])] = 100,
) -> ModelList:
    items, following = models.page(cursor, limit)
    return ModelList(items=[model_public(v) for v in items], next=following)


@router.get(
    "/{name}", summary="A model with its configuration and aliases", responses=problem_responses(400, 404)
)
def get_model(name: ModelName, models: ModelsDep) -> ModelPublic:
    return model_public(models.get(name))


@router.patch(
    "/{name}",
    summary="Change a model's configuration or description (refused while it trains)",
    responses=problem_responses(400, 404, 409, 413),
)
def update_model(name: ModelName, body: ModelUpdate, models: ModelsDep) -> ModelPublic:
    changes = body.model_dump(exclude_unset=True)
    if "params" in changes and changes["params"] is None:
        changes["params"] = {}
    return model_public(models.update(name, changes))


@router.delete(
    "/{name}",
    status_code=204,
    summary="Delete a model with its versions (refused while it trains)",
    responses=problem_responses(400, 404, 409),
)
def delete_model(name: ModelName, models: ModelsDep) -> Response:
    models.delete(name)
    return Response(status_code=204)


@router.post(
    "/{name}/train",
    status_code=202,
    summary="Start training; answers the job at once (follow it at /api/v2/jobs/{id}); 429 while "
    "AEDETECT_MAX_QUEUED_TRAININGS trainings wait",
    responses=problem_responses(400, 404, 409, 413, 429),
)
def train_model(
    name: ModelName, models: ModelsDep, body: Annotated[TrainRequest | None, Body()] = None
) -> JobPublic:
    return job_public(models.train(name, feedback=body is not None and body.feedback))
