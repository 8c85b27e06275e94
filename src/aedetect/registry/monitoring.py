"""The scoring log, its gaps and operator feedback.

Log rows are written in batches by one background writer (see ``services.scorelog``); a batch
whose model or version was deleted meanwhile drops those rows instead of failing. Reads that serve
drift take counts in the database and fetch at most a bounded number of the newest rows.
"""

from __future__ import annotations

import itertools
import json
import typing
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Integer, Table, and_, cast, delete, func, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Delete
from sqlalchemy.sql.elements import ColumnElement

from aedetect.domain import Feedback, FeedbackLabel, LogGap, ScoreRecord
from aedetect.errors import NotFound
from aedetect.registry.orm import FeedbackRow, LogGapRow, NetworkRow, RunRow, ScoreLogRow, utcnow
from aedetect.registry.store import SqlStore

SCORE_LOG: Table = ScoreLogRow.__table__  # type: ignore[assignment]
"""The log table itself, for Core inserts."""


def _record(row: ScoreLogRow) -> ScoreRecord:
    return ScoreRecord(
        nn_id=row.nn_id,
        run_id=row.run_id,
        model_version=row.model_version,
        scored_at=row.scored_at,
        score=row.score,
        is_anomaly=bool(row.is_anomaly),
        threshold=float(row.threshold),
        contributions=list(row.contributions or []),
        values=None if row.row_values is None else dict(row.row_values),
        sampled=bool(row.sampled),
        source=row.source,
        log_id=row.id,
        truncated=None if row.truncated is None else list(row.truncated),
    )


ROW_OVERHEAD_BYTES = 120
"""What a logged row takes beside its values and top columns (ids, time, score, verdict, index
entries), as the retention by bytes counts it."""


def row_bytes(record: ScoreRecord) -> int:
    """The size the retention by bytes counts for a logged row: its values and top columns as
    JSON, and :data:`ROW_OVERHEAD_BYTES`."""
    values = (
        0
        if record.values is None
        else len(json.dumps(record.values, ensure_ascii=False, default=str).encode())
    )
    return ROW_OVERHEAD_BYTES + values + len(json.dumps(record.contributions, default=str).encode())


def _gap(row: LogGapRow) -> LogGap:
    return LogGap(
        nn_id=row.nn_id,
        first_at=row.first_at,
        last_at=row.last_at,
        rows=int(row.rows),
        reason=row.reason,
        detail=row.detail,
    )


