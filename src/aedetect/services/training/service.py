"""Submitting training runs and reporting on them: :class:`TrainingService` checks a version's
plan (:mod:`~aedetect.services.training.plan`), queues a run on the job runner within the bounded
training queue, waits for it (without holding a thread), withdraws it when its client goes, and
lists unfinished work."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from anyio import to_thread

from aedetect.domain import Job, JobStatus, TrainingRun
from aedetect.errors import Cancelled, Conflict, NotFound, error_type
from aedetect.jobs.base import JobRunner
from aedetect.registry.base import Registry
from aedetect.services.datasets import DatasetService
from aedetect.services.evaluation import EvaluationService
from aedetect.services.jobs import wait_for_job
from aedetect.services.limits import check_training_queue
from aedetect.services.paths import DataPaths, check_nn_id
from aedetect.services.training.plan import plan_run
from aedetect.services.training.record import as_failure, utcnow
from aedetect.services.workflow import WorkflowService
from aedetect.storage import ArtifactStore

TRAIN_JOB = "train"
"""Job kind of a training run."""


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
        to fix (see :func:`~aedetect.services.training.plan.plan_run`)."""
        return plan_run(self._workflow, self._datasets, self._evaluation, nn_id, version)

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
            failure = as_failure(exc, job.job_id)
            code, message = failure.code, failure.message
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
