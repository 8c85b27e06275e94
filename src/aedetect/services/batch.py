"""Scoring a stored dataset as a job: the rows are read, scored and written in chunks (bounded
memory for any size) to a CSV that the job's result links to. The model version and its threshold
are fixed when the job starts. Once it has succeeded, its most anomalous rows can be read back
with every column's part of their score (what a person reviews first)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from aedetect.domain import Job, JobStatus, TrainingRun
from aedetect.errors import Cancelled, Conflict, InvalidInput, TooManyRequests
from aedetect.jobs.base import JobRunner
from aedetect.registry.base import Registry
from aedetect.services.catalog import DatasetCatalog, records
from aedetect.services.jobs import check_not_expired
from aedetect.services.paths import DataPaths, check_job_id
from aedetect.services.scoring import (
    LABEL_COLUMN,
    SCORE_COLUMN,
    ScoringService,
    current_threshold,
    scored_frame,
)
from aedetect.storage import ArtifactStore

SCORE_JOB = "score"
"""Job kind of a batch scoring."""

CHUNK_ROWS = 20_000
PROGRESS_INTERVAL_S = 1.0
MAX_TOP_ROWS = 1000
"""Most rows :meth:`BatchScoring.top_rows` gives (the whole file is the job's result CSV)."""

REQUESTER = "requested_by"
"""The job parameter naming the API key that asked for a scoring job (absent with auth off)."""


@dataclass(frozen=True)
class BatchLimits:
    """Bounds on scoring jobs (``AEDETECT_MAX_SCORE_JOBS``, ``AEDETECT_MAX_SCORE_JOBS_PER_KEY``,
    ``AEDETECT_JOB_RESULT_RETENTION_DAYS``): queued or running jobs over all keys and per key, and
    how long a finished job's result file is kept."""

    max_jobs: int = 8
    max_jobs_per_key: int = 2
    retry_after_s: int = 30
    result_retention_days: float = 7.0


def highest(
    scores: np.ndarray, offset: int, best: tuple[np.ndarray, np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest of the ``best`` (row numbers, scores) so far and of ``scores`` (rows
    ``offset`` on), highest first; a row without a finite score ranks below every other."""
    rows = np.concatenate([best[0], np.arange(offset, offset + len(scores))])
    values = np.concatenate([best[1], np.where(np.isfinite(scores), scores, -np.inf)])
    order = np.lexsort((rows, -values))[:k]  # highest score first, earlier row first among equals
    return rows[order], values[order]


class BatchScoring:
    """Queues and runs scoring jobs."""

    def __init__(
        self,
        registry: Registry,
        runner: JobRunner,
        catalog: DatasetCatalog,
        scoring: ScoringService,
        paths: DataPaths,
        store: ArtifactStore,
        limits: BatchLimits | None = None,
    ) -> None:
        self._limits = limits or BatchLimits()
        self._registry = registry
        self._runner = runner
        self._catalog = catalog
        self._scoring = scoring
        self._paths = paths
        self._store = store

    def start(self, run: TrainingRun, dataset: str, top: int, requester: str | None = None) -> Job:
        """Check that the dataset has the model's columns and that the queue has room (for all
        and for ``requester``, the API key id asking), then queue the job."""
        self._check_queue(requester)
        detector = self._scoring.detector(run)
        lacking = [c for c in detector.columns_ if c not in self._catalog.column_names(dataset)]
        if lacking:
            raise InvalidInput(
                f"dataset {dataset} lacks the model column(s) {', '.join(lacking[:10])}",
                field="dataset",
                column=lacking[0],
            )
        params: dict[str, Any] = {
            "nn_id": run.nn_id,
            "model_version": run.model_version,
            "dataset": dataset,
            "top": top,
        }
        if requester is not None:
            params[REQUESTER] = requester
        job = self._registry.create_job(SCORE_JOB, params, model=run.nn_id)
        self._runner.submit(job.job_id, SCORE_JOB)
        return job

    def _check_queue(self, requester: str | None) -> None:
        """Refuse a job (``TooManyRequests``, 429) while the queue is full overall or for ``requester``."""
        limits = self._limits
        active = self._registry.list_jobs(
            [JobStatus.QUEUED, JobStatus.RUNNING], SCORE_JOB, limit=limits.max_jobs + 1
        )
        wait = limits.retry_after_s
        if len(active) >= limits.max_jobs:
            raise TooManyRequests(
                f"{len(active)} scoring jobs are already queued or running, the limit of {limits.max_jobs} "
                f"(AEDETECT_MAX_SCORE_JOBS): nothing was queued; send the request again in {wait} s",
                retry_after=wait,
            )
        if requester is None:
            return
        mine = sum(1 for job in active if job.params.get(REQUESTER) == requester)
        if mine >= limits.max_jobs_per_key:
            raise TooManyRequests(
                f"this API key already has {mine} scoring jobs queued or running, the limit of "
                f"{limits.max_jobs_per_key} per key (AEDETECT_MAX_SCORE_JOBS_PER_KEY): nothing was "
                f"queued; wait for one to finish (or cancel one) and send the request again in {wait} s",
                retry_after=wait,
            )

    def expire_results(self, now: datetime | None = None) -> int:
        """Remove the result files of scoring jobs that finished more than the retention ago (their
        job rows stay, marked ``expired``); returns how many files were removed."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self._limits.result_retention_days)
        removed = 0
        for job in self._registry.list_jobs([JobStatus.SUCCEEDED], SCORE_JOB):
            result = job.result
            if not isinstance(result, dict) or result.get("expired") or job.finished_at is None:
                continue
            if job.finished_at >= cutoff:
                continue
            self._store.remove([self._paths.job_result(job.job_id)])
            self._registry.update_job(job.job_id, {"result": {**result, "expired": True}})
            removed += 1
        return removed

    def execute(self, job_id: str) -> None:
        """Score the dataset and publish the CSV (written under a temporary name, published whole)."""
        job = self._registry.get_job(job_id)
        params = job.params
        run = self._registry.get_model_version(params["nn_id"], int(params["model_version"]))
        detector = self._scoring.detector(run)
        threshold = current_threshold(run, detector)
        total = self._catalog.get(params["dataset"]).rows
        done = flagged = 0
        last = time.monotonic()
        with (
            self._store.writing_file(self._paths.job_result(job_id)) as temp,
            temp.open("w", encoding="utf-8", newline="") as sink,
        ):
            for chunk in self._catalog.chunks(params["dataset"], CHUNK_ROWS):
                scored = scored_frame(detector, chunk, int(params["top"]), threshold)
                scored.to_csv(sink, index=False, header=done == 0)
                done += len(scored)
                flagged += int(scored[LABEL_COLUMN].sum())
                if time.monotonic() - last >= PROGRESS_INTERVAL_S:
                    last = time.monotonic()
                    if self._registry.cancel_requested(job_id):
                        raise Cancelled("cancelled on request; no result file was kept")
                    self._registry.update_job(job_id, {"progress": {"rows_done": done, "rows_total": total}})
        self._registry.update_job(
            job_id,
            {
                "progress": {"rows_done": done, "rows_total": total},
                "result": {
                    "rows": done,
                    "anomalies": flagged,
                    "threshold": threshold,
                    "version": run.model_version,
                },
            },
        )

    def top_rows(self, job_id: str, limit: int) -> tuple[Job, list[dict[str, Any]]]:
        """The ``limit`` highest-scoring rows of a succeeded scoring job, highest first: each with
        its row number in the file (1 = first data row), all its values and its explanation by
        the version that scored it (every model column's share, value and expected value),
        judged against the threshold the job used, so the verdicts agree with its CSV."""
        if not 1 <= limit <= MAX_TOP_ROWS:
            raise InvalidInput(f"limit must be from 1 to {MAX_TOP_ROWS}, got {limit}", field="limit")
        job = self._registry.get_job(check_job_id(job_id))
        if job.kind != SCORE_JOB or job.status is not JobStatus.SUCCEEDED or not isinstance(job.result, dict):
            raise Conflict(
                f"job {job_id} ({job.kind}, {job.status.value}) has no scored rows: only a succeeded "
                "scoring job has them",
                field="job_id",
            )
        check_not_expired(job)
        params = job.params
        best: tuple[np.ndarray, np.ndarray] = (np.empty(0, dtype=np.int64), np.empty(0))
        offset = 0
        path = self._store.local_file(self._paths.job_result(job_id))
        result = pd.read_csv(path, usecols=[SCORE_COLUMN], chunksize=CHUNK_ROWS)
        with result as chunks:
            for chunk in chunks:
                scores = pd.to_numeric(chunk[SCORE_COLUMN], errors="coerce").to_numpy(dtype=np.float64)
                best = highest(scores, offset, best, limit)
                offset += len(scores)
        wanted = {int(r): rank for rank, r in enumerate(best[0])}
        picked: list[dict[str, Any]] = [{} for _ in wanted]
        offset = 0
        for chunk in self._catalog.chunks(params["dataset"], CHUNK_ROWS):
            inside = [r - offset for r in wanted if offset <= r < offset + len(chunk)]
            for index, values in zip(inside, records(chunk.iloc[inside]), strict=True):
                picked[wanted[offset + index]] = values
            offset += len(chunk)
        run = self._registry.get_model_version(params["nn_id"], int(params["model_version"]))
        detector = self._scoring.detector(run)
        threshold = float(job.result["threshold"])
        explained = (
            self._scoring.explain(run, picked, len(detector.columns_), threshold=threshold) if picked else []
        )
        rows = [
            {"row": int(r) + 1, "values": values, **why}
            for r, values, why in zip(best[0], picked, explained, strict=True)
        ]
        return job, rows
