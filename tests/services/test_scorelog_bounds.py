"""The scoring log's bounds over a real registry: each kept value capped to
``AEDETECT_LOG_VALUE_CHARS`` (cut values end in an ellipsis and their columns are listed in
``truncated``), every row's size stored when written, and the retention by bytes per model
(``AEDETECT_LOG_RETENTION_MB``) keeping the newest rows that fit, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from aedetect.domain import Network, ScoreRecord, TrainingRun, Version
from aedetect.registry import SqlRegistry
from aedetect.registry.monitoring import ROW_OVERHEAD_BYTES, row_bytes
from aedetect.services.scorelog import ELLIPSIS, ScoreLog

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
HUGE = "x" * 1_000_000


def model_run(registry: SqlRegistry, nn_id: str = "plant") -> TrainingRun:
    """A model with one succeeded run (model version 1)."""
    registry.create_network(Network(nn_id=nn_id))
    registry.create_version(Version(nn_id=nn_id, version=1))
    run = registry.create_run(nn_id, 1, {}, None)
    return registry.finish_run(run.run_id, {}, 1.0, {"contamination": 0.01})


def logged(run: TrainingRun, minute: int, text: str) -> ScoreRecord:
    return ScoreRecord(
        nn_id=run.nn_id,
        run_id=run.run_id,
        model_version=run.model_version,
        scored_at=T0 + timedelta(minutes=minute),
        score=0.5,
        is_anomaly=False,
        threshold=1.0,
        values={"note": text},
        sampled=True,
    )


@pytest.fixture
def store(sqlite_url: str) -> Iterator[SqlRegistry]:
    registry = SqlRegistry.from_url(sqlite_url)
    try:
        yield registry
    finally:
        registry.close()


def test_retention_by_bytes_keeps_the_newest_rows_that_fit_per_model(registry: SqlRegistry) -> None:
    run, other = model_run(registry), model_run(registry, "other")
    rows = [logged(run, m, "a" * 1000) for m in range(10)]
    size = row_bytes(rows[0])
    assert size > 1000 + ROW_OVERHEAD_BYTES
    registry.add_score_records([*rows, *[logged(other, m, "b" * 1000) for m in range(10)]])
    removed = registry.prune_score_log(T0 - timedelta(days=1), keep_rows=1000, keep_bytes=3 * size + 10)
    assert removed == 2 * 7
    kept = registry.list_score_records("plant")
    assert [r.scored_at for r in kept] == [T0 + timedelta(minutes=m) for m in (9, 8, 7)]
    assert len(registry.list_score_records("other")) == 3  # the same bound for each model
    assert registry.prune_score_log(T0 - timedelta(days=1), 1000, 3 * size + 10) == 0
    assert registry.prune_score_log(T0 - timedelta(days=1), 1000, None) == 0  # no byte bound


def test_huge_cells_are_capped_and_marked_truncated(store: SqlRegistry) -> None:
    run = model_run(store)
    log = ScoreLog(store, sample=1.0, value_chars=256)
    rows = [{"note": HUGE, "code": "short", "x": float(i)} for i in range(10)]
    scores = np.linspace(0.1, 0.9, 10)
    try:
        log.record(run, scores, scores > 1.0, 1.0, None, ["note", "code", "x"], rows, "v2")
        frame = pd.DataFrame({"note": [HUGE, "ok"], "code": ["c" * 300, "d"], "x": [1.0, 2.0]})
        log.record(run, scores[:2], scores[:2] > 1.0, 1.0, None, ["note", "code", "x"], frame, "csv")
        assert log.flush()
    finally:
        log.close()
    found = store.list_score_records("plant", limit=100)
    assert len(found) == 12
    for item in found:
        assert item.values is not None
        assert all(len(v) <= 256 for v in item.values.values() if isinstance(v, str))
    json_rows = [r for r in found if r.source == "v2"]
    assert all(r.values["note"] == HUGE[:255] + ELLIPSIS and r.truncated == ["note"] for r in json_rows)
    assert all(r.values["code"] == "short" for r in json_rows)
    first, second = sorted((r for r in found if r.source == "csv"), key=lambda r: r.log_id or 0)
    assert first.truncated == ["note", "code"] and len(first.values["code"]) == 256
    assert second.truncated is None and second.values == {"note": "ok", "code": "d", "x": 2.0}


def test_the_log_prunes_by_its_byte_setting(store: SqlRegistry) -> None:
    run = model_run(store)
    rows = [logged(run, m, "a" * 2000) for m in range(20)]
    store.add_score_records(rows)
    log = ScoreLog(store, sample=0.0, retention_rows=1000, retention_bytes=5 * row_bytes(rows[0]))
    try:
        assert log.prune(now=T0 + timedelta(hours=1)) == 15
    finally:
        log.close()
    assert len(store.list_score_records("plant")) == 5