def _feedback(row: FeedbackRow) -> Feedback:
    return Feedback(
        feedback_id=row.id,
        nn_id=row.nn_id,
        label=FeedbackLabel(row.label),
        log_id=row.log_id,
        note=row.note,
        actor=row.actor,
        run_id=row.run_id,
        model_version=row.model_version,
        score=row.score,
        is_anomaly=row.is_anomaly,
        threshold=row.threshold,
        scored_at=row.scored_at,
        values=None if row.row_values is None else dict(row.row_values),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _deleted(session: Session, statement: Delete) -> int:
    """Run a DELETE and return how many rows it removed."""
    return int(typing.cast(CursorResult[Any], session.execute(statement)).rowcount)


def _window(column: Any, since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    """``since <= column < until`` (either end open when ``None``)."""
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def _bytes_cutoff(session: Session, nn_id: str, keep_bytes: int) -> int | None:
    """The newest log id of the model whose row no longer fits in ``keep_bytes`` counted from the
    newest row (a running sum of ``row_bytes`` in one query), or ``None`` when all fit."""
    running = (
        select(
            ScoreLogRow.id.label("id"),
            func.sum(ScoreLogRow.row_bytes).over(order_by=ScoreLogRow.id.desc()).label("running"),
        )
        .where(ScoreLogRow.nn_id == nn_id)
        .subquery()
    )
    found = session.scalars(
        select(running.c.id).where(running.c.running > keep_bytes).order_by(running.c.id.desc()).limit(1)
    ).first()
    return None if found is None else int(found)


class MonitoringStore(SqlStore):
    """The scoring log, its gaps and feedback."""

    # --- scoring log ----------------------------------------------------------------------
    def add_score_records(self, records: Sequence[ScoreRecord]) -> int:
        """Append logged rows in one transaction; rows of runs deleted meanwhile are dropped.
        Returns how many were written."""
        if not records:
            return 0

        def work(session: Session) -> int:
            wanted = {r.run_id for r in records}
            alive = set(session.scalars(select(RunRow.run_id).where(RunRow.run_id.in_(wanted))))
            rows = [
                {
                    "nn_id": r.nn_id,
                    "run_id": r.run_id,
                    "model_version": r.model_version,
                    "scored_at": r.scored_at,
                    "score": r.score,
                    "is_anomaly": r.is_anomaly,
                    "threshold": r.threshold,
                    "contributions": r.contributions,
                    "row_values": r.values,
                    "sampled": r.sampled,
                    "source": r.source,
                    "truncated": r.truncated or None,
                    "row_bytes": row_bytes(r),
                }
                for r in records
                if r.run_id in alive
            ]
            if rows:  # a Core insert: the ORM's bulk machinery costs more than the rows here
                session.connection().execute(insert(SCORE_LOG), rows)
            return len(rows)

        return self._write(work)

    def list_score_records(
        self,
        nn_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        anomalies_only: bool = False,
        model_version: int | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[ScoreRecord]:
        """Logged rows of a model, newest first, filtered; ``before`` (a log id) pages on."""

        def work(session: Session) -> list[ScoreRecord]:
            self._network_row(session, nn_id)
            conditions = [ScoreLogRow.nn_id == nn_id, *_window(ScoreLogRow.scored_at, since, until)]
            if anomalies_only:
                conditions.append(ScoreLogRow.is_anomaly.is_(True))
            if model_version is not None:
                conditions.append(ScoreLogRow.model_version == model_version)
            if before is not None:
                conditions.append(ScoreLogRow.id < before)
            stmt = select(ScoreLogRow).where(and_(*conditions)).order_by(ScoreLogRow.id.desc()).limit(limit)
            return [_record(r) for r in session.scalars(stmt)]

        return self._read(work)

    def get_score_records(self, nn_id: str, log_ids: Sequence[int]) -> dict[int, ScoreRecord]:
        """The model's logged rows with these ids (ids it does not have are left out)."""

        def work(session: Session) -> dict[int, ScoreRecord]:
            self._network_row(session, nn_id)
            rows = session.scalars(
                select(ScoreLogRow).where(ScoreLogRow.nn_id == nn_id, ScoreLogRow.id.in_(set(log_ids)))
            )
            return {r.id: _record(r) for r in rows}

        return self._read(work)

    def score_counts(self, run_id: str, edges: Sequence[datetime]) -> list[tuple[int, int]]:
        """Rows and anomalies a model version logged in each interval between consecutive ``edges``."""

        def work(session: Session) -> list[tuple[int, int]]:
            counts = []
            for start, end in itertools.pairwise(edges):
                total, flagged = session.execute(
                    select(
                        func.count(), func.coalesce(func.sum(cast(ScoreLogRow.is_anomaly, Integer)), 0)
                    ).where(ScoreLogRow.run_id == run_id, *_window(ScoreLogRow.scored_at, start, end))
                ).one()
                counts.append((int(total), int(flagged)))
            return counts

        return self._read(work)

    def score_totals(self, since: datetime) -> dict[str, tuple[int, int]]:
        """Rows and anomalies logged since ``since``, per model, in one query: each model's rows
        are reached through its (model, time) index, so the cost follows the rows in the window,
        not the whole log."""

        def work(session: Session) -> dict[str, tuple[int, int]]:
            found = session.execute(
                select(
                    NetworkRow.nn_id,
                    func.count(ScoreLogRow.id),
                    func.coalesce(func.sum(cast(ScoreLogRow.is_anomaly, Integer)), 0),
                )
                .join(
                    ScoreLogRow, and_(ScoreLogRow.nn_id == NetworkRow.nn_id, ScoreLogRow.scored_at >= since)
                )
                .group_by(NetworkRow.nn_id)
            )
            return {nn_id: (int(rows), int(flagged)) for nn_id, rows, flagged in found}

        return self._read(work)

    def score_sample(
        self, run_id: str, since: datetime | None, until: datetime | None, *, scores: int, sampled: int
    ) -> tuple[list[float | None], list[dict[str, Any]]]:
        """The newest ``scores`` logged scores of a model version in the window, and the values of
        its newest ``sampled`` rows kept by the uniform sample."""

        def work(session: Session) -> tuple[list[float | None], list[dict[str, Any]]]:
            window = [ScoreLogRow.run_id == run_id, *_window(ScoreLogRow.scored_at, since, until)]
            found = list(
                session.scalars(
                    select(ScoreLogRow.score).where(*window).order_by(ScoreLogRow.id.desc()).limit(scores)
                )
            )
            values = session.scalars(
                select(ScoreLogRow.row_values)
                .where(*window, ScoreLogRow.sampled.is_(True), ScoreLogRow.row_values.is_not(None))
                .order_by(ScoreLogRow.id.desc())
                .limit(sampled)
            )
            return found, [dict(v) for v in values if isinstance(v, dict)]

        return self._read(work)

    def prune_score_log(self, older_than: datetime, keep_rows: int, keep_bytes: int | None = None) -> int:
        """Delete logged rows (and gap records) older than ``older_than``, each model's rows
        beyond its newest ``keep_rows``, and beyond the newest rows whose ``row_bytes`` add up to
        ``keep_bytes``; returns how many log rows went. Works model by model along the log's
        indexes, so its cost follows the rows it keeps, not the whole table."""

        def work(session: Session) -> int:
            removed = 0
            session.execute(delete(LogGapRow).where(LogGapRow.last_at < older_than))
            for nn_id in session.scalars(select(NetworkRow.nn_id)).all():
                removed += _deleted(
                    session,
                    delete(ScoreLogRow).where(ScoreLogRow.nn_id == nn_id, ScoreLogRow.scored_at < older_than),
                )
                cutoff = session.scalars(
                    select(ScoreLogRow.id)
                    .where(ScoreLogRow.nn_id == nn_id)
                    .order_by(ScoreLogRow.id.desc())
                    .offset(keep_rows)
                    .limit(1)
                ).first()
                if keep_bytes is not None:
                    over = _bytes_cutoff(session, nn_id, keep_bytes)
                    cutoff = over if cutoff is None or (over is not None and over > cutoff) else cutoff
                if cutoff is not None:
                    removed += _deleted(
                        session,
                        delete(ScoreLogRow).where(ScoreLogRow.nn_id == nn_id, ScoreLogRow.id <= cutoff),
                    )
            return removed

        return self._write(work)

    # --- gaps -----------------------------------------------------------------------------
    def add_log_gaps(self, gaps: Sequence[LogGap]) -> int:
        """Record gaps of the log; gaps of models deleted meanwhile are dropped."""
        if not gaps:
            return 0

        def work(session: Session) -> int:
            alive = set(
                session.scalars(select(NetworkRow.nn_id).where(NetworkRow.nn_id.in_({g.nn_id for g in gaps})))
            )
            kept = [g for g in gaps if g.nn_id in alive]
            for gap in kept:
                session.add(
                    LogGapRow(
                        nn_id=gap.nn_id,
                        first_at=gap.first_at,
                        last_at=gap.last_at,
                        rows=gap.rows,
                        reason=gap.reason,
                        detail=None if gap.detail is None else gap.detail[:1000],
                    )
                )
            return len(kept)

        return self._write(work)

    def list_log_gaps(
        self, nn_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[LogGap]:
        """Recorded gaps of a model that overlap the window, oldest first."""

        def work(session: Session) -> list[LogGap]:
            conditions = [LogGapRow.nn_id == nn_id]
            if since is not None:
                conditions.append(LogGapRow.last_at >= since)
            if until is not None:
                conditions.append(LogGapRow.first_at < until)
            rows = session.scalars(select(LogGapRow).where(*conditions).order_by(LogGapRow.id))
            return [_gap(r) for r in rows]

        return self._read(work)

    # --- feedback -------------------------------------------------------------------------
    def save_feedback(self, items: Sequence[Feedback]) -> list[Feedback]:
        """Store labels in one transaction; a label of a logged row the model already has a label
        for replaces it (label, note, actor). Returns them as stored, in order."""

        def work(session: Session) -> list[Feedback]:
            saved = []
            now = utcnow()
            for item in items:
                self._network_row(session, item.nn_id)
                row = None
                if item.log_id is not None:
                    row = session.scalars(
                        select(FeedbackRow).where(
                            FeedbackRow.nn_id == item.nn_id, FeedbackRow.log_id == item.log_id
                        )
                    ).one_or_none()
                if row is None:
                    row = FeedbackRow(
                        nn_id=item.nn_id,
                        log_id=item.log_id,
                        run_id=item.run_id,
                        model_version=item.model_version,
                        score=item.score,
                        is_anomaly=item.is_anomaly,
                        threshold=item.threshold,
                        scored_at=item.scored_at,
                        row_values=item.values,
                        created_at=now,
                    )
                    session.add(row)
                row.label = FeedbackLabel(item.label).value
                row.note = item.note
                row.actor = item.actor
                row.updated_at = now
                session.flush()
                saved.append(_feedback(row))
            return saved

        return self._write(work)

    def list_feedback(
        self,
        nn_id: str,
        *,
        label: FeedbackLabel | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> list[Feedback]:
        """A model's labels, newest first; ``before`` (a feedback id) pages on."""

        def work(session: Session) -> list[Feedback]:
            self._network_row(session, nn_id)
            stmt = select(FeedbackRow).where(FeedbackRow.nn_id == nn_id)
            if label is not None:
                stmt = stmt.where(FeedbackRow.label == label.value)
            if before is not None:
                stmt = stmt.where(FeedbackRow.id < before)
            stmt = stmt.order_by(FeedbackRow.id.desc())
            if limit is not None:
                stmt = stmt.limit(limit)
            return [_feedback(r) for r in session.scalars(stmt)]

        return self._read(work)

    def delete_feedback(self, nn_id: str, feedback_id: int) -> Feedback:
        """Remove one label; ``NotFound`` naming it."""

        def work(session: Session) -> Feedback:
            row = session.scalars(
                select(FeedbackRow).where(FeedbackRow.nn_id == nn_id, FeedbackRow.id == feedback_id)
            ).one_or_none()
            if row is None:
                self._network_row(session, nn_id)
                raise NotFound(f"model '{nn_id}' has no feedback {feedback_id}", field="id")
            gone = _feedback(row)
            session.delete(row)
            return gone

        return self._write(work)
