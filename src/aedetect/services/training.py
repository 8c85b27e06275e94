"""Training runs: checked and submitted by :class:`TrainingService`, executed by
:class:`TrainingExecutor` as a job of the job runner.

A run's plan (columns, detector hyperparameters) is checked before anything is written, so a
refused request changes nothing. The model is written to a temporary directory and renamed into
place, and the run becomes the version's serving model only once it is complete: a failure, a
cancellation or a crash at any point leaves the previous model serving and the run marked failed
(or cancelled).

A succeeded run is the network's next numbered model version: it records what it was trained on
(dataset, rows, columns and kinds, parameters after defaults, and, when asked, the operator
feedback added and removed), its loss history and training time, its first threshold revision and
the IsolationForest baseline fitted on the same rows. Its model directory holds the training
profile beside the detector (:mod:`aedetect.data.profile`), which drift reports compare with. Progress
(epoch, losses so far, elapsed and estimated remaining seconds) is written to the job row at most
once a second, and the job's ``cancel_requested`` flag is read before a batch at most every
:data:`CANCEL_POLL_S`, so any process can follow a training and stop it within a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from anyio import to_thread

from aedetect.artifacts import save_detector, save_profile
from aedetect.data.profile import TrainingProfile, profile_frame
from aedetect.detectors.autoencoder import AutoEncoderDetector, EpochCallback, StopCheck
from aedetect.domain import Job, JobStatus, TrainingRun, VersionCondition
from aedetect.errors import (
    DATA_DIR_SETTING,
    AedetectError,
    Cancelled,
    Conflict,
    InvalidInput,
    JobFailed,
    NotFound,
    error_type,
    listed,
    quoted,
    storage_error,
)
from aedetect.jobs.base import JobRunner
from aedetect.registry.base import Registry
from aedetect.services.baseline import Baseline, fit_baseline
from aedetect.services.evaluation import EvaluationService, anomaly_labels, assessment
from aedetect.services.feedback import feedback_frame
from aedetect.services.jobs import wait_for_job
from aedetect.services.limits import (
    Limits,
    check_epochs,
    check_network,
    check_training_queue,
    encoded_width,
)
from aedetect.services.node_data import DatasetService
from aedetect.services.paths import DataPaths, check_nn_id
from aedetect.services.scoring import ModelCache, finite_or_none, similarity_scale, v1_similarity
from aedetect.services.workflow import (
    EVAL_DATA,
    FEED_NODE,
    NETCONF,
    NETCONF_NODE,
    TRAIN_DATA,
    TRAIN_FEED,
    WorkflowService,
    validate_feeder,
    validate_netconf,
)
from aedetect.storage import ArtifactStore

logger = logging.getLogger(__name__)

TRAIN_JOB = "train"
"""Job kind of a training run."""

NATIVE_PARAMS = "params"
"""Key of the ``netconf_node`` settings holding a native-API model's detector parameters."""

STOPPED = "interrupted: the service stopped during this training run; train again"

PROGRESS_INTERVAL_S = 1.0
"""Least time between two progress writes of a running job."""

CANCEL_POLL_S = 0.25
"""Least time between two reads of a running job's cancellation flag (checked before every batch,
so a cancelled or stopped training ends within about this long plus one batch)."""

CANCELLED = "cancelled: stopped on request {where}; the previous version keeps serving"


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def _as_failure(exc: BaseException, job_id: str, setting: str = DATA_DIR_SETTING) -> AedetectError:
    """The domain error a failed run records and reports: its own for a domain error, a storage
    error for a full or unwritable data directory, otherwise an internal error that points to the
    server log (never the exception text, which may hold server paths)."""
    if isinstance(exc, AedetectError):
        return exc
    if isinstance(exc, OSError) and (storage := storage_error(exc, "training", setting)) is not None:
        return storage
    return JobFailed(f"internal error during training (job {job_id}; the server log has the details)")


