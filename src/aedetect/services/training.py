"""Training runs: checked and submitted by :class:`TrainingService`, executed by
:class:`TrainingExecutor` as a job of the job runner.

A run's plan (columns, detector hyperparameters) is checked before anything is written, so a
refused request changes nothing. The model is written to a temporary directory and renamed into
place, and the run becomes the version's serving model only once it is complete: a failure or a
crash at any point leaves the previous model serving and the run marked failed.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aedetect.artifacts import save_detector
from aedetect.detectors.autoencoder import AutoEncoderDetector, EpochCallback
from aedetect.domain import Job, JobStatus, TrainingRun, VersionCondition
from aedetect.errors import AedetectError, Conflict, InvalidInput, JobFailed, NotFound, error_type
from aedetect.jobs.base import JobRunner
from aedetect.registry.base import Registry
from aedetect.services.datasets import DatasetService
from aedetect.services.evaluation import EvaluationService, reference_similarity
from aedetect.services.paths import TEMP_PREFIX, DataPaths, check_nn_id
from aedetect.services.scoring import ModelCache, finite_or_none
from aedetect.services.workflow import (
    FEED_NODE,
    NETCONF,
    NETCONF_NODE,
    TRAIN_DATA,
    TRAIN_FEED,
    WorkflowService,
    validate_feeder,
    validate_netconf,
)

logger = logging.getLogger(__name__)

TRAIN_JOB = "train"
"""Job kind of a training run."""

STOPPED = "interrupted: the service stopped during this training run; train again"

PROGRESS_INTERVAL_S = 1.0
"""Least time between two progress writes of a running job."""


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def _failure(exc: BaseException) -> tuple[str, str]:
    """``(code, message)`` recorded on a failed run."""
    if isinstance(exc, AedetectError):
        return exc.code, exc.message
    return JobFailed.code, f"{type(exc).__name__}: {exc}"


class TrainingExecutor:
    """The job handler: trains, evaluates, saves and publishes one run."""

    def __init__(
        self,
        registry: Registry,
        datasets: DatasetService,
        evaluation: EvaluationService,
        paths: DataPaths,
        cache: ModelCache,
        train_threads: int | None = None,
    ) -> None:
        self._registry = registry
        self._train_threads = train_threads
        self._datasets = datasets
        self._evaluation = evaluation
        self._paths = paths
        self._cache = cache
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Make running and queued trainings end at their next epoch, marked failed, so the
        service can shut down without waiting for them; the previous models keep serving."""
        self._stopping.set()

    def _check_not_stopped(self) -> None:
        if self._stopping.is_set():
            raise JobFailed(STOPPED)

    def execute(self, job_id: str) -> None:
        """Run the training job ``job_id``; raises (after recording the failure) if it fails."""
        job = self._registry.get_job(job_id)
        run = self._run_of(job)
        nn_id, version = run.nn_id, run.version
        self._registry.update_run(run.run_id, {"status": JobStatus.RUNNING, "started_at": utcnow()})
        self._registry.update_version(nn_id, version, {"condition": VersionCondition.PROGRESS})
        model_dir = None
        try:
            detector, metrics, result = self._fit(job_id, run)
            model_dir = self._save(detector, run)
            previous = self._registry.get_active_run(nn_id, version)
            self._registry.update_run(
                run.run_id,
                {
                    "status": JobStatus.SUCCEEDED,
                    "model_path": self._paths.relative(model_dir),
                    "metrics": metrics,
                    "result": result,
                    "finished_at": utcnow(),
                },
            )
            self._registry.activate_run(run.run_id)
        except Exception as exc:
            if model_dir is not None:
                shutil.rmtree(model_dir, ignore_errors=True)
            self._record_failure(run, exc)
            raise
        if previous is not None:
            self._cache.invalidate([previous.run_id])
        self._registry.update_version(nn_id, version, {"condition": VersionCondition.FINISHED})
        self._registry.update_job(job_id, {"result": {"run_id": run.run_id}})

    def _run_of(self, job: Job) -> TrainingRun:
        nn_id, version = job.params["nn_id"], int(job.params["version"])
        for run in self._registry.list_runs(nn_id, version):
            if run.job_id == job.job_id:
                return run
        raise NotFound(f"no training run belongs to job {job.job_id}")

    def _fit(self, job_id: str, run: TrainingRun) -> tuple[AutoEncoderDetector, dict[str, Any], Any]:
        """Train on the version's training data and evaluate on its evaluation data."""
        self._check_not_stopped()
        frame = self._datasets.load_frame(run.nn_id, run.version, TRAIN_DATA)
        detector = AutoEncoderDetector(**run.params["detector"], n_threads=self._train_threads)
        detector.fit(frame, callback=self._progress_writer(job_id))
        reference = reference_similarity(detector.similarity(frame), detector.contamination)
        result = self._evaluation.evaluate(run.nn_id, run.version, detector, reference)
        history = detector.history_
        metrics: dict[str, Any] = {
            "rows": len(frame),
            "columns": detector.columns_,
            "n_input": detector.n_input_,
            "epochs": len(history.get("train_loss", [])),
            "train_loss": finite_or_none(history["train_loss"][-1]) if history.get("train_loss") else None,
            "val_loss": finite_or_none(history["val_loss"][-1]) if history.get("val_loss") else None,
            "threshold": float(detector.threshold_),
            "reference_similarity": reference,
            "params": detector.effective_params_,
        }
        if result is not None and result.get("roc_auc") is not None:
            metrics["roc_auc"] = result["roc_auc"]
        return detector, metrics, result

    def _progress_writer(self, job_id: str) -> EpochCallback:
        """An epoch callback recording progress on the job at most every ``PROGRESS_INTERVAL_S``."""
        last = [0.0]

        def record(epoch: int, epochs: int, train_loss: float, val_loss: float | None) -> None:
            self._check_not_stopped()
            now = time.monotonic()
            if epoch < epochs and now - last[0] < PROGRESS_INTERVAL_S:
                return
            last[0] = now
            progress = {
                "epoch": epoch,
                "epochs": epochs,
                "train_loss": finite_or_none(train_loss),
                "val_loss": None if val_loss is None else finite_or_none(val_loss),
            }
            self._registry.update_job(job_id, {"progress": progress})

        return record

    def _save(self, detector: AutoEncoderDetector, run: TrainingRun) -> Path:
        """Write the model to a temporary directory and rename it into place (atomic)."""
        final = self._paths.model_dir(run.nn_id, run.version, run.run_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.parent / f"{TEMP_PREFIX}{run.run_id}-{uuid.uuid4().hex[:8]}"
        try:
            save_detector(detector, temp)
            if final.exists():
                shutil.rmtree(final)
            os.replace(temp, final)
        finally:
            if temp.exists():
                shutil.rmtree(temp, ignore_errors=True)
        return final

    def _record_failure(self, run: TrainingRun, exc: BaseException) -> None:
        """Mark the run and its version failed; a network deleted meanwhile is only logged."""
        code, message = _failure(exc)
        try:
            self._registry.update_run(
                run.run_id,
                {
                    "status": JobStatus.FAILED,
                    "error": message,
                    "metrics": {"error_code": code},
                    "finished_at": utcnow(),
                },
            )
            self._registry.update_version(run.nn_id, run.version, {"condition": VersionCondition.ERROR})
        except NotFound:
            logger.warning("run %s failed after its network was deleted: %s", run.run_id, message)


class TrainingService:
    """Checks a version's training plan, submits runs to the job runner and reports on them."""

    def __init__(
        self,
        registry: Registry,
        runner: JobRunner,
        workflow: WorkflowService,
        datasets: DatasetService,
        evaluation: EvaluationService,
    ) -> None:
        self._registry = registry
        self._runner = runner
        self._workflow = workflow
        self._datasets = datasets
        self._evaluation = evaluation
        self._lock = threading.RLock()

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Hold off new runs while the caller checks for and changes running work."""
        with self._lock:
            yield

    def plan(self, nn_id: str, version: int) -> dict[str, Any]:
        """The run parameters from the version's node settings, or ``InvalidInput`` saying what
        to fix (missing data, unknown columns, incompatible evaluation settings)."""
        self._workflow.nodes(check_nn_id(nn_id), version)
        files = self._datasets.files(nn_id, version, TRAIN_DATA)
        if not files:
            raise InvalidInput(
                f"version {version} of network {nn_id} has no training data: upload CSV files to node "
                f"'datasrc' first (POST /api/v1/type/wf/state/framedata/src/local/form/raw/prg/source/"
                f"nnid/{nn_id}/ver/{version}/node/datasrc/)",
                field="datasrc",
            )
        available = files[0].columns
        if sum(f.rows for f in files) < 2:
            raise InvalidInput("the datasrc files hold fewer than 2 rows: upload more data", field="datasrc")
        feeder = validate_feeder(self._workflow.config(nn_id, version, TRAIN_FEED, FEED_NODE))
        label = self._evaluation.settings(nn_id, version).get("label_column")
        columns: list[str] = feeder["encode_column"]
        if label is not None and label in columns:
            raise InvalidInput(
                f"feed_train encode_column lists {label!r}, the eval_node label_column: a label is "
                "never a model input; remove it from encode_column",
                field="encode_column",
            )
        if not columns:
            excluded = {label, *feeder.get("exclude_column", [])}
            columns = [c for c in available if c not in excluded]
        missing = [c for c in columns if c not in available]
        if missing:
            raise InvalidInput(
                f"feed_train encode_column names column(s) the datasrc files lack: {', '.join(missing)} "
                f"(available: {', '.join(available)})",
                field="encode_column",
            )
        if not columns:
            raise InvalidInput("no column is left to train on", field="encode_column")
        categorical = feeder.get("categorical")
        if categorical and not set(categorical) <= set(columns):
            raise InvalidInput(
                f"feed_train categorical names columns the model does not use: "
                f"{', '.join(c for c in categorical if c not in columns)}",
                field="categorical",
            )
        netconf = validate_netconf(self._workflow.config(nn_id, version, NETCONF, NETCONF_NODE))
        self._evaluation.check(nn_id, version, columns)
        detector = {
            "columns": columns,
            "categorical": categorical,
            "vocab_size": feeder["vocab_size"],
            "n_hidden": netconf.get("n_hidden"),
            "epochs": netconf.get("iter"),
            "batch_size": netconf.get("batch_size"),
            "learning_rate": netconf.get("learning_rate"),
            "random_state": netconf.get("random_state"),
            # ``iter`` is the exact number of passes (v1 semantics): no early stopping unless asked.
            "validation_fraction": netconf.get("validation_fraction", 0.0),
        }
        return {"detector": detector}

    def start(self, nn_id: str, version: int) -> TrainingRun:
        """Check the plan and queue a run; ``Conflict`` while the version already trains."""
        with self._lock:
            plan = self.plan(nn_id, version)
            busy = self.unfinished_runs(nn_id, version)
            if busy:
                raise Conflict(
                    f"version {version} of network {nn_id} is already training (run {busy[0].run_id} is "
                    f"{busy[0].status.value}); wait until it finishes",
                    field="ver",
                )
            job = self._registry.create_job(TRAIN_JOB, {"nn_id": nn_id, "version": version})
            run = self._registry.create_run(nn_id, version, plan, job.job_id)
        try:
            self._runner.submit(job.job_id, TRAIN_JOB)
        except Exception as exc:
            code, message = _failure(exc)
            failed = {"status": JobStatus.FAILED, "error": message, "finished_at": utcnow()}
            self._registry.update_job(job.job_id, failed)
            self._registry.update_run(run.run_id, {**failed, "metrics": {"error_code": code}})
            raise
        return run

    def wait(self, run: TrainingRun, timeout: float | None = None) -> TrainingRun:
        """Block until ``run`` has finished (or ``timeout``), then return its current state."""
        if run.job_id is not None:
            self._runner.wait(run.job_id, timeout)
        return self._registry.get_run(run.run_id)

    def train(self, nn_id: str, version: int) -> TrainingRun:
        """Run a training to its end; a failed run raises its error (a domain error keeps its kind)."""
        run = self.wait(self.start(nn_id, version))
        if run.status is not JobStatus.SUCCEEDED:
            error = error_type(str(run.metrics.get("error_code")))
            raise error(f"training run {run.run_id} failed: {run.error}")
        return run

    def unfinished_runs(self, nn_id: str, version: int) -> list[TrainingRun]:
        """The version's queued or running runs."""
        return [r for r in self._registry.list_runs(nn_id, version) if not r.status.finished]

    def unfinished_jobs(self) -> list[Job]:
        """Every queued or running training job, newest first."""
        return self._registry.list_jobs([JobStatus.QUEUED, JobStatus.RUNNING], kind=TRAIN_JOB)

    def runs(self, nn_id: str, version: int) -> list[TrainingRun]:
        """All runs of the version, oldest first."""
        self._registry.get_version(check_nn_id(nn_id), version)
        return self._registry.list_runs(nn_id, version)
