"""Bodies of the job routes: a training or scoring job, its progress and a scoring job's rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aedetect.api.v2.schemas.common import JOB_EXAMPLE, WHEN, F, Public
from aedetect.api.v2.schemas.scoring import ExplainedRow
from aedetect.domain import JobStatus

JobStatusName = JobStatus  # the enum itself: one list of statuses, the same values in the schema
"""Where a job (and the training run it drives) is."""


class LossHistory(Public):
    train_loss: list[float | None] = F("Training loss per epoch.", [0.93, 0.41])
    val_loss: list[float | None] = F("Validation loss per epoch (empty without validation).", [0.95, 0.44])


class JobProgress(Public):
    epoch: int | None = F("Epochs done (training).", 12, None)
    max_epochs: int | None = F("Most epochs it will run (early stopping may end sooner).", 30, None)
    train_loss: float | None = F("Training loss of the last epoch.", 0.21, None)
    val_loss: float | None = F("Validation loss of the last epoch.", 0.23, None)
    elapsed_s: float | None = F("Seconds since training started.", 41.5, None)
    eta_s: float | None = F("Estimated seconds left (at most; early stopping may end sooner).", 62.3, None)
    history: LossHistory | None = F("Losses of every epoch so far, for charts.", None, None)
    rows_done: int | None = F("Rows scored so far (scoring).", 20000, None)
    rows_total: int | None = F("Rows to score (scoring).", 22544, None)


class JobPublic(Public):
    id: str = F("Job id.", JOB_EXAMPLE)
    kind: Literal["train", "score"] = F("What the job does.", "train")
    model: str | None = F("The model it works on.", "plant-7")
    status: JobStatusName = F("Where the job is.", "running")
    progress: JobProgress = F("Progress so far.", {"epoch": 12, "max_epochs": 30})
    version: int | None = F("The model version it made (training) or used (scoring).", 4)
    error: str | None = F("Why it failed or was cancelled.", None)
    result: dict[str, Any] | None = F("Result summary (scoring: rows, anomalies, threshold).", None)
    result_url: str | None = F("Where to download the scored CSV (scoring jobs that succeeded).", None)
    cancel_requested: bool = F("Whether someone asked it to stop.", False)
    created_at: datetime | None = F("When it was queued (UTC).", WHEN)
    started_at: datetime | None = F("When a worker took it (UTC).", None)
    finished_at: datetime | None = F("When it ended (UTC).", None)
    worker: str | None = F(
        "The worker process that took it (host:process id; the celery job runner only).", "worker-2:4187"
    )


class JobList(Public):
    items: list[JobPublic] = F("One page of jobs, newest first.", [])
    next: str | None = F("Cursor of the next page, null at the end.", None)


class JobRows(Public):
    job: str = F("The scoring job.", JOB_EXAMPLE)
    model: str = F("Model name.", "plant-7")
    version: int | None = F("Model version that scored.", 3)
    threshold: float = F("The threshold the job judged by.", 3.2)
    rows: int = F("Rows the job scored.", 22544)
    anomalies: int = F("Rows it flagged.", 512)
    items: list[ExplainedRow] = F("The highest-scoring rows, highest first.", [])
    next: str | None = F("Always null: the whole file is at the job's result_url.", None)
