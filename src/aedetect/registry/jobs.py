"""Jobs: background work recorded before it is queued, so any process can follow, wait for or
cancel it through the registry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from aedetect.domain import Job, JobStatus, VersionCondition
from aedetect.errors import Conflict, InvalidInput, quoted
from aedetect.registry.orm import JobRow, RunRow, VersionRow, utcnow
from aedetect.registry.store import (
    UNFINISHED,
    SqlStore,
    _check_fields,
    _json_value,
    _status,
    _text,
    _timestamp,
)

JOB_FIELDS = frozenset({"status", "progress", "result", "error", "started_at", "finished_at"})


def _job(row: JobRow) -> Job:
    return Job(
        job_id=row.job_id,
        kind=row.kind,
        params=dict(row.params),
        status=JobStatus(row.status),
        model=row.model,
        cancel_requested=row.cancel_requested,
        progress=dict(row.progress),
        result=row.result,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        worker=row.worker,
        heartbeat_at=row.heartbeat_at,
    )


class JobStore(SqlStore):
    """Job rows: status, progress, result, cancellation."""

    def create_job(self, kind: str, params: dict[str, Any], model: str | None = None) -> Job:
        if not isinstance(kind, str) or not kind:
            raise InvalidInput(f"job kind must be a non-empty string, got {quoted(kind)}", field="kind")
        stored = _json_value(params, "params")
        _text(model, "model", nullable=True)

        def work(session: Session) -> Job:
            row = JobRow(
                job_id=uuid.uuid4().hex,
                kind=kind,
                params=stored,
                status=JobStatus.QUEUED.value,
                model=model,
                cancel_requested=False,
                progress={},
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _job(row)

        return self._write(work)

    def get_job(self, job_id: str) -> Job:
        return self._read(lambda session: _job(self._job_row(session, job_id)))

    def update_job(self, job_id: str, fields: dict[str, Any]) -> Job:
        _check_fields(fields, JOB_FIELDS, "job")
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "status":
                values[name] = _status(value)
            elif name in ("started_at", "finished_at"):
                values[name] = _timestamp(value, name)
            elif name == "progress":
                values[name] = _json_value(value, name)
            elif name == "result":
                values[name] = _json_value(value, name, nullable=True, obj=False)
            else:
                values[name] = _text(value, name, nullable=True)

        def work(session: Session) -> Job:
            row = self._job_row(session, job_id)
            for name, value in values.items():
                setattr(row, name, value)
            session.flush()
            return _job(row)

        return self._write(work)

    def list_jobs(
        self,
        statuses: Sequence[JobStatus] | None = None,
        kind: str | None = None,
        *,
        model: str | None = None,
        before: str | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Jobs, newest first, optionally filtered; ``before`` (a job id) starts after that job."""
        wanted = None if statuses is None else [_status(s, "statuses") for s in statuses]

        def work(session: Session) -> list[Job]:
            stmt = select(JobRow).order_by(JobRow.id.desc())
            if wanted is not None:
                stmt = stmt.where(JobRow.status.in_(wanted))
            if kind is not None:
                stmt = stmt.where(JobRow.kind == kind)
            if model is not None:
                stmt = stmt.where(JobRow.model == model)
            if before is not None:
                stmt = stmt.where(JobRow.id < self._job_row(session, before).id)
            if limit is not None:
                stmt = stmt.limit(limit)
            return [_job(r) for r in session.scalars(stmt)]

        return self._read(work)

    def count_jobs(self, statuses: Sequence[JobStatus], kind: str | None = None) -> int:
        """How many jobs are in one of ``statuses`` (of ``kind``, if given), in every process."""
        wanted = [_status(s, "statuses") for s in statuses]

        def work(session: Session) -> int:
            stmt = select(func.count()).select_from(JobRow).where(JobRow.status.in_(wanted))
            if kind is not None:
                stmt = stmt.where(JobRow.kind == kind)
            return int(session.scalar(stmt) or 0)

        return self._read(work)

    def start_job(self, job_id: str, worker: str | None = None) -> bool:
        """Claim a queued job: one conditional ``UPDATE ... WHERE status = 'queued'``, so of two
        deliveries of the same job (on any hosts) exactly one gets ``True``. ``False`` when it is
        no longer queued (already claimed, or cancelled before a worker took it): nothing changes."""
        _text(worker, "worker", nullable=True)

        def work(session: Session) -> bool:
            now = utcnow()
            claimed = session.execute(
                update(JobRow)
                .where(JobRow.job_id == job_id, JobRow.status == JobStatus.QUEUED.value)
                .values(status=JobStatus.RUNNING.value, started_at=now, worker=worker, heartbeat_at=now)
            )
            if cast(CursorResult[Any], claimed).rowcount == 1:
                return True
            self._job_row(session, job_id)  # NotFound for an unknown id
            return False

        return self._write(work)

    def heartbeat(self, job_id: str, worker: str) -> bool:
        def work(session: Session) -> bool:
            renewed = session.execute(
                update(JobRow)
                .where(
                    JobRow.job_id == job_id,
                    JobRow.status == JobStatus.RUNNING.value,
                    JobRow.worker == worker,
                )
                .values(heartbeat_at=utcnow())
            )
            return cast(CursorResult[Any], renewed).rowcount == 1

        return self._write(work)

    def finish_job(self, job_id: str, status: JobStatus, error: str | None = None) -> bool:
        final = JobStatus(status)
        if not final.finished:
            raise InvalidInput(f"{final.value} is not a final job status", field="status")
        _text(error, "error", nullable=True)

        def work(session: Session) -> bool:
            values: dict[str, Any] = {"status": final.value, "finished_at": utcnow()}
            if error is not None:
                values["error"] = error
            done = session.execute(
                update(JobRow).where(JobRow.job_id == job_id, JobRow.status.in_(UNFINISHED)).values(**values)
            )
            if cast(CursorResult[Any], done).rowcount == 1:
                return True
            self._job_row(session, job_id)
            return False

        return self._write(work)

    def fail_stale_jobs(self, lease_s: float, reason: str) -> list[str]:
        def work(session: Session) -> list[str]:
            now = utcnow()
            cutoff = now - timedelta(seconds=lease_s)
            stale = list(
                session.scalars(
                    select(JobRow.job_id).where(
                        JobRow.status == JobStatus.RUNNING.value,
                        JobRow.heartbeat_at.is_not(None),
                        JobRow.heartbeat_at < cutoff,
                    )
                )
            )
            if not stale:
                return []
            failed = {"status": JobStatus.FAILED.value, "error": reason, "finished_at": now}
            session.execute(
                update(JobRow)
                .where(
                    JobRow.job_id.in_(stale),
                    JobRow.status == JobStatus.RUNNING.value,
                    JobRow.heartbeat_at < cutoff,
                )
                .values(**failed, cancel_requested=True)
            )
            runs = session.scalars(
                select(RunRow).where(RunRow.job_id.in_(stale), RunRow.status.in_(UNFINISHED))
            ).all()
            for run in runs:
                run.status, run.error, run.finished_at = JobStatus.FAILED.value, reason, now
                session.execute(
                    update(VersionRow)
                    .where(
                        VersionRow.nn_id == run.nn_id,
                        VersionRow.version == run.version,
                        VersionRow.condition == VersionCondition.PROGRESS.value,
                    )
                    .values(condition=VersionCondition.ERROR.value, updated_at=now)
                )
            session.flush()
            return stale

        return self._write(work)

    def request_cancel(self, job_id: str) -> Job:
        """Cancel a job: a queued one (and its training run) is cancelled at once, a running one
        gets ``cancel_requested`` and stops before its next batch. ``Conflict`` once it has finished."""

        def work(session: Session) -> Job:
            row = self._job_row(session, job_id)
            if JobStatus(row.status).finished:
                raise Conflict(
                    f"job '{job_id}' has already {row.status}; there is nothing to cancel", field="job_id"
                )
            row.cancel_requested = True
            if row.status == JobStatus.QUEUED.value:
                now = utcnow()
                row.status = JobStatus.CANCELLED.value
                row.finished_at = now
                row.error = "cancelled before it started"
                session.execute(
                    update(RunRow)
                    .where(RunRow.job_id == job_id, RunRow.status == JobStatus.QUEUED.value)
                    .values(status=JobStatus.CANCELLED.value, finished_at=now, error=row.error)
                )
            session.flush()
            return _job(row)

        return self._write(work)

    def cancel_requested(self, job_id: str) -> bool:
        """Whether someone asked the job to stop (one indexed read, for the training loop)."""
        return bool(
            self._read(
                lambda session: session.scalar(select(JobRow.cancel_requested).where(JobRow.job_id == job_id))
            )
        )
