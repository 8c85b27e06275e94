"""The one place that builds the concrete registry, artifact store, job runner and services from
``Settings``.

:func:`build_services` also prepares storage at start-up: it migrates the database, fails work
that a stopped process left unfinished, and removes half-written models and uploads. Embedded
(the default), the process owns every job and every temporary file, so all of them are cleaned.
With the ``celery`` runner other hosts work at the same time: only jobs whose worker lease has
expired are failed, and only temporary files older than the longest job are removed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from aedetect.artifacts import load_detector
from aedetect.config import Settings, get_settings
from aedetect.errors import ARTIFACT_URL_SETTING, DATA_DIR_SETTING, InvalidInput
from aedetect.jobs.base import JobHandler, JobRunner
from aedetect.jobs.child import ChildOptions, ChildRuntime
from aedetect.jobs.embedded import EmbeddedJobRunner
from aedetect.jobs.lease import Lease, lost_reason
from aedetect.registry.access import AccessStore
from aedetect.registry.sql import SqlRegistry
from aedetect.services.access import AccessService
from aedetect.services.batch import SCORE_JOB, BatchLimits, BatchScoring
from aedetect.services.catalog import CsvLimits, DatasetCatalog
from aedetect.services.drift import DriftService
from aedetect.services.evaluation import EvaluationService
from aedetect.services.feedback import FeedbackService
from aedetect.services.housekeeping import Housekeeping, Task
from aedetect.services.jobs import JobService
from aedetect.services.limits import Limits
from aedetect.services.models import ModelService
from aedetect.services.networks import NetworkService
from aedetect.services.node_data import DatasetService
from aedetect.services.paths import DataPaths
from aedetect.services.scorelog import ScoreLog
from aedetect.services.scoring import ModelCache, ScoringService
from aedetect.services.thresholds import ThresholdService
from aedetect.services.training import TRAIN_JOB, TrainingExecutor, TrainingService
from aedetect.services.workflow import WorkflowService
from aedetect.storage import ArtifactStore, LocalStore

if TYPE_CHECKING:
    from celery import Celery

    from aedetect.jobs.celery import WorkerRuntime

logger = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the service stopped while this job was queued or running; train again"
"""Error recorded on work that a stopped process left unfinished."""


@dataclass
class Container:
    """Every service of one running aedetect instance, wired to one registry and runner."""

    settings: Settings
    paths: DataPaths
    store: ArtifactStore
    registry: SqlRegistry
    runner: JobRunner
    trainer: TrainingExecutor
    model_cache: ModelCache
    workflow: WorkflowService
    datasets: DatasetService
    scoring: ScoringService
    evaluation: EvaluationService
    training: TrainingService
    networks: NetworkService
    catalog: DatasetCatalog
    models: ModelService
    thresholds: ThresholdService
    jobs: JobService
    batch: BatchScoring
    access: AccessService
    scorelog: ScoreLog
    feedback: FeedbackService
    drift: DriftService
    housekeeping: Housekeeping

    def close(self) -> None:
        """Stop running trainings before their next batch, wait for the runner, write what the
        scoring log holds, release the database."""
        self.housekeeping.close()
        self.trainer.stop()
        self.runner.shutdown()
        self.scorelog.close()
        self.registry.close()


def batch_limits(settings: Settings) -> BatchLimits:
    """The bounds on scoring jobs, from their settings."""
    return BatchLimits(
        max_jobs=settings.max_score_jobs,
        max_jobs_per_key=settings.max_score_jobs_per_key,
        retry_after_s=settings.train_retry_after_s,
        result_retention_days=settings.job_result_retention_days,
    )


def housekeeping(
    settings: Settings, access: AccessService, batch: BatchScoring, start: bool = True
) -> Housekeeping:
    """The periodic clean-up of the audit log and of old scoring-job results (started unless
    ``start`` is false: a job's own process leaves it to the server)."""
    tasks: list[Task] = [
        ("audit retention", lambda: access.prune_audit(settings.audit_retention_days)),
        ("job result retention", batch.expire_results),
    ]
    keeper = Housekeeping(tasks)
    if start:
        keeper.start()
    return keeper


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
        train_budget_mb=settings.train_budget_mb,
    )