def _failure(exc: BaseException, job_id: str) -> tuple[str, str]:
    """``(code, message)`` recorded on a failed run."""
    failure = _as_failure(exc, job_id)
    return failure.code, failure.message


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
            written.append(self._save(detector, profile, run))
            written.append(self._save_scores(scores, run))
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
            failure = _as_failure(exc, job_id, self._store.setting)
            self._record_failure(run, failure, condition)
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
        width = encoded_width(frame, columns, params.get("categorical"), params.get("vocab_size") or 10)
        hidden = params.get("n_hidden") or AutoEncoderDetector.default_hidden(len(columns))
        check_network(hidden, self._limits, n_input=width, inputs=f"{width} encoded inputs")
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
        history = {
            name: [finite_or_none(v) for v in detector.history_.get(name, [])]
            for name in ("train_loss", "val_loss")
        }
        columns = detector.columns_
        metrics: dict[str, Any] = {
            "dataset": run.params.get("dataset"),
            "rows": len(frame),
            "columns": columns,
            "column_kinds": detector.column_kinds_,
            "n_input": detector.n_input_,
            "params": detector.effective_params_,  # every hyperparameter as used, after defaults
            "epochs": len(history["train_loss"]),
            "train_loss": history["train_loss"][-1] if history["train_loss"] else None,
            "val_loss": history["val_loss"][-1] if history["val_loss"] else None,
            "history": history,
            "threshold": threshold,
            "reference_similarity": float(v1_similarity(threshold, similarity_scale(threshold))),
        }
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

    def _save_scores(self, scores: np.ndarray, run: TrainingRun) -> str:
        """Keep the training scores (``.npy``, no pickle) for the threshold strategies."""
        key = self._paths.training_scores(run.nn_id, run.network_version, run.run_id)
        with self._store.writing_file(key) as temp, temp.open("wb") as out:
            np.save(out, np.asarray(scores, dtype=np.float64), allow_pickle=False)
        return key

    def _save(self, detector: AutoEncoderDetector, profile: TrainingProfile, run: TrainingRun) -> str:
        """Write the model and its training profile to a temporary directory and publish it whole
        under its key."""
        key = self._paths.model_dir(run.nn_id, run.network_version, run.run_id)
        with self._store.writing_dir(key) as temp:
            save_detector(detector, temp)
            save_profile(profile, temp)
        return key

    def _record_failure(self, run: TrainingRun, failure: AedetectError, condition: VersionCondition) -> None:
        """Mark the run failed and its version in error, or, for a cancelled training, the run
        cancelled and its version back in the ``condition`` it had before (a cancel is no failure,
        and the v1 condition codes have none for it); a network deleted meanwhile is only logged."""
        code, message = failure.code, failure.message
        cancelled = isinstance(failure, Cancelled)
        if condition is VersionCondition.PROGRESS:  # left by a process that died while training
            condition = VersionCondition.ERROR
        try:
            self._registry.update_run(
                run.run_id,
                {
                    "status": JobStatus.CANCELLED if cancelled else JobStatus.FAILED,
                    "error": message,
                    "metrics": {"error_code": code},
                    "finished_at": utcnow(),
                },
            )
            after = condition if cancelled else VersionCondition.ERROR
            self._registry.update_version(run.nn_id, run.network_version, {"condition": after})
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
        paths: DataPaths,
        store: ArtifactStore,
    ) -> None:
        self._registry = registry
        self._runner = runner
        self._workflow = workflow
        self._datasets = datasets
        self._evaluation = evaluation
        self._paths = paths
        self._store = store
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
                f"feed_train encode_column lists {quoted(label)}, the eval_node label_column: a label is "
                "never a model input; remove it from encode_column",
                field="encode_column",
            )
        if not columns:
            excluded = {label, *feeder.get("exclude_column", [])}
            columns = [c for c in available if c not in excluded]
        missing = [c for c in columns if c not in available]
        if missing:
            raise InvalidInput(
                f"feed_train encode_column names column(s) the datasrc files lack: {listed(missing)} "
                f"(the files have {len(available)} columns: {listed(available)})",
                field="encode_column",
            )
        if not columns:
            raise InvalidInput("no column is left to train on", field="encode_column")
        categorical = feeder.get("categorical")
        if categorical and not set(categorical) <= set(columns):
            raise InvalidInput(
                f"feed_train categorical names columns the model does not use: "
                f"{listed(c for c in categorical if c not in columns)}",
                field="categorical",
            )
        stored = self._workflow.config(nn_id, version, NETCONF, NETCONF_NODE)
        limits = self._workflow.limits
        self._evaluation.check(nn_id, version, columns)
        native = stored.get(NATIVE_PARAMS)
        if isinstance(native, dict):
            # a model of the native API: the library's own parameter names and defaults
            detector = {
                **native,
                "columns": columns,
                "categorical": categorical,
                "vocab_size": feeder["vocab_size"],
            }
        else:
            netconf = validate_netconf(stored, limits)
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
        check_epochs(detector.get("epochs"), limits, "epochs" if isinstance(native, dict) else "iter")
        hidden = detector.get("n_hidden") or AutoEncoderDetector.default_hidden(len(columns))
        at_least = f"at least 2 inputs for each of {len(columns)} columns"
        check_network(hidden, limits, n_input=2 * len(columns), inputs=at_least)
        plan: dict[str, Any] = {"detector": detector}
        dataset = self._datasets.dataset_of(nn_id, version, TRAIN_DATA)
        if dataset is not None:
            plan["dataset"] = dataset
        return plan

    def start(self, nn_id: str, version: int, *, feedback: bool = False) -> TrainingRun:
        """Check the plan and that the model directory is writable, then queue a run;
        ``Conflict`` while the version already trains. With ``feedback``, the operators' labels
        change the training rows (confirmed normal rows in, confirmed anomalies out)."""
        with self._lock:
            plan = self.plan(nn_id, version)
            self._store.check_writable(self._paths.version_models_dir(nn_id, version), "preparing to train")
            if feedback:
                plan["feedback"] = True
            busy = self.unfinished_runs(nn_id, version)
            if busy:
                raise Conflict(
                    f"version {version} of network {nn_id} is already training (run {busy[0].run_id} is "
                    f"{busy[0].status.value}); wait until it finishes",
                    field="ver",
                )
            queued = self._registry.count_jobs([JobStatus.QUEUED], kind=TRAIN_JOB)
            if queued >= self._workflow.limits.max_queued_trainings:
                check_training_queue(queued, self._workflow.limits, self._soonest_end())
            job = self._registry.create_job(TRAIN_JOB, {"nn_id": nn_id, "version": version}, model=nn_id)
            try:  # checked again under the version's lock: another API process may have just started one
                run = self._registry.create_run(nn_id, version, plan, job.job_id, exclusive=True)
            except Conflict as exc:
                self._registry.finish_job(job.job_id, JobStatus.FAILED, exc.message)
                raise
        try:
            self._runner.submit(job.job_id, TRAIN_JOB)
        except Exception as exc:
            code, message = _failure(exc, job.job_id)
            failed = {"status": JobStatus.FAILED, "error": message, "finished_at": utcnow()}
            self._registry.update_job(job.job_id, failed)
            self._registry.update_run(run.run_id, {**failed, "metrics": {"error_code": code}})
            raise
        return run

    def _soonest_end(self) -> float | None:
        """Seconds until the first running training is estimated to end (``None``: no estimate yet)."""
        running = self._registry.list_jobs([JobStatus.RUNNING], kind=TRAIN_JOB)
        etas = [job.progress.get("eta_s") for job in running if isinstance(job.progress, dict)]
        known = [float(eta) for eta in etas if isinstance(eta, int | float) and not isinstance(eta, bool)]
        return min(known) if known else None

    async def train(
        self, nn_id: str, version: int, abandoned: Callable[[], Awaitable[bool]] | None = None
    ) -> TrainingRun:
        """Run a training to its end, waiting by polling the registry (no thread is held while it
        trains); a failed run raises its error (a domain error keeps its kind).

        ``abandoned`` tells whether the caller has gone (a client that hung up): a training still
        queued then is withdrawn, so a client that gave up does not have its training run later;
        one already running goes on and becomes a version as usual."""
        run = await to_thread.run_sync(self.start, nn_id, version)
        if run.job_id is not None:
            job = await wait_for_job(self._registry, run.job_id, abandoned=abandoned)
            if not job.status.finished:
                withdrawn = await to_thread.run_sync(self._withdraw, job.job_id)
                raise Cancelled(
                    f"training run {run.run_id} "
                    + ("withdrawn before it started" if withdrawn else "goes on without a waiting client")
                    + ": the client went away"
                )
        run = await to_thread.run_sync(self._registry.get_run, run.run_id)
        if run.status is not JobStatus.SUCCEEDED:
            error = error_type(str(run.metrics.get("error_code")))
            raise error(f"training run {run.run_id} {run.status.value}: {run.error}")
        return run

    def _withdraw(self, job_id: str) -> bool:
        """Cancel the job if it is still queued; ``True`` when it was."""
        if self._registry.get_job(job_id).status is not JobStatus.QUEUED:
            return False
        try:
            return self._registry.request_cancel(job_id).status is JobStatus.CANCELLED
        except Conflict:  # finished meanwhile
            return False

    def unfinished_runs(self, nn_id: str, version: int) -> list[TrainingRun]:
        """The version's queued or running runs."""
        return [r for r in self._registry.list_runs(nn_id, version) if not r.status.finished]

    def unfinished_jobs(self) -> list[Job]:
        """Every queued or running training job, newest first."""
        return self._registry.list_jobs([JobStatus.QUEUED, JobStatus.RUNNING], kind=TRAIN_JOB)

    def unfinished_run_ids(self) -> dict[JobStatus, list[str]]:
        """The run ids (``<nn_id>_<version>_<n>``) of every queued and running training, oldest first."""
        found: dict[JobStatus, list[str]] = {JobStatus.QUEUED: [], JobStatus.RUNNING: []}
        for job in reversed(self.unfinished_jobs()):
            try:
                runs = self._registry.list_runs(job.params["nn_id"], int(job.params["version"]))
            except NotFound:  # deleted meanwhile
                continue
            found[job.status].extend(r.run_id for r in runs if r.job_id == job.job_id)
        return found

    def runs(self, nn_id: str, version: int) -> list[TrainingRun]:
        """All runs of the version, oldest first."""
        self._registry.get_version(check_nn_id(nn_id), version)
        return self._registry.list_runs(nn_id, version)
