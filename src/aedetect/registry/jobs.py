"""Jobs: background work recorded before it is queued, so any process can follow, wait for or
cancel it through the registry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aedetect.domain import Job, JobStatus
from aedetect.errors import Conflict, InvalidInput, quoted
from aedetect.registry.orm import JobRow, RunRow, utcnow
from aedetect.registry.store import SqlStore, _check_fields, _json_value, _status, _text, _timestamp

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

    def start_job(self, job_id: str) -> bool:
        """Mark a queued job running (with ``started_at``); ``False`` when it is no longer queued
        (cancelled before a worker took it), in which case nothing is changed."""

        def work(session: Session) -> bool:
            row = self._job_row(session, job_id)
            if row.status != JobStatus.QUEUED.value:
                return False
            row.status = JobStatus.RUNNING.value
            row.started_at = utcnow()
            session.flush()
            return True

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