def open_store(settings: Settings) -> ArtifactStore:
    """The artifact store ``AEDETECT_ARTIFACT_URL`` names (``s3://bucket/prefix``, with the ``s3``
    extra; a directory; by default the data directory), checked usable before anything is built."""
    store = _store(settings)
    store.check()
    return store


def _store(settings: Settings) -> ArtifactStore:
    url = settings.artifact_url
    if url is None:
        return LocalStore(settings.data_dir, DATA_DIR_SETTING)
    if url.startswith("s3://"):
        try:
            from aedetect.storage.s3 import S3Store, make_s3_client, parse_s3_url
        except ImportError as exc:
            raise InvalidInput(
                f"{ARTIFACT_URL_SETTING} names an S3 store, which needs boto3: pip install 'aedetect[s3]'",
                field="artifact_url",
            ) from exc
        bucket, prefix = parse_s3_url(url)
        secret = settings.s3_secret_access_key
        client = make_s3_client(
            settings.s3_endpoint_url,
            settings.s3_region,
            settings.s3_access_key_id,
            None if secret is None else secret.get_secret_value(),
        )
        return S3Store(client, bucket, prefix, settings.resolved_cache_dir())
    if "://" in url:
        raise InvalidInput(
            f"{ARTIFACT_URL_SETTING} must be a directory or s3://bucket/prefix, not a "
            f"{url.split('://')[0]}:// URL",
            field="artifact_url",
        )
    return LocalStore(Path(url), ARTIFACT_URL_SETTING)


def celery_app(settings: Settings) -> Celery:
    """The Celery app of the ``celery`` job runner (the ``celery`` extra), from the settings."""
    if not settings.broker_url:
        raise InvalidInput(
            "AEDETECT_JOB_RUNNER=celery needs AEDETECT_BROKER_URL (e.g. redis://localhost:6379/0)",
            field="broker_url",
        )
    try:
        from aedetect.jobs.celery import CeleryOptions, make_celery_app
    except ImportError as exc:
        raise InvalidInput(
            "AEDETECT_JOB_RUNNER=celery needs Celery: pip install 'aedetect[celery]'", field="job_runner"
        ) from exc
    return make_celery_app(
        CeleryOptions(
            broker_url=settings.broker_url,
            queue=settings.job_queue,
            visibility_timeout_s=settings.job_visibility_timeout_s,
            max_tasks_per_child=settings.worker_max_tasks,
            concurrency=settings.job_workers,
        )
    )


def chosen_celery_app(settings: Settings) -> Celery | None:
    """The Celery app when the settings choose the ``celery`` job runner, ``None`` for the
    embedded one (the settings accept no other)."""
    return celery_app(settings) if settings.job_runner == "celery" else None


def job_runner(
    settings: Settings, app: Celery | None, registry: SqlRegistry, handlers: dict[str, JobHandler]
) -> JobRunner:
    """The job runner: each job in a process of its own started from this one (no Celery app),
    or over the Celery app's queue."""
    if app is None:
        preload = (__name__, "aedetect.jobs.warmup")  # imported once, by the forkserver
        factory = partial(job_process_runtime, settings)
        child = ChildOptions(factory, settings.train_memory_mb, preload=preload)
        return EmbeddedJobRunner(registry, handlers, max_workers=settings.job_workers, child=child)
    from aedetect.jobs.celery import CeleryJobRunner

    return CeleryJobRunner(app, registry, handlers)


def open_scorelog(settings: Settings, registry: SqlRegistry) -> ScoreLog:
    """The scoring log of this process, as the ``AEDETECT_LOG_*`` settings configure it."""
    return ScoreLog(
        registry,
        enabled=settings.log_enabled,
        sample=settings.log_sample,
        queue_rows=settings.log_queue_rows,
        retention_days=settings.log_retention_days,
        retention_rows=settings.log_retention_rows,
        retention_bytes=int(settings.log_retention_mb * 2**20),
        value_chars=settings.log_value_chars,
    )


