"""Recording a training run's outcome: the model and its training scores written whole into the
artifact store, the metrics a succeeded run keeps, and the failure (or cancellation) a run and its
version record, in words that never hold a server path."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np

from aedetect.artifacts import save_detector, save_profile
from aedetect.data.profile import TrainingProfile
from aedetect.detectors.autoencoder import AutoEncoderDetector
from aedetect.domain import JobStatus, TrainingRun, VersionCondition
from aedetect.errors import DATA_DIR_SETTING, AedetectError, Cancelled, JobFailed, NotFound, storage_error
from aedetect.registry.base import Registry
from aedetect.services.paths import DataPaths
from aedetect.services.scoring import similarity_scale, v1_similarity
from aedetect.services.values import finite_or_none
from aedetect.storage import ArtifactStore

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def as_failure(exc: BaseException, job_id: str, setting: str = DATA_DIR_SETTING) -> AedetectError:
    """The domain error a failed run records and reports: its own for a domain error, a storage
    error for a full or unwritable data directory, otherwise an internal error that points to the
    server log (never the exception text, which may hold server paths)."""
    if isinstance(exc, AedetectError):
        return exc
    if isinstance(exc, OSError) and (storage := storage_error(exc, "training", setting)) is not None:
        return storage
    return JobFailed(f"internal error during training (job {job_id}; the server log has the details)")


def training_metrics(detector: AutoEncoderDetector, rows: int, dataset: Any) -> dict[str, Any]:
    """What a succeeded run records of its training: data, columns, parameters after defaults,
    the loss history, and the threshold with the v1 similarity it corresponds to."""
    history = {
        name: [finite_or_none(v) for v in detector.history_.get(name, [])]
        for name in ("train_loss", "val_loss")
    }
    threshold = float(detector.threshold_)
    return {
        "dataset": dataset,
        "rows": rows,
        "columns": detector.columns_,
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


def save_scores(store: ArtifactStore, paths: DataPaths, scores: np.ndarray, run: TrainingRun) -> str:
    """Keep the training scores (``.npy``, no pickle) for the threshold strategies; their key."""
    key = paths.training_scores(run.nn_id, run.version, run.run_id)
    with store.writing_file(key) as temp, temp.open("wb") as out:
        np.save(out, np.asarray(scores, dtype=np.float64), allow_pickle=False)
    return key


def save_model(
    store: ArtifactStore,
    paths: DataPaths,
    detector: AutoEncoderDetector,
    profile: TrainingProfile,
    run: TrainingRun,
) -> str:
    """Write the model and its training profile to a temporary directory and publish it whole
    under its key; the key."""
    key = paths.model_dir(run.nn_id, run.version, run.run_id)
    with store.writing_dir(key) as temp:
        save_detector(detector, temp)
        save_profile(profile, temp)
    return key


def record_failure(
    registry: Registry, run: TrainingRun, failure: AedetectError, condition: VersionCondition
) -> None:
    """Mark the run failed and its version in error, or, for a cancelled training, the run
    cancelled and its version back in the ``condition`` it had before (a cancel is no failure,
    and the v1 condition codes have none for it); a network deleted meanwhile is only logged."""
    code, message = failure.code, failure.message
    cancelled = isinstance(failure, Cancelled)
    if condition is VersionCondition.PROGRESS:  # left by a process that died while training
        condition = VersionCondition.ERROR
    try:
        registry.update_run(
            run.run_id,
            {
                "status": JobStatus.CANCELLED if cancelled else JobStatus.FAILED,
                "error": message,
                "metrics": {"error_code": code},
                "finished_at": utcnow(),
            },
        )
        after = condition if cancelled else VersionCondition.ERROR
        registry.update_version(run.nn_id, run.version, {"condition": after})
    except NotFound:
        logger.warning("run %s failed after its network was deleted: %s", run.run_id, message)
