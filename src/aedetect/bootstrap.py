"""The one place that builds the concrete registry, job runner and services from ``Settings``.

:func:`build_services` also prepares storage at start-up: it migrates the database, marks work
left queued or running by a stopped process as failed, and removes half-written models and uploads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aedetect.artifacts import load_detector
from aedetect.config import Settings, get_settings
from aedetect.errors import InvalidInput
from aedetect.jobs.base import JobRunner
from aedetect.jobs.embedded import EmbeddedJobRunner
from aedetect.registry.sql import SqlRegistry
from aedetect.services.datasets import DatasetService
from aedetect.services.evaluation import EvaluationService
from aedetect.services.networks import NetworkService
from aedetect.services.paths import DataPaths
from aedetect.services.scoring import ModelCache, ScoringService
from aedetect.services.training import TRAIN_JOB, TrainingExecutor, TrainingService
from aedetect.services.workflow import WorkflowService

logger = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the service stopped while this job was queued or running; train again"
"""Error recorded on work that a stopped process left unfinished."""

JOB_RUNNERS = ("embedded",)


@dataclass
class Container:
    """Every service of one running aedetect instance, wired to one registry and runner."""

    settings: Settings
    paths: DataPaths
    registry: SqlRegistry
    runner: JobRunner
    trainer: TrainingExecutor
    models: ModelCache
    workflow: WorkflowService
    datasets: DatasetService
    scoring: ScoringService
    evaluation: EvaluationService
    training: TrainingService
    networks: NetworkService

    def close(self) -> None:
        """Stop running trainings at their next epoch, wait for the runner, release the database."""
        self.trainer.stop()
        self.runner.shutdown()
        self.registry.close()


def build_services(settings: Settings | None = None) -> Container:
    """Build and start every service for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    if settings.job_runner not in JOB_RUNNERS:
        raise InvalidInput(
            f"job_runner {settings.job_runner!r} is not available; use one of: {', '.join(JOB_RUNNERS)}",
            field="job_runner",
        )
    paths = DataPaths(settings.data_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    registry = SqlRegistry.from_url(settings.resolved_database_url())
    interrupted = registry.fail_interrupted(INTERRUPTED)
    stale = paths.remove_partial_writes()
    if interrupted or stale:
        logger.warning(
            "start-up: %d interrupted job(s) failed, %d partial model(s) removed", interrupted, stale
        )

    models = ModelCache(load_detector)
    workflow = WorkflowService(registry, paths)
    datasets = DatasetService(workflow, paths, settings.max_upload_bytes)
    scoring = ScoringService(registry, paths, models)
    evaluation = EvaluationService(registry, workflow, datasets, scoring)
    executor = TrainingExecutor(
        registry, datasets, evaluation, paths, models, train_threads=settings.train_threads
    )
    runner = EmbeddedJobRunner(registry, {TRAIN_JOB: executor.execute}, max_workers=settings.job_workers)
    training = TrainingService(registry, runner, workflow, datasets, evaluation)
    networks = NetworkService(registry, paths, training, models)
    return Container(
        settings=settings,
        paths=paths,
        registry=registry,
        runner=runner,
        trainer=executor,
        models=models,
        workflow=workflow,
        datasets=datasets,
        scoring=scoring,
        evaluation=evaluation,
        training=training,
        networks=networks,
    )
