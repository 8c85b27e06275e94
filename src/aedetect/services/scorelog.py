"""The scoring log: every row scored through the service (v1 and v2, JSON rows and CSV bodies) is
recorded with the model version that scored it, the time, score, verdict and top columns, and,
for a sampled share of rows (``AEDETECT_LOG_SAMPLE``) and for every alarm, the row's values.

The log never blocks or fails a prediction. A request only appends its scored batch (arrays it
already has) to a bounded in-memory queue; one background thread turns batches into log rows and
writes them in transactions of :data:`WRITE_BATCH_ROWS`. When the queue is full, the batch is not
logged; when the store refuses a write, those rows are lost. Either way the rows are counted as a
gap of the model (reason ``queue_full`` or ``store_error``), and the gaps are recorded in the
registry as soon as it takes writes again, so every process reports them. The writer also applies
the retention (``AEDETECT_LOG_RETENTION_DAYS``, ``_ROWS`` and ``_MB`` per model) every
:data:`PRUNE_INTERVAL_S`.

A kept value longer than ``AEDETECT_LOG_VALUE_CHARS`` characters is cut to that length, its last
character replaced by :data:`ELLIPSIS`, and its column listed in the row's ``truncated``, so a
client sending huge cells cannot grow the log by more than the cap per value.

Scoring jobs over stored datasets are not logged: their rows are stored already, and their result
file is their record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from aedetect.domain import LogGap, ScoreRecord, TrainingRun, top_contributions
from aedetect.registry.base import Registry
from aedetect.services.values import json_value

logger = logging.getLogger(__name__)

LOG_TOP = 3
"""Top contributing columns kept per logged row."""

WRITE_BATCH_ROWS = 1000
FLUSH_S = 1.0
"""The writer waits at most this long before writing what is queued (longer waits make bigger,
cheaper batches; the rows are in the log within about this time)."""

PRUNE_INTERVAL_S = 60.0
WARN_INTERVAL_S = 60.0
CLOSE_WAIT_S = 10.0
QUEUE_FULL = "queue_full"
STORE_ERROR = "store_error"

ELLIPSIS = "\u2026"
"""The last character of a value the log cut short."""

VALUE_CHARS = 256
"""Default characters kept of each logged value (``AEDETECT_LOG_VALUE_CHARS``)."""

RECENT_DAYS = 7.0
"""How far back "recently" reaches in :meth:`ScoreLog.recent` (cut to the retention when shorter)."""

Rows = Sequence[Mapping[str, Any]] | pd.DataFrame


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RecentScoring:
    """What every model scored recently: rows and anomalies per model (models that scored
    nothing left out) logged since ``since``, ``days`` before now."""

    since: datetime
    days: float
    totals: dict[str, tuple[int, int]]


@dataclass
class ScoredBatch:
    """What a request scored, as the request already has it: the logged rows are made from it by
    the writer thread, off the request's path. ``contributions`` may be left ``None`` with an
    ``explain`` that computes them (v1 predictions need only scores, so their top columns are
    computed by the writer, for many rows at once)."""

    run: TrainingRun
    scored_at: datetime
    threshold: float
    scores: np.ndarray
    labels: np.ndarray
    contributions: np.ndarray | None
    columns: list[str]
    rows: Rows
    source: str
    explain: Callable[[Any], np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.scores)

    def values(
        self, index: Sequence[int], chars: int = VALUE_CHARS
    ) -> list[tuple[dict[str, Any], list[str]]]:
        """The model-column values of the rows at ``index``, as JSON, each string cut to
        ``chars`` characters (:func:`capped`), with the columns that were cut."""
        if isinstance(self.rows, pd.DataFrame):
            picked = self.rows.iloc[list(index)]
            present = [c for c in self.columns if c in picked.columns]
            records: Sequence[Mapping[Any, Any]] = picked[present].to_dict("records")
        else:
            records = [self.rows[i] for i in index]
        return [_capped_row(record, self.columns, chars) for record in records]


def capped(value: Any, chars: int) -> Any:
    """``value``, or a string longer than ``chars`` cut to ``chars`` characters, the last one
    :data:`ELLIPSIS`."""
    if isinstance(value, str) and len(value) > chars:
        return value[: chars - 1] + ELLIPSIS
    return value


def _capped_row(
    record: Mapping[str, Any], columns: list[str], chars: int
) -> tuple[dict[str, Any], list[str]]:
    """A row's ``columns`` as JSON values capped to ``chars``, and the columns that were cut."""
    values: dict[str, Any] = {}
    cut: list[str] = []
    for column in columns:
        value = json_value(record.get(column))
        values[column] = capped(value, chars)
        if values[column] is not value:
            cut.append(column)
    return values, cut


