"""The shared plumbing of the SQL registry: sessions, retried writes, row lookups by id, and the
checks of caller-supplied values. Each aggregate (networks, runs and model versions, thresholds,
datasets, jobs) adds its methods in a module of its own; ``registry.sql.SqlRegistry`` combines them.
ORM rows never leave the registry package."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from aedetect.domain import JobStatus, ThresholdRevision, TrainingRun
from aedetect.errors import InvalidInput, NotFound, quoted
from aedetect.registry.db import make_session_factory, session_scope
from aedetect.registry.orm import JobRow, NetworkRow, NodeRow, RunRow, ThresholdRow, VersionRow

logger = logging.getLogger(__name__)

T = TypeVar("T")

WRITE_ATTEMPTS = 5
"""How often a numbering write is tried when a concurrent writer wins the race."""

UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def _threshold(row: ThresholdRow) -> ThresholdRevision:
    return ThresholdRevision(
        revision_id=row.id,
        run_id=row.run_id,
        value=float(row.value),
        strategy=row.strategy,
        inputs=dict(row.inputs),
        actor=row.actor,
        note=row.note,
        created_at=row.created_at,
    )


def _run(row: RunRow, threshold: ThresholdRow | None = None) -> TrainingRun:
    return TrainingRun(
        run_id=row.run_id,
        nn_id=row.nn_id,
        network_version=row.version,
        seq=row.seq,
        status=JobStatus(row.status),
        active=row.active,
        job_id=row.job_id,
        model_path=row.model_path,
        params=dict(row.params),
        metrics=dict(row.metrics),
        result=row.result,
        error=row.error,
        model_version=row.model_version,
        threshold=None if threshold is None else _threshold(threshold),
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _check_fields(fields: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        settable = ", ".join(sorted(allowed))
        raise InvalidInput(
            f"cannot set {', '.join(map(repr, unknown))} on a {what} (settable: {settable})",
            field=unknown[0],
        )


def _json_value(value: Any, field: str, *, nullable: bool = False, obj: bool = True) -> Any:
    """``value`` as it will read back from the database, or ``InvalidInput`` naming ``field``.

    Strict JSON (no NaN/Infinity: PostgreSQL refuses them), so both backends store the same thing.
    """
    if value is None and nullable:
        return None
    if obj and not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object, got {type(value).__name__}", field=field)
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} is not storable as JSON: {exc}", field=field) from exc


def _status(value: Any, field: str = "status") -> str:
    try:
        return JobStatus(value).value
    except ValueError:
        allowed = ", ".join(s.value for s in JobStatus)
        raise InvalidInput(f"{field} must be one of {allowed}, got {quoted(value)}", field=field) from None


def _timestamp(value: Any, field: str) -> datetime | None:
    if value is not None and not isinstance(value, datetime):
        raise InvalidInput(f"{field} must be a datetime, got {type(value).__name__}", field=field)
    return value


def _text(value: Any, field: str, *, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}", field=field)
    return value


def _is_retryable(exc: Exception) -> bool:
    """A unique clash or lock timeout caused by a concurrent writer: worth another attempt."""
    if isinstance(exc, IntegrityError):
        return True
    return isinstance(exc, OperationalError) and (
        "locked" in str(exc.orig).lower() or "deadlock" in str(exc.orig).lower()
    )


def _optional_text(value: Any, field: str, limit: int | None = None) -> str | None:
    """A who/why field: ``None`` or a string of at most ``limit`` characters."""
    text = _text(value, field, nullable=True)
    if text is not None and limit is not None and len(text) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
    return text


class SqlStore:
    """Engine, sessions and row lookups shared by the aggregate stores; thread-safe (one session
    per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = make_session_factory(engine)

    def _read(self, work: Callable[[Session], T]) -> T:
        with session_scope(self._sessions) as session:
            return work(session)

    def _write(self, work: Callable[[Session], T], *, retry: bool = False) -> T:
        """Run ``work`` in a write transaction; with ``retry``, again after a lost race."""
        attempts = WRITE_ATTEMPTS if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                with session_scope(self._sessions, write=True) as session:
                    return work(session)
            except (IntegrityError, OperationalError) as exc:
                if attempt == attempts or not _is_retryable(exc):
                    raise
                logger.info("registry write lost a race (attempt %d/%d): %s", attempt, attempts, exc.orig)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _network_row(session: Session, nn_id: str, *, lock: bool = False) -> NetworkRow:
        row = session.get(NetworkRow, nn_id, with_for_update=lock)
        if row is None:
            raise NotFound(f"network '{nn_id}' not found", field="nn_id")
        return row

    @classmethod
    def _version_row(cls, session: Session, nn_id: str, version: int, *, lock: bool = False) -> VersionRow:
        stmt = select(VersionRow).where(VersionRow.nn_id == nn_id, VersionRow.version == version)
        if lock:
            stmt = stmt.with_for_update()
        row = session.scalars(stmt).one_or_none()
        if row is None:
            cls._network_row(session, nn_id)
            raise NotFound(f"version {version} of network '{nn_id}' not found", field="version")
        return row

    @classmethod
    def _node_row(cls, session: Session, nn_id: str, version: int, name: str) -> NodeRow:
        row = session.scalars(
            select(NodeRow).where(NodeRow.nn_id == nn_id, NodeRow.version == version, NodeRow.name == name)
        ).one_or_none()
        if row is None:
            cls._version_row(session, nn_id, version)
            names = session.scalars(
                select(NodeRow.name)
                .where(NodeRow.nn_id == nn_id, NodeRow.version == version)
                .order_by(NodeRow.id)
            ).all()
            raise NotFound(
                f"node '{name}' not found in version {version} of network '{nn_id}' "
                f"(nodes: {', '.join(names) or 'none'})",
                field="node",
            )
        return row

    @staticmethod
    def _run_row(session: Session, run_id: str, *, lock: bool = False) -> RunRow:
        row = session.get(RunRow, run_id, with_for_update=lock)
        if row is None:
            raise NotFound(f"training run '{run_id}' not found", field="run_id")
        return row

    @staticmethod
    def _job_row(session: Session, job_id: str) -> JobRow:
        row = session.scalars(select(JobRow).where(JobRow.job_id == job_id)).one_or_none()
        if row is None:
            raise NotFound(f"job '{job_id}' not found", field="job_id")
        return row

    @staticmethod
    def _current_threshold(session: Session, run_id: str) -> ThresholdRow | None:
        """The newest threshold revision of a run, or ``None`` when it has none."""
        return session.scalars(
            select(ThresholdRow)
            .where(ThresholdRow.run_id == run_id)
            .order_by(ThresholdRow.id.desc())
            .limit(1)
        ).first()
