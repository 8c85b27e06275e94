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
from aedetect.registry.access import AccessStore
from aedetect.registry.sql import SqlRegistry
from aedetect.services.access import AccessService
from aedetect.services.batch import SCORE_JOB, BatchScoring
from aedetect.services.catalog import CsvLimits, DatasetCatalog
from aedetect.services.datasets import DatasetService
from aedetect.services.drift import DriftService
from aedetect.services.evaluation import EvaluationService
from aedetect.services.feedback import FeedbackService
from aedetect.services.jobs import JobService
from aedetect.services.limits import Limits
from aedetect.services.models import ModelService
from aedetect.services.networks import NetworkService
from aedetect.services.paths import DataPaths
from aedetect.services.scorelog import ScoreLog
from aedetect.services.scoring import ModelCache, ScoringService
from aedetect.services.thresholds import ThresholdService
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
    catalog: DatasetCatalog
    models_v2: ModelService
    thresholds: ThresholdService
    jobs: JobService
    batch: BatchScoring
    access: AccessService
    scorelog: ScoreLog
    feedback: FeedbackService
    drift: DriftService

    def close(self) -> None:
        """Stop running trainings before their next batch, wait for the runner, write what the
        scoring log holds, release the database."""
        self.trainer.stop()
        self.runner.shutdown()
        self.scorelog.close()
        self.registry.close()


def service_limits(settings: Settings) -> Limits:
    """The cost bounds of the services, from the ``AEDETECT_MAX_*`` settings."""
    return Limits(
        max_text_chars=settings.max_text_chars,
        max_list_items=settings.max_csv_columns,
        max_predict_rows=settings.max_predict_rows,
        max_network_weights=settings.max_network_weights,
        max_network_layers=settings.max_network_layers,
        max_epochs=settings.max_epochs,
        max_queued_trainings=settings.max_queued_trainings,
        train_retry_after_s=settings.train_retry_after_s,
    )


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
    scorelog = ScoreLog(
        registry,
        enabled=settings.log_enabled,
        sample=settings.log_sample,
        queue_rows=settings.log_queue_rows,
        retention_days=settings.log_retention_days,
        retention_rows=settings.log_retention_rows,
    )
    limits = service_limits(settings)
    workflow = WorkflowService(registry, paths, limits)
    csv_limits = CsvLimits(settings.max_upload_bytes, settings.max_csv_columns, settings.max_csv_line_bytes)
    catalog = DatasetCatalog(registry, paths, csv_limits)
    datasets = DatasetService(workflow, paths, catalog, csv_limits)
    scoring = ScoringService(registry, paths, models, limits, scorelog)
    evaluation = EvaluationService(registry, workflow, datasets, scoring)
    executor = TrainingExecutor(
        registry, datasets, evaluation, paths, models, limits, train_threads=settings.train_threads
    )
    batch: BatchScoring  # built after the runner it submits to; the handler looks it up when called
    handlers = {TRAIN_JOB: executor.execute, SCORE_JOB: lambda job_id: batch.execute(job_id)}
    runner = EmbeddedJobRunner(registry, handlers, max_workers=settings.job_workers)
    batch = BatchScoring(registry, runner, catalog, scoring, paths)
    training = TrainingService(registry, runner, workflow, datasets, evaluation, paths)
    networks = NetworkService(registry, paths, training, models, limits)
    feedback = FeedbackService(registry, scoring)
    thresholds = ThresholdService(registry, paths, catalog, datasets, scoring, feedback)
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
        catalog=catalog,
        models_v2=ModelService(registry, workflow, datasets, catalog, networks, training),
        thresholds=thresholds,
        jobs=JobService(registry, paths),
        batch=batch,
        access=AccessService(AccessStore(registry.engine)),
        scorelog=scorelog,
        feedback=feedback,
        drift=DriftService(registry, paths, scoring, thresholds),
    )
