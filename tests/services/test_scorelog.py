"""The scoring log over a real registry: the monitoring store on SQLite and PostgreSQL (append,
filter, page, retention, gaps, feedback), and the log's queue and writer on SQLite: sampled values,
top columns, a full queue and a store that refuses writes (predictions are never held up; the gap
is counted and recorded), retention, and a clean shutdown."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from aedetect.domain import (
    Feedback,
    FeedbackLabel,
    JobStatus,
    LogGap,
    Network,
    ScoreRecord,
    ScoreResult,
    TrainingRun,
    Version,
)
from aedetect.errors import NotFound
from aedetect.registry import SqlRegistry
from aedetect.services.scorelog import LOG_TOP, QUEUE_FULL, STORE_ERROR, ScoreLog

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def model_run(registry: SqlRegistry, nn_id: str = "plant") -> TrainingRun:
    """A model with one succeeded run (model version 1)."""
    registry.create_network(Network(nn_id=nn_id))
    registry.create_version(Version(nn_id=nn_id, version=1))
    run = registry.create_run(nn_id, 1, {}, None)
    return registry.finish_run(run.run_id, {}, 1.0, {"contamination": 0.01})


def record(run: TrainingRun, minutes: int, score: float, **fields: object) -> ScoreRecord:
    return ScoreRecord(
        nn_id=run.nn_id,
        run_id=run.run_id,
        model_version=run.model_version,
        scored_at=T0 + timedelta(minutes=minutes),
        score=score,
        is_anomaly=score > 1.0,
        threshold=1.0,
        contributions=[{"column": "x", "share": 0.9}],
        **fields,  # type: ignore[arg-type]
    )


# --- the monitoring store (SQLite and PostgreSQL) -----------------------------------------------
def test_log_rows_are_appended_filtered_and_paged(registry: SqlRegistry) -> None:
    run = model_run(registry)
    ghost = TrainingRun(run_id="plant_1_9", nn_id="plant", version=1, seq=9, status=JobStatus.SUCCEEDED)
    written = registry.add_score_records(
        [
            record(run, 0, 0.5, values={"x": 1.0, "grade": "A"}, sampled=True),
            record(run, 1, 3.0, values={"x": 9.0, "grade": "D"}),
            record(run, 2, 0.7),
            record(ghost, 3, 0.1),  # its run is gone: dropped, not a failure of the batch
        ]
    )
    assert written == 3
    rows = registry.list_score_records("plant")
    assert [r.score for r in rows] == [0.7, 3.0, 0.5]  # newest first
    assert rows[2].values == {"x": 1.0, "grade": "A"} and rows[2].sampled and rows[1].values is not None
    assert rows[0].contributions == [{"column": "x", "share": 0.9}] and rows[0].model_version == 1
    assert [r.score for r in registry.list_score_records("plant", anomalies_only=True)] == [3.0]
    window = registry.list_score_records(
        "plant", since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2)
    )
    assert [r.score for r in window] == [3.0]
    assert [r.score for r in registry.list_score_records("plant", before=rows[1].log_id)] == [0.5]
    assert registry.list_score_records("plant", model_version=2) == []
    found = registry.get_score_records("plant", [rows[0].log_id or 0, 10**12])
    assert list(found) == [rows[0].log_id]
    with pytest.raises(NotFound):
        registry.list_score_records("nobody")


def test_counts_and_samples_of_a_window(registry: SqlRegistry) -> None:
    run = model_run(registry)
    registry.add_score_records(
        [record(run, m, 2.0 if m % 4 == 0 else 0.5, values={"x": m}, sampled=m % 2 == 0) for m in range(12)]
    )
    edges = [T0, T0 + timedelta(minutes=6), T0 + timedelta(minutes=12)]
    assert registry.score_counts(run.run_id, edges) == [(6, 2), (6, 1)]
    scores, sampled = registry.score_sample(run.run_id, T0, T0 + timedelta(minutes=6), scores=3, sampled=10)
    assert scores == [0.5, 2.0, 0.5]  # the newest three of the window: minutes 5, 4, 3
    assert [v["x"] for v in sampled] == [4, 2, 0]


def test_totals_since_a_time_are_counted_per_model(registry: SqlRegistry) -> None:
    plant, other = model_run(registry, "plant"), model_run(registry, "other")
    model_run(registry, "quiet")
    registry.add_score_records([record(plant, m, 2.0 if m % 3 == 0 else 0.5) for m in range(9)])
    registry.add_score_records([record(other, m, 0.2) for m in range(4)])
    totals = registry.score_totals(T0 + timedelta(minutes=2))
    assert totals == {"plant": (7, 2), "other": (2, 0)}  # plant: minutes 2-8, alarms at 3 and 6
    assert registry.score_totals(T0 + timedelta(days=1)) == {}


def test_retention_removes_old_rows_and_keeps_the_newest_per_model(registry: SqlRegistry) -> None:
    plant, other = model_run(registry, "plant"), model_run(registry, "other")
    registry.add_score_records([record(plant, m, 0.1) for m in range(10)])
    registry.add_score_records([record(other, m, 0.2) for m in range(3)])
    registry.add_log_gaps([LogGap("plant", T0, T0, 5, QUEUE_FULL)])
    removed = registry.prune_score_log(T0 + timedelta(minutes=2), keep_rows=4)
    assert removed == 2 + 4 + 2  # 2 too old of each, then plant's 8 left -> 4
    kept = registry.list_score_records("plant")
    assert [r.scored_at for r in kept] == [T0 + timedelta(minutes=m) for m in (9, 8, 7, 6)]
    assert len(registry.list_score_records("other")) == 1
    assert registry.list_log_gaps("plant") == []  # the gap was older than the cutoff too


def test_gaps_are_kept_for_models_that_still_exist(registry: SqlRegistry) -> None:
    model_run(registry)
    assert (
        registry.add_log_gaps(
            [LogGap("plant", T0, T0, 3, STORE_ERROR, "refused"), LogGap("gone", T0, T0, 1, QUEUE_FULL)]
        )
        == 1
    )
    gaps = registry.list_log_gaps("plant", since=T0 - timedelta(hours=1))
    assert [(g.rows, g.reason, g.detail) for g in gaps] == [(3, STORE_ERROR, "refused")]
    assert registry.list_log_gaps("plant", until=T0 - timedelta(hours=1)) == []


def test_feedback_replaces_a_label_and_outlives_the_logged_row(registry: SqlRegistry) -> None:
    run = model_run(registry)
    registry.add_score_records([record(run, 0, 3.0, values={"x": 9.0})])
    logged = registry.list_score_records("plant")[0]
    first = Feedback(
        feedback_id=0, nn_id="plant", label=FeedbackLabel.ANOMALY, log_id=logged.log_id, note="leak",
        run_id=run.run_id, model_version=1, score=3.0, is_anomaly=True, threshold=1.0, values=logged.values,
    )  # fmt: skip
    [saved] = registry.save_feedback([first])
    [again] = registry.save_feedback(
        [Feedback(**{**first.__dict__, "label": FeedbackLabel.NORMAL, "note": "ok"})]
    )
    assert (
        again.feedback_id == saved.feedback_id and again.label is FeedbackLabel.NORMAL and again.note == "ok"
    )
    given = Feedback(feedback_id=0, nn_id="plant", label=FeedbackLabel.ANOMALY, values={"x": 1.0})
    registry.save_feedback([given, given])  # rows given with a label are separate labels
    registry.prune_score_log(T0 + timedelta(days=1), keep_rows=10)
    assert registry.list_score_records("plant") == []
    labels = registry.list_feedback("plant")
    assert [f.label for f in labels] == [FeedbackLabel.ANOMALY, FeedbackLabel.ANOMALY, FeedbackLabel.NORMAL]
    assert labels[-1].values == {"x": 9.0} and labels[-1].score == 3.0
    assert [f.feedback_id for f in registry.list_feedback("plant", label=FeedbackLabel.NORMAL)] == [
        saved.feedback_id
    ]
    registry.delete_feedback("plant", saved.feedback_id)
    with pytest.raises(NotFound, match="no feedback"):
        registry.delete_feedback("plant", saved.feedback_id)


def test_deleting_a_model_deletes_its_log_gaps_and_feedback(registry: SqlRegistry) -> None:
    run = model_run(registry)
    registry.add_score_records([record(run, 0, 3.0)])
    registry.add_log_gaps([LogGap("plant", T0, T0, 2, QUEUE_FULL)])
    registry.save_feedback([Feedback(feedback_id=0, nn_id="plant", label=FeedbackLabel.NORMAL)])
    registry.delete_network("plant")
    model_run(registry)  # the same name again starts with nothing
    assert registry.list_score_records("plant") == []
    assert registry.list_log_gaps("plant") == [] and registry.list_feedback("plant") == []


# --- the log's queue and writer (SQLite file) ---------------------------------------------------
@pytest.fixture
def store(sqlite_url: str) -> Iterator[SqlRegistry]:
    registry = SqlRegistry.from_url(sqlite_url)
    try:
        yield registry
    finally:
        registry.close()


def database_file(registry: SqlRegistry) -> str:
    path = registry.engine.url.database
    assert path is not None
    return path


def batch(log: ScoreLog, run: TrainingRun, scores: list[float], rows: object = None) -> None:
    n = len(scores)
    values = np.asarray(scores, dtype=np.float64)
    parts = np.column_stack([values * 0.7, values * 0.2, values * 0.1])
    frame = (
        rows
        if rows is not None
        else [{"x": float(i), "y": "a", "z": i, "extra": "not kept"} for i in range(n)]
    )
    log.record(run, values, values > 1.0, 1.0, parts, ["x", "y", "z"], frame, "v2")  # type: ignore[arg-type]


def test_alarms_keep_their_values_and_the_sample_keeps_a_share(store: SqlRegistry) -> None:
    run = model_run(store)
    log = ScoreLog(store, sample=0.0, seed=0)
    try:
        batch(log, run, [0.5, 2.0, 0.3])
        assert log.flush()
        rows = store.list_score_records("plant")
        assert [r.score for r in rows] == [0.3, 2.0, 0.5]  # newest first
        assert [r.values is not None for r in rows] == [False, True, False]  # sample 0: alarms only
        assert rows[1].values == {"x": 1.0, "y": "a", "z": 1} and not rows[1].sampled
        assert [c["column"] for c in rows[1].contributions] == ["x", "y", "z"][:LOG_TOP]
        assert rows[1].contributions[0]["share"] == pytest.approx(0.7)
        assert rows[0].source == "v2" and rows[0].threshold == 1.0
    finally:
        log.close()
    sampled = ScoreLog(store, sample=0.5, seed=1)
    try:
        batch(sampled, run, [0.5] * 400)
        assert sampled.flush()
        kept = [r for r in store.list_score_records("plant", limit=1000) if r.sampled]
        assert 150 < len(kept) < 250 and all(r.values is not None for r in kept)
    finally:
        sampled.close()


def test_csv_chunks_are_logged_from_the_frame(store: SqlRegistry) -> None:
    run = model_run(store)
    log = ScoreLog(store, sample=1.0)
    frame = pd.DataFrame({"x": [1.5, np.nan], "y": ["a", "b"], "z": [1, 2], "other": [0, 0]})
    try:
        batch(log, run, [0.1, 0.2], frame)
        assert log.flush()
        rows = store.list_score_records("plant")
        assert [r.values for r in rows] == [{"x": None, "y": "b", "z": 2}, {"x": 1.5, "y": "a", "z": 1}]
    finally:
        log.close()


def test_a_full_queue_drops_rows_without_waiting_and_counts_the_gap(store: SqlRegistry) -> None:
    run = model_run(store)
    log = ScoreLog(store, sample=1.0, queue_rows=10)
    blocker = sqlite3.connect(database_file(store), isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # the writer now waits for the database
        batch(log, run, [0.5] * 6)
        started = datetime.now(UTC)
        for _ in range(5):
            batch(log, run, [0.5] * 3)  # the first fits (9 of 10 rows), the rest are dropped
        assert (datetime.now(UTC) - started).total_seconds() < 1.0  # no waiting for the store
        assert log.stats()["dropped"] == 12
        blocker.execute("COMMIT")
        assert log.flush()
        assert len(store.list_score_records("plant", limit=100)) == 9
        [gap] = log.gaps("plant", None, None)
        assert (gap.reason, gap.rows) == (QUEUE_FULL, 12)
        assert log.stats()["pending_gap_rows"] == 0  # recorded in the registry
        assert store.list_log_gaps("plant")[0].rows == 12
    finally:
        blocker.close()
        log.close()


def test_a_store_that_refuses_writes_loses_rows_as_a_counted_gap_then_recovers(store: SqlRegistry) -> None:
    run = model_run(store)
    log = ScoreLog(store, sample=1.0)
    admin = sqlite3.connect(database_file(store), isolation_level=None)
    try:
        admin.execute(
            "CREATE TRIGGER read_only BEFORE INSERT ON score_log BEGIN SELECT RAISE(ABORT, 'read-only'); END"
        )
        batch(log, run, [0.5, 2.0])
        assert log.flush()
        assert store.list_score_records("plant") == []
        stats = log.stats()
        assert (stats["failed"], stats["written"]) == (2, 0)
        [gap] = store.list_log_gaps("plant")
        assert (gap.reason, gap.rows) == (STORE_ERROR, 2)
        assert gap.detail is not None and "IntegrityError" in gap.detail and "/" not in gap.detail
        admin.execute("DROP TRIGGER read_only")
        batch(log, run, [0.7])
        assert log.flush()
        assert [r.score for r in store.list_score_records("plant")] == [0.7]
    finally:
        admin.close()
        log.close()


def test_gaps_wait_in_memory_while_the_registry_is_down(store: SqlRegistry) -> None:
    run = model_run(store)
    log = ScoreLog(store, sample=1.0)
    admin = sqlite3.connect(database_file(store), isolation_level=None)
    try:
        for table in ("score_log", "score_log_gaps"):
            admin.execute(
                f"CREATE TRIGGER ro_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'down'); END"
            )
        batch(log, run, [0.5, 0.5, 0.5])
        assert log.flush()
        assert log.stats()["pending_gap_rows"] == 3
        assert [g.rows for g in log.gaps("plant", None, None)] == [3]  # this process still reports it
        admin.execute("DROP TRIGGER ro_score_log_gaps")
        batch(log, run, [0.5])
        assert log.flush()
        assert sum(g.rows for g in store.list_log_gaps("plant")) == 4
        assert log.stats()["pending_gap_rows"] == 0
    finally:
        admin.close()
        log.close()


def test_retention_applies_the_settings(store: SqlRegistry) -> None:
    run = model_run(store)
    log = ScoreLog(store, sample=0.0, retention_days=1, retention_rows=3)
    try:
        store.add_score_records([record(run, m, 0.1) for m in range(5)])
        assert log.prune(now=T0 + timedelta(days=1, minutes=1)) == 2  # one over a day old, one over 3 rows
        assert len(store.list_score_records("plant")) == 3
        store.add_score_records([record(run, 10, 0.1)])
        assert log.prune(now=T0 + timedelta(days=1, minutes=1)) == 1  # four kept -> three
    finally:
        log.close()


def test_recent_scoring_covers_seven_days_or_the_shorter_retention(store: SqlRegistry) -> None:
    run = model_run(store)
    store.add_score_records([record(run, 60 * 24 * day, 2.0 if day == 5 else 0.5) for day in range(7)])
    now = T0 + timedelta(days=7, minutes=1)  # the row of day 0 is over seven days old
    week, short = ScoreLog(store, enabled=False), ScoreLog(store, enabled=False, retention_days=2.5)
    recent = week.recent(now=now)
    assert (recent.days, recent.since, recent.totals) == (7.0, now - timedelta(days=7), {"plant": (6, 1)})
    recent = short.recent(now=now)
    assert (recent.days, recent.totals) == (2.5, {"plant": (2, 1)})  # days 5 and 6


def test_close_writes_what_is_queued_and_a_disabled_log_records_nothing(store: SqlRegistry) -> None:
    run = model_run(store)
    log = ScoreLog(store)
    batch(log, run, [0.5] * 5)
    log.close()
    assert len(store.list_score_records("plant")) == 5
    off = ScoreLog(store, enabled=False)
    batch(off, run, [0.5])
    assert off.flush() and off.stats()["written"] == 0
    assert len(store.list_score_records("plant")) == 5


def test_top_columns_left_to_the_writer_are_worked_out_for_all_rows_at_once(store: SqlRegistry) -> None:
    run = model_run(store)
    log = ScoreLog(store, sample=0.0)
    calls: list[int] = []

    def explain(rows: list[dict[str, float]]) -> np.ndarray:
        calls.append(len(rows))
        return np.array([[row["x"], 1.0, 0.5] for row in rows])

    def broken(rows: object) -> np.ndarray:
        raise RuntimeError("no reasons today")

    try:
        for x in (0.1, 5.0, 0.2):
            log.record(
                run, np.array([2.0]), np.array([True]), 1.0, None, ["x", "y", "z"], [{"x": x}], "v1", explain
            )
        assert log.flush()
        rows = store.list_score_records("plant")[::-1]
        assert calls == [3]  # one call for the three requests
        assert [r.contributions[0]["column"] for r in rows] == ["y", "x", "y"]
        assert rows[1].contributions[0]["share"] == pytest.approx(2.5)
        log.record(run, np.array([0.5]), np.array([False]), 1.0, None, ["x"], [{"x": 1.0}], "v1", broken)
        assert log.flush()
        newest = store.list_score_records("plant")[0]
        assert newest.score == 0.5 and newest.contributions == []  # logged without its reasons
    finally:
        log.close()


def test_top_columns_rank_by_contribution_with_shares_of_the_score() -> None:
    result = ScoreResult(
        scores=np.array([4.0, 0.0, 2.0]),
        labels=np.array([1, 0, 0]),
        threshold=1.0,
        similarity=np.ones(3),
        contributions=np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [np.nan, 1.0, 1.0]]),
        columns=["a", "b", "c"],
    )
    order, shares = result.top_columns(2)
    assert order.tolist() == [[1, 0], [0, 1], [1, 2]]  # ties keep column order, NaN goes last
    assert shares[0].tolist() == [0.75, 0.25] and shares[2].tolist() == [0.5, 0.5]
    assert np.isnan(shares[1]).all()  # a score of 0 has no shares to give