def _recover(settings: Settings, registry: SqlRegistry, store: ArtifactStore) -> None:
    """Fail work a stopped process left behind and remove partial writes (see the module)."""
    if settings.job_runner == "embedded":
        interrupted = registry.fail_interrupted(INTERRUPTED)
        stale = store.sweep()
    else:
        interrupted = len(registry.fail_stale_jobs(settings.job_lease_s, lost_reason(settings.job_lease_s)))
        stale = store.sweep(older_than_s=settings.job_visibility_timeout_s)
    if interrupted or stale:
        logger.warning(
            "start-up: %d interrupted job(s) failed, %d partial write(s) removed", interrupted, stale
        )


def build_services(settings: Settings | None = None, *, recover: bool = True) -> Container:
    """Build and start every service for ``settings`` (default: from the environment); without
    ``recover``, skip the start-up housekeeping (in a job's process, while the server runs)."""
    settings = settings or get_settings()
    app = chosen_celery_app(settings)
    store = open_store(settings)
    paths = DataPaths()
    registry = SqlRegistry.from_url(settings.resolved_database_url())
    if recover:
        _recover(settings, registry, store)
    cache = ModelCache(lambda key: load_detector(store.local_dir(str(key))))
    scorelog = open_scorelog(settings, registry)
    limits = service_limits(settings)
    workflow = WorkflowService(registry, paths, limits)
    csv_limits = CsvLimits(settings.max_upload_bytes, settings.max_csv_columns, settings.max_csv_line_bytes)
    catalog = DatasetCatalog(registry, paths, store, csv_limits)
    datasets = DatasetService(workflow, paths, store, catalog, csv_limits)
    scoring = ScoringService(registry, paths, cache, limits, scorelog)
    evaluation = EvaluationService(registry, workflow, datasets, scoring)
    executor = TrainingExecutor(
        registry, datasets, evaluation, paths, store, cache, limits, train_threads=settings.train_threads
    )
    batch: BatchScoring  # built after the runner it submits to; the handler looks it up when called
    handlers: dict[str, JobHandler] = {
        TRAIN_JOB: executor.execute,
        SCORE_JOB: lambda job_id: batch.execute(job_id),
    }
    runner = job_runner(settings, app, registry, handlers)
    batch = BatchScoring(registry, runner, catalog, scoring, paths, store, batch_limits(settings))
    training = TrainingService(registry, runner, workflow, datasets, evaluation, paths, store)
    networks = NetworkService(registry, paths, store, training, cache, limits)
    feedback = FeedbackService(registry, scoring)
    thresholds = ThresholdService(registry, paths, store, catalog, datasets, scoring, feedback)
    access_service = AccessService(AccessStore(registry.engine))
    return Container(
        settings=settings,
        paths=paths,
        store=store,
        registry=registry,
        runner=runner,
        trainer=executor,
        model_cache=cache,
        workflow=workflow,
        datasets=datasets,
        scoring=scoring,
        evaluation=evaluation,
        training=training,
        networks=networks,
        catalog=catalog,
        models=ModelService(registry, workflow, datasets, catalog, networks, training),
        thresholds=thresholds,
        jobs=JobService(registry, paths, store),
        batch=batch,
        access=access_service,
        scorelog=scorelog,
        feedback=feedback,
        drift=DriftService(registry, paths, store, scoring, thresholds),
        housekeeping=housekeeping(settings, access_service, batch, start=recover),
    )


def worker_runtime(settings: Settings) -> WorkerRuntime:
    """What one ``aedetect worker`` child runs jobs with: the services of this host, the training
    and scoring handlers, and a lease that keeps its jobs alive and fails those of dead workers."""
    from aedetect.jobs.celery import WorkerRuntime, worker_name

    container = build_services(settings)
    handlers: dict[str, JobHandler] = {
        TRAIN_JOB: container.trainer.execute,
        SCORE_JOB: container.batch.execute,
    }
    lease = Lease(container.registry, worker_name(), settings.job_lease_s)
    return WorkerRuntime(container.registry, handlers, lease, container.close)


def job_process_runtime(settings: Settings) -> ChildRuntime:
    """What the process of one embedded job runs it with: this host's services (without the
    start-up housekeeping: the server did it, and its other jobs are running) and the handlers."""
    container = build_services(settings, recover=False)
    handlers: dict[str, JobHandler] = {
        TRAIN_JOB: container.trainer.execute,
        SCORE_JOB: container.batch.execute,
    }
    return ChildRuntime(container.registry, handlers, container.trainer.stop, container.close)