def _explain_missing(group: Sequence[ScoredBatch]) -> None:
    """Compute the missing contributions of one model version's batches in one call."""
    waiting = [
        b
        for b in group
        if b.contributions is None and b.explain is not None and not isinstance(b.rows, pd.DataFrame)
    ]
    if not waiting or waiting[0].explain is None:
        return
    try:
        parts = np.asarray(waiting[0].explain([row for b in waiting for row in b.rows]), dtype=np.float64)
    except Exception as exc:  # the rows are still logged, without their top columns
        rows = sum(len(b) for b in waiting)
        logger.warning("scoring log: top columns of %d row(s) not computed: %s", rows, exc)
        return
    start = 0
    for batch in waiting:
        batch.contributions = parts[start : start + len(batch)]
        start += len(batch)


def _tops(
    columns: list[str], scores: np.ndarray, contributions: np.ndarray | None
) -> list[list[dict[str, Any]]]:
    """The :data:`LOG_TOP` columns contributing most to each row, with their shares of the score."""
    if contributions is None or not columns:
        return [[] for _ in range(len(scores))]
    order, shares = top_contributions(contributions, scores, LOG_TOP)
    return [
        [
            {"column": columns[j], "share": None if share != share else share}
            for j, share in zip(row, cut, strict=True)
        ]
        for row, cut in zip(order.tolist(), shares.tolist(), strict=True)
    ]


def expand(
    batches: Sequence[ScoredBatch], sample: float, rng: np.random.Generator, value_chars: int = VALUE_CHARS
) -> list[ScoreRecord]:
    """The log rows of ``batches``: every row with its top columns; the values (each cut to
    ``value_chars`` characters) of a uniform sample of ``sample`` of the rows and of every alarm.
    Arrays are processed per model version at once, so many single-row requests cost about as
    much as one batch of them."""
    records: list[ScoreRecord] = []
    groups: dict[str, list[ScoredBatch]] = {}
    for batch in batches:
        groups.setdefault(batch.run.run_id, []).append(batch)
    for group in groups.values():
        _explain_missing(group)
        scores = np.concatenate([np.asarray(b.scores, dtype=np.float64) for b in group])
        labels = np.concatenate([np.asarray(b.labels, dtype=bool) for b in group])
        sampled = (rng.random(len(scores)) < sample).tolist()
        keep = (np.asarray(sampled) | labels).tolist()
        finite = np.isfinite(scores)
        score_list = np.where(finite, scores, 0.0).tolist()
        explained = all(b.contributions is not None for b in group)
        tops = (
            _tops(group[0].columns, scores, np.vstack([np.asarray(b.contributions) for b in group]))
            if explained
            else [[] for _ in range(len(scores))]
        )
        start = 0
        for batch in group:
            n = len(batch)
            kept = [i for i in range(n) if keep[start + i]]
            values = dict(zip(kept, batch.values(kept, value_chars), strict=True))
            run = batch.run
            for i in range(n):
                at = start + i
                records.append(
                    ScoreRecord(
                        nn_id=run.nn_id,
                        run_id=run.run_id,
                        model_version=run.model_version,
                        scored_at=batch.scored_at,
                        score=score_list[at] if finite[at] else None,
                        is_anomaly=bool(labels[at]),
                        threshold=batch.threshold,
                        contributions=tops[at],
                        values=values[i][0] if i in values else None,
                        sampled=sampled[at],
                        source=batch.source,
                        truncated=values[i][1] or None if i in values else None,
                    )
                )
            start += n
    return records


