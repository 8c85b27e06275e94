"""Scoring a stored dataset as a job: the rows are read, scored and written in chunks (bounded
memory for any size) to a CSV that the job's result links to. The model version and its threshold
are fixed when the job starts. Once it has succeeded, its most anomalous rows can be read back
with every column's part of their score (what a person reviews first)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from aedetect.domain import Job, JobStatus, TrainingRun
from aedetect.errors import Cancelled, Conflict, InvalidInput
from aedetect.jobs.base import JobRunner
from aedetect.registry.base import Registry
from aedetect.services.catalog import DatasetCatalog, records
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
    ) -> None:
        self._registry = registry
        self._runner = runner
        self._catalog = catalog
        self._scoring = scoring
        self._paths = paths
        self._store = store

    def start(self, run: TrainingRun, dataset: str, top: int) -> Job:
        """Check that the dataset has the model's columns, then queue the job."""
        detector = self._scoring.detector(run)
        lacking = [c for c in detector.columns_ if c not in self._catalog.column_names(dataset)]
        if lacking:
            raise InvalidInput(
                f"dataset {dataset} lacks the model column(s) {', '.join(lacking[:10])}",
                field="dataset",
                column=lacking[0],
            )
        params = {"nn_id": run.nn_id, "model_version": run.model_version, "dataset": dataset, "top": top}
        job = self._registry.create_job(SCORE_JOB, params, model=run.nn_id)
        self._runner.submit(job.job_id, SCORE_JOB)
        return job

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
