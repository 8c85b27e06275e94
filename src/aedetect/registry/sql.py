"""The registry over SQLAlchemy: SQLite (embedded default) or PostgreSQL.

Every public method is one transaction from :func:`aedetect.registry.db.session_scope`, and every
method returns domain dataclasses; ORM rows never leave the registry package. Numbers assigned as
``max + 1`` (versions, run sequences, model versions) are computed under a lock on the parent row
(PostgreSQL ``SELECT ... FOR UPDATE``, SQLite ``BEGIN IMMEDIATE``), and a unique-constraint clash
from a concurrent writer is retried, so two creators never get the same number.

The methods live with their aggregate: ``networks`` (networks, versions, nodes), ``runs`` (training
runs, model versions, aliases), ``thresholds``, ``datasets``, ``jobs`` and ``monitoring`` (the
scoring log, its gaps, feedback).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from aedetect.domain import JobStatus, VersionCondition
from aedetect.registry.base import Registry
from aedetect.registry.datasets import DatasetStore
from aedetect.registry.db import make_engine
from aedetect.registry.jobs import JobStore
from aedetect.registry.migrate import upgrade
from aedetect.registry.monitoring import MonitoringStore
from aedetect.registry.orm import JobRow, RunRow, VersionRow, utcnow
from aedetect.registry.runs import RunStore
from aedetect.registry.store import UNFINISHED
from aedetect.registry.thresholds import ThresholdStore


class SqlRegistry(RunStore, ThresholdStore, DatasetStore, JobStore, MonitoringStore, Registry):
    """:class:`Registry` over a SQLAlchemy engine; thread-safe (one session per call).

    Build it with :meth:`from_url`, which also migrates the schema; the constructor takes an
    engine whose database is already at the current schema.
    """

    @classmethod
    def from_url(cls, url: str, *, echo: bool = False) -> SqlRegistry:
        """Connect to ``url`` (creating a SQLite file's directory) and migrate to the newest schema."""
        engine = make_engine(url, echo=echo)
        upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def fail_interrupted(self, reason: str) -> int:
        """Mark every queued or running job and training run failed with ``reason``, and every
        version left training (condition PROGRESS) as ERROR; returns the number of jobs.
        Call it at start-up, before any runner takes work."""

        def work(session: Session) -> int:
            now = utcnow()
            failed = {"status": JobStatus.FAILED.value, "error": reason, "finished_at": now}
            jobs = session.execute(update(JobRow).where(JobRow.status.in_(UNFINISHED)).values(**failed))
            session.execute(update(RunRow).where(RunRow.status.in_(UNFINISHED)).values(**failed))
            session.execute(
                update(VersionRow)
                .where(VersionRow.condition == VersionCondition.PROGRESS.value)
                .values(condition=VersionCondition.ERROR.value, updated_at=now)
            )
            return cast(CursorResult[Any], jobs).rowcount

        return self._write(work)


__all__ = ["SqlRegistry"]
