"""Route dependencies as ``Annotated`` aliases: the services of the running instance and the
checked path parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aedetect.api.principal import actor
from aedetect.api.streaming import ScoringPool
from aedetect.bootstrap import Container
from aedetect.services.batch import BatchScoring
from aedetect.services.catalog import DatasetCatalog
from aedetect.services.drift import DriftService
from aedetect.services.evaluation import EvaluationService
from aedetect.services.feedback import FeedbackService
from aedetect.services.jobs import JobService
from aedetect.services.models import ModelService
from aedetect.services.networks import NetworkService
from aedetect.services.node_data import DatasetService
from aedetect.services.paths import check_version
from aedetect.services.scorelog import ScoreLog
from aedetect.services.scoring import ScoringService
from aedetect.services.thresholds import ThresholdService
from aedetect.services.training import TrainingService
from aedetect.services.workflow import WorkflowService


async def get_container(request: Request) -> Container:
    """The services built at start-up (see :func:`aedetect.api.app.create_api`)."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_networks(container: ContainerDep) -> NetworkService:
    return container.networks


async def get_workflow(container: ContainerDep) -> WorkflowService:
    return container.workflow


async def get_datasets(container: ContainerDep) -> DatasetService:
    return container.datasets


async def get_training(container: ContainerDep) -> TrainingService:
    return container.training


async def get_evaluation(container: ContainerDep) -> EvaluationService:
    return container.evaluation


async def get_scoring(container: ContainerDep) -> ScoringService:
    return container.scoring


async def get_catalog(container: ContainerDep) -> DatasetCatalog:
    return container.catalog


async def get_models(container: ContainerDep) -> ModelService:
    return container.models


async def get_thresholds(container: ContainerDep) -> ThresholdService:
    return container.thresholds


async def get_jobs(container: ContainerDep) -> JobService:
    return container.jobs


async def get_batch(container: ContainerDep) -> BatchScoring:
    return container.batch


async def get_scoring_pool(request: Request) -> ScoringPool:
    """The bounded pool of large scoring requests, made at start-up."""
    pool: ScoringPool = request.app.state.scoring_pool
    return pool


async def get_scorelog(container: ContainerDep) -> ScoreLog:
    return container.scorelog


async def get_feedback(container: ContainerDep) -> FeedbackService:
    return container.feedback


async def get_drift(container: ContainerDep) -> DriftService:
    return container.drift


ScoreLogDep = Annotated[ScoreLog, Depends(get_scorelog)]
FeedbackDep = Annotated[FeedbackService, Depends(get_feedback)]
DriftDep = Annotated[DriftService, Depends(get_drift)]
CatalogDep = Annotated[DatasetCatalog, Depends(get_catalog)]
ModelsDep = Annotated[ModelService, Depends(get_models)]
ThresholdsDep = Annotated[ThresholdService, Depends(get_thresholds)]
JobsDep = Annotated[JobService, Depends(get_jobs)]
BatchDep = Annotated[BatchScoring, Depends(get_batch)]
NetworksDep = Annotated[NetworkService, Depends(get_networks)]
WorkflowDep = Annotated[WorkflowService, Depends(get_workflow)]
DatasetsDep = Annotated[DatasetService, Depends(get_datasets)]
TrainingDep = Annotated[TrainingService, Depends(get_training)]
EvaluationDep = Annotated[EvaluationService, Depends(get_evaluation)]
ScoringDep = Annotated[ScoringService, Depends(get_scoring)]
ScoringPoolDep = Annotated[ScoringPool, Depends(get_scoring_pool)]


async def get_actor(request: Request) -> str | None:
    """Who sends the request (:func:`aedetect.api.principal.actor`), recorded with what it changes."""
    return actor(request)


ActorDep = Annotated[str | None, Depends(get_actor)]


async def version_param(ver: str) -> int:
    """The ``ver`` path parameter as a version number (400 unless a positive integer)."""
    return check_version(ver)


async def wfver_param(wfver: str) -> int:
    """The ``wfver`` path parameter as a version number."""
    return check_version(wfver)


VersionDep = Annotated[int, Depends(version_param)]
WfVersionDep = Annotated[int, Depends(wfver_param)]