class ScoreLog:
    """The bounded queue, its writer thread, the gap accounting and the retention."""

    def __init__(
        self,
        registry: Registry,
        *,
        enabled: bool = True,
        sample: float = 1.0,
        queue_rows: int = 100_000,
        retention_days: float = 30.0,
        retention_rows: int = 1_000_000,
        retention_bytes: int | None = None,
        value_chars: int = VALUE_CHARS,
        seed: int | None = None,
    ) -> None:
        self._registry = registry
        self.enabled = enabled
        self.sample = sample
        self._capacity = queue_rows
        self._retention = (timedelta(days=retention_days), retention_rows)
        self._retention_bytes = retention_bytes
        self.value_chars = value_chars
        self._rng = np.random.default_rng(seed)
        self._queue: deque[ScoredBatch] = deque()
        self._queued = 0
        self._busy = 0
        self._cycles = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._gaps: dict[tuple[str, str], LogGap] = {}
        self._counts = {"written": 0, "dropped": 0, "failed": 0}
        self._last_prune = 0.0
        self._last_warning = 0.0
        self._thread: threading.Thread | None = None
        if enabled:
            self._thread = threading.Thread(target=self._run, name="aedetect-score-log", daemon=True)
            self._thread.start()

    # --- the request side ---------------------------------------------------------------------
    def record(
        self,
        run: TrainingRun,
        scores: np.ndarray,
        labels: np.ndarray,
        threshold: float,
        contributions: np.ndarray | None,
        columns: list[str],
        rows: Rows,
        source: str,
        explain: Callable[[Any], np.ndarray] | None = None,
    ) -> None:
        """Queue what a request scored (``explain``: how to get the contributions when they are not
        given); never raises, never waits for the store."""
        if not self.enabled or not len(scores):
            return
        batch = ScoredBatch(
            run,
            utcnow(),
            float(threshold),
            scores,
            labels,
            contributions,
            list(columns),
            rows,
            source,
            explain,
        )
        with self._cond:
            if self._queued + len(batch) > self._capacity:
                self._counts["dropped"] += len(batch)
                self._count_gap(run.nn_id, QUEUE_FULL, len(batch), batch.scored_at, batch.scored_at, None)
                return
            self._queue.append(batch)
            self._queued += len(batch)
            if self._queued >= WRITE_BATCH_ROWS:
                self._cond.notify_all()

    # --- the writer ---------------------------------------------------------------------------
    def _count_gap(
        self, nn_id: str, reason: str, rows: int, first: datetime, last: datetime, detail: str | None
    ) -> None:
        """Add ``rows`` scored from ``first`` to ``last`` to the model's pending gap (call with
        the lock held)."""
        key = (nn_id, reason)
        gap = self._gaps.get(key)
        if gap is None:
            self._gaps[key] = LogGap(nn_id, first, last, rows, reason, detail)
        else:
            gap.first_at, gap.last_at = min(gap.first_at, first), max(gap.last_at, last)
            gap.rows += rows
            gap.detail = detail or gap.detail

    def _take(self) -> list[ScoredBatch] | None:
        """The next batches to write (about :data:`WRITE_BATCH_ROWS` rows); ``[]`` when the wait
        timed out, ``None`` when stopping with nothing left."""
        with self._cond:
            if not self._queue and not self._stopping:
                self._cond.wait(FLUSH_S)
            if not self._queue:
                return None if self._stopping else []
            taken: list[ScoredBatch] = []
            rows = 0
            while self._queue and (not taken or rows + len(self._queue[0]) <= WRITE_BATCH_ROWS):
                batch = self._queue.popleft()
                taken.append(batch)
                rows += len(batch)
            self._busy += rows
            return taken

    def _run(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                break
            try:
                if taken:
                    self._write(taken)
                self._flush_gaps()
                self._maybe_prune()
            except Exception:  # the writer must survive anything (a failed retention or gap write)
                logger.exception("the scoring log writer failed")
            finally:
                with self._cond:
                    rows = sum(len(b) for b in taken)
                    self._busy -= rows
                    self._queued -= rows
                    self._cycles += 1
                    self._cond.notify_all()
        self._flush_gaps()

    def _write(self, batches: list[ScoredBatch]) -> None:
        try:
            records = expand(batches, self.sample, self._rng, self.value_chars)
        except Exception as exc:  # rows that cannot be made into log rows are lost, and counted
            self._lost([(b.run.nn_id, b.scored_at) for b in batches for _ in range(len(b))], exc)
            return
        for start in range(0, len(records), WRITE_BATCH_ROWS):
            part = records[start : start + WRITE_BATCH_ROWS]
            try:
                written = self._registry.add_score_records(part)
            except Exception as exc:  # the store is down or refuses: count the gap, keep serving
                self._lost([(r.nn_id, r.scored_at) for r in part], exc)
            else:
                with self._cond:
                    self._counts["written"] += written

    def _lost(self, rows: list[tuple[str, datetime]], exc: Exception) -> None:
        """Count rows (model, time scored) that were not stored; the gap names the error's kind
        (the server log has its text, which may name hosts or files)."""
        cause = getattr(exc, "orig", None) or exc
        detail = f"the store refused the write ({type(cause).__name__})"
        now = time.monotonic()
        if now - self._last_warning >= WARN_INTERVAL_S:
            self._last_warning = now
            logger.warning("scoring log: %d row(s) not logged (%s); predictions go on", len(rows), exc)
        with self._cond:
            self._counts["failed"] += len(rows)
            for nn_id in {name for name, _ in rows}:
                times = [when for name, when in rows if name == nn_id]
                self._count_gap(nn_id, STORE_ERROR, len(times), min(times), max(times), detail)

    def _flush_gaps(self) -> None:
        """Record the pending gaps in the registry; they stay pending if it refuses."""
        with self._cond:
            pending = [replace(g) for g in self._gaps.values() if g.rows]
            self._gaps.clear()
        if not pending:
            return
        try:
            self._registry.add_log_gaps(pending)
        except Exception:  # still down: keep them for the next attempt
            with self._cond:
                for gap in pending:
                    self._count_gap(gap.nn_id, gap.reason, gap.rows, gap.first_at, gap.last_at, gap.detail)

    def _maybe_prune(self) -> None:
        if time.monotonic() - self._last_prune >= PRUNE_INTERVAL_S:
            self._last_prune = time.monotonic()
            try:
                self.prune()
            except Exception as exc:  # retention waits for the next interval
                logger.warning("scoring log retention failed: %s", exc)

    # --- control and reading ------------------------------------------------------------------
    def prune(self, now: datetime | None = None) -> int:
        """Apply the retention (age, rows and bytes per model) now; returns the rows removed."""
        age, rows = self._retention
        return self._registry.prune_score_log((now or utcnow()) - age, rows, self._retention_bytes)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (or counted lost) and the gaps are
        recorded; ``False`` if that took longer than ``timeout``."""
        if self._thread is None:
            return True
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._cycles + 1
            self._cond.notify_all()
            while self._queued or self._busy or self._cycles < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, FLUSH_S))
        return True

    def close(self) -> None:
        """Write what is queued (for at most :data:`CLOSE_WAIT_S`) and stop the writer."""
        if self._thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(CLOSE_WAIT_S)
        self._thread = None

    def stats(self) -> dict[str, Any]:
        """What this process's log did since it started."""
        with self._cond:
            return {
                "enabled": self.enabled,
                "sample": self.sample,
                "queued": self._queued,
                "capacity": self._capacity,
                **self._counts,
                "pending_gap_rows": sum(g.rows for g in self._gaps.values()),
            }

    def recent(self, now: datetime | None = None) -> RecentScoring:
        """Rows and anomalies per model over the last :data:`RECENT_DAYS` days, or the log's
        retention when that is shorter (older rows are gone), in one query for all models."""
        days = min(RECENT_DAYS, self._retention[0] / timedelta(days=1))
        since = (now or utcnow()) - timedelta(days=days)
        return RecentScoring(since, days, self._registry.score_totals(since))

    def gaps(self, nn_id: str, since: datetime | None, until: datetime | None) -> list[LogGap]:
        """The model's recorded gaps in the window, and those this process has not recorded yet."""
        recorded = self._registry.list_log_gaps(nn_id, since, until)
        with self._cond:
            pending = [
                replace(g)
                for (name, _), g in self._gaps.items()
                if name == nn_id
                and g.rows
                and (since is None or g.last_at >= since)
                and (until is None or g.first_at < until)
            ]
        return recorded + pending

    def page(
        self,
        nn_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        anomalies_only: bool = False,
        model_version: int | None = None,
        cursor: int | None = None,
        limit: int = 100,
    ) -> tuple[list[ScoreRecord], int | None]:
        """A page of the model's logged rows, newest first, and the cursor of the next one."""
        found = self._registry.list_score_records(
            nn_id,
            since=since,
            until=until,
            anomalies_only=anomalies_only,
            model_version=model_version,
            before=cursor,
            limit=limit + 1,
        )
        page = found[:limit]
        return page, (page[-1].log_id if len(found) > limit and page else None)
