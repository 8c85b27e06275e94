"""Scoring a stored dataset as a job: the rows are read, scored and written in chunks (bounded
memory for any size) to a CSV that the job's result links to. The model version and its threshold
are fixed when the job starts."""

from __future__ import annotations

import time

from aedetect.domain import Job, TrainingRun
from aedetect.errors import Cancelled, InvalidInput
from aedetect.jobs.base import JobRunner
from aedetect.registry.base import Registry
from aedetect.services.catalog import DatasetCatalog
from aedetect.services.paths import DataPaths
from aedetect.services.scoring import LABEL_COLUMN, ScoringService, current_threshold, scored_frame
from aedetect.storage import ArtifactStore

SCORE_JOB = "score"
"""Job kind of a batch scoring."""

CHUNK_ROWS = 20_000
PROGRESS_INTERVAL_S = 1.0


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
