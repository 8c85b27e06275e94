"""Executing a training run as a job of the job runner: train on the version's data, evaluate,
fit the IsolationForest baseline, save, and publish the run as the network's next model version.

The model is written to a temporary directory and renamed into place, and the run becomes the
version's serving model only once it is complete: a failure, a cancellation or a crash at any
point leaves the previous model serving and the run marked failed (or cancelled). Progress (epoch,
losses so far, elapsed and estimated remaining seconds) is written to the job row at most once a
second, and the job's ``cancel_requested`` flag is read before a batch at most every
:data:`CANCEL_POLL_S`, so any process can follow a training and stop it within a second.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from aedetect.data.profile import profile_frame
from aedetect.detectors.autoencoder import AutoEncoderDetector, EpochCallback, StopCheck
from aedetect.domain import Job, JobStatus, TrainingRun, VersionCondition
from aedetect.errors import Cancelled, JobFailed, NotFound
from aedetect.registry.base import Registry
from aedetect.services.baseline import Baseline, fit_baseline
from aedetect.services.evaluation import EvaluationService, anomaly_labels, assessment
from aedetect.services.feedback import feedback_frame
from aedetect.services.limits import Limits, check_network, check_training_budget, column_widths
from aedetect.services.node_data import DatasetService
from aedetect.services.paths import DataPaths
from aedetect.services.scoring import ModelCache
from aedetect.services.training.record import (
    as_failure,
    record_failure,
    save_model,
    save_scores,
    training_metrics,
    utcnow,
)
from aedetect.services.values import finite_or_none
from aedetect.services.workflow import EVAL_DATA, TRAIN_DATA
from aedetect.storage import ArtifactStore

STOPPED = "interrupted: the service stopped during this training run; train again"

PROGRESS_INTERVAL_S = 1.0
"""Least time between two progress writes of a running job."""

CANCEL_POLL_S = 0.25
"""Least time between two reads of a running job's cancellation flag (checked before every batch,
so a cancelled or stopped training ends within about this long plus one batch)."""

CANCELLED = "cancelled: stopped on request {where}; the previous version keeps serving"


@dataclass
class _Position:
    """Where a training is: the epoch under way and the batches it has done (for stop messages)."""

    epoch: int = 1
    batches: int = 0

    def within(self) -> str:
        return f"during epoch {self.epoch}, after {self.batches} of its batches"


class TrainingExecutor:
    """The job handler: trains, evaluates, saves and publishes one run."""

    def __init__(
        self,
        registry: Registry,
        datasets: DatasetService,
        evaluation: EvaluationService,
        paths: DataPaths,
        store: ArtifactStore,
        cache: ModelCache,
        limits: Limits,
        train_threads: int | None = None,
    ) -> None:
        self._registry = registry
        self._train_threads = train_threads
        self._datasets = datasets
        self._evaluation = evaluation
        self._paths = paths
        self._store = store
        self._cache = cache
        self._limits = limits
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Make running and queued trainings end before their next batch, marked failed, so the
        service can shut down without waiting for them; the previous models keep serving."""
        self._stopping.set()

    def _check_not_stopped(self, where: str = "") -> None:
        if self._stopping.is_set():
            raise JobFailed(f"{STOPPED} ({where})" if where else STOPPED)

    def execute(self, job_id: str) -> None:
        """Run the training job ``job_id``; raises (after recording the failure) if it fails."""
        job = self._registry.get_job(job_id)
        run = self._run_of(job)
        nn_id, version = run.nn_id, run.network_version
        self._registry.update_run(run.run_id, {"status": JobStatus.RUNNING, "started_at": utcnow()})
        condition = self._registry.get_version(nn_id, version).condition
        self._registry.update_version(nn_id, version, {"condition": VersionCondition.PROGRESS})
        written: list[str] = []
        try:
            started = time.monotonic()
            detector, frame, metrics, result = self._fit(job_id, run)
            self._check_not_stopped("after its epochs, before its baseline was fitted")
            baseline = self._baseline(detector, frame, metrics)
            self._check_not_stopped("after its epochs, before it was saved")
            metrics["training_time_s"] = round(time.monotonic() - started, 3)
            metrics["evaluation"] = self._assess(run, detector, baseline)
            scores = detector.decision_function(frame)
            profile = profile_frame(frame, detector.column_kinds_, scores)
            written.append(save_model(self._store, self._paths, detector, profile, run))
            written.append(save_scores(self._store, self._paths, scores, run))
            previous = self._registry.get_active_run(nn_id, version)
            finished = self._registry.finish_run(
                run.run_id,
                {"model_path": written[0], "metrics": metrics, "result": result,
                 "finished_at": utcnow()},
                float(detector.threshold_),
                {"contamination": detector.contamination},
            )  # fmt: skip
            if self._registry.get_network(nn_id).auto_promote:
                self._registry.activate_run(run.run_id, note=f"trained by job {job_id}")
        except Exception as exc:
            self._store.remove(written)
            failure = as_failure(exc, job_id, self._store.setting)
            record_failure(self._registry, run, failure, condition)
            if failure is exc:
                raise
            raise failure from exc
        if previous is not None:
            self._cache.invalidate([previous.run_id])
        self._registry.update_version(nn_id, version, {"condition": VersionCondition.FINISHED})
        self._registry.update_job(
            job_id, {"result": {"run_id": run.run_id, "version": finished.model_version}}
        )

    def _run_of(self, job: Job) -> TrainingRun:
        nn_id, version = job.params["nn_id"], int(job.params["version"])
        for run in self._registry.list_runs(nn_id, version):
            if run.job_id == job.job_id:
                return run
        raise NotFound(f"no training run belongs to job {job.job_id}")

    def _fit(
        self, job_id: str, run: TrainingRun
    ) -> tuple[AutoEncoderDetector, pd.DataFrame, dict[str, Any], Any]:
        """Train on the version's training data and evaluate on its evaluation data."""
        self._check_not_stopped("before its training began")
        frame = self._datasets.load_frame(run.nn_id, run.network_version, TRAIN_DATA)
        params = run.params["detector"]
        columns = params["columns"]
        provenance = None
        if run.params.get("feedback"):
            frame, provenance = feedback_frame(frame, self._registry.list_feedback(run.nn_id), columns)
        widths = column_widths(frame, columns, params.get("categorical"), params.get("vocab_size"))
        width = sum(w for _, w in widths)
        hidden = params.get("n_hidden") or AutoEncoderDetector.default_hidden(len(columns))
        check_network(hidden, self._limits, n_input=width, inputs=f"{width} encoded inputs")
        check_training_budget(widths, hidden, len(frame), params, self._limits)
        detector = AutoEncoderDetector(**{**params, "n_threads": self._train_threads})
        position = _Position()
        detector.fit(
            frame,
            callback=self._progress_writer(job_id, position),
            should_stop=self._stop_check(job_id, position),
        )
        self._check_cancelled(job_id, "after the last epoch")
        threshold = float(detector.threshold_)
        result = self._evaluation.evaluate(run.nn_id, run.network_version, detector, threshold)
        metrics = training_metrics(detector, len(frame), run.params.get("dataset"))
        if result is not None and result.get("roc_auc") is not None:
            metrics["roc_auc"] = result["roc_auc"]
        if provenance is not None:
            metrics["feedback"] = provenance
        return detector, frame, metrics, result

    def _baseline(
        self, detector: AutoEncoderDetector, frame: pd.DataFrame, metrics: dict[str, Any]
    ) -> Baseline:
        """Fit the IsolationForest on the same rows and record its summary on the metrics."""
        params = metrics["params"]
        baseline = fit_baseline(
            frame,
            detector.column_kinds_,
            params["vocab_size"],
            params["numeric_transform"],
            detector.contamination,
        )
        metrics["baseline"] = baseline.summary()
        return baseline

    def _assess(
        self, run: TrainingRun, detector: AutoEncoderDetector, baseline: Baseline
    ) -> dict[str, Any] | None:
        """Evaluation metrics (with the baseline) on labelled evaluation data, else ``None``."""
        settings = self._evaluation.settings(run.nn_id, run.network_version)
        label = settings.get("label_column")
        if label is None or self._datasets.columns(run.nn_id, run.network_version, EVAL_DATA) is None:
            return None
        frame = self._datasets.load_frame(run.nn_id, run.network_version, EVAL_DATA)
        truth = anomaly_labels(frame[label], settings.get("normal_value"))
        return assessment(
            truth, detector.decision_function(frame), float(detector.threshold_), baseline.scores(frame),
            baseline.threshold,
        )  # fmt: skip

    def _check_cancelled(self, job_id: str, where: str) -> None:
        """Raise ``JobFailed`` if the service is stopping, ``Cancelled`` if the job was cancelled."""
        self._check_not_stopped(where)
        if self._registry.cancel_requested(job_id):
            raise Cancelled(CANCELLED.format(where=where))

    def _stop_check(self, job_id: str, position: _Position) -> StopCheck:
        """The check the detector makes before every batch: raises ``JobFailed`` once the service
        is stopping, ``Cancelled`` once the job was cancelled (read every ``CANCEL_POLL_S``)."""
        last = [time.monotonic()]

        def should_stop() -> bool:
            now = time.monotonic()
            if now - last[0] >= CANCEL_POLL_S:
                last[0] = now
                self._check_cancelled(job_id, position.within())
            else:
                self._check_not_stopped(position.within())
            position.batches += 1
            return False

        return should_stop

    def _progress_writer(self, job_id: str, position: _Position) -> EpochCallback:
        """An epoch callback recording progress on the job at most every ``PROGRESS_INTERVAL_S``
        (and always at the last epoch); stopping is the stop check's (before every batch)."""
        started = time.monotonic()
        last = [0.0]
        history: dict[str, list[float | None]] = {"train_loss": [], "val_loss": []}

        def record(epoch: int, epochs: int, train_loss: float, val_loss: float | None) -> None:
            position.epoch, position.batches = epoch + 1, 0
            history["train_loss"].append(finite_or_none(train_loss))
            if val_loss is not None:
                history["val_loss"].append(finite_or_none(val_loss))
            now = time.monotonic()
            if epoch < epochs and now - last[0] < PROGRESS_INTERVAL_S:
                return
            last[0] = now
            elapsed = now - started
            progress = {
                "epoch": epoch,
                "max_epochs": epochs,
                "train_loss": finite_or_none(train_loss),
                "val_loss": None if val_loss is None else finite_or_none(val_loss),
                "elapsed_s": round(elapsed, 3),
                "eta_s": round(elapsed / epoch * (epochs - epoch), 3),
                "history": {k: list(v) for k, v in history.items()},
            }
            self._registry.update_job(job_id, {"progress": progress})

        return record
